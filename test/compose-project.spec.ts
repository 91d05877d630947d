/**
 * The Compose project as the staging host runs it: what each ServiceSpec field becomes (entrypoint
 * vs. command, shared storage, read-only host directories), data directories created and owned by
 * each service's user before it starts, the deploy step, and the Kubernetes
 * renderer refusing what only Compose can run.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { ServiceSpec } from "../components/services/catalog";
import { DATA_PERMISSIONS_SERVICE, renderComposeProject } from "../components/compose/project";
import { kubernetesServices } from "../components/kubernetes/workloads";
import { named, plainInputs, requireTool, run, runComposeUp, synth, writeTempFiles } from "./helpers";

const DATA_DIR = "/mnt/archon-data/data";

interface ComposeService {
    image: string;
    entrypoint?: string[];
    command?: string[];
    user?: string;
    volumes?: string[];
    depends_on?: Record<string, { condition: string }>;
    env_file?: string[];
}

async function stagingProject(): Promise<{ files: Record<string, string>; services: Record<string, ComposeService> }> {
    const result = await synth("staging");
    const files = Object.fromEntries(Object.entries(result.files)
        .filter(([file]) => file.startsWith("project/"))
        .map(([file, text]) => [file.slice("project/".length), text]));
    return { files, services: parseYaml(files["docker-compose.yml"]).services };
}

/** `<dataDir>/...:<mount>` volumes of a service: host directory and mount path. */
function dataVolumes(service: ComposeService): { host: string; mount: string }[] {
    return (service.volumes ?? []).filter((v) => v.startsWith(`${DATA_DIR}/`)).map((v) => {
        const [host, mount] = v.split(":");
        return { host, mount };
    });
}

const minimal = (name: string, extra: Partial<ServiceSpec>): ServiceSpec => ({
    name, group: "monitoring", kind: "service", image: "example/image:1", ports: [],
    resources: { cpu: "10m", memory: "16Mi", cpuLimit: "500m", memoryLimit: "32Mi" },
    security: { runAsNonRoot: true, runAsUser: 1000, readOnlyRootFilesystem: true },
    ...extra,
});

async function composeFile(services: ServiceSpec[]): Promise<Record<string, ComposeService>> {
    const text = await new Promise<string>((resolve) => renderComposeProject({ services, dataDir: "/data" }).files["docker-compose.yml"].apply(resolve));
    return parseYaml(text).services;
}

describe("compose project (staging)", () => {
    it("passes the real `docker-compose config` as rendered by the staging synth", async () => {
        requireTool("docker-compose", "docker-compose");
        const { files, services } = await stagingProject();
        // The env files travel as secrets (not in the synth's files): empty stand-ins suffice here.
        const envFiles = Object.values(services).flatMap((s) => s.env_file ?? []).map((f) => [f.replace(/^\.\//, ""), ""]);
        const dir = writeTempFiles({ ...files, ...Object.fromEntries(envFiles) });
        const check = run("docker-compose", ["config", "-q"], { cwd: dir });
        assert.equal(check.status, 0, check.output);
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("renders ServiceSpec.command as the entrypoint and args as the command", async () => {
        const { services } = await stagingProject();
        // Postgres keeps its docker-entrypoint.sh (initdb, init scripts) and gets postgres' flags.
        assert.equal(services.db.entrypoint, undefined);
        assert.deepEqual(services.db.command?.slice(0, 3), ["postgres", "-c", "config_file=/etc/postgresql/postgresql.conf"]);
        // certbot's image entrypoint is `certbot`: the loop script must replace it, not be its argument.
        assert.deepEqual(services.certbot.entrypoint, ["/bin/sh", "/opt/certbot/certbot-loop.sh"]);
        assert.equal(services.certbot.command, undefined);
        assert.deepEqual(services.proxy.entrypoint, ["/bin/sh", "/opt/proxy/nginx-entrypoint.sh"]);
        // Flags to /bin/prometheus (its ENTRYPOINT) were dropped before.
        assert.ok(services.prometheus.command?.some((a) => a.startsWith("--storage.tsdb.retention.time=")));
        assert.ok(services.prometheus.command?.includes("--config.file=/etc/prometheus/prometheus.yml"));
        // The migration image's entrypoint is the guard (images/archon-migrate/Dockerfile).
        assert.equal(services["archon-migrate"].entrypoint, undefined);
        const both = await composeFile([minimal("x", { command: ["/bin/tool"], args: ["--flag=$HOME"] })]);
        assert.deepEqual([both.x.entrypoint, both.x.command], [["/bin/tool"], ["--flag=$$HOME"]]);
    });

    it("runs Postgres through its entrypoint on Kubernetes too (args, not command)", async () => {
        const db = plainInputs(named(await synth("production"), "kubernetes:apps/v1:StatefulSet", "db"));
        const container = db.spec.template.spec.containers[0];
        assert.equal(container.command, undefined);
        assert.equal(container.args[0], "postgres");
    });

    it("mounts one host directory for storage the proxy and certbot share", async () => {
        const { services } = await stagingProject();
        for (const mount of ["/etc/letsencrypt", "/var/www/certbot"]) {
            const hostDir = (name: string) => dataVolumes(services[name]).find((v) => v.mount === mount)?.host;
            assert.ok(hostDir("proxy"), `proxy does not mount ${mount}`);
            assert.equal(hostDir("proxy"), hostDir("certbot"), `${mount} differs between proxy and certbot`);
            assert.match(hostDir("proxy")!, new RegExp(`^${DATA_DIR}/shared/`));
        }
        const shared = { name: "cache", mountPath: "/cache", sizeGb: 1, shared: true };
        assert.throws(() => renderComposeProject({
            services: [minimal("a", { storage: [shared] }), minimal("b", { storage: [shared], security: { runAsNonRoot: true, runAsUser: 2000, readOnlyRootFilesystem: true } })],
            dataDir: "/data",
        }), /services sharing storage must run as the same user/);
    });

    it("mounts host directories read-only, and never renders them on Kubernetes", async () => {
        const { services } = await stagingProject();
        assert.ok(services["node-exporter"].volumes?.includes("/proc:/host/proc:ro"));
        assert.ok(services.alloy.volumes?.includes("/var/lib/docker/containers:/var/lib/docker/containers:ro"));
        assert.ok(services.cadvisor.volumes?.includes("/var/lib/docker:/var/lib/docker:ro"));
        for (const [name, service] of Object.entries(services)) {
            for (const volume of service.volumes ?? []) {
                if (volume.startsWith("/") && !volume.startsWith(`${DATA_DIR}/`) && name !== DATA_PERMISSIONS_SERVICE) assert.match(volume, /:ro$/, `${name}: ${volume}`);
            }
        }
        const agent = minimal("agent", { hostPaths: [{ hostPath: "/proc", mountPath: "/host/proc" }] });
        assert.throws(() => kubernetesServices([agent]), /agent: hostPaths are Compose only/);
        assert.deepEqual(kubernetesServices([{ ...agent, targets: ["compose"] }]), []);
        assert.throws(() => kubernetesServices([minimal("p", { storage: [{ name: "x", mountPath: "/x", sizeGb: 1, shared: true }] })]), /shared storage \(x\) is Compose only/);
    });

    it("creates every data directory owned by its service's user before the service starts", async () => {
        const { services } = await stagingProject();
        const permissions = services[DATA_PERMISSIONS_SERVICE];
        assert.ok(permissions, "no data-permissions service");
        // The data directory only: secret files are owned by their reader when written (write-secret-file.sh).
        assert.deepEqual(permissions.volumes, [`${DATA_DIR}:/data`]);
        const [shell, flags, script] = permissions.entrypoint!;
        // Run the one-shot's own script (as root, like the container) against a scratch data directory.
        const root = writeTempFiles({}, "archon-data-");
        const ran = run(shell, [flags, script.replace(/\/data\//g, `${root}/`)]);
        assert.equal(ran.status, 0, ran.output);
        const owners: Record<string, number> = {};
        for (const [name, service] of Object.entries(services)) {
            const volumes = dataVolumes(service);
            if (volumes.length === 0) continue;
            assert.deepEqual(service.depends_on?.[DATA_PERMISSIONS_SERVICE], { condition: "service_completed_successfully" }, name);
            // A read-only mount of another service's directory (node-exporter reads the backups' metric) is that service's.
            for (const { host } of volumes.filter((v) => !(service.volumes ?? []).includes(`${v.host}:${v.mount}:ro`))) {
                const stat = fs.statSync(path.join(root, path.relative(DATA_DIR, host)));
                assert.ok(stat.isDirectory());
                assert.equal(stat.uid, Number(service.user ?? 0), `${name}: ${host} owned by ${stat.uid}, runs as ${service.user ?? "root"}`);
                owners[name] = stat.uid;
            }
        }
        assert.deepEqual({ registry: owners.registry, grafana: owners.grafana, prometheus: owners.prometheus, loki: owners.loki }, { registry: 1000, grafana: 472, prometheus: 65534, loki: 10001 });
        fs.rmSync(root, { recursive: true, force: true });
        assert.throws(() => renderComposeProject({ services: [minimal("n", { storage: [{ name: "d", mountPath: "/d", sizeGb: 1 }], security: { runAsNonRoot: true, readOnlyRootFilesystem: true } })], dataDir: "/data" }),
            /n: has storage but no security.runAsUser/);
    });

    it("gives pods with volumes an fsGroup on Kubernetes (the registry writes as uid 1000)", async () => {
        const registry = plainInputs(named(await synth("production"), "kubernetes:apps/v1:StatefulSet", "registry"));
        assert.equal(registry.spec.template.spec.securityContext.fsGroup, 1000);
        assert.equal(registry.spec.template.spec.containers[0].securityContext.runAsUser, 1000);
    });
});

describe("compose deploy", () => {
    it("runs `docker compose up --wait` and nothing else: no proxy reload (rendered script, fake docker)", async () => {
        const { calls, ...ran } = runComposeUp(await synth("staging"));
        assert.equal(ran.status, 0, ran.output);
        // Other services first, then the Archon images' pull, then the whole project (test/first-deploy.spec.ts).
        // Each `up` is followed by the check of the containers it touched (docker ps/inspect).
        assert.ok(calls.every((c) => /^(compose (up -d --wait --wait-timeout \d+ --remove-orphans|pull --quiet)( |$)|ps -aq --filter label=com\.docker\.compose\.project\.working_dir=)/.test(c)), calls.join("\n"));
        assert.equal(calls.filter((c) => c.startsWith("compose up")).pop(), "compose up -d --wait --wait-timeout 600 --remove-orphans");
    });

    it("has the proxy's entrypoint (PID 1) hand SIGHUP to nginx", () => {
        requireTool("unshare", "util-linux");
        const entrypoint = path.join(__dirname, "..", "components", "compose", "nginx", "nginx-entrypoint.sh");
        const dir = writeTempFiles({
            // A stand-in nginx that records what it is asked and the signals it gets.
            "bin/nginx": "#!/bin/sh\necho \"args $*\" >>\"$LOG\"\nif [ \"$1\" = -g ]; then echo $$ >\"$LOG.pid\"; trap 'echo HUP >>\"$LOG\"' HUP; trap 'exit 0' TERM; while :; do sleep 0.1; done; fi\n",
            "etc-nginx/.keep": "",
        }, "archon-proxy-");
        fs.chmodSync(path.join(dir, "bin", "nginx"), 0o755);
        const log = path.join(dir, "nginx.log");
        const script = [
            `mount --bind "${dir}/etc-nginx" /etc/nginx`,
            `PATH="${dir}/bin:$PATH" DOMAINS=archon.example.com LOG="${log}" sh "${entrypoint}" >"${dir}/out" 2>&1 &`,
            "pid=$!",
            `i=0; until [ -s "${log}.pid" ] || [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done`,
            "kill -HUP \"$pid\"",
            `i=0; until grep -q '^HUP$' "${log}" || [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done`,
            `kill -KILL "$pid" "$(cat "${log}.pid")" 2>/dev/null`,
            `cat "${log}"`,
        ].join("\n");
        const ran = run("unshare", ["-m", "--propagation", "private", "sh", "-c", script]);
        assert.match(ran.output, /^args -g daemon off;$/m);
        assert.match(ran.output, /^HUP$/m, ran.output);
        fs.rmSync(dir, { recursive: true, force: true });
    });
});
