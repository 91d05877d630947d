/**
 * Smoke checks of a deployed stack, from its outputs: does each public surface answer as it should,
 * with and without its credentials? Used after every CI deploy (`npm run smoke`) and by hand.
 */
import * as https from "https";
import * as net from "net";
import * as tls from "tls";

/** The stack registry's user; components/registry/registry.ts REGISTRY_USER (a test keeps them equal). */
export const DEFAULT_REGISTRY_USER = "archon";

/** What a check expects: the exact status codes that mean "healthy". */
export interface SmokeCheck {
    name: string;
    url: string;
    method: "GET" | "POST";
    headers: Record<string, string>;
    body?: string;
    expect: number[];
}

export interface SmokeOptions {
    /** Per request, in milliseconds. */
    timeoutMs: number;
    /** Further attempts after a failed one (a deploy may still be rolling). */
    retries: number;
    retryDelayMs: number;
    /** Extra CA certificates (PEM), for a stack still on its bootstrap certificate or a test. */
    ca?: string;
    /** host -> address, like curl's --resolve: check before DNS points at the stack. */
    resolve: Record<string, string>;
    /** Port for URLs that name none (443). */
    port?: number;
}

export interface SmokeResult {
    check: SmokeCheck;
    ok: boolean;
    /** The last status seen, or the network error. */
    observed: string;
    attempts: number;
}

/** The stack outputs the checks read, as `pulumi stack output --json --show-secrets` prints them. */
export interface SmokeOutputs {
    urls: { archon: string; mcp: string; supabase: string };
    publicHosts: string[];
    registryServer: string;
    supabase: { anonKey: string };
    passwords: { registry: string };
    /** The logins the ingress requires in front of Archon (index.ts `archonAccess`). */
    archonAccess?: { ui?: { user?: string; password?: string; login?: string }; mcp?: { url: string; authorizationHeader: string } };
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

/** MCP's streamable HTTP transport answers an `initialize` call (Archon v0.1.0 mcp_server.py runs `transport="streamable-http"`, FastMCP's path /mcp). */
const MCP_INITIALIZE = JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-03-26", capabilities: {}, clientInfo: { name: "archon-infra-smoke", version: "1" } },
});

export function smokeChecks(outputs: SmokeOutputs, registryUser: string): SmokeCheck[] {
    const get = (name: string, url: string, expect: number[], headers: Record<string, string> = {}): SmokeCheck => ({ name, url, method: "GET", headers, expect });
    const checks: SmokeCheck[] = [];
    const ui = outputs.archonAccess?.ui;
    if (ui?.login === "oidc") {
        // An OIDC login (oauth2-proxy) cannot be completed unattended: check that it is asked for.
        checks.push(get("archon ui sends to the oidc sign-in", `${outputs.urls.archon}/`, [302, 401]));
    } else {
        const uiAuth: Record<string, string> = ui?.user && ui.password ? { authorization: basic(ui.user, ui.password) } : {};
        if (ui) checks.push(get("archon ui refuses without login", `${outputs.urls.archon}/`, [401]));
        checks.push(get("archon ui", `${outputs.urls.archon}/`, [200], uiAuth));
        // Archon v0.1.0 python/src/server/main.py: `@app.get("/api/health")`, reached through the UI host.
        checks.push(get("archon api health", `${outputs.urls.archon}/api/health`, [200], uiAuth));
    }
    const mcpHeaders: Record<string, string> = { accept: "application/json, text/event-stream", "content-type": "application/json" };
    if (outputs.archonAccess?.mcp) {
        checks.push({ name: "mcp refuses without token", url: `${outputs.urls.mcp}/mcp`, method: "POST", headers: { ...mcpHeaders }, body: MCP_INITIALIZE, expect: [401] });
        mcpHeaders.authorization = outputs.archonAccess.mcp.authorizationHeader;
    }
    checks.push({ name: "mcp initialize", url: `${outputs.urls.mcp}/mcp`, method: "POST", headers: mcpHeaders, body: MCP_INITIALIZE, expect: [200] });
    const apikey = { apikey: outputs.supabase.anonKey, authorization: `Bearer ${outputs.supabase.anonKey}` };
    checks.push(get("supabase rest (anon key)", `${outputs.urls.supabase}/rest/v1/`, [200], apikey));
    checks.push(get("supabase rest refuses without key", `${outputs.urls.supabase}/rest/v1/`, [401]));
    checks.push(get("supabase auth health", `${outputs.urls.supabase}/auth/v1/health`, [200], apikey));
    const grafana = outputs.publicHosts.find((host) => host.startsWith("grafana."));
    if (grafana) checks.push(get("grafana health", `https://${grafana}/api/health`, [200]));
    // Only the stack's own registry: an external one (registryServer such as ghcr.io) is not ours to check.
    if (outputs.publicHosts.includes(outputs.registryServer)) {
        checks.push(get("registry refuses without credentials", `https://${outputs.registryServer}/v2/`, [401]));
        checks.push(get("registry with credentials", `https://${outputs.registryServer}/v2/`, [200], { authorization: basic(registryUser, outputs.passwords.registry) }));
    }
    return checks;
}

function lookupVia(resolve: Record<string, string>): net.LookupFunction | undefined {
    if (Object.keys(resolve).length === 0) return undefined;
    return ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
        const address = resolve[hostname];
        if (!address) return callback(Object.assign(new Error(`${hostname} is not in --resolve`), { code: "ENOTFOUND" }));
        const family = net.isIP(address);
        if (options?.all) return callback(null, [{ address, family }]);
        return callback(null, address, family);
    }) as unknown as net.LookupFunction;
}

function attempt(check: SmokeCheck, options: SmokeOptions): Promise<number> {
    const url = new URL(check.url);
    return new Promise((resolve, reject) => {
        const request = https.request({
            method: check.method,
            hostname: url.hostname,
            port: url.port ? Number(url.port) : options.port ?? 443,
            path: `${url.pathname}${url.search}`,
            headers: { "user-agent": "archon-infra-smoke", ...check.headers },
            servername: url.hostname,
            ca: options.ca ? [...tls.rootCertificates, options.ca] : undefined,
            lookup: lookupVia(options.resolve),
            timeout: options.timeoutMs,
            agent: false,
        }, (response) => {
            response.resume();
            response.on("end", () => resolve(response.statusCode ?? 0));
            response.on("error", reject);
        });
        request.on("timeout", () => request.destroy(new Error(`no answer within ${options.timeoutMs / 1000} s`)));
        request.on("error", reject);
        request.end(check.body);
    });
}

export async function runSmoke(checks: SmokeCheck[], options: SmokeOptions): Promise<SmokeResult[]> {
    const run = async (check: SmokeCheck): Promise<SmokeResult> => {
        let observed = "";
        for (let attempts = 1; ; attempts++) {
            try {
                const status = await attempt(check, options);
                observed = String(status);
                if (check.expect.includes(status)) return { check, ok: true, observed, attempts };
            } catch (err) {
                const error = err as NodeJS.ErrnoException;
                observed = error.code ? `${error.code} ${error.message}` : error.message;
            }
            if (attempts > options.retries) return { check, ok: false, observed, attempts };
            await new Promise((r) => setTimeout(r, options.retryDelayMs));
        }
    };
    return Promise.all(checks.map(run));
}

export function formatSmoke(results: SmokeResult[]): string {
    const rows = results.map((r) => [r.ok ? "ok" : "FAIL", r.check.name, `${r.check.method} ${r.check.url}`, `expected ${r.check.expect.join("/")}`, `got ${r.observed}`]);
    const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => row[i].length))) ?? [];
    return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join("  ")).join("\n") + "\n";
}
