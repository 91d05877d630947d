/**
 * How much of the address space a list of CIDRs opens: the union of the blocks (overlaps counted
 * once), per address family. Config validation (`sshAllowedCidrs`) and the policy pack
 * (firewall-admin-ports) share it, so a list that is refused at `pulumi config` time is refused by
 * the policy too. Parsing is ipaddr.js's (IPv4, IPv6, IPv4-mapped IPv6); the sums are BigInt.
 *
 * Why a union and not each block's prefix: `0.0.0.0/1` + `128.0.0.0/1` is the whole IPv4 internet
 * though neither block is `/0`, and 256 adjacent /24s open as much as one /16.
 */
import * as ipaddr from "ipaddr.js";

/** The widest admin allowlist accepted without an override: one IPv4 /16, one IPv6 /48. */
export const ADMIN_CIDR_MIN_PREFIX = { ipv4: 16, ipv6: 48 } as const;

export type AddressFamily = "ipv4" | "ipv6";

interface Range {
    start: bigint;
    end: bigint;
}

function toBigInt(bytes: number[]): bigint {
    return bytes.reduce((acc, byte) => (acc << 8n) | BigInt(byte), 0n);
}

const BITS: Record<AddressFamily, number> = { ipv4: 32, ipv6: 128 };

/** The family and address range of a CIDR (host bits ignored, as a firewall does); undefined when it does not parse. */
export function cidrRange(cidr: string): { family: AddressFamily; range: Range } | undefined {
    let parsed: [ipaddr.IPv4 | ipaddr.IPv6, number];
    try {
        parsed = ipaddr.parseCIDR(cidr.trim());
    } catch {
        return undefined;
    }
    let [address, prefix] = parsed;
    // ::ffff:0.0.0.0/96 is IPv4 space written in IPv6: count it where it belongs.
    if (address.kind() === "ipv6" && (address as ipaddr.IPv6).isIPv4MappedAddress() && prefix >= 96) {
        address = (address as ipaddr.IPv6).toIPv4Address();
        prefix -= 96;
    }
    const family: AddressFamily = address.kind() === "ipv4" ? "ipv4" : "ipv6";
    const hostBits = BigInt(BITS[family] - prefix);
    const value = toBigInt(address.toByteArray());
    const start = (value >> hostBits) << hostBits;
    return { family, range: { start, end: start + (1n << hostBits) - 1n } };
}

/** Number of distinct addresses per family the CIDRs cover together. Unparseable entries are skipped. */
export function coveredAddresses(cidrs: readonly string[]): Record<AddressFamily, bigint> {
    const byFamily: Record<AddressFamily, Range[]> = { ipv4: [], ipv6: [] };
    for (const cidr of cidrs) {
        const parsed = cidrRange(cidr);
        if (parsed) byFamily[parsed.family].push(parsed.range);
    }
    const union = (ranges: Range[]): bigint => {
        const sorted = [...ranges].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
        let total = 0n;
        let current: Range | undefined;
        for (const range of sorted) {
            if (current && range.start <= current.end + 1n) {
                if (range.end > current.end) current.end = range.end;
            } else {
                if (current) total += current.end - current.start + 1n;
                current = { ...range };
            }
        }
        if (current) total += current.end - current.start + 1n;
        return total;
    };
    return { ipv4: union(byFamily.ipv4), ipv6: union(byFamily.ipv6) };
}

/** The most addresses a prefix length allows in a family: 2^(bits - prefix). */
export function addressesOfPrefix(family: AddressFamily, prefix: number): bigint {
    return 1n << BigInt(BITS[family] - prefix);
}

/**
 * Why `cidrs` together open too much of the address space, or undefined when they do not: the
 * IPv4 union must fit in one /`minPrefix.ipv4`, the IPv6 union in one /`minPrefix.ipv6`.
 */
export function wideCidrProblem(cidrs: readonly string[], minPrefix: Record<AddressFamily, number> = ADMIN_CIDR_MIN_PREFIX): string | undefined {
    const covered = coveredAddresses(cidrs);
    const problems = (["ipv4", "ipv6"] as const)
        .filter((family) => covered[family] > addressesOfPrefix(family, minPrefix[family]))
        .map((family) => `${family === "ipv4" ? "IPv4" : "IPv6"} blocks together cover ${describeShare(family, covered[family])} of the address space, more than one /${minPrefix[family]}`);
    return problems.length > 0 ? problems.join("; ") : undefined;
}

function describeShare(family: AddressFamily, addresses: bigint): string {
    const whole = addressesOfPrefix(family, 0);
    if (addresses >= whole) return "all";
    // The equivalent prefix length, rounded down to a whole bit: 2^(bits - n) >= addresses.
    let prefix = BITS[family];
    while (prefix > 0 && addressesOfPrefix(family, prefix) < addresses) prefix--;
    return `about a /${prefix}`;
}

/**
 * The problem with a CIDR whose address has host bits set (`203.0.113.7/24`), which the hcloud
 * provider refuses only at preview ("invalid CIDR"), or undefined. A firewall rule means a network:
 * the fix names both readings, the network and the single address.
 */
export function hostBitsProblem(cidr: string): string | undefined {
    let parsed: [ipaddr.IPv4 | ipaddr.IPv6, number];
    try {
        parsed = ipaddr.parseCIDR(cidr.trim());
    } catch {
        return undefined;
    }
    const [address, prefix] = parsed;
    const network = networkAddress(address, prefix);
    if (network === address.toString()) return undefined;
    const single = address.kind() === "ipv4" ? 32 : 128;
    return `${cidr} has host bits set: write the network ${network}/${prefix}, or ${address.toString()}/${single} for that one address`;
}

function networkAddress(address: ipaddr.IPv4 | ipaddr.IPv6, prefix: number): string {
    const bytes = address.toByteArray();
    const masked = bytes.map((byte, i) => {
        const bitsHere = Math.max(0, Math.min(8, prefix - i * 8));
        return byte & ((0xff << (8 - bitsHere)) & 0xff);
    });
    return ipaddr.fromByteArray(masked).toString();
}
