/**
 * Address ranges of the k3s cluster's pods and Services, and the range Archon trusts.
 *
 * archon-agents fetches its credentials from archon-server's `/internal/credentials/agents`, which
 * Archon v0.1.0 admits only from 127.0.0.1 and 172.16.0.0/12 ("Docker uses 172.16.0.0 -
 * 172.31.255.255": coleam00/Archon, tag v0.1.0, python/src/server/api_routes/internal_api.py,
 * `is_internal_request`). With k3s's default pod network 10.42.0.0/16 every fetch gets 403, so
 * the cluster's pod and Service ranges are moved inside 172.16.0.0/12, clear of:
 * - the Hetzner private network (`NETWORK_RANGE`, 10.0.0.0/16, network.ts),
 * - Docker's default bridge 172.17.0.0/16,
 * - 172.31.1.1, the on-link default gateway of every Hetzner Cloud server's public interface.
 * Pure data and checks: config.ts reads them, so nothing here registers resources.
 */
import { BlockList, isIPv4 } from "net";

/** What Archon v0.1.0's internal API admits besides localhost (internal_api.py). */
export const ARCHON_INTERNAL_RANGE = "172.16.0.0/12";
/** Docker's default bridge (docker0): a pod range here would shadow it on any host running Docker. */
export const DOCKER_DEFAULT_BRIDGE = "172.17.0.0/16";
/** k3s `--cluster-cidr`: pod addresses (flannel gives each node a /24 of it). */
export const K3S_CLUSTER_CIDR = "172.20.0.0/16";
/** k3s `--service-cidr`: Service cluster IPs. */
export const K3S_SERVICE_CIDR = "172.21.0.0/16";
/** k3s `--cluster-dns`: CoreDNS's Service IP, the tenth address of the Service range (k3s's own default rule). */
export const K3S_CLUSTER_DNS = "172.21.0.10";

interface Ipv4Cidr {
    network: string;
    prefix: number;
}

/** Parses an IPv4 CIDR (`a.b.c.d/n`); undefined for anything else. */
export function parseIpv4Cidr(cidr: string): Ipv4Cidr | undefined {
    const match = /^([^/]+)\/(\d{1,2})$/.exec(cidr.trim());
    if (!match || !isIPv4(match[1])) return undefined;
    const prefix = Number(match[2]);
    return prefix <= 32 ? { network: match[1], prefix } : undefined;
}

function toNumber(address: string): number {
    return address.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
}

function toAddress(n: number): string {
    return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

/** First and last address of an IPv4 CIDR. */
function bounds(cidr: Ipv4Cidr): [string, string] {
    const size = 2 ** (32 - cidr.prefix);
    const first = Math.floor(toNumber(cidr.network) / size) * size;
    return [toAddress(first), toAddress(first + size - 1)];
}

function blockOf(cidr: Ipv4Cidr): BlockList {
    const block = new BlockList();
    block.addSubnet(cidr.network, cidr.prefix, "ipv4");
    return block;
}

/** True when every address of `inner` lies in `outer` (both IPv4 CIDRs). */
export function cidrContains(outer: string, inner: string): boolean {
    const o = parseIpv4Cidr(outer);
    const i = parseIpv4Cidr(inner);
    if (!o || !i) return false;
    const block = blockOf(o);
    return bounds(i).every((address) => block.check(address, "ipv4"));
}

/** True when the two IPv4 CIDRs share an address. */
export function cidrsOverlap(a: string, b: string): boolean {
    return cidrContains(a, b) || cidrContains(b, a);
}
