/**
 * Every third-party image the workloads run, pinned in one place. The Supabase images are the set
 * Supabase's self-hosting docker-compose.yml pins together (supabase/supabase, docker/), so they are
 * upgraded together: change them here and nowhere else. The stack exports this table as
 * `componentVersions`. The ingress and monitoring charts and images follow; a bump there changes the
 * Helm release / the compose image and nothing else.
 */
export const SUPABASE_IMAGES = {
    /** Postgres 15 with pgvector and the Supabase roles (supabase_admin, authenticator, anon, ...). */
    db: "supabase/postgres:15.8.1.085",
    /** PostgREST: /rest/v1 and /graphql/v1. */
    rest: "postgrest/postgrest:v14.5",
    /** GoTrue: /auth/v1. */
    auth: "supabase/gotrue:v2.186.0",
    /** Kong 2.8 in DB-less mode: the API gateway in front of rest, auth, meta and studio. */
    kong: "kong:2.8.1",
    /** postgres-meta: Studio's database API (/pg, admin only). */
    meta: "supabase/postgres-meta:v0.95.2",
    /** Supabase Studio, behind Kong's basic auth. */
    studio: "supabase/studio:2026.02.16-sha-26c615c",
} as const;

export type SupabaseComponent = keyof typeof SUPABASE_IMAGES;

/** The version part of each pinned image, for the stack outputs. */
export function componentVersions(): Record<SupabaseComponent, string> {
    return Object.fromEntries(
        Object.entries(SUPABASE_IMAGES).map(([name, image]) => [name, image.slice(image.lastIndexOf(":") + 1)]),
    ) as Record<SupabaseComponent, string>;
}

/** Helm charts (repository + chart + version), installed as `kubernetes.helm.v3.Release`. */
export const CHARTS = {
    ingressNginx: { repo: "https://kubernetes.github.io/ingress-nginx", chart: "ingress-nginx", version: "4.13.2" },
    certManager: { repo: "https://charts.jetstack.io", chart: "cert-manager", version: "v1.18.2" },
    kubePrometheusStack: { repo: "https://prometheus-community.github.io/helm-charts", chart: "kube-prometheus-stack", version: "79.5.0" },
    loki: { repo: "https://grafana.github.io/helm-charts", chart: "loki", version: "6.30.1" },
    alloy: { repo: "https://grafana.github.io/helm-charts", chart: "alloy", version: "1.1.2" },
} as const;

export type ChartName = keyof typeof CHARTS;

/** Container images of the Compose proxy and monitoring services. */
export const IMAGES = {
    nginx: "nginx:1.28.0-alpine",
    certbot: "certbot/certbot:v4.1.1",
    prometheus: "prom/prometheus:v3.7.3",
    alertmanager: "prom/alertmanager:v0.29.0",
    grafana: "grafana/grafana:12.2.1",
    loki: "grafana/loki:3.5.7",
    promtail: "grafana/promtail:3.5.7",
    nodeExporter: "prom/node-exporter:v1.10.2",
    cadvisor: "gcr.io/cadvisor/cadvisor:v0.52.1",
    blackboxExporter: "prom/blackbox-exporter:v0.27.0",
    postgresExporter: "quay.io/prometheuscommunity/postgres-exporter:v0.18.1",
    /** The Compose project's one-shot that creates and chowns the data directories. */
    dataPermissions: "busybox:1.37.0",
} as const;
