/**
 * Rotation of the database's own copies of the secrets: the one-shot `db-role-passwords` (a Compose
 * service run on every `up`, a Kubernetes Job replaced whenever its settings change) sets every
 * login role's password and `app.settings.jwt_secret` to the stack's current values, before any
 * service that logs in starts. Supabase's Postgres image sets them only on first init, so without
 * it a raised `secretsVersion` locks every service out (README "Rotating secrets").
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ServiceSpec } from "../services/catalog";
import { SUPABASE_IMAGES } from "../services/versions";
import { DB_INIT_SQL } from "../services/workload-catalog";

/** The one-shot's name: every service that depends on `db` waits for it. */
export const ROLE_PASSWORDS_SERVICE = "db-role-passwords";
// Not "password" in a file name: the policy pack reads ConfigMap keys named so as credentials.
const SCRIPTS_DIR = "/db-roles";
const SYNC_SCRIPT = fs.readFileSync(path.join(__dirname, "scripts", "sync-db-roles.sh"), "utf8");

export interface RolePasswordsArgs {
    /** The current superuser password (Secrets.postgresPassword) and the one before the last raise. */
    postgresPassword: pulumi.Input<string>;
    previousPostgresPassword: pulumi.Input<string>;
    /** PostgREST's and GoTrue's roles' passwords. */
    authenticatorPassword: pulumi.Input<string>;
    authAdminPassword: pulumi.Input<string>;
    /** The HS256 secret stored as app.settings.jwt_secret. */
    jwtSecret: pulumi.Input<string>;
}

/** The catalog with the one-shot added, Postgres admitting it, and every service of `db` waiting for it. */
export function withRolePasswordSync(services: ServiceSpec[], args: RolePasswordsArgs): ServiceSpec[] {
    const db = services.find((s) => s.name === "db");
    if (!db) return services;
    const step: ServiceSpec = {
        name: ROLE_PASSWORDS_SERVICE,
        group: db.group,
        // The stack's own Postgres image: its psql, and the shell supabase-init.sql's \set runs.
        image: SUPABASE_IMAGES.db,
        kind: "oneshot",
        ports: [],
        command: ["sh", `${SCRIPTS_DIR}/sync-db-roles.sh`],
        env: { PGHOST: db.name, PGPORT: String(db.ports[0].port), PGUSER: "supabase_admin", PGDATABASE: "postgres", JWT_EXP: db.env?.JWT_EXP ?? "3600" },
        secretEnv: {
            PGPASSWORD: args.postgresPassword,
            PGPASSWORD_PREVIOUS: args.previousPostgresPassword,
            POSTGRES_PASSWORD: args.postgresPassword,
            AUTHENTICATOR_PASSWORD: args.authenticatorPassword,
            SUPABASE_AUTH_ADMIN_PASSWORD: args.authAdminPassword,
            JWT_SECRET: args.jwtSecret,
        },
        files: [
            { path: `${SCRIPTS_DIR}/sync-db-roles.sh`, content: SYNC_SCRIPT },
            { path: `${SCRIPTS_DIR}/supabase-init.sql`, content: DB_INIT_SQL },
        ],
        resources: { cpu: "10m", memory: "32Mi", cpuLimit: "200m", memoryLimit: "128Mi" },
        // The Postgres image's postgres user, as the backups run it; psql's scratch in /tmp.
        security: { runAsNonRoot: true, runAsUser: 101, runAsGroup: 101, readOnlyRootFilesystem: true, writablePaths: ["/tmp"] },
        dependsOn: [db.name],
    };
    const wired = services.map((service): ServiceSpec => {
        if (service.name === db.name) return { ...service, allowFrom: service.allowFrom ? [...service.allowFrom, ROLE_PASSWORDS_SERVICE] : undefined };
        if (service.dependsOn?.includes(db.name)) return { ...service, dependsOn: [...service.dependsOn, ROLE_PASSWORDS_SERVICE] };
        return service;
    });
    return [...wired, step];
}
