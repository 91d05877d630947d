/** The stack as Kubernetes objects: workloads, TLS ingress, monitoring. */
export { KubernetesStack, KubernetesStackArgs } from "./stack";
export { KubernetesWorkloads, KubernetesWorkloadsArgs } from "./workloads";
export { KubernetesIngress, KubernetesIngressArgs } from "./ingress";
export { KubernetesMonitoring, KubernetesMonitoringArgs } from "./monitoring";
