import { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { KUBERNETES, list, objectRef, record, settings } from "../lib/context";

/**
 * Backends that must never be reachable from the internet without a login at the ingress: Archon
 * (v0.1.0 has no authentication of its own: its UI and MCP server run crawls, rewrite the knowledge
 * base and spend the stored LLM keys), postgres-meta (SQL as supabase_admin), Studio (Kong puts
 * basic auth in front of it; a direct route would skip it), Prometheus, Alertmanager, cAdvisor.
 */
const DEFAULT_ADMIN_BACKENDS = [
    "archon-ui", "archon-mcp", "archon-server", "archon-agents",
    "meta", "postgres-meta", "studio", "supabase-studio",
    "prometheus", "alertmanager", "cadvisor", "loki",
];

const TRAEFIK_MIDDLEWARE = "kubernetes:traefik.io/v1alpha1:Middleware";
const NGINX_AUTH_ANNOTATIONS = ["nginx.ingress.kubernetes.io/auth-url", "nginx.ingress.kubernetes.io/auth-type"];

/** `namespace-name@kubernetescrd` references of Traefik's router.middlewares annotation. */
function middlewareRefs(annotations: Record<string, unknown>): string[] {
    const value = String(annotations["traefik.ingress.kubernetes.io/router.middlewares"] ?? "");
    return value.split(",").map((m) => m.trim()).filter((m) => m !== "").map((m) => m.replace(/@kubernetescrd$/, ""));
}

function isAuthMiddleware(resource: PolicyResource): boolean {
    const spec = record(resource.props.spec);
    return spec.basicAuth !== undefined || spec.forwardAuth !== undefined || spec.digestAuth !== undefined;
}

/**
 * Every Ingress routing to an admin backend authenticates: ingress-nginx `auth-type: basic` with
 * `auth-secret`, or `auth-url` (oauth2-proxy); Traefik a `router.middlewares` entry naming a
 * Middleware of this stack with `basicAuth`, `digestAuth` or `forwardAuth`. A stack policy: the
 * Middleware the annotation names is another resource.
 */
export const ingressAuthentication: StackValidationPolicy = {
    name: "ingress-authentication",
    description: "An Ingress to an admin backend (Archon UI/MCP, postgres-meta, Studio, Prometheus, ...) requires authentication: ingress-nginx auth annotations or a Traefik basicAuth/forwardAuth Middleware.",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            adminBackends: { type: "array", items: { type: "string" }, description: "Service names that must sit behind authentication at the ingress." },
        },
    },
    validateStack: (args, reportViolation) => {
        const { adminBackends } = settings(args, { adminBackends: DEFAULT_ADMIN_BACKENDS });
        const authMiddlewares = new Set(args.resources
            .filter((r) => r.type === TRAEFIK_MIDDLEWARE || (r.type.startsWith("kubernetes:") && r.props.kind === "Middleware"))
            .filter(isAuthMiddleware)
            .map((r) => { const { namespace, name } = objectRef(r.props, r.name); return `${namespace}-${name}`; }));
        for (const ingress of args.resources.filter((r) => r.type === KUBERNETES.ingress)) {
            const { namespace, name } = objectRef(ingress.props, ingress.name);
            const metadata = record(ingress.props.metadata);
            const annotations = record(metadata.annotations);
            const spec = record(ingress.props.spec);
            const backends = new Set<string>();
            const defaultBackend = record(record(spec.defaultBackend).service).name;
            if (defaultBackend !== undefined) backends.add(String(defaultBackend));
            for (const rule of list(spec.rules).map(record)) {
                for (const p of list(record(rule.http).paths).map(record)) {
                    const service = record(record(p.backend).service).name;
                    if (service !== undefined) backends.add(String(service));
                }
            }
            const admin = [...backends].filter((b) => adminBackends.includes(b));
            if (admin.length === 0) continue;
            const nginxAuth = annotations["nginx.ingress.kubernetes.io/auth-url"] !== undefined
                || (annotations["nginx.ingress.kubernetes.io/auth-type"] !== undefined && annotations["nginx.ingress.kubernetes.io/auth-secret"] !== undefined);
            const traefikAuth = middlewareRefs(annotations).some((ref) => authMiddlewares.has(ref));
            if (nginxAuth || traefikAuth) continue;
            reportViolation(`Ingress ${namespace}/${name} exposes ${admin.join(", ")} without authentication; add a Traefik basicAuth/forwardAuth Middleware to router.middlewares or ${NGINX_AUTH_ANNOTATIONS.join(" / ")}`, ingress.urn);
        }
    },
};
