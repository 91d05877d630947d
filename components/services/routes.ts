/**
 * The public routes of a catalog, grouped by host: what both ingresses (Kubernetes Ingress objects
 * and the Compose nginx proxy) render. Pure data, no resources.
 */
import { BasicAuthSpec, ForwardAuthSpec, ServiceSpec } from "./catalog";

/** Request body limit when a route does not set `maxBodyMb`. */
export const DEFAULT_MAX_BODY_MB = 10;

/** One path of a host, resolved to the service and port behind it. */
export interface ResolvedRoute {
    path: string;
    service: string;
    /** Container (and Kubernetes Service) port. */
    port: number;
    /** Port name from the catalog, when the service declares one for that port. */
    portName?: string;
    websockets: boolean;
    maxBodyMb: number;
    /** Bodies stream through the ingress unbuffered (RouteSpec.streamBodies). */
    streamBodies: boolean;
    /** Login required at the ingress; unset: public. */
    basicAuth?: BasicAuthSpec;
    /** Login required for methods other than GET and HEAD (RouteSpec.writeAuth); unset: as basicAuth. */
    writeAuth?: BasicAuthSpec;
    /** Login checked by another service (oauth2-proxy); exclusive with `basicAuth`. */
    forwardAuth?: ForwardAuthSpec;
}

export interface HostRoutes {
    host: string;
    /** Longest path first, so a prefix never shadows a more specific one. */
    routes: ResolvedRoute[];
}

/**
 * Every public host with its routes, hosts sorted by name. Throws when two services claim the same
 * host and path, or a route's port is not one of its service's ports: either would silently send
 * traffic to the wrong place.
 */
export function hostRoutes(services: Pick<ServiceSpec, "name" | "ports" | "routes">[]): HostRoutes[] {
    const byHost = new Map<string, ResolvedRoute[]>();
    for (const service of services) {
        for (const route of service.routes ?? []) {
            const port = service.ports.find((p) => p.port === route.port);
            if (!port) throw new Error(`service ${service.name}: route ${route.host}${route.path} reaches port ${route.port}, which the service does not declare`);
            const routes = byHost.get(route.host) ?? [];
            if (route.writeAuth && !route.basicAuth) throw new Error(`service ${service.name}: route ${route.host}${route.path} has writeAuth without basicAuth: reads would be public`);
            const clash = routes.find((r) => r.path === route.path);
            if (clash) throw new Error(`route ${route.host}${route.path} is claimed by both ${clash.service} and ${service.name}`);
            if (route.basicAuth && route.forwardAuth) throw new Error(`route ${route.host}${route.path} of ${service.name}: basicAuth and forwardAuth exclude each other`);
            routes.push({
                path: route.path,
                service: service.name,
                port: route.port,
                portName: port.name,
                websockets: route.websockets ?? false,
                maxBodyMb: route.maxBodyMb ?? DEFAULT_MAX_BODY_MB,
                streamBodies: route.streamBodies ?? false,
                basicAuth: route.basicAuth,
                writeAuth: route.writeAuth,
                forwardAuth: route.forwardAuth,
            });
            byHost.set(route.host, routes);
        }
    }
    return [...byHost.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([host, routes]) => ({ host, routes: routes.sort((a, b) => b.path.length - a.path.length || a.path.localeCompare(b.path)) }));
}

/** The largest request body any route of the host accepts, in MB. */
export function hostMaxBodyMb(host: HostRoutes): number {
    return Math.max(...host.routes.map((r) => r.maxBodyMb));
}

/** Security headers every public host sends (HSTS for two years, no sniffing, no framing by others). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
};

/** Per-client request rate limit of the public hosts: average requests per second, and the burst on top. */
export const RATE_LIMIT = { averagePerSecond: 20, burst: 100 } as const;
