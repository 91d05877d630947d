/**
 * Every way the stack routes public traffic into the cluster, as one list of routers: Kubernetes
 * Ingresses (Traefik reads their `router.middlewares` annotation, ingress-nginx its `nginx.ingress`
 * annotations) and Traefik's own IngressRoute / IngressRouteTCP / IngressRouteUDP, under both API
 * groups Traefik 2.x serves (`traefik.io` and the older `traefik.containo.us`). A stack-level view,
 * because a router's login lives in other resources (Middlewares).
 */
import { PolicyResource } from "@pulumi/policy";
import { KUBERNETES, Props, list, objectRef, record } from "./context";

/**
 * Backends reachable without a login at the ingress, and why each is safe: Kong checks the
 * Supabase API keys itself (its routes: rule kong-routes-authenticated), Grafana has its own login
 * (anonymous access and sign-up refused: rule grafana-login), oauth2-proxy IS the login, and
 * cert-manager's HTTP-01 solvers (`cm-acme-http-solver-<hash>`) answer only the challenge token
 * Let's Encrypt fetches without credentials. Every other backend (Archon, the registry, PostgREST,
 * postgres-meta, Studio, Prometheus, ...) needs one. A trailing `*` matches a name prefix.
 */
export const DEFAULT_PUBLIC_BACKENDS = ["kong", "grafana", "oauth2-proxy", "cm-acme-http-solver-*"];

/** True when `backend` is one of `patterns` (exact names, or prefixes written `name-*`). */
export function isPublicBackend(backend: string, patterns: readonly string[]): boolean {
    return patterns.some((p) => (p.endsWith("*") ? backend.startsWith(p.slice(0, -1)) : backend === p));
}

/** The ACME HTTP-01 solver's Services: public (the challenge), and asked once per certificate. */
export const ACME_SOLVER_BACKENDS = ["cm-acme-http-solver-*"];

const TRAEFIK_TYPE = /^kubernetes:traefik\.(io|containo\.us)\/v1alpha1:(\w+)$/;

/** The Traefik kind of a resource (`Middleware`, `IngressRoute`, ...), or undefined. */
export function traefikKind(resource: Pick<PolicyResource, "type" | "props">): string | undefined {
    const match = TRAEFIK_TYPE.exec(resource.type);
    if (match) return match[2];
    const apiVersion = String(resource.props.apiVersion ?? "");
    return /^traefik\.(io|containo\.us)\//.test(apiVersion) ? String(resource.props.kind ?? "") : undefined;
}

export interface Router {
    resource: PolicyResource;
    /** `Ingress ns/name`, `IngressRoute ns/name`. */
    label: string;
    kind: "Ingress" | "IngressRoute" | "IngressRouteTCP" | "IngressRouteUDP";
    namespace: string;
    annotations: Props;
    backends: string[];
    /** Traefik middlewares in the order they run (`namespace-name`), per route of an IngressRoute. */
    chains: string[][];
}

/** `namespace-name@kubernetescrd` references of Traefik's router.middlewares annotation, as `namespace-name`. */
function annotationChain(annotations: Props): string[] {
    const value = String(annotations["traefik.ingress.kubernetes.io/router.middlewares"] ?? "");
    return value.split(",").map((m) => m.trim()).filter((m) => m !== "").map((m) => m.replace(/@kubernetescrd$/, ""));
}

export function routers(resources: PolicyResource[]): Router[] {
    const found: Router[] = [];
    for (const resource of resources) {
        const { namespace, name } = objectRef(resource.props, resource.name);
        const annotations = record(record(resource.props.metadata).annotations);
        const spec = record(resource.props.spec);
        if (resource.type === KUBERNETES.ingress) {
            const backends = [record(record(spec.defaultBackend).service).name, ...list(spec.rules).flatMap((rule) => list(record(record(rule).http).paths).map((p) => record(record(record(p).backend).service).name))];
            found.push({ resource, label: `Ingress ${namespace}/${name}`, kind: "Ingress", namespace, annotations, backends: backends.filter((b) => b !== undefined).map(String), chains: [annotationChain(annotations)] });
            continue;
        }
        const kind = traefikKind(resource);
        if (kind !== "IngressRoute" && kind !== "IngressRouteTCP" && kind !== "IngressRouteUDP") continue;
        const routes = list(spec.routes).map(record);
        const backends = routes.flatMap((route) => list(route.services).map((s) => String(record(s).name ?? "")));
        const chains = routes.map((route) => list(route.middlewares).map((m) => `${String(record(m).namespace ?? namespace)}-${String(record(m).name ?? "")}`));
        found.push({ resource, label: `${kind} ${namespace}/${name}`, kind, namespace, annotations, backends, chains: chains.length > 0 ? chains : [[]] });
    }
    return found;
}

/** The stack's Traefik Middlewares by `namespace-name`, their specs. */
export function middlewares(resources: PolicyResource[]): Map<string, Props> {
    return new Map(resources.filter((r) => traefikKind(r) === "Middleware").map((r) => {
        const { namespace, name } = objectRef(r.props, r.name);
        return [`${namespace}-${name}`, record(r.props.spec)];
    }));
}

const nonEmpty = (value: unknown) => (typeof value === "string" && value.trim() !== "") || list(value).length > 0;

/** A Middleware that logs a client in: basicAuth/digestAuth with users, forwardAuth to an http(s) address, or a chain holding one. */
export function isLoginMiddleware(spec: Props | undefined, all: Map<string, Props>, namespace = "", seen = new Set<string>()): boolean {
    if (spec === undefined) return false;
    for (const field of ["basicAuth", "digestAuth"]) {
        const auth = record(spec[field]);
        if (nonEmpty(auth.secret) || nonEmpty(auth.users)) return true;
    }
    if (/^https?:\/\/\S+$/.test(String(record(spec.forwardAuth).address ?? ""))) return true;
    return list(record(spec.chain).middlewares).some((m) => {
        const ref = `${String(record(m).namespace ?? namespace)}-${String(record(m).name ?? "")}`;
        if (seen.has(ref)) return false;
        return isLoginMiddleware(all.get(ref), all, namespace, new Set([...seen, ref]));
    });
}

/** A Middleware that limits each client's request rate. */
export function isRateLimitMiddleware(spec: Props | undefined): boolean {
    return Number(record(spec?.rateLimit).average ?? 0) > 0;
}

const NGINX = "nginx.ingress.kubernetes.io/";

/**
 * ingress-nginx's login annotations, as the controller reads them: `auth-url` must be an http(s)
 * URL (an empty one is no login), `auth-type` basic/digest needs `auth-secret`; `satisfy: any` with
 * an allowlist lets the allowlist stand in for the login.
 */
export function nginxLogin(annotations: Props): { login: boolean; problem?: string } {
    const url = annotations[`${NGINX}auth-url`];
    const type = String(annotations[`${NGINX}auth-type`] ?? "");
    const secret = String(annotations[`${NGINX}auth-secret`] ?? "").trim();
    const login = (typeof url === "string" && /^https?:\/\/\S+$/.test(url.trim())) || ((type === "basic" || type === "digest") && secret !== "");
    if (login && String(annotations[`${NGINX}satisfy`] ?? "").trim() === "any") return { login: false, problem: "satisfy: any lets an allowlisted address skip the login" };
    if (url !== undefined && !login) return { login: false, problem: `auth-url ${JSON.stringify(url)} is no login URL` };
    return { login };
}

/** ingress-nginx's per-client limits: limit-rps, limit-rpm or limit-connections, a positive number. */
export function nginxRateLimited(annotations: Props): boolean {
    return ["limit-rps", "limit-rpm", "limit-connections"].some((key) => Number(annotations[`${NGINX}${key}`] ?? 0) > 0);
}
