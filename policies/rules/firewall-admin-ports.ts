import { ResourceValidationPolicy } from "@pulumi/policy";
import { ADMIN_CIDR_MIN_PREFIX, wideCidrProblem } from "../../components/hetzner/cidr-coverage";
import { HCLOUD, PolicyArgs, settings } from "../lib/context";
import { coversRange, inboundRules } from "../lib/firewall";

interface AdminPort {
    port: number;
    /** The last port of a range (NodePorts), else `port`. */
    to?: number;
    service: string;
    /** Reached by operators from `sshAllowedCidrs`: the `allowWideAdminCidrs` setting may widen it. */
    operatorAllowlist: boolean;
}

/**
 * Ports that must never face the internet. 22 and 6443 are opened to `sshAllowedCidrs` only; the
 * kubelet API (10250) and etcd's client and peer ports (2379-2380) are for the private network
 * only (Hetzner firewalls filter the public interface), so no public source is ever allowed wide.
 */
const ADMIN_PORTS: readonly AdminPort[] = [
    { port: 22, service: "SSH", operatorAllowlist: true },
    { port: 6443, service: "the Kubernetes API", operatorAllowlist: true },
    { port: 10250, service: "the kubelet API", operatorAllowlist: false },
    { port: 2379, service: "etcd (client)", operatorAllowlist: false },
    { port: 2380, service: "etcd (peer)", operatorAllowlist: false },
    // kube-proxy answers a NodePort Service on every node address: the ingress goes through the
    // load balancer on 80/443, so the range is never public (the API server's default
    // --service-node-port-range, 30000-32767).
    { port: 30000, to: 32767, service: "the Kubernetes NodePort range", operatorAllowlist: false },
];

export const firewallAdminPorts: ResourceValidationPolicy = {
    name: "firewall-admin-ports",
    description: `Hetzner firewalls open SSH (22), the Kubernetes API (6443), the kubelet (10250), etcd (2379-2380) and the NodePort range (30000-32767) to no more than one IPv4 /${ADMIN_CIDR_MIN_PREFIX.ipv4} and one IPv6 /${ADMIN_CIDR_MIN_PREFIX.ipv6} in total (the union of every rule's sources, so 0.0.0.0/1 + 128.0.0.0/1 counts as the world).`,
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            allowWideAdminCidrs: { type: "boolean", description: "Accept wide sources on 22 and 6443 (the stack config key of the same name must be set too); kubelet and etcd stay refused." },
            minPrefixIpv4: { type: "integer", minimum: 0, maximum: 32, description: "IPv4 sources of an admin port may together cover at most one block of this prefix length." },
            minPrefixIpv6: { type: "integer", minimum: 0, maximum: 128, description: "IPv6 sources of an admin port may together cover at most one block of this prefix length." },
        },
    },
    validateResource: (args: PolicyArgs, reportViolation) => {
        if (args.type !== HCLOUD.firewall) return;
        const { allowWideAdminCidrs, minPrefixIpv4, minPrefixIpv6 } = settings(args, {
            allowWideAdminCidrs: false,
            minPrefixIpv4: ADMIN_CIDR_MIN_PREFIX.ipv4 as number,
            minPrefixIpv6: ADMIN_CIDR_MIN_PREFIX.ipv6 as number,
        });
        const rules = inboundRules(args.props);
        for (const admin of ADMIN_PORTS) {
            if (admin.operatorAllowlist && allowWideAdminCidrs) continue;
            const opening = rules.filter((rule) => coversRange(rule, admin.port, admin.to ?? admin.port));
            const sources = opening.flatMap((rule) => rule.sourceIps);
            const problem = wideCidrProblem(sources, { ipv4: minPrefixIpv4, ipv6: minPrefixIpv6 });
            if (problem === undefined) continue;
            const where = opening.map((rule) => `rule ${rule.index} (${rule.protocol} ${rule.port})`).join(", ");
            reportViolation(`${where} opens ${admin.service} (${admin.to ? `${admin.port}-${admin.to}` : admin.port}) to ${sources.join(", ")}: the ${problem}; allow only operator CIDRs (config sshAllowedCidrs)`);
        }
    },
};
