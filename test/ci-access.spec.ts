/**
 * CI reaches the hosts without world-open ports: every server carries the stack's CI access
 * firewall, which the program creates empty and never manages the rules of, and `npm run ci-access`
 * adds and removes one owner's expiring rules through Hetzner's API (a stub of that API on
 * loopback answers as the documented endpoints do, keeping the rules set_rules wrote).
 */
import * as assert from "assert";
import { execFile } from "child_process";
import * as http from "http";
import { AddressInfo } from "net";
import * as path from "path";
import { freePort, named, ofType, plainInputs, requireTool, synth } from "./helpers";

const PROJECT_DIR = path.resolve(__dirname, "..");

describe("CI access firewall", () => {
    for (const [stack, servers] of [["staging", 1], ["production", 6]] as const) {
        it(`${stack}: every server carries the CI access firewall, created without rules the program would manage`, async () => {
            const result = await synth(stack);
            const firewall = named(result, "hcloud:index/firewall:Firewall", "ci-access");
            const inputs = plainInputs(firewall);
            assert.deepStrictEqual(inputs.rules, []);
            assert.deepStrictEqual(firewall.options.ignoreChanges, ["rules"]);
            assert.deepStrictEqual({ stack: inputs.labels.stack, role: inputs.labels.role }, { stack, role: "ci-access" });
            const hostsFirewall = named(result, "hcloud:index/firewall:Firewall", "hosts");
            assert.ok(!plainInputs(hostsFirewall).rules.some((r: { port?: string; sourceIps: string[] }) => r.sourceIps.some((ip) => ip.endsWith("/0") && r.port === "22")));
            const serverResources = ofType(result, "hcloud:index/server:Server");
            assert.strictEqual(serverResources.length, servers);
            for (const server of serverResources) assert.strictEqual(plainInputs(server).firewallIds.length, 2, `${server.name} lacks a firewall`);
        });
    }
});

describe("npm run ci-access (against a stub of Hetzner's API)", () => {
    let server: http.Server;
    let endpoint: string;
    const calls: { method: string; url: string; auth?: string; body: unknown }[] = [];
    let firewalls: { id: number }[] = [{ id: 4711 }];
    /** The firewall's rules as Hetzner holds them (set_rules replaces them, GET returns them). */
    let rules: Record<string, unknown>[] = [];

    before(async () => {
        server = http.createServer((req, res) => {
            let text = "";
            req.on("data", (chunk) => (text += chunk));
            req.on("end", () => {
                const body = text ? JSON.parse(text) : undefined;
                calls.push({ method: req.method!, url: req.url!, auth: req.headers.authorization, body });
                res.setHeader("content-type", "application/json");
                if (req.method === "GET" && req.url!.startsWith("/v1/firewalls?label_selector=")) {
                    res.end(JSON.stringify({ firewalls }));
                } else if (req.method === "GET" && req.url === "/v1/firewalls/4711") {
                    // The documented shape: an "in" rule carries destination_ips [] and a description.
                    res.end(JSON.stringify({ firewall: { id: 4711, name: "archon-x-ci-access", labels: {}, rules: rules.map((r) => ({ destination_ips: [], ...r })), applied_to: [] } }));
                } else if (req.method === "POST" && req.url === "/v1/firewalls/4711/actions/set_rules") {
                    rules = (body as { rules: Record<string, unknown>[] }).rules;
                    res.writeHead(201).end(JSON.stringify({ actions: [{ id: 1, command: "set_firewall_rules", status: "running" }] }));
                } else {
                    res.writeHead(404).end(JSON.stringify({ error: { code: "not_found", message: "not found" } }));
                }
            });
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    });
    after(() => server.close());
    beforeEach(() => {
        calls.length = 0;
        firewalls = [{ id: 4711 }];
        rules = [];
    });

    /** The script, against the stub unless `extraEnv` says otherwise, under `wrapper` (e.g. unshare -n) if given. */
    function ciAccess(args: string[], token: string | null = "hetzner-token", extraEnv: NodeJS.ProcessEnv = {}, wrapper: string[] = []): Promise<{ status: number; output: string }> {
        const env = { ...process.env, HCLOUD_ENDPOINT: endpoint, HCLOUD_TOKEN: token ?? "", ...extraEnv };
        const argv = [process.execPath, "--require", "ts-node/register/transpile-only", "scripts/ci-access.ts", ...args];
        return new Promise((resolve) => {
            execFile([...wrapper, ...argv][0], [...wrapper, ...argv].slice(1), { cwd: PROJECT_DIR, env, encoding: "utf8" }, (err, stdout, stderr) =>
                resolve({ status: err ? (typeof err.code === "number" ? err.code : 1) : 0, output: `${stdout}${stderr}` }));
        });
    }

    const RUN = "https://github.com/o/r/actions/runs/1";
    const rule = (port: string, ip: string, owner: string, until: string) => ({ direction: "in", protocol: "tcp", port, source_ips: [ip], description: `SSH for CI until ${until}: ${owner}` });
    const future = () => new Date(Date.now() + 30 * 60_000).toISOString().replace(/\.\d+Z$/, "Z");
    const ports = () => rules.map((r) => [r.port, (r.source_ips as string[])[0]]);

    it("opens SSH and the Kubernetes API (k3s) to exactly the runner's address, found by the stack's labels", async () => {
        const result = await ciAccess(["open", "--stack", "production", "--ip", "198.51.100.7", "--minutes", "30", "--owner", RUN]);
        assert.strictEqual(result.status, 0, result.output);
        assert.strictEqual(calls[0].url, `/v1/firewalls?label_selector=${encodeURIComponent("stack=production,role=ci-access")}`);
        assert.strictEqual(calls[0].auth, "Bearer hetzner-token");
        assert.deepStrictEqual(ports(), [["22", "198.51.100.7/32"], ["6443", "198.51.100.7/32"]]);
        assert.match(String(rules[0].description), /^SSH for CI until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: https:\/\/github.com\/o\/r\/actions\/runs\/1$/);
    });

    it("opens only SSH on the compose host, and takes IPv6 as a /128", async () => {
        const result = await ciAccess(["open", "--stack", "staging", "--ip", "2001:db8::7"]);
        assert.strictEqual(result.status, 0, result.output);
        assert.deepStrictEqual(ports(), [["22", "2001:db8::7/128"]]);
    });

    it("a manual open and close never cut a running deploy's rule", async () => {
        rules = [rule("22", "198.51.100.7/32", RUN, future())];
        assert.strictEqual((await ciAccess(["open", "--stack", "staging", "--ip", "203.0.113.9"])).status, 0);
        assert.deepStrictEqual(ports(), [["22", "198.51.100.7/32"], ["22", "203.0.113.9/32"]]);
        const closed = await ciAccess(["close", "--stack", "staging"]);
        assert.strictEqual(closed.status, 0, closed.output);
        assert.deepStrictEqual(ports(), [["22", "198.51.100.7/32"]], "the deploy's rule stays");
        assert.match(closed.output, /removed 22 from 203\.0\.113\.9\/32 \(closed\)/);
        // The deploy closes its own.
        assert.strictEqual((await ciAccess(["close", "--stack", "staging", "--owner", RUN])).status, 0);
        assert.deepStrictEqual(rules, []);
    });

    it("removes expired rules and rules without owner and expiry on every call, and on prune alone", async () => {
        const keep = rule("22", "198.51.100.7/32", RUN, future());
        rules = [rule("22", "192.0.2.1/32", "manual", "2020-01-01T00:00:00Z"), { direction: "in", protocol: "tcp", port: "22", source_ips: ["0.0.0.0/0"], description: "" }, keep];
        const pruned = await ciAccess(["prune", "--stack", "staging"]);
        assert.strictEqual(pruned.status, 0, pruned.output);
        assert.deepStrictEqual(rules, [keep]);
        assert.match(pruned.output, /removed 22 from 192\.0\.2\.1\/32 \(expired 2020-01-01T00:00:00Z\)/);
        assert.match(pruned.output, /removed 22 from 0\.0\.0\.0\/0 \(no owner or expiry\)/);
        // Nothing to remove: nothing is written.
        calls.length = 0;
        assert.strictEqual((await ciAccess(["prune", "--stack", "staging"])).status, 0);
        assert.ok(!calls.some((c) => c.method === "POST"));
        rules = [rule("22", "192.0.2.1/32", "manual", "2020-01-01T00:00:00Z"), keep];
        assert.strictEqual((await ciAccess(["open", "--stack", "staging", "--ip", "203.0.113.9", "--owner", "https://github.com/o/r/actions/runs/2"])).status, 0);
        assert.deepStrictEqual(ports(), [["22", "198.51.100.7/32"], ["22", "203.0.113.9/32"]]);
    });

    it("close --all empties the firewall", async () => {
        rules = [rule("22", "198.51.100.7/32", RUN, future())];
        const result = await ciAccess(["close", "--stack", "staging", "--all"]);
        assert.strictEqual(result.status, 0, result.output);
        assert.deepStrictEqual(rules, []);
    });

    it("refuses bad input and a missing firewall in one line, exit 2", async () => {
        const cases: [string[], string | null, RegExp][] = [
            [["open", "--stack", "staging", "--ip", "0.0.0.0/0"], "t", /^error: --ip "0.0.0.0\/0" is not an IP address/],
            [["open", "--stack", "staging"], "t", /^error: --ip is required with open/],
            [["close", "--stack", "staging"], null, /^error: HCLOUD_TOKEN is not set/],
            [["wipe", "--stack", "staging"], "t", /^error: say open, close or prune/],
            [["prune", "--stack", "staging", "--all"], "t", /^error: --all goes with close only/],
        ];
        for (const [args, token, message] of cases) {
            const result = await ciAccess(args, token);
            assert.strictEqual(result.status, 2, result.output);
            assert.match(result.output, message);
            assert.strictEqual(result.output.trim().split("\n").length, 1, result.output);
        }
        firewalls = [];
        const missing = await ciAccess(["close", "--stack", "staging"]);
        assert.strictEqual(missing.status, 2);
        assert.match(missing.output, /^error: expected one firewall labelled stack=staging,role=ci-access, found 0: deploy the stack once from an address in sshAllowedCidrs/);
        assert.ok(!calls.some((c) => c.method === "POST"), "nothing was changed");
    });

    it("an API it cannot reach, or that is not Hetzner's, is one line naming the URL and what to check (issue 28.1)", async () => {
        const selector = `/firewalls?label_selector=${encodeURIComponent("stack=staging,role=ci-access")}`;
        // A loopback port nothing listens on: connection refused.
        const closed = `http://127.0.0.1:${await freePort()}/v1`;
        const refused = await ciAccess(["prune", "--stack", "staging"], "t", { HCLOUD_ENDPOINT: closed });
        assert.strictEqual(refused.status, 2, refused.output);
        assert.strictEqual(refused.output, `error: cannot reach Hetzner's API: GET ${closed}${selector} failed (ECONNREFUSED: nothing listens there); check this machine's network, DNS and outbound HTTPS to ${new URL(closed).host} (HCLOUD_ENDPOINT=${closed}: unset it to use https://api.hetzner.cloud/v1)\n`);
        // Hetzner's own endpoint from a network namespace with no network at all: no name resolves,
        // and nothing leaves the machine.
        requireTool("unshare", "util-linux");
        const offline = await ciAccess(["prune", "--stack", "staging"], "t", { HCLOUD_ENDPOINT: "" }, ["unshare", "-n"]);
        assert.strictEqual(offline.status, 2, offline.output);
        assert.match(offline.output, new RegExp(`^error: cannot reach Hetzner's API: GET https://api\\.hetzner\\.cloud/v1${selector.replace(/[?.]/g, "\\$&")} failed \\((EAI_AGAIN|ENOTFOUND): [^;]+\\); check this machine's network, DNS and outbound HTTPS to api\\.hetzner\\.cloud\n$`));
        // Something that answers, but not as Hetzner's API does (a captive portal, a proxy's page).
        const page = http.createServer((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end("<html>Sign in to the network</html>"));
        await new Promise<void>((resolve) => page.listen(0, "127.0.0.1", resolve));
        try {
            const portal = `http://127.0.0.1:${(page.address() as AddressInfo).port}/v1`;
            const html = await ciAccess(["prune", "--stack", "staging"], "t", { HCLOUD_ENDPOINT: portal });
            assert.strictEqual(html.status, 2, html.output);
            assert.strictEqual(html.output, `error: Hetzner API GET ${portal}${selector} answered 200 with something other than JSON ("<html>Sign in to the network</html>"); is ${portal} Hetzner's API? (HCLOUD_ENDPOINT overrides https://api.hetzner.cloud/v1)\n`);
        } finally {
            page.close();
        }
        const malformed = await ciAccess(["prune", "--stack", "staging"], "t", { HCLOUD_ENDPOINT: "api.hetzner.cloud" });
        assert.strictEqual(malformed.output, "error: HCLOUD_ENDPOINT=api.hetzner.cloud is not an http(s) URL: unset it to use https://api.hetzner.cloud/v1\n");
    });
});
