/**
 * The k3s target's cluster: `controlPlaneNodes` servers (the first initializes embedded etcd, the
 * others join one after another) and `agentNodes` agents, spread across hosts by placement groups,
 * node traffic on the private network. k3s is installed over SSH at a pinned version (never from
 * user-data, so a k3s upgrade does not replace servers); the admin kubeconfig is fetched over SSH.
 */
import { k3sInstaller } from "./k3s-installers";
import * as command from "@pulumi/command";
import * as hcloud from "@pulumi/hcloud";
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { renderHostScript } from "./host-scripts";
import { privateIpFor } from "./network";
import { K3S_CLUSTER_CIDR, K3S_CLUSTER_DNS, K3S_SERVICE_CIDR } from "./pod-network";
import { HetznerServer, HostSummary, ServerPlacement } from "./server";

/** Hetzner allows at most 10 servers in one spread placement group. */
const SPREAD_GROUP_LIMIT = 10;
const KUBE_API_PORT = 6443;

export interface K3sClusterArgs {
    placement: ServerPlacement;
    /** Prefix of server names, e.g. `archon-production` -> archon-production-cp-1, -agent-1. */
    namePrefix: string;
    /** Control-plane node count (config `controlPlaneNodes`: 1, 3 or 5). */
    controlPlaneNodes: number;
    /** Agent node count (config `agentNodes`, 0 or more). */
    agentNodes: number;
    /** Server type of control-plane nodes (config `serverType`). */
    serverType: string;
    /** Server type of agents (config `agentServerType ?? serverType`). */
    agentServerType: string;
    /** Pinned k3s release (config `k3sVersion`). */
    k3sVersion: string;
    /** Join token (secret, from Secrets.k3sToken); sent over SSH on stdin only. */
    token: pulumi.Input<string>;
    /** Keep the Traefik k3s bundles (config `ingressController: traefik`); false installs with `--disable traefik`. Default true. */
    bundledTraefik?: boolean;
}

/** Points a k3s kubeconfig (server https://127.0.0.1:6443) at the given address. */
export function pointKubeconfigAt(kubeconfig: string, host: string): string {
    const doc = parseYaml(kubeconfig) as { clusters?: { cluster?: { server?: string } }[] };
    for (const entry of doc.clusters ?? []) {
        if (entry.cluster) entry.cluster.server = `https://${host}:${KUBE_API_PORT}`;
    }
    return toYaml(doc, { lineWidth: 0 });
}

export class K3sCluster extends pulumi.ComponentResource {
    public readonly nodes: HetznerServer[];
    /** Admin kubeconfig pointing at the first control plane's public address (secret). */
    public readonly kubeconfig: pulumi.Output<string>;
    public readonly summaries: pulumi.Output<HostSummary[]>;

    constructor(name: string, args: K3sClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:K3sCluster", name, {}, opts);
        const total = args.controlPlaneNodes + args.agentNodes;
        const groups = Array.from({ length: Math.ceil(total / SPREAD_GROUP_LIMIT) }, (_, g) =>
            new hcloud.PlacementGroup(`spread-${g}`, { name: `${args.namePrefix}-spread-${g}`, type: "spread", labels: args.placement.labels }, { parent: this }));
        const groupIdOf = (position: number) => groups[Math.floor(position / SPREAD_GROUP_LIMIT)].id.apply(Number);

        const node = (kind: "cp" | "agent", i: number, position: number) => new HetznerServer(`${kind}-${i + 1}`, {
            placement: args.placement,
            serverName: `${args.namePrefix}-${kind}-${i + 1}`,
            serverType: kind === "cp" ? args.serverType : args.agentServerType,
            role: kind === "cp" ? "k3s-server" : "k3s-agent",
            privateIp: privateIpFor(kind === "cp" ? "server" : "agent", i),
            placementGroupId: groupIdOf(position),
        }, { parent: this });
        const servers = Array.from({ length: args.controlPlaneNodes }, (_, i) => node("cp", i, i));
        const agents = Array.from({ length: args.agentNodes }, (_, i) => node("agent", i, args.controlPlaneNodes + i));
        this.nodes = [...servers, ...agents];

        const first = servers[0];
        const serverUrl = `https://${first.privateIp}:${KUBE_API_PORT}`;
        // config.ts refuses a k3sVersion without a verified installer row.
        const installer = k3sInstaller(args.k3sVersion);
        if (!installer) throw new Error(`k3sVersion ${args.k3sVersion} has no verified installer in components/hetzner/k3s-installers.ts`);
        const install = (label: string, node: HetznerServer, role: "init" | "server" | "agent", dependsOn: pulumi.Resource[]) =>
            new command.remote.Command(`install-${label}`, {
                connection: node.connection,
                create: node.publicIpv4.apply((publicIp) => renderHostScript(["k3s-install"], {
                    K3S_VERSION: args.k3sVersion,
                    K3S_INSTALLER_COMMIT: installer.commit,
                    K3S_INSTALLER_SHA256: installer.sha256,
                    K3S_ROLE: role,
                    K3S_SERVER_URL: role === "init" ? "" : serverUrl,
                    NODE_PRIVATE_IP: node.privateIp,
                    NODE_PUBLIC_IP: publicIp,
                    // Server flags (agents learn the ranges from the servers). They are fixed when the
                    // cluster is created: k3s does not move a running cluster's pod or Service range.
                    K3S_CLUSTER_CIDR,
                    K3S_SERVICE_CIDR,
                    K3S_CLUSTER_DNS,
                    K3S_BUNDLED_TRAEFIK: String(args.bundledTraefik ?? true),
                })),
                stdin: pulumi.secret(args.token),
                logging: "stderr",
                triggers: [node.serverId],
            }, {
                parent: this,
                dependsOn,
                additionalSecretOutputs: ["stdin"],
                // A running cluster keeps its token: re-running installs with a rotated one would
                // not change it (that takes `k3s token rotate`), so rotation does not re-run them.
                ignoreChanges: ["stdin"],
            });

        const firstInstall = install("cp-1", first, "init", []);
        const serverInstalls = [firstInstall];
        servers.slice(1).forEach((node, i) => {
            // etcd members join one at a time.
            serverInstalls.push(install(`cp-${i + 2}`, node, "server", [serverInstalls[i]]));
        });
        const agentInstalls = agents.map((node, i) => install(`agent-${i + 1}`, node, "agent", [firstInstall]));

        const fetch = new command.remote.Command("kubeconfig", {
            connection: first.connection,
            create: renderHostScript(["k3s-kubeconfig"]),
            logging: "none",
            triggers: [first.serverId],
        }, { parent: this, dependsOn: [...serverInstalls, ...agentInstalls], additionalSecretOutputs: ["stdout"] });
        this.kubeconfig = pulumi.secret(pulumi.all([fetch.stdout, first.publicIpv4]).apply(([text, ip]) => pointKubeconfigAt(text, ip)));
        this.summaries = pulumi.all(this.nodes.map((n) => n.summary));
        this.registerOutputs({ summaries: this.summaries });
    }
}
