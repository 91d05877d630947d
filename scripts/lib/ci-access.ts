/**
 * Opens and closes a stack's CI access firewall (components/hetzner/ci-access-firewall.ts) through
 * Hetzner's API: `open` sets its rules to SSH (and, on k3s, the Kubernetes API) from one address,
 * `close` empties them. The firewall is found by its labels, so the job needs neither Pulumi state
 * nor the firewall's ID. API: https://docs.hetzner.cloud/reference/cloud#firewalls
 * (GET /firewalls?label_selector=..., POST /firewalls/{id}/actions/set_rules).
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

/** The rules that admit exactly `address` to SSH (and the Kubernetes API). */
export function accessRules(request: CiAccessRequest): FirewallRule[] {
    const family = net.isIP(request.address);
    if (family === 0) throw new CiAccessError(`--ip ${JSON.stringify(request.address)} is not an IP address; pass the runner's public address`);
    const source = `${request.address}/${family === 4 ? 32 : 128}`;
    const until = request.expires.toISOString().replace(/\.\d+Z$/, "Z");
    // Hetzner limits a rule's description to 255 characters.
    const description = (what: string) => `${what} for CI until ${until}: ${request.owner}`.slice(0, 255);
    const rule = (port: number, what: string): FirewallRule => ({ direction: "in", protocol: "tcp", port: String(port), source_ips: [source], description: description(what) });
    return [rule(22, "SSH"), ...(request.kubernetesApi ? [rule(6443, "Kubernetes API")] : [])];
}

export interface HetznerClient {
    endpoint: string;
    token: string;
}

async function call(client: HetznerClient, method: string, path: string, body?: unknown): Promise<unknown> {
    const response = await fetch(`${client.endpoint.replace(/\/$/, "")}${path}`, {
        method,
        headers: { authorization: `Bearer ${client.token}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    if (!response.ok) {
        let reason = text.slice(0, 200);
        try {
            reason = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? reason;
        } catch {
            // not JSON: keep the raw text
        }
        throw new CiAccessError(`Hetzner API ${method} ${path}: ${response.status} ${reason}`);
    }
    return text ? JSON.parse(text) : {};
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

/** Replaces the firewall's rules (Hetzner has no single-rule add or remove). */
export async function setRules(client: HetznerClient, firewallId: number, rules: FirewallRule[]): Promise<void> {
    await call(client, "POST", `/firewalls/${firewallId}/actions/set_rules`, { rules });
}
