import { ResourceValidationPolicy } from "@pulumi/policy";
import { PolicyArgs, settings } from "../lib/context";
import { archivedTextFiles } from "../lib/files";
import { DEFAULT_PUBLIC_BACKENDS, isPublicBackend } from "../lib/ingress";
import { Directive, Scope, inherited, inheritedAll, locations, parseNginxConf, upstreams } from "../lib/nginx";

const PROXY_DIRECTIVES = ["proxy_pass", "grpc_pass", "fastcgi_pass", "uwsgi_pass", "scgi_pass"];

/** The backend host of a `proxy_pass` URL: a literal host, a `set $var host;` variable, an upstream's servers. */
function backendsOf(target: string, chain: Directive[][], upstreamHosts: Map<string, string[]>): string[] {
    const host = /^(?:[a-z]+:\/\/)?([^/:$]+|\$[A-Za-z_][A-Za-z0-9_]*)/.exec(target)?.[1] ?? target;
    const resolved = host.startsWith("$") ? setValue(chain, host) : host;
    if (resolved === undefined) return [host];
    return upstreamHosts.get(resolved) ?? [resolved];
}

/** The value the innermost `set <variable> <value>;` gives a variable. */
function setValue(chain: Directive[][], variable: string): string | undefined {
    for (const level of chain) {
        const set = level.filter((d) => d.name === "set" && d.args[0] === variable);
        if (set.length > 0) return set[set.length - 1].args[1];
    }
    return undefined;
}

/** What a location (or limit_except) requires of a client: a login, and a rate limit. */
function guard(scope: Scope): { login: boolean; rateLimited: boolean; bypass?: string } {
    const basic = inherited(scope.chain, "auth_basic");
    const basicLogin = basic !== undefined && basic[0] !== "off" && inherited(scope.chain, "auth_basic_user_file") !== undefined;
    const request = inherited(scope.chain, "auth_request");
    const requestLogin = request !== undefined && request[0] !== "off";
    const satisfyAny = inherited(scope.chain, "satisfy")?.[0] === "any";
    const allows = inheritedAll(scope.chain, "allow").length > 0;
    return {
        login: basicLogin || requestLogin,
        rateLimited: inheritedAll(scope.chain, "limit_req").length > 0,
        bypass: satisfyAny && allows ? "satisfy any with an allow list lets those addresses skip the login" : undefined,
    };
}

/**
 * The Compose proxy's nginx.conf (any nginx configuration inside a resource's asset archive): every
 * location that proxies to a backend other than the public ones (`publicBackends`: Kong, Grafana,
 * oauth2-proxy) requires a login, auth_basic with a user file or auth_request (inherited or its
 * own; a `limit_except` block inside it too, for the methods it covers), and every location with a
 * login is rate limited: nginx runs limit_req (PREACCESS) before auth_basic/auth_request (ACCESS),
 * so a client over its limit costs no password check (test/ingress-login-cost.spec.ts).
 */
export const proxyAuthentication: ResourceValidationPolicy = {
    name: "proxy-authentication",
    description: "The Compose proxy's nginx.conf requires a login (auth_basic with a user file, or auth_request) on every location proxying to a backend other than Kong, Grafana or oauth2-proxy, writes included, and rate-limits (limit_req) every location with a login.",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            publicBackends: { type: "array", items: { type: "string" }, description: "Backends reachable without a login at the proxy (each checks its callers itself)." },
        },
    },
    validateResource: async (args: PolicyArgs, reportViolation) => {
        const { publicBackends } = settings(args, { publicBackends: DEFAULT_PUBLIC_BACKENDS });
        for (const [file, text] of Object.entries(await archivedTextFiles(args.props))) {
            if (!/(^|\/|_)nginx[^/]*\.conf$/.test(file)) continue;
            const config = parseNginxConf(text);
            const upstreamHosts = upstreams(config);
            const scopes = locations(config);
            for (const scope of scopes) {
                // A limit_except block proxies where its location does.
                const own = scope.chain[0];
                const proxyLevel = scope.location.includes(" limit_except ") ? scope.chain[1] : own;
                const pass = proxyLevel.find((d) => PROXY_DIRECTIVES.includes(d.name));
                if (!pass) continue;
                const backends = backendsOf(pass.args[0] ?? "", scope.location.includes(" limit_except ") ? scope.chain.slice(1) : scope.chain, upstreamHosts);
                const guarded = backends.filter((b) => !isPublicBackend(b, publicBackends));
                const where = `${file}: server ${scope.server} location ${scope.location}`;
                const { login, rateLimited, bypass } = guard(scope);
                if (guarded.length > 0 && (!login || bypass)) {
                    reportViolation(`${where} proxies to ${guarded.join(", ")} ${bypass ?? "without a login"}; add auth_basic with auth_basic_user_file (or auth_request)`);
                }
                if (login && !rateLimited) reportViolation(`${where} checks a login without a rate limit; add limit_req (it runs before the login)`);
            }
        }
    },
};
