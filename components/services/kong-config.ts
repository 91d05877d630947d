/**
 * Kong's declarative configuration (DB-less, format 2.1) for the Supabase API gateway, rendered
 * from the catalog's upstreams and the generated keys. It holds the API keys and the dashboard
 * password, so it travels only as a secret (KONG_DECLARATIVE_CONFIG_STRING in a Kubernetes Secret /
 * the 0600 env file), never as a ConfigMap or a plain file.
 */
export interface KongConfigArgs {
    /** Upstream base URLs, e.g. `http://rest:3000`. */
    upstreams: { auth: string; rest: string; meta: string; studio: string };
    anonKey: string;
    serviceRoleKey: string;
    /** Studio's basic-auth user and password. */
    dashboardUsername: string;
    dashboardPassword: string;
}

type Plugin = { name: string; config?: Record<string, unknown> };

const cors: Plugin = { name: "cors" };
const keyAuth: Plugin = { name: "key-auth", config: { hide_credentials: false } };
const acl = (...groups: string[]): Plugin => ({ name: "acl", config: { hide_groups_header: true, allow: groups } });

function service(name: string, url: string, path: string, plugins: Plugin[]) {
    return { name, url, routes: [{ name: `${name}-all`, strip_path: true, paths: [path] }], plugins };
}

/** The declarative config as data (what Kong loads). */
export function kongConfig(args: KongConfigArgs): Record<string, unknown> {
    const { auth, rest, meta, studio } = args.upstreams;
    return {
        _format_version: "2.1",
        _transform: true,
        consumers: [
            { username: "DASHBOARD" },
            { username: "anon", keyauth_credentials: [{ key: args.anonKey }] },
            { username: "service_role", keyauth_credentials: [{ key: args.serviceRoleKey }] },
        ],
        acls: [
            { consumer: "anon", group: "anon" },
            { consumer: "service_role", group: "admin" },
        ],
        basicauth_credentials: [{ consumer: "DASHBOARD", username: args.dashboardUsername, password: args.dashboardPassword }],
        services: [
            // GoTrue's e-mail links and OAuth redirects arrive without an API key.
            service("auth-v1-open", `${auth}/verify`, "/auth/v1/verify", [cors]),
            service("auth-v1-open-callback", `${auth}/callback`, "/auth/v1/callback", [cors]),
            service("auth-v1-open-authorize", `${auth}/authorize`, "/auth/v1/authorize", [cors]),
            service("auth-v1", `${auth}/`, "/auth/v1/", [cors, keyAuth, acl("admin", "anon")]),
            service("rest-v1", `${rest}/`, "/rest/v1/", [cors, keyAuth, acl("admin", "anon")]),
            service("graphql-v1", `${rest}/rpc/graphql`, "/graphql/v1", [
                cors,
                keyAuth,
                { name: "request-transformer", config: { add: { headers: ["Content-Profile: graphql_public"] } } },
                acl("admin", "anon"),
            ]),
            // postgres-meta can run any SQL: the service_role key only.
            service("meta", `${meta}/`, "/pg/", [keyAuth, acl("admin")]),
            // Everything else is Studio, behind basic auth with the dashboard password.
            service("dashboard", `${studio}/`, "/", [cors, { name: "basic-auth", config: { hide_credentials: true } }]),
        ],
    };
}

/**
 * The same config on one line (JSON is YAML), for KONG_DECLARATIVE_CONFIG_STRING: an env value
 * cannot span lines in a Compose env file.
 */
export function renderKongConfigString(args: KongConfigArgs): string {
    return JSON.stringify(kongConfig(args));
}
