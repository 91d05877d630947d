/**
 * The Compose target's ingress: nginx terminating TLS for every public host of the catalog, and a
 * certbot container that obtains and renews Let's Encrypt certificates (HTTP-01 through a shared
 * webroot). Both are catalog ServiceSpecs (targets ["compose"]) that the Compose renderer turns into
 * services; this component creates no cloud resources.
 *
 * First boot: nginx cannot listen on 443 without a certificate, so certbot first writes a
 * self-signed bootstrap certificate per host (components/compose/nginx/bootstrap-cert.py, with the
 * `cryptography` package certbot ships) and reports healthy; nginx starts on it, serves the ACME
 * webroot on port 80, certbot obtains the real certificates, and nginx switches to them within a
 * minute (components/compose/nginx/nginx-entrypoint.sh). nginx resolves the upstream services per
 * request, so it and certbot start before the apps (which answer 502 until they are up).
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { BasicAuthSpec, FileSpec, ForwardAuthSpec, ServiceSpec, StorageSpec, forTarget } from "../services/catalog";
import { HostRoutes, RATE_LIMIT, ResolvedRoute, SECURITY_HEADERS, hostRoutes } from "../services/routes";
import { IMAGES } from "../services/versions";
import { nginxAccessLogLines } from "./logs";

/** Compose service names of the proxy pair. */
export const PROXY_SERVICE = "proxy";
export const CERTBOT_SERVICE = "certbot";

/** The only capabilities the proxy gets back after `cap_drop: ALL`. */
export const PROXY_CAPABILITIES = ["CHOWN", "SETUID", "SETGID"] as const;

/** Where each host's certificate directory (fullchain.pem, privkey.pem) is linked inside nginx. */
export const CERTIFICATE_DIR = "/etc/nginx/certs";
/** The HTTP-01 webroot nginx serves and certbot writes. */
export const ACME_WEBROOT = "/var/www/certbot";

/**
 * Volumes nginx and certbot SHARE (`shared`: the Compose renderer mounts one host directory,
 * `<dataDir>/shared/<name>`, into both). Both run as root, so both may write them.
 */
export const SHARED_PROXY_STORAGE: readonly StorageSpec[] = [
    { name: "letsencrypt", mountPath: "/etc/letsencrypt", sizeGb: 1, shared: true },
    { name: "acme-webroot", mountPath: ACME_WEBROOT, sizeGb: 1, shared: true },
];

const script = (name: string) => fs.readFileSync(path.join(__dirname, "nginx", name), "utf8");

export interface NginxConfigOptions {
    /** Per-client average requests per second; default {@link RATE_LIMIT}. */
    rateLimitPerSecond?: number;
    /** Requests a client may send on top of the average before getting 429; default {@link RATE_LIMIT}. */
    rateLimitBurst?: number;
}

/**
 * nginx.conf for the proxy (mounted at /etc/nginx/nginx.conf): port 80 serves the ACME webroot and
 * redirects everything else to HTTPS; one TLS server per host with HSTS and security headers, a
 * per-client request limit, a body size limit per route, websocket upgrades where a route asks for
 * them, and proxying to the Compose service names. Unknown hosts get their TLS handshake refused.
 */
export function renderNginxConf(services: ServiceSpec[], options: NginxConfigOptions = {}): string {
    const rate = options.rateLimitPerSecond ?? RATE_LIMIT.averagePerSecond;
    const burst = options.rateLimitBurst ?? RATE_LIMIT.burst;
    const hosts = hostRoutes(services);
    const lines = [
        "# Rendered by archon-infra (components/compose-proxy.ts); edits on the host are overwritten.",
        "worker_processes auto;",
        "error_log /dev/stderr warn;",
        "events {",
        "    worker_connections 4096;",
        "}",
        "http {",
        "    include /etc/nginx/mime.types;",
        "    default_type application/octet-stream;",
        // JSON access log: Alloy turns it into the ingress request metrics (logs.ts).
        ...nginxAccessLogLines().map((line) => `    ${line}`),
        "    server_tokens off;",
        "    sendfile on;",
        "    keepalive_timeout 65s;",
        "",
        "    map $http_upgrade $connection_upgrade {",
        "        default upgrade;",
        "        ''      close;",
        "    }",
        `    limit_req_zone $binary_remote_addr zone=per_client:10m rate=${rate}r/s;`,
        "    limit_req_status 429;",
        "",
        // Upstreams are resolved per request through Docker's embedded DNS (127.0.0.11 in every
        // container on a user-defined network): nginx starts, and certbot gets its certificates,
        // while the apps are still starting (502 until they answer), and a recreated container's
        // new address is picked up within `valid` without a reload.
        "    resolver 127.0.0.11 valid=10s ipv6=off;",
        "    resolver_timeout 5s;",
        "",
        "    ssl_protocols TLSv1.2 TLSv1.3;",
        "    ssl_prefer_server_ciphers off;",
        "    ssl_session_cache shared:TLS:10m;",
        "    ssl_session_timeout 1d;",
        "    ssl_session_tickets off;",
        "",
        "    server {",
        // Each port on IPv4 and on IPv6: with the daemon's `userland-proxy: false`, an IPv6
        // client's connection is DNATed to the container's IPv6 address on the proxy's bridge
        // (components/hetzner/docker-daemon.ts), where an IPv4-only listen answers with a reset
        // (reproduced on a real dockerd: test/compose-engine.spec.ts).
        "        listen 80 default_server;",
        "        listen [::]:80 default_server;",
        "        server_name _;",
        "        location /.well-known/acme-challenge/ {",
        `            root ${ACME_WEBROOT};`,
        "        }",
        "        location = /healthz {",
        "            access_log off;",
        "            default_type text/plain;",
        "            return 200 \"ok\\n\";",
        "        }",
        "        location / {",
        "            return 301 https://$host$request_uri;",
        "        }",
        "    }",
        "",
        "    server {",
        "        listen 443 ssl default_server;",
        "        listen [::]:443 ssl default_server;",
        "        ssl_reject_handshake on;",
        "    }",
        ...hosts.flatMap((host) => serverBlock(host, burst)),
        "}",
    ];
    return lines.join("\n") + "\n";
}

function serverBlock(host: HostRoutes, burst: number): string[] {
    return [
        "",
        "    server {",
        "        listen 443 ssl http2;",
        "        listen [::]:443 ssl http2;",
        `        server_name ${host.host};`,
        `        ssl_certificate ${CERTIFICATE_DIR}/${host.host}/fullchain.pem;`,
        `        ssl_certificate_key ${CERTIFICATE_DIR}/${host.host}/privkey.pem;`,
        ...Object.entries(SECURITY_HEADERS).map(([name, value]) => `        add_header ${name} "${value}" always;`),
        `        limit_req zone=per_client burst=${burst} nodelay;`,
        ...forwardAuthLocations(host),
        ...host.routes.flatMap(locationBlock),
        "    }",
    ];
}

/** The named location a route's 401 goes to (see {@link forwardAuthLocations}). */
const signInLocation = (auth: ForwardAuthSpec) => `@${auth.service.replace(/[^a-z0-9]/g, "_")}_sign_in`;

/**
 * For each forward-auth service the host's routes use: the exact location nginx's `auth_request`
 * subrequest goes to (no body, the original URI in X-Forwarded-Uri), and the named location that
 * sends a browser without a session to the sign-in page with a 302. oauth2-proxy's documented nginx
 * integration, v7.15.3 docs/docs/configuration/integrations/nginx.md (`location = /oauth2/auth`,
 * `error_page 401 = @oauth2_signin`, `return 302 /oauth2/sign_in?rd=$scheme://$host$request_uri`).
 * The sign-in flow itself (/oauth2/...) is the auth service's own route on the host.
 */
function forwardAuthLocations(host: HostRoutes): string[] {
    const auths = [...new Map(host.routes.filter((r) => r.forwardAuth).map((r) => [r.forwardAuth!.service, r.forwardAuth!])).values()];
    return auths.flatMap((auth) => [
        `        location = ${auth.authPath} {`,
        "            proxy_pass_request_body off;",
        "            proxy_set_header Content-Length \"\";",
        "            proxy_http_version 1.1;",
        "            proxy_set_header Connection \"\";",
        "            proxy_set_header Host $host;",
        "            proxy_set_header X-Real-IP $remote_addr;",
        "            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "            proxy_set_header X-Forwarded-Proto $scheme;",
        "            proxy_set_header X-Forwarded-Host $host;",
        "            proxy_set_header X-Forwarded-Uri $request_uri;",
        // Its own variable: a subrequest shares the main request's variables, and the main
        // location's $backend_host must still name the app when its proxy_pass runs.
        `            set $auth_backend_host ${auth.service};`,
        `            proxy_pass http://$auth_backend_host:${auth.port};`,
        "        }",
        `        location ${signInLocation(auth)} {`,
        `            return 302 ${auth.signInPath}?rd=$scheme://$host$request_uri;`,
        "        }",
    ]);
}

/** Where the proxy finds each credential set's htpasswd: `<AUTH_DIR>/<name>`. */
export const AUTH_DIR = "/etc/nginx/auth";
/**
 * The uid of nginx's worker processes in the official image (nginx/docker-nginx, mainline/alpine
 * Dockerfile: `adduser -S -D -H -u 101 ... nginx`; the binary is built with --user=nginx). The
 * worker opens auth_basic_user_file on each request, so the 0600 htpasswd belongs to it.
 */
export const NGINX_WORKER_UID = 101;

function authLines(auth: BasicAuthSpec, indent: string): string[] {
    return [`${indent}auth_basic "${auth.realm.replace(/["\\]/g, "")}";`, `${indent}auth_basic_user_file ${AUTH_DIR}/${auth.name};`];
}

function locationBlock(route: ResolvedRoute): string[] {
    // proxy_set_header in a location replaces every inherited one, so each location sets them all.
    const upgrade = route.websockets
        ? [
            "            proxy_set_header Upgrade $http_upgrade;",
            "            proxy_set_header Connection $connection_upgrade;",
            "            proxy_read_timeout 3600s;",
            "            proxy_send_timeout 3600s;",
        ]
        : ["            proxy_set_header Connection \"\";", "            proxy_read_timeout 300s;"];
    return [
        `        location ${route.path} {`,
        ...(route.basicAuth ? authLines(route.basicAuth, "            ") : []),
        // Writes need the write credential set only (distribution's "nginx authentication proxy"
        // recipe, docs/recipes/nginx.md, with `limit_except`): for any method but GET and HEAD nginx
        // applies this block's auth_basic instead of the location's (nginx docs, limit_except).
        ...(route.writeAuth ? ["            limit_except GET HEAD {", ...authLines(route.writeAuth, "                "), "            }"] : []),
        // The signed-in user's headers come from the check, never from the client.
        ...(route.forwardAuth ? [
            `            auth_request ${route.forwardAuth.authPath};`,
            `            error_page 401 = ${signInLocation(route.forwardAuth)};`,
            ...route.forwardAuth.responseHeaders.map((header, i) => `            auth_request_set $auth_header_${i} $upstream_http_${header.toLowerCase().replace(/-/g, "_")};`),
        ] : []),
        `            client_max_body_size ${route.maxBodyMb}m;`,
        // Bodies pass through as they arrive: buffered, a 200 MB layer push would be written to the
        // proxy's tmpfs and count against its memory limit (test/compose-engine.spec.ts pushes one).
        ...(route.streamBodies ? ["            proxy_request_buffering off;", "            proxy_buffering off;"] : []),
        "            proxy_http_version 1.1;",
        "            proxy_set_header Host $host;",
        "            proxy_set_header X-Real-IP $remote_addr;",
        "            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "            proxy_set_header X-Forwarded-Proto $scheme;",
        "            proxy_set_header X-Forwarded-Host $host;",
        ...(route.forwardAuth ? route.forwardAuth.responseHeaders.map((header, i) => `            proxy_set_header ${header} $auth_header_${i};`) : []),
        ...upgrade,
        // A variable makes nginx resolve the name per request instead of refusing to start
        // ("host not found in upstream"). No URI part after host:port, so the request URI is passed
        // unchanged, exactly as `proxy_pass http://service:port;` did (nginx proxy_pass docs).
        // Under `limit_except` the request runs with that block's configuration, which has no
        // rewrite-module `set` (not allowed there): $backend_host would be empty on writes ("no
        // host in upstream", 500). Such a route names the host literally and still resolves per
        // request, because $request_uri (the client's original URI and arguments) makes the URL a
        // variable one; test/registry-credentials.spec.ts runs it.
        ...(route.writeAuth
            ? [`            proxy_pass http://${route.service}:${route.port}$request_uri;`]
            : [`            set $backend_host ${route.service};`, `            proxy_pass http://$backend_host:${route.port};`]),
        "        }",
    ];
}

export interface ComposeProxyArgs {
    /** The catalog (any target); the proxy routes the Compose services' `routes`. */
    services: ServiceSpec[];
    /** Let's Encrypt account e-mail (config `acmeEmail`). */
    acmeEmail: string;
    /** Rate limit overrides; defaults {@link RATE_LIMIT}. */
    nginx?: NginxConfigOptions;
}

/** The proxy (nginx) and certbot ServiceSpecs of the Compose target. */
export class ComposeProxy extends pulumi.ComponentResource {
    /** nginx then certbot, as catalog entries (targets ["compose"], group ingress). */
    public readonly services: ServiceSpec[];
    /** Their names, for outputs and wiring. */
    public readonly serviceNames: string[];
    /** Public host names the proxy serves, sorted. */
    public readonly hosts: string[];

    constructor(name: string, args: ComposeProxyArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:ComposeProxy", name, {}, opts);
        this.hosts = composeProxyHosts(args.services);
        this.services = composeProxyServices(args);
        this.serviceNames = this.services.map((s) => s.name);
        this.registerOutputs({ services: this.serviceNames, hosts: this.hosts });
    }
}

/** Public host names the proxy serves, sorted. */
function composeProxyHosts(services: ServiceSpec[]): string[] {
    return hostRoutes(forTarget(services, "compose")).map((h) => h.host);
}

/** nginx then certbot (pure: the Compose memory check sums them before any resource exists). */
export function composeProxyServices(args: ComposeProxyArgs): ServiceSpec[] {
    const routed = forTarget(args.services, "compose");
    const domains = composeProxyHosts(args.services).join(" ");
    const credentialSets = new Map(hostRoutes(routed).flatMap((h) => h.routes).flatMap((r) => [r.basicAuth, r.writeAuth]).filter((a): a is BasicAuthSpec => a !== undefined).map((a) => [a.name, a]));
    const htpasswdFiles: FileSpec[] = [...credentialSets.values()].map((auth) => ({ path: `${AUTH_DIR}/${auth.name}`, content: auth.htpasswd, secret: true, ownerUid: NGINX_WORKER_UID }));
    const nginx: ServiceSpec = {
        name: PROXY_SERVICE,
        group: "ingress",
        image: IMAGES.nginx,
        kind: "service",
        // Replaces the image's /docker-entrypoint.sh (templates into a writable conf.d, not used here).
        command: ["/bin/sh", "/opt/proxy/nginx-entrypoint.sh"],
        ports: [{ name: "http", port: 80 }, { name: "https", port: 443 }],
        publish: [{ host: 80, container: 80 }, { host: 443, container: 443 }],
        env: { DOMAINS: domains },
        files: [
            { path: "/etc/nginx/nginx.conf", content: renderNginxConf(routed, args.nginx) },
            { path: "/opt/proxy/nginx-entrypoint.sh", content: script("nginx-entrypoint.sh") },
            ...htpasswdFiles,
        ],
        health: { http: { path: "/healthz", port: 80 }, startupSeconds: 30 },
        resources: { cpu: "100m", memory: "64Mi", cpuLimit: "1", memoryLimit: "256Mi" },
        storage: [...SHARED_PROXY_STORAGE],
        // nginx's master runs as root: it chowns its temp directories (/var/cache/nginx/*_temp)
        // to the worker user (CHOWN) and starts workers as `nginx` (SETUID, SETGID); nothing
        // else. Binding 80/443 needs no NET_BIND_SERVICE: Docker (>= 20.10, moby/moby#41030)
        // sets net.ipv4.ip_unprivileged_port_start=0 in every container's network namespace.
        // test/compose-proxy-runtime.spec.ts runs the real nginx with exactly these.
        security: {
            runAsNonRoot: false,
            readOnlyRootFilesystem: true,
            writablePaths: [CERTIFICATE_DIR, "/var/cache/nginx", "/var/run", "/tmp"],
            addCapabilities: [...PROXY_CAPABILITIES],
        },
        dependsOn: [CERTBOT_SERVICE],
        targets: ["compose"],
    };
    const certbot: ServiceSpec = {
        name: CERTBOT_SERVICE,
        group: "ingress",
        image: IMAGES.certbot,
        kind: "service",
        // The image's ENTRYPOINT is `certbot` itself: the loop script replaces it.
        command: ["/bin/sh", "/opt/certbot/certbot-loop.sh"],
        ports: [],
        env: { DOMAINS: domains, ACME_EMAIL: args.acmeEmail, PROXY_HOST: PROXY_SERVICE },
        files: [
            { path: "/opt/certbot/certbot-loop.sh", content: script("certbot-loop.sh") },
            { path: "/opt/certbot/bootstrap-cert.py", content: script("bootstrap-cert.py") },
        ],
        // Healthy once every host has at least the bootstrap certificate: then nginx can start.
        health: { exec: ["test", "-f", "/etc/letsencrypt/bootstrap/ready"], startupSeconds: 60 },
        resources: { cpu: "10m", memory: "64Mi", cpuLimit: "500m", memoryLimit: "256Mi" },
        storage: [...SHARED_PROXY_STORAGE],
        security: { runAsNonRoot: false, readOnlyRootFilesystem: true, writablePaths: ["/var/lib/letsencrypt", "/var/log/letsencrypt", "/tmp"] },
        // Let's Encrypt's ACME API.
        egressInternet: true,
        targets: ["compose"],
    };
    return [nginx, certbot];
}
