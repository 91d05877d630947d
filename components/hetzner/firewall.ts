/**
 * The hosts' Hetzner firewall: the world reaches 80/443 (and ICMP) only, and not even 80/443 on
 * nodes behind the ingress load balancer (it reaches them over the private network, which Hetzner
 * firewalls do not filter); SSH and, on clusters, the Kubernetes API only from `sshAllowedCidrs`. Servers attach it at creation through `firewallIds`
 * (a separate attachment would leave the first boot unprotected).
 */
import * as hcloud from "@pulumi/hcloud";
import * as pulumi from "@pulumi/pulumi";

/** The whole internet, IPv4 and IPv6. */
export const WORLD = ["0.0.0.0/0", "::/0"];

export interface HostFirewallArgs {
    /** Name prefix of the Hetzner resource, e.g. `archon-production`. */
    namePrefix: string;
    /** CIDRs that may reach SSH (22) and the Kubernetes API (6443). */
    adminCidrs: string[];
    /** Open 6443 to `adminCidrs` (k3s); the compose host has no Kubernetes API. */
    kubernetesApi: boolean;
    /** Open 80/443 to the world (the hosts serve it themselves). False behind the ingress load balancer. Default true. */
    publicWeb?: boolean;
    labels: Record<string, string>;
}

export class HostFirewall extends pulumi.ComponentResource {
    /** The firewall ID as the server's `firewallIds` wants it. */
    public readonly firewallId: pulumi.Output<number>;

    constructor(name: string, args: HostFirewallArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:HostFirewall", name, {}, opts);
        const tcp = (port: number, sourceIps: string[], description: string): hcloud.types.input.FirewallRule =>
            ({ direction: "in", protocol: "tcp", port: String(port), sourceIps, description });
        const rules: hcloud.types.input.FirewallRule[] = [
            { direction: "in", protocol: "icmp", sourceIps: WORLD, description: "ping and path MTU discovery" },
            ...(args.publicWeb ?? true ? [
                tcp(80, WORLD, "HTTP (redirects to HTTPS, ACME challenges)"),
                tcp(443, WORLD, "HTTPS"),
            ] : []),
            tcp(22, args.adminCidrs, "SSH from admin networks"),
            ...(args.kubernetesApi ? [tcp(6443, args.adminCidrs, "Kubernetes API from admin networks")] : []),
        ];
        const firewall = new hcloud.Firewall("hosts", { name: args.namePrefix, rules, labels: args.labels }, { parent: this });
        this.firewallId = firewall.id.apply(Number);
        this.registerOutputs({ firewallId: this.firewallId });
    }
}
