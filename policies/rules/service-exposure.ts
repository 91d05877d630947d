import { ResourceValidationPolicy } from "@pulumi/policy";
import { KUBERNETES, PolicyArgs, list, objectRef, record, settings } from "../lib/context";

/** The ingress controllers' Services (k3s' bundled Traefik, ingress-nginx's Helm chart): the one public path. */
const DEFAULT_ALLOWED = ["kube-system/traefik", "traefik/traefik", "ingress-nginx/ingress-nginx-controller"];
/** What the ingress path serves: HTTP and HTTPS, nothing else (never the API server's 6443, the kubelet's 10250, ...). */
const DEFAULT_ALLOWED_PORTS = [80, 443];

export const serviceExposure: ResourceValidationPolicy = {
    name: "service-exposure",
    description: "No NodePort or LoadBalancer Service except the ingress controller's (allow-list of namespace/name, `*` matches any name), and that one on 80/443 only: everything else (the API server's 6443 included) is reached through an Ingress or not at all.",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            allowed: { type: "array", items: { type: "string" }, description: "namespace/name of Services that may be NodePort or LoadBalancer." },
            allowedPorts: { type: "array", items: { type: "integer" }, description: "Ports those Services may expose." },
        },
    },
    validateResource: (args: PolicyArgs, reportViolation) => {
        if (args.type !== KUBERNETES.service) return;
        const serviceType = String(record(args.props.spec).type ?? "ClusterIP");
        if (serviceType !== "NodePort" && serviceType !== "LoadBalancer") return;
        const { allowed, allowedPorts } = settings(args, { allowed: DEFAULT_ALLOWED, allowedPorts: DEFAULT_ALLOWED_PORTS });
        const { namespace, name } = objectRef(args.props, args.name);
        if (allowed.includes(`${namespace}/${name}`) || allowed.includes(`${namespace}/*`)) {
            const ports = list(record(args.props.spec).ports).map(record).map((p) => Number(p.port));
            const extra = ports.filter((p) => !allowedPorts.includes(p));
            if (extra.length > 0) reportViolation(`Service ${namespace}/${name} is ${serviceType} and exposes ports ${extra.join(", ")}; the ingress path serves ${allowedPorts.join(", ")} only`);
            return;
        }
        reportViolation(`Service ${namespace}/${name} is ${serviceType}; only the ingress path may be (${allowed.join(", ")}): use ClusterIP behind an Ingress`);
    },
};
