/**
 * The private Hetzner network the hosts talk over (k3s node traffic, load balancer to nodes).
 * Hetzner firewalls filter public interfaces only, so this traffic never needs a firewall opening.
 */
import * as hcloud from "@pulumi/hcloud";
import * as pulumi from "@pulumi/pulumi";

/** The network's whole range; the hosts' subnet is {@link HOSTS_SUBNET}. */
export const NETWORK_RANGE = "10.0.0.0/16";
/** The subnet servers and load balancers join. Private IPs are fixed within it (see privateIpFor). */
export const HOSTS_SUBNET = "10.0.1.0/24";

/** Hetzner's network zone of a location. */
const NETWORK_ZONES: Record<string, string> = {
    fsn1: "eu-central", nbg1: "eu-central", hel1: "eu-central",
    ash: "us-east", hil: "us-west", sin: "ap-southeast",
};

/**
 * Fixed private address of a host: control-plane/compose nodes 10.0.1.11.., agents 10.0.1.101..
 * Stable addresses let scripts and joins name them without waiting for Hetzner.
 */
export function privateIpFor(kind: "server" | "agent", index: number): string {
    return `10.0.1.${(kind === "server" ? 11 : 101) + index}`;
}

export interface PrivateNetworkArgs {
    /** Name prefix of the Hetzner resources, e.g. `archon-staging`. */
    namePrefix: string;
    /** Hetzner location of the servers (fsn1, nbg1, ...); decides the network zone. */
    location: string;
    /** Production: Hetzner delete protection on the network. */
    deleteProtection: boolean;
    labels: Record<string, string>;
}

export class PrivateNetwork extends pulumi.ComponentResource {
    /** The network's ID as Hetzner's numeric inputs want it. */
    public readonly networkId: pulumi.Output<number>;
    /** The subnet: servers with a fixed private IP must be created after it. */
    public readonly subnet: hcloud.NetworkSubnet;

    constructor(name: string, args: PrivateNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:PrivateNetwork", name, {}, opts);
        const network = new hcloud.Network("network", {
            name: args.namePrefix,
            ipRange: NETWORK_RANGE,
            deleteProtection: args.deleteProtection,
            labels: args.labels,
        }, { parent: this });
        this.networkId = network.id.apply(Number);
        this.subnet = new hcloud.NetworkSubnet("hosts", {
            networkId: this.networkId,
            type: "cloud",
            networkZone: NETWORK_ZONES[args.location] ?? "eu-central",
            ipRange: HOSTS_SUBNET,
        }, { parent: this });
        this.registerOutputs({ networkId: this.networkId });
    }
}
