/**
 * What a k3s cluster on Hetzner needs from Hetzner itself: the cloud controller manager (node
 * addresses and lifecycle from the Hetzner API) and the CSI driver (PVCs become Hetzner volumes),
 * with a default storage class that RETAINS volumes when their claim is deleted.
 *
 * Both read the Hetzner token from the kube-system Secret `hcloud` (keys `token`, `network`). It is
 * created from config `hcloudTokenForCluster` (else the provider's hcloud:token / HCLOUD_TOKEN).
 * Offline there is no token: the Secret is skipped (no placeholder is ever deployed) and a warning
 * says how to set it.
 *
 * Order: Secret -> CCM -> CSI -> everything else on the cluster (`ready`). k3s starts every node
 * with the taint `node.cloudprovider.kubernetes.io/uninitialized` (`--kubelet-arg
 * cloud-provider=external`), which only the CCM removes; the CCM tolerates it
 * (chart/templates/deployment.yaml), the CSI controller and every workload do not.
 */
import * as kubernetes from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { K3S_CLUSTER_CIDR } from "./pod-network";
import { isOfflineSynth } from "../../config";

export const HETZNER_CHARTS_REPO = "https://charts.hetzner.cloud";
/** Pinned chart versions (the chart index at HETZNER_CHARTS_REPO lists the releases). */
/**
 * Hetzner announced (May 2026) that CCMs older than v1.30.1 crash once the API drops the server
 * "datacenter" property (1 July 2026), so the pin must stay at 1.30.1 or later. Chart 1.26.0 was
 * never seen: Renovate moved public pins from 1.25.1 straight to 1.27.0.
 */
export const CCM_CHART_VERSION = "1.31.1"; // confirmed: Renovate "update helm release hcloud-cloud-controller-manager to v1.31.1" (identiops/terraform-hcloud-k3s#111, 2026-05-19, repo charts.hetzner.cloud); values `env.<NAME>.value` and `networking.enabled` read by chart/templates/deployment.yaml (search 2026)
export const CSI_CHART_VERSION = "2.22.1"; // confirmed: hetznercloud/csi-driver tag v2.22.1 (2026-07-30) chart/Chart.yaml version 2.22.1; docs/kubernetes/reference/version-policy.md: Kubernetes 1.33-1.36 need v2.20.2+ (2.16.0 was tested up to 1.33 only); chart follows the app version; `storageClasses[].name/defaultStorageClass/reclaimPolicy` read by chart/templates/core/storageclass.yaml, token from Secret hcloud/token by default (controller.hcloudToken.existingSecret) (search 2026)
/** The default storage class every PVC without one gets: Hetzner volumes, kept on claim deletion. */
export const RETAINED_STORAGE_CLASS = "hcloud-volumes-retain";
const HCLOUD_SECRET = "hcloud";
const NAMESPACE = "kube-system";

export interface ClusterAddonsArgs {
    provider: kubernetes.Provider;
    /** The cluster's private network, for the CCM's node addresses. */
    networkId: pulumi.Input<number>;
    /** Hetzner API token (secret); undefined offline. */
    hcloudToken?: pulumi.Output<string>;
    /** The pod range k3s was installed with (`--cluster-cidr`); default {@link K3S_CLUSTER_CIDR}. */
    clusterCidr?: string;
}

export class ClusterAddons extends pulumi.ComponentResource {
    /** Name of the default, retained storage class. */
    public readonly storageClassName = RETAINED_STORAGE_CLASS;
    /**
     * What every workload, claim and chart on the cluster waits for: the CCM (nodes initialized,
     * so pods schedule) and the CSI driver with its StorageClass (claims bind).
     */
    public readonly ready: pulumi.Resource[];

    constructor(name: string, args: ClusterAddonsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:ClusterAddons", name, {}, opts);
        const k8s = { parent: this, provider: args.provider };
        const needs: pulumi.Resource[] = [];
        if (args.hcloudToken !== undefined) {
            needs.push(new kubernetes.core.v1.Secret("hcloud", {
                metadata: { name: HCLOUD_SECRET, namespace: NAMESPACE },
                type: "Opaque",
                stringData: { token: args.hcloudToken, network: pulumi.output(args.networkId).apply(String) },
            }, k8s));
        } else if (!isOfflineSynth()) {
            // Offline there is never a token; a real deploy has the provider's (HCLOUD_TOKEN).
            pulumi.log.warn("no Hetzner token for the cluster: set `pulumi config set --secret hcloudTokenForCluster <token>` (or hcloud:token) so the CCM and CSI driver can start", this);
        }
        const release = (releaseName: string, chart: string, version: string, values: Record<string, unknown>, dependsOn: pulumi.Resource[]) =>
            new kubernetes.helm.v3.Release(releaseName, {
                name: releaseName,
                chart,
                version,
                repositoryOpts: { repo: HETZNER_CHARTS_REPO },
                namespace: NAMESPACE,
                values,
            }, { ...k8s, dependsOn });
        // Values as read in hetznercloud/hcloud-cloud-controller-manager v1.31.1 chart/values.yaml
        // and chart/templates/deployment.yaml.
        const ccm = release("hcloud-ccm", "hcloud-cloud-controller-manager", CCM_CHART_VERSION, {
            env: {
                // Ingress reaches the nodes through ingress-load-balancer.ts (or the single node's
                // ports); the CCM must not also create load balancers for LoadBalancer Services.
                HCLOUD_LOAD_BALANCERS_ENABLED: { value: "false" },
                // Pod traffic is flannel VXLAN over the private network (k3s-install.sh
                // --flannel-iface), so the CCM adds no Hetzner network routes. The routes controller
                // is on by default once HCLOUD_NETWORK is set (internal/config/config.go,
                // HCLOUD_NETWORK_ROUTES_ENABLED, default true).
                HCLOUD_NETWORK_ROUTES_ENABLED: { value: "false" },
            },
            // `networking.enabled` sets HCLOUD_NETWORK from the Secret's `network` key
            // (networking.network.valueFrom.secretKeyRef hcloud/network), so the CCM reports each
            // node's private address as its InternalIP (hcloud/instances.go, hcloudNodeAddresses).
            // Without it the CCM reports public addresses only, the kubelet's private --node-ip
            // matches none of them and the node keeps its uninitialized taint
            // (hetznercloud/hcloud-cloud-controller-manager#630). The chart passes `clusterCIDR` as
            // --cluster-cidr: it must be k3s's own pod range.
            networking: { enabled: true, clusterCIDR: args.clusterCidr ?? K3S_CLUSTER_CIDR },
        }, needs);
        // The CSI controller has no toleration for the uninitialized taint: it waits for the CCM.
        const csi = release("hcloud-csi", "hcloud-csi", CSI_CHART_VERSION, {
            storageClasses: [{ name: RETAINED_STORAGE_CLASS, defaultStorageClass: true, reclaimPolicy: "Retain" }],
        }, [...needs, ccm]);
        this.ready = [ccm, csi];
        this.registerOutputs({ storageClassName: this.storageClassName });
    }
}
