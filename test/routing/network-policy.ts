/**
 * Kubernetes NetworkPolicy semantics (networking.k8s.io/v1, kubernetes.io docs "Network Policies"):
 * a pod is isolated for a direction once any policy of its namespace selects it with that
 * policyType; an isolated pod admits a connection when some rule of some selecting policy matches
 * the peer (podSelector in the policy's namespace, namespaceSelector, both ANDed, or ipBlock with
 * `except`) and the port; a connection needs the source's egress and the destination's ingress.
 * Peers outside the cluster are addresses only (ipBlock); pods are matched by labels.
 */
import { BlockList, isIPv4 } from "net";
import { KubeObject } from "./traefik";

type Selector = { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] };
type Peer = { podSelector?: Selector; namespaceSelector?: Selector; ipBlock?: { cidr: string; except?: string[] } };
type Rule = { from?: Peer[]; to?: Peer[]; ports?: { protocol?: string; port?: number | string }[] };

/** A pod as the policies see it. */
export interface Pod { namespace: string; labels: Record<string, string>; ip?: string }
/** Where a connection goes: a pod, or an address outside the cluster. */
export type Destination = { pod: Pod } | { ip: string };

function matches(selector: Selector | undefined, labels: Record<string, string>): boolean {
    if (!selector) return true;
    for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
    for (const e of selector.matchExpressions ?? []) {
        const has = Object.prototype.hasOwnProperty.call(labels, e.key);
        const ok = e.operator === "In" ? has && (e.values ?? []).includes(labels[e.key])
            : e.operator === "NotIn" ? !has || !(e.values ?? []).includes(labels[e.key])
                : e.operator === "Exists" ? has
                    : e.operator === "DoesNotExist" ? !has
                        : (() => { throw new Error(`selector operator ${e.operator}`); })();
        if (!ok) return false;
    }
    return true;
}

function inCidr(ip: string, cidr: string): boolean {
    const [network, prefix] = cidr.split("/");
    const block = new BlockList();
    block.addSubnet(network, Number(prefix), "ipv4");
    return isIPv4(ip) && block.check(ip, "ipv4");
}

/** Namespace labels: those rendered on Namespace objects plus the automatic kubernetes.io/metadata.name. */
function namespaceLabels(objects: KubeObject[], namespace: string): Record<string, string> {
    const object = objects.find((o) => o.kind === "Namespace" && o.metadata.name === namespace) as (KubeObject & { metadata: { labels?: Record<string, string> } }) | undefined;
    return { ...(object?.metadata.labels ?? {}), "kubernetes.io/metadata.name": namespace };
}

function peerMatches(objects: KubeObject[], policyNamespace: string, peer: Peer, other: Destination): boolean {
    if (peer.ipBlock) {
        // An ipBlock is meant for addresses outside the cluster; pods here are matched by labels only.
        if (!("ip" in other)) return false;
        return inCidr(other.ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((c) => inCidr(other.ip, c));
    }
    if (!("pod" in other)) return false;
    const nsOk = peer.namespaceSelector ? matches(peer.namespaceSelector, namespaceLabels(objects, other.pod.namespace)) : other.pod.namespace === policyNamespace;
    return nsOk && matches(peer.podSelector, other.pod.labels);
}

function allowedBy(objects: KubeObject[], direction: "Ingress" | "Egress", pod: Pod, peer: Destination, port: number, protocol: string): boolean {
    const selecting = objects.filter((o) => o.kind === "NetworkPolicy" && o.metadata.namespace === pod.namespace && matches(o.spec?.podSelector, pod.labels)
        && ((o.spec?.policyTypes as string[] | undefined) ?? ["Ingress", ...(o.spec?.egress ? ["Egress"] : [])]).includes(direction));
    if (selecting.length === 0) return true;
    return selecting.some((policy) => ((direction === "Ingress" ? policy.spec?.ingress : policy.spec?.egress) as Rule[] | undefined ?? []).some((rule) => {
        const peers = direction === "Ingress" ? rule.from : rule.to;
        const peerOk = !peers || peers.length === 0 || peers.some((p) => peerMatches(objects, pod.namespace, p, peer));
        const portOk = !rule.ports || rule.ports.length === 0 || rule.ports.some((p) => (p.protocol ?? "TCP") === protocol && (p.port === undefined || Number(p.port) === port));
        return peerOk && portOk;
    }));
}

/** Whether `source` may open a connection to `destination` on `port` under the rendered policies. */
export function connectionAllowed(objects: KubeObject[], source: Pod, destination: Destination, port: number, protocol = "TCP"): boolean {
    if (!allowedBy(objects, "Egress", source, destination, port, protocol)) return false;
    return "ip" in destination || allowedBy(objects, "Ingress", destination.pod, { pod: source }, port, protocol);
}
