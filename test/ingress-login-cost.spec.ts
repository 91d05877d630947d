/**
 * Issue 27.6: logins at the ingress are cheap to check and rate-limited before they are checked.
 * The REAL nginx serves the staging synth's nginx.conf and htpasswd files in a private mount and
 * network namespace. nginx runs limit_req in its PREACCESS phase and auth_basic / auth_request in
 * ACCESS (nginx src/http/modules/ngx_http_limit_req_module.c, ngx_http_auth_basic_module.c,
 * ngx_http_auth_request_module.c: `cmcf->phases[...]`), whatever the order of the directives; the
 * error log shows which requests reached the password check ("password mismatch") and which the
 * limit refused ("limiting requests"). Traefik runs a router's middlewares in the listed order:
 * its rate limit must come before the login middleware.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { ofType, requireTool, run, synth, writeTempFiles } from "./helpers";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const unsecret = (v: unknown): Json => ((v as Json)?.$secret ?? v) as Json;
const BOOTSTRAP_CERT = path.join(__dirname, "..", "components", "compose", "nginx", "bootstrap-cert.py");
const AUTH = "project/secrets/proxy/etc_nginx_auth";

const basic = (user: string, password: string) => `Authorization: Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

/** A curl config asking `url` `count` times over one connection (`-K`): each answer's status on its own line. */
function curlConfig(url: string, count: number, header: string, method = "GET"): string {
    const host = new URL(url).host;
    const head = [`silent`, `insecure`, `resolve = "${host}:443:127.0.0.1"`, `header = "${header}"`, `request = "${method}"`, `write-out = "%{http_code}\\n"`];
    return [...head, ...Array.from({ length: count }, () => `url = "${url}"\noutput = "/dev/null"`)].join("\n") + "\n";
}

interface NginxRun {
    output: string;
    /** Lines `<label>=<value>` the script echoed. */
    values: Record<string, string>;
}

/**
 * Runs `steps` (shell) against the real nginx serving `conf` with the files of `etc` under
 * /etc/nginx, a bootstrap certificate for every server_name, logs and temp files in the test's
 * directory. `cpu` in the steps prints the CPU time (clock ticks) nginx's master and workers used so far.
 */
function withNginx(conf: string, etc: Record<string, string>, steps: string[]): NginxRun {
    const dir = writeTempFiles({
        "etc-nginx/nginx.conf": conf
            .replace(/error_log [^;]*;/, "error_log /var/cache/archon-nginx-error.log warn;")
            .replace(/access_log \/dev\/stdout[^;]*;/, "access_log off;"),
        "etc-nginx/mime.types": fs.readFileSync("/etc/nginx/mime.types", "utf8"),
        ...Object.fromEntries(Object.entries(etc).map(([file, text]) => [`etc-nginx/${file}`, text])),
    }, "archon-login-cost-");
    try {
        fs.chmodSync(dir, 0o755);
        for (const host of [...conf.matchAll(/server_name ([a-z0-9.-]+\.[a-z]+);/g)].map((m) => m[1])) {
            const made = run("python3", [BOOTSTRAP_CERT, host, path.join(dir, "etc-nginx", "certs", host)]);
            assert.equal(made.status, 0, made.output);
        }
        const script = [
            "set -e",
            "ip link set lo up",
            `mount --bind "${dir}/etc-nginx" /etc/nginx`,
            `mkdir -p "${dir}/cache" && mount --bind "${dir}/cache" /var/cache`,
            `nginx -c /etc/nginx/nginx.conf -g 'pid /var/cache/archon-nginx.pid; user nobody nogroup;' || { cat /var/cache/archon-nginx-error.log; exit 1; }`,
            "master=$(cat /var/cache/archon-nginx.pid)",
            // utime + stime (fields 14, 15 of /proc/<pid>/stat) of the master and its workers.
            "cpu() { t=0; for p in $master $(cat /proc/$master/task/*/children); do set -- $(cut -d' ' -f14,15 /proc/$p/stat); t=$((t + $1 + $2)); done; echo $t; }",
            "sleep 0.3",
            ...steps,
            "kill $master",
            "cat /var/cache/archon-nginx-error.log",
        ].join("\n");
        const { status, output } = run("unshare", ["-m", "-n", "--propagation", "private", "sh", "-c", script], { cwd: dir });
        assert.equal(status, 0, output);
        return { output, values: Object.fromEntries([...output.matchAll(/^([a-z0-9-]+)=(.*)$/gm)].map((m) => [m[1], m[2]])) };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** How often each status code appears in `codes` (one per line). */
function tally(codes: string): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const code of codes.split(/\s+/).filter((c) => c !== "")) counts[code] = (counts[code] ?? 0) + 1;
    return counts;
}

describe("ingress logins: a cheap hash, rate-limited before it is checked (issue 27.6)", function () {
    before(() => {
        for (const [tool, pkg] of [["nginx", "nginx-light"], ["unshare", "util-linux"], ["curl", "curl"], ["htpasswd", "apache2-utils"], ["openssl", "openssl"]]) requireTool(tool, pkg);
    });

    it("every ingress login is an APR1 line that htpasswd and openssl compute alike; the registry keeps bcrypt for itself", async () => {
        const result = await synth("staging");
        const access = unsecret(result.outputs.archonAccess);
        const push = unsecret(result.outputs.registryPush);
        const logins: [string, string, string][] = [
            ["archon-ui", unsecret(access.ui).user, unsecret(access.ui).password],
            ["archon-mcp", unsecret(access.mcp).user, unsecret(access.mcp).password],
            ["registry-push", push.username, push.password],
        ];
        for (const [file, user, password] of logins) {
            const line = result.files[`${AUTH}/${file}`].split("\n").find((l) => l.startsWith(`${user}:`));
            assert.match(line ?? "", /^[a-z-]+:\$apr1\$[./0-9A-Za-z]{8}\$[./0-9A-Za-z]{22}$/, file);
            const salt = line!.split("$")[2];
            // Apache's own tool verifies it, and OpenSSL's independent implementation computes the same hash.
            const dir = writeTempFiles({ htpasswd: `${line}\n` });
            const verified = run("htpasswd", ["-vb", path.join(dir, "htpasswd"), user, password]);
            fs.rmSync(dir, { recursive: true, force: true });
            assert.equal(verified.status, 0, verified.output);
            assert.equal(run("openssl", ["passwd", "-apr1", "-salt", salt, password]).output.trim(), line!.slice(user.length + 1), file);
        }
        // The pull login beside the push one in the read set; the registry's own file stays bcrypt,
        // the only scheme distribution 2.8 reads (registry/auth/htpasswd/htpasswd.go).
        assert.deepEqual(result.files[`${AUTH}/registry-pull`].trim().split("\n").map((l) => l.split(":")[0]), ["archon", "archon-push"]);
        for (const line of result.files["project/secrets/registry/auth/htpasswd"].trim().split("\n")) assert.match(line, /^archon(-push)?:\$2[aby]\$\d\d\$/);
    });

    it("compose: beyond the burst, the real nginx answers wrong passwords 429 without checking them (UI, MCP, registry writes)", async () => {
        const result = await synth("staging");
        const conf = result.files["project/config/proxy/etc_nginx_nginx.conf"];
        const burst = Number(/limit_req zone=per_client burst=(\d+) nodelay;/.exec(conf)?.[1]);
        assert.ok(burst > 0, "the rendered nginx.conf limits every TLS server");
        const hosts = Object.fromEntries([...conf.matchAll(/server_name (([a-z]+)\.[a-z0-9.-]+);/g)].map((m) => [m[2], m[1]]));
        const requests = burst + 50;
        const cases: [string, string, string, string][] = [
            ["ui", `https://${hosts.archon}/`, "GET", "archon"],
            ["mcp", `https://${hosts.mcp}/mcp`, "POST", "mcp"],
            // A write: nginx applies limit_except's own auth_basic (registry-push); the limit still comes first.
            ["registry", `https://${hosts.registry}/v2/archon-ui/blobs/uploads/`, "POST", "archon-push"],
        ];
        const etc = Object.fromEntries(["archon-ui", "archon-mcp", "registry-pull", "registry-push"].map((f) => [`auth/${f}`, result.files[`${AUTH}/${f}`]]));
        const configs = Object.fromEntries(cases.map(([name, url, method, user]) => [`curl-${name}`, curlConfig(url, requests, basic(user, "not-the-password"), method)]));
        // Each client address has its own bucket (limit_req_zone $binary_remote_addr): one address per case.
        const steps = cases.flatMap(([name, url], i) => [
            `echo ${name}-codes=$(curl --interface 127.0.0.${10 + i} -K /etc/nginx/curl-${name})`,
            `echo ${name}-url=${url}`,
        ]);
        const { output, values } = withNginx(conf, { ...etc, ...configs }, steps);
        for (const [name] of cases) {
            const codes = tally(values[`${name}-codes`]);
            assert.equal((codes["401"] ?? 0) + (codes["429"] ?? 0), requests, `${name}: ${values[`${name}-codes`]}`);
            assert.ok((codes["429"] ?? 0) >= 40, `${name}: the limit refuses what exceeds the burst: ${JSON.stringify(codes)}`);
            const address = `127.0.0.${10 + cases.findIndex(([n]) => n === name)}`;
            const checked = output.split("\n").filter((l) => l.includes("password mismatch") && l.includes(`client: ${address},`)).length;
            const limited = output.split("\n").filter((l) => l.includes("limiting requests") && l.includes(`client: ${address},`)).length;
            // Every 401 cost one password check; no 429 did.
            assert.deepEqual({ checked, limited }, { checked: codes["401"], limited: codes["429"] }, `${name}:\n${output.slice(-3000)}`);
        }
    });

    it("ingress-nginx: its location (auth_basic written before limit-rps's limit_req) limits before checking too", () => {
        // ingress-nginx renders the annotations into one location, auth_basic first and then
        // buildRateLimit's limit_req (rootfs/etc/nginx/template/nginx.tmpl): the same directives
        // in that order, with the limits the program annotates (limit-rps 20, burst multiplier 5).
        const htpasswd = run("htpasswd", ["-nbm", "archon", "a-long-random-password-0123456789"]).output.trim();
        const conf = [
            "worker_processes 1;",
            "error_log /dev/stderr warn;",
            "events { worker_connections 64; }",
            "http {",
            "    limit_req_zone $binary_remote_addr zone=archon_ui_rps:5m rate=20r/s;",
            "    limit_req_status 503;",
            "    server {",
            "        listen 443 ssl;",
            "        server_name archon.example.com;",
            "        ssl_certificate /etc/nginx/certs/archon.example.com/fullchain.pem;",
            "        ssl_certificate_key /etc/nginx/certs/archon.example.com/privkey.pem;",
            "        location / {",
            "            auth_basic \"Archon\";",
            "            auth_basic_user_file /etc/nginx/auth/archon-ui;",
            "            proxy_set_header Authorization \"\";",
            "            limit_req zone=archon_ui_rps burst=100 nodelay;",
            "            proxy_pass http://127.0.0.1:9;",
            "        }",
            "    }",
            "}",
        ].join("\n");
        const { output, values } = withNginx(conf, { "auth/archon-ui": `${htpasswd}\n`, curl: curlConfig("https://archon.example.com/", 160, basic("archon", "wrong")) }, [
            "echo codes=$(curl -K /etc/nginx/curl)",
        ]);
        const codes = tally(values.codes);
        assert.ok((codes["503"] ?? 0) >= 40, JSON.stringify(codes));
        assert.equal(output.split("\n").filter((l) => l.includes("password mismatch")).length, codes["401"], output.slice(-2000));
    });

    it("compose: a wrong password costs the real nginx a small fraction of what bcrypt cost 10 did (README, Ingress logins)", async () => {
        const result = await synth("staging");
        const access = unsecret(result.outputs.archonAccess);
        const ui = unsecret(access.ui);
        const host = new URL(String(ui.url)).host;
        // The limit out of the way: this measures the hash check alone.
        const conf = result.files["project/config/proxy/etc_nginx_nginx.conf"].replace(/rate=\d+r\/s/, "rate=100000r/s").replace(/burst=\d+/g, "burst=100000");
        const bcrypt = run("htpasswd", ["-nbB", "-C", "10", ui.user, ui.password]).output.trim();
        assert.match(bcrypt, /^archon:\$2y\$10\$/);
        const url = `https://${host}/`;
        const counts = { none: 600, apr1: 600, bcrypt: 20 };
        const measure = (label: string, file: string) => [
            `cp /etc/nginx/${file} /etc/nginx/auth/archon-ui`,
            `before=$(cpu)`,
            `echo ${label}-codes=$(curl -K /etc/nginx/curl-${label} | sort | uniq -c | tr -s ' \\n' ' ')`,
            `echo ${label}-ticks=$(( $(cpu) - before ))`,
        ];
        const { values } = withNginx(conf, {
            "auth/archon-ui": result.files[`${AUTH}/archon-ui`],
            "apr1.htpasswd": result.files[`${AUTH}/archon-ui`],
            "bcrypt.htpasswd": `${bcrypt}\n`,
            "curl-none": curlConfig(url, counts.none, "X-No-Credentials: 1"),
            "curl-apr1": curlConfig(url, counts.apr1, basic(ui.user, "a-wrong-password")),
            "curl-bcrypt": curlConfig(url, counts.bcrypt, basic(ui.user, "a-wrong-password")),
        }, [
            "echo ticks-per-second=$(getconf CLK_TCK)",
            ...measure("none", "apr1.htpasswd"),
            ...measure("apr1", "apr1.htpasswd"),
            ...measure("bcrypt", "bcrypt.htpasswd"),
        ]);
        const tick = 1000 / Number(values["ticks-per-second"]);
        const perRequestMs = (label: keyof typeof counts) => (Number(values[`${label}-ticks`]) * tick) / counts[label];
        for (const label of Object.keys(counts)) assert.match(values[`${label}-codes`], /^ ?\d+ 401 ?$/, `${label}: ${values[`${label}-codes`]}`);
        const cost = { none: perRequestMs("none"), apr1: perRequestMs("apr1"), bcrypt: perRequestMs("bcrypt") };
        const sixty = (ms: number) => `${((ms * 60) / 1000).toFixed(3)} s`;
        console.log(`      nginx CPU per request (60 requests): no credentials ${cost.none.toFixed(3)} ms (${sixty(cost.none)}), wrong password against APR1 ${cost.apr1.toFixed(3)} ms (${sixty(cost.apr1)}), against bcrypt cost 10 ${cost.bcrypt.toFixed(1)} ms (${sixty(cost.bcrypt)})`);
        // What an operator relies on: 60 wrong passwords cost the proxy (1 CPU) well under a tenth of a second.
        assert.ok(cost.apr1 * 60 < 100, JSON.stringify(cost));
        assert.ok(cost.apr1 * 20 < cost.bcrypt, `APR1 is not cheaper than bcrypt: ${JSON.stringify(cost)}`);
    });

    {
        const controller = "traefik";
        it(`k3s with ${controller}: every router runs the rate limit before its login (Ingresses and IngressRoutes)`, async () => {
            const result = await synth("production", { ingressController: controller });
            const middlewares = new Map(ofType(result, "kubernetes:traefik.io/v1alpha1:Middleware").map((r) => {
                const m = unsecret((r.inputs as Json));
                return [`${m.metadata.namespace}-${m.metadata.name}`, m.spec as Json];
            }));
            const isLogin = (spec: Json | undefined) => spec?.basicAuth !== undefined || spec?.forwardAuth !== undefined;
            const chains: [string, string[]][] = [
                ...ofType(result, "kubernetes:networking.k8s.io/v1:Ingress").map((r) => {
                    const metadata = (r.inputs as Json).metadata;
                    const list = String(metadata.annotations["traefik.ingress.kubernetes.io/router.middlewares"] ?? "");
                    return [`Ingress ${metadata.name}`, list.split(",").filter((m) => m !== "").map((m) => m.replace(/@kubernetescrd$/, ""))] as [string, string[]];
                }),
                ...ofType(result, "kubernetes:traefik.io/v1alpha1:IngressRoute").flatMap((r) => {
                    const route = r.inputs as Json;
                    return (route.spec.routes as Json[]).map((entry) => [`IngressRoute ${route.metadata.name}`, (entry.middlewares as Json[]).map((m) => `${m.namespace}-${m.name}`)] as [string, string[]]);
                }),
            ];
            let logins = 0;
            for (const [router, chain] of chains) {
                const limit = chain.findIndex((name) => middlewares.get(name)?.rateLimit !== undefined);
                assert.ok(limit >= 0, `${router} has no rate limit: ${chain.join(", ")}`);
                for (const [index, name] of chain.entries()) {
                    if (!isLogin(middlewares.get(name))) continue;
                    logins++;
                    assert.ok(limit < index, `${router}: ${name} runs before the rate limit: ${chain.join(", ")}`);
                }
            }
            assert.ok(logins >= 4, `the UI, MCP and registry routers log in: ${logins}`);
        });
    }

    it("k3s with ingress-nginx: every Ingress carries the rate limit its location applies before auth", async () => {
        const result = await synth("production", { ingressController: "ingress-nginx" });
        const ingresses = ofType(result, "kubernetes:networking.k8s.io/v1:Ingress").map((r) => (r.inputs as Json).metadata);
        assert.ok(ingresses.some((m) => m.annotations["nginx.ingress.kubernetes.io/auth-type"] === "basic"));
        for (const metadata of ingresses) assert.match(String(metadata.annotations["nginx.ingress.kubernetes.io/limit-rps"]), /^\d+$/, metadata.name);
    });
});
