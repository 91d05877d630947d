/**
 * Monitoring on the Compose target: Prometheus (with the shared alert rules), Alertmanager, Grafana,
 * Loki with Alloy shipping the containers' logs and turning the proxy's access log into the
 * ingress request metrics (logs.ts), node-exporter, cAdvisor, blackbox-exporter (liveness of the
 * Archon and Supabase services inside the network, and the public URLs with their certificates)
 * and, when given Postgres access, postgres-exporter. Prometheus scrapes only what serves
 * `/metrics` (Archon serves none). Each is a catalog ServiceSpec (targets ["compose"]) with its
 * rendered configuration as `files`; the Compose renderer turns them into services. This component
 * creates no cloud resources.
 */
import { TEXTFILE_DIRECTORY } from "../backups/postgres-backup";
import * as pulumi from "@pulumi/pulumi";
import { stringify as toYaml } from "yaml";
import { AlertProfile, AlertReceiversInput, COMPOSE_BACKUP_SIGNAL, alertGroups, alertmanagerConfig, composeIngressSignals, configuredReceivers, holdsSecrets, renderRuleFile } from "../services/alert-rules";
import { PortSpec, SecuritySpec, ServiceSpec, forTarget } from "../services/catalog";
import {
    BLACKBOX_EXPORTER, BLACKBOX_EXPORTER_PORT, BLACKBOX_MODULES, POSTGRES_EXPORTER, POSTGRES_EXPORTER_PORT, ProbeTarget,
    blackboxExporterService, internalProbeTargets, postgresExporterService, publicProbeTargets,
} from "../services/exporters";
import { DATASOURCE_UIDS, archonDashboardJson } from "../services/grafana-dashboard";
import { publicHosts } from "../services/workload-catalog";
import { ALLOY_PORT, composeAlloyService } from "./logs";
import { hostRoutes } from "../services/routes";
import { IMAGES } from "../services/versions";
import { GRAFANA_ADMIN_PASSWORD_SCRIPT, GRAFANA_ADMIN_PASSWORD_SCRIPT_PATH, GRAFANA_ENTRYPOINT } from "../secrets/grafana-admin";

/** Where Prometheus reads its configuration; rule files are relative to it. */
export const PROMETHEUS_CONFIG_DIR = "/etc/prometheus";
/** The rule file, relative to {@link PROMETHEUS_CONFIG_DIR} (as `rule_files` names it). */
export const RULE_FILE = "rules/archon.yml";

/** A service Prometheus scrapes: job name, host:port, metrics path (default `/metrics`). */
export interface ScrapeTarget {
    job: string;
    address: string;
    metricsPath?: string;
}

/**
 * The port a service exposes metrics on: the one named `metrics`, else `http`, else its first port.
 * Both targets use it (the Compose scrape config, the Kubernetes ServiceMonitor's port name).
 */
export function metricsPort(service: ServiceSpec): PortSpec {
    const port = service.ports.find((p) => p.name === "metrics") ?? service.ports.find((p) => p.name === "http") ?? service.ports[0];
    if (!port) throw new Error(`service ${service.name} has no port to scrape metrics from`);
    return port;
}

export interface PrometheusConfigArgs {
    targets: ScrapeTarget[];
    /** What blackbox-exporter probes: in-network health routes and the public https:// URLs. */
    probes: ProbeTarget[];
    /** `host:port` of blackbox-exporter. */
    blackboxAddress: string;
    /** `host:port` of Alertmanager. */
    alertmanagerAddress: string;
}

/** Job names of the blackbox probes, by module. */
export const PROBE_JOBS = { [BLACKBOX_MODULES.http]: "blackbox-http", [BLACKBOX_MODULES.tcp]: "blackbox-tcp", [BLACKBOX_MODULES.public]: "blackbox-public", [BLACKBOX_MODULES.tls]: "blackbox-tls" } as const;

/** prometheus.yml: one job per target, one job per blackbox module, the rule file and Alertmanager. */
export function renderPrometheusConfig(args: PrometheusConfigArgs): string {
    const probeJobs = Object.values(BLACKBOX_MODULES).flatMap((module) => {
        const targets = args.probes.filter((p) => p.module === module).map((p) => p.target);
        return targets.length === 0 ? [] : [{
            job_name: PROBE_JOBS[module],
            metrics_path: "/probe",
            params: { module: [module] },
            static_configs: [{ targets }],
            relabel_configs: [
                { source_labels: ["__address__"], target_label: "__param_target" },
                { source_labels: ["__param_target"], target_label: "instance" },
                { target_label: "__address__", replacement: args.blackboxAddress },
            ],
        }];
    });
    const config = {
        global: { scrape_interval: "30s", evaluation_interval: "30s", external_labels: { environment: "compose" } },
        rule_files: [RULE_FILE],
        alerting: { alertmanagers: [{ static_configs: [{ targets: [args.alertmanagerAddress] }] }] },
        scrape_configs: [
            ...args.targets.map((t) => ({
                job_name: t.job,
                ...(t.metricsPath ? { metrics_path: t.metricsPath } : {}),
                static_configs: [{ targets: [t.address] }],
            })),
            ...probeJobs,
        ],
    };
    return toYaml(config, { lineWidth: 0 });
}

/** Loki, single process on the local filesystem, deleting logs older than `retentionDays`. */
export function renderLokiConfig(retentionDays: number): string {
    return toYaml({
        auth_enabled: false,
        server: { http_listen_port: 3100, grpc_listen_port: 9095 },
        common: {
            path_prefix: "/loki",
            replication_factor: 1,
            ring: { kvstore: { store: "inmemory" } },
            storage: { filesystem: { chunks_directory: "/loki/chunks", rules_directory: "/loki/rules" } },
        },
        schema_config: { configs: [{ from: "2024-01-01", store: "tsdb", object_store: "filesystem", schema: "v13", index: { prefix: "index_", period: "24h" } }] },
        limits_config: { retention_period: `${retentionDays * 24}h` },
        compactor: { working_directory: "/loki/compactor", retention_enabled: true, delete_request_store: "filesystem" },
        analytics: { reporting_enabled: false },
    }, { lineWidth: 0 });
}

/** Grafana's provisioned datasources (Prometheus default, Loki, Alertmanager) with the dashboard's UIDs. */
export function renderGrafanaDatasources(urls: { prometheus: string; loki: string }): string {
    return toYaml({
        apiVersion: 1,
        datasources: [
            { name: "Prometheus", type: "prometheus", uid: DATASOURCE_UIDS.prometheus, access: "proxy", url: urls.prometheus, isDefault: true, editable: false },
            { name: "Loki", type: "loki", uid: DATASOURCE_UIDS.loki, access: "proxy", url: urls.loki, editable: false },
        ],
    }, { lineWidth: 0 });
}

const GRAFANA_DASHBOARDS = "/etc/grafana/dashboards";

function renderGrafanaDashboardProvider(): string {
    return toYaml({
        apiVersion: 1,
        providers: [{ name: "archon", type: "file", disableDeletion: true, allowUiUpdates: false, options: { path: GRAFANA_DASHBOARDS } }],
    });
}

export interface ComposeMonitoringArgs {
    /** The catalog: scrape targets and probed hosts come from it. */
    services: ServiceSpec[];
    /** Public domain; Grafana serves at grafana.<domain> (config `domain`). */
    domain: string;
    /** Grafana `admin` password (secret; `Secrets.grafanaPassword`). */
    grafanaPassword: pulumi.Input<string>;
    /** Where Alertmanager sends alerts (config `alert*`); none = the null receiver. */
    alerting?: AlertReceiversInput;
    /** Prometheus retention in days (config `metricsRetentionDays`). */
    metricsRetentionDays: number;
    /** Loki retention in days (config `logsRetentionDays`). */
    logsRetentionDays: number;
    /** Postgres for postgres-exporter (`PostgresDown`, connections); no exporter when unset. */
    postgres?: { host: string; port: number; user: string; password: pulumi.Input<string> };
    /**
     * Host directory where the Postgres backup writes its textfile metric
     * (archon_postgres_backup_last_success_timestamp_seconds, components/backups): node-exporter
     * mounts it read-only at /var/lib/node-exporter/textfile and reads it with its textfile
     * collector. Unset: no textfile collector directory.
     */
    backupTextfileDirectory?: string;
    /** Prometheus TSDB size in GB on the data volume. Default 10. */
    prometheusStorageGb?: number;
    /** Loki storage in GB on the data volume. Default 10. */
    lokiStorageGb?: number;
}

/** Monitoring ServiceSpecs of the Compose target. */
export class ComposeMonitoring extends pulumi.ComponentResource {
    /** Catalog entries (targets ["compose"], group monitoring). */
    public readonly services: ServiceSpec[];
    /** Their names, for outputs and wiring. */
    public readonly serviceNames: string[];

    constructor(name: string, args: ComposeMonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:ComposeMonitoring", name, {}, opts);
        this.services = composeMonitoringServices(args);
        this.serviceNames = this.services.map((s) => s.name);
        this.registerOutputs({ services: this.serviceNames });
    }
}

const nobody: SecuritySpec = { runAsNonRoot: true, runAsUser: 65534, readOnlyRootFilesystem: true };

/** The ServiceSpecs themselves (pure: tests render them without a Pulumi runtime). */
export function composeMonitoringServices(args: ComposeMonitoringArgs): ServiceSpec[] {
    const catalog = forTarget(args.services, "compose");
    const base = MONITORING_BASE;
    const promTargets: ScrapeTarget[] = [
        { job: "prometheus", address: "localhost:9090" },
        { job: "alertmanager", address: "alertmanager:9093" },
        { job: "grafana", address: "grafana:3000" },
        { job: "loki", address: "loki:3100" },
        { job: "node-exporter", address: "node-exporter:9100" },
        { job: "cadvisor", address: "cadvisor:8080" },
        { job: "alloy", address: `alloy:${ALLOY_PORT}` },
        { job: BLACKBOX_EXPORTER, address: `${BLACKBOX_EXPORTER}:${BLACKBOX_EXPORTER_PORT}` },
        ...(args.postgres ? [{ job: POSTGRES_EXPORTER, address: `${POSTGRES_EXPORTER}:${POSTGRES_EXPORTER_PORT}` }] : []),
    ];
    // Grafana's own host is routed by this component, so it is added to the catalog's hosts.
    const hosts = [...new Set([...hostRoutes(catalog).map((h) => h.host), `grafana.${args.domain}`])];
    const internalProbes = internalProbeTargets(catalog);
    const probes = [...internalProbes, ...publicProbeTargets(hosts)];
    // blackbox-exporter opens the in-network probes; Prometheus only names them in its config
    // (`__param_target`) and talks to blackbox-exporter: so the network plan puts blackbox-exporter,
    // not Prometheus, beside each probed service (networks.ts).
    const probedServices = [...new Set(internalProbes.map((p) => p.service))].sort();
    // Watchdog and InfoInhibitor too: nothing else here would notice a dead host.
    const profile: AlertProfile = { ingress: composeIngressSignals(publicHosts(args.domain).supabase), backup: COMPOSE_BACKUP_SIGNAL, certManager: false, heartbeat: true };
    const groups = alertGroups(profile);
    const receivers = args.alerting ?? {};

    const specs: ServiceSpec[] = [
        {
            ...base,
            name: "prometheus",
            image: IMAGES.prometheus,
            args: [
                `--config.file=${PROMETHEUS_CONFIG_DIR}/prometheus.yml`,
                "--storage.tsdb.path=/prometheus",
                `--storage.tsdb.retention.time=${args.metricsRetentionDays}d`,
                "--web.enable-lifecycle",
            ],
            ports: [{ name: "http", port: 9090 }],
            files: [
                { path: `${PROMETHEUS_CONFIG_DIR}/prometheus.yml`, content: renderPrometheusConfig({ targets: promTargets, probes, blackboxAddress: `${BLACKBOX_EXPORTER}:${BLACKBOX_EXPORTER_PORT}`, alertmanagerAddress: "alertmanager:9093" }) },
                { path: `${PROMETHEUS_CONFIG_DIR}/${RULE_FILE}`, content: renderRuleFile(groups) },
            ],
            health: { http: { path: "/-/ready", port: 9090 }, startupSeconds: 120 },
            resources: { cpu: "250m", memory: "512Mi", cpuLimit: "2", memoryLimit: "2Gi" },
            storage: [{ name: "tsdb", mountPath: "/prometheus", sizeGb: args.prometheusStorageGb ?? 10 }],
            security: nobody,
            dependsOn: ["alertmanager"],
            namesWithoutConnecting: probedServices,
        },
        {
            ...base,
            name: "alertmanager",
            image: IMAGES.alertmanager,
            args: ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"],
            ports: [{ name: "http", port: 9093 }],
            // With a receiver the config holds its URL or password, a secret: then it is a 0600 secret file.
            files: [{ path: "/etc/alertmanager/alertmanager.yml", content: alertmanagerConfig(receivers), ...(holdsSecrets(receivers) ? { secret: true } : {}) }],
            health: { http: { path: "/-/ready", port: 9093 } },
            resources: { cpu: "50m", memory: "64Mi", cpuLimit: "500m", memoryLimit: "256Mi" },
            storage: [{ name: "data", mountPath: "/alertmanager", sizeGb: 1 }],
            security: nobody,
            // The receivers and the dead man's switch live outside the host.
            egressInternet: configuredReceivers(receivers).length > 0 || receivers.deadMansSwitchUrl !== undefined,
        },
        ...dashboardAndLogServices(args, profile),
        composeAlloyService("http://loki:3100"),
        ...hostExporterServices(args),
        { ...blackboxExporterService({ target: "compose", group: "monitoring" }), connectsTo: probedServices },
    ];
    if (args.postgres) {
        specs.push(postgresExporterService({ ...args.postgres, target: "compose", group: "monitoring" }));
    }
    return specs;
}

/** Monitoring services' common fields. */
const MONITORING_BASE: Pick<ServiceSpec, "group" | "kind" | "targets"> = { group: "monitoring", kind: "service", targets: ["compose"] };

/** Grafana (dashboards of the rules' own queries) and Loki, its log store. */
function dashboardAndLogServices(args: ComposeMonitoringArgs, profile: AlertProfile): ServiceSpec[] {
    const base = MONITORING_BASE;
    return [
        {
            ...base,
            name: "grafana",
            image: IMAGES.grafana,
            ports: [{ name: "http", port: 3000 }],
            env: {
                GF_SERVER_ROOT_URL: `https://grafana.${args.domain}/`,
                GF_SECURITY_ADMIN_USER: "admin",
                GF_USERS_ALLOW_SIGN_UP: "false",
                GF_AUTH_ANONYMOUS_ENABLED: "false",
                GF_ANALYTICS_REPORTING_ENABLED: "false",
                GF_PATHS_PROVISIONING: "/etc/grafana/provisioning",
            },
            secretEnv: { GF_SECURITY_ADMIN_PASSWORD: args.grafanaPassword },
            // Sets an existing database's admin password first (a changed env value alone is ignored).
            command: ["sh", GRAFANA_ADMIN_PASSWORD_SCRIPT_PATH, GRAFANA_ENTRYPOINT],
            files: [
                { path: GRAFANA_ADMIN_PASSWORD_SCRIPT_PATH, content: GRAFANA_ADMIN_PASSWORD_SCRIPT },
                { path: "/etc/grafana/provisioning/datasources/archon.yml", content: renderGrafanaDatasources({ prometheus: "http://prometheus:9090", loki: "http://loki:3100" }) },
                { path: "/etc/grafana/provisioning/dashboards/archon.yml", content: renderGrafanaDashboardProvider() },
                { path: `${GRAFANA_DASHBOARDS}/archon-overview.json`, content: archonDashboardJson(profile) },
            ],
            health: { http: { path: "/api/health", port: 3000 }, startupSeconds: 60 },
            resources: { cpu: "100m", memory: "128Mi", cpuLimit: "1", memoryLimit: "512Mi" },
            storage: [{ name: "data", mountPath: "/var/lib/grafana", sizeGb: 1 }],
            security: { runAsNonRoot: true, runAsUser: 472, readOnlyRootFilesystem: true, writablePaths: ["/tmp"] },
            routes: [{ host: `grafana.${args.domain}`, path: "/", port: 3000, websockets: true }],
            dependsOn: ["prometheus", "loki"],
        },
        {
            ...base,
            name: "loki",
            image: IMAGES.loki,
            args: ["-config.file=/etc/loki/config.yml"],
            ports: [{ name: "http", port: 3100 }],
            files: [{ path: "/etc/loki/config.yml", content: renderLokiConfig(args.logsRetentionDays) }],
            health: { http: { path: "/ready", port: 3100 }, startupSeconds: 60 },
            resources: { cpu: "100m", memory: "256Mi", cpuLimit: "1", memoryLimit: "1Gi" },
            storage: [{ name: "data", mountPath: "/loki", sizeGb: args.lokiStorageGb ?? 10 }],
            security: { runAsNonRoot: true, runAsUser: 10001, readOnlyRootFilesystem: true, writablePaths: ["/tmp"] },
        },
    ];
}

/** The exporters that read the host itself: node-exporter (host metrics, the backups' textfile) and cAdvisor (containers). */
function hostExporterServices(args: ComposeMonitoringArgs): ServiceSpec[] {
    const base = MONITORING_BASE;
    return [
        {
            ...base,
            name: "node-exporter",
            image: IMAGES.nodeExporter,
            args: ["--path.procfs=/host/proc", "--path.sysfs=/host/sys", "--path.rootfs=/host/root",
                "--collector.filesystem.mount-points-exclude=^/(dev|proc|sys|run|var/lib/docker/.+)($|/)",
                // The textfile collector (prometheus/node_exporter collector/textfile.go) reads *.prom files there.
                ...(args.backupTextfileDirectory ? [`--collector.textfile.directory=${TEXTFILE_DIRECTORY}`] : [])],
            ports: [{ name: "metrics", port: 9100 }],
            // The landing page; the image is busybox-based (prometheus/node_exporter Dockerfile), so wget exists.
            health: { http: { path: "/", port: 9100 } },
            resources: { cpu: "50m", memory: "32Mi", cpuLimit: "500m", memoryLimit: "128Mi" },
            security: nobody,
            hostPaths: [
                { hostPath: "/proc", mountPath: "/host/proc" },
                { hostPath: "/sys", mountPath: "/host/sys" },
                { hostPath: "/", mountPath: "/host/root" },
                ...(args.backupTextfileDirectory ? [{ hostPath: args.backupTextfileDirectory, mountPath: TEXTFILE_DIRECTORY }] : []),
            ],
        },
        {
            ...base,
            name: "cadvisor",
            image: IMAGES.cadvisor,
            args: ["--docker_only=true", "--housekeeping_interval=30s", "--store_container_labels=false"],
            ports: [{ name: "http", port: 8080 }],
            health: { http: { path: "/healthz", port: 8080 } },
            resources: { cpu: "100m", memory: "64Mi", cpuLimit: "1", memoryLimit: "256Mi" },
            // cAdvisor reads the Docker engine's state and cgroups, which only root may. It reads OOM
            // events from /dev/kmsg, which the kernel opens only with CAP_SYSLOG when
            // kernel.dmesg_restrict is 1 (Ubuntu's default).
            security: { runAsNonRoot: false, readOnlyRootFilesystem: true, addCapabilities: ["SYSLOG"] },
            // The mounts and the device google/cadvisor's docs/running.md lists for Docker
            // (`--volume=/dev/disk/:/dev/disk:ro`, `--device=/dev/kmsg`): /dev/disk maps block
            // devices to per-device disk metrics, /dev/kmsg carries the OOM kills. Read-only where
            // Compose allows it; `--privileged` is left out.
            hostPaths: [
                { hostPath: "/", mountPath: "/rootfs" },
                { hostPath: "/var/run", mountPath: "/var/run" },
                { hostPath: "/sys", mountPath: "/sys" },
                { hostPath: "/var/lib/docker", mountPath: "/var/lib/docker" },
                { hostPath: "/dev/disk", mountPath: "/dev/disk" },
            ],
            devices: ["/dev/kmsg:/dev/kmsg:r"],
        },
    ];
}
