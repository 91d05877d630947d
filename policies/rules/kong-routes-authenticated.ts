import { ResourceValidationPolicy } from "@pulumi/policy";
import { parse as parseYaml } from "yaml";
import { KUBERNETES, PolicyArgs, Props, list, record, settings } from "../lib/context";
import { parseDotenv } from "../lib/compose";
import { archivedTextFiles } from "../lib/files";

/** Kong plugins that identify the caller (Kong 2.8 bundled plugins). */
const AUTH_PLUGINS = ["key-auth", "basic-auth", "jwt", "oauth2", "hmac-auth", "ldap-auth", "openid-connect"];
/**
 * Paths that answer without an API key, as upstream's kong.yml has them (supabase/supabase
 * docker/volumes/api/kong.yml: auth-v1-open*): GoTrue's e-mail links and OAuth redirects arrive
 * from a browser with no key.
 */
const DEFAULT_OPEN_PATHS = ["/auth/v1/verify", "/auth/v1/callback", "/auth/v1/authorize"];
/** Paths only the service_role key may use: postgres-meta runs any SQL (upstream: acl allow admin). */
const DEFAULT_ADMIN_PATHS = ["/pg/"];
const CONFIG_KEY = "KONG_DECLARATIVE_CONFIG_STRING";

function kongConfigs(args: PolicyArgs, files: Record<string, string>): [string, string][] {
    const found: [string, string][] = [];
    if (args.type === KUBERNETES.secret) {
        for (const [key, value] of Object.entries(record(args.props.stringData))) if (key === CONFIG_KEY || /kong\.ya?ml$/.test(key)) found.push([`Secret key ${key}`, String(value)]);
        for (const [key, value] of Object.entries(record(args.props.data))) if (key === CONFIG_KEY || /kong\.ya?ml$/.test(key)) found.push([`Secret key ${key}`, Buffer.from(String(value), "base64").toString("utf8")]);
    }
    if (args.type === "command:remote:Command" && typeof args.props.stdin === "string") {
        const value = parseDotenv(args.props.stdin)[CONFIG_KEY];
        if (value !== undefined) found.push([`env file ${CONFIG_KEY}`, value]);
    }
    for (const [file, text] of Object.entries(files)) if (/(^|\/|_)kong\.ya?ml$/.test(file)) found.push([file, text]);
    return found;
}

const pluginNames = (plugins: unknown) => list(plugins).map((p) => String(record(p).name ?? ""));

/**
 * Supabase's API gateway checks its callers: in Kong's declarative configuration (the Secret's
 * KONG_DECLARATIVE_CONFIG_STRING, the Compose host's kong env file) every service has an
 * authentication plugin (key-auth for the APIs, basic-auth for Studio) unless all its paths are
 * GoTrue's open ones, and `/pg/` (postgres-meta) admits only the service_role key (acl without
 * anon). The ingress leaves Kong open (ingress-authentication's public backends) because of this.
 */
export const kongRoutesAuthenticated: ResourceValidationPolicy = {
    name: "kong-routes-authenticated",
    description: "Kong's declarative config authenticates every route (key-auth, basic-auth, ...) but GoTrue's open paths, and postgres-meta's /pg/ admits only the service_role key (acl without anon).",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            openPaths: { type: "array", items: { type: "string" }, description: "Kong route paths that may answer without an authentication plugin." },
            adminPaths: { type: "array", items: { type: "string" }, description: "Kong route paths only the admin (service_role) ACL group may use." },
        },
    },
    validateResource: async (args: PolicyArgs, reportViolation) => {
        const { openPaths, adminPaths } = settings(args, { openPaths: DEFAULT_OPEN_PATHS, adminPaths: DEFAULT_ADMIN_PATHS });
        for (const [where, text] of kongConfigs(args, await archivedTextFiles(args.props))) {
            let config: Props;
            try {
                config = record(parseYaml(text));
            } catch {
                reportViolation(`Kong configuration ${where} does not parse: the check cannot see its routes`);
                continue;
            }
            const global = list(config.plugins).filter((p) => record(p).service === undefined && record(p).route === undefined && record(p).consumer === undefined);
            for (const service of list(config.services).map(record)) {
                const routes = list(service.routes).map(record);
                const paths = routes.flatMap((r) => list(r.paths).map(String));
                for (const route of routes.length > 0 ? routes : [{}]) {
                    const plugins = [...pluginNames(global), ...pluginNames(service.plugins), ...pluginNames(route.plugins)];
                    const routePaths = list(route.paths).map(String);
                    const name = `service ${String(service.name ?? "?")} (${(routePaths.length > 0 ? routePaths : paths).join(", ") || "no path"})`;
                    if (!plugins.some((p) => AUTH_PLUGINS.includes(p)) && !(routePaths.length > 0 && routePaths.every((p) => openPaths.includes(p)))) {
                        reportViolation(`Kong configuration ${where}: ${name} has no authentication plugin (${AUTH_PLUGINS.slice(0, 2).join(", ")}, ...): anyone reaching Kong uses it`);
                    }
                    if (routePaths.some((p) => adminPaths.includes(p))) {
                        const acls = [...list(service.plugins), ...list(route.plugins)].map(record).filter((p) => p.name === "acl");
                        const allow = acls.flatMap((p) => list(record(p.config).allow).map(String));
                        if (!plugins.includes("key-auth") || acls.length === 0 || allow.length === 0 || allow.includes("anon")) {
                            reportViolation(`Kong configuration ${where}: ${name} must take the service_role key only (key-auth and acl allow [admin]); the anon key is public`);
                        }
                    }
                }
            }
        }
    },
};
