/**
 * The Supabase and Archon services as catalog entries: one list both renderers (Kubernetes and
 * Compose) turn into workloads. Versions come from versions.ts; secret values only ever go to
 * `secretEnv`.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ForwardAuthSpec, RenderTarget, ServiceSpec } from "./catalog";
import { ArchonImageName } from "../registry/images";
import { ARCHON_COMMANDS, ARCHON_PORTS, ArchonPythonService } from "./archon-commands";
import { renderKongConfigString } from "./kong-config";
import { SUPABASE_IMAGES } from "./versions";
import { BLACKBOX_EXPORTER } from "./exporters";

/** The generated credentials the services share (see the Secrets component). */
export interface WorkloadSecrets {
    /** The superusers' (postgres, supabase_admin): the db, postgres-meta, Studio, the migration step. */
    postgresPassword: pulumi.Input<string>;
    /** authenticator's: PostgREST only. */
    authenticatorPassword: pulumi.Input<string>;
    /** supabase_auth_admin's: GoTrue only. */
    authAdminPassword: pulumi.Input<string>;
    /** pgsodium's root key (64 hex digits): the db only. */
    pgsodiumRootKey: pulumi.Input<string>;
    /** GOTRUE_JWT_KEYS: the RS256 signing key and the HS256 secret (Secrets.gotrueJwtKeys). */
    gotrueJwtKeys: pulumi.Input<string>;
    /** PGRST_JWT_SECRET as a JWKS: the RS256 public key and the HS256 secret (Secrets.postgrestJwks). */
    postgrestJwks: pulumi.Input<string>;
    jwtSecret: pulumi.Input<string>;
    anonKey: pulumi.Input<string>;
    serviceRoleKey: pulumi.Input<string>;
    dashboardPassword: pulumi.Input<string>;
    pgMetaCryptoKey: pulumi.Input<string>;
    /** htpasswd of Archon's UI login at the ingress (Archon v0.1.0 has none of its own). */
    archonUiHtpasswd: pulumi.Input<string>;
    /** htpasswd of the MCP endpoint's credential at the ingress. */
    archonMcpHtpasswd: pulumi.Input<string>;
}

export interface WorkloadCatalogArgs {
    /** The stack's DNS name: archon.<domain>, mcp.<domain> and supabase.<domain> are served. */
    domain: string;
    /** Which renderer the list is for (a few settings differ, e.g. DOCKER_CONTAINER). */
    target: RenderTarget;
    /** Several replicas and an HPA for the stateless services (production). Default false. */
    highAvailability?: boolean;
    /** Run the optional archon-agents service (config `enableAgents`). */
    enableAgents: boolean;
    /** Image reference of each Archon image (ArchonImages.refs), archon-migrate included. */
    archonImages: Record<ArchonImageName, pulumi.Input<string>>;
    secrets: WorkloadSecrets;
    /** GoTrue's SMTP server (config `smtp*`); without it GoTrue sends no e-mail (signup is off). */
    smtp?: { host: string; port: number; user?: string; adminEmail: string; senderName: string; password?: pulumi.Input<string> };
    /**
     * The UI's login checked by oauth2-proxy (OidcLogin.forwardAuth, config `oidc*`) instead of the
     * generated basic auth. The MCP host keeps its basic credential either way.
     */
    uiForwardAuth?: ForwardAuthSpec;
}

/** Ports the services listen on. Archon needs all three of its ports set, always. */
export const PORTS = { db: 5432, rest: 3000, restAdmin: 3001, auth: 9999, kong: 8000, kongStatus: 8100, meta: 8080, studio: 3000, ...ARCHON_PORTS, ui: 3737 } as const;

/**
 * How Archon reaches Supabase. Archon refuses an http SUPABASE_URL unless its host is localhost,
 * *.localhost, host.docker.internal or a private IP literal, so the in-network name `kong` fails.
 * `kong.localhost` passes that rule and stays inside the stack: it is an extra name of the kong
 * service (a Compose network alias; on Kubernetes a hostAliases entry with kong's cluster IP).
 * The public https URL would pass too, but it would hairpin through the ingress and depend on
 * the certificate being issued before Archon can start.
 */
export const KONG_INTERNAL_HOST = "kong.localhost";
export const ARCHON_SUPABASE_URL = `http://${KONG_INTERNAL_HOST}:${PORTS.kong}`;

/** The public host names. */
export function publicHosts(domain: string): { archon: string; mcp: string; supabase: string } {
    return { archon: `archon.${domain}`, mcp: `mcp.${domain}`, supabase: `supabase.${domain}` };
}

const PYTHON_HTTP_CHECK = (port: number, urlPath: string) =>
    ["python", "-c", `import urllib.request; urllib.request.urlopen('http://127.0.0.1:${port}${urlPath}', timeout=5)`];
const NODE_HTTP_CHECK = (port: number, urlPath: string) =>
    ["node", "-e", `fetch('http://127.0.0.1:${port}${urlPath}').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`];
const WGET_CHECK = (port: number, urlPath: string) => ["wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${port}${urlPath}`];

/** The database's data directory: a subdirectory of the volume (see the db service). */
export const DB_PGDATA = "/var/lib/postgresql/data/pgdata";
/** Where Studio's Next.js server writes its cache (see the studio service). */
export const STUDIO_NEXT_CACHE = "/app/apps/studio/.next/cache";

/** migrations/supabase-init.sql: the role passwords and JWT settings (components/secrets/role-passwords.ts runs it again on every deploy). */
export const DB_INIT_SQL = fs.readFileSync(path.join(__dirname, "..", "..", "migrations", "supabase-init.sql"), "utf8");

/** Where the UI image's nginx.conf includes its archon-server upstream from (images/archon-ui/). */
export const ARCHON_UI_UPSTREAM_PATH = "/etc/nginx/archon-ui/upstream.conf";
/** The UI's archon-server upstream for `target`: per-request DNS on Compose, the Service on Kubernetes. */
export function archonUiUpstream(target: RenderTarget): string {
    return fs.readFileSync(path.join(__dirname, "..", "..", "images", "archon-ui", `upstream-${target}.conf`), "utf8");
}

/** The Supabase and Archon services. */
export function workloadCatalog(args: WorkloadCatalogArgs): ServiceSpec[] {
    const context = catalogContext(args);
    const archon = archonServices(args, context);
    return [...supabaseServices(args, context), archon.migrate, archon.server, archon.mcp, ...(args.enableAgents ? [archon.agents] : []), archon.ui];
}

/** What every service definition of the catalog draws on. */
interface CatalogContext {
    hosts: ReturnType<typeof publicHosts>;
    /** Several replicas for the stateless services (WorkloadCatalogArgs.highAvailability). */
    ha: boolean;
    s: WorkloadSecrets;
    dbUrl: (user: string, password: pulumi.Input<string>) => pulumi.Output<string>;
    nonRoot: (uid: number, writablePaths?: string[]) => NonNullable<ServiceSpec["security"]>;
}

function catalogContext(args: WorkloadCatalogArgs): CatalogContext {
    return {
        hosts: publicHosts(args.domain),
        ha: args.highAvailability ?? false,
        s: args.secrets,
        // Each service logs in with its own role's password only (authenticator, supabase_auth_admin).
        dbUrl: (user, password) => pulumi.interpolate`postgres://${user}:${password}@db:${PORTS.db}/postgres`,
        nonRoot: (uid, writablePaths = ["/tmp"]) => ({ runAsNonRoot: true, runAsUser: uid, readOnlyRootFilesystem: true, writablePaths }),
    };
}

/** Supabase: the database, PostgREST, GoTrue, postgres-meta, Studio and Kong in front of them. */
function supabaseServices(args: WorkloadCatalogArgs, { hosts, ha, s, dbUrl, nonRoot }: CatalogContext): ServiceSpec[] {
    const db: ServiceSpec = {
        name: "db",
        group: "supabase",
        image: SUPABASE_IMAGES.db,
        kind: "stateful",
        // Arguments of the image's docker-entrypoint.sh (its CMD), which runs initdb and the init
        // scripts on first start and then execs postgres: replacing the entrypoint would skip both.
        // The image's postgresql.conf hard-codes `data_directory = '/var/lib/postgresql/data'`
        // (supabase/postgres ansible/files/postgresql_config/postgresql.conf.j2, FILE LOCATIONS),
        // which overrides PGDATA/-D: after initdb into PGDATA the server would open the volume root
        // and stop ("is not a valid data directory", supabase/postgres #1611, #1612, #444). A `-c`
        // on the command line outranks the file, so the server opens PGDATA. PGDATA is a
        // subdirectory because a volume's root holds lost+found (ext4 on Hetzner volumes), which
        // initdb refuses. test/postgres-data-directory.spec.ts starts the real PostgreSQL 15 so.
        args: ["postgres", "-c", "config_file=/etc/postgresql/postgresql.conf", "-c", `data_directory=${DB_PGDATA}`, "-c", "log_min_messages=fatal"],
        ports: [{ name: "postgres", port: PORTS.db }],
        env: { POSTGRES_HOST: "/var/run/postgresql", PGPORT: String(PORTS.db), POSTGRES_PORT: String(PORTS.db), PGDATABASE: "postgres", POSTGRES_DB: "postgres", JWT_EXP: "3600", PGDATA: DB_PGDATA },
        // The image reads these once, on first init (migrate.sh: supabase_admin and postgres get
        // POSTGRES_PASSWORD; our init script the service roles' and app.settings.jwt_secret).
        secretEnv: {
            POSTGRES_PASSWORD: s.postgresPassword,
            PGPASSWORD: s.postgresPassword,
            AUTHENTICATOR_PASSWORD: s.authenticatorPassword,
            SUPABASE_AUTH_ADMIN_PASSWORD: s.authAdminPassword,
            JWT_SECRET: s.jwtSecret,
        },
        files: [
            { path: "/docker-entrypoint-initdb.d/init-scripts/99-archon-infra.sql", content: DB_INIT_SQL },
            // pgsodium's getkey script (supabase/postgres ansible/files/pgsodium_getkey_urandom.sh.j2)
            // makes a random key only when this file is missing, in the image's /etc/postgresql-custom
            // (upstream persists it with the `db-config` volume: docker/docker-compose.yml). A volume
            // there would hide the image's own files in that directory (supautils.conf, which
            // postgresql.conf includes), so the key itself is provided, from Pulumi state. The
            // image's postgres uid is not pinned (adduser --system), hence readable by any uid.
            // Compose mounts this one file, not its directory (which would hide supautils.conf,
            // wal-g.conf and extension-custom-scripts: supabase/postgres Dockerfile-15 COPYs them
            // there); the getkey script's path is fixed (KEY_FILE=/etc/postgresql-custom/
            // pgsodium_root.key, pgsodium_getkey_urandom.sh.j2) and it is read at server start.
            // The key never changes once written (a RandomId without keepers, protected), so the
            // mounted inode is never stale.
            { path: "/etc/postgresql-custom/pgsodium_root.key", content: s.pgsodiumRootKey, secret: true, readableBy: "any", mountAsFile: true },
        ],
        health: { exec: ["pg_isready", "-U", "postgres", "-h", "localhost"], startupSeconds: 120 },
        resources: { cpu: "250m", memory: "512Mi", cpuLimit: "2", memoryLimit: "2Gi" },
        storage: [{ name: "data", mountPath: "/var/lib/postgresql/data", sizeGb: 20 }],
        // The entrypoint starts as root, owns the data directory, then steps down to postgres.
        security: { runAsNonRoot: false, readOnlyRootFilesystem: false, addCapabilities: ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"], fsGroup: 101 },
        // postgres-exporter (exporters.ts) reads pg_stat_database / pg_settings for the Postgres alerts.
        allowFrom: ["rest", "auth", "meta", "studio", "archon-migrate", "postgres-exporter"],
    };

    const rest: ServiceSpec = {
        name: "rest",
        group: "supabase",
        image: SUPABASE_IMAGES.rest,
        kind: "service",
        // The image has no ENTRYPOINT; its CMD is the binary (as Supabase's compose file runs it).
        args: ["postgrest"],
        ports: [{ name: "http", port: PORTS.rest }, { name: "admin", port: PORTS.restAdmin }],
        env: {
            PGRST_DB_SCHEMAS: "public,storage,graphql_public",
            // As upstream: docker/docker-compose.yml `PGRST_DB_MAX_ROWS: ${PGRST_DB_MAX_ROWS:-1000}`.
            PGRST_DB_MAX_ROWS: "1000",
            PGRST_DB_ANON_ROLE: "anon",
            PGRST_DB_USE_LEGACY_GUCS: "false",
            PGRST_APP_SETTINGS_JWT_EXP: "3600",
            PGRST_SERVER_PORT: String(PORTS.rest),
            PGRST_ADMIN_SERVER_PORT: String(PORTS.restAdmin),
            // `postgrest --ready` exits 1 while the admin host is a special value such as the
            // default "!4" (PostgREST v14.5 src/PostgREST/Client.hs `NoSpecialHostNamesAllowed`,
            // Network.hs `isSpecialHostName`; Config.hs `defaultServerHost = fromMaybe "!4"`), so
            // Compose would never see rest healthy and Kong would never start. 0.0.0.0 is concrete
            // and still listens on the pod IP for the kubelet's httpGet probes.
            PGRST_ADMIN_SERVER_HOST: "0.0.0.0",
        },
        // PGRST_JWT_SECRET is a JWKS: GoTrue's RS256 user tokens and the HS256 anon/service keys.
        secretEnv: { PGRST_DB_URI: dbUrl("authenticator", s.authenticatorPassword), PGRST_JWT_SECRET: s.postgrestJwks, PGRST_APP_SETTINGS_JWT_SECRET: s.jwtSecret },
        // Admin server (v14.5 src/PostgREST/Admin.hs): /ready fails while the database is down or
        // the schema cache loads; /live only asks whether the main app accepts connections.
        health: { http: { path: "/ready", port: PORTS.restAdmin }, exec: ["postgrest", "--ready"], live: { http: { path: "/live", port: PORTS.restAdmin } } },
        resources: { cpu: "100m", memory: "128Mi", cpuLimit: "1", memoryLimit: "512Mi" },
        security: nonRoot(1000, []),
        dependsOn: ["db"],
        replicas: ha ? 2 : 1,
    };

    const auth: ServiceSpec = {
        name: "auth",
        group: "supabase",
        image: SUPABASE_IMAGES.auth,
        kind: "service",
        ports: [{ name: "http", port: PORTS.auth }],
        env: {
            GOTRUE_API_HOST: "0.0.0.0",
            GOTRUE_API_PORT: String(PORTS.auth),
            API_EXTERNAL_URL: `https://${hosts.supabase}`,
            GOTRUE_DB_DRIVER: "postgres",
            GOTRUE_SITE_URL: `https://${hosts.archon}`,
            GOTRUE_URI_ALLOW_LIST: `https://${hosts.archon}`,
            GOTRUE_DISABLE_SIGNUP: "true",
            GOTRUE_JWT_ADMIN_ROLES: "service_role",
            GOTRUE_JWT_AUD: "authenticated",
            GOTRUE_JWT_DEFAULT_GROUP_NAME: "authenticated",
            GOTRUE_JWT_EXP: "3600",
            GOTRUE_EXTERNAL_EMAIL_ENABLED: "true",
            GOTRUE_MAILER_AUTOCONFIRM: "false",
            // The links in GoTrue's e-mails go through Kong's /auth/v1 route (upstream
            // docker/.env.example MAILER_URLPATHS_*).
            GOTRUE_MAILER_URLPATHS_INVITE: "/auth/v1/verify",
            GOTRUE_MAILER_URLPATHS_CONFIRMATION: "/auth/v1/verify",
            GOTRUE_MAILER_URLPATHS_RECOVERY: "/auth/v1/verify",
            GOTRUE_MAILER_URLPATHS_EMAIL_CHANGE: "/auth/v1/verify",
            // supabase/auth v2.186.0 internal/conf/configuration.go SMTPConfiguration, read with the GOTRUE_SMTP_ prefix.
            ...(args.smtp ? {
                GOTRUE_SMTP_HOST: args.smtp.host,
                GOTRUE_SMTP_PORT: String(args.smtp.port),
                GOTRUE_SMTP_ADMIN_EMAIL: args.smtp.adminEmail,
                GOTRUE_SMTP_SENDER_NAME: args.smtp.senderName,
                ...(args.smtp.user ? { GOTRUE_SMTP_USER: args.smtp.user } : {}),
            } : {}),
        },
        // GOTRUE_JWT_KEYS makes GoTrue sign user tokens with the RS256 key (supabase/auth v2.186.0
        // internal/conf/jwk.go); GOTRUE_JWT_SECRET stays required (configuration.go `required:"true"`)
        // and verifies HS256 tokens without a kid (internal/api/auth.go).
        secretEnv: {
            GOTRUE_DB_DATABASE_URL: dbUrl("supabase_auth_admin", s.authAdminPassword), GOTRUE_JWT_SECRET: s.jwtSecret, GOTRUE_JWT_KEYS: s.gotrueJwtKeys,
            ...(args.smtp?.password ? { GOTRUE_SMTP_PASS: args.smtp.password } : {}),
        },
        health: { http: { path: "/health", port: PORTS.auth }, exec: WGET_CHECK(PORTS.auth, "/health") },
        resources: { cpu: "100m", memory: "128Mi", cpuLimit: "1", memoryLimit: "512Mi" },
        security: nonRoot(1000, []),
        dependsOn: ["db"],
        replicas: ha ? 2 : 1,
        // GoTrue sends its e-mails itself (supabase/auth v2.186.0 internal/mailer): a way out to
        // the SMTP server, and only when one is configured.
        egressTo: args.smtp ? [{ host: args.smtp.host, port: args.smtp.port }] : undefined,
    };

    const meta: ServiceSpec = {
        name: "meta",
        group: "supabase",
        image: SUPABASE_IMAGES.meta,
        kind: "service",
        ports: [{ name: "http", port: PORTS.meta }],
        env: { PG_META_PORT: String(PORTS.meta), PG_META_DB_HOST: "db", PG_META_DB_PORT: String(PORTS.db), PG_META_DB_NAME: "postgres", PG_META_DB_USER: "supabase_admin" },
        secretEnv: { PG_META_DB_PASSWORD: s.postgresPassword, CRYPTO_KEY: s.pgMetaCryptoKey },
        health: { http: { path: "/health", port: PORTS.meta }, exec: NODE_HTTP_CHECK(PORTS.meta, "/health") },
        resources: { cpu: "50m", memory: "128Mi", cpuLimit: "500m", memoryLimit: "512Mi" },
        security: nonRoot(1000),
        dependsOn: ["db"],
        allowFrom: ["kong", "studio"],
    };

    const studio: ServiceSpec = {
        name: "studio",
        group: "supabase",
        image: SUPABASE_IMAGES.studio,
        kind: "service",
        ports: [{ name: "http", port: PORTS.studio }],
        env: {
            HOSTNAME: "::",
            STUDIO_PG_META_URL: `http://meta:${PORTS.meta}`,
            POSTGRES_HOST: "db",
            POSTGRES_PORT: String(PORTS.db),
            POSTGRES_DB: "postgres",
            DEFAULT_ORGANIZATION_NAME: "Archon",
            DEFAULT_PROJECT_NAME: "Archon",
            SUPABASE_URL: `http://kong:${PORTS.kong}`,
            SUPABASE_PUBLIC_URL: `https://${hosts.supabase}`,
            NEXT_PUBLIC_ENABLE_LOGS: "false",
            HOME: "/tmp",
        },
        secretEnv: { POSTGRES_PASSWORD: s.postgresPassword, PG_META_CRYPTO_KEY: s.pgMetaCryptoKey, SUPABASE_ANON_KEY: s.anonKey, SUPABASE_SERVICE_KEY: s.serviceRoleKey, AUTH_JWT_SECRET: s.jwtSecret },
        health: { http: { path: "/api/platform/profile", port: PORTS.studio }, exec: NODE_HTTP_CHECK(PORTS.studio, "/api/platform/profile"), startupSeconds: 60 },
        resources: { cpu: "100m", memory: "256Mi", cpuLimit: "1", memoryLimit: "1Gi" },
        // Studio's production image (supabase/supabase apps/studio/Dockerfile, `production` stage)
        // copies the Next.js standalone server into a root-owned WORKDIR /app and runs
        // `node apps/studio/server.js`, which writes its cache to /app/apps/studio/.next/cache: as
        // uid 1000 (the node base image's user) that directory is a writable scratch volume.
        security: nonRoot(1000, ["/tmp", STUDIO_NEXT_CACHE]),
        dependsOn: ["meta"],
        allowFrom: ["kong"],
    };

    const kongConfigString = pulumi
        .all([s.anonKey, s.serviceRoleKey, s.dashboardPassword])
        .apply(([anonKey, serviceRoleKey, dashboardPassword]) => renderKongConfigString({
            upstreams: { auth: `http://auth:${PORTS.auth}`, rest: `http://rest:${PORTS.rest}`, meta: `http://meta:${PORTS.meta}`, studio: `http://studio:${PORTS.studio}` },
            anonKey,
            serviceRoleKey,
            dashboardUsername: "supabase",
            dashboardPassword,
        }));
    const kong: ServiceSpec = {
        name: "kong",
        group: "supabase",
        image: SUPABASE_IMAGES.kong,
        kind: "service",
        ports: [{ name: "http", port: PORTS.kong }, { name: "status", port: PORTS.kongStatus }],
        env: {
            KONG_DATABASE: "off",
            KONG_PREFIX: "/tmp/kong",
            KONG_PROXY_LISTEN: `0.0.0.0:${PORTS.kong}`,
            KONG_STATUS_LISTEN: `0.0.0.0:${PORTS.kongStatus}`,
            KONG_ADMIN_LISTEN: "off",
            KONG_DNS_ORDER: "LAST,A,CNAME",
            // Kong caches an upstream's address for the DNS answer's TTL (dns_valid_ttl unset), and
            // Docker's embedded DNS answers with TTL 600 (moby libnetwork resolver.go respTTL): a
            // recreated rest/auth/meta/studio would get 502s for up to ten minutes. Re-ask every 10 s
            // (kong.conf dns_valid_ttl, Kong >= 1.0 #3730) and never serve a stale address.
            KONG_DNS_VALID_TTL: "10",
            KONG_DNS_STALE_TTL: "0",
            KONG_PLUGINS: "request-transformer,cors,key-auth,acl,basic-auth",
            KONG_NGINX_PROXY_PROXY_BUFFER_SIZE: "160k",
            KONG_NGINX_PROXY_PROXY_BUFFERS: "64 160k",
        },
        secretEnv: { KONG_DECLARATIVE_CONFIG_STRING: pulumi.secret(kongConfigString) },
        health: { http: { path: "/status", port: PORTS.kongStatus }, exec: ["kong", "health"] },
        resources: { cpu: "100m", memory: "256Mi", cpuLimit: "1", memoryLimit: "1Gi" },
        security: nonRoot(1000),
        dependsOn: ["rest", "auth", "studio"],
        routes: [{ host: hosts.supabase, path: "/", port: PORTS.kong, maxBodyMb: 50 }],
        aliases: [KONG_INTERNAL_HOST],
        replicas: ha ? 2 : 1,
    };

    return [db, rest, auth, meta, studio, kong];
}

/**
 * Archon: the migration one-shot, archon-server, archon-mcp, archon-agents (used only with
 * enableAgents) and the UI.
 */
function archonServices(args: WorkloadCatalogArgs, { hosts, ha, s, nonRoot }: CatalogContext): Record<"migrate" | "server" | "mcp" | "agents" | "ui", ServiceSpec> {
    const migrate: ServiceSpec = {
        name: "archon-migrate",
        group: "archon",
        // The release's own migration image (images/archon-migrate/Dockerfile): Archon's migration/
        // SQL at the tag and the guard (migrations/archon-migrate.sh) as its entrypoint. A rollback
        // runs the older tag's image, whose guard leaves a newer release's schema alone.
        image: args.archonImages["archon-migrate"],
        kind: "oneshot",
        ports: [],
        env: { PGHOST: "db", PGPORT: String(PORTS.db), PGUSER: "postgres", PGDATABASE: "postgres" },
        secretEnv: { PGPASSWORD: s.postgresPassword },
        resources: { cpu: "50m", memory: "64Mi", cpuLimit: "500m", memoryLimit: "256Mi" },
        // uid 70: the postgres user of the postgres:*-alpine base; psql writes nothing.
        security: nonRoot(70, []),
        dependsOn: ["db"],
    };

    // Archon finds its siblings by these exact service names only when DOCKER_CONTAINER is set;
    // Docker sets it through /.dockerenv, Kubernetes has no such file, so it is set explicitly.
    const archonEnv: Record<string, string> = {
        SUPABASE_URL: ARCHON_SUPABASE_URL,
        ARCHON_SERVER_PORT: String(PORTS.server),
        ARCHON_MCP_PORT: String(PORTS.mcp),
        ARCHON_AGENTS_PORT: String(PORTS.agents),
        DOCKER_CONTAINER: "true",
        SERVICE_DISCOVERY_MODE: "docker_compose",
        LOG_LEVEL: "INFO",
        HOME: "/tmp",
    };
    // Archon refuses the anon key: SUPABASE_SERVICE_KEY is the service_role key.
    const archonSecrets = { SUPABASE_SERVICE_KEY: s.serviceRoleKey };
    /**
     * The three Python services share image naming, settings, key, hardening and internet egress;
     * each runs its exec-form command (archon-commands.ts), never the image's default.
     */
    const archonPython = (name: ArchonPythonService, port: number, spec: Pick<ServiceSpec, "health" | "resources" | "dependsOn"> & Partial<ServiceSpec>): ServiceSpec => ({
        name,
        group: "archon",
        image: args.archonImages[name],
        kind: "service",
        command: [...ARCHON_COMMANDS[name]],
        ports: [{ name: "http", port }],
        env: archonEnv,
        secretEnv: archonSecrets,
        security: nonRoot(1000),
        egressInternet: true,
        ...spec,
    });
    const large = { cpu: "250m", memory: "512Mi", cpuLimit: "2", memoryLimit: "2Gi" };

    const server = archonPython("archon-server", PORTS.server, {
        // ARCHON_HOST is the host Archon's MCP page shows clients (python/src/server/api_routes/
        // mcp_api.py, get_mcp_config: "host": os.getenv("ARCHON_HOST", "localhost"); Archon's
        // docker-compose.yml sets it on archon-server only). The MCP server is public at mcp.<domain>.
        env: { ...archonEnv, ARCHON_HOST: hosts.mcp },
        // /health answers 503 until credentials load and while the schema check fails (Archon
        // v0.1.0 python/src/server/main.py `health_check`): readiness, so a missing migration
        // leaves the pod unready instead of restart-looping. Liveness is `/` (main.py `root`),
        // which answers from the process alone.
        health: { http: { path: "/health", port: PORTS.server }, exec: PYTHON_HTTP_CHECK(PORTS.server, "/health"), startupSeconds: 60, live: { http: { path: "/", port: PORTS.server } } },
        resources: large,
        dependsOn: ["archon-migrate", "kong"],
        // Port 8181 also serves /internal/credentials/agents, which answers the decrypted provider
        // keys to any 127.0.0.1 or 172.16.0.0/12 client (python/src/server/api_routes/
        // internal_api.py; pod and Compose addresses are in that range). A NetworkPolicy cannot
        // tell paths apart, so the port itself admits only the pods that call the API: the UI's
        // nginx (which forwards /api/ and /health only), archon-mcp, archon-agents (the one caller
        // of the credentials endpoint) and blackbox-exporter's /health probe; not the rest of the
        // namespace, and nothing in the monitoring namespace (Archon serves no metrics).
        allowFrom: ["archon-ui", "archon-mcp", "archon-agents", BLACKBOX_EXPORTER],
        monitoringIngress: false,
        // Exactly one, on every stack: crawl progress and cancellation live in the process's memory
        // (python/src/server/utils/progress/progress_tracker.py: the class-level dict
        // ProgressTracker._progress_states) and upstream runs one uvicorn worker (python/
        // Dockerfile.server: --workers 1), so a second replica answers progress polls and stop requests
        // for operations it never saw (404; the UI gives up after five). No autoscaling either.
        // Recreate: the old pod stops before the new one starts, so two never serve at once during
        // an update (an update costs the seconds until the new pod is ready; a crawl running at
        // that moment is lost either way, its state being in the old process).
        replicas: 1,
        updateStrategy: "Recreate",
    });
    const mcp = archonPython("archon-mcp", PORTS.mcp, {
        // At the pinned commit archon-mcp finds archon-server and archon-agents through service
        // discovery (python/src/server/services/mcp_service_client.py: get_api_url, get_agents_url,
        // i.e. these same URLs with DOCKER_CONTAINER set) and reads neither variable, nor TRANSPORT;
        // as in upstream's docker-compose.yml they stay, naming the connections the Compose network
        // plan gives archon-mcp (components/compose/networks.ts reads URLs in env values).
        env: { ...archonEnv, TRANSPORT: "sse", API_SERVICE_URL: `http://archon-server:${PORTS.server}`, AGENTS_SERVICE_URL: `http://archon-agents:${PORTS.agents}` },
        health: { tcp: { port: PORTS.mcp }, exec: ["python", "-c", `import socket; socket.create_connection(('127.0.0.1', ${PORTS.mcp}), 5).close()`], startupSeconds: 60 },
        resources: { cpu: "100m", memory: "256Mi", cpuLimit: "1", memoryLimit: "1Gi" },
        dependsOn: ["archon-server"],
        // archon-server's MCP page asks GET /health here (python/src/server/api_routes/mcp_api.py
        // get_container_status_http, through service discovery's http://archon-mcp:8051) instead of
        // the Docker socket; archon-agents calls its tools (src/agents/server.py MCP_SERVICE_URL).
        // The probes stay a TCP connect: /health logs an INFO line per call and asks archon-server
        // and archon-agents in turn, so readiness would follow their state.
        allowFrom: ["archon-server", "archon-agents", BLACKBOX_EXPORTER],
        // Archon's MCP server runs FastMCP's streamable HTTP transport at /mcp whatever TRANSPORT
        // says (python/src/mcp_server/mcp_server.py: mcp.run(transport="streamable-http"));
        // the whole host sits behind the MCP credential, which clients send as an Authorization header.
        routes: [{ host: hosts.mcp, path: "/", port: PORTS.mcp, websockets: true, basicAuth: { name: "archon-mcp", realm: "Archon MCP", htpasswd: s.archonMcpHtpasswd } }],
    });
    const agents = archonPython("archon-agents", PORTS.agents, {
        // Before uvicorn serves anything, the lifespan waits for archon-server's credentials: 30
        // attempts, each up to a 10 s request and a 10 s pause (src/agents/server.py
        // fetch_credentials_from_server), i.e. up to ~10 minutes on a first deploy while the server
        // waits for its migration. A startup window shorter than that restarts it mid-wait.
        health: { http: { path: "/health", port: PORTS.agents }, exec: PYTHON_HTTP_CHECK(PORTS.agents, "/health"), startupSeconds: 600 },
        resources: large,
        // It fetches its credentials from archon-server at start (coleam00/Archon v0.1.0
        // python/src/agents/server.py: http://archon-server:<port>/internal/credentials/agents).
        dependsOn: ["archon-migrate", "kong", "archon-server"],
    });

    const ui: ServiceSpec = {
        name: "archon-ui",
        group: "archon",
        // The production bundle behind nginx-unprivileged (images/archon-ui/): nginx serves dist/
        // gzipped with an SPA fallback and proxies /api and /health to archon-server:8181
        // (images/archon-ui/nginx.conf), so the ingress routes the whole host here.
        image: args.archonImages["archon-ui"],
        kind: "service",
        // nginx itself, exec form, in the foreground (the image's CMD too): the base image's
        // /docker-entrypoint.sh would only try to rewrite its default config on a read-only root.
        command: ["nginx", "-g", "daemon off;"],
        ports: [{ name: "http", port: PORTS.ui }],
        // How its nginx reaches archon-server on this target (images/archon-ui/nginx.conf includes it).
        files: [{ path: ARCHON_UI_UPSTREAM_PATH, content: archonUiUpstream(args.target) }],
        // busybox wget is part of the nginx alpine image.
        health: { http: { path: "/", port: PORTS.ui }, exec: WGET_CHECK(PORTS.ui, "/"), startupSeconds: 20 },
        resources: { cpu: "50m", memory: "32Mi", cpuLimit: "500m", memoryLimit: "128Mi" },
        // uid 101 is nginx in nginxinc/nginx-unprivileged; its pid and temp files go to /tmp.
        security: nonRoot(101, ["/tmp"]),
        dependsOn: ["archon-server"],
        routes: [{
            host: hosts.archon, path: "/", port: PORTS.ui, websockets: true,
            ...(args.uiForwardAuth ? { forwardAuth: args.uiForwardAuth } : { basicAuth: { name: "archon-ui", realm: "Archon", htpasswd: s.archonUiHtpasswd } }),
        }],
        replicas: ha ? 2 : 1,
    };

    return { migrate, server, mcp, agents, ui };
}
