/**
 * The staging host (issue 18), on the staging synth: the project reaches the host as a path-based
 * archive whose content hash drives the re-run; the real nginx starts with exactly the proxy's
 * capabilities and no upstream resolvable (answering 502); current Hetzner server types and the
 * memory budget; a hash label per service so config changes recreate exactly their services;
 * the docker.service drop-in and pinned Docker packages in cloud-init.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { contentHash } from "../components/compose/delivery";
import { FILES_HASH_LABEL, composeReservedMemoryMib } from "../components/compose/project";
import { PROXY_CAPABILITIES } from "../components/compose/proxy";
import { DATA_MOUNT, DOCKER_PACKAGES } from "../components/hetzner/cloud-init";
import { HETZNER_SERVER_TYPES, PRODUCTION_DENIED_SERVER_TYPES, memoryBudgetProblem, reservableMemoryMib, typesThatFit } from "../components/hetzner/server-types";
import { SynthMocks } from "../scripts/lib/mocks";
import { SynthConfigError, SynthResult } from "../scripts/lib/synthesize";
import { hetznerServerTypes } from "../policies/rules/hetzner-server-types";
import { named, plainInputs, requireTool, run, synth, synthAgain, writeTempFiles } from "./helpers";

const COPY = "command:remote:CopyToRemote";
const PROXY_SCRIPTS = path.join(__dirname, "..", "components", "compose", "nginx");

interface ComposeService {
    labels?: Record<string, string>;
    volumes?: string[];
    cap_drop?: string[];
    cap_add?: string[];
    user?: string;
    environment?: Record<string, string>;
    mem_reservation?: string;
}

/** The project files of a synth (non-secret ones: what CopyToRemote delivers), relative to the project. */
function deliveredFiles(result: SynthResult): Record<string, string> {
    return Object.fromEntries(Object.entries(result.files)
        .filter(([file]) => file.startsWith("project/") && !file.startsWith("project/env/") && !file.startsWith("project/secrets/"))
        .map(([file, text]) => [file.slice("project/".length), text]));
}

function composeServices(result: SynthResult): Record<string, ComposeService> {
    return parseYaml(result.files["project/docker-compose.yml"]).services;
}

describe("staging host: project delivery", () => {
    it("hands CopyToRemote a path-based archive: a directory holding exactly the project's files", async () => {
        const result = await synth("staging");
        const source = named(result, COPY, "project").inputs.source as { $archive: Record<string, unknown> };
        const dir = source.$archive.path;
        assert.equal(typeof dir, "string", `source is not a path archive: ${JSON.stringify(source)}`);
        assert.equal(source.$archive.assets, undefined, "no in-memory assets: pulumi-command refuses them");
        assert.equal(source.$archive.uri, undefined);
        // The trailing slash makes CopyToRemote copy the directory's contents into remotePath.
        assert.ok((dir as string).endsWith("/"));
        assert.ok(fs.statSync(dir as string).isDirectory());
        const onDisk: Record<string, string> = {};
        for (const entry of fs.readdirSync(dir as string, { recursive: true, withFileTypes: true })) {
            if (entry.isFile()) onDisk[path.relative(dir as string, path.join(entry.parentPath, entry.name))] = fs.readFileSync(path.join(entry.parentPath, entry.name), "utf8");
        }
        const files = deliveredFiles(result);
        assert.deepEqual(Object.keys(onDisk).sort(), Object.keys(files).sort());
        for (const file of Object.keys(files)) assert.equal(onDisk[file], files[file], file);
        assert.ok(!Object.keys(onDisk).some((f) => f.startsWith("env/") || f.startsWith("secrets/")), "secret files never go to the local disk");
    });

    it("derives the directory and the re-run triggers from the content hash, deterministically", async () => {
        const first = await synth("staging");
        const again = await synthAgain("staging");
        const changed = await synth("staging", { logsRetentionDays: 9 });
        const hashOf = (r: SynthResult) => contentHash(deliveredFiles(r));
        const copyOf = (r: SynthResult) => plainInputs(named(r, COPY, "project"));
        assert.equal(copyOf(first).triggers[0], hashOf(first));
        assert.ok(String(copyOf(first).source.$archive.path).includes(hashOf(first).slice(0, 32)));
        assert.deepEqual(copyOf(again), copyOf(first), "the same project gives the same inputs: a re-run diffs nothing");
        assert.notEqual(copyOf(changed).triggers[0], copyOf(first).triggers[0]);
        assert.notEqual(copyOf(changed).source.$archive.path, copyOf(first).source.$archive.path);
        const upOf = (r: SynthResult) => plainInputs(named(r, "command:remote:Command", "compose-up")).triggers;
        assert.deepEqual(upOf(again), upOf(first));
        assert.notDeepEqual(upOf(changed), upOf(first), "a changed file runs `compose up` again");
    });
});

/**
 * The staging synth as it would run against a replaced server: the mock hands the Hetzner server
 * another ID (a real replacement gets a new one), everything else is as in `synth("staging")`.
 */
async function synthWithReplacedServer(): Promise<SynthResult> {
    const newResource = SynthMocks.prototype.newResource;
    SynthMocks.prototype.newResource = function (this: SynthMocks, args) {
        const result = newResource.call(this, args);
        return args.type === "hcloud:index/server:Server" ? { ...result, id: `${result.id}7` } : result;
    };
    try {
        return await synthAgain("staging");
    } finally {
        SynthMocks.prototype.newResource = newResource;
    }
}

describe("staging host: a replaced server gets its project back (issue 22 item 7)", () => {
    it("a new server ID re-runs every step that leaves state on the host, and changes nothing else", async () => {
        const before = await synth("staging");
        const after = await synthWithReplacedServer();
        const inputsOf = (r: SynthResult) => new Map(r.resources.map((resource) => [resource.urn, JSON.stringify(resource.inputs)]));
        const [was, is] = [inputsOf(before), inputsOf(after)];
        assert.deepEqual([...is.keys()].sort(), [...was.keys()].sort(), "the same resources");
        const changed = after.resources.filter((r) => is.get(r.urn) !== was.get(r.urn)).map((r) => `${r.type} ${r.name}`).sort();
        const all = (test: (r: SynthResult["resources"][number]) => boolean) => before.resources.filter(test).map((r) => `${r.type} ${r.name}`);
        const expected = [
            // What pulumi-command re-runs only when its triggers change: the volume mount, the
            // daemon.json step, the pull login, each secret file, the project copies (CopyToRemote
            // never re-runs for a new host by itself) and `compose up` (edge-up too, when building).
            ...all((r) => r.type === "command:remote:Command" && ["mount-data", "docker-daemon-config", "docker-login", "compose-up", "edge-up"].includes(r.name)),
            ...all((r) => r.type === "command:remote:Command" && r.name.startsWith("secret-")),
            ...all((r) => r.type === "command:remote:CopyToRemote"),
            // The attachments that name the server (replaced with it in a real deploy).
            ...all((r) => r.type.startsWith("hcloud:") && "serverId" in r.inputs),
        ].sort();
        for (const step of ["mount-data", "docker-daemon-config", "docker-login", "compose-up", "secret-env-auth.env"]) assert.ok(expected.includes(`command:remote:Command ${step}`), step);
        assert.ok(expected.includes("command:remote:CopyToRemote project"));
        assert.deepEqual(changed, expected);
        for (const [type, name] of [["command:remote:CopyToRemote", "project"], ["command:remote:Command", "compose-up"], ["command:remote:Command", "docker-login"]]) {
            const triggers = (r: SynthResult) => plainInputs(named(r, type, name)).triggers as unknown[];
            assert.notDeepEqual(triggers(after), triggers(before), `${name}'s triggers follow the server`);
        }
    });
});

describe("staging host: config changes reach exactly their services", () => {
    it("labels each service with the hash of its mounted files; a change relabels that service only", async () => {
        const before = composeServices(await synth("staging"));
        const after = composeServices(await synth("staging", { logsRetentionDays: 9 }));
        for (const [name, service] of Object.entries(before)) {
            const mountsFiles = (service.volumes ?? []).some((v) => v.startsWith("./config/") || v.startsWith("./secrets/"));
            assert.equal(Boolean(service.labels?.[FILES_HASH_LABEL]), mountsFiles, `${name}: label iff it mounts project files`);
        }
        const differing = Object.keys(before).filter((name) => JSON.stringify(before[name]) !== JSON.stringify(after[name]));
        // logsRetentionDays changes Loki's config file only: Compose recreates loki and nothing else.
        assert.deepEqual(differing, ["loki"]);
        assert.notEqual(before.loki.labels?.[FILES_HASH_LABEL], after.loki.labels?.[FILES_HASH_LABEL]);
    });

    it("mounts secret files (replaced by mv, a new inode) as directories, single files only when never replaced", async () => {
        const result = await synth("staging");
        const registry = composeServices(result).registry;
        assert.ok(registry.volumes?.includes("./secrets/registry/auth:/auth:ro"), JSON.stringify(registry.volumes));
        assert.ok(result.files["project/secrets/registry/auth/htpasswd"]);
        for (const [name, service] of Object.entries(composeServices(result))) {
            for (const volume of service.volumes ?? []) {
                if (!volume.startsWith("./secrets/")) continue;
                const source = volume.split(":")[0].slice(2);
                // The one exception: pgsodium's root key, written once from a RandomId that nothing
                // rotates, beside the image's own files in /etc/postgresql-custom (supabase-containers.spec.ts).
                if (name === "db" && source === "secrets/db/etc_postgresql-custom_pgsodium_root.key") continue;
                assert.ok(!(`project/${source}` in result.files), `${name}: ${source} is a single-file mount of a secret file`);
            }
        }
        // The secret file's text never reaches the compose file, only its hash.
        assert.ok(!result.files["project/docker-compose.yml"].includes(result.files["project/secrets/registry/auth/htpasswd"].trim()));
    });
});

/**
 * Runs the REAL nginx on the staging synth's nginx.conf as the proxy container runs it: root with
 * only `capabilities` (bounding set; Docker's cap_drop ALL + cap_add), no-new-privs, in its own
 * network namespace where, as Docker does, unprivileged ports start at 0, with a private /etc/hosts
 * naming no upstream and no DNS server at 127.0.0.11. Then requests over the namespace's loopback.
 */
function runProxy(conf: string, hosts: string[], capabilities: readonly string[], requests: string, authFiles: Record<string, string> = {}): { status: number | null; output: string } {
    requireTool("nginx", "nginx-light");
    requireTool("unshare", "util-linux");
    requireTool("setpriv", "util-linux");
    requireTool("curl", "curl");
    requireTool("ip", "iproute2");
    requireTool("python3", "python3-cryptography");
    const dir = writeTempFiles({
        "etc-nginx/nginx.conf": conf,
        "etc-nginx/mime.types": fs.readFileSync("/etc/nginx/mime.types", "utf8"),
        hosts: "127.0.0.1 localhost\n",
        "var-lib-nginx/.keep": "",
        // The htpasswd files, as the compose file mounts their directory at /etc/nginx/auth.
        "nginx-auth/.keep": "",
        ...Object.fromEntries(Object.entries(authFiles).map(([name, text]) => [`nginx-auth/${name}`, text])),
    }, "archon-proxy-run-");
    fs.chmodSync(dir, 0o755);
    fs.chmodSync(path.join(dir, "var-lib-nginx"), 0o755);
    // Delivered owned by the worker uid, 0440, in a 0711 directory (write-secret-file.sh; ingress-auth.spec.ts runs it).
    // Debian's nginx runs its workers as nobody where the image's run as 101.
    fs.chmodSync(path.join(dir, "nginx-auth"), 0o711);
    for (const name of Object.keys(authFiles)) {
        fs.chownSync(path.join(dir, "nginx-auth", name), 65534, 65534);
        fs.chmodSync(path.join(dir, "nginx-auth", name), 0o440);
    }
    for (const host of hosts) {
        const made = run("python3", [path.join(PROXY_SCRIPTS, "bootstrap-cert.py"), host, path.join(dir, "etc-nginx", "certs", host)]);
        assert.equal(made.status, 0, made.output);
    }
    const bounding = ["-all", ...capabilities.map((c) => `+${c.toLowerCase()}`)].join(",");
    const script = [
        "set -u",
        "ip link set lo up",
        "sysctl -q -w net.ipv4.ip_unprivileged_port_start=0",
        `mount --bind "${dir}/hosts" /etc/hosts`,
        `mount --bind "${dir}/etc-nginx" /etc/nginx`,
        `mkdir -p /etc/nginx/auth && mount --bind "${dir}/nginx-auth" /etc/nginx/auth`,
        // Debian's nginx keeps its temp directories here (the image: /var/cache/nginx); nginx chowns them.
        `mount --bind "${dir}/var-lib-nginx" /var/lib/nginx`,
        `trap 'kill -TERM "$(cat "${dir}/nginx.pid" 2>/dev/null)" 2>/dev/null; sleep 0.3' EXIT`,
        `setpriv --bounding-set ${bounding} --inh-caps -all --ambient-caps -all --no-new-privs nginx -e "${dir}/error.log" -c /etc/nginx/nginx.conf -g "pid ${dir}/nginx.pid; user nobody nogroup;" >"${dir}/start.log" 2>&1`,
        "started=$?",
        `cat "${dir}/start.log" "${dir}/error.log" 2>/dev/null`,
        'echo "started=$started"',
        '[ "$started" -eq 0 ] || exit 1',
        requests,
    ].join("\n");
    const result = run("unshare", ["-m", "-n", "--propagation", "private", "sh", "-c", script]);
    fs.rmSync(dir, { recursive: true, force: true });
    return result;
}

describe("staging host: the proxy (real nginx)", () => {
    const proxyOf = async () => {
        const result = await synth("staging");
        const proxy = composeServices(result).proxy;
        const prefix = "project/secrets/proxy/etc_nginx_auth/";
        const authFiles = Object.fromEntries(Object.entries(result.files).filter(([file]) => file.startsWith(prefix)).map(([file, text]) => [file.slice(prefix.length), text]));
        const unwrap = <T>(v: unknown): T => ((v as { $secret?: T })?.$secret ?? v) as T;
        const ui = unwrap<{ user: string; password: string }>(unwrap<{ ui: unknown }>(result.outputs.archonAccess).ui);
        return {
            conf: result.files["project/config/proxy/etc_nginx_nginx.conf"], proxy, hosts: String(proxy.environment?.DOMAINS).split(" "), authFiles,
            uiAuthorization: `Authorization: Basic ${Buffer.from(`${ui.user}:${ui.password}`).toString("base64")}`,
        };
    };
    // The Archon UI's host is behind the login: the request carries its credentials, so the 502 is the upstream's.
    const requests = (host: string, authorization = "") => [
        'i=0; until curl -s -o /dev/null http://127.0.0.1/healthz || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done',
        'echo "healthz=$(curl -s -o /dev/null -w "%{http_code}" http://127.0.0.1/healthz)"',
        `echo "app=$(curl -sk -o /dev/null -w "%{http_code}" --max-time 20 ${authorization ? `-H '${authorization}'` : ""} --resolve ${host}:443:127.0.0.1 https://${host}/api/health)"`,
    ].join("\n");

    it("adds back exactly CHOWN, SETUID and SETGID after dropping every capability", async () => {
        const { proxy } = await proxyOf();
        assert.deepEqual(proxy.cap_drop, ["ALL"]);
        assert.deepEqual(proxy.cap_add, ["CHOWN", "SETUID", "SETGID"]);
        assert.deepEqual([...PROXY_CAPABILITIES], proxy.cap_add);
        assert.equal(proxy.user, undefined, "the master runs as the image's root and steps down to nginx for its workers");
    });

    it("starts with those capabilities and no upstream resolvable, serves /healthz and answers 502 for the apps", async () => {
        const { conf, proxy, hosts, authFiles, uiAuthorization } = await proxyOf();
        const archon = hosts.find((h) => h.startsWith("archon."))!;
        assert.deepEqual(Object.keys(authFiles).sort(), ["archon-mcp", "archon-ui", "registry-pull", "registry-push"]);
        const result = runProxy(conf, hosts, proxy.cap_add ?? [], requests(archon, uiAuthorization), authFiles);
        assert.match(result.output, /started=0/, result.output);
        assert.match(result.output, /healthz=200/, result.output);
        assert.match(result.output, /app=502/, result.output);
    });

    it("cannot start without CHOWN (the capability check is real)", async () => {
        const { conf, hosts } = await proxyOf();
        const result = runProxy(conf, hosts, ["SETUID", "SETGID"], requests(hosts[0]));
        assert.doesNotMatch(result.output, /started=0/, result.output);
        assert.match(result.output, /chown\(.*\) failed \(1: Operation not permitted\)/, result.output);
    });

    it("resolves every upstream per request and passes the request URI unchanged", async () => {
        const { conf } = await proxyOf();
        assert.match(conf, /^\s*resolver 127\.0\.0\.11 /m);
        const passes = conf.split("\n").filter((l) => l.includes("proxy_pass"));
        assert.ok(passes.length >= 5, conf);
        // A variable host and no URI part: nginx passes the client's URI as is (no prefix stripping).
        // The registry's location writes its host literally, because `set` is not inherited inside
        // its limit_except block; the URI is then the variable $request_uri, so nginx still resolves
        // the host per request and passes the client's URI unchanged.
        for (const line of passes) assert.match(line, /^\s*proxy_pass http:\/\/(\$backend_host:\d+|registry:\d+\$request_uri);$/, line);
    });
});

describe("staging host: Hetzner server types and memory", () => {
    it("knows only current types, and config, policy and stacks use that one table", async () => {
        for (const removed of ["cpx11", "cpx21", "cpx31", "cpx41", "cpx51", "cx22", "cx32", "cx42", "cx52"]) {
            assert.ok(!(removed in HETZNER_SERVER_TYPES), `${removed} was removed from Hetzner's API`);
            await assert.rejects(synth("staging", { serverType: removed }), (err: unknown) => err instanceof SynthConfigError && /not a known Hetzner server type/.test(err.message));
        }
        assert.equal(plainInputs(named(await synth("staging"), "hcloud:index/server:Server", "compose")).serverType, "cx33");
        const production = (await synth("production")).resources.filter((r) => r.type === "hcloud:index/server:Server").map((r) => plainInputs(r).serverType);
        assert.deepEqual([...new Set(production)].sort(), ["cpx32", "cpx42"]);
        for (const type of production) assert.ok(!PRODUCTION_DENIED_SERVER_TYPES.includes(type));
        const violations: string[] = [];
        const args = (serverType: string) => ({ type: "hcloud:index/server:Server", props: { serverType }, urn: "urn:pulumi:staging::archon-infra::hcloud:index/server:Server::x", name: "x", getConfig: () => ({}) });
        const validate = hetznerServerTypes.validateResource as (a: unknown, report: (m: string) => void) => void;
        validate(args("cpx21"), (m) => violations.push(m));
        validate(args("cx33"), (m) => violations.push(m));
        assert.equal(violations.length, 1);
        assert.match(violations[0], /server type cpx21 is not allowed/);
    });

    it("keeps the host's memory reservations within each type's budget, naming the smallest that fits", async () => {
        const services = composeServices(await synth("staging"));
        const reserved = Object.values(services).reduce((sum, s) => sum + (s.mem_reservation ? Number.parseInt(s.mem_reservation, 10) * (s.mem_reservation.endsWith("g") ? 1024 : 1) : 0), 0);
        assert.ok(reserved > 3000, `${reserved} MiB reserved`);
        // Each type's budget: memory less the host's own GiB, 80% of the rest for reservations.
        assert.equal(reservableMemoryMib("cx23"), Math.floor((4 * 1024 - 1024) * 0.8));
        assert.equal(reservableMemoryMib("cx33"), Math.floor((8 * 1024 - 1024) * 0.8));
        for (const [type, spec] of Object.entries(HETZNER_SERVER_TYPES)) {
            assert.equal(memoryBudgetProblem(type, reserved, spec.locations[0]) === null, reservableMemoryMib(type) >= reserved, type);
        }
        assert.equal(typesThatFit(reserved, "fsn1", "x86")[0], "cx33");
        assert.equal(typesThatFit(reserved, "ash", "x86")[0], "cpx32");
        assert.equal(memoryBudgetProblem("cx33", reserved, "fsn1"), null, "staging's type fits");
        await assert.rejects(synth("staging", { serverType: "cx23" }), (err: unknown) =>
            err instanceof SynthConfigError && err.resourcesRegistered === 0 && new RegExp(`serverType = "cx23": cx23 \\(4 GB\\) leaves \\d+ MiB for containers, but the Compose services reserve ${reserved} MiB \\(largest: [^)]+\\); use cx33 \\(or cpx32, ccx13\\): pulumi config set serverType cx33$`).test(err.message));
        await assert.rejects(synth("staging", { serverType: "cpx22", location: "ash" }), /use cpx32/);
        assert.equal(composeReservedMemoryMib([]), 0);
    });
});

describe("staging host: boot and host software (cloud-init)", () => {
    it("orders docker.service after the data volume's mount (drop-in), and passes the real `cloud-init schema`", async () => {
        requireTool("cloud-init", "cloud-init");
        const userData = (await synth("staging")).files["cloud-init/compose.yaml"];
        const config = parseYaml(userData) as { write_files: { path: string; content: string }[]; runcmd: string[][] };
        const dropIn = config.write_files.find((f) => f.path === "/etc/systemd/system/docker.service.d/10-archon-data-mount.conf");
        assert.ok(dropIn, "no docker.service drop-in");
        assert.match(dropIn.content, new RegExp(`^\\[Unit\\]\\nRequiresMountsFor=${DATA_MOUNT}$`, "m"));
        const mountScript = plainInputs(named(await synth("staging"), "command:remote:Command", "mount-data")).create as string;
        assert.match(mountScript, new RegExp(`export DATA_DIR='${DATA_MOUNT}'`), "the drop-in names the directory the volume is mounted at");
        assert.match(mountScript, /nofail[\s\S]*systemctl daemon-reload/, "systemd learns the fstab mount unit");
        const dir = writeTempFiles({ "compose.yaml": userData });
        const checked = run("cloud-init", ["schema", "--config-file", path.join(dir, "compose.yaml")]);
        assert.equal(checked.status, 0, checked.output);
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("installs Docker Engine and the Compose plugin in pinned versions from Docker's repository, recorded in the outputs", async () => {
        const result = await synth("staging");
        const config = parseYaml(result.files["cloud-init/compose.yaml"]) as { packages: (string | string[])[]; apt: { sources: Record<string, { source: string; keyid: string }> }; runcmd: string[][] };
        const pinned = Object.fromEntries(config.packages.filter(Array.isArray).map(([name, version]) => [name, version]));
        assert.deepEqual(pinned, { ...DOCKER_PACKAGES });
        for (const version of Object.values(pinned)) assert.match(version, /^(\d+:)?\d+\.\d+\.\d+-1~ubuntu\.24\.04~noble$/);
        assert.ok(!config.packages.includes("docker.io"), "no unpinned distribution Docker beside it");
        assert.match(config.apt.sources.docker.source, /^deb \[signed-by=\$KEY_FILE\] https:\/\/download\.docker\.com\/linux\/ubuntu \$RELEASE stable$/);
        assert.deepEqual(config.runcmd.find((c) => c[0] === "apt-mark"), ["apt-mark", "hold", ...Object.keys(DOCKER_PACKAGES)]);
        assert.deepEqual(result.outputs.hostSoftware, { ...DOCKER_PACKAGES });
        assert.equal((await synth("production")).outputs.hostSoftware, null, "null on k3s: no Compose host");
    });
});
