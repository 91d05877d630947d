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
    /** The certificate-renewal window (UTC `YYYY-MM`); default the current month ({@link certificateWindow}). For tests. */
    certificateWindow?: string;
    /**
     * Where etcd snapshots go besides the servers' disks (k3s `--etcd-s3`): the backups' object
     * storage (config `backup*`), with its credentials. Unset: snapshots stay on each server only.
     */
    etcdSnapshots?: EtcdSnapshotStorage;
}

/** The object storage of etcd snapshots (the stack's backup bucket). */
export interface EtcdSnapshotStorage {
    /** S3 endpoint URL, e.g. https://fsn1.your-objectstorage.com. */
    endpoint: string;
    bucket: string;
    region: string;
    /** Folder in the bucket, e.g. `etcd/production`. */
    folder: string;
    accessKeyId: pulumi.Input<string>;
    secretAccessKey: pulumi.Input<string>;
}

/** k3s's etcd snapshot schedule (UTC) and how many it keeps, on disk and in the bucket: every 6 h, one week. */
export const ETCD_SNAPSHOT_SCHEDULE = { cron: "0 */6 * * *", retention: 28 } as const;

/**
 * The k3s config drop-in for etcd snapshots to object storage: k3s server's `etcd-s3*` and
 * `etcd-snapshot-*` options (k3s pkg/cli/cmds/server.go; `etcd-s3-endpoint` is a host, not a URL).
 */
export function etcdSnapshotConfig(storage: { endpoint: string; bucket: string; region: string; folder: string; accessKeyId: string; secretAccessKey: string }): string {
    return toYaml({
        "etcd-snapshot-schedule-cron": ETCD_SNAPSHOT_SCHEDULE.cron,
        "etcd-snapshot-retention": ETCD_SNAPSHOT_SCHEDULE.retention,
        "etcd-s3": true,
        "etcd-s3-endpoint": new URL(storage.endpoint).host,
        "etcd-s3-region": storage.region,
        "etcd-s3-bucket": storage.bucket,
        "etcd-s3-folder": storage.folder,
        "etcd-s3-access-key": storage.accessKeyId,
        "etcd-s3-secret-key": storage.secretAccessKey,
    }, { lineWidth: 0 });
}

/**
 * Days before expiry at which a node's k3s certificates are renewed: k3s renews certificates that
 * have expired or expire within 90 days when it starts (docs.k3s.io/advanced "Client and Server
 * certificates"), so a restart inside that window is a renewal.
 */
export const CERTIFICATE_RENEWAL_DAYS = 90;

/**
 * The certificate-renewal window of `now`: its UTC calendar month. The renewal and kubeconfig steps
 * carry it as a trigger, so the first `pulumi up` of a month re-runs them (the preview shows the
 * two steps replaced with "triggers" changed) and no other up does. An up at least every two
 * months keeps every certificate renewed 30+ days before it expires.
 */
export function certificateWindow(now: Date = new Date()): string {
    return now.toISOString().slice(0, 7);
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
    /**
     * The cluster's identity for the Kubernetes provider (`clusterIdentifier`): the provider, and so
     * every object on the cluster, is replaced only when this changes, not when the kubeconfig is
     * fetched again or points at a replaced cp-1 (pulumi-kubernetes provider.go DiffConfig).
     */
    public readonly clusterIdentifier: string;
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
            // A replaced server is recoverable (it joins the survivors) but never wanted by accident:
            // production's servers hold etcd, so a preview that would replace one stops.
            protect: kind === "cp" && args.placement.production,
            ignoreUserDataChanges: true,
        }, { parent: this });
        const servers = Array.from({ length: args.controlPlaneNodes }, (_, i) => node("cp", i, i));
        const agents = Array.from({ length: args.agentNodes }, (_, i) => node("agent", i, args.controlPlaneNodes + i));
        this.nodes = [...servers, ...agents];

        const first = servers[0];
        // config.ts refuses a k3sVersion without a verified installer row.
        const installer = k3sInstaller(args.k3sVersion);
        if (!installer) throw new Error(`k3sVersion ${args.k3sVersion} has no verified installer in components/hetzner/k3s-installers.ts`);
        const serverUrl = (node: HetznerServer) => `https://${node.privateIp}:${KUBE_API_PORT}`;
        // Every server's public address is a name on the API certificate (any server can serve kubectl).
        const serverPublicIps = pulumi.all(servers.map((s) => s.publicIpv4));
        const install = (label: string, node: HetznerServer, role: "server" | "agent", dependsOn: pulumi.Resource[]) =>
            new command.remote.Command(`install-${label}`, {
                connection: node.connection,
                create: pulumi.all([node.publicIpv4, serverPublicIps]).apply(([publicIp, sans]) => renderHostScript(["k3s-install"], {
                    K3S_VERSION: args.k3sVersion,
                    K3S_INSTALLER_COMMIT: installer.commit,
                    K3S_INSTALLER_SHA256: installer.sha256,
                    K3S_ROLE: role,
                    // The node joins the first of these that answers: the other servers, cp-1 first.
                    K3S_JOIN_URLS: servers.filter((s) => s !== node).map(serverUrl).join(" "),
                    // Only the first server may start a cluster, and only when no other server answers.
                    K3S_MAY_INIT: String(node === first),
                    K3S_TLS_SANS: role === "server" ? sans.join(" ") : "",
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

        const firstInstall = install("cp-1", first, "server", []);
        const serverInstalls = [firstInstall];
        servers.slice(1).forEach((node, i) => {
            // etcd members join one at a time.
            serverInstalls.push(install(`cp-${i + 2}`, node, "server", [serverInstalls[i]]));
        });
        // Agents after every server (an upgrade: servers first), one at a time.
        const agentInstalls: pulumi.Resource[] = [];
        agents.forEach((node, i) => agentInstalls.push(install(`agent-${i + 1}`, node, "agent", [...serverInstalls, ...agentInstalls.slice(-1)])));

        // etcd snapshots to object storage, one server at a time (each restart keeps etcd's quorum).
        const snapshotSteps: pulumi.Resource[] = [];
        if (args.etcdSnapshots) {
            const storage = args.etcdSnapshots;
            const settings = pulumi.secret(pulumi.all([storage.accessKeyId, storage.secretAccessKey]).apply(([accessKeyId, secretAccessKey]) =>
                etcdSnapshotConfig({ ...storage, accessKeyId, secretAccessKey })));
            servers.forEach((node) => {
                snapshotSteps.push(new command.remote.Command(`etcd-snapshots-${node.nodeName}`, {
                    connection: node.connection,
                    create: renderHostScript(["k3s-etcd-snapshots"]),
                    stdin: settings,
                    logging: "stderr",
                    triggers: [node.serverId],
                }, { parent: this, dependsOn: [...serverInstalls, ...snapshotSteps.slice(-1)], additionalSecretOutputs: ["stdin"] }));
            });
        }

        // Certificate renewal (k3s-certificates.sh): in every new calendar month, each node is
        // restarted if one of its certificates expires within CERTIFICATE_RENEWAL_DAYS, one node at a
        // time (servers first, keeping etcd's quorum), then the kubeconfig is fetched again.
        const window = args.certificateWindow ?? certificateWindow();
        const renewals: pulumi.Resource[] = [];
        this.nodes.forEach((node, i) => {
            const isServer = i < servers.length;
            renewals.push(new command.remote.Command(`certificates-${node.nodeName}`, {
                connection: node.connection,
                create: renderHostScript(["k3s-certificates"], { K3S_SERVICE: isServer ? "k3s" : "k3s-agent", K3S_RENEW_DAYS: String(CERTIFICATE_RENEWAL_DAYS) }),
                logging: "stderr",
                triggers: [node.serverId, window],
            }, { parent: this, dependsOn: [...serverInstalls, ...agentInstalls, ...snapshotSteps, ...renewals.slice(-1)] }));
        });

        const fetch = new command.remote.Command("kubeconfig", {
            connection: first.connection,
            create: renderHostScript(["k3s-kubeconfig"]),
            logging: "none",
            // Fetched again when cp-1 is replaced and in each certificate window, after the renewals:
            // the admin client certificate in it lasts 365 days.
            triggers: [first.serverId, window],
        }, { parent: this, dependsOn: [...serverInstalls, ...agentInstalls, ...renewals], additionalSecretOutputs: ["stdout"] });
        this.kubeconfig = pulumi.secret(pulumi.all([fetch.stdout, first.publicIpv4]).apply(([text, ip]) => pointKubeconfigAt(text, ip)));
        this.clusterIdentifier = `k3s-${args.namePrefix}`;
        this.summaries = pulumi.all(this.nodes.map((n) => n.summary));
        this.registerOutputs({ summaries: this.summaries });
    }
}
