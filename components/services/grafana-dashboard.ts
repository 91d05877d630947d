/**
 * The Archon Grafana dashboard and the datasource identities it refers to, shared by both targets
 * (a provisioned file on Compose, a ConfigMap with the `grafana_dashboard` label on Kubernetes).
 */

/** Datasource UIDs the dashboard refers to; both targets provision datasources with these UIDs. */
export const DATASOURCE_UIDS = { prometheus: "prometheus", loki: "loki" } as const;

interface Panel {
    title: string;
    /** PromQL, or LogQL for a logs panel. */
    expr: string;
    unit?: string;
    logs?: boolean;
}

const PANELS: Panel[] = [
    { title: "Requests per second by service", expr: "sum by (job) (rate(http_requests_total[5m]))", unit: "reqps" },
    { title: "5xx ratio by service", expr: 'sum by (job) (rate(http_requests_total{status=~"5.."}[5m])) / sum by (job) (rate(http_requests_total[5m]))', unit: "percentunit" },
    { title: "p95 latency by service", expr: "histogram_quantile(0.95, sum by (job, le) (rate(http_request_duration_seconds_bucket[5m])))", unit: "s" },
    { title: "Authentication failures per minute", expr: 'sum by (job) (rate(archon_auth_requests_total{status="failure"}[5m])) * 60' },
    { title: "Services up", expr: "up", unit: "short" },
    { title: "CPU busy by host", expr: '1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))', unit: "percentunit" },
    { title: "Memory used by host", expr: "1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes", unit: "percentunit" },
    { title: "Postgres connections", expr: "sum by (instance) (pg_stat_database_numbackends)", unit: "short" },
    { title: "archon-server errors (logs)", expr: '{app="archon-server"} |~ "(?i)error"', logs: true },
];

/** The dashboard JSON model (Grafana schema 39), two panels per row. */
export function archonDashboard(): Record<string, unknown> {
    return {
        uid: "archon-overview",
        title: "Archon overview",
        tags: ["archon"],
        timezone: "utc",
        schemaVersion: 39,
        version: 1,
        refresh: "30s",
        time: { from: "now-6h", to: "now" },
        panels: PANELS.map((panel, i) => {
            const datasource = panel.logs
                ? { type: "loki", uid: DATASOURCE_UIDS.loki }
                : { type: "prometheus", uid: DATASOURCE_UIDS.prometheus };
            return {
                id: i + 1,
                title: panel.title,
                type: panel.logs ? "logs" : "timeseries",
                datasource,
                gridPos: { h: 8, w: panel.logs ? 24 : 12, x: panel.logs ? 0 : (i % 2) * 12, y: Math.floor(i / 2) * 8 },
                targets: [{ refId: "A", datasource, expr: panel.expr }],
                ...(panel.unit ? { fieldConfig: { defaults: { unit: panel.unit }, overrides: [] } } : {}),
            };
        }),
    };
}

/** The dashboard as the file Grafana provisions. */
export function archonDashboardJson(): string {
    return JSON.stringify(archonDashboard(), null, 2) + "\n";
}
