/**
 * Where the stack runs, by `target`: one Compose host (compose), a k3s cluster on Hetzner (k3s),
 * or an existing Kubernetes cluster from the `kubeconfig` secret (kubernetes, no Hetzner resources).
 */
import * as kubernetes from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ArchonConfig } from "../../config";
import { DEPLOY_USER, DOCKER_PACKAGES } from "./cloud-init";
import { CiAccessFirewall } from "./ci-access-firewall";
import { ClusterAddons } from "./cluster-addons";
import { ComposeHost, ComposeHostAccess } from "./compose-host";
import { HostFirewall } from "./firewall";
import { IngressLoadBalancer } from "./ingress-load-balancer";
import { K3sCluster } from "./k3s-cluster";
import { NETWORK_RANGE, PrivateNetwork } from "./network";
import { K3S_CLUSTER_CIDR } from "./pod-network";
import { Secrets } from "../secrets/secrets";
import { HostSummary, ServerPlacement } from "./server";
import { HostSshKey } from "./ssh-key";

export type { ComposeHostAccess } from "./compose-host";

/** The kubelet's HTTPS port on every Kubernetes node. */
export const KUBELET_PORT = 10250;
export type { HostSummary } from "./server";

/** The addresses a PROXY protocol header may come from (the ingress controller trusts only these). */
export interface ProxyProtocolSources {
    /**
     * CIDRs: the Hetzner network (the load balancer's private address) and the pod range (k3s's
     * service load balancer, klipper-lb, DNATs and masquerades node ports to the controller's
     * Service, so the controller sees a pod address as the peer).
     */
    trustedCidrs: string[];
}

export interface PlatformArgs {
    config: ArchonConfig;
    secrets: Secrets;
}

export class Platform extends pulumi.ComponentResource {
    /** Provider for every Kubernetes resource (targets k3s and kubernetes); k3s: ready once the cluster is. */
    public readonly kubernetesProvider?: kubernetes.Provider;
    /** The Compose host (target compose). */
    public readonly composeHost?: ComposeHostAccess;
    /** Pinned host packages by name (target compose: Docker Engine, containerd, the Compose plugin). */
    public readonly hostSoftware?: Record<string, string>;
    /** Kubeconfig of the cluster (secret); undefined for compose. */
    public readonly kubeconfig?: pulumi.Output<string>;
    /** Every Hetzner host: name, role, public IPv4/IPv6, private IP (empty for target kubernetes). */
    public readonly hosts: pulumi.Output<HostSummary[]>;
    /** Ready-to-paste SSH command per host name. */
    public readonly sshCommands: pulumi.Output<Record<string, string>>;
    /** The generated SSH private key (secret); undefined when `sshPublicKey` is configured or without hosts. */
    public readonly sshPrivateKey?: pulumi.Output<string>;
    /** Public IPv4 that DNS records for the stack's hosts point at (load balancer or single host). */
    public readonly ingressIpv4?: pulumi.Output<string>;
    /** Public IPv6 of the same ingress (AAAA records, components/hetzner/dns.ts). */
    public readonly ingressIpv6?: pulumi.Output<string>;
    /**
     * StorageClass of every volume claim on the cluster: k3s the retained Hetzner class of
     * ClusterAddons; kubernetes config `storageClassName`, undefined = the cluster's default.
     */
    public readonly storageClassName?: string;
    /**
     * The cluster add-ons every Kubernetes workload, claim and chart waits for (k3s: the Hetzner
     * CCM and CSI releases of ClusterAddons); empty where the program installs none.
     */
    public readonly clusterAddons: pulumi.Resource[] = [];
    /**
     * How the ingress controller learns client addresses (k3s behind the Hetzner load balancer:
     * PROXY protocol from these source ranges); undefined when clients connect directly.
     */
    public readonly proxyProtocol?: ProxyProtocolSources;
    /**
     * k3s: each node's kubelet (`<private IP>:10250`), whose serving certificate k3s issues and
     * renews with the node's other certificates: blackbox probes it for the certificate alert.
     */
    public readonly kubeletEndpoints?: string[];

    constructor(name: string, args: PlatformArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:Platform", name, {}, opts);
        const config = args.config;
        if (config.target === "kubernetes") {
            this.kubeconfig = config.kubeconfigSecret;
            this.kubernetesProvider = new kubernetes.Provider("cluster", { kubeconfig: this.kubeconfig }, { parent: this });
            this.storageClassName = config.storageClassName;
            this.hosts = pulumi.output<HostSummary[]>([]);
            this.sshCommands = pulumi.output<Record<string, string>>({});
            this.registerOutputs({});
            return;
        }

        const namePrefix = `archon-${config.stack}`;
        const labels = { project: "archon", stack: config.stack };
        const network = new PrivateNetwork("network", { namePrefix, location: config.location, deleteProtection: config.isProduction, labels }, { parent: this });
        // A multi-node cluster is reached through the load balancer, which speaks PROXY protocol.
        const behindLoadBalancer = config.target === "k3s" && config.controlPlaneNodes + config.agentNodes > 1;
        const firewall = new HostFirewall("firewall", {
            namePrefix,
            adminCidrs: config.sshAllowedCidrs,
            kubernetesApi: config.target === "k3s",
            // Behind the load balancer the nodes' public 80/443 stay closed: a client connecting
            // there directly would reach the ingress controller from a trusted (masqueraded pod)
            // address and could send its own PROXY header, i.e. pick its own client address.
            publicWeb: !behindLoadBalancer,
            labels,
        }, { parent: this });
        const ciAccess = new CiAccessFirewall("ci-access", { namePrefix, labels }, { parent: this });
        const sshKey = new HostSshKey("ssh-key", { keyName: namePrefix, publicKey: config.sshPublicKey, labels }, { parent: this });
        this.sshPrivateKey = sshKey.privateKey;
        const placement: ServerPlacement = {
            location: config.location,
            networkId: network.networkId,
            subnet: network.subnet,
            firewallIds: [firewall.firewallId, ciAccess.firewallId],
            sshKeyId: sshKey.keyId,
            sshPublicKey: sshKey.publicKey,
            sshPrivateKey: sshKey.privateKey,
            production: config.isProduction,
            labels,
        };

        if (config.target === "compose") {
            const host = new ComposeHost("compose", {
                placement,
                serverName: `${namePrefix}-compose`,
                serverType: config.serverType,
                dataVolumeSizeGb: config.dataVolumeSizeGb,
                dockerDaemon: { registryMirror: config.dockerHubMirror },
            }, { parent: this });
            this.composeHost = host.access;
            this.hostSoftware = { ...DOCKER_PACKAGES };
            this.hosts = host.summary.apply((summary) => [summary]);
            this.ingressIpv4 = host.publicIpv4;
            this.ingressIpv6 = host.summary.apply((summary) => summary.publicIpv6);
        } else {
            const cluster = new K3sCluster("k3s", {
                placement,
                namePrefix,
                controlPlaneNodes: config.controlPlaneNodes,
                agentNodes: config.agentNodes,
                serverType: config.serverType,
                agentServerType: config.agentServerType ?? config.serverType,
                k3sVersion: config.k3sVersion,
                token: args.secrets.k3sToken,
                bundledTraefik: config.ingressController === "traefik",
                // etcd snapshots go to the backups' bucket when its credentials are set.
                etcdSnapshots: config.backupAccessKeyIdSecret && config.backupSecretAccessKeySecret ? {
                    endpoint: config.backup.endpoint,
                    bucket: config.backup.bucket,
                    region: config.backup.region,
                    folder: `etcd/${config.stack}`,
                    accessKeyId: config.backupAccessKeyIdSecret,
                    secretAccessKey: config.backupSecretAccessKeySecret,
                } : undefined,
            }, { parent: this });
            this.kubeconfig = cluster.kubeconfig;
            // clusterIdentifier: the kubeconfig is fetched again each certificate window and when cp-1
            // is replaced; without it the provider would be replaced with it, and every object on the
            // cluster after it (pulumi-kubernetes provider.go DiffConfig: a computed kubeconfig replaces).
            this.kubernetesProvider = new kubernetes.Provider("cluster", { kubeconfig: this.kubeconfig, clusterIdentifier: cluster.clusterIdentifier }, { parent: this });
            const addons = new ClusterAddons("cluster-addons", {
                provider: this.kubernetesProvider,
                networkId: network.networkId,
                hcloudToken: config.hcloudTokenForClusterSecret,
                clusterCidr: K3S_CLUSTER_CIDR,
            }, { parent: this });
            this.storageClassName = addons.storageClassName;
            this.clusterAddons = addons.ready;
            this.kubeletEndpoints = cluster.nodes.map((node) => `${node.privateIp}:${KUBELET_PORT}`);
            this.hosts = cluster.summaries;
            if (behindLoadBalancer) {
                const lb = new IngressLoadBalancer("ingress", {
                    lbName: `${namePrefix}-ingress`,
                    location: config.location,
                    networkId: network.networkId,
                    subnet: network.subnet,
                    targets: Object.fromEntries(cluster.nodes.map((node) => [node.nodeName, node.serverId])),
                    deleteProtection: config.isProduction,
                    proxyProtocol: true,
                    labels,
                }, { parent: this });
                this.ingressIpv4 = lb.ipv4;
                this.ingressIpv6 = lb.ipv6;
                this.proxyProtocol = { trustedCidrs: [NETWORK_RANGE, K3S_CLUSTER_CIDR] };
            } else {
                // One node: the firewall already admits 80/443 to it, where k3s exposes the ingress controller.
                this.ingressIpv4 = cluster.nodes[0].publicIpv4;
                this.ingressIpv6 = cluster.nodes[0].summary.apply((summary) => summary.publicIpv6);
            }
        }
        const keyFile = this.sshPrivateKey ? ` -i ~/.ssh/${namePrefix}` : "";
        this.sshCommands = this.hosts.apply((hosts) =>
            Object.fromEntries(hosts.map((h) => [h.name, `ssh${keyFile} ${DEPLOY_USER}@${h.publicIpv4}`])));
        this.registerOutputs({ hosts: this.hosts, sshCommands: this.sshCommands, ingressIpv4: this.ingressIpv4, hostSoftware: this.hostSoftware });
    }
}
