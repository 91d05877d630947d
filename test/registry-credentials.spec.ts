/**
 * Pull-only vs push registry credentials (issue 12 item 7b, issue 27 item 7). distribution's
 * htpasswd auth has no per-user permissions, so pulls and pushes are two instances over the same
 * storage: `registry.<domain>` reaches the read-only one (storage.maintenance.readonly), which
 * refuses every write itself; `registry-push.<domain>` the read-write one, whose htpasswd holds the
 * push user alone. Proved with the REAL docker-registry (Debian's distribution 2.8) started by the
 * rendered serve.sh under BusyBox sh, with the rendered configs and htpasswd files:
 * - at the registry itself (no proxy in front): the pull login reads and cannot write anywhere;
 * - Compose: the REAL nginx with the rendered proxy config in front (only listen addresses,
 *   certificate/auth file locations and the upstream address are moved into the test's directory);
 * - Kubernetes: one Ingress per host with its credential set;
 * - who gets which login: hosts and imagePullSecrets the pull user, docker.Image the push user.
 */
import * as assert from "assert";
import { ChildProcess, spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { reveal, SynthResult } from "../scripts/lib/synthesize";
import { renderIngresses, TRAEFIK_READ_PRIORITY } from "../components/kubernetes/ingress";
import { KubeObject, routeOnce, traefikEntryPoints, traefikRouters } from "./routing/traefik";
import { REGISTRY_PUSH_USER, REGISTRY_USER } from "../components/registry/registry";
import { freePort, named, plainInputs, requireTool, run, synth, writeTempFiles } from "./helpers";
import { stageRegistry, startRegistry } from "./registry-process";

const PROXY_SCRIPTS = path.join(__dirname, "..", "components", "compose", "nginx");
const STAGING_REGISTRY = "registry.staging.archon.example.com";
const STAGING_REGISTRY_PUSH = "registry-push.staging.archon.example.com";

interface Logins {
    pull: string;
    push: string;
}

function fileEnding(result: SynthResult, suffix: string): string {
    const key = Object.keys(result.files).find((k) => k.endsWith(suffix));
    assert.ok(key, `the synth renders no file ending ${suffix}; there are: ${Object.keys(result.files).join(", ")}`);
    return result.files[key];
}

function logins(result: SynthResult): Logins {
    const outputs = reveal(result.outputs) as { passwords: { registry: string }; registryPush: { username: string; password: string } };
    assert.strictEqual(outputs.registryPush.username, REGISTRY_PUSH_USER);
    return { pull: `${REGISTRY_USER}:${outputs.passwords.registry}`, push: `${REGISTRY_PUSH_USER}:${outputs.registryPush.password}` };
}


interface Answer {
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: string;
}

interface RequestOptions {
    auth?: string;
    /** Host header and SNI; default the pull host. */
    host?: string;
    body?: Buffer;
    contentType?: string;
    accept?: string;
}

function headersFor(options: RequestOptions): Record<string, string> {
    const headers: Record<string, string> = { Host: options.host ?? STAGING_REGISTRY };
    if (options.auth) headers.Authorization = `Basic ${Buffer.from(options.auth).toString("base64")}`;
    if (options.contentType) headers["Content-Type"] = options.contentType;
    if (options.accept) headers.Accept = options.accept;
    headers["Content-Length"] = String(options.body?.length ?? 0);
    return headers;
}

function answer(resolve: (a: Answer) => void) {
    return (response: http.IncomingMessage) => {
        let body = "";
        response.on("data", (chunk) => (body += chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    };
}

/** One HTTPS request to the proxy, with the registry's host name as SNI and Host header. */
function request(port: number, method: string, urlPath: string, options: RequestOptions = {}): Promise<Answer> {
    return new Promise((resolve, reject) => {
        const servername = options.host ?? STAGING_REGISTRY;
        const req = https.request({ host: "127.0.0.1", port, method, path: urlPath, headers: headersFor(options), servername, rejectUnauthorized: false }, answer(resolve));
        req.on("error", reject);
        req.end(options.body);
    });
}

/** One plain HTTP request straight to a registry instance (what a container past the proxy could send). */
function plainRequest(port: number, method: string, urlPath: string, options: RequestOptions = {}): Promise<Answer> {
    return new Promise((resolve, reject) => {
        const req = http.request({ host: "127.0.0.1", port, method, path: urlPath, headers: headersFor(options) }, answer(resolve));
        req.on("error", reject);
        req.end(options.body);
    });
}

const sha256 = (data: Buffer) => `sha256:${crypto.createHash("sha256").update(data).digest("hex")}`;

/** Path and query of a Location header (the registry writes its public https URL). */
function locationPath(answer: Answer): string {
    const location = String(answer.headers.location);
    const url = new URL(location, `https://${STAGING_REGISTRY_PUSH}`);
    return url.pathname + url.search;
}

/** Uploads one blob (POST, then PUT with the digest) through the proxy; returns the digest. */
async function pushBlob(port: number, repository: string, data: Buffer, login: { auth: string; host: string }): Promise<string> {
    const started = await request(port, "POST", `/v2/${repository}/blobs/uploads/`, login);
    assert.strictEqual(started.status, 202, started.body);
    const digest = sha256(data);
    const target = locationPath(started);
    const done = await request(port, "PUT", `${target}${target.includes("?") ? "&" : "?"}digest=${encodeURIComponent(digest)}`, { ...login, body: data, contentType: "application/octet-stream" });
    assert.strictEqual(done.status, 201, done.body);
    return digest;
}

async function waitUntil(check: () => Promise<unknown>, child: ChildProcess, name: string, output: () => string): Promise<void> {
    for (let attempt = 0; attempt < 100; attempt++) {
        if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode}:\n${output()}`);
        try {
            await check();
            return;
        } catch {
            await new Promise((resolve) => setTimeout(resolve, 100));
        }
    }
    throw new Error(`${name} did not answer:\n${output()}`);
}

describe("registry credentials: pull-only for hosts and nodes, push for the build", () => {
    const started: ChildProcess[] = [];
    const log = { text: "" };
    let workDir = "";
    let login: Logins;
    let readPort = 0;
    let pushPort = 0;
    let proxyPort = 0;
    let registryProcess: ChildProcess;
    const repository = "archon-server";
    const manifest = { mediaType: "application/vnd.docker.distribution.manifest.v2+json", body: Buffer.alloc(0), digest: "" };

    before(async function () {
        this.timeout(300_000);
        requireTool("nginx", "nginx-light");
        const result = await synth("staging");
        login = logins(result);
        workDir = writeTempFiles({
            "auth/registry-pull": fileEnding(result, "proxy/etc_nginx_auth/registry-pull"),
            "auth/registry-push": fileEnding(result, "proxy/etc_nginx_auth/registry-push"),
        }, "archon-registry-auth-");
        // nginx's workers (not root) read the htpasswd files per request.
        fs.chmodSync(workDir, 0o755);
        fs.chmodSync(path.join(workDir, "auth"), 0o755);

        readPort = await freePort();
        pushPort = await freePort();
        const staged = stageRegistry(result, path.join(workDir, "registry"), `127.0.0.1:${readPort}`, `127.0.0.1:${pushPort}`);
        registryProcess = startRegistry(staged, log);
        started.push(registryProcess);

        // The proxy: the rendered nginx.conf with its listen ports, certificate and auth
        // directories and the registry's address moved into the test's directory.
        proxyPort = await freePort();
        const plainPort = await freePort();
        const rendered = fileEnding(result, "proxy/etc_nginx_nginx.conf");
        const hosts = [...rendered.matchAll(/server_name ([a-z0-9.-]+);/g)].map((m) => m[1]);
        assert.ok(hosts.includes(STAGING_REGISTRY) && hosts.includes(STAGING_REGISTRY_PUSH), hosts.join(", "));
        for (const host of hosts) {
            const made = run("python3", [path.join(PROXY_SCRIPTS, "bootstrap-cert.py"), host, path.join(workDir, "certs", host)]);
            assert.strictEqual(made.status, 0, made.output);
        }
        const moved = rendered
            .replace("listen 80 default_server;", `listen 127.0.0.1:${plainPort} default_server;`)
            .replace("listen 443 ssl default_server;", `listen 127.0.0.1:${proxyPort} ssl default_server;`)
            .replace(/listen 443 ssl http2;/g, `listen 127.0.0.1:${proxyPort} ssl http2;`)
            .replace(/^ *listen \[::\]:.*\n/gm, "")
            .replace(/\/etc\/nginx\/certs\//g, `${workDir}/certs/`)
            .replace(/\/etc\/nginx\/auth\//g, `${workDir}/auth/`)
            .replace(/set \$backend_host registry;\n(\s*)proxy_pass http:\/\/\$backend_host:5000;/, `set $backend_host 127.0.0.1;\n$1proxy_pass http://$backend_host:${readPort};`)
            .replace(/set \$backend_host registry;\n(\s*)proxy_pass http:\/\/\$backend_host:5002;/, `set $backend_host 127.0.0.1;\n$1proxy_pass http://$backend_host:${pushPort};`);
        assert.ok(moved.includes(`:${readPort};`) && moved.includes(`:${pushPort};`), "the registry's two locations were not found in the rendered nginx.conf");
        fs.writeFileSync(path.join(workDir, "nginx.conf"), moved);
        // nginx opens /dev/stdout and /dev/stderr itself (access and error log), which fails on
        // Node's socket pipes: it writes to a file instead.
        const nginxLog = path.join(workDir, "nginx.log");
        const logFd = fs.openSync(nginxLog, "a");
        const nginx = spawn("nginx", ["-p", workDir, "-c", path.join(workDir, "nginx.conf"), "-g", `daemon off; pid ${workDir}/nginx.pid;`], { stdio: ["ignore", logFd, logFd] });
        fs.closeSync(logFd);
        started.push(nginx);
        const combined = () => `${log.text}\n--- nginx ---\n${fs.existsSync(nginxLog) ? fs.readFileSync(nginxLog, "utf8") : ""}`;

        await waitUntil(() => request(proxyPort, "GET", "/"), nginx, "nginx", combined);
        for (const host of [STAGING_REGISTRY, STAGING_REGISTRY_PUSH]) {
            await waitUntil(async () => {
                const answer = await request(proxyPort, "GET", "/v2/", { auth: login.push, host });
                if (answer.status !== 200) throw new Error(String(answer.status));
            }, registryProcess, `docker-registry behind nginx at ${host}`, combined);
        }

        // The push user pushes one image (a layer, a config, a manifest) at the push host: what the
        // pull user then reads at the pull host.
        const push = { auth: login.push, host: STAGING_REGISTRY_PUSH };
        const layer = await pushBlob(proxyPort, repository, Buffer.from("layer bytes"), push);
        const configBlob = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } }));
        const configDigest = await pushBlob(proxyPort, repository, configBlob, push);
        manifest.body = Buffer.from(JSON.stringify({
            schemaVersion: 2,
            mediaType: manifest.mediaType,
            config: { mediaType: "application/vnd.docker.container.image.v1+json", size: configBlob.length, digest: configDigest },
            layers: [{ mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", size: Buffer.from("layer bytes").length, digest: layer }],
        }));
        manifest.digest = sha256(manifest.body);
        const put = await request(proxyPort, "PUT", `/v2/${repository}/manifests/sha-1a2b3c4`, { ...push, body: manifest.body, contentType: manifest.mediaType });
        assert.strictEqual(put.status, 201, put.body + log.text);
    });

    after(() => {
        for (const child of started) if (child.exitCode === null) child.kill("SIGTERM");
        if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
    });

    const writes = () => [
        ["POST", `/v2/${repository}/blobs/uploads/`, undefined],
        ["PUT", `/v2/${repository}/manifests/sha-evil00`, manifest.body],
        ["PATCH", `/v2/${repository}/blobs/uploads/00000000-0000-0000-0000-000000000000`, Buffer.from("x")],
        ["DELETE", `/v2/${repository}/manifests/${manifest.digest}`, undefined],
    ] as const;

    describe("at the registry itself (no proxy in front)", () => {
        it("the read-only instance lets the pull user read and refuses every write, whoever asks (405)", async () => {
            const got = await plainRequest(readPort, "GET", `/v2/${repository}/manifests/sha-1a2b3c4`, { auth: login.pull, accept: manifest.mediaType });
            assert.strictEqual(got.status, 200, got.body);
            assert.strictEqual(got.headers["docker-content-digest"], manifest.digest, "the read-only instance serves what the other one wrote");
            for (const user of [login.pull, login.push]) {
                for (const [method, urlPath, body] of writes()) {
                    const answer = await plainRequest(readPort, method, urlPath, { auth: user, body, contentType: method === "PUT" ? manifest.mediaType : undefined });
                    // An upload the instance never started is unknown (404) before any write is tried.
                    assert.strictEqual(answer.status, method === "PATCH" ? 404 : 405, `${method} ${urlPath} at the read-only instance answered ${answer.status}`);
                }
            }
            // Continuing an upload the read-write instance started: its signed state does not verify here.
            const started = await plainRequest(pushPort, "POST", `/v2/${repository}/blobs/uploads/`, { auth: login.push });
            assert.strictEqual(started.status, 202);
            const continued = await plainRequest(readPort, "PATCH", locationPath(started), { auth: login.pull, body: Buffer.from("x") });
            assert.strictEqual(continued.status, 404, continued.body);
            assert.match(continued.body, /BLOB_UPLOAD_INVALID/);
        });

        it("the read-write instance does not know the pull user (401), and admits the push user", async () => {
            assert.strictEqual((await plainRequest(pushPort, "GET", "/v2/", { auth: login.pull })).status, 401);
            for (const [method, urlPath, body] of writes()) {
                const answer = await plainRequest(pushPort, method, urlPath, { auth: login.pull, body, contentType: method === "PUT" ? manifest.mediaType : undefined });
                assert.strictEqual(answer.status, 401, `${method} ${urlPath} as the pull user answered ${answer.status}`);
            }
            assert.strictEqual((await plainRequest(pushPort, "POST", `/v2/${repository}/blobs/uploads/`, { auth: login.push })).status, 202);
            // Nothing the pull user tried exists.
            assert.strictEqual((await plainRequest(readPort, "GET", `/v2/${repository}/manifests/sha-evil00`, { auth: login.push, accept: manifest.mediaType })).status, 404);
        });
    });

    describe("Compose: the real nginx (rendered config) in front", () => {
        it("refuses every request without credentials (401) on both hosts", async () => {
            for (const host of [STAGING_REGISTRY, STAGING_REGISTRY_PUSH]) {
                assert.strictEqual((await request(proxyPort, "GET", "/v2/", { host })).status, 401);
                assert.strictEqual((await request(proxyPort, "GET", `/v2/${repository}/manifests/sha-1a2b3c4`, { host })).status, 401);
                assert.strictEqual((await request(proxyPort, "POST", `/v2/${repository}/blobs/uploads/`, { host })).status, 401);
            }
        });

        it("lets the pull user read at the pull host: GET /v2/, GET and HEAD of a manifest, a blob", async () => {
            const pull = { auth: login.pull, host: STAGING_REGISTRY };
            assert.strictEqual((await request(proxyPort, "GET", "/v2/", pull)).status, 200);
            // As containerd and Docker ask for it (without Accept, distribution 2.8 tries schema 1).
            const got = await request(proxyPort, "GET", `/v2/${repository}/manifests/sha-1a2b3c4`, { ...pull, accept: manifest.mediaType });
            assert.strictEqual(got.status, 200, got.body);
            assert.strictEqual(got.headers["docker-content-digest"], manifest.digest);
            assert.strictEqual((await request(proxyPort, "HEAD", `/v2/${repository}/manifests/${manifest.digest}`, { ...pull, accept: manifest.mediaType })).status, 200);
            const blobs = JSON.parse(manifest.body.toString()) as { layers: { digest: string }[] };
            assert.strictEqual((await request(proxyPort, "GET", `/v2/${repository}/blobs/${blobs.layers[0].digest}`, pull)).status, 200);
        });

        it("refuses the pull user every write on both hosts", async () => {
            for (const host of [STAGING_REGISTRY, STAGING_REGISTRY_PUSH]) {
                for (const [method, urlPath, body] of writes()) {
                    const answer = await request(proxyPort, method, urlPath, { auth: login.pull, host, body, contentType: method === "PUT" ? manifest.mediaType : undefined });
                    assert.ok([401, 403, 404, 405].includes(answer.status), `${method} ${host}${urlPath} as the pull user answered ${answer.status}`);
                }
            }
            assert.strictEqual((await request(proxyPort, "GET", `/v2/${repository}/manifests/sha-evil00`, { auth: login.push, host: STAGING_REGISTRY, accept: manifest.mediaType })).status, 404);
        });

        it("lets the push user start an upload at the push host (202), refuses a wrong push password", async () => {
            assert.strictEqual((await request(proxyPort, "POST", `/v2/${repository}/blobs/uploads/`, { auth: login.push, host: STAGING_REGISTRY_PUSH })).status, 202);
            assert.strictEqual((await request(proxyPort, "POST", `/v2/${repository}/blobs/uploads/`, { auth: `${login.push}x`, host: STAGING_REGISTRY_PUSH })).status, 401);
        });
    });

    describe("serve.sh: one container, both instances", () => {
        it("ends the container (non-zero) when one instance ends, so both restart; stops cleanly on SIGTERM", async function () {
            this.timeout(60_000);
            const stage = async (name: string) => {
                const staged = stageRegistry(await synth("staging"), path.join(workDir, name), `127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`);
                const output = { text: "" };
                const child = startRegistry(staged, output);
                started.push(child);
                await new Promise((resolve) => setTimeout(resolve, 1500));
                assert.strictEqual(child.exitCode, null, output.text);
                return { child, output };
            };
            const exited = (child: ChildProcess) => new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once("exit", (code) => resolve(code))));

            const crash = await stage("crash");
            const instances = run("pgrep", ["-P", String(crash.child.pid), "-f", "config-push.yml"]);
            assert.strictEqual(instances.status, 0, `no read-write instance under serve.sh: ${instances.output}`);
            process.kill(Number(instances.output.trim().split("\n")[0]), "SIGKILL");
            assert.strictEqual(await exited(crash.child), 1, crash.output.text);
            assert.match(crash.output.text, /an instance ended; stopping the container so both restart/);

            const stop = await stage("stop");
            stop.child.kill("SIGTERM");
            assert.strictEqual(await exited(stop.child), 0, stop.output.text);
        });
    });

    describe("Kubernetes ingress", () => {
        const ingresses = async (overrides: Record<string, unknown> = {}) => {
            const result = await synth("production", overrides);
            const manifests = Object.entries(result.files).filter(([file]) => file.startsWith("kubernetes/")).map(([, text]) => parseYaml(text) as { kind: string; metadata: { name: string; namespace: string; annotations?: Record<string, string> }; spec: Record<string, any> });
            const forHost = (host: string) => {
                const found = manifests.filter((m) => m.kind === "Ingress" && m.spec.rules?.some((r: { host: string }) => r.host === host));
                assert.strictEqual(found.length, 1, `one Ingress for ${host}`);
                return found[0];
            };
            return { result, manifests, pull: forHost("registry.archon.example.com"), push: forHost("registry-push.archon.example.com") };
        };
        const backendPort = (ingress: { spec: Record<string, any> }) => ingress.spec.rules[0].http.paths[0].backend.service.port;

        it("Traefik: the pull host reaches the read-only instance with the pull set, the push host the read-write one with the push set", async () => {
            const { result, manifests, pull, push } = await ingresses();
            const ns = pull.metadata.namespace;
            assert.deepStrictEqual([backendPort(pull), backendPort(push)].map((p) => p.name ?? p.number), ["http", "push"]);
            // The rate limit comes before the login on both (issue 27.6).
            assert.match(pull.metadata.annotations!["traefik.ingress.kubernetes.io/router.middlewares"], new RegExp(`^${ns}-security-headers@kubernetescrd,${ns}-rate-limit@kubernetescrd,${ns}-basic-auth-registry-pull@kubernetescrd`));
            assert.match(push.metadata.annotations!["traefik.ingress.kubernetes.io/router.middlewares"], new RegExp(`^${ns}-security-headers@kubernetescrd,${ns}-rate-limit@kubernetescrd,${ns}-basic-auth-registry-push@kubernetescrd`));
            // No method split at the ingress any more: the registry refuses the writes itself.
            assert.ok(!manifests.some((m) => m.kind === "IngressRoute" && m.metadata.name.startsWith("registry")));
            for (const name of ["basic-auth-registry-pull", "basic-auth-registry-push"]) {
                const middleware = manifests.find((m) => m.kind === "Middleware" && m.metadata.name === name);
                assert.ok(middleware, `no Middleware ${name}`);
                assert.strictEqual(middleware.spec.basicAuth.removeHeader, false, "the registry checks the login again: the ingress forwards it");
                assert.strictEqual(middleware.spec.basicAuth.secret, name.replace("basic-auth-", "") + "-htpasswd");
            }
            const secretUsers = (name: string) => String(plainInputs(named(result, "kubernetes:core/v1:Secret", `${ns}-${name}`)).stringData.users).trim().split("\n").map((line) => line.split(":")[0]);
            assert.deepStrictEqual(secretUsers("registry-push-htpasswd"), [REGISTRY_PUSH_USER]);
            assert.deepStrictEqual(secretUsers("registry-pull-htpasswd"), [REGISTRY_USER, REGISTRY_PUSH_USER]);
        });

        it("Traefik's method split (routes with writeAuth) outranks the Ingress router whatever its rule's length, and leaves the ACME challenge to the solver", () => {
            const host = `registry.${"x".repeat(200)}.example.com`;
            const auth = (name: string) => ({ name, realm: "r", htpasswd: "u:$2y$10$x\n" });
            const manifests = renderIngresses([{ name: "registry", group: "registry", ports: [{ name: "http", port: 5000 }], routes: [{ host, path: "/", port: 5000, basicAuth: auth("pull"), writeAuth: auth("push") }] }], { controller: "traefik" });
            const ingressRuleLength = `Host(\`${host}\`) && PathPrefix(\`/\`)`.length;
            assert.ok(TRAEFIK_READ_PRIORITY > ingressRuleLength);
            const read = manifests.find((m) => m.kind === "IngressRoute");
            assert.ok(read);
            const objects = manifests as unknown as KubeObject[];
            const eps = traefikEntryPoints(objects);
            const routers = traefikRouters(objects, eps);
            const at = (path: string) => routeOnce(routers, objects, eps, { scheme: "https", port: 443, host, path, method: "GET" });
            const v2 = at("/v2/");
            assert.ok(v2.kind === "served" && v2.router.priority === BigInt(TRAEFIK_READ_PRIORITY), "reads meet the read router");
            const acme = at("/.well-known/acme-challenge/token");
            assert.ok(acme.kind === "served" && acme.router.priority < BigInt(TRAEFIK_READ_PRIORITY), "the challenge path is not the read router's (its priority would beat the solver's)");
        });

        it("ingress-nginx: the same two hosts and sets, so the pull login cannot push there either", async () => {
            const { pull, push } = await ingresses({ ingressController: "ingress-nginx" });
            assert.strictEqual(pull.metadata.annotations!["nginx.ingress.kubernetes.io/auth-secret"], "registry-pull-htpasswd");
            assert.strictEqual(push.metadata.annotations!["nginx.ingress.kubernetes.io/auth-secret"], "registry-push-htpasswd");
        });
    });

    describe("who holds which login", () => {
        it("the Compose host's Docker config and the imagePullSecret hold the pull user; the push password is nowhere but the build", async () => {
            const staging = await synth("staging");
            const stagingLogins = logins(staging);
            const hostConfig = JSON.parse(plainInputs(named(staging, "command:remote:Command", "docker-login")).stdin) as { auths: Record<string, { auth: string }> };
            assert.strictEqual(Buffer.from(hostConfig.auths[STAGING_REGISTRY].auth, "base64").toString(), stagingLogins.pull);

            const production = await synth("production");
            const productionLogins = logins(production);
            const pullSecret = plainInputs(named(production, "kubernetes:core/v1:Secret", "registry-credentials"));
            const dockerConfig = JSON.parse(pullSecret.stringData[".dockerconfigjson"]) as { auths: Record<string, { auth?: string; username?: string; password?: string }> };
            const entry = dockerConfig.auths["registry.archon.example.com"];
            const decoded = entry.auth ? Buffer.from(entry.auth, "base64").toString() : `${entry.username}:${entry.password}`;
            assert.strictEqual(decoded, productionLogins.pull);

            // The push password appears in no resource input of either stack (buildImages false):
            // only the registryPush output and the hashes of it (ingress, registry) know of it.
            for (const [result, pushLogin] of [[staging, stagingLogins.push], [production, productionLogins.push]] as const) {
                const pushPassword = pushLogin.slice(REGISTRY_PUSH_USER.length + 1);
                const holders = result.resources.filter((r) => r.type !== "random:index/randomPassword:RandomPassword" && JSON.stringify(r.inputs).includes(pushPassword)).map((r) => r.name);
                assert.deepStrictEqual(holders, []);
            }
        });
    });
});
