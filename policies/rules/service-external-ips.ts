import { ResourceValidationPolicy } from "@pulumi/policy";
import { KUBERNETES, PolicyArgs, list, objectRef, record } from "../lib/context";

/**
 * `spec.externalIPs` makes kube-proxy accept traffic for any address on every node, outside the
 * ingress path and the Hetzner firewall's intent (and is the vector of CVE-2020-8554).
 */
export const serviceExternalIps: ResourceValidationPolicy = {
    name: "service-external-ips",
    description: "No Service sets spec.externalIPs: public traffic enters through the ingress controller only.",
    enforcementLevel: "mandatory",
    validateResource: (args: PolicyArgs, reportViolation) => {
        if (args.type !== KUBERNETES.service) return;
        const ips = list(record(args.props.spec).externalIPs).map(String);
        if (ips.length === 0) return;
        const { namespace, name } = objectRef(args.props, args.name);
        reportViolation(`Service ${namespace}/${name} sets externalIPs ${ips.join(", ")}; expose it through an Ingress`);
    },
};
