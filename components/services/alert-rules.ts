/**
 * The alert rules and Alertmanager routing shared by both targets: one data definition, rendered as
 * a PrometheusRule on Kubernetes and as a Prometheus rule file on Compose. Pure renderers, no
 * resources.
 */
import * as pulumi from "@pulumi/pulumi";
import { stringify as toYaml } from "yaml";
import { Producer } from "./metric-sources";

/**
 * critical pages (repeated hourly), warning notifies (every 12 h), info only alongside a warning or
 * critical of the same namespace (InfoInhibitor), none is a heartbeat (Watchdog, InfoInhibitor).
 */
export type Severity = "critical" | "warning" | "info" | "none";

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
    /** The components whose metrics `expr` reads (see metric-sources.ts): what must run for the rule to be able to fire. */
    producers: Producer[];
}

export interface AlertGroup {
    name: string;
    rules: AlertRule[];
}

/** Days before expiry at which a certificate alert fires (Let's Encrypt renews at 30 days left). */
export const CERTIFICATE_WARNING_DAYS = 14;

/**
 * Hours after which the last successful Postgres backup is stale: the backup runs daily (issue 14),
 * so 26 h leaves two hours for a slow run before anyone is told.
 */
export const BACKUP_MAX_AGE_HOURS = 26;

/**
 * The request metrics of a stack's ingress, per public host and service. Each ingress names its
 * counter, histogram and labels differently; the rules and the dashboard are written once over this.
 */
export interface IngressSignals {
    /** The component exporting the two metrics. */
    producer: Producer;
    /** Counter of answered requests, with the status code in {@link statusLabel}. */
    requests: string;
    /** The request-duration histogram's `_bucket` series (seconds). */
    durationBucket: string;
    /** Label holding the HTTP status code (`status` or Traefik's `code`). */
    statusLabel: string;
    /** Labels that identify host and service on this ingress. */
    groupBy: string[];
    /** Label matcher selecting the requests of the Supabase host (Kong's answers). */
    supabaseMatcher: string;
}

/**
 * Compose: nginx's JSON access log, turned into metrics by Alloy's loki.process `stage.metrics`
 * (components/compose/logs.ts); Alloy prefixes such metrics with `loki_process_custom_`.
 */
export function composeIngressSignals(supabaseHost: string): IngressSignals {
    return {
        producer: "alloy",
        requests: "loki_process_custom_nginx_http_requests_total",
        durationBucket: "loki_process_custom_nginx_http_request_duration_seconds_bucket",
        statusLabel: "status",
        groupBy: ["host", "service"],
        supabaseMatcher: `host="${supabaseHost}"`,
    };
}

/**
 * k3s's Traefik: router metrics (router = `<namespace>-<ingress>-<host>-<path>@kubernetes`, so one
 * per public host and path; service = `<namespace>-<service>-<port>@kubernetes`), as named by
 * traefik/traefik pkg/metrics/prometheus.go and pkg/provider/kubernetes/ingress/kubernetes.go.
 * `supabaseRouterPrefix` is the router name of the Supabase host's Ingress without its path part.
 */
export function traefikIngressSignals(supabaseRouterPrefix: string): IngressSignals {
    return {
        producer: "traefik",
        requests: "traefik_router_requests_total",
        durationBucket: "traefik_router_request_duration_seconds_bucket",
        statusLabel: "code",
        groupBy: ["router", "service"],
        supabaseMatcher: `router=~"${supabaseRouterPrefix}.*"`,
    };
}

/** ingress-nginx's controller metrics (labels host, service, status, ...). */
export function ingressNginxSignals(supabaseHost: string): IngressSignals {
    return {
        producer: "ingress-nginx",
        requests: "nginx_ingress_controller_requests",
        durationBucket: "nginx_ingress_controller_request_duration_seconds_bucket",
        statusLabel: "status",
        groupBy: ["host", "service"],
        supabaseMatcher: `host="${supabaseHost}"`,
    };
}

/** PromQL over the ingress signals, shared by the rules and the dashboard so both read the same series. */
export const ingressQueries = {
    requestRate: (s: IngressSignals) => `sum by (${s.groupBy.join(", ")}) (rate(${s.requests}[5m]))`,
    errorRate: (s: IngressSignals) => `sum by (${s.groupBy.join(", ")}) (rate(${s.requests}{${s.statusLabel}=~"5.."}[5m]))`,
    errorRatio: (s: IngressSignals) => `${ingressQueries.errorRate(s)} / ${ingressQueries.requestRate(s)}`,
    p95: (s: IngressSignals) => `histogram_quantile(0.95, sum by (${[...s.groupBy, "le"].join(", ")}) (rate(${s.durationBucket}[5m])))`,
    authFailuresPerMinute: (s: IngressSignals) => `sum(rate(${s.requests}{${s.supabaseMatcher}, ${s.statusLabel}=~"401|403"}[5m])) * 60`,
};

/** Where the backup freshness signal comes from (agreed with the backups issue). */
export interface BackupSignal {
    producer: Producer;
    /** Series whose value is the Unix time of the last successful backup. */
    lastSuccess: string;
}

/** Compose: the backup service's node-exporter textfile metric. */
export const COMPOSE_BACKUP_SIGNAL: BackupSignal = { producer: "node-exporter-textfile", lastSuccess: "archon_postgres_backup_last_success_timestamp_seconds" };
/** Kubernetes: kube-state-metrics on the CronJob `postgres-backup`. */
export const KUBERNETES_BACKUP_SIGNAL: BackupSignal = { producer: "kube-state-metrics", lastSuccess: 'kube_cronjob_status_last_successful_time{cronjob="postgres-backup"}' };

/** What a stack's Prometheus can see; selects the rules' metric names. */
export interface AlertProfile {
    /** The ingress's request metrics; unset where the ingress exports none Prometheus scrapes (then the request alerts are not rendered). */
    ingress?: IngressSignals;
    backup: BackupSignal;
    /** Certificate expiry: blackbox-exporter's probes of the public URLs, and cert-manager's metric where it runs. */
    certManager: boolean;
    /**
     * Render Watchdog and InfoInhibitor (Compose). kube-prometheus-stack ships both in its default
     * `general.rules` (prometheus-community/helm-charts kube-prometheus-stack-79.5.0,
     * templates/prometheus/rules-1.14/general.rules.yaml), so Kubernetes leaves this off.
     */
    heartbeat?: boolean;
}

const hours = (h: number) => h * 3600;

/** The stack's alerts. Each rule's `producers` names the components its metrics come from. */
export function alertGroups(profile: AlertProfile): AlertGroup[] {
    const ingress = profile.ingress;
    const where = ingress ? ingress.groupBy.map((l) => `{{ $labels.${l} }}`).join(" ") : "";
    const backupAge = `time() - max(${profile.backup.lastSuccess})`;
    const backupName = profile.backup.lastSuccess.replace(/\{.*$/, "");
    const certificateExpiry = [
        ...(profile.certManager ? [`(min by (name, namespace) (certmanager_certificate_expiration_timestamp_seconds) - time()) < ${CERTIFICATE_WARNING_DAYS} * 86400`] : []),
        `(min by (instance) (probe_ssl_earliest_cert_expiry) - time()) < ${CERTIFICATE_WARNING_DAYS} * 86400`,
    ].join(" or ");
    return [
        {
            name: "archon-availability",
            rules: [
                {
                    alert: "ServiceDown",
                    expr: "up == 0",
                    for: "2m",
                    severity: "critical",
                    summary: "{{ $labels.job }} on {{ $labels.instance }} is down",
                    description: "Prometheus cannot scrape this target. Only components that serve /metrics are scraped (Archon serves none): Archon's own liveness is EndpointDown.",
                    producers: ["prometheus"],
                },
                {
                    alert: "EndpointDown",
                    expr: "probe_success == 0",
                    for: "2m",
                    severity: "critical",
                    summary: "{{ $labels.instance }} fails its {{ $labels.job }} probe",
                    description: "blackbox-exporter cannot get a healthy answer: Archon's /health, MCP's port, the UI, Kong, PostgREST, GoTrue inside the network, or a public URL through the ingress.",
                    producers: ["blackbox-exporter"],
                },
                ...(ingress ? [
                    {
                        alert: "HighErrorRate",
                        expr: `${ingressQueries.errorRatio(ingress)} > 0.05`,
                        for: "5m",
                        severity: "critical" as const,
                        summary: `${where} answers more than 5% of requests with 5xx ({{ $value | humanizePercentage }})`,
                        description: `Measured at the ingress (${ingress.producer}), per public host and service.`,
                        producers: [ingress.producer],
                    },
                    {
                        alert: "HighLatencyP95",
                        expr: `${ingressQueries.p95(ingress)} > 2`,
                        for: "5m",
                        severity: "warning" as const,
                        summary: `${where} p95 latency is above 2 s ({{ $value | humanizeDuration }})`,
                        description: `Request duration measured at the ingress (${ingress.producer}), per public host and service.`,
                        producers: [ingress.producer],
                    },
                    {
                        alert: "AuthFailuresHigh",
                        expr: `${ingressQueries.authFailuresPerMinute(ingress)} > 20`,
                        for: "5m",
                        severity: "warning" as const,
                        summary: "The Supabase host answers more than 20 requests per minute with 401/403 ({{ $value | humanize }})",
                        description: `Counted at the ingress (${ingress.producer}): Kong's 401/403 answers on the Supabase host, i.e. requests with a missing or wrong API key or JWT. A misconfigured client or someone guessing credentials.`,
                        producers: [ingress.producer],
                    },
                ] : []),
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
                    producers: ["node-exporter"],
                },
                {
                    alert: "HostMemoryHigh",
                    expr: "(1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes) > 0.9",
                    for: "10m",
                    severity: "warning",
                    summary: "Memory on {{ $labels.instance }} is above 90% ({{ $value | humanizePercentage }})",
                    producers: ["node-exporter"],
                },
                {
                    alert: "HostDiskFull",
                    expr: '(1 - node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"} / node_filesystem_size_bytes{fstype!~"tmpfs|overlay|squashfs"}) > 0.9',
                    for: "10m",
                    severity: "critical",
                    summary: "Filesystem {{ $labels.mountpoint }} on {{ $labels.instance }} is above 90% full",
                    producers: ["node-exporter"],
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
                    producers: ["postgres-exporter"],
                },
                {
                    alert: "PostgresConnectionsNearMax",
                    expr: "sum by (instance) (pg_stat_database_numbackends) / max by (instance) (pg_settings_max_connections) > 0.9",
                    for: "5m",
                    severity: "warning",
                    summary: "Postgres on {{ $labels.instance }} uses more than 90% of max_connections",
                    producers: ["postgres-exporter"],
                },
                {
                    alert: "PostgresBackupStale",
                    // No backup ever recorded counts too, once Prometheus has held data for longer than the allowance
                    // (so a freshly deployed stack gets a day to run its first backup).
                    expr: `${backupAge} > ${hours(BACKUP_MAX_AGE_HOURS)}`
                        + ` or (absent(${profile.backup.lastSuccess}) and on() (time() - min(prometheus_tsdb_lowest_timestamp_seconds)) > ${hours(BACKUP_MAX_AGE_HOURS)})`,
                    for: "15m",
                    severity: "critical",
                    summary: `The last successful Postgres backup is older than ${BACKUP_MAX_AGE_HOURS} h, or there is none`,
                    description: `From ${backupName} (${profile.backup.producer}); the backup runs daily.`,
                    producers: [profile.backup.producer, "prometheus"],
                },
            ],
        },
        ...(profile.heartbeat ? [heartbeatGroup()] : []),
        {
            name: "archon-certificates",
            rules: [
                {
                    alert: "CertificateExpiringSoon",
                    expr: certificateExpiry,
                    for: "1h",
                    severity: "warning",
                    summary: `The TLS certificate {{ $labels.name }}{{ $labels.instance }} expires in less than ${CERTIFICATE_WARNING_DAYS} days: renewal is failing`,
                    producers: [...(profile.certManager ? ["cert-manager" as const] : []), "blackbox-exporter"],
                },
            ],
        },
    ];
}

/**
 * Watchdog (always firing: Alertmanager sends it to the dead man's switch, whose silence means the
 * host, Prometheus or Alertmanager is down) and InfoInhibitor (firing while an info alert fires
 * without a warning or critical in its namespace; Alertmanager inhibits info alerts with it), as
 * kube-prometheus-stack's general.rules define them (expr, severity none).
 */
export function heartbeatGroup(): AlertGroup {
    return {
        name: "archon-heartbeat",
        rules: [
            {
                alert: "Watchdog",
                expr: "vector(1)",
                for: "0m",
                severity: "none",
                summary: "Always firing: proves the alerting pipeline works (routed to the dead man's switch)",
                description: "Prometheus evaluates rules and Alertmanager delivers: its absence at the dead man's switch (config alertDeadMansSwitchUrl) pages.",
                producers: ["prometheus"],
            },
            {
                alert: "InfoInhibitor",
                expr: 'ALERTS{severity = "info"} == 1 unless on (namespace) ALERTS{alertname != "InfoInhibitor", severity =~ "warning|critical", alertstate="firing"} == 1',
                for: "0m",
                severity: "none",
                summary: "Info-level alert inhibition: info alerts alone are not sent",
                description: "Fires while an info alert fires without a warning or critical in its namespace; Alertmanager routes it nowhere and inhibits those info alerts with it.",
                producers: ["prometheus"],
            },
        ],
    };
}

/** The `groups` of a Prometheus rule file / a PrometheusRule spec. */
export function prometheusRuleGroups(groups: AlertGroup[]): { name: string; rules: Record<string, unknown>[] }[] {
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
export function renderRuleFile(groups: AlertGroup[]): string {
    return toYaml({ groups: prometheusRuleGroups(groups) }, { lineWidth: 0 });
}

/**
 * Where alerts go (config `alert*`; README "Alerting"). Secret values as plain text: the rendered
 * configuration is a secret file / Kubernetes Secret whenever it holds one.
 */
export interface AlertReceivers {
    /** A generic webhook (config `alertWebhookUrl`): Alertmanager's JSON payload, resolved alerts too. */
    webhookUrl?: string;
    /** A Slack incoming webhook (config `alertSlackWebhookUrl`, `alertSlackChannel`); Slack-compatible chats take the same. */
    slack?: { webhookUrl: string; channel?: string };
    /** E-mail (config `alertEmailTo`) through the stack's SMTP server (config `smtp*`). */
    email?: { to: string[]; from: string; smarthost: string; username?: string; password?: string };
    /**
     * The dead man's switch (config `alertDeadMansSwitchUrl`): Watchdog is sent there every few
     * minutes, and the service pages when it stops (healthchecks.io, Dead Man's Snitch, Cronitor...).
     */
    deadMansSwitchUrl?: string;
}

/** As {@link AlertReceivers}, the SMTP password as the Pulumi secret config gives it. */
export type AlertReceiversInput = Omit<AlertReceivers, "email"> & { email?: Omit<NonNullable<AlertReceivers["email"]>, "password"> & { password?: pulumi.Input<string> } };

/** The receivers that reach a person (the dead man's switch aside). */
export function configuredReceivers(r: { webhookUrl?: string; slack?: unknown; email?: unknown }): string[] {
    return [...(r.slack ? ["slack"] : []), ...(r.email ? ["email"] : []), ...(r.webhookUrl ? ["webhook"] : [])];
}

/**
 * What is missing for alerts to reach a person, one phrase each; empty when a receiver and the
 * dead man's switch are set. The program warns with it (production: at every preview, synth too).
 */
export function alertingGaps(r: AlertReceiversInput): string[] {
    return [
        ...(configuredReceivers(r).length === 0 ? ["no alert receiver (alertSlackWebhookUrl, alertEmailTo or alertWebhookUrl): every alert is dropped"] : []),
        ...(r.deadMansSwitchUrl ? [] : ["no dead man's switch (alertDeadMansSwitchUrl): a dead host or cluster sends nothing, and nobody notices"]),
    ];
}

/** The `alerting` stack output: where alerts go, no URLs. */
export function alertingRecord(r: AlertReceiversInput): Record<string, unknown> {
    return {
        receivers: configuredReceivers(r),
        deadMansSwitch: r.deadMansSwitchUrl ? `Watchdog every ${DEAD_MANS_SWITCH_INTERVAL}` : null,
        gaps: alertingGaps(r),
    };
}

/** How often Watchdog reaches the dead man's switch: set the switch to expect a ping this often, with a grace period. */
export const DEAD_MANS_SWITCH_INTERVAL = "5m";

/**
 * The Alertmanager configuration (valid for Alertmanager 0.25, Debian's, and 0.29, the image's):
 * - `oncall` holds every configured integration (Slack, e-mail, webhook); with none, alerts go to
 *   `null` and the program warns (production loudly). critical repeats every hour, warning and info
 *   every 12 h.
 * - Watchdog goes to `deadmansswitch` every {@link DEAD_MANS_SWITCH_INTERVAL} (`null` without one);
 *   InfoInhibitor to `null`.
 * - Inhibition as kube-prometheus-stack's defaults (values.yaml `alertmanager.config`): critical
 *   mutes warning and info of the same alert and namespace, warning mutes info, InfoInhibitor mutes
 *   the info alerts of its namespace (so info is sent only beside a warning or critical).
 */
export function renderAlertmanagerConfig(args: AlertReceivers): string {
    const receivers: Record<string, unknown>[] = [{ name: "null" }];
    const oncall = configuredReceivers(args).length > 0;
    if (oncall) {
        receivers.push({
            name: "oncall",
            ...(args.slack ? { slack_configs: [{ api_url: args.slack.webhookUrl, ...(args.slack.channel ? { channel: args.slack.channel } : {}), send_resolved: true }] } : {}),
            ...(args.email ? {
                email_configs: [{
                    to: args.email.to.join(", "),
                    from: args.email.from,
                    smarthost: args.email.smarthost,
                    ...(args.email.username ? { auth_username: args.email.username } : {}),
                    ...(args.email.password ? { auth_password: args.email.password } : {}),
                    send_resolved: true,
                }],
            } : {}),
            ...(args.webhookUrl ? { webhook_configs: [{ url: args.webhookUrl, send_resolved: true }] } : {}),
        });
    }
    if (args.deadMansSwitchUrl) receivers.push({ name: "deadmansswitch", webhook_configs: [{ url: args.deadMansSwitchUrl, send_resolved: false }] });
    const receiver = oncall ? "oncall" : "null";
    const config = {
        route: {
            receiver,
            group_by: ["alertname", "job", "namespace"],
            group_wait: "30s",
            group_interval: "5m",
            repeat_interval: "12h",
            routes: [
                { receiver: args.deadMansSwitchUrl ? "deadmansswitch" : "null", matchers: ['alertname="Watchdog"'], group_wait: "0s", group_interval: "1m", repeat_interval: DEAD_MANS_SWITCH_INTERVAL },
                { receiver: "null", matchers: ['alertname="InfoInhibitor"'] },
                { receiver, matchers: ['severity="critical"'], repeat_interval: "1h" },
                { receiver, matchers: ['severity=~"warning|info"'], repeat_interval: "12h" },
            ],
        },
        inhibit_rules: [
            { source_matchers: ['severity="critical"'], target_matchers: ['severity=~"warning|info"'], equal: ["namespace", "alertname"] },
            { source_matchers: ['severity="warning"'], target_matchers: ['severity="info"'], equal: ["namespace", "alertname"] },
            { source_matchers: ['alertname="InfoInhibitor"'], target_matchers: ['severity="info"'], equal: ["namespace"] },
        ],
        receivers,
    };
    return toYaml(config, { lineWidth: 0 });
}

/** The configuration with the SMTP password resolved; a Pulumi secret whenever it holds a URL or password. */
export function alertmanagerConfig(args: AlertReceiversInput): pulumi.Output<string> {
    const text = pulumi.output(args.email?.password).apply((password) =>
        renderAlertmanagerConfig({ ...args, email: args.email ? { ...args.email, password } : undefined }));
    return holdsSecrets(args) ? pulumi.secret(text) : text;
}

/** True when the configuration holds a webhook URL, a Slack URL, a switch URL or an SMTP password. */
export function holdsSecrets(args: AlertReceiversInput): boolean {
    return Boolean(args.webhookUrl || args.slack || args.deadMansSwitchUrl || args.email?.password);
}
