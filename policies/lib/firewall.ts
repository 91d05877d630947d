/** Hetzner Cloud firewall rules: `{direction, protocol, port, sourceIps}`, port "22", "80-85" or "any". */
import { Props, list, record } from "./context";

export interface InboundRule {
    index: number;
    protocol: string;
    port: string;
    sourceIps: string[];
}

export function inboundRules(props: Props): InboundRule[] {
    return list(props.rules)
        .map((r, index) => ({ rule: record(r), index }))
        .filter(({ rule }) => rule.direction === "in")
        .map(({ rule, index }) => ({
            index,
            protocol: String(rule.protocol ?? ""),
            port: rule.port === undefined || rule.port === null ? "any" : String(rule.port),
            sourceIps: list(rule.sourceIps).map(String),
        }));
}

/** True when a TCP/UDP rule's port spec covers `port`. */
export function coversPort(rule: InboundRule, port: number): boolean {
    return coversRange(rule, port, port);
}

/** True when a TCP/UDP rule's port spec covers any port from `from` to `to`. */
export function coversRange(rule: InboundRule, from: number, to: number): boolean {
    if (rule.protocol !== "tcp" && rule.protocol !== "udp") return false;
    const spec = rule.port.trim().toLowerCase();
    if (spec === "any" || spec === "") return true;
    const [low, high = low] = spec.split("-").map((p) => Number(p.trim()));
    return low <= to && high >= from;
}
