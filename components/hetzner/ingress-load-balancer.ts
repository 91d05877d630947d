/**
 * A Hetzner load balancer in front of a multi-node cluster: TCP 80 and 443 to every node's private
 * address, where k3s's service load balancer exposes the ingress controller. TLS terminates in the
 * cluster (cert-manager), so the balancer passes TCP through; with `proxyProtocol` it prefixes
 * each connection with a PROXY protocol header carrying the client's address, which the ingress
 * controller must then expect (Traefik `entryPoints.*.proxyProtocol.trustedIPs`, ingress-nginx
 * `use-proxy-protocol`): without it every client looks like the balancer.
 */
import * as hcloud from "@pulumi/hcloud";
import * as pulumi from "@pulumi/pulumi";

/** Ports the world reaches the cluster on. */
export const INGRESS_PORTS = [80, 443];

export interface IngressLoadBalancerArgs {
    /** Hetzner name, e.g. `archon-production-ingress`. */
    lbName: string;
    location: string;
    /** Load balancer type; lb11 handles this stack's traffic. */
    loadBalancerType?: string;
    networkId: pulumi.Input<number>;
    /** The balancer joins the network only once the subnet exists. */
    subnet: pulumi.Resource;
    /** Target servers by stable name -> Hetzner server ID. */
    targets: Record<string, pulumi.Input<number>>;
    /** Production: delete protection. */
    deleteProtection: boolean;
    /** Send a PROXY protocol header on every connection (Hetzner `proxyprotocol`). Default false. */
    proxyProtocol?: boolean;
    labels: Record<string, string>;
}

export class IngressLoadBalancer extends pulumi.ComponentResource {
    public readonly ipv4: pulumi.Output<string>;
    public readonly ipv6: pulumi.Output<string>;

    constructor(name: string, args: IngressLoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:IngressLoadBalancer", name, {}, opts);
        const lb = new hcloud.LoadBalancer("ingress", {
            name: args.lbName,
            loadBalancerType: args.loadBalancerType ?? "lb11",
            location: args.location,
            deleteProtection: args.deleteProtection,
            labels: args.labels,
        }, { parent: this });
        const lbId = lb.id.apply(Number);
        const attached = new hcloud.LoadBalancerNetwork("ingress", { loadBalancerId: lbId, networkId: args.networkId }, { parent: this, dependsOn: [args.subnet] });
        for (const [target, serverId] of Object.entries(args.targets)) {
            new hcloud.LoadBalancerTarget(target, { loadBalancerId: lbId, type: "server", serverId, usePrivateIp: true }, { parent: this, dependsOn: [attached] });
        }
        for (const port of INGRESS_PORTS) {
            new hcloud.LoadBalancerService(`tcp-${port}`, {
                loadBalancerId: lb.id,
                protocol: "tcp",
                listenPort: port,
                destinationPort: port,
                proxyprotocol: args.proxyProtocol ?? false,
            }, { parent: this });
        }
        this.ipv4 = lb.ipv4;
        this.ipv6 = lb.ipv6;
        this.registerOutputs({ ipv4: this.ipv4, ipv6: this.ipv6 });
    }
}
