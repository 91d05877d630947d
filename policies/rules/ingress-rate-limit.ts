import { StackValidationPolicy } from "@pulumi/policy";
import { ACME_SOLVER_BACKENDS, isLoginMiddleware, isPublicBackend, isRateLimitMiddleware, middlewares, nginxLogin, nginxRateLimited, routers } from "../lib/ingress";

/**
 * Every HTTP router into the cluster limits each client's request rate BEFORE its login is checked:
 * a login check hashes the password on every request, so without the limit first one client
 * guessing passwords keeps the ingress busy (issue 27.6, README "Logging in"). ingress-nginx puts
 * its `limit-rps`/`limit-rpm`/`limit-connections` limits in the same location as the login, and
 * nginx runs limit_req (PREACCESS phase) before auth_basic/auth_request (ACCESS), whatever the
 * order; Traefik runs a router's middlewares in the listed order, so its rateLimit Middleware must
 * come before the first login Middleware (test/ingress-login-cost.spec.ts runs both nginx shapes).
 */
export const ingressRateLimit: StackValidationPolicy = {
    name: "ingress-rate-limit",
    description: "Every Ingress and Traefik IngressRoute (but one only to cert-manager's HTTP-01 solver) limits each client's request rate before any login: ingress-nginx limit-rps/limit-rpm/limit-connections, or a Traefik rateLimit Middleware listed before the login Middleware on every route.",
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
        const all = middlewares(args.resources);
        for (const router of routers(args.resources)) {
            if (router.kind !== "Ingress" && router.kind !== "IngressRoute") continue;
            // A route only to cert-manager's HTTP-01 solver serves the challenge token, once per certificate.
            if (router.backends.length > 0 && router.backends.every((b) => isPublicBackend(b, ACME_SOLVER_BACKENDS))) continue;
            if (router.kind === "Ingress" && nginxRateLimited(router.annotations)) continue;
            for (const chain of router.chains) {
                const limit = chain.findIndex((ref) => isRateLimitMiddleware(all.get(ref)));
                const login = chain.findIndex((ref) => isLoginMiddleware(all.get(ref), all, router.namespace));
                if (limit < 0) {
                    const hasLogin = login >= 0 || nginxLogin(router.annotations).login;
                    reportViolation(`${router.label} has no per-client rate limit${hasLogin ? " in front of its login" : ""}; add the rate-limit Middleware (Traefik) or limit-rps (ingress-nginx)`, router.resource.urn);
                } else if (login >= 0 && login < limit) {
                    reportViolation(`${router.label} checks the login (${chain[login]}) before the rate limit (${chain[limit]}): list the rate limit first, so a client over its limit costs no password check`, router.resource.urn);
                }
            }
        }
    },
};
