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

/** The blackbox-exporter service name (Compose service / Kubernetes Service). */
export const BLACKBOX_EXPORTER = "blackbox-exporter";
/** blackbox-exporter's listen port (its default). */
export const BLACKBOX_EXPORTER_PORT = 9115;
/** The probe modules blackbox.yml defines. */
/**
 * tls_connect: a TLS handshake without verification, for probe_ssl_earliest_cert_expiry of
 * certificates no public CA signs (the k3s nodes' kubelet certificates, issued by the cluster CA).
 */
export const BLACKBOX_MODULES = { http: "http_2xx", tcp: "tcp_connect", public: "https_public", tls: "tls_connect" } as const;

/**
 * What a public URL may answer and still count as up: the ingress answered over valid TLS. Hosts
 * behind a login or ingress authentication answer 401/403 or redirect, a host whose root has no
 * route (Kong) 404; a 5xx, a TLS error or no answer is down.
 */
export const PUBLIC_OK_STATUS_CODES = [200, 204, 301, 302, 303, 307, 308, 401, 403, 404];

/**
 * blackbox.yml: `http_2xx` (GET, any 2xx, IPv4 first: the Compose network and the Hetzner load
 * balancer are IPv4), `tcp_connect` (for Archon's MCP server, which has no HTTP health route:
 * coleam00/Archon v0.1.0 docker-compose.yml checks it with a socket connect too) and
 * `https_public` (a public URL: TLS required, {@link PUBLIC_OK_STATUS_CODES}; its certificate
 * expiry is `probe_ssl_earliest_cert_expiry`). Module syntax: prometheus/blackbox_exporter
 * CONFIGURATION.md.
 */
export function renderBlackboxConfig(): string {
    return [
        "modules:",
        `  ${BLACKBOX_MODULES.http}:`,
        "    prober: http",
        "    timeout: 10s",
        "    http:",
        "      preferred_ip_protocol: ip4",
        "      follow_redirects: false",
        `  ${BLACKBOX_MODULES.public}:`,
        "    prober: http",
        "    timeout: 10s",
        "    http:",
        "      preferred_ip_protocol: ip4",
        "      follow_redirects: false",
        "      fail_if_not_ssl: true",
        `      valid_status_codes: [${PUBLIC_OK_STATUS_CODES.join(", ")}]`,
        `  ${BLACKBOX_MODULES.tcp}:`,
        "    prober: tcp",
        "    timeout: 5s",
        "    tcp:",
        "      preferred_ip_protocol: ip4",
        `  ${BLACKBOX_MODULES.tls}:`,
        "    prober: tcp",
        "    timeout: 5s",
        "    tcp:",
        "      preferred_ip_protocol: ip4",
        "      tls: true",
        "      tls_config:",
        "        insecure_skip_verify: true",
        "",
    ].join("\n");
}

/** One thing blackbox-exporter probes: a URL (module http_2xx) or a host:port (tcp_connect). */
export interface ProbeTarget {
    module: (typeof BLACKBOX_MODULES)[keyof typeof BLACKBOX_MODULES];
    target: string;
    /** The catalog service answering it (for the tests: the path must be its health route). */
    service: string;
}

/**
 * The in-network liveness probes, from the catalog's own health routes: every service of the
 * Archon group (server /health, agents /health when enabled, the UI, MCP by TCP) and Supabase's
 * request path: Kong, PostgREST, GoTrue. A service whose health is HTTP is probed on that path and
 * port; one with only a TCP check (MCP) by connect.
 */
export function internalProbeTargets(services: Pick<ServiceSpec, "name" | "group" | "kind" | "health">[]): ProbeTarget[] {
    const probed = services.filter((s) => s.kind !== "oneshot" && (s.group === "archon" || ["kong", "rest", "auth"].includes(s.name)));
    return probed.flatMap((s): ProbeTarget[] => {
        if (s.health?.http) return [{ module: BLACKBOX_MODULES.http, target: `http://${s.name}:${s.health.http.port}${s.health.http.path}`, service: s.name }];
        if (s.health?.tcp) return [{ module: BLACKBOX_MODULES.tcp, target: `${s.name}:${s.health.tcp.port}`, service: s.name }];
        return [];
    }).sort((a, b) => a.target.localeCompare(b.target));
}

/** The public-URL probes: every public host's root over https, through the ingress. */
export function publicProbeTargets(hosts: string[]): ProbeTarget[] {
    return [...hosts].sort().map((host) => ({ module: BLACKBOX_MODULES.public, target: `https://${host}/`, service: "ingress" }));
}

export interface BlackboxExporterArgs {
    target: RenderTarget;
    /** `monitoring` on Compose; on Kubernetes the workloads' group, so it runs beside what it probes. */
    group: ServiceGroup;
}

/** blackbox-exporter as a catalog entry with its configuration file. */
export function blackboxExporterService(args: BlackboxExporterArgs): ServiceSpec {
    return {
        name: BLACKBOX_EXPORTER,
        group: args.group,
        kind: "service",
        targets: [args.target],
        image: IMAGES.blackboxExporter,
        args: ["--config.file=/etc/blackbox_exporter/config.yml"],
        ports: [{ name: "http", port: BLACKBOX_EXPORTER_PORT }],
        files: [{ path: "/etc/blackbox_exporter/config.yml", content: renderBlackboxConfig() }],
        // prometheus/blackbox_exporter v0.27.0 main.go serves /-/healthy; the image is busybox-based (Dockerfile: quay.io/prometheus/busybox), so wget exists.
        health: { http: { path: "/-/healthy", port: BLACKBOX_EXPORTER_PORT } },
        resources: { cpu: "20m", memory: "32Mi", cpuLimit: "500m", memoryLimit: "64Mi" },
        security: { runAsNonRoot: true, runAsUser: 65534, readOnlyRootFilesystem: true },
        // The public-URL probes go out through the ingress's public address.
        egressInternet: true,
    };
}
