/**
 * ingress-nginx's HTTP routing, evaluated over the rendered objects as controller v1.13.2 (chart
 * 4.13.2, the pinned one) defines it in kubernetes/ingress-nginx at tag controller-v1.13.2:
 * - every Ingress of the class with the same host becomes one nginx `server`; each path one
 *   `location`, carrying the annotations (auth included) of ITS Ingress; a second Ingress with the
 *   same path and pathType adds nothing (internal/ingress/controller/controller.go
 *   `getBackendServers` L802-863, `locationApplyAnnotations` L1521);
 * - pathType Exact renders `location = <path>`, any other a prefix location `location <path>`
 *   (internal/ingress/controller/template/template.go `buildLocation` L522-539, no use-regex here);
 *   nginx serves an exact match first, else the longest matching prefix;
 * - HTTP requests are redirected to HTTPS when the location forces it (annotation
 *   force-ssl-redirect) or ssl-redirect is on (ConfigMap default true) and the host has a
 *   certificate, never for a path under `no-tls-redirect-locations` (ConfigMap default
 *   "/.well-known/acme-challenge": internal/ingress/controller/config/config.go L691-693, L908;
 *   template.go L452 and `isLocationInLocationList` L899-919; rootfs/etc/nginx/lua/lua_ingress.lua
 *   `redirect_to_https` L65-79);
 * - a location authenticates with annotations auth-type (basic/digest) or auth-url.
 */
import { HttpRequest, KubeObject } from "./traefik";

const ANNOTATION = "nginx.ingress.kubernetes.io/";
/** The ConfigMap default of `no-tls-redirect-locations`. */
const NO_TLS_REDIRECT_LOCATIONS = ["/.well-known/acme-challenge"];

interface NginxLocation {
    path: string;
    exact: boolean;
    ingress: KubeObject;
    service: string;
}

export type NginxOutcome =
    | { kind: "served"; location: NginxLocation; service: string; authenticatedBy: string[] }
    | { kind: "redirect"; to: HttpRequest }
    | { kind: "not-found" };

function locationsOf(objects: KubeObject[], host: string, ingressClass: string): { locations: NginxLocation[]; tls: boolean } {
    const locations: NginxLocation[] = [];
    let tls = false;
    for (const ingress of objects.filter((o) => o.kind === "Ingress" && o.spec?.ingressClassName === ingressClass)) {
        if ((ingress.spec?.tls ?? []).some((t: { hosts: string[] }) => t.hosts.includes(host))) tls = true;
        for (const rule of (ingress.spec?.rules ?? []).filter((r: { host?: string }) => r.host === host)) {
            for (const p of rule.http?.paths ?? []) {
                const exact = p.pathType === "Exact";
                const path = p.path || "/";
                if (locations.some((l) => l.path === path && l.exact === exact)) continue;
                const port = p.backend.service.port.name ?? p.backend.service.port.number;
                locations.push({ path, exact, ingress, service: `${ingress.metadata.namespace}/${p.backend.service.name}:${port}` });
            }
        }
    }
    return { locations, tls };
}

/** What one request meets on ingress-nginx (ConfigMap `ssl-redirect` from `config`, default true). */
export function nginxRoute(objects: KubeObject[], request: HttpRequest, config: Record<string, string> = {}, ingressClass = "nginx"): NginxOutcome {
    const { locations, tls } = locationsOf(objects, request.host.toLowerCase(), ingressClass);
    const location = locations.find((l) => l.exact && l.path === request.path)
        ?? locations.filter((l) => !l.exact && request.path.startsWith(l.path)).sort((a, b) => b.path.length - a.path.length)[0];
    if (!location) return { kind: "not-found" };
    const a = location.ingress.metadata.annotations ?? {};
    if (request.scheme === "http") {
        const noRedirect = NO_TLS_REDIRECT_LOCATIONS.some((prefix) => location.path.startsWith(prefix));
        const force = a[`${ANNOTATION}force-ssl-redirect`] === "true";
        const sslRedirect = (a[`${ANNOTATION}ssl-redirect`] ?? config["ssl-redirect"] ?? "true") === "true";
        if (!noRedirect && (force || (sslRedirect && tls))) return { kind: "redirect", to: { ...request, scheme: "https", port: 443 } };
    }
    const authenticatedBy = [
        ...(a[`${ANNOTATION}auth-type`] ? [`auth-type ${a[`${ANNOTATION}auth-type`]} (${location.ingress.metadata.name})`] : []),
        ...(a[`${ANNOTATION}auth-url`] ? [`auth-url (${location.ingress.metadata.name})`] : []),
    ];
    return { kind: "served", location, service: location.service, authenticatedBy };
}

/** Follows redirects as Go's http.Client does (cert-manager's self-check, Let's Encrypt). */
export function nginxRouteFollowingRedirects(objects: KubeObject[], request: HttpRequest, config: Record<string, string> = {}): { hops: NginxOutcome[]; final: NginxOutcome } {
    const hops: NginxOutcome[] = [];
    let current = request;
    for (let i = 0; i <= 10; i++) {
        const outcome = nginxRoute(objects, current, config);
        hops.push(outcome);
        if (outcome.kind !== "redirect") return { hops, final: outcome };
        current = outcome.to;
    }
    throw new Error(`more than 10 redirects for ${JSON.stringify(request)}`);
}
