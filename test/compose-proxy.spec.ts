import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { ServiceSpec } from "../components/services/catalog";
import { CERTIFICATE_DIR, renderNginxConf } from "../components/compose/proxy";
import { hostRoutes } from "../components/services/routes";
import { FIXTURE_HOSTS, ROUTED_SERVICES } from "./fixtures/routed-services";
import { requireTool, run, writeTempFiles } from "./helpers";

const PROXY_SCRIPTS = path.join(__dirname, "..", "components", "compose", "nginx");

/**
 * Runs the REAL `nginx -t` on `nginxConf` exactly as rendered: in a private mount namespace, a copy
 * of /etc/nginx holding the config and one bootstrap certificate per host (made by the proxy's own
 * bootstrap-cert.py) is bind-mounted over /etc/nginx, and a private /etc/hosts makes `upstreams`
 * resolve. Nothing of the host changes. nginx writes to a file, not to the runner's stdio (Node's
 * stdio pipes are sockets, which /dev/stderr cannot reopen; in the container it is a pipe).
 */
function nginxTest(nginxConf: string, hosts: string[], upstreams: string[]): { status: number | null; output: string } {
    requireTool("nginx", "nginx-light");
    requireTool("unshare", "util-linux");
    requireTool("python3", "python3-cryptography");
    const dir = writeTempFiles({
        "etc-nginx/nginx.conf": nginxConf,
        "etc-nginx/mime.types": fs.readFileSync("/etc/nginx/mime.types", "utf8"),
        hosts: ["127.0.0.1 localhost", ...upstreams.map((u, i) => `10.0.0.${i + 2} ${u}`)].join("\n") + "\n",
    }, "archon-nginx-");
    for (const host of hosts) {
        const made = run("python3", [path.join(PROXY_SCRIPTS, "bootstrap-cert.py"), host, path.join(dir, "etc-nginx", "certs", host)]);
        assert.equal(made.status, 0, made.output);
    }
    const script = `mount --bind "${dir}/hosts" /etc/hosts && mount --bind "${dir}/etc-nginx" /etc/nginx && { nginx -t -c /etc/nginx/nginx.conf >"${dir}/nginx-t.log" 2>&1; status=$?; cat "${dir}/nginx-t.log"; exit $status; }`;
    return run("unshare", ["-m", "--propagation", "private", "sh", "-c", script]);
}

describe("compose proxy (nginx -t)", () => {
    const conf = renderNginxConf(ROUTED_SERVICES);
    const upstreams = ROUTED_SERVICES.filter((s) => s.routes?.length).map((s) => s.name);

    it("passes the real `nginx -t` with certificates and resolvable service names", () => {
        const result = nginxTest(conf, FIXTURE_HOSTS, upstreams);
        assert.equal(result.status, 0, result.output);
        assert.match(result.output, /test is successful/);
    });

    it("passes `nginx -t` with no service name resolvable: upstreams are resolved per request", () => {
        const result = nginxTest(conf, FIXTURE_HOSTS, []);
        assert.equal(result.status, 0, result.output);
    });

    it("fails `nginx -t` without a host's certificate (the check is real)", () => {
        const result = nginxTest(conf, FIXTURE_HOSTS.slice(1), upstreams);
        assert.notEqual(result.status, 0);
        assert.match(result.output, new RegExp(`${FIXTURE_HOSTS[0].replace(/\./g, "\\.")}/fullchain\\.pem`));
    });

    it("serves every routed host over TLS with HSTS, security headers and a rate limit", () => {
        const servers = conf.split(/\n    server \{/).slice(1);
        for (const host of FIXTURE_HOSTS) {
            const block = servers.find((s) => s.includes(`server_name ${host};`));
            assert.ok(block, `no server block for ${host}`);
            assert.match(block, /listen 443 ssl/);
            assert.ok(block.includes(`ssl_certificate ${CERTIFICATE_DIR}/${host}/fullchain.pem;`));
            assert.match(block, /add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;/);
            assert.match(block, /add_header X-Content-Type-Options "nosniff" always;/);
            assert.match(block, /limit_req zone=per_client burst=\d+ nodelay;/);
        }
        assert.ok(!conf.includes("postgres"), "a service without routes is not exposed");
        assert.match(conf, /listen 80 default_server;[\s\S]*acme-challenge[\s\S]*return 301 https/);
    });

    it("proxies each path to its compose service, with websocket upgrades and body limits per route", () => {
        const location = (p: string) => conf.split("location ").find((l) => l.startsWith(`${p} {`)) ?? "";
        const socket = location("/socket.io");
        assert.match(socket, /proxy_set_header Upgrade \$http_upgrade;/);
        assert.match(socket, /proxy_set_header Connection \$connection_upgrade;/);
        assert.match(socket, /set \$backend_host archon-server;\s+proxy_pass http:\/\/\$backend_host:8181;/);
        assert.match(location("/api"), /client_max_body_size 50m;/);
        assert.match(location("/health"), /client_max_body_size 10m;/);
        assert.doesNotMatch(location("/health"), /Upgrade/);
        const archon = conf.split(/\n    server \{/).find((s) => s.includes("server_name archon.example.com;")) ?? "";
        assert.ok(archon.indexOf("location /socket.io") < archon.indexOf("location / {"), "longer prefixes first");
    });

    it("refuses a route whose port the service does not declare, and two services on one host and path", () => {
        const broken: ServiceSpec = { ...ROUTED_SERVICES[0], routes: [{ host: "archon.example.com", path: "/x", port: 9999 }] };
        assert.throws(() => hostRoutes([broken]), /port 9999/);
        const twice: ServiceSpec = { ...ROUTED_SERVICES[4], name: "other" };
        assert.throws(() => hostRoutes([ROUTED_SERVICES[4], twice]), /claimed by both grafana and other/);
    });

    it("ships entrypoint scripts that pass shellcheck", () => {
        requireTool("shellcheck", "shellcheck");
        const result = run("shellcheck", ["-s", "sh", path.join(PROXY_SCRIPTS, "nginx-entrypoint.sh"), path.join(PROXY_SCRIPTS, "certbot-loop.sh")]);
        assert.equal(result.status, 0, result.output);
    });

});
