/**
 * Pull-only vs push registry credentials (issue 12 item 7b). distribution's htpasswd auth has no
 * per-user permissions, so the split is enforced at the ingress:
 * - Compose: the REAL nginx, running the proxy config exactly as rendered (only listen addresses,
 *   certificate/auth file locations and the upstream address are moved into the test's temp
 *   directory), in front of the REAL docker-registry (Debian's distribution 2.8) with its rendered
 *   config and htpasswd. The pull user reads, gets 401 on every write; the push user pushes.
 * - Kubernetes/Traefik: the Ingress (every method) requires the push set, a GET/HEAD IngressRoute
 *   of higher priority the read set; ingress-nginx keeps the read set and the program warns.
 * - Who gets which login: hosts and imagePullSecrets the pull user, docker.Image the push user.
 */
import * as assert from "assert";
import { ChildProcess, spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as https from "https";
import * as path from "path";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { reveal, SynthResult } from "../scripts/lib/synthesize";
import { renderIngresses, TRAEFIK_READ_PRIORITY } from "../components/kubernetes/ingress";
import { KubeObject, routeOnce, traefikEntryPoints, traefikRouters } from "./routing/traefik";
import { REGISTRY_PUSH_USER, REGISTRY_USER } from "../components/registry/registry";
import { freePort, named, ofType, plainInputs, requireTool, run, synth, writeTempFiles } from "./helpers";

const PROXY_SCRIPTS = path.join(__dirname, "..", "components", "compose", "nginx");
const STAGING_REGISTRY = "registry.staging.archon.example.com";

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

/** One HTTPS request to the proxy, with the registry's host name as SNI and Host header. */
function request(port: number, method: string, urlPath: string, options: { auth?: string; body?: Buffer; contentType?: string; accept?: string } = {}): Promise<Answer> {
    return new Promise((resolve, reject) => {
        const headers: Record<string, string> = { Host: STAGING_REGISTRY };
        if (options.auth) headers.Authorization = `Basic ${Buffer.from(options.auth).toString("base64")}`;
        if (options.contentType) headers["Content-Type"] = options.contentType;
        if (options.accept) headers.Accept = options.accept;
        headers["Content-Length"] = String(options.body?.length ?? 0);
        const req = https.request({ host: "127.0.0.1", port, method, path: urlPath, headers, servername: STAGING_REGISTRY, rejectUnauthorized: false }, (response) => {
            let body = "";
            response.on("data", (chunk) => (body += chunk));
            response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
        });
        req.on("error", reject);
        req.end(options.body);
    });
}

const sha256 = (data: Buffer) => `sha256:${crypto.createHash("sha256").update(data).digest("hex")}`;

/** Path and query of a Location header (the registry writes its public https URL). */
function locationPath(answer: Answer): string {
    const location = String(answer.headers.location);
    const url = new URL(location, `https://${STAGING_REGISTRY}`);
    return url.pathname + url.search;
}

/** Uploads one blob (POST, then PUT with the digest) as `auth`; returns the digest. */
async function pushBlob(port: number, repository: string, data: Buffer, auth: string): Promise<string> {
    const started = await request(port, "POST", `/v2/${repository}/blobs/uploads/`, { auth });
    assert.strictEqual(started.status, 202, started.body);
    const digest = sha256(data);
    const target = locationPath(started);
    const done = await request(port, "PUT", `${target}${target.includes("?") ? "&" : "?"}digest=${encodeURIComponent(digest)}`, { auth, body: data, contentType: "application/octet-stream" });
    assert.strictEqual(done.status, 201, done.body);
    return digest;
}

async function waitUntil(check: () => Promise<unknown>, process: ChildProcess, name: string, output: () => string): Promise<void> {
    for (let attempt = 0; attempt < 100; attempt++) {
        if (process.exitCode !== null) throw new Error(`${name} exited ${process.exitCode}:\n${output()}`);
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
    describe("Compose: the real nginx (rendered config) in front of the real docker-registry", () => {
        const started: ChildProcess[] = [];
        let output = "";
        let workDir = "";
        let proxyPort = 0;
        let login: Logins;
        const repository = "archon-server";
        const manifest = { mediaType: "application/vnd.docker.distribution.manifest.v2+json", body: Buffer.alloc(0), digest: "" };

        before(async function () {
            this.timeout(300_000);
            const registryBinary = requireTool("docker-registry", "docker-registry");
            requireTool("nginx", "nginx-light");
            const result = await synth("staging");
            login = logins(result);
            workDir = writeTempFiles({
                "registry/config.yml": fileEnding(result, "registry/etc_docker_registry_config.yml"),
                "registry/htpasswd": fileEnding(result, "registry/auth/htpasswd"),
                "auth/registry-pull": fileEnding(result, "proxy/etc_nginx_auth/registry-pull"),
                "auth/registry-push": fileEnding(result, "proxy/etc_nginx_auth/registry-push"),
            }, "archon-registry-auth-");
            // nginx's workers (not root) read the htpasswd files per request.
            fs.chmodSync(workDir, 0o755);
            fs.chmodSync(path.join(workDir, "auth"), 0o755);

            // The registry: only listen addresses and on-disk locations change.
            const registryPort = await freePort();
            const config = parseYaml(fs.readFileSync(path.join(workDir, "registry/config.yml"), "utf8")) as {
                http: { addr: string; debug: { addr: string } };
                storage: { filesystem: { rootdirectory: string } };
                auth: { htpasswd: { path: string } };
            };
            config.http.addr = `127.0.0.1:${registryPort}`;
            config.http.debug.addr = `127.0.0.1:${await freePort()}`;
            config.storage.filesystem.rootdirectory = path.join(workDir, "registry", "data");
            config.auth.htpasswd.path = path.join(workDir, "registry", "htpasswd");
            fs.writeFileSync(path.join(workDir, "registry", "config.yml"), toYaml(config));
            const registry = spawn(registryBinary, ["serve", path.join(workDir, "registry", "config.yml")], { stdio: ["ignore", "pipe", "pipe"] });
            started.push(registry);
            registry.stdout?.on("data", (chunk) => (output += chunk));
            registry.stderr?.on("data", (chunk) => (output += chunk));

            // The proxy: the rendered nginx.conf with its listen ports, certificate and auth
            // directories and the registry's address moved into the test's directory.
            proxyPort = await freePort();
            const plainPort = await freePort();
            const rendered = fileEnding(result, "proxy/etc_nginx_nginx.conf");
            const hosts = [...rendered.matchAll(/server_name ([a-z0-9.-]+);/g)].map((m) => m[1]);
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
                .replace("proxy_pass http://registry:5000$request_uri;", `proxy_pass http://127.0.0.1:${registryPort}$request_uri;`);
            assert.ok(moved.includes(`proxy_pass http://127.0.0.1:${registryPort}$request_uri;`), "the registry's location was not found in the rendered nginx.conf");
            fs.writeFileSync(path.join(workDir, "nginx.conf"), moved);
            // nginx opens /dev/stdout and /dev/stderr itself (access and error log), which fails on
            // Node's socket pipes: it writes to a file instead.
            const nginxLog = path.join(workDir, "nginx.log");
            const logFd = fs.openSync(nginxLog, "a");
            const nginx = spawn("nginx", ["-p", workDir, "-c", path.join(workDir, "nginx.conf"), "-g", `daemon off; pid ${workDir}/nginx.pid;`], { stdio: ["ignore", logFd, logFd] });
            fs.closeSync(logFd);
            started.push(nginx);
            const combined = () => `${output}\n--- nginx ---\n${fs.existsSync(nginxLog) ? fs.readFileSync(nginxLog, "utf8") : ""}`;

            await waitUntil(() => request(proxyPort, "GET", "/"), nginx, "nginx", combined);
            await waitUntil(async () => {
                const answer = await request(proxyPort, "GET", "/v2/", { auth: login.pull });
                if (answer.status !== 200) throw new Error(String(answer.status));
            }, registry, "docker-registry behind nginx", combined);

            // The push user pushes one image (a layer, a config, a manifest): what the pull user then reads.
            const layer = await pushBlob(proxyPort, repository, Buffer.from("layer bytes"), login.push);
            const configBlob = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } }));
            const configDigest = await pushBlob(proxyPort, repository, configBlob, login.push);
            manifest.body = Buffer.from(JSON.stringify({
                schemaVersion: 2,
                mediaType: manifest.mediaType,
                config: { mediaType: "application/vnd.docker.container.image.v1+json", size: configBlob.length, digest: configDigest },
                layers: [{ mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", size: Buffer.from("layer bytes").length, digest: layer }],
            }));
            manifest.digest = sha256(manifest.body);
            const put = await request(proxyPort, "PUT", `/v2/${repository}/manifests/sha-1a2b3c4`, { auth: login.push, body: manifest.body, contentType: manifest.mediaType });
            assert.strictEqual(put.status, 201, put.body + output);
        });

        after(() => {
            for (const process of started) process.kill("SIGTERM");
            if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
        });

        it("refuses every request without credentials (401)", async () => {
            assert.strictEqual((await request(proxyPort, "GET", "/v2/")).status, 401);
            assert.strictEqual((await request(proxyPort, "GET", `/v2/${repository}/manifests/sha-1a2b3c4`)).status, 401);
            assert.strictEqual((await request(proxyPort, "POST", `/v2/${repository}/blobs/uploads/`)).status, 401);
        });

        it("lets the pull user read: GET /v2/, GET and HEAD of a manifest", async () => {
            assert.strictEqual((await request(proxyPort, "GET", "/v2/", { auth: login.pull })).status, 200);
            // As containerd and Docker ask for it (without Accept, distribution 2.8 tries schema 1).
            const got = await request(proxyPort, "GET", `/v2/${repository}/manifests/sha-1a2b3c4`, { auth: login.pull, accept: manifest.mediaType });
            assert.strictEqual(got.status, 200, got.body);
            assert.strictEqual(got.headers["docker-content-digest"], manifest.digest);
            assert.strictEqual((await request(proxyPort, "HEAD", `/v2/${repository}/manifests/${manifest.digest}`, { auth: login.pull, accept: manifest.mediaType })).status, 200);
            const blobs = JSON.parse(manifest.body.toString()) as { layers: { digest: string }[] };
            assert.strictEqual((await request(proxyPort, "GET", `/v2/${repository}/blobs/${blobs.layers[0].digest}`, { auth: login.pull })).status, 200);
        });

        it("refuses the pull user every write: blob upload, manifest push, delete", async () => {
            for (const [method, urlPath, body] of [
                ["POST", `/v2/${repository}/blobs/uploads/`, undefined],
                ["PUT", `/v2/${repository}/manifests/sha-evil00`, manifest.body],
                ["PATCH", `/v2/${repository}/blobs/uploads/00000000-0000-0000-0000-000000000000`, Buffer.from("x")],
                ["DELETE", `/v2/${repository}/manifests/${manifest.digest}`, undefined],
            ] as const) {
                const answer = await request(proxyPort, method, urlPath, { auth: login.pull, body, contentType: method === "PUT" ? manifest.mediaType : undefined });
                assert.ok([401, 403].includes(answer.status), `${method} ${urlPath} as the pull user answered ${answer.status}`);
            }
            // Nothing was written: the tag the pull user tried to push does not exist.
            assert.strictEqual((await request(proxyPort, "GET", `/v2/${repository}/manifests/sha-evil00`, { auth: login.push })).status, 404);
        });

        it("lets the push user start an upload (202)", async () => {
            const answer = await request(proxyPort, "POST", `/v2/${repository}/blobs/uploads/`, { auth: login.push });
            assert.strictEqual(answer.status, 202, answer.body);
        });

        it("refuses a wrong push password", async () => {
            assert.strictEqual((await request(proxyPort, "POST", `/v2/${repository}/blobs/uploads/`, { auth: `${login.push}x` })).status, 401);
        });
    });

    describe("Kubernetes ingress", () => {
        it("Traefik: the Ingress takes every method with the push login only; a GET/HEAD IngressRoute of higher priority takes the pull login", async () => {
            const result = await synth("production");
            const manifests = Object.entries(result.files).filter(([file]) => file.startsWith("kubernetes/")).map(([, text]) => parseYaml(text) as { kind: string; metadata: { name: string; namespace: string; annotations?: Record<string, string> }; spec: Record<string, any> });
            const ingress = manifests.find((m) => m.kind === "Ingress" && m.spec.rules?.[0]?.host === "registry.archon.example.com");
            assert.ok(ingress, "no Ingress for the registry");
            const ns = ingress.metadata.namespace;
            assert.match(ingress.metadata.annotations!["traefik.ingress.kubernetes.io/router.middlewares"], new RegExp(`^${ns}-security-headers@kubernetescrd,${ns}-rate-limit@kubernetescrd,${ns}-basic-auth-registry-push@kubernetescrd,`));
            const read = manifests.find((m) => m.kind === "IngressRoute" && m.metadata.name === "registry-registry-read");
            assert.ok(read, "no read IngressRoute for the registry");
            assert.deepStrictEqual(read.spec.entryPoints, ["websecure"]);
            assert.strictEqual(read.spec.tls.secretName, ingress.spec.tls[0].secretName, "the IngressRoute must serve the certificate cert-manager issues for the Ingress");
            assert.strictEqual(read.spec.routes.length, 1);
            const route = read.spec.routes[0];
            // Reads of the whole host except the ACME challenge path: the priority that puts reads above
            // the Ingress router would otherwise put the pull login in front of cert-manager's solver
            // (issue 26.1; test/acme-routing.spec.ts evaluates the routing for every host).
            assert.strictEqual(route.match, "Host(`registry.archon.example.com`) && PathPrefix(`/`) && !PathPrefix(`/.well-known/acme-challenge/`) && (Method(`GET`) || Method(`HEAD`))");
            assert.strictEqual(route.priority, TRAEFIK_READ_PRIORITY);
            assert.deepStrictEqual(route.middlewares.slice(1, 3), [{ name: "rate-limit", namespace: ns }, { name: "basic-auth-registry-pull", namespace: ns }]);
            assert.deepStrictEqual(route.services, [{ name: "registry", port: "http" }]);
            // The registry checks the login again: both middlewares forward it.
            for (const name of ["basic-auth-registry-pull", "basic-auth-registry-push"]) {
                const middleware = manifests.find((m) => m.kind === "Middleware" && m.metadata.name === name);
                assert.ok(middleware, `no Middleware ${name}`);
                assert.strictEqual(middleware.spec.basicAuth.removeHeader, false);
                assert.strictEqual(middleware.spec.basicAuth.secret, name.replace("basic-auth-", "") + "-htpasswd");
            }
            // The Secrets: push holds the push user only; pull both users.
            const secretUsers = (name: string) => String(plainInputs(named(result, "kubernetes:core/v1:Secret", `${ns}-${name}`)).stringData.users).trim().split("\n").map((line) => line.split(":")[0]);
            assert.deepStrictEqual(secretUsers("registry-push-htpasswd"), [REGISTRY_PUSH_USER]);
            assert.deepStrictEqual(secretUsers("registry-pull-htpasswd"), [REGISTRY_USER, REGISTRY_PUSH_USER]);
        });

        it("Traefik: the read router outranks the Ingress router whatever its rule's length, and leaves the ACME challenge to the solver", () => {
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

        it("ingress-nginx: cannot split by method without snippets, keeps the read login for every method and creates no push Secret", async () => {
            const result = await synth("production", { ingressController: "ingress-nginx" });
            const manifests = Object.entries(result.files).filter(([file]) => file.startsWith("kubernetes/")).map(([, text]) => parseYaml(text) as { kind: string; metadata: { annotations?: Record<string, string> }; spec: Record<string, any> });
            const ingress = manifests.find((m) => m.kind === "Ingress" && m.spec.rules?.[0]?.host === "registry.archon.example.com");
            assert.ok(ingress);
            assert.strictEqual(ingress.metadata.annotations!["nginx.ingress.kubernetes.io/auth-secret"], "registry-pull-htpasswd");
            assert.ok(!manifests.some((m) => m.kind === "IngressRoute"));
            assert.ok(!ofType(result, "kubernetes:core/v1:Secret").some((s) => s.name.endsWith("registry-push-htpasswd")));
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
