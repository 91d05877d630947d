import { ResourceValidationPolicy } from "@pulumi/policy";
import { cidrRange } from "../../components/hetzner/cidr-coverage";
import { PolicyArgs, Props, list, objectRef, record, settings } from "../lib/context";

const NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy";

/**
 * Addresses an egress to "the internet" must leave out: the private ranges (the Hetzner network,
 * the pod and service CIDRs, the nodes) and link-local, where Hetzner's metadata service answers
 * (169.254.169.254: the server's user data, its secrets included). Archon's crawler fetches any URL
 * it is given, so its internet egress must not reach them (issue 30.1).
 */
const DEFAULT_PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "fc00::/7", "fe80::/10"];

/** True when `outer` (a CIDR) contains all of `inner`. */
function contains(outer: string, inner: string): boolean {
    const a = cidrRange(outer);
    const b = cidrRange(inner);
    return a !== undefined && b !== undefined && a.family === b.family && a.range.start <= b.range.start && a.range.end >= b.range.end;
}

/** True when two CIDRs share any address. */
function overlaps(x: string, y: string): boolean {
    const a = cidrRange(x);
    const b = cidrRange(y);
    return a !== undefined && b !== undefined && a.family === b.family && a.range.start <= b.range.end && b.range.start <= a.range.end;
}

/** Link-local ranges: Hetzner's metadata service (169.254.169.254) answers there; no egress may name them. */
const LINK_LOCAL = ["169.254.0.0/16", "fe80::/10"];

/** True when the CIDR is one address (/32, /128). */
function singleAddress(cidr: string): boolean {
    const parsed = cidrRange(cidr);
    return parsed !== undefined && parsed.range.start === parsed.range.end;
}

const emptySelector = (selector: unknown) => selector !== undefined && Object.keys(record(record(selector).matchLabels)).length === 0 && list(record(selector).matchExpressions).length === 0;

/**
 * What a peer admits that a narrow policy never does; undefined when it is narrow. `namesPorts`:
 * the peer's rule lists its ports.
 */
function peerProblem(peer: Props, direction: "ingress" | "egress", privateRanges: string[], namesPorts: boolean): string | undefined {
    if (peer.ipBlock !== undefined) {
        const block = record(peer.ipBlock);
        const cidr = String(block.cidr ?? "");
        if (direction === "ingress" && (contains(cidr, "0.0.0.0/1") || contains(cidr, "::/1"))) return `ipBlock ${cidr} admits the internet; public traffic comes through the ingress controller`;
        // One named private host on named ports is as narrow as a rule gets (blackbox-exporter ->
        // each k3s node's kubelet, whose certificate it watches); never a link-local address.
        if (direction === "egress" && singleAddress(cidr) && namesPorts) {
            return LINK_LOCAL.some((range) => overlaps(cidr, range)) ? `ipBlock ${cidr} is link-local (the metadata service answers at 169.254.169.254)` : undefined;
        }
        const except = list(block.except).map(String);
        const reachable = privateRanges.filter((range) => overlaps(cidr, range) && !except.some((e) => contains(e, range)));
        if (direction === "egress" && reachable.length > 0) return `ipBlock ${cidr} reaches ${reachable.join(", ")}; list them in except (the private network and the metadata service)`;
        return undefined;
    }
    if (emptySelector(peer.namespaceSelector)) return "namespaceSelector {} admits every namespace; name the namespaces (kubernetes.io/metadata.name)";
    if (peer.namespaceSelector === undefined && peer.podSelector === undefined) return "an empty peer admits everything";
    return undefined;
}

/**
 * Every NetworkPolicy rule of the stack is as narrow as the program renders them: an ingress rule
 * names its sources and ports; an egress rule names its destinations, and ports unless every peer
 * is a pod of the namespace itself; no peer is `{}`, `namespaceSelector: {}` or an ipBlock that
 * reaches the private ranges or the metadata service (an egress to the internet lists them in
 * `except`; an egress to one private address on named ports is a named host, unless link-local),
 * and no ingress ipBlock admits the internet. The default-deny policies hold only if
 * the allow policies beside them do (network-default-deny checks that those exist).
 */
export const networkAllowRules: ResourceValidationPolicy = {
    name: "network-allow-rules",
    description: "NetworkPolicy allow rules name their peers and ports: no rule without from/to or ports (ports may be omitted only toward the namespace's own pods), no {} or namespaceSelector {} peer, no ipBlock reaching the private ranges or 169.254/16 without except (one private address on named ports excepted, never a link-local one), no ingress ipBlock from the internet.",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            privateRanges: { type: "array", items: { type: "string" }, description: "CIDRs an egress ipBlock must leave out (except)." },
        },
    },
    validateResource: (args: PolicyArgs, reportViolation) => {
        if (args.type !== NETWORK_POLICY) return;
        const { privateRanges } = settings(args, { privateRanges: DEFAULT_PRIVATE_RANGES });
        const { namespace, name } = objectRef(args.props, args.name);
        const spec = record(args.props.spec);
        for (const direction of ["ingress", "egress"] as const) {
            const peersKey = direction === "ingress" ? "from" : "to";
            for (const [index, rule] of list(spec[direction]).map(record).entries()) {
                const where = `NetworkPolicy ${namespace}/${name} ${direction}[${index}]`;
                const peers = list(rule[peersKey]).map(record);
                if (peers.length === 0) {
                    reportViolation(`${where} has no ${peersKey}: it admits ${direction === "ingress" ? "every source" : "every destination"}; name the peers`);
                    continue;
                }
                for (const peer of peers) {
                    const problem = peerProblem(peer, direction, privateRanges, list(rule.ports).length > 0);
                    if (problem) reportViolation(`${where}: ${problem}`);
                }
                const namespaceOnly = peers.every((p) => p.podSelector !== undefined && p.namespaceSelector === undefined && p.ipBlock === undefined);
                if (list(rule.ports).length === 0 && !(direction === "egress" && namespaceOnly)) {
                    reportViolation(`${where} has no ports: it admits every port of its peers; list them`);
                }
            }
        }
    },
};
