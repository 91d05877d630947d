import { ResourceValidationPolicy } from "@pulumi/policy";
import { KUBERNETES, PolicyArgs, objectRef, record, settings } from "../lib/context";

/** The ingress controllers' Services (k3s' bundled Traefik, ingress-nginx's Helm chart): the one public path. */
const DEFAULT_ALLOWED = ["kube-system/traefik", "traefik/traefik", "ingress-nginx/ingress-nginx-controller"];

export const serviceExposure: ResourceValidationPolicy = {
    name: "service-exposure",
    description: "No NodePort or LoadBalancer Service except the ingress controller's (allow-list of namespace/name, `*` matches any name): everything else is reached through an Ingress.",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            allowed: { type: "array", items: { type: "string" }, description: "namespace/name of Services that may be NodePort or LoadBalancer." },
        },
    },
    validateResource: (args: PolicyArgs, reportViolation) => {
        if (args.type !== KUBERNETES.service) return;
        const serviceType = String(record(args.props.spec).type ?? "ClusterIP");
        if (serviceType !== "NodePort" && serviceType !== "LoadBalancer") return;
        const { allowed } = settings(args, { allowed: DEFAULT_ALLOWED });
        const { namespace, name } = objectRef(args.props, args.name);
        if (allowed.includes(`${namespace}/${name}`) || allowed.includes(`${namespace}/*`)) return;
        reportViolation(`Service ${namespace}/${name} is ${serviceType}; only the ingress path may be (${allowed.join(", ")}): use ClusterIP behind an Ingress`);
    },
};
