/**
 * Which component produces which Prometheus metric: the one table the alert rules, the Grafana
 * dashboard and the tests read. Each producer lists the metric names (as the component itself
 * names them at the pinned version) the rules and panels use, with a link to where they are
 * documented. test/monitoring-sources.spec.ts fails when a rule or panel of a stack reads a
 * metric that is in no table row, or whose producer the stack's synth does not deploy.
 *
 * Archon itself (coleam00/Archon v0.1.0) serves no `/metrics` and defines no Prometheus metric
 * (no prometheus client in python/pyproject.toml; `/api/database/metrics` is a JSON endpoint):
 * its request metrics come from the ingress, its liveness from blackbox probes of `/health`.
 */

/** A component that exposes metrics Prometheus scrapes. */
export type Producer =
    | "prometheus"
    | "node-exporter"
    | "node-exporter-textfile"
    | "postgres-exporter"
    | "blackbox-exporter"
    | "cert-manager"
    | "kube-state-metrics"
    | "traefik"
    | "ingress-nginx"
    | "alloy";

export interface ProducerMetrics {
    /** Metric names exactly as exported (histograms with their `_bucket` series). */
    metrics: readonly string[];
    /** Where the names and their labels are documented (or defined, when no page lists them). */
    docs: string;
    /** What must be deployed for the metric to exist, in words. */
    deployedBy: string;
}

export const METRIC_SOURCES: Readonly<Record<Producer, ProducerMetrics>> = {
    prometheus: {
        metrics: ["up", "prometheus_tsdb_lowest_timestamp_seconds", "ALERTS"],
        docs: "https://prometheus.io/docs/concepts/jobs_instances/#automatically-generated-labels-and-time-series ; prometheus/prometheus tsdb/db.go (prometheus_tsdb_lowest_timestamp_seconds) ; https://prometheus.io/docs/prometheus/latest/configuration/alerting_rules/#inspecting-alerts-during-runtime (ALERTS)",
        deployedBy: "Prometheus writes `up` for every scrape and `ALERTS` for every pending or firing alert; its self-scrape (job prometheus) carries the TSDB metrics",
    },
    "node-exporter": {
        metrics: ["node_cpu_seconds_total", "node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes", "node_filesystem_avail_bytes", "node_filesystem_size_bytes"],
        docs: "https://github.com/prometheus/node_exporter#enabled-by-default (collectors cpu, meminfo, filesystem)",
        deployedBy: "Compose: the node-exporter service; Kubernetes: kube-prometheus-stack's prometheus-node-exporter",
    },
    "node-exporter-textfile": {
        metrics: ["archon_postgres_backup_last_success_timestamp_seconds"],
        docs: "https://github.com/prometheus/node_exporter#textfile-collector ; the name is agreed with the backups issue (14): the Compose backup service writes it",
        deployedBy: "Compose: node-exporter with --collector.textfile.directory=/var/lib/node-exporter/textfile, where the backup service writes its .prom file",
    },
    "postgres-exporter": {
        metrics: ["pg_up", "pg_stat_database_numbackends", "pg_settings_max_connections"],
        docs: "https://github.com/prometheus-community/postgres_exporter (collector/pg_database.go, pg_stat_database.go, pg_settings.go)",
        deployedBy: "the postgres-exporter service (exporters.ts) on both targets",
    },
    "blackbox-exporter": {
        metrics: ["probe_success", "probe_duration_seconds", "probe_http_status_code", "probe_ssl_earliest_cert_expiry"],
        docs: "https://github.com/prometheus/blackbox_exporter (prober/http.go, prober/prober.go)",
        deployedBy: "the blackbox-exporter service (exporters.ts); Compose: prometheus.yml's blackbox jobs; Kubernetes: Probe objects",
    },
    "cert-manager": {
        metrics: ["certmanager_certificate_expiration_timestamp_seconds"],
        docs: "https://cert-manager.io/docs/devops-tips/prometheus-metrics/",
        deployedBy: "cert-manager's ServiceMonitor (chart value prometheus.servicemonitor.enabled)",
    },
    "kube-state-metrics": {
        metrics: ["kube_cronjob_status_last_successful_time"],
        docs: "https://github.com/kubernetes/kube-state-metrics/blob/main/docs/metrics/workload/cronjob-metrics.md",
        deployedBy: "kube-prometheus-stack's kube-state-metrics (chart default kubeStateMetrics.enabled)",
    },
    traefik: {
        metrics: [
            "traefik_router_requests_total", "traefik_router_request_duration_seconds_bucket",
            "traefik_service_requests_total", "traefik_service_request_duration_seconds_bucket",
        ],
        docs: "https://doc.traefik.io/traefik/v3.7/observability/metrics/overview/ (router metrics need addRoutersLabels; traefik/traefik v3.7.8 pkg/observability/metrics/prometheus.go, the same names as v2.11's pkg/metrics/prometheus.go)",
        deployedBy: "k3s's bundled Traefik (k3s v1.36: chart traefik-40.1.4+up40.1.0, Traefik v3.7) with metrics.prometheus on entry point `metrics` (HelmChartConfig) and the ServiceMonitor traefik-metrics",
    },
    "ingress-nginx": {
        metrics: ["nginx_ingress_controller_requests", "nginx_ingress_controller_request_duration_seconds_bucket"],
        docs: "https://kubernetes.github.io/ingress-nginx/user-guide/monitoring/ ; kubernetes/ingress-nginx internal/ingress/metric/collectors/socket.go (labels status, method, path, namespace, ingress, service, canary, host)",
        deployedBy: "the ingress-nginx chart with controller.metrics.enabled and controller.metrics.serviceMonitor.enabled",
    },
    alloy: {
        metrics: ["loki_process_custom_nginx_http_requests_total", "loki_process_custom_nginx_http_request_duration_seconds_bucket"],
        docs: "https://grafana.com/docs/alloy/v1.9/reference/components/loki/loki.process/#stagemetrics (metric names get the default prefix loki_process_custom_; grafana/alloy v1.9.2 docs/sources/reference/components/loki/loki.process.md)",
        deployedBy: "Compose: the alloy service, whose loki.process pipeline turns the proxy's JSON access log into these metrics (components/compose/logs.ts)",
    },
};

/** The producer of a metric name, or undefined when no row lists it. */
export function producerOf(metric: string): Producer | undefined {
    return (Object.keys(METRIC_SOURCES) as Producer[]).find((p) => METRIC_SOURCES[p].metrics.includes(metric));
}
