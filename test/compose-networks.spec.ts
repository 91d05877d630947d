/**
 * Network segmentation of the Compose project (issue 12 item 5): the real `docker-compose config`
 * accepts the segmented project, and reachability computed from the networks it normalises (two
 * containers reach each other when they share a network other than `egress`, whose bridge has
 * inter-container traffic off) keeps the crawler away from the admin surfaces while every
 * connection the services need, read from the rendered files, stays possible.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import { parse as parseYaml } from "yaml";
import { PROXY_IPV6_SUBNET, isEgressNetwork } from "../components/compose/networks";
import { requireTool, synth, writeTempFiles } from "./helpers";

interface NormalisedService {
    networks?: Record<string, { aliases?: string[] } | null>;
    network_mode?: string;
    depends_on?: Record<string, { condition: string }>;
    environment?: Record<string, string>;
    env_file?: string[];
}
interface Normalised {
    services: Record<string, NormalisedService>;
    networks: Record<string, { internal?: boolean; driver_opts?: Record<string, string> }>;
}

/** The staging project as `docker-compose config` normalises it, plus the rendered files. */
async function normalisedProject(overrides: Record<string, unknown> = {}): Promise<{ config: Normalised; files: Record<string, string> }> {
    requireTool("docker-compose", "docker-compose");
    const result = await synth("staging", overrides);
    const files = Object.fromEntries(Object.entries(result.files)
        .filter(([file]) => file.startsWith("project/"))
        .map(([file, text]) => [file.slice("project/".length), text]));
    const services = parseYaml(files["docker-compose.yml"]).services as Record<string, NormalisedService>;
    const envFiles = Object.values(services).flatMap((s) => s.env_file ?? []).map((f) => [f.replace(/^\.\//, ""), ""]);
    const dir = writeTempFiles({ ...files, ...Object.fromEntries(envFiles) });
    try {
        const check = spawnSync("docker-compose", ["config"], { cwd: dir, encoding: "utf8", timeout: 120_000 });
        assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
        return { config: parseYaml(check.stdout) as Normalised, files };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/**
 * Which networks each service is on, and the names (service names and aliases) each answers to.
 * Docker's embedded DNS answers a peer's name with its address on the first network of the asking
 * container that both share, networks with a gateway (not internal) first (moby libnetwork
 * sandbox.go; moby/moby#46162): so two services reach each other by name only when they share an
 * internal network and NO routed one (test/compose-engine.spec.ts shows it on a real dockerd).
 */
function reachability(config: Normalised): { reaches: (a: string, b: string) => boolean; resolves: (client: string, host: string) => string | undefined } {
    const routed = (network: string) => config.networks[network]?.internal !== true;
    const allOf = (name: string) => Object.keys(config.services[name]?.networks ?? {});
    const sharesRouted = (a: string, b: string) => allOf(a).some((n) => routed(n) && allOf(b).includes(n));
    const networksOf = (name: string) => allOf(name).filter((n) => !routed(n));
    const reaches = (a: string, b: string) => !sharesRouted(a, b) && networksOf(a).some((n) => networksOf(b).includes(n));
    const resolves = (client: string, host: string) => Object.entries(config.services).find(([name, s]) =>
        networksOf(client).some((n) => (name === host || (s.networks?.[n]?.aliases ?? []).includes(host)) && networksOf(name).includes(n)))?.[0];
    return { reaches, resolves };
}

/** `host` of a `//host:port` URL, a `host:port` target or a bare host value. */
function hostOf(address: string): string {
    return address.replace(/^[a-z]+:\/\/([^/@]*@)?/, "").replace(/[:/].*$/, "");
}

/** Connections the rendered files name, each as [client, server]. */
function neededConnections(config: Normalised, files: Record<string, string>): [string, string, string][] {
    const names = new Set(Object.keys(config.services));
    const needed: [string, string, string][] = [];
    const add = (client: string, server: string, why: string) => { if (client !== server) needed.push([client, server, why]); };
    for (const [name, service] of Object.entries(config.services)) {
        for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
            if (condition === "service_healthy") add(name, dependency, "depends_on");
        }
        for (const [key, value] of Object.entries(service.environment ?? {})) {
            for (const match of String(value).matchAll(/(?:^|\/\/|[\s=@,])([a-z][a-z0-9.-]*)(?::\d+|$)/g)) {
                const host = match[1];
                if (names.has(host) || host === "kong.localhost") add(name, host, `env ${key}`);
            }
        }
    }
    // The proxy connects to every upstream of nginx.conf.
    // nginx.conf resolves each upstream per request: `set $var host;` then `proxy_pass http://$var:port`.
    const nginxConf = files["config/proxy/etc_nginx_nginx.conf"];
    const upstreamVariables = new Map([...nginxConf.matchAll(/set (\$[a-z_]+) ([a-z0-9.-]+);/g)].map((m) => [m[1], m[2]]));
    const upstreams = [...nginxConf.matchAll(/proxy_pass http:\/\/([^:/;]+)/g)].map((m) => m[1]);
    assert.ok(upstreams.length > 0, "nginx.conf has upstreams");
    for (const match of nginxConf.matchAll(/set (\$[a-z_]+) ([a-z0-9.-]+);\s*proxy_pass http:\/\/\1[:/;]/g)) add("proxy", match[2], "proxy_pass");
    for (const upstream of upstreams) {
        if (upstream.startsWith("$")) assert.ok(upstreamVariables.has(upstream), `${upstream} is set before proxy_pass`);
        else add("proxy", upstream, "proxy_pass");
    }
    // Prometheus scrapes each static target (blackbox's relabelled address included) and alerts Alertmanager.
    const prometheus = parseYaml(files["config/prometheus/etc_prometheus_prometheus.yml"]);
    for (const job of prometheus.scrape_configs) {
        const replaced = (job.relabel_configs ?? []).find((r: { target_label: string }) => r.target_label === "__address__");
        const targets: string[] = replaced ? [replaced.replacement] : job.static_configs.flatMap((c: { targets: string[] }) => c.targets);
        for (const target of targets) if (!target.startsWith("localhost")) add("prometheus", hostOf(target), `scrape ${job.job_name}`);
        // blackbox-exporter probes each in-network target Prometheus hands it (`__param_target`).
        if (replaced && hostOf(replaced.replacement) === "blackbox-exporter") {
            for (const target of job.static_configs.flatMap((c: { targets: string[] }) => c.targets)) {
                if (names.has(hostOf(target))) add("blackbox-exporter", hostOf(target), `probe ${job.job_name}`);
            }
        }
    }
    for (const target of prometheus.alerting.alertmanagers[0].static_configs[0].targets) add("prometheus", hostOf(target), "alerting");
    for (const source of parseYaml(files["config/grafana/etc_grafana_provisioning_datasources_archon.yml"]).datasources) add("grafana", hostOf(source.url), "datasource");
    // Secrets hold these addresses (Kong's declarative config, the database URLs): named here.
    for (const upstream of ["rest", "auth", "meta", "studio"]) add("kong", upstream, "kong upstream");
    for (const client of ["rest", "auth", "meta", "studio", "archon-migrate", "postgres-exporter"]) add(client, "db", "database URL");
    return needed;
}

describe("compose network segmentation", () => {
    for (const [label, overrides] of [["staging", {}], ["staging with archon-agents", { enableAgents: true }]] as const) {
        it(`${label}: the real docker-compose accepts the networks; the crawler reaches no admin surface; every needed connection is possible`, async () => {
            const { config, files } = await normalisedProject(overrides);
            const { reaches, resolves } = reachability(config);
            const admins = ["meta", "studio", "db", "prometheus", "cadvisor", "alertmanager", "node-exporter", "grafana", "registry", "loki", "alloy"];
            for (const admin of admins) assert.ok(config.services[admin], `${admin} is part of the project`);
            // Every long-running Archon service, routed ones included: one shared `edge` network
            // let archon-mcp reach Grafana and the registry (test/compose-engine.spec.ts).
            for (const archon of Object.keys(config.services).filter((n) => n.startsWith("archon-") && n !== "archon-migrate")) {
                for (const admin of admins) assert.ok(!reaches(archon, admin), `${archon} must not reach ${admin}`);
            }
            // Routed services share a network with the proxy only, never with one another.
            const routed = Object.keys(config.services).filter((n) => n !== "proxy" && reaches("proxy", n));
            for (const a of routed) for (const b of routed) assert.ok(a === b || !Object.keys(config.services[a].networks ?? {}).some((n) => n.startsWith("edge") && Object.keys(config.services[b].networks ?? {}).includes(n)), `${a} and ${b} share an edge network`);
            const needed = neededConnections(config, files);
            assert.ok(needed.some(([client, server]) => client === "blackbox-exporter" && server === "archon-server"), "blackbox-exporter probes archon-server");
            assert.ok(needed.length > 25, `derived ${needed.length} connections`);
            for (const [client, server, why] of needed) {
                const target = server === "kong.localhost" ? resolves(client, server) : (reaches(client, server) ? server : undefined);
                assert.ok(target, `${client} must reach ${server} (${why})`);
            }
            if (label !== "staging") {
                // Archon's agents fetch their credentials from archon-server and call the MCP server (v0.1.0 source).
                assert.ok(reaches("archon-agents", "archon-server") && reaches("archon-agents", "archon-mcp"));
            }
        });
    }

    it("marks every zone network internal; each service that needs the internet has an egress bridge of its own", async () => {
        const { config } = await normalisedProject({ smtpHost: "smtp.example.net" });
        for (const [name, network] of Object.entries(config.networks)) {
            if (isEgressNetwork(name)) {
                assert.equal(network.internal, undefined);
                assert.equal(network.driver_opts?.["com.docker.network.bridge.enable_icc"], "false");
                const members = Object.entries(config.services).filter(([, s]) => Object.keys(s.networks ?? {}).includes(name)).map(([n]) => n);
                // One member: no two containers share a routed network, so Docker's DNS never answers with a routed address.
                assert.deepEqual(members, [name.replace(/^egress-/, "")], `${name} has exactly its own service`);
            } else {
                assert.equal(network.internal, true, `${name} is internal`);
            }
        }
        const onEgress = Object.entries(config.services).filter(([, s]) => Object.keys(s.networks ?? {}).some(isEgressNetwork)).map(([n]) => n).sort();
        // The backups upload to object storage (restic over HTTPS); GoTrue sends e-mail once smtpHost is set.
        assert.deepEqual(onEgress, ["archon-mcp", "archon-server", "auth", "blackbox-exporter", "certbot", "postgres-backup", "proxy"]);
        // Only the proxy publishes ports: only its bridge carries IPv6 (real client addresses, docker-daemon.ts).
        const proxyNetwork = config.networks["egress-proxy"] as { enable_ipv6?: boolean; ipam?: { config: { subnet: string }[] } };
        assert.equal(proxyNetwork.enable_ipv6, true);
        assert.deepEqual(proxyNetwork.ipam?.config.map((c) => c.subnet), [PROXY_IPV6_SUBNET]);
        // No service stays on Compose's flat default network.
        for (const [name, service] of Object.entries(config.services)) {
            assert.ok(!Object.keys(service.networks ?? {}).includes("default"), `${name} on the default network`);
            assert.ok(service.network_mode === "none" || Object.keys(service.networks ?? {}).length > 0, `${name} has networks`);
        }
        // Without SMTP, GoTrue has no way out at all.
        const { config: withoutSmtp } = await normalisedProject();
        assert.ok(!Object.keys(withoutSmtp.services.auth.networks ?? {}).some(isEgressNetwork));
    });
});
