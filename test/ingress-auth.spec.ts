/**
 * Issue 12.1: Archon's UI and MCP endpoint sit behind a login at the ingress. Compose: the REAL
 * nginx serves the staging synth's nginx.conf and htpasswd files (APR1, generated in-program)
 * in a private mount and network namespace, in front of a stand-in upstream, and answers 401
 * without credentials and 200 with them (the MCP path with the Authorization header the stack
 * outputs). Kubernetes: Traefik basicAuth Middlewares / ingress-nginx annotations reference a
 * Secret holding the same htpasswd.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { NGINX_WORKER_UID } from "../components/compose/proxy";
import { ofType, requireTool, run, synth, writeTempFiles } from "./helpers";

const PROXY_SCRIPTS = path.join(__dirname, "..", "components", "compose", "nginx");
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const unsecret = (v: unknown): Json => ((v as Json)?.$secret ?? v) as Json;
const WRITE_SECRET_FILE = path.join(__dirname, "..", "components", "hetzner", "scripts", "write-secret-file.sh");
const AUTH_FILES = ["secrets/proxy/etc_nginx_auth/archon-ui", "secrets/proxy/etc_nginx_auth/archon-mcp"];

/** The SECRET_FILE_* settings the synth's delivery command for `file` exports. */
function deliverySettings(result: Awaited<ReturnType<typeof synth>>, file: string): Record<string, string> {
    const command = result.resources.find((r) => r.type === "command:remote:Command" && r.name === `secret-${file.replace(/[^A-Za-z0-9.-]+/g, "-")}`);
    assert.ok(command, `no delivery command for ${file}`);
    const script = String(unsecret((command!.inputs as Json).create));
    return Object.fromEntries([...script.matchAll(/^export (SECRET_FILE_[A-Z]+)='([^']*)'$/gm)].map((m) => [m[1], m[2]]));
}

/**
 * Writes `content` to `<projectDir>/<file>` with the real write-secret-file.sh, as the delivery
 * does. The test runs as root, so the script's `sudo chown` is given a `sudo` that just runs it.
 */
function deliverSecretFile(projectDir: string, file: string, content: string, settings: Record<string, string>): void {
    const bin = writeTempFiles({ sudo: "#!/bin/sh\nexec \"$@\"\n" }, "archon-sudo-");
    fs.chmodSync(path.join(bin, "sudo"), 0o755);
    const script = `set -euo pipefail\n${fs.readFileSync(WRITE_SECRET_FILE, "utf8")}`;
    const ran = run("bash", ["-c", script], { input: content, env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, PROJECT_DIR: projectDir, SECRET_FILE: file, ...settings } });
    fs.rmSync(bin, { recursive: true, force: true });
    assert.equal(ran.status, 0, ran.output);
}

describe("authentication at the ingress (issue 12.1)", function () {
    it("compose: the real nginx answers 401 without and 200 with the credentials, for the UI and for /mcp", async () => {
        requireTool("nginx", "nginx-light");
        requireTool("unshare", "util-linux");
        requireTool("curl", "curl");
        requireTool("dnsmasq", "dnsmasq-base");
        const result = await synth("staging");
        const conf = result.files["project/config/proxy/etc_nginx_nginx.conf"];
        const uiHtpasswd = result.files[`project/${AUTH_FILES[0]}`];
        const mcpHtpasswd = result.files[`project/${AUTH_FILES[1]}`];
        assert.ok(conf && uiHtpasswd && mcpHtpasswd, Object.keys(result.files).filter((f) => f.includes("proxy")).join(", "));
        assert.match(uiHtpasswd, /^archon:\$apr1\$/);
        const access = unsecret(result.outputs.archonAccess);
        const ui = unsecret(access.ui);
        const mcp = unsecret(access.mcp);
        const archonHost = new URL(String(ui.url)).host;
        const mcpHost = new URL(String(mcp.url)).host;
        assert.equal(new URL(String(mcp.url)).pathname, "/mcp");

        // nginx reads its files from /etc/nginx as rendered; the compose file mounts the htpasswd
        // directory at /etc/nginx/auth, as delivered by write-secret-file.sh: owned by the worker
        // uid, mode from the synth. Debian's nginx (no --user at build) runs its workers as nobody,
        // where the image's (--user=nginx) run as 101: the files are handed to this nginx's worker.
        // Each upstream is resolved per request: `set $backend_host <service>;` before its proxy_pass.
        const upstreams = [...conf.matchAll(/set \$backend_host ([a-z0-9-]+);/g)].map((m) => m[1]);
        assert.ok(upstreams.includes("archon-ui") && upstreams.includes("archon-mcp"), upstreams.join(" "));
        const dir = writeTempFiles({
            "etc-nginx/nginx.conf": conf.replace("error_log /dev/stderr warn;", "error_log /var/cache/archon-nginx-error.log warn;").replace(/access_log \/dev\/stdout[^;]*;/, "access_log off;"),
            "etc-nginx/mime.types": fs.readFileSync("/etc/nginx/mime.types", "utf8"),
            hosts: ["127.0.0.1 localhost", ...[...new Set(upstreams)].map((u) => `127.0.0.1 ${u}`)].join("\n") + "\n",
        }, "archon-auth-");
        fs.chmodSync(dir, 0o755);
        const compose = parseYaml(result.files["project/docker-compose.yml"]) as Json;
        const authMount = (compose.services.proxy.volumes as string[]).find((v) => v.endsWith(":/etc/nginx/auth:ro"));
        assert.equal(authMount, "./secrets/proxy/etc_nginx_auth:/etc/nginx/auth:ro");
        for (const [file, text] of [[AUTH_FILES[0], uiHtpasswd], [AUTH_FILES[1], mcpHtpasswd]]) {
            deliverSecretFile(path.join(dir, "project"), file, text, { ...deliverySettings(result, file), SECRET_FILE_OWNER: "65534:65534" });
        }
        for (const host of [...conf.matchAll(/server_name ([a-z0-9.-]+\.[a-z]+);/g)].map((m) => m[1])) {
            const made = run("python3", [path.join(PROXY_SCRIPTS, "bootstrap-cert.py"), host, path.join(dir, "etc-nginx", "certs", host)]);
            assert.equal(made.status, 0, made.output);
        }
        const curl = (host: string, urlPath: string, header?: string) =>
            `curl -sk -o /dev/null -w '%{http_code}\\n' --resolve ${host}:443:127.0.0.1 ${header ? `-H '${header}'` : ""} https://${host}${urlPath}`;
        const uiBasic = `Authorization: Basic ${Buffer.from(`${ui.user}:${ui.password}`).toString("base64")}`;
        const script = [
            "set -e",
            "ip link set lo up",
            `mount --bind "${dir}/hosts" /etc/hosts`,
            `mount --bind "${dir}/etc-nginx" /etc/nginx`,
            `mkdir -p /etc/nginx/auth && mount --bind "${dir}/project/secrets/proxy/etc_nginx_auth" /etc/nginx/auth`,
            // nginx's pid, log and temp files go to the test's own directory.
            `mkdir -p "${dir}/cache" && mount --bind "${dir}/cache" /var/cache`,
            // nginx resolves each upstream per request at Docker's embedded DNS (resolver 127.0.0.11):
            // a real DNS server there answers the compose service names with loopback.
            `dnsmasq --keep-in-foreground --conf-file=/dev/null --user=root --listen-address=127.0.0.11 --bind-interfaces --no-resolv --no-hosts --addn-hosts="${dir}/hosts" --pid-file=/var/cache/dnsmasq.pid & dns_pid=$!`,
            // Stand-in upstreams on the routed ports (the UI's and the MCP server's), answering 200.
            "touch /var/cache/mcp",
            "python3 -m http.server 3737 --bind 127.0.0.1 --directory /var/cache >/dev/null 2>&1 & ui_pid=$!",
            "python3 -m http.server 8051 --bind 127.0.0.1 --directory /var/cache >/dev/null 2>&1 & mcp_pid=$!",
            "sleep 1",
            `nginx -c /etc/nginx/nginx.conf -g 'pid /var/cache/archon-nginx.pid; user nobody nogroup;' || { cat /var/cache/archon-nginx-error.log; exit 1; }`,
            "sleep 0.5",
            "echo ui-none=$(" + curl(archonHost, "/") + ")",
            "echo ui-wrong=$(" + curl(archonHost, "/", "Authorization: Basic " + Buffer.from(`${ui.user}:wrong`).toString("base64")) + ")",
            "echo ui-ok=$(" + curl(archonHost, "/", uiBasic) + ")",
            "echo ui-mcp-credential=$(" + curl(archonHost, "/", `Authorization: ${mcp.authorizationHeader}`) + ")",
            "echo mcp-none=$(" + curl(mcpHost, "/mcp") + ")",
            "echo mcp-ui-credential=$(" + curl(mcpHost, "/mcp", uiBasic) + ")",
            "echo mcp-ok=$(" + curl(mcpHost, "/mcp", `Authorization: ${mcp.authorizationHeader}`) + ")",
            "kill $(cat /var/cache/archon-nginx.pid) $ui_pid $mcp_pid $dns_pid",
            "cat /var/cache/archon-nginx-error.log",
        ].join("\n");
        // A private network namespace: ports 80/443/3737/8051 never collide with parallel runs.
        const { status, output } = run("unshare", ["-m", "-n", "--propagation", "private", "sh", "-c", script]);
        assert.equal(status, 0, output);
        const codes = Object.fromEntries([...output.matchAll(/^([a-z-]+)=(\d+)$/gm)].map((m) => [m[1], m[2]]));
        assert.deepEqual(codes, {
            "ui-none": "401", "ui-wrong": "401", "ui-ok": "200", "ui-mcp-credential": "401",
            "mcp-none": "401", "mcp-ui-credential": "401", "mcp-ok": "200",
        }, output);
    });

    it("compose: the htpasswd files are secret files owned by nginx's worker uid (0440, directory 0711), never in the compose file", async () => {
        const result = await synth("staging");
        const compose = parseYaml(result.files["project/docker-compose.yml"]) as Json;
        // Mounted by directory: write-secret-file.sh replaces a file by mv (a new inode).
        assert.ok((compose.services.proxy.volumes as string[]).includes("./secrets/proxy/etc_nginx_auth:/etc/nginx/auth:ro"), JSON.stringify(compose.services.proxy.volumes));
        // nginx's workers read auth_basic_user_file as the image's nginx user, uid 101 (NGINX_WORKER_UID).
        const dir = writeTempFiles({}, "archon-auth-delivery-");
        try {
            for (const file of AUTH_FILES) {
                const settings = deliverySettings(result, file);
                assert.deepEqual(settings, { SECRET_FILE_OWNER: `${NGINX_WORKER_UID}:${NGINX_WORKER_UID}`, SECRET_FILE_MODE: "0440" }, file);
                deliverSecretFile(dir, file, result.files[`project/${file}`], settings);
                const stat = fs.statSync(path.join(dir, file));
                assert.deepEqual([stat.uid, stat.gid, stat.mode & 0o777], [NGINX_WORKER_UID, NGINX_WORKER_UID, 0o440], file);
                assert.equal(fs.readFileSync(path.join(dir, file), "utf8"), result.files[`project/${file}`]);
                // The mounted directory lets the worker reach its files without listing them; secrets/ above stays private.
                assert.equal(fs.statSync(path.dirname(path.join(dir, file))).mode & 0o777, 0o711);
                assert.equal(fs.statSync(path.join(dir, "secrets")).mode & 0o777, 0o700);
            }
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
        const text = result.files["project/docker-compose.yml"];
        assert.ok(!text.includes("$2a$") && !text.includes("$2y$") && !text.includes("$2b$"));
        for (const file of AUTH_FILES) assert.ok(!text.includes(result.files[`project/${file}`].trim()));
    });

    for (const controller of ["traefik", "ingress-nginx"]) {
        it(`k3s with ${controller}: the UI and MCP Ingresses require a login from a Secret holding the htpasswd`, async () => {
            const result = await synth("production", { ingressController: controller });
            const ingresses = ofType(result, "kubernetes:networking.k8s.io/v1:Ingress").map((r) => r.inputs as Json);
            // The registry's login Secrets: test/registry-credentials.spec.ts.
            const secrets = ofType(result, "kubernetes:core/v1:Secret").filter((r) => /htpasswd/.test(r.name) && !/registry-/.test(r.name));
            assert.deepEqual(secrets.map((s) => unsecret((s.inputs as Json).metadata).name).sort(), ["archon-mcp-htpasswd", "archon-ui-htpasswd"]);
            for (const s of secrets) {
                const data = unsecret((s.inputs as Json).stringData);
                assert.ok((s.inputs as Json).stringData.$secret !== undefined, "the htpasswd Secret's data is a Pulumi secret");
                assert.match(String(data.users), /^(archon|mcp):\$apr1\$/);
                assert.equal(data.auth, data.users);
            }
            for (const [service, secret] of [["archon-ui", "archon-ui-htpasswd"], ["archon-mcp", "archon-mcp-htpasswd"]]) {
                const ingress = ingresses.find((i) => i.metadata.name.startsWith(service));
                assert.ok(ingress, service);
                const annotations = ingress.metadata.annotations as Record<string, string>;
                if (controller === "ingress-nginx") {
                    assert.equal(annotations["nginx.ingress.kubernetes.io/auth-type"], "basic");
                    assert.equal(annotations["nginx.ingress.kubernetes.io/auth-secret"], secret);
                } else {
                    // After the rate limit (issue 27.6, test/ingress-login-cost.spec.ts), before the body limit.
                    const chain = annotations["traefik.ingress.kubernetes.io/router.middlewares"].split(",");
                    assert.deepEqual(chain.slice(1, 3), ["archon-rate-limit@kubernetescrd", `archon-basic-auth-${service}@kubernetescrd`]);
                    const middleware = ofType(result, "kubernetes:traefik.io/v1alpha1:Middleware").map((r) => r.inputs as Json).find((m) => m.metadata.name === `basic-auth-${service}`);
                    assert.equal(middleware?.spec.basicAuth.secret, secret);
                }
            }
        });
    }
});
