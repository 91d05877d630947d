/**
 * Every pinned chart and image version of the ingress and monitoring stacks, in one place. Bump a
 * version here and nowhere else; a bump changes the Helm release / the compose image and nothing else.
 */

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
} as const;
