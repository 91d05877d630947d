/**
 * Staging as a whole on a real Docker engine (issue 22, issue 26 item 6 on Compose): the rendered
 * Compose project, with only its `image:` lines pointing at images built here
 * (test/engine/images.ts), started by the rendered compose-up.sh on Debian's dockerd 20.10 in a
 * private network and mount namespace (test/engine/engine.ts), with the rendered daemon.json.
 *
 * What differs from the host, and why it does not change what is proven:
 * - `docker compose` is docker-compose 1.29 behind test/engine/docker-cli.sh, which reproduces
 *   Compose v2.32.4's `up --wait [--wait-timeout]` from its source (compose-wait.py); v2 is not
 *   installable here. Both create the same containers, labels, networks and aliases from the file.
 * - dockerd 20.10 needs `--experimental` for `ip6tables` (the host's Docker 27 has it by default);
 *   it gets `--insecure-registry` for the stack's registry, because the proxy serves the bootstrap
 *   certificate (no ACME here), and for the Docker Hub cache (self-signed); vfs storage.
 * - The synth sets smtpHost and the Docker Hub keys (a cache and a login, item 8): daemon.json then
 *   holds `registry-mirrors` too, and the host's client config a Docker Hub login.
 * - Stand-ins (test/engine/standin.sh) for Supabase, Kong, Grafana, Loki, Alloy, cAdvisor,
 *   postgres-exporter and Archon's Python services: same names, networks, ports, users, read-only
 *   roots, capabilities, limits, restart policies, dependencies and health-check commands. The
 *   Archon stand-ins are pushed to the stack's own registry through the proxy and pulled from it by
 *   compose-up.sh, as a first deploy does.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { Engine, PUBLIC_IPV4, PUBLIC_IPV6, SMTP_IPV4, killQuietly } from "./engine/engine";
import { RegistryMirror } from "./engine/mirror";
import { Flow, requiredFlows } from "./engine/flows";
import { buildArchonUi, buildBusybox, buildCertbot, buildPostgres, buildPrometheusFamily, buildProxyNginx, buildRegistry, buildRestic, buildStandin } from "./engine/images";
import { DOCKER_HUB_AUTH_KEY, dockerClientConfig } from "../components/registry/login";
import { reveal } from "../scripts/lib/synthesize";
import { named, plainInputs, requireTool, synth } from "./helpers";

const SMTP_HOST = "smtp.example.net";
/**
 * The stack's Docker Hub settings (item 8): a pull-through cache and an account to pull as. The
 * cache listens on 5443: with userland-proxy off, dockerd still holds every published port
 * (0.0.0.0:443 of the proxy) with a listening socket of its own.
 */
const DOCKER_HUB = { dockerHubMirror: "https://hub-mirror.example.net:5443", dockerHubUsername: "archonstaging", dockerHubToken: "dckr_pat_Engine-Test-1" };
const MIRROR_IPV4 = "203.0.113.53";
const SMTP_PORT = 587;
const ENGINE_DIR = path.join(__dirname, "engine");
/** The services whose image is the real program (the rest are stand-ins). */
const REAL: Record<string, (engine: Engine, tag: string) => void> = {
    "nginx": buildProxyNginx,
    "registry": buildRegistry,
    "supabase/postgres": buildPostgres,
    "prom/prometheus": (e, t) => buildPrometheusFamily(e, t, "/usr/bin/prometheus", "/bin/prometheus", "/prometheus"),
    // Debian's build reads its notification templates from /usr/share/prometheus/alertmanager.
    "prom/alertmanager": (e, t) => buildPrometheusFamily(e, t, "/usr/bin/prometheus-alertmanager", "/bin/alertmanager", "/alertmanager", ["/usr/share/prometheus/alertmanager"]),
    "prom/blackbox-exporter": (e, t) => buildPrometheusFamily(e, t, "/usr/bin/prometheus-blackbox-exporter", "/bin/blackbox_exporter"),
    "prom/node-exporter": (e, t) => buildPrometheusFamily(e, t, "/usr/bin/prometheus-node-exporter", "/bin/node_exporter"),
    "restic/restic": buildRestic,
    "busybox": buildBusybox,
    "certbot/certbot": buildCertbot,
};
/**
 * Paths a stand-in answers beyond its flows' and health check's: those the test itself requests.
 * archon-server serves /api/health (coleam00/Archon ecaece46 python/src/server/main.py:259), the
 * path the recreate case asks through archon-ui's /api/ location.
 */
const ANSWERED_PATHS: Record<string, string[]> = { "archon-server": ["/api/health"] };
/** What the crawler (Archon's services) must never reach. */
const ADMIN_SURFACES = ["meta", "studio", "db", "prometheus", "cadvisor", "alertmanager", "node-exporter", "grafana", "registry", "loki", "alloy"];

interface Service {
    image: string;
    entrypoint?: string[];
    command?: string[];
    healthcheck?: { test: string[] };
    depends_on?: Record<string, { condition: string }>;
    restart?: string;
    volumes?: (string | { target: string })[];
}

interface ProbeResult { check: { host?: string; ip?: string; port: number }; answers?: { address: string; ttl: number }[]; address?: string; connected?: boolean; status?: string; error?: string }

function unquoteShell(script: string, name: string): string {
    const match = new RegExp(`^export ${name}='((?:[^']|'"'"')*)'$`, "m").exec(script);
    if (!match) throw new Error(`${name} not in the rendered script`);
    return match[1].replace(/'"'"'/g, "'");
}

describe("staging on a real Docker engine (issue 22)", function () {
    this.timeout(1_200_000);
    const engine = new Engine();
    let projectDir = "";
    let compose: { services: Record<string, Service> };
    let flows: Flow[] = [];
    let composeUp = "";
    let binDir = "";
    const started = Date.now();
    let outputs: Record<string, any> = {};
    /** The deploy user's ~/.docker/config.json as the docker-login step writes it (components/registry/login.ts). */
    let hostClientConfig = "";
    const mirror = new RegistryMirror(engine, new URL(DOCKER_HUB.dockerHubMirror).host, MIRROR_IPV4);

    /** Runs the rendered compose-up.sh with `parameters` (replacing its own) against the engine. */
    function runComposeUp(parameters: Record<string, string>, timeoutMs = 600_000): { status: number | null; output: string; seconds: number } {
        let script = composeUp.replace(/^export PROJECT_DIR=.*$/m, `export PROJECT_DIR='${projectDir}'`);
        for (const key of ["START_ONLY", "ARCHON_SERVICES", "OTHER_SERVICES"]) script = script.replace(new RegExp(`^export ${key}=.*$`, "m"), "");
        const exports = Object.entries(parameters).map(([k, v]) => `export ${k}='${v}'`).join("\n");
        script = script.replace(/^set -euo pipefail$/m, `set -euo pipefail\n${exports}`);
        const begin = Date.now();
        const result = spawnSync("nice", ["-n", "10", "bash", "-c", script], {
            env: { ...engine.env, PATH: `${binDir}:${process.env.PATH}`, REAL_DOCKER: requireTool("docker", "docker.io") },
            encoding: "utf8", timeout: timeoutMs, cwd: projectDir,
        });
        return { status: result.status, output: `${result.stdout}${result.stderr}`, seconds: (Date.now() - begin) / 1000 };
    }

    /**
     * Runs probe.py in `service`'s network namespace: its running container's, or for a one-shot
     * that has exited (archon-migrate), a twin's that `docker-compose run` starts from the same
     * service definition (same image, user, networks), sleeping instead of running its command.
     */
    function probe(service: string, checks: object[]): ProbeResult[] {
        const state = JSON.parse(engine.docker(["inspect", "--format", "{{json .State}}", containerOf(service)])) as { Running: boolean; Pid: number };
        let twin: string | undefined;
        let pid = String(state.Pid);
        if (!state.Running) {
            const run = spawnSync("docker-compose", ["run", "-d", "--no-deps", "--entrypoint", "sleep", service, "300"], { cwd: projectDir, env: engine.env, encoding: "utf8", timeout: 120_000 });
            if (run.status !== 0) throw new Error(`docker-compose run ${service}: ${run.stdout}${run.stderr}`);
            twin = run.stdout.trim().split("\n").pop()!;
            pid = engine.docker(["inspect", "--format", "{{.State.Pid}}", twin]).trim();
        }
        try {
            const result = spawnSync("nsenter", ["-t", pid, "-n", "python3", path.join(ENGINE_DIR, "probe.py")], { input: JSON.stringify(checks), encoding: "utf8", timeout: 120_000 });
            if (result.status !== 0) throw new Error(`probe from ${service}: ${result.stderr}`);
            return JSON.parse(result.stdout) as ProbeResult[];
        } finally {
            if (twin) engine.docker(["rm", "-f", twin]);
        }
    }

    function containerOf(service: string): string {
        const id = engine.docker(["ps", "-aq", "--filter", `label=com.docker.compose.service=${service}`]).trim().split("\n")[0];
        if (!id) throw new Error(`no container of ${service}`);
        return id;
    }

    function addressesOf(service: string): Record<string, string> {
        return JSON.parse(engine.docker(["inspect", "--format", "{{json .NetworkSettings.Networks}}", containerOf(service)])
            .trim()) as Record<string, string> as never;
    }

    before(async () => {
        for (const [tool, pkg] of [["dockerd", "docker.io"], ["docker-compose", "docker-compose"], ["unshare", "util-linux"], ["nsenter", "util-linux"], ["dnsmasq", "dnsmasq-base"],
            ["busybox", "busybox-static"], ["nginx", "nginx-light"], ["docker-registry", "docker-registry"], ["/usr/lib/postgresql/15/bin/initdb", "postgresql-15"],
            ["prometheus", "prometheus"], ["prometheus-alertmanager", "prometheus-alertmanager"], ["prometheus-blackbox-exporter", "prometheus-blackbox-exporter"],
            ["prometheus-node-exporter", "prometheus-node-exporter"], ["restic", "restic"], ["python3", "python3-cryptography"], ["ip", "iproute2"], ["curl", "curl"], ["htpasswd", "apache2-utils"]]) requireTool(tool, pkg);
        const result = await synth("staging", { smtpHost: SMTP_HOST, smtpPort: SMTP_PORT, ...DOCKER_HUB });
        outputs = reveal(result.outputs) as Record<string, any>;
        projectDir = fs.mkdtempSync(path.join(engine.dir, "project-"));
        for (const [file, text] of Object.entries(result.files)) {
            if (!file.startsWith("project/")) continue;
            const target = path.join(projectDir, file.slice("project/".length));
            fs.mkdirSync(path.dirname(target), { recursive: true });
            fs.writeFileSync(target, text);
        }
        composeUp = plainInputs(named(result, "command:remote:Command", "compose-up")).create as string;
        const daemonConfig = unquoteShell(plainInputs(named(result, "command:remote:Command", "docker-daemon-config")).create as string, "DAEMON_CONFIG");
        binDir = path.join(engine.dir, "bin");
        fs.mkdirSync(binDir);
        fs.symlinkSync(path.join(ENGINE_DIR, "docker-cli.sh"), path.join(binDir, "docker"));
        fs.writeFileSync(path.join(binDir, "cloud-init"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
        const registryHost = outputs.registryServer as string;
        hostClientConfig = plainInputs(named(result, "command:remote:Command", "docker-login")).stdin as string;
        // Both registry hosts: pulls at registry.<domain>, pushes at registry-push.<domain> (components/registry/hosts.ts).
        const pushHost = (outputs.registryPush as { server: string }).server;
        await engine.start({ daemonConfig, publicHosts: outputs.publicHosts as string[], otherHosts: { [SMTP_HOST]: SMTP_IPV4, [mirror.hostname]: MIRROR_IPV4 }, insecureRegistries: [registryHost, pushHost, mirror.host] });

        // Images: the rendered references, each built once; Archon's go through the stack's registry.
        compose = parseYaml(fs.readFileSync(path.join(projectDir, "docker-compose.yml"), "utf8"));
        flows = requiredFlows(projectDir);
        let text = fs.readFileSync(path.join(projectDir, "docker-compose.yml"), "utf8");
        const built = new Map<string, string>();
        for (const [name, service] of Object.entries(compose.services)) {
            const repository = service.image.replace(/:[^/:]+$/, "");
            const archon = service.image.startsWith(`${registryHost}/`);
            const tag = archon ? service.image : built.get(service.image) ?? `archon-test/${name}:engine`;
            if (!built.has(service.image)) {
                const real = REAL[repository] ?? (name === "archon-ui" ? buildArchonUi : undefined);
                if (real) real(engine, tag);
                else buildStandin(engine, tag, standinSpec(name, service));
                built.set(service.image, tag);
            }
            if (!archon) text = text.replace(new RegExp(`^    image: ${service.image.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`, "m"), `    image: ${tag}`);
        }
        fs.writeFileSync(path.join(projectDir, "docker-compose.yml"), text);
    });

    /** A stand-in's ports: every port a rendered file connects to on it, and its health check's. */
    function standinSpec(name: string, service: Service) {
        const health = (service.healthcheck?.test ?? []).join(" ");
        const ports = new Set(flows.filter((f) => f.server === name).map((f) => f.port));
        for (const m of health.matchAll(/127\.0\.0\.1(?::|', *)(\d+)/g)) ports.add(Number(m[1]));
        const paths = [...flows.filter((f) => f.server === name && f.path).map((f) => f.path!), ...[...health.matchAll(/127\.0\.0\.1:\d+(\/[^'"\s)]*)/g)].map((m) => m[1]), ...(ANSWERED_PATHS[name] ?? [])];
        const commands = [service.entrypoint?.[0], service.command?.[0], service.healthcheck?.test[1]].filter((c): c is string => !!c && !c.startsWith("/") && !c.startsWith("-")).map((c) => path.basename(c));
        // A program the image itself holds at an absolute path, which the rendered entrypoint or
        // command hands on to (Grafana's: `sh grafana-admin-password.sh /run.sh`); mounted files are the stack's own.
        const mounted = new Set((service.volumes ?? []).map((v) => (typeof v === "string" ? v.split(":")[1] : v.target)));
        commands.push(...[...(service.entrypoint ?? []), ...(service.command ?? [])].filter((c) => /^\/[\w./-]+$/.test(c) && !mounted.has(c)));
        const oneshot = service.healthcheck === undefined && name === "archon-migrate"
            ? { connect: flows.filter((f) => f.client === name).map((f) => `${f.host}:${f.port}`), exitCode: 0 } : undefined;
        return { ports: [...ports].sort((a, b) => a - b), paths, commands, oneshot };
    }

    after(async () => {
        // ARCHON_KEEP_ENGINE=1 leaves the engine running for a look (its socket is printed); stop it by its PID.
        if (process.env.ARCHON_KEEP_ENGINE) console.log(`      engine kept: DOCKER_HOST=unix://${engine.socket} (dockerd PID ${engine.pid})`);
        else {
            mirror.stop();
            await engine.stop();
        }
    });

    it("starts the edge (proxy, certbot, registry), takes a 200 MB layer push through the real nginx, and starts everything with the rendered compose-up.sh", () => {
        const edge = runComposeUp({ START_ONLY: "proxy certbot registry" });
        assert.equal(edge.status, 0, edge.output);
        // Push the Archon images (stand-ins) as the image build does, to the registry's push host
        // (its read-write instance), archon-server with a 200 MB layer; the pull host serves them
        // from the same storage.
        const push = outputs.registryPush as { server: string; username: string; password: string };
        const pullHost = outputs.registryServer as string;
        engine.docker(["login", "-u", push.username, "--password-stdin", push.server], { input: push.password });
        for (const [name, service] of Object.entries(compose.services).filter(([, s]) => s.image.startsWith(`${pullHost}/`))) {
            // archon-server's image is several hundred MB: its stand-in gets a 200 MB layer.
            const big = name === "archon-server" ? 200 : 0;
            if (big) addLayer(service.image, big);
            const pushed = `${push.server}/${service.image.slice(pullHost.length + 1)}`;
            engine.docker(["tag", service.image, pushed]);
            const begin = Date.now();
            engine.docker(["push", pushed]);
            if (big) {
                const seconds = (Date.now() - begin) / 1000;
                const proxy = containerOf("proxy");
                const state = JSON.parse(engine.docker(["inspect", "--format", "{{json .State}}", proxy]));
                assert.equal(state.OOMKilled, false, "the proxy was not OOM-killed");
                assert.equal(state.Status, "running");
                const logs = engine.docker(["logs", proxy]);
                assert.doesNotMatch(logs, /a client request body is buffered to a temporary file/, "the upload streamed through, never into the proxy's tmpfs");
                console.log(`      pushed a 200 MB layer through the proxy in ${seconds.toFixed(1)} s`);
            }
        }
        // Gone from the host, as on a first deploy: compose-up.sh pulls them back through the proxy
        // with the client config the docker-login step writes (the pull login, and Docker Hub's).
        for (const service of Object.values(compose.services).filter((s) => s.image.startsWith(`${pullHost}/`))) {
            engine.docker(["rmi", service.image, `${push.server}/${service.image.slice(pullHost.length + 1)}`]);
        }
        engine.docker(["logout", push.server]);
        fs.writeFileSync(path.join(engine.env.DOCKER_CONFIG!, "config.json"), hostClientConfig);
        const up = runComposeUp({ ARCHON_SERVICES: composeUpList("ARCHON_SERVICES"), OTHER_SERVICES: composeUpList("OTHER_SERVICES") });
        assert.equal(up.status, 0, up.output);
        assert.doesNotMatch(up.output, /NOT STARTED/, up.output);
        for (const [name, service] of Object.entries(compose.services)) {
            const state = JSON.parse(engine.docker(["inspect", "--format", "{{json .State}}", containerOf(name)]));
            if (service.healthcheck) assert.equal(state.Health?.Status, "healthy", `${name} is healthy`);
            else if (service.restart === "no") assert.ok(state.Status === "exited" && state.ExitCode === 0, `one-shot ${name}: ${state.Status} ${state.ExitCode}`);
            else assert.equal(state.Status, "running", name);
        }
        console.log(`      stack up after ${((Date.now() - started) / 1000).toFixed(0)} s`);
    });

    function composeUpList(key: string): string {
        return unquoteShell(composeUp, key);
    }

    /** One more layer of `mb` random MB on top of `image` (it keeps its entrypoint and ports). */
    function addLayer(image: string, mb: number): void {
        const root = fs.mkdtempSync(path.join(engine.dir, "layer-"));
        spawnSync("sh", ["-c", `head -c ${mb}M /dev/urandom > ${root}/payload`]);
        const tar = spawnSync("tar", ["-C", root, "-c", "."], { maxBuffer: 1 << 30 });
        const container = engine.docker(["create", image]).trim();
        engine.docker(["cp", "-", `${container}:/`], { input: tar.stdout });
        engine.docker(["commit", container, image]);
        engine.docker(["rm", container]);
        fs.rmSync(root, { recursive: true, force: true });
    }

    it("every flow the rendered files name resolves by name and connects from inside the client's container", () => {
        assert.ok(flows.length > 30, `derived ${flows.length} flows`);
        for (const needed of [["certbot", "proxy"], ["proxy", "archon-mcp"], ["archon-mcp", "archon-server"], ["blackbox-exporter", "archon-server"], ["blackbox-exporter", "archon-mcp"], ["archon-ui", "archon-server"], ["alloy", "loki"], ["postgres-backup", "db"]]) {
            assert.ok(flows.some((f) => f.client === needed[0] && f.server === needed[1]), `derived ${needed.join(" -> ")}`);
        }
        const failures: string[] = [];
        for (const client of [...new Set(flows.map((f) => f.client))]) {
            const mine = flows.filter((f) => f.client === client);
            const results = probe(client, mine.map((f) => ({ host: f.host, port: f.port, ...(f.path ? { path: f.path } : {}) })));
            results.forEach((r, i) => {
                const f = mine[i];
                if (!r.connected) failures.push(`${client} -> ${f.host}:${f.port} (${f.why}): ${r.error} [answer ${JSON.stringify(r.answers)}]`);
                else if (f.path && !/^HTTP\/1\.[01] [23]\d\d/.test(r.status ?? "")) failures.push(`${client} -> ${f.host}:${f.port}${f.path}: ${r.status}`);
            });
        }
        assert.deepEqual(failures, []);
    });

    it("the crawler reaches no admin surface, by name or by address", () => {
        for (const crawler of ["archon-server", "archon-mcp"]) {
            const checks: object[] = [];
            for (const admin of ADMIN_SURFACES.filter((a) => compose.services[a])) {
                const ports = [...new Set(flows.filter((f) => f.server === admin).map((f) => f.port))];
                for (const port of ports) {
                    checks.push({ host: admin, port, timeout: 1 });
                    for (const network of Object.values(addressesOf(admin)) as unknown as { IPAddress: string }[]) checks.push({ ip: network.IPAddress, port, timeout: 1 });
                }
            }
            const reached = probe(crawler, checks).filter((r) => r.connected).map((r) => `${r.check.host ?? r.check.ip}:${r.check.port}`);
            assert.deepEqual(reached, [], `${crawler} reaches ${reached.join(", ")}`);
        }
    });

    it("GoTrue reaches the configured SMTP server, and only auth has that way out", () => {
        const listener = spawnSync("nsenter", ["-t", String(engine.pid), "-n", "sh", "-c",
            `python3 -c "import socket,time;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(('${SMTP_IPV4}',${SMTP_PORT}));s.listen(8);time.sleep(60)" >/dev/null 2>&1 & echo $!`], { encoding: "utf8" });
        try {
            spawnSync("sleep", ["1"]);
            const [fromAuth] = probe("auth", [{ host: SMTP_HOST, port: SMTP_PORT }]);
            assert.equal(fromAuth.connected, true, JSON.stringify(fromAuth));
            const networks = Object.keys(addressesOf("auth"));
            assert.ok(networks.some((n) => n.endsWith("egress-auth")), networks.join(", "));
        } finally {
            killQuietly(Number(listener.stdout.trim()));
        }
    });

    it("recreating archon-server on another address keeps /api working through archon-ui; Kong is told to re-resolve within 10 s of Docker's 600 s TTL", () => {
        const get = () => probe("proxy", [{ host: "archon-ui", port: 3737, path: "/api/health" }])[0];
        assert.match(get().status ?? "", / 200 /);
        const before = addressesOf("archon-server") as unknown as Record<string, { IPAddress: string }>;
        const [ttl] = probe("archon-ui", [{ host: "archon-server", port: 8181 }]);
        assert.equal(ttl.answers?.[0].ttl, 600, "Docker's embedded DNS answers with TTL 600");
        assert.equal((compose.services.kong as unknown as { environment: Record<string, string> }).environment.KONG_DNS_VALID_TTL, "10");
        // Another container takes archon-server's old address while it is recreated (as when
        // several services are recreated by one deploy): the new archon-server gets another one.
        engine.docker(["stop", containerOf("archon-server")]);
        const shared = Object.keys(before).filter((n) => Object.keys(addressesOf("archon-ui")).includes(n));
        const filler = engine.docker(["create", "--network", shared[0], "archon-test/data-permissions:engine", "sleep", "600"]).trim();
        engine.docker(["start", filler]);
        try {
            const up = spawnSync("docker-compose", ["up", "-d", "--no-deps", "--force-recreate", "archon-server"], { cwd: projectDir, env: engine.env, encoding: "utf8" });
            assert.equal(up.status, 0, up.stderr);
            const after = addressesOf("archon-server") as unknown as Record<string, { IPAddress: string }>;
            assert.notEqual(after[shared[0]].IPAddress, before[shared[0]].IPAddress, "archon-server has a new address");
            let status = "";
            for (let i = 0; i < 30 && !/ 200 /.test(status); i++) {
                spawnSync("sleep", ["1"]);
                status = get().status ?? "";
            }
            assert.match(status, / 200 /, "archon-ui reaches the recreated archon-server");
        } finally {
            engine.docker(["rm", "-f", filler]);
        }
    });

    it("a client from outside reaches nginx with its own address, over IPv6 and IPv4 (the rendered daemon.json: userland-proxy off, ip6tables on)", () => {
        // The daemon runs no docker-proxy: published ports are DNAT rules (userland-proxy false).
        const children = engine.children();
        assert.ok(children.includes("containerd") && !children.includes("docker-proxy"), children.join(", "));
        // A client machine: its own network namespace, wired to the host like a router's port
        // (documentation addresses, 2001:db8:6::/64 and 198.51.100.0/24, inside the namespaces only).
        const client = spawnSync("sh", ["-c", "unshare -n sleep 120 >/dev/null 2>&1 & echo $!"], { encoding: "utf8" }).stdout.trim();
        try {
            const setup = [
                `ip link add v6host type veth peer name v6client netns ${client}`,
                "ip -6 addr add 2001:db8:6::1/64 dev v6host nodad && ip addr add 198.51.100.1/24 dev v6host && ip link set v6host up",
                "echo 1 >/proc/sys/net/ipv6/conf/all/forwarding && echo 1 >/proc/sys/net/ipv4/ip_forward",
            ].join(" && ");
            const host = engine.inHostNetwork(["sh", "-c", setup]);
            assert.equal(host.status, 0, host.output);
            const inClient = (command: string) => spawnSync("nsenter", ["-t", client, "-n", "sh", "-c", command], { encoding: "utf8", timeout: 60_000 });
            const configure = inClient([
                "ip link set lo up && ip -6 addr add 2001:db8:6::2/64 dev v6client nodad && ip addr add 198.51.100.2/24 dev v6client && ip link set v6client up",
                "ip -6 route add default via 2001:db8:6::1 && ip route add default via 198.51.100.1",
            ].join(" && "));
            assert.equal(configure.status, 0, configure.stderr);
            const ui = (outputs.publicHosts as string[]).find((h) => h.startsWith("archon."))!;
            for (const [address, clientAddress] of [[`[${PUBLIC_IPV6}]`, "2001:db8:6::2"], [PUBLIC_IPV4, "198.51.100.2"]]) {
                const curl = inClient(`curl -sk -m 20 -o /dev/null -w '%{http_code}' --resolve ${ui}:443:${address} https://${ui}/`);
                // 401: the UI sits behind the ingress' login (nginx answered, TLS and all).
                assert.equal(curl.stdout, "401", `${address}: ${curl.stderr}`);
                const logs = engine.docker(["logs", "--tail", "100", containerOf("proxy")]);
                assert.match(logs, new RegExp(`"client":"${clientAddress.replace(/\./g, "\\.")}"`), `nginx logged ${clientAddress}, the client's own address`);
            }
        } finally {
            killQuietly(Number(client));
        }
    });

    it("Docker Hub images come through the configured pull-through cache, which only the rendered Docker Hub login opens (item 8)", async () => {
        const hubImage = compose.services["data-permissions"].image;
        assert.match(hubImage, /^[a-z0-9]+:[^/]+$/, "data-permissions runs an official Docker Hub image");
        assert.match(engine.docker(["info", "--format", "{{json .RegistryConfig.Mirrors}}"]), new RegExp(DOCKER_HUB.dockerHubMirror), "the daemon runs with the rendered registry-mirrors");
        await mirror.start(DOCKER_HUB.dockerHubUsername, DOCKER_HUB.dockerHubToken);
        // Seed the cache (it cannot reach Docker Hub here) from a client config of its own.
        const seeding = { DOCKER_CONFIG: path.join(engine.dir, "seed-client") };
        const cached = `${mirror.host}/library/${hubImage}`;
        engine.docker(["login", "-u", DOCKER_HUB.dockerHubUsername, "--password-stdin", mirror.host], { input: DOCKER_HUB.dockerHubToken, env: seeding });
        engine.docker(["tag", "archon-test/data-permissions:engine", cached]);
        engine.docker(["push", cached], { env: seeding });
        engine.docker(["rmi", cached]);
        assert.throws(() => engine.docker(["image", "inspect", hubImage]), "not on the host before the pull");
        const registryOnly = { DOCKER_CONFIG: path.join(engine.dir, "registry-only-client") };
        const rendered = JSON.parse(hostClientConfig) as { auths: Record<string, unknown> };
        assert.ok(rendered.auths[DOCKER_HUB_AUTH_KEY], "the host's client config has a Docker Hub login");
        fs.mkdirSync(registryOnly.DOCKER_CONFIG);
        const [registryServer] = Object.keys(rendered.auths).filter((k) => k !== DOCKER_HUB_AUTH_KEY);
        fs.writeFileSync(path.join(registryOnly.DOCKER_CONFIG, "config.json"), dockerClientConfig(registryServer, "archon", "unused"));
        // Anonymous: the cache refuses (401), Docker Hub is unreachable: no image.
        const manifests = new RegExp(`msg="authorized request".*http\\.request\\.uri="?/v2/library/${hubImage.split(":")[0]}/manifests/`);
        let seen = mirror.logs().length;
        assert.throws(() => engine.docker(["pull", hubImage], { env: registryOnly }), /./);
        const anonymous = mirror.logs().slice(seen);
        assert.match(anonymous, /" 401 /, "the daemon asked the cache first");
        assert.doesNotMatch(anonymous, manifests, "and got no manifest without the login");
        // The host's client config: the daemon hands its Docker Hub login to the cache.
        seen = mirror.logs().length;
        engine.docker(["pull", hubImage]);
        assert.match(mirror.logs().slice(seen), manifests, "the cache served the manifest to the stack's Docker Hub login");
        engine.docker(["rmi", hubImage]);
    });

    it("a failing migration fails compose-up.sh within its bound, naming the service", () => {
        const failing = "archon-test/archon-migrate-failing:engine";
        buildStandin(engine, failing, { ...standinSpec("archon-migrate", compose.services["archon-migrate"]), oneshot: { connect: [], exitCode: 1 } });
        const file = path.join(projectDir, "docker-compose.yml");
        const text = fs.readFileSync(file, "utf8");
        fs.writeFileSync(file, text.replace(/^    image: .*archon-migrate:.*$/m, `    image: ${failing}`));
        try {
            const up = runComposeUp({ START_ONLY: "archon-server" }, 300_000);
            assert.notEqual(up.status, 0, up.output);
            assert.match(up.output, /archon-migrate/);
            assert.match(up.output, /compose-up: service archon-migrate exited with code 1/);
            assert.ok(up.seconds < 120, `failed after ${up.seconds} s`);
        } finally {
            fs.writeFileSync(file, text);
        }
    });
});
