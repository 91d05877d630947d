/**
 * Archon's services as deployed around the pinned source (issue 23 items 4 and 5): the agents'
 * start window covers their credential wait, archon-server's port (which also serves the decrypted
 * provider keys at /internal/credentials/agents) admits only its callers on both targets, egress
 * is what README says on each target, and the MCP client configuration is a stack output.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { EGRESS_NETWORK } from "../components/compose/networks";
import { INTERNET_EGRESS_PORTS } from "../components/kubernetes/workloads";
import { loadArchonSource } from "../components/registry/archon-source";
import { PORTS } from "../components/services/workload-catalog";
import { SynthResult, reveal } from "../scripts/lib/synthesize";
import { synth } from "./helpers";


function manifest(result: SynthResult, kind: string, name: string): any {
    const text = result.files[`kubernetes/archon/${kind}-${name}.yaml`];
    assert.ok(text, `no ${kind} ${name}`);
    return parseYaml(text);
}

describe("Archon's services around the pinned source", () => {
    let production: SynthResult;
    let staging: SynthResult;
    before(async () => {
        production = await synth("production");
        staging = await synth("staging", { enableAgents: true });
    });

    it("k3s: archon-agents' startup probe outlasts its credential wait (30 tries of up to 10 s + 10 s), and liveness waits for it", () => {
        const agents = manifest(production, "Deployment", "archon-agents").spec.template.spec.containers[0];
        const startup = agents.startupProbe;
        assert.ok(startup, "a startupProbe");
        assert.deepStrictEqual(startup.httpGet, { path: "/health", port: PORTS.agents });
        assert.ok(startup.periodSeconds * startup.failureThreshold >= 30 * (10 + 10), `start window ${startup.periodSeconds * startup.failureThreshold} s`);
        assert.strictEqual(agents.livenessProbe.initialDelaySeconds, undefined, "liveness starts once the startup probe passed, not after a fixed delay");
        // Every long-running container has one, each from its catalog entry's startupSeconds.
        const server = manifest(production, "Deployment", "archon-server").spec.template.spec.containers[0];
        assert.deepStrictEqual(server.startupProbe.httpGet, server.livenessProbe.httpGet, "the startup probe runs the liveness check");
        assert.strictEqual(server.startupProbe.periodSeconds * server.startupProbe.failureThreshold, 60 + 30);

        const compose = parseYaml(staging.files["project/docker-compose.yml"]).services["archon-agents"];
        assert.strictEqual(compose.healthcheck.start_period, "600s");
    });

    it("k3s: archon-server's port admits archon-ui, archon-mcp, archon-agents and blackbox-exporter only; nothing else in the namespace, nothing from monitoring", () => {
        const policy = manifest(production, "NetworkPolicy", "allow-archon-server").spec;
        const peers = policy.ingress.flatMap((rule: { from: object[] }) => rule.from);
        assert.deepStrictEqual(peers, ["archon-ui", "archon-mcp", "archon-agents", "blackbox-exporter"].map((name) => ({ podSelector: { matchLabels: { "app.kubernetes.io/name": name } } })));
        assert.deepStrictEqual(policy.ingress.map((rule: { ports: { port: number }[] }) => rule.ports.map((p) => p.port)), [[PORTS.server]]);
        // The callers it admits are pods that exist, labelled as the selector says.
        for (const name of ["archon-ui", "archon-mcp", "archon-agents", "blackbox-exporter"]) {
            assert.strictEqual(manifest(production, "Deployment", name).spec.template.metadata.labels["app.kubernetes.io/name"], name);
        }
        // archon-mcp admits archon-server, whose MCP page asks its /health.
        const mcpPeers = manifest(production, "NetworkPolicy", "allow-archon-mcp").spec.ingress.flatMap((rule: { from: object[] }) => rule.from);
        assert.ok(mcpPeers.some((p: { podSelector?: { matchLabels: Record<string, string> } }) => p.podSelector?.matchLabels["app.kubernetes.io/name"] === "archon-server"));
    });

    it("Compose: the containers that share a network with archon-server are its callers (and Kong, its gateway to Supabase)", () => {
        const services = parseYaml(staging.files["project/docker-compose.yml"]).services as Record<string, { networks?: Record<string, unknown> | string[] }>;
        const networksOf = (name: string) => {
            const n = services[name]?.networks ?? [];
            return (Array.isArray(n) ? n : Object.keys(n)).filter((network) => network !== EGRESS_NETWORK);
        };
        const peers = Object.keys(services).filter((name) => name !== "archon-server" && networksOf(name).some((n) => networksOf("archon-server").includes(n))).sort();
        // Kong too: it shares the `api` network with the Archon services it serves, and a Docker
        // network has no direction (README "Network segmentation" names this limit).
        assert.deepStrictEqual(peers, ["archon-agents", "archon-mcp", "archon-ui", "blackbox-exporter", "kong"]);
    });

    it("egress: k3s allows TCP 80 and 443 to public addresses, Compose any port; README says both", () => {
        const egress = manifest(production, "NetworkPolicy", "allow-archon-server").spec.egress;
        assert.deepStrictEqual(egress.flatMap((rule: { ports: { port: number }[] }) => rule.ports.map((p) => p.port)).sort(), [...INTERNET_EGRESS_PORTS].sort());
        assert.ok(egress[0].to[0].ipBlock.except.includes("10.0.0.0/8"), "no private addresses (an Ollama on the private network included)");
        const readme = fs.readFileSync(path.join(__dirname, "..", "README.md"), "utf8");
        assert.match(readme, /k3s: TCP 80 and 443 to public addresses only/);
        assert.match(readme, /Compose: any port/);
    });

    it("MCP: the client configuration is a secret stack output (https://mcp.<domain>/mcp with the ingress credential), and Archon's MCP page asks archon-mcp over HTTP, not the Docker socket", () => {
        for (const [result, domain] of [[production, "archon.example.com"], [staging, "staging.archon.example.com"]] as const) {
            const access = (reveal(result.outputs) as { archonAccess: { mcp: { url: string; authorizationHeader: string; client: { json: any; claudeCode: string } } } }).archonAccess.mcp;
            assert.ok(JSON.stringify(result.outputs.archonAccess).startsWith('{"$secret"'), "a secret output");
            assert.deepStrictEqual(access.client.json, { mcpServers: { archon: { type: "http", url: `https://mcp.${domain}/mcp`, headers: { Authorization: access.authorizationHeader } } } });
            assert.strictEqual(access.url, `https://mcp.${domain}/mcp`);
            assert.match(access.authorizationHeader, /^Basic [A-Za-z0-9+/]+=*$/);
            assert.strictEqual(access.client.claudeCode, `claude mcp add --transport http archon https://mcp.${domain}/mcp --header "Authorization: ${access.authorizationHeader}"`);
        }
        // The page's status: archon-mcp serves GET /health at the pinned commit, and archon-server
        // runs without Docker socket monitoring (its default; mcp_api.py get_container_status).
        assert.ok(loadArchonSource().pythonModules["src/mcp_server/mcp_server.py"]?.routes.includes("GET /health"));
        const serverEnv = manifest(production, "ConfigMap", "archon-server-env").data;
        assert.strictEqual(serverEnv.ENABLE_DOCKER_SOCKET_MONITORING, undefined);
        assert.strictEqual(serverEnv.ARCHON_MCP_PORT, String(PORTS.mcp), "service discovery's http://archon-mcp:<ARCHON_MCP_PORT>");
    });
});
