import { StackValidationPolicy } from "@pulumi/policy";
import { settings } from "../lib/context";
import { DEFAULT_PUBLIC_BACKENDS, isLoginMiddleware, isPublicBackend, middlewares, nginxLogin, routers } from "../lib/ingress";

/**
 * Every router into the cluster (Ingress, Traefik IngressRoute of either API group, TCP/UDP routes)
 * that reaches a backend other than the public ones (`publicBackends`: Kong, Grafana, oauth2-proxy)
 * requires a login at the ingress: Archon v0.1.0 has none of its own (its UI and MCP server run
 * crawls, rewrite the knowledge base and spend the stored LLM keys), PostgREST straight would skip
 * Kong's key check, postgres-meta runs SQL as supabase_admin, Studio sits behind Kong's basic auth,
 * the registry and the monitoring backends have none. A login is an ingress-nginx `auth-url`
 * (http(s)) or `auth-type` basic/digest with `auth-secret`, or a Traefik Middleware of this stack
 * with basicAuth/digestAuth users or a forwardAuth address on every route. TCP and UDP routes can
 * carry no login at all. A stack policy: the Middleware a router names is another resource.
 */
export const ingressAuthentication: StackValidationPolicy = {
    name: "ingress-authentication",
    description: "Every Ingress or Traefik IngressRoute to a backend other than the public ones (Kong, Grafana, oauth2-proxy) requires a login: ingress-nginx auth-url/auth-type annotations or a Traefik basicAuth/digestAuth/forwardAuth Middleware of the stack; no TCP/UDP route reaches such a backend.",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            publicBackends: { type: "array", items: { type: "string" }, description: "Service names reachable through the ingress without a login (each checks its callers itself); `prefix-*` matches a prefix." },
        },
    },
    validateStack: (args, reportViolation) => {
        const { publicBackends } = settings(args, { publicBackends: DEFAULT_PUBLIC_BACKENDS });
        const all = middlewares(args.resources);
        for (const router of routers(args.resources)) {
            const guarded = [...new Set(router.backends.filter((b) => !isPublicBackend(b, publicBackends)))];
            if (guarded.length === 0) continue;
            const where = `${router.label} routes to ${guarded.join(", ")}`;
            if (router.kind === "IngressRouteTCP" || router.kind === "IngressRouteUDP") {
                reportViolation(`${where}: a ${router.kind} carries no login; route HTTP through an Ingress with one`, router.resource.urn);
                continue;
            }
            const nginx = nginxLogin(router.annotations);
            if (nginx.problem !== undefined) {
                reportViolation(`${where}: ${nginx.problem}`, router.resource.urn);
                continue;
            }
            const traefik = router.chains.every((chain) => chain.some((ref) => isLoginMiddleware(all.get(ref), all, router.namespace)));
            if (nginx.login || traefik) continue;
            reportViolation(`${where} without a login; add a Traefik basicAuth/forwardAuth Middleware of this stack to ${router.kind === "Ingress" ? "router.middlewares" : "every route's middlewares"} or the ingress-nginx auth-type/auth-secret (or auth-url) annotations`, router.resource.urn);
        }
    },
};
