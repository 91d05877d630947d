/**
 * Opens and closes a stack's CI access firewall (components/hetzner/ci-access-firewall.ts) through
 * Hetzner's API. Every rule belongs to an owner (a deploy's run URL, or `manual`) and expires; both
 * are written into its description. `open` adds the owner's rules for one address (SSH and, on
 * k3s, the Kubernetes API), `close` removes the owner's rules only, so a person's open/close never
 * cuts a running deploy's access; every call also drops expired rules and rules without an owner
 * and expiry (nobody may leave the firewall open), and `prune` does only that (the scheduled
 * workflow). The firewall is found by its labels, so the job needs neither Pulumi state nor the
 * firewall's ID. API: https://docs.hetzner.cloud/reference/cloud#firewalls (GET
 * /firewalls?label_selector=..., GET /firewalls/{id}, POST /firewalls/{id}/actions/set_rules,
 * which replaces the whole set: there is no single-rule add or remove).
 */
import * as net from "net";

export const HETZNER_API = "https://api.hetzner.cloud/v1";

export interface FirewallRule {
    direction: "in";
    protocol: "tcp";
    port: string;
    source_ips: string[];
    description: string;
}

export interface CiAccessRequest {
    stack: string;
    /** Open 6443 too (target k3s). */
    kubernetesApi: boolean;
    /** The runner's public address, IPv4 or IPv6, without a prefix length. */
    address: string;
    /** What the rule's description names as its owner, e.g. the run's URL. */
    owner: string;
    /** When the rule stops being needed; written into the description for whoever finds it later. */
    expires: Date;
}

export class CiAccessError extends Error {}

/** Hetzner limits a rule's description to 255 characters. */
const DESCRIPTION_LIMIT = 255;
/** `<what> for CI until <ISO 8601>: <owner>`, as {@link accessRules} writes it. */
const DESCRIPTION = /^(.+?) for CI until (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ): (.+)$/s;

/** When a rule expires and whose it is, from its description; undefined when it has neither. */
export function ruleOwnership(rule: FirewallRule): { until: Date; owner: string } | undefined {
    const match = DESCRIPTION.exec(rule.description ?? "");
    if (!match) return undefined;
    const until = new Date(match[2]);
    return Number.isNaN(until.getTime()) ? undefined : { until, owner: match[3] };
}

/** True when the rule's owner is `owner` (its description may have been cut at the limit). */
function ownedBy(rule: FirewallRule, written: string, owner: string): boolean {
    return written === owner || (rule.description.length === DESCRIPTION_LIMIT && owner.startsWith(written));
}

export interface RuleChange {
    kept: FirewallRule[];
    /** Removed rules with why: `expired <when>`, `no owner or expiry`, or `closed`. */
    removed: { rule: FirewallRule; why: string }[];
}

/**
 * The rules to keep of `current` at `now`: drops expired rules, rules without an owner and expiry,
 * and, with `closing`, the rules of that owner.
 */
export function keptRules(current: FirewallRule[], now: Date, closing?: string): RuleChange {
    const change: RuleChange = { kept: [], removed: [] };
    for (const rule of current) {
        const ownership = ruleOwnership(rule);
        if (!ownership) change.removed.push({ rule, why: "no owner or expiry" });
        else if (ownership.until.getTime() <= now.getTime()) change.removed.push({ rule, why: `expired ${ownership.until.toISOString().replace(/\.\d+Z$/, "Z")}` });
        else if (closing !== undefined && ownedBy(rule, ownership.owner, closing)) change.removed.push({ rule, why: "closed" });
        else change.kept.push({ direction: rule.direction, protocol: rule.protocol, port: rule.port, source_ips: rule.source_ips, description: rule.description });
    }
    return change;
}

/** The rules that admit exactly `address` to SSH (and the Kubernetes API). */
export function accessRules(request: CiAccessRequest): FirewallRule[] {
    const family = net.isIP(request.address);
    if (family === 0) throw new CiAccessError(`--ip ${JSON.stringify(request.address)} is not an IP address; pass the runner's public address`);
    const source = `${request.address}/${family === 4 ? 32 : 128}`;
    const until = request.expires.toISOString().replace(/\.\d+Z$/, "Z");
    const description = (what: string) => `${what} for CI until ${until}: ${request.owner}`.slice(0, DESCRIPTION_LIMIT);
    const rule = (port: number, what: string): FirewallRule => ({ direction: "in", protocol: "tcp", port: String(port), source_ips: [source], description: description(what) });
    return [rule(22, "SSH"), ...(request.kubernetesApi ? [rule(6443, "Kubernetes API")] : [])];
}

export interface HetznerClient {
    endpoint: string;
    token: string;
}

/** Seconds a call to Hetzner's API may take. */
const API_TIMEOUT_SECONDS = 30;

/** The network errors a runner meets most, in words (Node's error codes, from getaddrinfo and connect). */
const NETWORK_ERRORS: Record<string, string> = {
    EAI_AGAIN: "the host name could not be resolved (no DNS answer)",
    ENOTFOUND: "no such host name",
    ECONNREFUSED: "nothing listens there",
    ECONNRESET: "the connection was reset",
    ENETUNREACH: "no route to that network",
    EHOSTUNREACH: "no route to that host",
    ETIMEDOUT: "the connection timed out",
    UND_ERR_CONNECT_TIMEOUT: "the connection timed out",
};

/**
 * What to check when `endpoint` cannot be reached: a network the runner lacks, or an endpoint
 * override (HCLOUD_ENDPOINT) pointing elsewhere.
 */
function unreachable(method: string, url: string, endpoint: string, err: unknown): CiAccessError {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const code = cause?.code;
    const why = (err as Error).name === "TimeoutError" ? `no answer within ${API_TIMEOUT_SECONDS} s`
        : code !== undefined ? `${code}${NETWORK_ERRORS[code] ? `: ${NETWORK_ERRORS[code]}` : cause?.message && !cause.message.includes(code) ? `: ${cause.message}` : ""}`
        : cause?.message ?? (err as Error).message;
    const override = endpoint === HETZNER_API ? "" : ` (HCLOUD_ENDPOINT=${endpoint}: unset it to use ${HETZNER_API})`;
    return new CiAccessError(`cannot reach Hetzner's API: ${method} ${url} failed (${why}); check this machine's network, DNS and outbound HTTPS to ${new URL(endpoint).host}${override}`);
}

async function call(client: HetznerClient, method: string, path: string, body?: unknown): Promise<unknown> {
    const url = `${client.endpoint.replace(/\/$/, "")}${path}`;
    let response: Response;
    let text: string;
    try {
        response = await fetch(url, {
            method,
            headers: { authorization: `Bearer ${client.token}`, "content-type": "application/json" },
            body: body === undefined ? undefined : JSON.stringify(body),
            signal: AbortSignal.timeout(API_TIMEOUT_SECONDS * 1000),
        });
        text = await response.text();
    } catch (err) {
        throw unreachable(method, url, client.endpoint, err);
    }
    if (!response.ok) {
        let reason = text.slice(0, 200);
        try {
            reason = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? reason;
        } catch {
            // not JSON: keep the raw text
        }
        throw new CiAccessError(`Hetzner API ${method} ${path}: ${response.status} ${reason}`);
    }
    try {
        return text ? JSON.parse(text) : {};
    } catch {
        throw new CiAccessError(`Hetzner API ${method} ${url} answered ${response.status} with something other than JSON (${JSON.stringify(text.slice(0, 80))}); is ${client.endpoint} Hetzner's API? (HCLOUD_ENDPOINT overrides ${HETZNER_API})`);
    }
}

/** The ID of the stack's CI access firewall, found by its labels. */
export async function findCiAccessFirewall(client: HetznerClient, stack: string): Promise<number> {
    const selector = `stack=${stack},role=ci-access`;
    const found = (await call(client, "GET", `/firewalls?label_selector=${encodeURIComponent(selector)}`)) as { firewalls?: { id: number }[] };
    const firewalls = found.firewalls ?? [];
    if (firewalls.length !== 1) {
        throw new CiAccessError(`expected one firewall labelled ${selector}, found ${firewalls.length}: deploy the stack once from an address in sshAllowedCidrs, which creates it`);
    }
    return firewalls[0].id;
}

/** The firewall's current rules. */
export async function getRules(client: HetznerClient, firewallId: number): Promise<FirewallRule[]> {
    const found = (await call(client, "GET", `/firewalls/${firewallId}`)) as { firewall?: { rules?: FirewallRule[] } };
    return found.firewall?.rules ?? [];
}

/** Replaces the firewall's rules (Hetzner has no single-rule add or remove). */
export async function setRules(client: HetznerClient, firewallId: number, rules: FirewallRule[]): Promise<void> {
    await call(client, "POST", `/firewalls/${firewallId}/actions/set_rules`, { rules });
}
