import { ResourceValidationPolicy } from "@pulumi/policy";
import { PolicyArgs, objectRef, podSpec, settings } from "../lib/context";

/**
 * No pod of the stack talks to the Kubernetes API (the charts that do, cert-manager, the CCM, the
 * Prometheus operator, bring their own ServiceAccounts and are not pod templates of the program):
 * every pod template sets `automountServiceAccountToken: false`, so a compromised container holds
 * no API token. Kubernetes mounts one by default.
 */
export const serviceAccountToken: ResourceValidationPolicy = {
    name: "service-account-token",
    description: "Pod templates set automountServiceAccountToken: false (Kubernetes mounts an API token by default); exceptions: `allowed`, namespace/name.",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            allowed: { type: "array", items: { type: "string" }, description: "namespace/name of workloads that call the Kubernetes API." },
        },
    },
    validateResource: (args: PolicyArgs, reportViolation) => {
        const pod = podSpec(args.type, args.props);
        if (!pod) return;
        const { allowed } = settings(args, { allowed: [] as string[] });
        const { namespace, name } = objectRef(args.props, args.name);
        if (allowed.includes(`${namespace}/${name}`) || pod.automountServiceAccountToken === false) return;
        reportViolation(`${namespace}/${name} ${pod.automountServiceAccountToken === true ? "sets automountServiceAccountToken: true" : "does not set automountServiceAccountToken: false"}: every container gets an API token; none of the stack's pods needs one`);
    },
};
