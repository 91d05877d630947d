/**
 * The Kubernetes targets' ingress: the controller (Traefik bundled with k3s, or ingress-nginx as a
 * pinned Helm release), cert-manager (pinned Helm release with its CRDs) with a Let's Encrypt
 * ClusterIssuer (HTTP-01), and one TLS Ingress per service and host, rendered from the catalog's
 * routes with HSTS and security headers, a per-client rate limit and body size limits (annotations
 * for ingress-nginx, Traefik Middleware objects for Traefik).
 */
import * as kubernetes from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { stringify as toYaml } from "yaml";
import { BasicAuthSpec, ForwardAuthSpec, ServiceGroup, ServiceSpec } from "../services/catalog";
import { RATE_LIMIT, ResolvedRoute, SECURITY_HEADERS, hostRoutes } from "../services/routes";
import { CHARTS } from "../services/versions";

export type IngressController = "traefik" | "ingress-nginx";

/** What an Ingress needs of a service: its name, group (namespace), ports and routes. */
export type RoutedService = Pick<ServiceSpec, "name" | "group" | "ports" | "routes">;

export const CLUSTER_ISSUER = "letsencrypt";
const LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory";
const INGRESS_CLASS: Record<IngressController, string> = { traefik: "traefik", "ingress-nginx": "nginx" };

/** Namespace of each group's workloads; groups not listed go to `archon`, monitoring to `monitoring`. */
export type NamespaceMap = Partial<Record<ServiceGroup, string>>;

export function namespaceOf(group: ServiceGroup, namespaces: NamespaceMap = {}): string {
    return namespaces[group] ?? (group === "monitoring" ? "monitoring" : "archon");
}

/** The TLS Secret of a host: `archon.example.com` -> `archon-example-com-tls`. */
export function tlsSecretName(host: string): string {
    return `${host.replace(/\./g, "-")}-tls`;
}

/** A Kubernetes object as plain data. */
export interface Manifest {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace: string; annotations?: Record<string, string>; labels?: Record<string, string> };
    spec: Record<string, unknown>;
}

export interface IngressRenderOptions {
    controller: IngressController;
    namespaces?: NamespaceMap;
    rateLimitPerSecond?: number;
    rateLimitBurst?: number;
}

const TRAEFIK_API = "traefik.io/v1alpha1";
const bodyMiddleware = (mb: number) => `body-limit-${mb}mb`;
const authMiddleware = (name: string) => `basic-auth-${name}`;
/** The Secret holding a credential set's htpasswd: key `users` for Traefik's basicAuth, `auth` for ingress-nginx. */
export const htpasswdSecretName = (name: string) => `${name}-htpasswd`;

/**
 * The Ingress objects (one per service and host, TLS on every one; cert-manager's annotation on the
 * first Ingress of each host and namespace, so one Certificate owns each TLS Secret) and, for
 * Traefik, the Middleware objects they reference.
 */
export function renderIngresses(services: RoutedService[], options: IngressRenderOptions): Manifest[] {
    const rate = options.rateLimitPerSecond ?? RATE_LIMIT.averagePerSecond;
    const burst = options.rateLimitBurst ?? RATE_LIMIT.burst;
    const groupOf = new Map(services.map((s) => [s.name, s.group]));
    const ingresses: Manifest[] = [];
    const middlewares = new Map<string, Manifest>();
    const readRoutes: Manifest[] = [];
    const certified = new Set<string>();
    for (const host of hostRoutes(services)) {
        const byService = new Map<string, typeof host.routes>();
        for (const route of host.routes) byService.set(route.service, [...(byService.get(route.service) ?? []), route]);
        for (const [service, routes] of [...byService.entries()].sort(([a], [b]) => a.localeCompare(b))) {
            const namespace = namespaceOf(groupOf.get(service)!, options.namespaces);
            const maxBodyMb = Math.max(...routes.map((r) => r.maxBodyMb));
            const websockets = routes.some((r) => r.websockets);
            const auths = [...new Map(routes.filter((r) => r.basicAuth).map((r) => [r.basicAuth!.name, r.basicAuth!])).values()];
            if (auths.length > 1) throw new Error(`${service} on ${host.host}: one Ingress takes one basic-auth credential set, got ${auths.map((a) => a.name).join(", ")}`);
            if (auths.length === 1 && routes.some((r) => !r.basicAuth)) throw new Error(`${service} on ${host.host}: some paths require a login and some do not; split them into separate services`);
            const writeAuths = [...new Map(routes.filter((r) => r.writeAuth).map((r) => [r.writeAuth!.name, r.writeAuth!])).values()];
            if (writeAuths.length > 1 || (writeAuths.length === 1 && routes.some((r) => !r.writeAuth))) throw new Error(`${service} on ${host.host}: every path of one Ingress must share one write credential set`);
            // Traefik splits by method: the Ingress (every method) takes the write credentials, a
            // GET/HEAD IngressRoute of higher priority the read ones. ingress-nginx cannot (see
            // INGRESS_NGINX_WRITE_AUTH): it keeps the read set, which admits both users, for every method.
            const writeAuth = options.controller === "traefik" ? writeAuths[0] : undefined;
            const auth = writeAuth ?? auths[0];
            const forwardAuths = [...new Map(routes.filter((r) => r.forwardAuth).map((r) => [r.forwardAuth!.service, r.forwardAuth!])).values()];
            if (forwardAuths.length > 1 || (forwardAuths.length === 1 && (auth || routes.some((r) => !r.forwardAuth)))) {
                throw new Error(`${service} on ${host.host}: one Ingress takes one login for all its paths; split them into separate services`);
            }
            const forwardAuth = forwardAuths[0];
            // The check's in-cluster URL: the auth service's Service in its own namespace.
            const authUrl = forwardAuth ? `http://${forwardAuth.service}.${namespaceOf(groupOf.get(forwardAuth.service) ?? "archon", options.namespaces)}.svc.cluster.local:${forwardAuth.port}${forwardAuth.authPath}` : undefined;
            const annotations: Record<string, string> = {};
            if (!certified.has(`${namespace}/${host.host}`)) {
                annotations["cert-manager.io/cluster-issuer"] = CLUSTER_ISSUER;
                certified.add(`${namespace}/${host.host}`);
            }
            if (options.controller === "ingress-nginx") {
                Object.assign(annotations, {
                    "nginx.ingress.kubernetes.io/ssl-redirect": "true",
                    "nginx.ingress.kubernetes.io/force-ssl-redirect": "true",
                    "nginx.ingress.kubernetes.io/limit-rps": String(rate),
                    "nginx.ingress.kubernetes.io/limit-burst-multiplier": String(Math.max(1, Math.round(burst / rate))),
                    "nginx.ingress.kubernetes.io/proxy-body-size": `${maxBodyMb}m`,
                    ...(websockets ? { "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600", "nginx.ingress.kubernetes.io/proxy-send-timeout": "3600" } : {}),
                    // ingress-nginx's basic auth: the Secret's key `auth` holds the htpasswd (annotations auth-type/auth-secret/auth-realm).
                    ...(auth ? { "nginx.ingress.kubernetes.io/auth-type": "basic", "nginx.ingress.kubernetes.io/auth-secret": htpasswdSecretName(auth.name), "nginx.ingress.kubernetes.io/auth-realm": auth.realm } : {}),
                    // ingress-nginx's external auth, as oauth2-proxy documents it (v7.15.3
                    // docs/docs/configuration/integrations/nginx.md: auth-url to /oauth2/auth,
                    // auth-signin to /oauth2/start?rd=$escaped_request_uri); the user's headers pass on.
                    ...(forwardAuth ? {
                        "nginx.ingress.kubernetes.io/auth-url": authUrl!,
                        "nginx.ingress.kubernetes.io/auth-signin": `https://$host${forwardAuth.startPath}?rd=$escaped_request_uri`,
                        "nginx.ingress.kubernetes.io/auth-response-headers": forwardAuth.responseHeaders.join(","),
                    } : {}),
                });
            } else {
                // Traefik runs a router's middlewares in the listed order. The rate limit comes before
                // any login, so a client guessing passwords gets 429 without costing a hash check
                // (issue 27.6); the body limit (it buffers the body) after it, so only a logged-in
                // client can make Traefik buffer. A forward-auth check: the errors middleware outside
                // the check, so its 401 becomes the sign-in page.
                const forwardNames = forwardAuth ? [forwardAuthErrorsMiddleware(forwardAuth.service), forwardAuthMiddleware(forwardAuth.service)] : [];
                const beforeLogin = ["security-headers", "rate-limit"];
                const names = [...beforeLogin, ...(auth ? [authMiddleware(auth.name)] : []), ...forwardNames, bodyMiddleware(maxBodyMb)];
                if (forwardAuth) {
                    for (const manifest of traefikForwardAuthMiddlewares(forwardAuth, namespace, authUrl!)) middlewares.set(`${namespace}/${manifest.metadata.name}`, manifest);
                }
                const authSets = [auth, writeAuth ? auths[0] : undefined].filter((a): a is BasicAuthSpec => a !== undefined);
                for (const name of [...names.filter((n) => !forwardNames.includes(n)), ...authSets.map((a) => authMiddleware(a.name))]) {
                    const key = `${namespace}/${name}`;
                    if (middlewares.has(key)) continue;
                    const set = authSets.find((a) => authMiddleware(a.name) === name);
                    middlewares.set(key, set
                        // Traefik basicAuth: `secret` names a Secret whose `users` key holds htpasswd lines (APR1 accepted: components/secrets `loginHash`).
                        ? { apiVersion: TRAEFIK_API, kind: "Middleware", metadata: { name, namespace }, spec: { basicAuth: { secret: htpasswdSecretName(set.name), realm: set.realm, removeHeader: !(set.forwardAuthorization ?? false) } } }
                        : traefikMiddleware(name, namespace, maxBodyMb, rate, burst));
                }
                if (writeAuth) {
                    readRoutes.push(traefikReadRoute(service, namespace, host.host, routes, [...beforeLogin, authMiddleware(auths[0].name), bodyMiddleware(maxBodyMb)]));
                }
                Object.assign(annotations, {
                    "traefik.ingress.kubernetes.io/router.entrypoints": "websecure",
                    "traefik.ingress.kubernetes.io/router.tls": "true",
                    "traefik.ingress.kubernetes.io/router.middlewares": names.map((n) => `${namespace}-${n}@kubernetescrd`).join(","),
                });
            }
            ingresses.push({
                apiVersion: "networking.k8s.io/v1",
                kind: "Ingress",
                metadata: { name: `${service}-${host.host.split(".")[0]}`, namespace, annotations, labels: { "app.kubernetes.io/part-of": "archon", "app.kubernetes.io/name": service } },
                spec: {
                    ingressClassName: INGRESS_CLASS[options.controller],
                    tls: [{ hosts: [host.host], secretName: tlsSecretName(host.host) }],
                    rules: [{
                        host: host.host,
                        http: {
                            paths: routes.map((r) => ({
                                path: r.path,
                                pathType: "Prefix",
                                backend: { service: { name: r.service, port: r.portName ? { name: r.portName } : { number: r.port } } },
                            })),
                        },
                    }],
                },
            });
        }
    }
    return [...[...middlewares.values()].sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`)), ...ingresses, ...readRoutes];
}

/**
 * Priority of the GET/HEAD routers: above any length-derived priority of the Ingress routers
 * (Traefik gives a router without one the length of its rule, doc.traefik.io routing/routers
 * "priority"), so a read always meets the read credentials and every other method the Ingress's.
 */
export const TRAEFIK_READ_PRIORITY = 10000;

/**
 * Where cert-manager's HTTP-01 solver answers (cert-manager v1.18.2 pkg/issuer/acme/http/solver
 * constants.go `HTTPChallengePath`, the solver Ingress's path `<it>/<token>`, ingress.go
 * `solverPathFn`). Let's Encrypt and cert-manager's self-check (pkg/issuer/acme/http/http.go
 * `testReachability`, which needs a 200) request it without credentials.
 */
export const ACME_CHALLENGE_PATH = "/.well-known/acme-challenge/";

/**
 * Traefik's rule for reads of `path` on `host`: `Method` with one method, valid in Traefik 2.x and
 * 3.x. The ACME challenge path is left out: this router's priority outranks the solver's
 * length-derived one (TRAEFIK_READ_PRIORITY), so without the exclusion Let's Encrypt's GET would
 * meet the read login (401) and the host's certificate would never be issued.
 */
export function traefikReadRule(host: string, path: string): string {
    return `Host(\`${host}\`) && PathPrefix(\`${path}\`) && !PathPrefix(\`${ACME_CHALLENGE_PATH}\`) && (Method(\`GET\`) || Method(\`HEAD\`))`;
}

/**
 * The IngressRoute taking a service's GET and HEAD requests on `host` (Traefik CRD, traefik.io/v1alpha1
 * like the Middlewares), with the read credentials; same TLS Secret (issued for the host's Ingress
 * by cert-manager), entry point and other middlewares as the Ingress.
 */
function traefikReadRoute(service: string, namespace: string, host: string, routes: ResolvedRoute[], middlewareNames: string[]): Manifest {
    return {
        apiVersion: TRAEFIK_API,
        kind: "IngressRoute",
        metadata: { name: `${service}-${host.split(".")[0]}-read`, namespace },
        spec: {
            entryPoints: ["websecure"],
            routes: routes.map((r) => ({
                kind: "Rule",
                match: traefikReadRule(host, r.path),
                priority: TRAEFIK_READ_PRIORITY,
                middlewares: middlewareNames.map((name) => ({ name, namespace })),
                services: [{ name: r.service, port: r.portName ?? r.port }],
            })),
            tls: { secretName: tlsSecretName(host) },
        },
    };
}

/**
 * Why ingress-nginx serves a `writeAuth` route with its read credentials for every method: it can
 * express per-method auth only through `configuration-snippet` annotations, which the controller
 * refuses by default (allow-snippet-annotations false since v1.9, risk level Critical since v1.12:
 * snippets let any Ingress inject nginx configuration). The program warns instead of refusing.
 */
export const INGRESS_NGINX_WRITE_AUTH = "ingress-nginx cannot require a separate login for writes without snippet annotations (disabled by default as a Critical risk)";

const forwardAuthMiddleware = (service: string) => `forward-auth-${service}`;
const forwardAuthErrorsMiddleware = (service: string) => `forward-auth-${service}-sign-in`;

/**
 * Traefik's side of a forward-auth login, as oauth2-proxy documents it for Traefik (v7.15.3
 * docs/docs/configuration/integrations/traefik.md, "ForwardAuth with 401 errors middleware"): a
 * forwardAuth Middleware asking the auth service's check URL (202 passes, and the user's headers
 * reach the app), and an errors Middleware that answers its 401 with the service's sign-in page,
 * asked with `rd={url}` as the integration documents it, so the login returns to the page first
 * asked for. Traefik v3.7 (k3s v1.36; traefik/traefik v3.7.8 pkg/middlewares/customerrors/
 * custom_errors.go L131-142) puts there the escaped absolute URL of the request
 * (`https://archon.<domain>/path?query`, since v3.5.2), which oauth2-proxy follows because the host
 * is its `--whitelist-domain`; Traefik 2.11 (k3s v1.31, v2.11.9 custom_errors.go L96) the escaped
 * request URI (`/path?query`), a relative redirect oauth2-proxy follows as well. No `statusRewrites`
 * (oauth2-proxy's example turns 401 into 302 for a provider redirect): the sign-in page carries the
 * provider's button and answers 401 here, which a browser renders all the same. The service is
 * referenced by name and port in the Middleware's own namespace (Traefik's Kubernetes CRD provider).
 * test/oidc-login.spec.ts evaluates the whole chain (test/routing/traefik.ts `errorPageRequest`).
 */
function traefikForwardAuthMiddlewares(auth: ForwardAuthSpec, namespace: string, authUrl: string): Manifest[] {
    return [
        { apiVersion: TRAEFIK_API, kind: "Middleware", metadata: { name: forwardAuthErrorsMiddleware(auth.service), namespace }, spec: { errors: { status: ["401"], service: { name: auth.service, port: auth.port }, query: `${auth.signInPath}?rd={url}` } } },
        // trustForwardHeader: the check sees X-Forwarded-* as the entrypoint passed them (it replaces a client's own unless forwardedHeaders trusts it).
        { apiVersion: TRAEFIK_API, kind: "Middleware", metadata: { name: forwardAuthMiddleware(auth.service), namespace }, spec: { forwardAuth: { address: authUrl, trustForwardHeader: true, authResponseHeaders: auth.responseHeaders } } },
    ];
}

function traefikMiddleware(name: string, namespace: string, maxBodyMb: number, rate: number, burst: number): Manifest {
    const hstsSeconds = Number(/max-age=(\d+)/.exec(SECURITY_HEADERS["Strict-Transport-Security"])?.[1]);
    const specs: Record<string, Record<string, unknown>> = {
        "security-headers": {
            headers: {
                stsSeconds: hstsSeconds,
                stsIncludeSubdomains: true,
                contentTypeNosniff: true,
                customFrameOptionsValue: SECURITY_HEADERS["X-Frame-Options"],
                referrerPolicy: SECURITY_HEADERS["Referrer-Policy"],
                permissionsPolicy: SECURITY_HEADERS["Permissions-Policy"],
            },
        },
        // Keyed on the connection's remote address (an ipStrategy without depth or excludedIPs is
        // Traefik's RemoteAddr strategy, doc.traefik.io middlewares/http/ratelimit
        // `sourceCriterion.ipStrategy`), never on X-Forwarded-For, which clients write themselves.
        // Behind the Hetzner load balancer the remote address is the client's because the
        // entrypoints accept PROXY protocol from it (k3sTraefikValues).
        "rate-limit": { rateLimit: { average: rate, burst, sourceCriterion: { ipStrategy: { depth: 0 } } } },
    };
    const spec = specs[name] ?? { buffering: { maxRequestBodyBytes: maxBodyMb * 1024 * 1024 } };
    return { apiVersion: TRAEFIK_API, kind: "Middleware", metadata: { name, namespace }, spec };
}

export interface KubernetesIngressArgs {
    /** `Platform.kubernetesProvider`. */
    provider: kubernetes.Provider;
    /** Config `ingressController`: traefik (bundled with k3s; nothing installed) or ingress-nginx (Helm release). */
    controller: IngressController;
    /** Config `acmeEmail`: the Let's Encrypt account. */
    acmeEmail: string;
    /** The catalog (Kubernetes services) plus extra routed backends such as `KubernetesMonitoring.routedServices`. */
    services: RoutedService[];
    /** Namespace per service group; see {@link namespaceOf}. */
    namespaces?: NamespaceMap;
    /**
     * The cluster runs the Traefik k3s bundles (target k3s): it is configured through a
     * HelmChartConfig to redirect every plain-HTTP request to HTTPS. Default false (target
     * kubernetes: a Traefik someone else installed, left as it is).
     */
    bundledTraefik?: boolean;
    /**
     * Render cert-manager's ServiceMonitor, the source of `certmanager_certificate_expiration_timestamp_seconds`
     * (alert CertificateExpiringSoon). Needs the Prometheus Operator CRDs (KubernetesMonitoring) first. Default false.
     */
    certManagerServiceMonitor?: boolean;
    /** What renders the Prometheus Operator CRDs (`KubernetesMonitoring.crds`): cert-manager's and ingress-nginx's ServiceMonitors wait for it. */
    monitoringCrds?: pulumi.Resource;
    /** Cluster add-ons every chart and object waits for (CCM: schedulable nodes). Default none. */
    clusterAddons?: pulumi.Resource[];
    /**
     * The controller receives PROXY protocol (the Hetzner load balancer's `proxyprotocol`) and
     * trusts headers from these CIDRs only (`Platform.proxyProtocol`); unset = no PROXY protocol.
     */
    proxyProtocolTrustedCidrs?: string[];
    /**
     * What the Ingresses wait for (the DNS preflight, known later): each Ingress makes cert-manager
     * request its host's certificate, and Let's Encrypt's HTTP-01 check needs the host's DNS.
     */
    certificatesDependOn?: Promise<pulumi.Resource[]>;
}

/** Namespace and name of the HelmChartConfig that k3s merges into its bundled Traefik chart. */
export const K3S_TRAEFIK = { namespace: "kube-system", name: "traefik" } as const;

/**
 * Values for k3s's bundled Traefik: entrypoint `web` (port 80) answers every request with a
 * permanent redirect to `websecure` over https. Set as Traefik's own static-configuration flags
 * rather than chart values because the chart's redirect key changed meaning across the versions
 * k3s bundles (chart 27 / Traefik 2.11 in k3s v1.31: `ports.web.redirectTo.port`; chart 34+ /
 * Traefik 3, chart 40.1 / Traefik 3.7 in k3s v1.36: `ports.web.http.redirections.entryPoint`, and
 * `redirectTo` is refused), while these flags mean the same in Traefik 2.x and 3.x. Let's Encrypt
 * and cert-manager's self-check follow the redirect for HTTP-01 challenges
 * (test/acme-routing.spec.ts evaluates it).
 */
export function k3sTraefikValues(options: { proxyProtocolTrustedCidrs?: string[] } = {}): Record<string, unknown> {
    const trusted = options.proxyProtocolTrustedCidrs ?? [];
    return {
        additionalArguments: [
            "--entryPoints.web.http.redirections.entryPoint.to=websecure",
            "--entryPoints.web.http.redirections.entryPoint.scheme=https",
            "--entryPoints.web.http.redirections.entryPoint.permanent=true",
            // Behind the Hetzner load balancer (proxyprotocol on): read the client's address from
            // the PROXY header, accepted only from these sources (static configuration
            // `entryPoints.<name>.proxyProtocol.trustedIPs`, same flag in Traefik 2.x and 3.x,
            // doc.traefik.io routing/entrypoints "ProxyProtocol"). Headers from other peers are
            // refused, so no client can choose its own address.
            ...(trusted.length > 0
                ? ["web", "websecure"].map((entryPoint) => `--entryPoints.${entryPoint}.proxyProtocol.trustedIPs=${trusted.join(",")}`)
                : []),
        ],
        metrics: traefikMetricsValues(),
    };
}

/** Request-duration buckets of Traefik's histograms, seconds (2 s, the HighLatencyP95 threshold, is one). */
export const TRAEFIK_DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30];

/**
 * Traefik's Prometheus metrics, for the ingress alerts (traefik/traefik-helm-chart v40.1.0, the
 * chart k3s v1.36 bundles, and v27.0.2 of k3s v1.31 alike: values.yaml `metrics.prometheus`):
 * served on entry point `metrics` (port 9100) at /metrics; router labels on (one router per
 * public host and path: `traefik_router_requests_total`), service labels kept; a ClusterIP Service
 * for them (`metrics.prometheus.service.enabled`, templates/service-metrics.yaml) that the
 * ServiceMonitor `traefik-metrics` (kubernetes/monitoring.ts) selects.
 */
export function traefikMetricsValues(): Record<string, unknown> {
    return {
        prometheus: {
            entryPoint: "metrics",
            addRoutersLabels: true,
            addServicesLabels: true,
            buckets: TRAEFIK_DURATION_BUCKETS.join(","),
            service: { enabled: true },
        },
    };
}

/**
 * ingress-nginx ConfigMap keys for PROXY protocol behind the Hetzner load balancer
 * (kubernetes/ingress-nginx docs/user-guide/nginx-configuration/configmap.md `use-proxy-protocol`,
 * `proxy-real-ip-cidr`): every connection must then start with the header, so this is set only
 * when the load balancer sends it. No `load-balancer.hetzner.cloud/uses-proxyprotocol` Service
 * annotation: that is read by the CCM's load balancer controller, which is off here
 * (HCLOUD_LOAD_BALANCERS_ENABLED=false); the balancer is ingress-load-balancer.ts's.
 */
export function ingressNginxProxyProtocolConfig(trustedCidrs: string[]): Record<string, string> {
    return trustedCidrs.length > 0 ? { "use-proxy-protocol": "true", "proxy-real-ip-cidr": trustedCidrs.join(",") } : {};
}

/**
 * cert-manager controller configuration for clusters whose Ingress controller is ingress-nginx.
 * Since cert-manager 1.18 the ACME HTTP-01 solver Ingress uses `pathType: Exact`, and the
 * ingress-nginx admission webhook (strict-validate-path-type, on by default since controller 1.12)
 * rejects `/.well-known/acme-challenge/<token>` as an Exact path because of the dot, so no
 * certificate is ever issued (cert-manager issue #7791, a documented known issue of 1.18). The fix
 * cert-manager documents (1.18.1+) is turning its feature gate `ACMEHTTP01IngressPathTypeExact` off,
 * which restores `ImplementationSpecific` for the solver only; ingress-nginx keeps validating
 * every other Ingress strictly. apiVersion and kind are set because some chart versions refuse a
 * `config` without them.
 */
export function certManagerIngressNginxConfig(): Record<string, unknown> {
    return {
        apiVersion: "controller.config.cert-manager.org/v1alpha1",
        kind: "ControllerConfiguration",
        featureGates: { ACMEHTTP01IngressPathTypeExact: false },
    };
}

export class KubernetesIngress extends pulumi.ComponentResource {
    /** Public hosts served, sorted. */
    public readonly hosts: string[];
    /** The Ingress objects of each backend service, by service name. */
    public readonly byService = new Map<string, pulumi.Resource[]>();

    constructor(name: string, args: KubernetesIngressArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:KubernetesIngress", name, {}, opts);
        const addons = args.clusterAddons ?? [];
        // Everything here waits for the cluster add-ons (CCM: the charts' pods need initialized nodes).
        const child = { parent: this, provider: args.provider, dependsOn: addons };
        const release = (releaseName: keyof typeof CHARTS, namespace: string, values: Record<string, unknown>, dependsOn: pulumi.Resource[] = []) => {
            const chart = CHARTS[releaseName];
            const ns = new kubernetes.core.v1.Namespace(namespace, { metadata: { name: namespace } }, child);
            return new kubernetes.helm.v3.Release(chart.chart, {
                name: chart.chart,
                chart: chart.chart,
                version: chart.version,
                repositoryOpts: { repo: chart.repo },
                namespace: ns.metadata.name,
                atomic: true,
                values,
            }, { ...child, dependsOn: [...addons, ns, ...dependsOn] });
        };

        const certManager = release("certManager", "cert-manager", {
            // `installCRDs` is deprecated since chart v1.15; `crds.enabled` installs them, `crds.keep` keeps them on uninstall.
            crds: { enabled: true, keep: true },
            prometheus: {
                enabled: true,
                // honorLabels keeps the metric's own `namespace` (the Certificate's), not the scrape target's.
                servicemonitor: { enabled: args.certManagerServiceMonitor ?? false, honorLabels: true },
            },
            ...(args.controller === "ingress-nginx" ? { config: certManagerIngressNginxConfig() } : {}),
        }, args.certManagerServiceMonitor && args.monitoringCrds ? [args.monitoringCrds] : []);
        if (args.controller === "traefik" && args.bundledTraefik) {
            new kubernetes.apiextensions.CustomResource("traefik-config", {
                apiVersion: "helm.cattle.io/v1",
                kind: "HelmChartConfig",
                metadata: { name: K3S_TRAEFIK.name, namespace: K3S_TRAEFIK.namespace },
                spec: { valuesContent: toYaml(k3sTraefikValues({ proxyProtocolTrustedCidrs: args.proxyProtocolTrustedCidrs })) },
            }, child);
        }
        const controller = args.controller === "ingress-nginx"
            ? [release("ingressNginx", "ingress-nginx", {
                controller: {
                    ingressClassResource: { name: "nginx", default: true },
                    config: {
                        "hsts": "true",
                        "hsts-max-age": "63072000",
                        "hsts-include-subdomains": "true",
                        "server-tokens": "false",
                        "ssl-redirect": "true",
                        ...ingressNginxProxyProtocolConfig(args.proxyProtocolTrustedCidrs ?? []),
                    },
                    // Security headers on every response (the chart renders them as a ConfigMap).
                    addHeaders: Object.fromEntries(Object.entries(SECURITY_HEADERS).filter(([h]) => h !== "Strict-Transport-Security")),
                    // Controller metrics (nginx_ingress_controller_requests, ..._request_duration_seconds) for the ingress
                    // alerts, scraped through the chart's ServiceMonitor (the Prometheus Operator CRDs exist: the
                    // ingress waits for the monitoring stack).
                    metrics: { enabled: true, serviceMonitor: { enabled: true } },
                },
            }, args.monitoringCrds ? [args.monitoringCrds] : [])]
            : [];

        const issuer = new kubernetes.apiextensions.CustomResource("letsencrypt", {
            apiVersion: "cert-manager.io/v1",
            kind: "ClusterIssuer",
            metadata: { name: CLUSTER_ISSUER },
            spec: {
                acme: {
                    server: LETS_ENCRYPT,
                    email: args.acmeEmail,
                    privateKeySecretRef: { name: "letsencrypt-account-key" },
                    solvers: [{ http01: { ingress: { ingressClassName: INGRESS_CLASS[args.controller] } } }],
                },
            },
        }, { ...child, dependsOn: [...addons, certManager] });

        // One Secret per basic-auth credential set, in the namespace of each Ingress that uses it.
        const groupOf = new Map(args.services.map((s) => [s.name, s.group]));
        const htpasswdSecrets = new Map<string, kubernetes.core.v1.Secret>();
        const routesWithAuth = hostRoutes(args.services).flatMap((h) => h.routes);
        const authSets = routesWithAuth.flatMap((route) => [route.basicAuth, args.controller === "traefik" ? route.writeAuth : undefined]
            .filter((auth): auth is BasicAuthSpec => auth !== undefined).map((auth) => ({ route, auth })));
        for (const { route, auth } of authSets) {
            const namespace = namespaceOf(groupOf.get(route.service)!, args.namespaces);
            const secretName = htpasswdSecretName(auth.name);
            const key = `${namespace}-${secretName}`;
            if (htpasswdSecrets.has(key)) continue;
            const htpasswd = pulumi.secret(auth.htpasswd);
            htpasswdSecrets.set(key, new kubernetes.core.v1.Secret(key, {
                metadata: { name: secretName, namespace },
                type: "Opaque",
                stringData: pulumi.secret(pulumi.output(htpasswd).apply((text) => ({ users: text, auth: text }))),
            }, child));
        }
        const splitRoutes = routesWithAuth.filter((route) => route.writeAuth);
        if (args.controller === "ingress-nginx" && splitRoutes.length > 0) {
            pulumi.log.warn(`ingressController ingress-nginx: ${splitRoutes.map((r) => r.service).join(", ")} accepts its read login for writes too: ${INGRESS_NGINX_WRITE_AUTH}; use traefik, or an external registry (registryServer) whose pull token is read-only`, this);
        }
        const manifests = renderIngresses(args.services, { controller: args.controller, namespaces: args.namespaces });
        for (const manifest of manifests) {
            const resourceName = `${manifest.metadata.namespace}-${manifest.metadata.name}`;
            if (manifest.kind === "Ingress") {
                const before = [...addons, issuer, ...controller, ...htpasswdSecrets.values()];
                const dependsOn = args.certificatesDependOn ? args.certificatesDependOn.then((dns) => [...before, ...dns]) : before;
                const ingress = new kubernetes.networking.v1.Ingress(resourceName, { metadata: manifest.metadata, spec: manifest.spec }, { ...child, dependsOn });
                const service = manifest.metadata.labels?.["app.kubernetes.io/name"] ?? manifest.metadata.name;
                this.byService.set(service, [...(this.byService.get(service) ?? []), ingress]);
            } else {
                // An IngressRoute routes as soon as it exists: like the Ingresses, only once its login Secrets do.
                const routeDeps = manifest.kind === "IngressRoute" ? { dependsOn: [...addons, issuer, ...htpasswdSecrets.values()] } : {};
                new kubernetes.apiextensions.CustomResource(resourceName, { apiVersion: manifest.apiVersion, kind: manifest.kind, metadata: manifest.metadata, spec: manifest.spec }, { ...child, ...routeDeps });
            }
        }
        this.hosts = hostRoutes(args.services).map((h) => h.host);
        this.registerOutputs({ hosts: this.hosts });
    }
}
