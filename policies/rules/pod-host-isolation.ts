import { ResourceValidationPolicy } from "@pulumi/policy";
import { PolicyArgs, containersOf, list, objectRef, podSpec, record, settings } from "../lib/context";

/**
 * Pods stay inside their own namespaces: no host network, PID or IPC namespace, no hostPort, no
 * hostPath volume. Each breaks the baseline Pod Security level and lets one compromised container
 * reach the node (its kubelet, its other pods' traffic, its files). The workloads this program
 * renders need none of it (host agents such as node-exporter come from the kube-prometheus-stack
 * chart, not from pod templates here); an exception is a `namespace/name` in `allowed`.
 */
export const podHostIsolation: ResourceValidationPolicy = {
    name: "pod-host-isolation",
    description: "Pod templates use no hostNetwork, hostPID, hostIPC, hostPort or hostPath volume (exceptions: `allowed`, namespace/name).",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            allowed: { type: "array", items: { type: "string" }, description: "namespace/name of workloads that may use host namespaces, ports or paths (e.g. a node agent)." },
        },
    },
    validateResource: (args: PolicyArgs, reportViolation) => {
        const pod = podSpec(args.type, args.props);
        if (!pod) return;
        const { allowed } = settings(args, { allowed: [] as string[] });
        const { namespace, name } = objectRef(args.props, args.name);
        if (allowed.includes(`${namespace}/${name}`)) return;
        for (const field of ["hostNetwork", "hostPID", "hostIPC"] as const) {
            if (pod[field] === true) reportViolation(`${namespace}/${name} sets ${field}: true; pods keep their own network, PID and IPC namespaces`);
        }
        for (const container of containersOf(args.type, args.props)) {
            for (const port of list(container.spec.ports).map(record)) {
                if (port.hostPort !== undefined && port.hostPort !== null && Number(port.hostPort) !== 0) {
                    reportViolation(`${container.kind} ${container.name} binds hostPort ${String(port.hostPort)} on the node; reach it through a Service`);
                }
            }
        }
        for (const volume of list(pod.volumes).map(record)) {
            if (volume.hostPath !== undefined) {
                reportViolation(`volume ${String(volume.name ?? "?")} mounts the node's ${String(record(volume.hostPath).path ?? "?")} (hostPath); use a PersistentVolumeClaim, ConfigMap, Secret or emptyDir`);
            }
        }
    },
};
