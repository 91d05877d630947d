import { ResourceValidationPolicy } from "@pulumi/policy";
import { HCLOUD, PolicyArgs } from "../lib/context";
import { coversPort, inboundRules, isWorld } from "../lib/firewall";

const ADMIN_PORTS: Record<number, string> = { 22: "SSH", 6443: "the Kubernetes API" };

export const firewallAdminPorts: ResourceValidationPolicy = {
    name: "firewall-admin-ports",
    description: "Hetzner firewalls never open SSH (22) or the Kubernetes API (6443) to the world (0.0.0.0/0, ::/0): only sshAllowedCidrs reach them.",
    enforcementLevel: "mandatory",
    validateResource: (args: PolicyArgs, reportViolation) => {
        if (args.type !== HCLOUD.firewall) return;
        for (const rule of inboundRules(args.props)) {
            const world = rule.sourceIps.filter(isWorld);
            if (world.length === 0) continue;
            for (const [port, service] of Object.entries(ADMIN_PORTS)) {
                if (coversPort(rule, Number(port))) {
                    reportViolation(`rule ${rule.index} (${rule.protocol} ${rule.port}) opens ${service} (${port}) to ${world.join(", ")}; allow only operator CIDRs (config sshAllowedCidrs)`);
                }
            }
        }
    },
};
