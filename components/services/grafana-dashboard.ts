/**
 * The Archon Grafana dashboard and the datasource identities it refers to, shared by both targets
 * (a provisioned file on Compose, a ConfigMap with the `grafana_dashboard` label on Kubernetes).
 */
import { AlertProfile, ingressQueries } from "./alert-rules";

/** Datasource UIDs the dashboard refers to; both targets provision datasources with these UIDs. */
export const DATASOURCE_UIDS = { prometheus: "prometheus", loki: "loki" } as const;

interface Panel {
    title: string;
    /** PromQL, or LogQL for a logs panel. */
    expr: string;
    unit?: string;
    logs?: boolean;
}

/**
 * The panels of a stack: the request panels read the same ingress series as the alert rules
 * (ingressQueries), so the dashboard shows what the alerts see. Every panel has data on a fresh
 * stack: the public-URL probes alone send requests through the ingress, and series that exist only
 * once something fails (5xx, 401/403) fall back to 0.
 */
function panels(profile: AlertProfile): Panel[] {
    const ingress = profile.ingress;
    return [
        ...(ingress ? [
            { title: "Requests per second by host and service (ingress)", expr: ingressQueries.requestRate(ingress), unit: "reqps" },
            { title: "5xx ratio by host and service (ingress)", expr: `(${ingressQueries.errorRate(ingress)} or ${ingressQueries.requestRate(ingress)} * 0) / ${ingressQueries.requestRate(ingress)}`, unit: "percentunit" },
            { title: "p95 latency by host and service (ingress)", expr: ingressQueries.p95(ingress), unit: "s" },
            { title: "Supabase 401/403 answers per minute (ingress)", expr: `${ingressQueries.authFailuresPerMinute(ingress)} or vector(0)` },
        ] : []),
        { title: "Probes succeeding (blackbox-exporter)", expr: "probe_success", unit: "short" },
        { title: "Scrape targets up", expr: "up", unit: "short" },
        { title: "CPU busy by host", expr: '1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))', unit: "percentunit" },
        { title: "Memory used by host", expr: "1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes", unit: "percentunit" },
        { title: "Postgres connections", expr: "sum by (instance) (pg_stat_database_numbackends)", unit: "short" },
        { title: "archon-server errors (logs)", expr: '{app="archon-server"} |~ "(?i)error"', logs: true },
    ];
}

/** The dashboard JSON model (Grafana schema 39), two panels per row. */
export function archonDashboard(profile: AlertProfile): Record<string, unknown> {
    return {
        uid: "archon-overview",
        title: "Archon overview",
        tags: ["archon"],
        timezone: "utc",
        schemaVersion: 39,
        version: 1,
        refresh: "30s",
        time: { from: "now-6h", to: "now" },
        panels: panels(profile).map((panel, i) => {
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
export function archonDashboardJson(profile: AlertProfile): string {
    return JSON.stringify(archonDashboard(profile), null, 2) + "\n";
}
