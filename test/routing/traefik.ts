/**
 * Traefik's HTTP routing, evaluated over the objects the program renders, as Traefik v3.7 (the
 * Traefik the pinned k3s release bundles: k3s chart traefik-40.1.x, upstream chart v40.1.0) defines
 * it in traefik/traefik at tag v3.7.8:
 * - a router's priority is the one set, else the length of its rule (pkg/server/router/router.go
 *   L245-247 `routerConfig.Priority = httpmuxer.GetRulePriority(routerConfig.Rule)`,
 *   pkg/muxer/http/mux.go L73-77 `return len(rule)`);
 * - the muxer tries routes in descending priority and serves the first that matches (mux.go
 *   L58-63, `routes.Less` L216-219; equal priorities fall back to provider precedence, which this
 *   evaluator reports as an ambiguity instead of guessing);
 * - an entry point's `http.redirections.entryPoint` becomes the internal router `<ep>-to-<to>` with
 *   rule HostRegexp(`^.+$`) and priority `math.MaxInt - 1` unless set
 *   (pkg/provider/traefik/internal.go L149-197, pkg/config/static/entrypoints.go L149-153): above
 *   every router a user can define (router.go L30 `maxUserPriority = math.MaxInt - 1000`);
 * - a router without entry points gets the default ones: all but `traefik` unless some entry point
 *   is `asDefault` (cmd/traefik/traefik.go L409-441, pkg/server/aggregator.go L52-58);
 * - an entry point's `http.tls` and `http.middlewares` apply to each router on it, its middlewares
 *   first (aggregator.go `applyModel` L331-342); a TLS router serves only TLS connections;
 * - the Kubernetes Ingress provider builds `Host("h") && PathPrefix("/p")`, `Path` for pathType
 *   Exact (pkg/provider/kubernetes/ingress/kubernetes.go `loadRouter` L731-791, `buildRule`
 *   L924-941), with entry points, middlewares and priority from the router.* annotations;
 * - matchers: Host is case-insensitive on the request host without port, Path exact, PathPrefix a
 *   character-wise prefix, Method upper-case, HostRegexp a Go regexp (pkg/muxer/http/matcher.go
 *   L61-188), combined with `&&`, `||`, `!` and parentheses (pkg/rules/parser.go).
 * The k3s chart's entry points (traefik/traefik-helm-chart v40.1.0 traefik/values.yaml `ports`):
 * web (80), websecure (443, `http.tls.enabled: true`), metrics (9100), traefik (internal).
 * Middlewares: basicAuth, digestAuth and forwardAuth authenticate; the rest pass the request on,
 * except `errors`, which answers a status of its ranges with a page its service serves for the
 * request `errorPageRequest` builds (pkg/middlewares/customerrors/custom_errors.go L95-175).
 */
import { parse as parseYaml } from "yaml";

/** A rendered Kubernetes object as plain data. */
export interface KubeObject {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
    spec?: Record<string, any>;
}

/** Every Kubernetes object of a synth result (`files/kubernetes/**`). */
export function renderedObjects(files: Record<string, string>): KubeObject[] {
    return Object.entries(files)
        .filter(([file]) => file.startsWith("kubernetes/") && file.endsWith(".yaml"))
        .map(([, text]) => parseYaml(text) as KubeObject);
}

/** Go's math.MaxInt on the 64-bit builds k3s ships. */
const MAX_INT = (1n << 63n) - 1n;

export interface TraefikEntryPoint {
    name: string;
    port: number;
    tls: boolean;
    asDefault: boolean;
    middlewares: string[];
    redirect?: { to: string; scheme: string; priority: bigint };
}

export interface TraefikRouter {
    name: string;
    rule: string;
    /** Effective priority (set, else the rule's length). */
    priority: bigint;
    entryPoint: string;
    tls: boolean;
    /** Qualified middleware names (`<ns>-<name>@kubernetescrd`, `<name>@internal`). */
    middlewares: string[];
    /** `<namespace>/<service>:<port>`, or `noop@internal` for the redirect. */
    service: string;
    match: (request: HttpRequest) => boolean;
}

export interface HttpRequest {
    scheme: "http" | "https";
    /** The public port the client connected to (80, 443). */
    port: number;
    host: string;
    path: string;
    method: string;
    /** The raw query string, without `?`. */
    query?: string;
}

/**
 * The static configuration of k3s's bundled Traefik: the chart's entry points with the flags the
 * HelmChartConfig adds (`additionalArguments`).
 */
export function traefikEntryPoints(objects: KubeObject[]): TraefikEntryPoint[] {
    const points: TraefikEntryPoint[] = [
        { name: "metrics", port: 9100, tls: false, asDefault: false, middlewares: [] },
        { name: "web", port: 80, tls: false, asDefault: false, middlewares: [] },
        { name: "websecure", port: 443, tls: true, asDefault: false, middlewares: [] },
    ];
    const config = objects.find((o) => o.kind === "HelmChartConfig" && o.metadata.namespace === "kube-system" && o.metadata.name === "traefik");
    const values = config ? parseYaml(String(config.spec?.valuesContent ?? "")) as { additionalArguments?: string[] } : {};
    const flags = new Map<string, string>();
    for (const arg of values.additionalArguments ?? []) {
        const match = /^--([^=]+)=(.*)$/.exec(arg);
        if (match) flags.set(match[1].toLowerCase(), match[2]);
    }
    for (const point of points) {
        const flag = (key: string) => flags.get(`entrypoints.${point.name}.${key}`.toLowerCase());
        if (flag("asDefault") === "true") point.asDefault = true;
        const middlewares = flag("http.middlewares");
        if (middlewares) point.middlewares = middlewares.split(",");
        const to = flag("http.redirections.entryPoint.to");
        if (to) {
            const priority = flag("http.redirections.entryPoint.priority");
            point.redirect = { to, scheme: flag("http.redirections.entryPoint.scheme") ?? "https", priority: priority ? BigInt(priority) : MAX_INT - 1n };
        }
    }
    return points;
}

// ---------------------------------------------------------------- rules

type RuleNode =
    | { op: "and" | "or"; left: RuleNode; right: RuleNode }
    | { op: "not"; node: RuleNode }
    | { op: "matcher"; name: string; args: string[] };

/** Parses a Traefik v3 rule (the Go-expression syntax of vulcand/predicate). Throws on anything else. */
export function parseRule(rule: string): RuleNode {
    let i = 0;
    const skip = () => { while (/\s/.test(rule[i] ?? "")) i++; };
    const expect = (text: string) => {
        skip();
        if (!rule.startsWith(text, i)) throw new Error(`rule ${rule}: expected ${text} at ${i}`);
        i += text.length;
    };
    const literal = (): string => {
        skip();
        const quote = rule[i];
        if (quote !== "`" && quote !== '"') throw new Error(`rule ${rule}: expected a string at ${i}`);
        const end = rule.indexOf(quote, i + 1);
        if (end < 0) throw new Error(`rule ${rule}: unterminated string`);
        const value = rule.slice(i + 1, end);
        i = end + 1;
        return value;
    };
    const primary = (): RuleNode => {
        skip();
        if (rule[i] === "!") {
            i++;
            return { op: "not", node: primary() };
        }
        if (rule[i] === "(") {
            i++;
            const node = or();
            expect(")");
            return node;
        }
        const name = /^[A-Za-z]+/.exec(rule.slice(i))?.[0];
        if (!name) throw new Error(`rule ${rule}: expected a matcher at ${i}`);
        i += name.length;
        expect("(");
        const args = [literal()];
        skip();
        while (rule[i] === ",") {
            i++;
            args.push(literal());
            skip();
        }
        expect(")");
        return { op: "matcher", name, args };
    };
    const and = (): RuleNode => {
        let left = primary();
        skip();
        while (rule.startsWith("&&", i)) {
            i += 2;
            left = { op: "and", left, right: primary() };
            skip();
        }
        return left;
    };
    const or = (): RuleNode => {
        let left = and();
        skip();
        while (rule.startsWith("||", i)) {
            i += 2;
            left = { op: "or", left, right: and() };
            skip();
        }
        return left;
    };
    const tree = or();
    skip();
    if (i !== rule.length) throw new Error(`rule ${rule}: unexpected ${rule.slice(i)}`);
    return tree;
}

function evaluate(node: RuleNode, request: HttpRequest): boolean {
    switch (node.op) {
        case "and": return evaluate(node.left, request) && evaluate(node.right, request);
        case "or": return evaluate(node.left, request) || evaluate(node.right, request);
        case "not": return !evaluate(node.node, request);
        default: {
            const [arg] = node.args;
            const host = request.host.toLowerCase();
            switch (node.name.toLowerCase()) {
                case "host": return arg === "*" || host === arg.toLowerCase();
                case "hostregexp": return new RegExp(arg).test(host);
                case "path": return request.path === arg;
                case "pathprefix": return request.path.startsWith(arg);
                case "pathregexp": return new RegExp(arg).test(request.path);
                case "method": return request.method === arg.toUpperCase();
                default: throw new Error(`matcher ${node.name} is not evaluated here: extend test/routing/traefik.ts`);
            }
        }
    }
}

// ---------------------------------------------------------------- routers

const PATH_MATCHER: Record<string, string> = { Prefix: "PathPrefix", ImplementationSpecific: "PathPrefix", Exact: "Path" };

/** The routers Traefik builds from the objects (Ingresses of class traefik, IngressRoutes) and its static configuration. */
export function traefikRouters(objects: KubeObject[], entryPoints: TraefikEntryPoint[]): TraefikRouter[] {
    const defaults = entryPoints.some((e) => e.asDefault) ? entryPoints.filter((e) => e.asDefault) : entryPoints;
    const routers: TraefikRouter[] = [];
    const add = (name: string, rule: string, priority: bigint, eps: string[], middlewares: string[], service: string, tls: boolean) => {
        const tree = parseRule(rule);
        for (const epName of eps.length > 0 ? eps : defaults.map((e) => e.name)) {
            const ep = entryPoints.find((e) => e.name === epName);
            if (!ep) throw new Error(`router ${name}: unknown entry point ${epName}`);
            routers.push({
                name: eps.length > 1 ? `${epName}-${name}` : name,
                rule,
                priority: priority !== 0n ? priority : BigInt(rule.length),
                entryPoint: epName,
                tls: tls || ep.tls,
                middlewares: [...ep.middlewares, ...middlewares],
                service,
                match: (request) => evaluate(tree, request),
            });
        }
    };
    for (const ep of entryPoints) {
        if (ep.redirect) add(`${ep.name}-to-${ep.redirect.to}@internal`, "HostRegexp(`^.+$`)", ep.redirect.priority, [ep.name], [`redirect-${ep.name}-to-${ep.redirect.to}@internal`], "noop@internal", false);
    }
    for (const object of objects) {
        const ns = object.metadata.namespace ?? "default";
        if (object.kind === "Ingress" && (object.spec?.ingressClassName ?? "traefik") === "traefik") {
            const a = object.metadata.annotations ?? {};
            const eps = (a["traefik.ingress.kubernetes.io/router.entrypoints"] ?? "").split(",").filter(Boolean);
            const middlewares = (a["traefik.ingress.kubernetes.io/router.middlewares"] ?? "").split(",").filter(Boolean);
            const priority = BigInt(a["traefik.ingress.kubernetes.io/router.priority"] ?? "0");
            const tls = a["traefik.ingress.kubernetes.io/router.tls"] === "true";
            for (const rule of object.spec?.rules ?? []) {
                for (const p of rule.http?.paths ?? []) {
                    const matcher = PATH_MATCHER[p.pathType ?? "ImplementationSpecific"];
                    const parts = [...(rule.host ? [`Host(${JSON.stringify(rule.host)})`] : []), ...(p.path ? [`${matcher}(${JSON.stringify(p.path)})`] : [])];
                    const port = p.backend.service.port.name ?? p.backend.service.port.number;
                    add(`${ns}-${object.metadata.name}-${rule.host}${p.path}@kubernetes`, parts.join(" && "), priority, eps, middlewares, `${ns}/${p.backend.service.name}:${port}`, tls);
                }
            }
        }
        if (object.kind === "IngressRoute") {
            (object.spec?.routes ?? []).forEach((route: { match: string; priority?: number; middlewares?: { name: string; namespace?: string }[]; services: { name: string; port: string | number }[] }, index: number) => {
                const middlewares = (route.middlewares ?? []).map((m) => `${m.namespace ?? ns}-${m.name}@kubernetescrd`);
                add(`${ns}-${object.metadata.name}-${index}@kubernetescrd`, route.match, BigInt(route.priority ?? 0), object.spec?.entryPoints ?? [], middlewares, `${ns}/${route.services[0].name}:${route.services[0].port}`, object.spec?.tls !== undefined);
            });
        }
    }
    return routers;
}

// ---------------------------------------------------------------- requests

export type RouteOutcome =
    | { kind: "served"; router: TraefikRouter; service: string; authenticatedBy: string[] }
    | { kind: "redirect"; router: TraefikRouter; to: HttpRequest }
    | { kind: "not-found" }
    | { kind: "ambiguous"; routers: TraefikRouter[] };

/** The middlewares of `router` that demand credentials; throws for one that does not exist (Traefik disables such a router). */
function authenticating(router: TraefikRouter, objects: KubeObject[]): string[] {
    return router.middlewares.filter((qualified) => {
        if (qualified.endsWith("@internal")) return false;
        const name = qualified.replace(/@kubernetescrd$/, "");
        const middleware = objects.find((o) => o.kind === "Middleware" && `${o.metadata.namespace}-${o.metadata.name}` === name);
        if (!middleware) throw new Error(`router ${router.name} references middleware ${qualified}, which does not exist`);
        return ["basicAuth", "digestAuth", "forwardAuth"].some((k) => middleware.spec?.[k] !== undefined);
    });
}

/** What one request meets: the router that wins and what it does. */
export function routeOnce(routers: TraefikRouter[], objects: KubeObject[], entryPoints: TraefikEntryPoint[], request: HttpRequest): RouteOutcome {
    const ep = entryPoints.find((e) => e.port === request.port);
    if (!ep) return { kind: "not-found" };
    const candidates = routers
        .filter((r) => r.entryPoint === ep.name && r.tls === (request.scheme === "https") && r.match(request))
        .sort((a, b) => (a.priority === b.priority ? 0 : a.priority > b.priority ? -1 : 1));
    if (candidates.length === 0) return { kind: "not-found" };
    const [winner, runnerUp] = candidates;
    if (runnerUp && runnerUp.priority === winner.priority) return { kind: "ambiguous", routers: candidates.filter((r) => r.priority === winner.priority) };
    const redirect = ep.redirect && winner.service === "noop@internal" ? ep.redirect : undefined;
    if (redirect) {
        const target = entryPoints.find((e) => e.name === redirect.to)!;
        return { kind: "redirect", router: winner, to: { ...request, scheme: redirect.scheme as "http" | "https", port: target.port } };
    }
    return { kind: "served", router: winner, service: winner.service, authenticatedBy: authenticating(winner, objects) };
}

/** Follows redirects the way Go's http.Client does (at most 10), as cert-manager's self-check and Let's Encrypt do. */
export function routeFollowingRedirects(routers: TraefikRouter[], objects: KubeObject[], entryPoints: TraefikEntryPoint[], request: HttpRequest): { hops: RouteOutcome[]; final: RouteOutcome } {
    const hops: RouteOutcome[] = [];
    let current = request;
    for (let i = 0; i <= 10; i++) {
        const outcome = routeOnce(routers, objects, entryPoints, current);
        hops.push(outcome);
        if (outcome.kind !== "redirect") return { hops, final: outcome };
        current = outcome.to;
    }
    throw new Error(`more than 10 redirects for ${JSON.stringify(request)}`);
}

// ---------------------------------------------------------------- error pages

/** Go's url.QueryEscape: every byte but [A-Za-z0-9-_.~] as %XX, the space as `+`. */
export function goQueryEscape(text: string): string {
    return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, "+");
}

/** Whether `code` is in one of an errors middleware's `status` entries ("401", "500-599"). */
function inRanges(code: number, ranges: string[]): boolean {
    return ranges.some((range) => {
        const [from, to] = range.split("-").map(Number);
        return code >= from && code <= (to ?? from);
    });
}

/** The request an errors middleware sends to its service: `<namespace>/<service>:<port>` and the path and query it asks. */
export interface ErrorPageRequest {
    middleware: string;
    service: string;
    path: string;
    query: string;
    /** The status the client receives with the page. */
    status: number;
}

/**
 * What the client receives when the middleware `failing` of `router` (e.g. its forwardAuth) answers
 * `code` to `request`: the page of the nearest `errors` middleware before it in the chain whose
 * `status` ranges hold the code, as Traefik v3.7.8 builds it (custom_errors.go L95-148): the status,
 * rewritten by `statusRewrites`; the query with `{status}`, `{originalStatus}` and `{url}` (the
 * QueryEscape'd absolute URL of the request: scheme from TLS, Host, path, query) replaced, asked as
 * `http://<Host><query>` of the middleware's service. Undefined when no errors middleware catches it
 * (the client gets `code` itself).
 */
export function errorPageRequest(router: TraefikRouter, objects: KubeObject[], request: HttpRequest, failing: string, code: number): ErrorPageRequest | undefined {
    const at = router.middlewares.indexOf(failing);
    if (at < 0) throw new Error(`router ${router.name} has no middleware ${failing}`);
    const catching = router.middlewares.slice(0, at).map((qualified) => {
        const name = qualified.replace(/@kubernetescrd$/, "");
        return { qualified, object: objects.find((o) => o.kind === "Middleware" && `${o.metadata.namespace}-${o.metadata.name}` === name) };
    }).filter((m) => m.object?.spec?.errors && inRanges(code, m.object.spec.errors.status ?? []));
    if (catching.length > 1) throw new Error(`router ${router.name}: nested errors middlewares (${catching.map((m) => m.qualified).join(", ")}) are not evaluated here`);
    if (catching.length === 0) return undefined;
    const [{ qualified, object }] = catching;
    const errors = object!.spec!.errors as { service: { name: string; port: number | string }; query?: string; statusRewrites?: Record<string, number> };
    const rewrite = Object.entries(errors.statusRewrites ?? {}).find(([from]) => inRanges(code, [from]));
    const status = rewrite ? Number(rewrite[1]) : code;
    const original = `${request.scheme}://${request.host}${request.path}${request.query ? `?${request.query}` : ""}`;
    const query = errors.query
        ? `/${errors.query.replace(/^\//, "")}`.split("{status}").join(String(status)).split("{originalStatus}").join(String(code)).split("{url}").join(goQueryEscape(original))
        : "";
    const [pagePath, pageQuery = ""] = query.split(/\?(.*)/s);
    return { middleware: qualified, service: `${object!.metadata.namespace}/${errors.service.name}:${errors.service.port}`, path: pagePath, query: pageQuery, status };
}
