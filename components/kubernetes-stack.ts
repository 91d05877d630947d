/**
 * The whole stack on a Kubernetes cluster: the catalog's workloads, monitoring, and the ingress with
 * TLS for every public host.
 */
import * as kubernetes from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ServiceSpec } from "./catalog";
import { IngressController, KubernetesIngress } from "./kubernetes-ingress";
import { KubernetesMonitoring } from "./kubernetes-monitoring";
import { KubernetesWorkloads } from "./kubernetes-workloads";
import { RegistryCredentials } from "./registry";

/** Kubernetes namespace of the workloads. */
export const WORKLOADS_NAMESPACE = "archon";

export interface KubernetesStackArgs {
    provider: kubernetes.Provider;
    /** The catalog: Supabase, Archon, the registry. */
    services: ServiceSpec[];
    domain: string;
    acmeEmail: string;
    ingressController: IngressController;
    /** Credentials the pods pull images with (an imagePullSecret). */
    registry?: RegistryCredentials;
    /** Size in GB of each stateful service's volumes, by service name (e.g. `{ db: 50 }`). */
    storageSizesGb?: Record<string, number>;
    grafanaPassword: pulumi.Input<string>;
    /** Alertmanager webhook; unset = the null receiver. */
    alertWebhookUrl?: string;
    /** Prometheus retention in days. */
    metricsRetentionDays: number;
    /** Loki retention in days. */
    logsRetentionDays: number;
}

export class KubernetesStack extends pulumi.ComponentResource {
    /** Public hosts with an Ingress. */
    public readonly hosts: string[];

    constructor(name: string, args: KubernetesStackArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:KubernetesStack", name, {}, opts);
        const workloads = new KubernetesWorkloads("workloads", {
            services: args.services,
            namespace: WORKLOADS_NAMESPACE,
            provider: args.provider,
            imagePullSecret: args.registry,
            storageSizesGb: args.storageSizesGb,
        }, { parent: this });
        const monitoring = new KubernetesMonitoring("monitoring", {
            provider: args.provider,
            domain: args.domain,
            services: args.services,
            grafanaPassword: args.grafanaPassword,
            alertWebhookUrl: args.alertWebhookUrl,
            metricsRetentionDays: args.metricsRetentionDays,
            logsRetentionDays: args.logsRetentionDays,
        }, { parent: this, dependsOn: [workloads] });
        const ingress = new KubernetesIngress("ingress", {
            provider: args.provider,
            controller: args.ingressController,
            acmeEmail: args.acmeEmail,
            services: [...args.services, ...monitoring.routedServices],
        }, { parent: this, dependsOn: [workloads, monitoring] });
        this.hosts = ingress.hosts;
        this.registerOutputs({ hosts: this.hosts });
    }
}
