/**
 * Metric exporters both targets run from one definition. postgres-exporter feeds the `pg_*` alerts
 * (PostgresDown, PostgresConnectionsNearMax): on Compose it joins the monitoring services, on
 * Kubernetes it renders beside `db` in the workloads namespace (the db NetworkPolicy admits it by
 * name, see `allowFrom` in workload-catalog.ts). Pure: no resources.
 */
import * as pulumi from "@pulumi/pulumi";
import { RenderTarget, ServiceGroup, ServiceSpec } from "./catalog";
import { IMAGES } from "./versions";

/** The service name: the Compose service / Kubernetes Service, and the `job` label on both targets. */
export const POSTGRES_EXPORTER = "postgres-exporter";
/** postgres-exporter's listen port (its default). */
export const POSTGRES_EXPORTER_PORT = 9187;

export interface PostgresExporterArgs {
    /** Postgres host inside the stack (the `db` service). */
    host: string;
    port: number;
    /** Role the exporter logs in as (`postgres`: pg_stat_database and pg_settings need no grants). */
    user: string;
    /** The role's password (secret): only ever in `secretEnv`. */
    password: pulumi.Input<string>;
    /** Where the service renders. */
    target: RenderTarget;
    /** Group (label / namespace): `monitoring` on Compose; on Kubernetes the group of `db`, so it shares db's namespace. */
    group: ServiceGroup;
}

/** postgres-exporter as a catalog entry; the password reaches it only through `secretEnv`. */
export function postgresExporterService(args: PostgresExporterArgs): ServiceSpec {
    return {
        name: POSTGRES_EXPORTER,
        group: args.group,
        kind: "service",
        targets: [args.target],
        image: IMAGES.postgresExporter,
        ports: [{ name: "metrics", port: POSTGRES_EXPORTER_PORT }],
        env: { DATA_SOURCE_URI: `${args.host}:${args.port}/postgres?sslmode=disable`, DATA_SOURCE_USER: args.user },
        secretEnv: { DATA_SOURCE_PASS: args.password },
        health: { http: { path: "/", port: POSTGRES_EXPORTER_PORT } },
        resources: { cpu: "20m", memory: "32Mi", cpuLimit: "500m", memoryLimit: "128Mi" },
        security: { runAsNonRoot: true, runAsUser: 65534, readOnlyRootFilesystem: true },
    };
}
