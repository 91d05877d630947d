/**
 * `npm run smoke` against real HTTPS listeners on loopback that answer like each component, and
 * like each broken one: it passes when all answer as they should, and fails naming the check for a
 * refused connection, a 5xx, a surface open without credentials, and a timeout.
 */
import * as assert from "assert";
import { execFile } from "child_process";
import * as fs from "fs";
import * as https from "https";
import { AddressInfo } from "net";
import * as path from "path";
import { REGISTRY_USER } from "../components/registry/registry";
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
            if (behaviour === "5xx") {
                res.writeHead(503).end();
                return;
            }
            const auth = req.headers.authorization;
            const status = ((): number => {
                switch (host) {
                    case "archon": return behaviour === "open" || auth === basic(UI.user, UI.password) ? 200 : 401;
                    case "mcp": return req.method === "POST" && (behaviour === "open" || auth === MCP_TOKEN) ? 200 : 401;
                    case "supabase": return behaviour === "open" || req.headers.apikey === ANON ? 200 : 401;
                    case "grafana": return 200;
                    case "registry": return behaviour === "open" || auth === basic("archon", REGISTRY_PASSWORD) ? 200 : 401;
                    default: return 404;
                }
            })();
            res.writeHead(status).end();
            return;
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
            "--ca", path.join(dir, "cert.pem"), "--resolve", "*=127.0.0.1", "--port", String(port), "--timeout", "2", "--retries", "1", "--retry-delay", "0", ...extra];
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

    it("knows the stack registry's user", () => {
        assert.strictEqual(DEFAULT_REGISTRY_USER, REGISTRY_USER);
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
