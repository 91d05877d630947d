/**
 * The alert rules and Alertmanager routing shared by both targets: one data definition, rendered as
 * a PrometheusRule on Kubernetes and as a Prometheus rule file on Compose. Pure renderers, no
 * resources.
 */
import { stringify as toYaml } from "yaml";

export type Severity = "critical" | "warning";

/** One alerting rule. Every rule has a `for`, a severity and a summary (Alertmanager routes on severity). */
export interface AlertRule {
    alert: string;
    /** PromQL; the alert fires for every series it returns for `for`. */
    expr: string;
    /** Prometheus duration the condition must hold, e.g. `5m`. */
    for: string;
    severity: Severity;
    /** One line for the notification; may use `{{ $labels.x }}` and `{{ $value }}`. */
    summary: string;
    description?: string;
}

export interface AlertGroup {
    name: string;
    rules: AlertRule[];
}

/** Days before expiry at which a certificate alert fires (Let's Encrypt renews at 30 days left). */
export const CERTIFICATE_WARNING_DAYS = 14;

/**
 * The stack's alerts. Metric sources: `up` (every scrape), node-exporter (`node_*`), postgres-exporter
 * (`pg_*`), cert-manager (`certmanager_*`, Kubernetes) or blackbox-exporter (`probe_ssl_*`, Compose),
 * and the services' own HTTP metrics (`http_requests_total` / `http_request_duration_seconds`,
 * the FastAPI instrumentator's names) and `archon_auth_requests_total`.
 */
export const ALERT_GROUPS: AlertGroup[] = [
    {
        name: "archon-availability",
        rules: [
            {
                alert: "ServiceDown",
                expr: "up == 0",
                for: "2m",
                severity: "critical",
                summary: "{{ $labels.job }} on {{ $labels.instance }} is down",
            },
            {
                alert: "HighErrorRate",
                expr: 'sum by (job) (rate(http_requests_total{status=~"5.."}[5m])) / sum by (job) (rate(http_requests_total[5m])) > 0.05',
                for: "5m",
                severity: "critical",
                summary: "{{ $labels.job }} answers more than 5% of requests with 5xx ({{ $value | humanizePercentage }})",
            },
            {
                alert: "HighLatencyP95",
                expr: "histogram_quantile(0.95, sum by (job, le) (rate(http_request_duration_seconds_bucket[5m]))) > 2",
                for: "5m",
                severity: "warning",
                summary: "{{ $labels.job }} p95 latency is above 2 s ({{ $value | humanizeDuration }})",
            },
            {
                alert: "AuthFailuresHigh",
                expr: 'sum by (job) (rate(archon_auth_requests_total{status="failure"}[5m])) * 60 > 20',
                for: "5m",
                severity: "warning",
                summary: "{{ $labels.job }} rejects more than 20 authentication attempts per minute ({{ $value | humanize }})",
                description: "Many failed logins or API-key checks: a misconfigured client or someone guessing credentials.",
            },
        ],
    },
    {
        name: "archon-resources",
        rules: [
            {
                alert: "HostCpuHigh",
                expr: '(1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))) > 0.9',
                for: "10m",
                severity: "warning",
                summary: "CPU on {{ $labels.instance }} is above 90% ({{ $value | humanizePercentage }})",
            },
            {
                alert: "HostMemoryHigh",
                expr: "(1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes) > 0.9",
                for: "10m",
                severity: "warning",
                summary: "Memory on {{ $labels.instance }} is above 90% ({{ $value | humanizePercentage }})",
            },
            {
                alert: "HostDiskFull",
                expr: '(1 - node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"} / node_filesystem_size_bytes{fstype!~"tmpfs|overlay|squashfs"}) > 0.9',
                for: "10m",
                severity: "critical",
                summary: "Filesystem {{ $labels.mountpoint }} on {{ $labels.instance }} is above 90% full",
            },
        ],
    },
    {
        name: "archon-postgres",
        rules: [
            {
                alert: "PostgresDown",
                expr: "pg_up == 0",
                for: "1m",
                severity: "critical",
                summary: "Postgres behind {{ $labels.instance }} does not answer",
            },
            {
                alert: "PostgresConnectionsNearMax",
                expr: "sum by (instance) (pg_stat_database_numbackends) / max by (instance) (pg_settings_max_connections) > 0.9",
                for: "5m",
                severity: "warning",
                summary: "Postgres on {{ $labels.instance }} uses more than 90% of max_connections",
            },
        ],
    },
    {
        name: "archon-certificates",
        rules: [
            {
                alert: "CertificateExpiringSoon",
                expr: `(min by (name, namespace) (certmanager_certificate_expiration_timestamp_seconds) - time()) < ${CERTIFICATE_WARNING_DAYS} * 86400`
                    + ` or (min by (instance) (probe_ssl_earliest_cert_expiry) - time()) < ${CERTIFICATE_WARNING_DAYS} * 86400`,
                for: "1h",
                severity: "warning",
                summary: `The TLS certificate {{ $labels.name }}{{ $labels.instance }} expires in less than ${CERTIFICATE_WARNING_DAYS} days: renewal is failing`,
            },
        ],
    },
];

/** The `groups` of a Prometheus rule file / a PrometheusRule spec. */
export function prometheusRuleGroups(groups: AlertGroup[] = ALERT_GROUPS): { name: string; rules: Record<string, unknown>[] }[] {
    return groups.map((group) => ({
        name: group.name,
        rules: group.rules.map((rule) => ({
            alert: rule.alert,
            expr: rule.expr,
            for: rule.for,
            labels: { severity: rule.severity },
            annotations: { summary: rule.summary, ...(rule.description ? { description: rule.description } : {}) },
        })),
    }));
}

/** A Prometheus rule file (Compose). */
export function renderRuleFile(groups: AlertGroup[] = ALERT_GROUPS): string {
    return toYaml({ groups: prometheusRuleGroups(groups) }, { lineWidth: 0 });
}

export interface AlertmanagerConfigArgs {
    /** Webhook that receives every alert (a secret). When unset, alerts go to the `null` receiver. */
    webhookUrl?: string;
}

/**
 * The Alertmanager configuration: routes by severity (critical repeats every hour, warning every
 * 12 h) to the webhook when one is set, otherwise to a receiver that drops them. Holds the webhook
 * URL when set, so then it is a secret file / Kubernetes Secret.
 */
export function renderAlertmanagerConfig(args: AlertmanagerConfigArgs): string {
    const receiver = args.webhookUrl ? "webhook" : "null";
    const receivers: Record<string, unknown>[] = [{ name: "null" }];
    if (args.webhookUrl) receivers.push({ name: "webhook", webhook_configs: [{ url: args.webhookUrl, send_resolved: true }] });
    const config = {
        route: {
            receiver,
            group_by: ["alertname", "job"],
            group_wait: "30s",
            group_interval: "5m",
            repeat_interval: "12h",
            routes: [
                // The Watchdog and InfoInhibitor alerts of kube-prometheus-stack are heartbeats, not news.
                { receiver: "null", matchers: ['alertname=~"Watchdog|InfoInhibitor"'] },
                { receiver, matchers: ['severity="critical"'], repeat_interval: "1h" },
                { receiver, matchers: ['severity="warning"'], repeat_interval: "12h" },
            ],
        },
        inhibit_rules: [
            { source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: ["alertname", "instance"] },
        ],
        receivers,
    };
    return toYaml(config, { lineWidth: 0 });
}
