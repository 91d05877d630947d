import { ResourceValidationPolicy } from "@pulumi/policy";
import { HCLOUD, PolicyArgs, list } from "../lib/context";

/**
 * Every Hetzner server boots behind a firewall: `firewallIds` names at least one. A firewall
 * attached later (hcloud FirewallAttachment, a label selector) leaves the first boot open to the
 * internet, SSH and the k3s API included (DESIGN.md: firewalls attach at first boot only through
 * the server's firewallIds).
 */
export const hetznerServerFirewall: ResourceValidationPolicy = {
    name: "hetzner-server-firewall",
    description: "Every Hetzner server has a firewall attached from its first boot (firewallIds not empty).",
    enforcementLevel: "mandatory",
    validateResource: (args: PolicyArgs, reportViolation) => {
        if (args.type !== HCLOUD.server) return;
        const ids = list(args.props.firewallIds).filter((id) => id !== null && id !== undefined && String(id) !== "");
        if (ids.length === 0) reportViolation(`server ${String(args.props.name ?? args.name)} has no firewall (firewallIds is empty): every port it listens on faces the internet from its first boot`);
    },
};
