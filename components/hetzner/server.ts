/**
 * One Hetzner server with `#cloud-config` user-data, the hosts' firewall attached at creation, a
 * fixed address on the private network and, in production, delete/rebuild protection and backups.
 * Hetzner replaces a server when its user-data, SSH keys or image change: all three are stable
 * here (see cloud-init.ts), and the OS image is pinned in {@link SERVER_IMAGE}.
 */
import * as command from "@pulumi/command";
import * as hcloud from "@pulumi/hcloud";
import * as pulumi from "@pulumi/pulumi";
import { DEPLOY_USER, HostRole, renderCloudInit } from "./cloud-init";

/** The OS image of every server. Changing it replaces every server: do it deliberately. */
export const SERVER_IMAGE = "ubuntu-24.04";

/** How long a remote step keeps trying to reach a host that is still booting (~10 minutes). */
const SSH_DIAL_ATTEMPTS = 60;

/** Where a server sits and what it may reach, shared by every server of a stack. */
export interface ServerPlacement {
    location: string;
    networkId: pulumi.Input<number>;
    /** Servers with a fixed private IP must be created once the subnet exists. */
    subnet: pulumi.Resource;
    /** The hosts' firewall and the CI access firewall, attached at creation. */
    firewallIds: pulumi.Input<number>[];
    sshKeyId: pulumi.Input<string>;
    sshPublicKey: pulumi.Input<string>;
    /** Private key for the remote steps (secret), or undefined to use the local ssh-agent. */
    sshPrivateKey?: pulumi.Input<string>;
    /** Production: delete + rebuild protection and Hetzner backups. */
    production: boolean;
    labels: Record<string, string>;
}

export interface HetznerServerArgs {
    placement: ServerPlacement;
    /** Server (and host) name in Hetzner, e.g. `archon-production-cp-1`; k3s node names follow it. */
    serverName: string;
    /** Hetzner server type, e.g. cpx21. */
    serverType: string;
    role: HostRole;
    /** Fixed address on the private network (see network.ts privateIpFor). */
    privateIp: string;
    /** Spread placement group, for cluster nodes. */
    placementGroupId?: pulumi.Input<number>;
    /**
     * Pulumi `protect`: a preview that would delete or replace the server fails instead, naming it
     * (k3s servers in production: they hold etcd). Default false.
     */
    protect?: boolean;
    /**
     * Never act on a change of the rendered user-data (`ignoreChanges: ["userData"]`). Hetzner
     * replaces a server whose user-data changes, and a cluster node is set up over SSH, not from
     * user-data: a later edit of cloud-init.ts then reaches new nodes only and never replaces the
     * running ones. Default false (the Compose host).
     */
    ignoreUserDataChanges?: boolean;
}

/** What the stack outputs say about a host. */
export interface HostSummary {
    name: string;
    role: HostRole;
    publicIpv4: string;
    publicIpv6: string;
    privateIp: string;
}

export class HetznerServer extends pulumi.ComponentResource {
    /** The component's stable name (cp-1, agent-2, compose), for names of resources about this server. */
    public readonly nodeName: string;
    public readonly server: hcloud.Server;
    public readonly serverId: pulumi.Output<number>;
    public readonly publicIpv4: pulumi.Output<string>;
    public readonly privateIp: string;
    /** SSH connection of the deploy user, for remote commands. */
    public readonly connection: command.types.input.remote.ConnectionArgs;
    public readonly summary: pulumi.Output<HostSummary>;

    constructor(name: string, args: HetznerServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:HetznerServer", name, {}, opts);
        const p = args.placement;
        this.nodeName = name;
        this.server = new hcloud.Server(name, {
            name: args.serverName,
            serverType: args.serverType,
            image: SERVER_IMAGE,
            location: p.location,
            sshKeys: [p.sshKeyId],
            firewallIds: p.firewallIds,
            networks: [{ networkId: p.networkId, ip: args.privateIp }],
            publicNets: [{ ipv4Enabled: true, ipv6Enabled: true }],
            placementGroupId: args.placementGroupId,
            userData: pulumi.output(p.sshPublicKey).apply((sshPublicKey) => renderCloudInit({ role: args.role, sshPublicKey })),
            backups: p.production,
            deleteProtection: p.production,
            rebuildProtection: p.production,
            labels: { ...p.labels, role: args.role },
        }, { parent: this, dependsOn: [p.subnet], protect: args.protect, ignoreChanges: args.ignoreUserDataChanges ? ["userData"] : undefined });
        this.serverId = this.server.id.apply(Number);
        this.publicIpv4 = this.server.ipv4Address;
        this.privateIp = args.privateIp;
        this.connection = {
            host: this.publicIpv4,
            user: DEPLOY_USER,
            privateKey: p.sshPrivateKey,
            dialErrorLimit: SSH_DIAL_ATTEMPTS,
        };
        this.summary = pulumi.all([this.server.ipv4Address, this.server.ipv6Address]).apply(([publicIpv4, publicIpv6]) => ({
            name: args.serverName,
            role: args.role,
            publicIpv4,
            publicIpv6,
            privateIp: args.privateIp,
        }));
        this.registerOutputs({ serverId: this.serverId, publicIpv4: this.publicIpv4, privateIp: this.privateIp });
    }
}
