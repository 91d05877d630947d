/**
 * The firewall through which CI reaches a stack's hosts, empty but while a deploy runs.
 *
 * GitHub-hosted runners have no fixed address, and SSH (22) and the Kubernetes API (6443) stay
 * closed to the world. A deploy job therefore opens this firewall to its own address for the length
 * of the run and empties it again (`npm run ci-access -- open|close`, see README "CI access to the
 * hosts"). The program creates it with no rules and never manages its rules (`ignoreChanges`), so a
 * `pulumi up` that runs while the rule is open neither removes it nor reports drift, and a rule the
 * job forgot is never made permanent by the program. It is a firewall of its own, beside the hosts'
 * firewall, so nothing the job does can touch the rules that keep the hosts closed.
 */
import * as hcloud from "@pulumi/hcloud";
import * as pulumi from "@pulumi/pulumi";

/** Label that marks the CI access firewall; `ci-access` finds a stack's firewall by it, with `stack`. */
export const CI_ACCESS_ROLE_LABEL = { role: "ci-access" };

export interface CiAccessFirewallArgs {
    /** Name prefix of the Hetzner resource, e.g. `archon-production` (the firewall is `<prefix>-ci-access`). */
    namePrefix: string;
    /** The stack's labels (`project`, `stack`); `role: ci-access` is added. */
    labels: Record<string, string>;
}

export class CiAccessFirewall extends pulumi.ComponentResource {
    /** The firewall ID as the servers' `firewallIds` wants it. */
    public readonly firewallId: pulumi.Output<number>;

    constructor(name: string, args: CiAccessFirewallArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:CiAccessFirewall", name, {}, opts);
        const firewall = new hcloud.Firewall("ci-access", {
            name: `${args.namePrefix}-ci-access`,
            rules: [],
            labels: { ...args.labels, ...CI_ACCESS_ROLE_LABEL },
        }, { parent: this, ignoreChanges: ["rules"] });
        this.firewallId = firewall.id.apply(Number);
        this.registerOutputs({ firewallId: this.firewallId });
    }
}
