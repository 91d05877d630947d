/**
 * `npm run smoke` against real HTTPS listeners on loopback that answer like each component, and
 * like each broken one: it passes when all answer as they should, and fails naming the check for a
 * refused connection, a 5xx, a surface open without credentials, and a timeout.
 */
import * as assert from "assert";
import { execFile } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import { AddressInfo } from "net";
import * as path from "path";
import { REGISTRY_USER } from "../components/registry/registry";
import { kongConfig } from "../components/services/kong-config";
import { DEFAULT_REGISTRY_USER, SmokeOutputs, smokeChecks } from "../scripts/lib/smoke";
import { reveal } from "../scripts/lib/reveal";
import { requireTool, run, synth, writeTempFiles } from "./helpers";

const PROJECT_DIR = path.resolve(__dirname, "..");
const DOMAIN = "smoke.example.test";
const ANON = "anon-key";
const UI = { user: "archon", password: "ui-secret" };
const MCP_TOKEN = `Basic ${Buffer.from("mcp:mcp-secret").toString("base64")}`;
const REGISTRY_PASSWORD = "registry-secret";
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

/** How each component answers; a test breaks one at a time. */
type Behaviour = "healthy" | "5xx" | "open" | "hang";

function outputs(): Record<string, unknown> {
    return {
        urls: { archon: `https://archon.${DOMAIN}`, mcp: `https://mcp.${DOMAIN}`, supabase: `https://supabase.${DOMAIN}` },
        publicHosts: ["archon", "mcp", "supabase", "grafana", "registry"].map((h) => `${h}.${DOMAIN}`),
        registryServer: `registry.${DOMAIN}`,
        // As in a synth's outputs.json: secrets wrapped, which the command unwraps.
        supabase: { anonKey: { $secret: ANON } },
        passwords: { $secret: { registry: REGISTRY_PASSWORD } },
        archonAccess: { $secret: { ui: { url: `https://archon.${DOMAIN}`, ...UI }, mcp: { url: `https://mcp.${DOMAIN}/mcp`, user: "mcp", password: "mcp-secret", authorizationHeader: MCP_TOKEN } } },
    };
}

/**
 * How each public host answers a request, path by path, as the deployed components do: 404 for a
 * path the component does not serve, so a smoke check aimed at the wrong path fails. `open`: the
 * surface lets requests through without its credentials (a broken ingress or gateway).
 */
function answer(host: string, req: http.IncomingMessage, open: boolean): number {
    const { pathname } = new URL(req.url ?? "/", "https://stand-in");
    const auth = req.headers.authorization;
    switch (host) {
        case "archon":
            // Basic auth at the ingress, then the UI's nginx (images/archon-ui/nginx.conf).
            if (!open && auth !== basic(UI.user, UI.password)) return 401;
            return archonUi(req.method ?? "GET", pathname);
        case "mcp":
            if (!open && auth !== MCP_TOKEN) return 401;
            return archonMcp(req.method ?? "GET", pathname);
        case "supabase":
            return kong(req.method ?? "GET", pathname, req.headers, open);
        case "grafana":
            // grafana/grafana pkg/api/health.go apiHealthHandler: GET /api/health, answered before any login.
            return req.method === "GET" && pathname === "/api/health" ? 200 : 404;
        case "registry":
            // distribution registry/api/v2/routes.go: the base route is /v2/ (401 with a challenge without credentials).
            if (pathname !== "/v2/") return 404;
            return open || auth === basic("archon", REGISTRY_PASSWORD) ? 200 : 401;
        default:
            return 404;
    }
}

/**
 * images/archon-ui/nginx.conf: `location /api/` and `location = /health` go to archon-server; every
 * other GET is the single-page app (try_files ... /index.html): 200.
 */
function archonUi(method: string, pathname: string): number {
    if (pathname.startsWith("/api/") || pathname === "/health") return archonServer(method, pathname);
    return method === "GET" || method === "HEAD" ? 200 : 405;
}

/** coleam00/Archon python/src/server/main.py (v0.1.0 and the pinned ecaece460): `@app.get("/")`, `@app.get("/health")`, `@app.get("/api/health")`. */
function archonServer(method: string, pathname: string): number {
    return method === "GET" && ["/", "/health", "/api/health"].includes(pathname) ? 200 : 404;
}

/**
 * coleam00/Archon python/src/mcp_server/mcp_server.py (v0.1.0 and ecaece460): `mcp.run(transport="streamable-http")`;
 * FastMCP mounts that transport at /mcp (its `streamable_http_path` default), where a POST carries
 * the JSON-RPC call.
 */
function archonMcp(method: string, pathname: string): number {
    if (pathname !== "/mcp") return 404;
    return method === "POST" ? 200 : 405;
}

/**
 * Kong with the program's own declarative config (components/services/kong-config.ts): the longest
 * route prefix wins, `strip_path` drops it, key-auth wants a consumer's key, basic-auth the dashboard
 * login; behind it PostgREST serves its OpenAPI root at / (GET) and GoTrue its /health.
 */
const KONG = kongConfig({
    upstreams: { auth: "http://auth:9999", rest: "http://rest:3000", meta: "http://meta:8080", studio: "http://studio:3000" },
    anonKey: ANON, serviceRoleKey: "service-role-key", dashboardUsername: "supabase", dashboardPassword: "dashboard-secret",
}) as { services: { url: string; routes: { paths: string[]; strip_path: boolean }[]; plugins: { name: string }[] }[] };

function kong(method: string, pathname: string, headers: http.IncomingHttpHeaders, open: boolean): number {
    const routes = KONG.services.flatMap((service) => service.routes.flatMap((route) => route.paths.map((prefix) => ({ prefix, route, service }))));
    const match = routes.filter((r) => pathname.startsWith(r.prefix)).sort((a, b) => b.prefix.length - a.prefix.length)[0];
    if (!match) return 404; // "no Route matched with those values"
    const plugins = match.service.plugins.map((p) => p.name);
    if (!open && plugins.includes("key-auth") && headers.apikey !== ANON && headers.apikey !== "service-role-key") return 401;
    if (!open && plugins.includes("basic-auth") && headers.authorization !== basic("supabase", "dashboard-secret")) return 401;
    const upstream = new URL(match.service.url);
    const rest = match.route.strip_path ? pathname.slice(match.prefix.length) : pathname;
    const upstreamPath = `${upstream.pathname.replace(/\/$/, "")}/${rest.replace(/^\//, "")}`;
    switch (upstream.hostname) {
        case "rest": return method === "GET" && upstreamPath === "/" ? 200 : 404; // PostgREST: / is the OpenAPI root; no tables here
        case "auth": return method === "GET" && upstreamPath === "/health" ? 200 : 404; // supabase/auth internal/api/api.go: r.Get("/health", ...)
        default: return 200;
    }
}

describe("npm run smoke (real HTTPS listeners on loopback)", function () {
    let dir: string;
    let server: https.Server;
    let port: number;
    const broken = new Map<string, Behaviour>();

    before(async function () {
        requireTool("openssl", "openssl");
        dir = writeTempFiles({ "outputs.json": JSON.stringify(outputs()) }, "smoke-");
        const ok = run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=smoke test",
            "-addext", `subjectAltName=DNS:*.${DOMAIN}`, "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem")]);
        assert.strictEqual(ok.status, 0, ok.output);
        server = https.createServer({ key: fs.readFileSync(path.join(dir, "key.pem")), cert: fs.readFileSync(path.join(dir, "cert.pem")) }, (req, res) => {
            const host = (req.headers.host ?? "").split(":")[0].split(".")[0];
            const behaviour = broken.get(host) ?? "healthy";
            if (behaviour === "hang") return;
            res.writeHead(behaviour === "5xx" ? 503 : answer(host, req, behaviour === "open")).end();
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        port = (server.address() as AddressInfo).port;
    });

    after(() => {
        server?.closeAllConnections();
        server?.close();
    });

    afterEach(() => broken.clear());

    function smoke(...extra: string[]): Promise<{ status: number; output: string }> {
        const args = ["--require", "ts-node/register/transpile-only", "scripts/smoke.ts", "--outputs", path.join(dir, "outputs.json"),
            "--ca", path.join(dir, "cert.pem"), "--resolve", "*=127.0.0.1", "--port", String(port), "--timeout", "10", "--retries", "1", "--retry-delay", "0", ...extra];
        return new Promise((resolve) => {
            execFile(process.execPath, args, { cwd: PROJECT_DIR, encoding: "utf8", timeout: 60_000 }, (err, stdout, stderr) => {
                resolve({ status: err ? (typeof err.code === "number" ? err.code : 1) : 0, output: `${stdout}${stderr}` });
            });
        });
    }

    it("passes when every component answers as it should, with and without credentials", async () => {
        const result = await smoke();
        assert.strictEqual(result.status, 0, result.output);
        assert.match(result.output, /smoke: all 11 checks passed/);
        for (const name of ["archon ui refuses without login", "archon api health", "mcp initialize", "supabase rest (anon key)", "grafana health", "registry refuses without credentials"]) {
            assert.match(result.output, new RegExp(`ok\\s+${name.replace(/[()]/g, "\\$&")}`));
        }
    });

    it("fails naming the check when a connection is refused", async () => {
        // Nothing listens on 127.0.0.2: the registry's address refuses.
        const result = await smoke("--resolve", `registry.${DOMAIN}=127.0.0.2`);
        assert.strictEqual(result.status, 1, result.output);
        assert.match(result.output, /FAIL\s+registry refuses without credentials.*ECONNREFUSED/);
        assert.match(result.output, /checks failed: registry refuses without credentials, registry with credentials$/m);
    });

    it("fails naming the check on a 5xx", async () => {
        broken.set("supabase", "5xx");
        const result = await smoke();
        assert.strictEqual(result.status, 1, result.output);
        assert.match(result.output, /FAIL\s+supabase auth health.*expected 200\s+got 503/);
    });

    it("fails when a surface answers without its credentials", async () => {
        broken.set("registry", "open");
        broken.set("archon", "open");
        const result = await smoke();
        assert.strictEqual(result.status, 1, result.output);
        assert.match(result.output, /checks failed: archon ui refuses without login, registry refuses without credentials$/m);
    });

    it("fails naming the check on a timeout", async () => {
        broken.set("grafana", "hang");
        const result = await smoke("--timeout", "1", "--retries", "0");
        assert.strictEqual(result.status, 1, result.output);
        assert.match(result.output, /FAIL\s+grafana health.*no answer within 1 s/);
    });

    it("reads the stack outputs the program really exports (both stacks): every check, logins included", async () => {
        for (const stack of ["staging", "production"]) {
            const outputs = reveal((await synth(stack)).outputs) as SmokeOutputs;
            const names = smokeChecks(outputs, REGISTRY_USER).map((c) => c.name);
            assert.deepStrictEqual(names, [
                "archon ui refuses without login", "archon ui", "archon api health", "mcp refuses without token", "mcp initialize",
                "supabase rest (anon key)", "supabase rest refuses without key", "supabase auth health", "grafana health",
                "registry refuses without credentials", "registry with credentials",
            ], stack);
        }
    });

    it("logs in to the registry as a user the stack's registry admits, with the stack's password: at the proxy (APR1) and at the registry itself (bcrypt)", async () => {
        const htpasswd = requireTool("htpasswd", "apache2-utils");
        const result = await synth("staging");
        const password = (reveal(result.outputs) as SmokeOutputs).passwords.registry;
        for (const file of ["project/secrets/proxy/etc_nginx_auth/registry-pull", "project/secrets/registry/auth/htpasswd"]) {
            const text = result.files[file];
            assert.ok(text?.split("\n").some((line) => line.startsWith(`${DEFAULT_REGISTRY_USER}:`)), `${file} has no user ${DEFAULT_REGISTRY_USER}`);
            const dir = writeTempFiles({ htpasswd: text });
            // The real htpasswd verifies whatever scheme the line carries (APR1 at the proxy, bcrypt at the registry).
            const verified = run(htpasswd, ["-vb", path.join(dir, "htpasswd"), DEFAULT_REGISTRY_USER, password]);
            assert.equal(verified.status, 0, `${file}: ${verified.output}`);
            assert.notEqual(run(htpasswd, ["-vb", path.join(dir, "htpasswd"), DEFAULT_REGISTRY_USER, `${password}x`]).status, 0, `${file} refuses a wrong password`);
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("says in one line what is missing when run wrongly", async () => {
        const result = await new Promise<{ status: number; output: string }>((resolve) => {
            execFile(process.execPath, ["--require", "ts-node/register/transpile-only", "scripts/smoke.ts"], { cwd: PROJECT_DIR, encoding: "utf8" }, (err, stdout, stderr) =>
                resolve({ status: err && typeof err.code === "number" ? err.code : 0, output: `${stdout}${stderr}` }));
        });
        assert.strictEqual(result.status, 2);
        assert.strictEqual(result.output.trim(), "error: --stack <name> or --outputs <file> is required");
    });
});
