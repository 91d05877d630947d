/**
 * Issue 12.1, the optional part: OIDC login for Archon's UI through oauth2-proxy, configured from
 * stack config (`oidc*`). Compose: the REAL nginx runs the staging synth's nginx.conf in a private
 * mount and network namespace (`nginx -t`, then serving), in front of a stand-in oauth2-proxy that
 * answers /oauth2/auth like oauth2-proxy's AuthOnly (202 with the known session cookie, 401
 * otherwise): the UI is served only with the cookie, a browser without it is sent to
 * /oauth2/sign_in, and the MCP host keeps its basic credential. Kubernetes: the Traefik
 * Middlewares and ingress-nginx annotations of oauth2-proxy's documented integrations; on Traefik,
 * the routing evaluator (test/routing/traefik.ts) follows a browser without a session to the
 * sign-in page and its return URL. Both: the
 * client and cookie secrets only as secrets; half a configuration refused naming the key; without
 * the keys, nothing changes (basic auth stays).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { ofType, requireTool, run, synth, writeTempFiles } from "./helpers";
import { HttpRequest, errorPageRequest, renderedObjects, routeOnce, traefikEntryPoints, traefikRouters } from "./routing/traefik";
import { SynthConfigError, SynthResult } from "../scripts/lib/synthesize";

const PROXY_SCRIPTS = path.join(__dirname, "..", "components", "compose", "nginx");
const STUB = path.join(__dirname, "fixtures", "oauth2-proxy-stub.py");
const DNS_STUB = path.join(__dirname, "fixtures", "dns-stub.py");
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const unsecret = (v: unknown): Json => ((v as Json)?.$secret ?? v) as Json;

const CLIENT_SECRET = "oidc-Client-Secret-4711";
const OIDC = {
    oidcIssuerUrl: "https://id.example.com/realms/archon",
    oidcClientId: "archon-ui",
    oidcClientSecret: CLIENT_SECRET,
    oidcAllowedEmailDomains: ["example.com"],
    oidcAllowedEmails: ["ada@example.org"],
};

/** Everything of `value` outside `{"$secret": ...}` wrappers, as text. */
function nonSecretText(value: unknown): string {
    const strip = (v: unknown): unknown => {
        if (Array.isArray(v)) return v.map(strip);
        if (v !== null && typeof v === "object") {
            if ("$secret" in (v as Json)) return "[secret]";
            return Object.fromEntries(Object.entries(v as Json).map(([k, x]) => [k, strip(x)]));
        }
        return v;
    };
    return JSON.stringify(strip(value));
}

/** The cookie secret the Compose env file carries (base64url of 32 bytes). */
function composeCookieSecret(result: SynthResult): string {
    const env = result.files["project/env/oauth2-proxy.env"];
    const secret = /^OAUTH2_PROXY_COOKIE_SECRET=(.+)$/m.exec(env)?.[1];
    assert.ok(secret, env);
    return secret;
}

describe("OIDC login of Archon's UI through oauth2-proxy (issue 12.1)", function () {
    it("compose: the real nginx passes `nginx -t`, serves the UI only with oauth2-proxy's session and sends a browser without one to /oauth2/sign_in", async () => {
        requireTool("nginx", "nginx-light");
        requireTool("unshare", "util-linux");
        requireTool("curl", "curl");
        requireTool("python3", "python3-cryptography");
        const result = await synth("staging", OIDC);
        const conf = result.files["project/config/proxy/etc_nginx_nginx.conf"];
        const mcpHtpasswd = result.files["project/secrets/proxy/etc_nginx_auth/archon-mcp"];
        assert.ok(conf && mcpHtpasswd);
        assert.equal(result.files["project/secrets/proxy/etc_nginx_auth/archon-ui"], undefined, "no UI htpasswd with OIDC");
        const access = unsecret(result.outputs.archonAccess);
        const ui = unsecret(access.ui);
        const mcp = unsecret(access.mcp);
        assert.equal(ui.login, "oidc");
        assert.equal(ui.password, undefined);
        const archonHost = new URL(String(ui.url)).host;
        const mcpHost = new URL(String(mcp.url)).host;

        const upstreams = [...new Set([...conf.matchAll(/set \$(?:auth_)?backend_host ([a-z0-9-]+);/g)].map((m) => m[1]))];
        assert.ok(upstreams.includes("oauth2-proxy") && upstreams.includes("archon-ui"), upstreams.join(","));
        const dir = writeTempFiles({
            "etc-nginx/nginx.conf": conf.replace("error_log /dev/stderr warn;", "error_log /var/cache/archon-nginx-error.log warn;").replace(/access_log \/dev\/stdout[^;]*;/, "access_log off;"),
            "etc-nginx/mime.types": fs.readFileSync("/etc/nginx/mime.types", "utf8"),
            "etc-nginx/auth/archon-mcp": mcpHtpasswd,
            hosts: ["127.0.0.1 localhost", ...upstreams.map((u) => `127.0.0.1 ${u}`)].join("\n") + "\n",
        }, "archon-oidc-");
        for (const host of [...conf.matchAll(/server_name ([a-z0-9.-]+\.[a-z]+);/g)].map((m) => m[1])) {
            const made = run("python3", [path.join(PROXY_SCRIPTS, "bootstrap-cert.py"), host, path.join(dir, "etc-nginx", "certs", host)]);
            assert.equal(made.status, 0, made.output);
        }
        const session = "known-session-value";
        const curl = (name: string, host: string, urlPath: string, headers: string[] = []) =>
            `echo ${name}=$(curl -sk -o "${dir}/${name}.body" -w '%{http_code} %{redirect_url}' --resolve ${host}:443:127.0.0.1 ${headers.map((h) => `-H '${h}'`).join(" ")} 'https://${host}${urlPath}')`;
        const script = [
            "set -e",
            "ip link set lo up",
            `mount --bind "${dir}/hosts" /etc/hosts`,
            `mount --bind "${dir}/etc-nginx" /etc/nginx`,
            `mkdir -p "${dir}/cache" && mount --bind "${dir}/cache" /var/cache`,
            `nginx -t -c /etc/nginx/nginx.conf -g 'pid /var/cache/archon-nginx.pid;' >"${dir}/nginx-t.log" 2>&1 || { cat "${dir}/nginx-t.log"; exit 1; }`,
            `cat "${dir}/nginx-t.log"`,
            // Whatever happens, the stand-ins and nginx stop with the script (they hold its output open).
            "trap 'kill $(cat /var/cache/archon-nginx.pid 2>/dev/null) $dns_pid $auth_pid $ui_pid $mcp_pid 2>/dev/null' EXIT",
            // nginx resolves upstreams per request through Docker's DNS address: a stand-in answers there.
            `python3 ${DNS_STUB} 127.0.0.11 >/dev/null 2>&1 & dns_pid=$!`,
            `python3 ${STUB} auth 4180 ${session} >/dev/null 2>&1 & auth_pid=$!`,
            `python3 ${STUB} app 3737 >/dev/null 2>&1 & ui_pid=$!`,
            "touch /var/cache/mcp",
            "python3 -m http.server 8051 --bind 127.0.0.1 --directory /var/cache >/dev/null 2>&1 & mcp_pid=$!",
            "sleep 1",
            "nginx -c /etc/nginx/nginx.conf -g 'pid /var/cache/archon-nginx.pid;' || { cat /var/cache/archon-nginx-error.log; exit 1; }",
            "sleep 0.5",
            curl("ui-none", archonHost, "/knowledge?tab=1"),
            curl("ui-wrong", archonHost, "/", ["Cookie: _oauth2_proxy=forged"]),
            curl("ui-basic", archonHost, "/", [`Authorization: ${mcp.authorizationHeader}`]),
            curl("ui-ok", archonHost, "/", [`Cookie: _oauth2_proxy=${session}`, "X-Auth-Request-Email: mallory@evil.example"]),
            curl("ui-ws", archonHost, "/socket.io/?EIO=4", [`Cookie: _oauth2_proxy=${session}`]),
            curl("sign-in", archonHost, "/oauth2/sign_in"),
            curl("mcp-none", mcpHost, "/mcp"),
            curl("mcp-cookie", mcpHost, "/mcp", [`Cookie: _oauth2_proxy=${session}`]),
            curl("mcp-ok", mcpHost, "/mcp", [`Authorization: ${mcp.authorizationHeader}`]),
        ].join("\n");
        const { status, output } = run("unshare", ["-m", "-n", "--propagation", "private", "sh", "-c", script]);
        assert.equal(status, 0, output);
        assert.match(output, /test is successful/);
        const answers = Object.fromEntries([...output.matchAll(/^([a-z-]+)=(\d+) ?(\S*)$/gm)].map((m) => [m[1], { code: m[2], location: m[3] }]));
        const body = (name: string) => fs.readFileSync(path.join(dir, `${name}.body`), "utf8");
        // Without a session: a 302 to oauth2-proxy's sign-in page, which returns to the page asked for.
        for (const name of ["ui-none", "ui-wrong", "ui-basic"]) {
            assert.equal(answers[name]?.code, "302", `${name}: ${output}`);
            assert.ok(answers[name].location.startsWith(`https://${archonHost}/oauth2/sign_in?rd=https://${archonHost}/`), answers[name].location);
            assert.doesNotMatch(body(name), /archon-ui-page/);
        }
        assert.equal(answers["ui-none"].location, `https://${archonHost}/oauth2/sign_in?rd=https://${archonHost}/knowledge?tab=1`);
        // With it: the UI, which sees the user oauth2-proxy vouched for, not the one the client claimed.
        assert.equal(answers["ui-ok"]?.code, "200", output);
        assert.equal(body("ui-ok"), "archon-ui-page user=ada email=ada@example.com");
        assert.equal(answers["ui-ws"]?.code, "200", output);
        // The login flow itself is reachable without a session.
        assert.equal(answers["sign-in"]?.code, "200", output);
        assert.equal(body("sign-in"), "oauth2-proxy-sign-in-page");
        // MCP clients cannot do OIDC: the MCP host keeps its basic credential, and a UI session does not open it.
        assert.deepEqual([answers["mcp-none"]?.code, answers["mcp-cookie"]?.code, answers["mcp-ok"]?.code], ["401", "401", "200"], output);
    });

    it("compose: oauth2-proxy is pinned, non-root on a read-only root with limits, checked at /ping, with its secrets only in the 0600 env file", async () => {
        const result = await synth("staging", OIDC);
        const composeText = result.files["project/docker-compose.yml"];
        const service = (parseYaml(composeText) as Json).services["oauth2-proxy"] as Json;
        assert.match(String(service.image), /^quay\.io\/oauth2-proxy\/oauth2-proxy:v\d+\.\d+\.\d+-alpine$/);
        assert.equal(service.user, "65532");
        assert.equal(service.read_only, true);
        assert.deepEqual(service.cap_drop, ["ALL"]);
        assert.equal(service.mem_limit, "128m");
        assert.ok(Number(service.cpus) > 0);
        assert.deepEqual(service.healthcheck.test, ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:4180/ping"]);
        const args = service.command as string[];
        const archonHost = new URL(String(unsecret(unsecret(result.outputs.archonAccess).ui).url)).host;
        for (const flag of [
            "--provider=oidc", `--oidc-issuer-url=${OIDC.oidcIssuerUrl}`, `--client-id=${OIDC.oidcClientId}`,
            `--redirect-url=https://${archonHost}/oauth2/callback`, "--email-domain=example.com", "--reverse-proxy=true",
            "--set-xauthrequest=true", "--cookie-secure=true", "--http-address=0.0.0.0:4180",
        ]) assert.ok(args.includes(flag), `${flag} in ${args.join(" ")}`);
        assert.equal(result.files["project/config/oauth2-proxy/etc_oauth2-proxy_authenticated-emails"], "ada@example.org\n");
        // Secrets: only in env/oauth2-proxy.env, delivered as a secret.
        const env = result.files["project/env/oauth2-proxy.env"];
        assert.match(env, new RegExp(`^OAUTH2_PROXY_CLIENT_SECRET=${CLIENT_SECRET}$`, "m"));
        const cookieSecret = composeCookieSecret(result);
        assert.equal(Buffer.from(cookieSecret, "base64url").length, 32, "32 bytes: AES-256 (oauth2-proxy SecretBytes)");
        assert.ok(!args.some((a) => a.includes(CLIENT_SECRET)) && !composeText.includes(CLIENT_SECRET) && !composeText.includes(cookieSecret));
        const write = result.resources.find((r) => r.name === "secret-env-oauth2-proxy.env");
        assert.ok(write && (write.inputs.stdin as Json).$secret, "the env file travels as a secret");
        for (const secret of [CLIENT_SECRET, cookieSecret]) {
            assert.ok(!nonSecretText(result.resources).includes(secret), "no resource input holds it outside a secret");
            assert.ok(!nonSecretText(result.outputs).includes(secret), "no output holds it outside a secret");
        }
        const cookieKey = ofType(result, "random:index/randomId:RandomId").find((r) => r.name === "oauth2-proxy-cookie-secret");
        assert.equal(cookieKey?.inputs.byteLength, 32);
        // Networks: the proxy reaches it on edge; it reaches the issuer through its own egress bridge.
        const compose = parseYaml(composeText) as Json;
        assert.ok(Object.keys(service.networks).includes("egress-oauth2-proxy"));
        assert.ok(Object.keys(service.networks).some((n) => Object.keys(compose.services.proxy.networks).includes(n) && !n.startsWith("egress")));
    });

    for (const controller of ["traefik", "ingress-nginx"]) {
        it(`k3s with ${controller}: the UI's Ingress asks oauth2-proxy, /oauth2/ is routed to it, its secrets only in its Secret`, async () => {
            const result = await synth("production", { ...OIDC, ingressController: controller });
            const ingresses = ofType(result, "kubernetes:networking.k8s.io/v1:Ingress").map((r) => r.inputs as Json);
            const ui = ingresses.find((i) => i.metadata.name.startsWith("archon-ui-"));
            const login = ingresses.find((i) => i.metadata.name.startsWith("oauth2-proxy-"));
            assert.ok(ui && login);
            const archonHost = ui.spec.rules[0].host as string;
            assert.equal(login.spec.rules[0].host, archonHost);
            assert.deepEqual(login.spec.rules[0].http.paths.map((p: Json) => p.path), ["/oauth2/"]);
            const authUrl = "http://oauth2-proxy.archon.svc.cluster.local:4180/oauth2/auth";
            const uiAnnotations = ui.metadata.annotations as Record<string, string>;
            const loginAnnotations = login.metadata.annotations as Record<string, string>;
            assert.ok(!ofType(result, "kubernetes:core/v1:Secret").some((s) => /archon-ui-htpasswd/.test(s.name)), "no UI htpasswd with OIDC");
            if (controller === "ingress-nginx") {
                assert.equal(uiAnnotations["nginx.ingress.kubernetes.io/auth-url"], authUrl);
                assert.equal(uiAnnotations["nginx.ingress.kubernetes.io/auth-signin"], "https://$host/oauth2/start?rd=$escaped_request_uri");
                assert.equal(uiAnnotations["nginx.ingress.kubernetes.io/auth-type"], undefined);
                assert.equal(loginAnnotations["nginx.ingress.kubernetes.io/auth-url"], undefined, "the login flow itself is public");
            } else {
                const chain = uiAnnotations["traefik.ingress.kubernetes.io/router.middlewares"].split(",");
                // Right after the rate limit (issue 27.6): no login check for a client over its limit.
                assert.deepEqual(chain.slice(1, 4), ["archon-rate-limit@kubernetescrd", "archon-forward-auth-oauth2-proxy-sign-in@kubernetescrd", "archon-forward-auth-oauth2-proxy@kubernetescrd"]);
                assert.ok(!loginAnnotations["traefik.ingress.kubernetes.io/router.middlewares"].includes("forward-auth"));
                const middlewares = ofType(result, "kubernetes:traefik.io/v1alpha1:Middleware").map((r) => r.inputs as Json);
                const forward = middlewares.find((m) => m.metadata.name === "forward-auth-oauth2-proxy");
                const errors = middlewares.find((m) => m.metadata.name === "forward-auth-oauth2-proxy-sign-in");
                assert.deepEqual(forward?.spec, { forwardAuth: { address: authUrl, trustForwardHeader: true, authResponseHeaders: ["X-Auth-Request-User", "X-Auth-Request-Email"] } });
                assert.deepEqual(errors?.spec, { errors: { status: ["401"], service: { name: "oauth2-proxy", port: 4180 }, query: "/oauth2/sign_in?rd={url}" } });
            }
            // The workload: non-root, read-only, limited, probed at /ping; secrets only through its Secret.
            const deployment = ofType(result, "kubernetes:apps/v1:Deployment").find((r) => r.name === "oauth2-proxy")!.inputs as Json;
            const container = deployment.spec.template.spec.containers[0] as Json;
            assert.equal(container.securityContext.runAsNonRoot, true);
            assert.equal(container.securityContext.runAsUser, 65532);
            assert.equal(container.securityContext.readOnlyRootFilesystem, true);
            assert.ok(container.resources.limits.memory && container.resources.limits.cpu);
            assert.deepEqual(container.readinessProbe.httpGet, { path: "/ping", port: 4180 });
            assert.equal(deployment.spec.replicas, 2);
            assert.ok(!JSON.stringify(deployment).includes(CLIENT_SECRET));
            const secret = ofType(result, "kubernetes:core/v1:Secret").find((r) => r.name === "oauth2-proxy-secrets")!;
            const data = unsecret(secret.inputs.stringData);
            assert.ok((secret.inputs.stringData as Json).$secret !== undefined);
            assert.equal(data.OAUTH2_PROXY_CLIENT_SECRET, CLIENT_SECRET);
            assert.equal(Buffer.from(String(data.OAUTH2_PROXY_COOKIE_SECRET), "base64url").length, 32);
            assert.ok(!nonSecretText(result.resources).includes(CLIENT_SECRET));
            const configMap = ofType(result, "kubernetes:core/v1:ConfigMap").filter((r) => r.name.startsWith("oauth2-proxy"));
            assert.ok(!JSON.stringify(configMap).includes(CLIENT_SECRET));
            // NetworkPolicy: the ingress controllers reach 4180; it reaches the issuer over https.
            const policy = ofType(result, "kubernetes:networking.k8s.io/v1:NetworkPolicy").find((r) => r.name === "allow-oauth2-proxy")!.inputs as Json;
            assert.ok(policy.spec.ingress.some((rule: Json) => JSON.stringify(rule.from).includes("kube-system") && rule.ports.some((p: Json) => p.port === 4180)));
            assert.ok(policy.spec.egress.some((rule: Json) => rule.ports.some((p: Json) => p.port === 443) && rule.to.some((t: Json) => t.ipBlock?.cidr === "0.0.0.0/0")));
        });
    }

    it("k3s with traefik: a browser without a session gets the sign-in page with its own URL as rd, which oauth2-proxy may follow; the login flow itself is public (Traefik v3.7 evaluated)", async () => {
        const result = await synth("production", OIDC);
        const objects = renderedObjects(result.files);
        const entryPoints = traefikEntryPoints(objects);
        const routers = traefikRouters(objects, entryPoints);
        const ui = objects.find((o) => o.kind === "Ingress" && o.metadata.name.startsWith("archon-ui-"))!;
        const archonHost = ui.spec!.rules[0].host as string;
        const request: HttpRequest = { scheme: "https", port: 443, host: archonHost, path: "/knowledge", query: "tab=1&q=a+b", method: "GET" };
        const outcome = routeOnce(routers, objects, entryPoints, request);
        assert.equal(outcome.kind, "served");
        if (outcome.kind !== "served") return;
        assert.match(outcome.service, /^archon\/archon-ui:/);
        const check = "archon-forward-auth-oauth2-proxy@kubernetescrd";
        assert.deepEqual(outcome.authenticatedBy, [check]);
        // oauth2-proxy's /oauth2/auth answers 401 without a session: the errors middleware before it answers.
        const page = errorPageRequest(outcome.router, objects, request, check, 401);
        assert.ok(page, "the 401 is caught");
        assert.equal(page.service, "archon/oauth2-proxy:4180");
        assert.equal(page.path, "/oauth2/sign_in");
        assert.equal(page.status, 401, "the sign-in page (the provider's button), not a bare redirect");
        const rd = new URLSearchParams(page.query).get("rd");
        assert.equal(rd, `https://${archonHost}/knowledge?tab=1&q=a+b`, "back to the page first asked for");
        // oauth2-proxy follows an absolute rd only to a --whitelist-domain.
        const deployment = objects.find((o) => o.kind === "Deployment" && o.metadata.name === "oauth2-proxy")!;
        const args = deployment.spec!.template.spec.containers[0].args as string[];
        assert.ok(args.includes(`--whitelist-domain=${new URL(rd!).host}`), args.join(" "));
        // The login flow is public: sign-in, start and callback reach oauth2-proxy without the check.
        for (const path of ["/oauth2/sign_in", "/oauth2/start", "/oauth2/callback"]) {
            const login = routeOnce(routers, objects, entryPoints, { ...request, path, query: undefined });
            assert.ok(login.kind === "served" && login.service.startsWith("archon/oauth2-proxy:") && login.authenticatedBy.length === 0, `${path}: ${login.kind === "served" ? `${login.service} behind ${login.authenticatedBy.join(", ") || "no login"}` : login.kind}`);
        }
        // Without a catching errors middleware the client gets the bare 401.
        assert.equal(errorPageRequest(outcome.router, objects, request, check, 403), undefined);
    });

    it("refuses half a configuration or a wrong value in one line naming the key", async () => {
        const refused = async (overrides: Record<string, unknown>, key: string, text: RegExp) =>
            assert.rejects(synth("staging", overrides), (err: Error) => {
                assert.ok(err instanceof SynthConfigError, String(err));
                assert.ok(!err.message.includes("\n"), err.message);
                assert.match(err.message, new RegExp(`archon-infra:${key}\\b`));
                assert.match(err.message, text);
                assert.ok(!err.message.includes(CLIENT_SECRET), "the secret is never echoed");
                return true;
            });
        const { oidcIssuerUrl, oidcClientId, oidcClientSecret, ...rest } = OIDC;
        await refused({ oidcClientId, oidcClientSecret, oidcAllowedEmails: rest.oidcAllowedEmails }, "oidcIssuerUrl", /issuer URL/);
        await refused({ oidcIssuerUrl, oidcClientSecret, oidcAllowedEmailDomains: rest.oidcAllowedEmailDomains }, "oidcClientId", /client ID/);
        await refused({ oidcIssuerUrl, oidcClientId, oidcAllowedEmailDomains: rest.oidcAllowedEmailDomains }, "oidcClientSecret", /--secret oidcClientSecret/);
        await refused({ oidcIssuerUrl, oidcClientId, oidcClientSecret }, "oidcAllowedEmailDomains", /admits nobody/);
        await refused({ ...OIDC, oidcIssuerUrl: "http://id.example.com" }, "oidcIssuerUrl", /https URL/);
        await refused({ ...OIDC, oidcAllowedEmailDomains: ["*"] }, "oidcAllowedEmailDomains", /not accepted/);
        await refused({ ...OIDC, oidcAllowedEmails: ["not-an-address"] }, "oidcAllowedEmails", /e-mail addresses/);
        await refused({ ...OIDC, oidcClientSecret: "" }, "oidcClientSecret", /is empty/);
    });

    it("without the oidc keys nothing changes: no oauth2-proxy, the UI keeps its generated basic auth", async () => {
        const staging = await synth("staging");
        const compose = parseYaml(staging.files["project/docker-compose.yml"]) as Json;
        assert.equal(compose.services["oauth2-proxy"], undefined);
        const conf = staging.files["project/config/proxy/etc_nginx_nginx.conf"];
        assert.doesNotMatch(conf, /auth_request|oauth2/);
        assert.match(conf, /auth_basic_user_file \/etc\/nginx\/auth\/archon-ui;/);
        assert.ok(staging.files["project/secrets/proxy/etc_nginx_auth/archon-ui"]);
        const ui = unsecret(unsecret(staging.outputs.archonAccess).ui);
        assert.equal(ui.user, "archon");
        assert.ok(typeof ui.password === "string" && ui.password.length >= 32);
        assert.ok(!staging.resources.some((r) => /oauth2-proxy|oidc/.test(r.name)));
        const production = await synth("production");
        assert.ok(!production.resources.some((r) => /oauth2-proxy|oidc|forward-auth/.test(r.name)));
        assert.ok(ofType(production, "kubernetes:traefik.io/v1alpha1:Middleware").some((r) => r.name.endsWith("basic-auth-archon-ui")));
    });
});
