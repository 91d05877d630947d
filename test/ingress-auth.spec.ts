/**
 * Issue 12.1: Archon's UI and MCP endpoint sit behind a login at the ingress. Compose: the REAL
 * nginx serves the staging synth's nginx.conf and htpasswd files (bcrypt, generated in-program)
 * in a private mount and network namespace, in front of a stand-in upstream, and answers 401
 * without credentials and 200 with them (the MCP path with the Authorization header the stack
 * outputs). Kubernetes: Traefik basicAuth Middlewares / ingress-nginx annotations reference a
 * Secret holding the same htpasswd.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { ofType, requireTool, run, synth, writeTempFiles } from "./helpers";

const PROXY_SCRIPTS = path.join(__dirname, "..", "components", "compose", "nginx");
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const unsecret = (v: unknown): Json => ((v as Json)?.$secret ?? v) as Json;

describe("authentication at the ingress (issue 12.1)", function () {
    it("compose: the real nginx answers 401 without and 200 with the credentials, for the UI and for /mcp", async () => {
        requireTool("nginx", "nginx-light");
        requireTool("unshare", "util-linux");
        requireTool("curl", "curl");
        const result = await synth("staging");
        const conf = result.files["project/config/proxy/etc_nginx_nginx.conf"];
        const uiHtpasswd = result.files["project/secrets/proxy/etc_nginx_auth_archon-ui"];
        const mcpHtpasswd = result.files["project/secrets/proxy/etc_nginx_auth_archon-mcp"];
        assert.ok(conf && uiHtpasswd && mcpHtpasswd, Object.keys(result.files).filter((f) => f.includes("proxy")).join(", "));
        assert.match(uiHtpasswd, /^archon:\$2[aby]\$\d\d\$/);
        const access = unsecret(result.outputs.archonAccess);
        const ui = unsecret(access.ui);
        const mcp = unsecret(access.mcp);
        const archonHost = new URL(String(ui.url)).host;
        const mcpHost = new URL(String(mcp.url)).host;
        assert.equal(new URL(String(mcp.url)).pathname, "/mcp");

        // nginx reads its files from /etc/nginx as rendered; the compose mounts put htpasswd files at /etc/nginx/auth.
        const upstreams = [...conf.matchAll(/proxy_pass http:\/\/([a-z0-9-]+):\d+;/g)].map((m) => m[1]);
        const dir = writeTempFiles({
            "etc-nginx/nginx.conf": conf.replace("error_log /dev/stderr warn;", "error_log /var/cache/archon-nginx-error.log warn;").replace("access_log /dev/stdout;", "access_log off;"),
            "etc-nginx/mime.types": fs.readFileSync("/etc/nginx/mime.types", "utf8"),
            "etc-nginx/auth/archon-ui": uiHtpasswd,
            "etc-nginx/auth/archon-mcp": mcpHtpasswd,
            hosts: ["127.0.0.1 localhost", ...[...new Set(upstreams)].map((u) => `127.0.0.1 ${u}`)].join("\n") + "\n",
        }, "archon-auth-");
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
            // nginx's pid, log and temp files go to the test's own directory.
            `mkdir -p "${dir}/cache" && mount --bind "${dir}/cache" /var/cache`,
            // Stand-in upstreams on the routed ports (the UI's and the MCP server's), answering 200.
            "touch /var/cache/mcp",
            "python3 -m http.server 3737 --bind 127.0.0.1 --directory /var/cache >/dev/null 2>&1 & ui_pid=$!",
            "python3 -m http.server 8051 --bind 127.0.0.1 --directory /var/cache >/dev/null 2>&1 & mcp_pid=$!",
            "sleep 1",
            `nginx -c /etc/nginx/nginx.conf -g 'pid /var/cache/archon-nginx.pid;' || { cat /var/cache/archon-nginx-error.log; exit 1; }`,
            "sleep 0.5",
            "echo ui-none=$(" + curl(archonHost, "/") + ")",
            "echo ui-wrong=$(" + curl(archonHost, "/", "Authorization: Basic " + Buffer.from(`${ui.user}:wrong`).toString("base64")) + ")",
            "echo ui-ok=$(" + curl(archonHost, "/", uiBasic) + ")",
            "echo ui-mcp-credential=$(" + curl(archonHost, "/", `Authorization: ${mcp.authorizationHeader}`) + ")",
            "echo mcp-none=$(" + curl(mcpHost, "/mcp") + ")",
            "echo mcp-ui-credential=$(" + curl(mcpHost, "/mcp", uiBasic) + ")",
            "echo mcp-ok=$(" + curl(mcpHost, "/mcp", `Authorization: ${mcp.authorizationHeader}`) + ")",
            "kill $(cat /var/cache/archon-nginx.pid) $ui_pid $mcp_pid",
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

    it("compose: the htpasswd files are 0600 secret files handed to nginx's worker uid, never in the compose file", async () => {
        const result = await synth("staging");
        const compose = parseYaml(result.files["project/docker-compose.yml"]) as Json;
        const permissions = (compose.services["data-permissions"].entrypoint as string[]).join(" ");
        assert.match(permissions, /chown 101:101 \/project-secrets\/proxy\/etc_nginx_auth_archon-ui && chmod 0600/);
        assert.ok((compose.services.proxy.volumes as string[]).includes("./secrets/proxy/etc_nginx_auth_archon-ui:/etc/nginx/auth/archon-ui:ro"));
        assert.equal(compose.services.proxy.depends_on["data-permissions"].condition, "service_completed_successfully");
        assert.ok(!result.files["project/docker-compose.yml"].includes("$2a$") && !result.files["project/docker-compose.yml"].includes("$2y$"));
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
                assert.match(String(data.users), /^(archon|mcp):\$2[aby]\$/);
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
                    const first = annotations["traefik.ingress.kubernetes.io/router.middlewares"].split(",")[0];
                    assert.equal(first, `archon-basic-auth-${service}@kubernetescrd`);
                    const middleware = ofType(result, "kubernetes:traefik.io/v1alpha1:Middleware").map((r) => r.inputs as Json).find((m) => m.metadata.name === `basic-auth-${service}`);
                    assert.equal(middleware?.spec.basicAuth.secret, secret);
                }
            }
        });
    }
});
