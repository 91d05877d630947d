/**
 * Every third-party image the workloads run, pinned in one place, and referred to by the digest
 * image-digests.lock.json records for each pin (components/services/image-lock.ts; `image:tag`
 * alone while an entry is not resolved yet). The Supabase images are the set
 * Supabase's self-hosting docker-compose.yml pins together (supabase/supabase, docker/), so they are
 * upgraded together: change them here and nowhere else. The stack exports this table as
 * `componentVersions`. The ingress and monitoring charts and images follow; a bump there changes the
 * Helm release / the compose image and nothing else.
 */
import { IMAGE_LOCK_FILE, lockImages, readImageLock, tagOf } from "./image-lock";

/** The digest lock, read once. */
const LOCK = readImageLock(IMAGE_LOCK_FILE);

/** The pins as written: `image:tag`. */
const SUPABASE_PINS = {
    /** Postgres 15 with pgvector and the Supabase roles (supabase_admin, authenticator, anon, ...). */
    db: "supabase/postgres:15.8.1.085", // confirmed: supabase/supabase docker/docker-compose.yml (commit 00069a4c), search 2026
    /** PostgREST: /rest/v1 and /graphql/v1. */
    rest: "postgrest/postgrest:v14.5", // confirmed: supabase/supabase docker/docker-compose.yml (commit 00069a4c), search 2026
    /** GoTrue: /auth/v1. */
    auth: "supabase/gotrue:v2.186.0", // confirmed: supabase/supabase docker/docker-compose.yml (commit 00069a4c), search 2026
    /** Kong 2.8 in DB-less mode: the API gateway in front of rest, auth, meta and studio. */
    kong: "kong:2.8.1", // confirmed: supabase/supabase docker/docker-compose.yml (commit 00069a4c), search 2026
    /** postgres-meta: Studio's database API (/pg, admin only). */
    meta: "supabase/postgres-meta:v0.95.2", // confirmed: supabase/supabase docker/docker-compose.yml (commit 00069a4c), search 2026
    /** Supabase Studio, behind Kong's basic auth. */
    studio: "supabase/studio:2026.02.16-sha-26c615c", // confirmed: supabase/supabase docker/docker-compose.yml (commit 00069a4c), search 2026
} as const;

/** The Supabase images, `image:tag@sha256:...` where the lock has the digest. */
export const SUPABASE_IMAGES = lockImages(SUPABASE_PINS, LOCK);

export type SupabaseComponent = keyof typeof SUPABASE_PINS;

/** The version part of each pinned image, for the stack outputs. */
export function componentVersions(): Record<SupabaseComponent, string> {
    return Object.fromEntries(Object.entries(SUPABASE_PINS).map(([name, image]) => [name, tagOf(image)])) as Record<SupabaseComponent, string>;
}

/** Helm charts (repository + chart + version), installed as `kubernetes.helm.v3.Release`. */
export const CHARTS = {
    ingressNginx: { repo: "https://kubernetes.github.io/ingress-nginx", chart: "ingress-nginx", version: "4.13.2" }, // confirmed: k0rdent/catalog PR #745 "ingress-nginx: update to 4.13.2" (merged), public docs pinning INGRESS_NGINX_HELM_CHART_VERSION="4.13.2" and linking the helm-chart-4.13.2 tag's values.yaml, upstream changelog/helm-chart-4.13.2.md (search 2026); values controller.config / addHeaders / ingressClassResource.{name,default} / metrics.enabled are in the chart's values.yaml
    certManager: { repo: "https://charts.jetstack.io", chart: "cert-manager", version: "v1.18.2" }, // confirmed: cert-manager v1.18.2 release notes (search 2026); values use crds.enabled (v1.15+), prometheus.servicemonitor.{enabled,honorLabels} (templates/servicemonitor.yaml), config.featureGates (ACMEHTTP01IngressPathTypeExact exists since v1.18.1)
    kubePrometheusStack: { repo: "https://prometheus-community.github.io/helm-charts", chart: "kube-prometheus-stack", version: "79.5.0" }, // confirmed: chart 79.5.0 pinned in public helmfiles, bumped to 79.6.1 (search 2026); grafana.admin.{existingSecret,userKey,passwordKey} in the chart's Grafana values (defaults admin-user / admin-password)
    loki: { repo: "https://grafana.github.io/helm-charts", chart: "loki", version: "6.30.1" }, // confirmed: helm-loki-6.30.1 release asset URL referenced publicly (search 2026); values loki.limits_config / loki.compactor are copied into the config by the chart's loki.config template, singleBinary.persistence.storageClass becomes the volumeClaimTemplate's storageClassName (grafana/loki production/helm/loki)
    alloy: { repo: "https://grafana.github.io/helm-charts", chart: "alloy", version: "1.1.2" }, // confirmed: grafana/alloy chart CHANGELOG, 1.1.2 (2025-06-26); the pipeline goes in alloy.configMap.content (create: true)
} as const;

export type ChartName = keyof typeof CHARTS;

/** Container images of the Compose proxy and monitoring services, and the private registry. */
const SERVICE_PINS = {
    nginx: "nginx:1.28.0-alpine", // confirmed: public pins incl. digest nginx:1.28.0-alpine@sha256:30f1c0d7... (search 2026)
    certbot: "certbot/certbot:v4.1.1", // confirmed: public compose files and scripts pin certbot/certbot:v4.1.1 (search 2026)
    prometheus: "prom/prometheus:v3.7.3", // confirmed (public pins, search 2026)
    alertmanager: "prom/alertmanager:v0.29.0", // confirmed (public pins, search 2026)
    grafana: "grafana/grafana:12.2.1", // confirmed: public pins (compose, Dockerfile FROM docker.io/grafana/grafana:12.2.1) (search 2026)
    loki: "grafana/loki:3.5.7", // confirmed: public pins incl. digest grafana/loki:3.5.7@sha256:0eaee7bf... (search 2026)
    /** The Compose log agent; the same Alloy as production: v1.9.2 is the appVersion of the alloy chart 1.1.2 (CHARTS.alloy). */
    alloy: "grafana/alloy:v1.9.2", // confirmed: grafana/alloy tag helm-chart/1.1.2 operations/helm/charts/alloy/Chart.yaml appVersion 'v1.9.2'; tag v1.9.2 exists (fetched 2026)
    nodeExporter: "prom/node-exporter:v1.10.2", // confirmed (public pins, search 2026)
    cadvisor: "gcr.io/cadvisor/cadvisor:v0.52.1", // confirmed (public pins, search 2026)
    blackboxExporter: "prom/blackbox-exporter:v0.27.0", // confirmed: public pins incl. digest prom/blackbox-exporter:v0.27.0@sha256:a50c4c0e... (search 2026)
    postgresExporter: "quay.io/prometheuscommunity/postgres-exporter:v0.18.1", // confirmed (public pins, search 2026)
    /**
     * Optional OIDC login in front of Archon's UI (config `oidcIssuerUrl`, services/oauth2-proxy.ts).
     * The `-alpine` flavour: the default one is distroless (no shell, no wget), which leaves the
     * Compose healthcheck nothing to run. oauth2-proxy/oauth2-proxy v7.15.3 Makefile: `push-docker`
     * pushes `push-distroless` and `push-alpine`, the latter tagged `$(VERSION)-alpine` on
     * alpine:3.23.3 (busybox wget); CHANGELOG.md "# V7.15.3". The Dockerfile sets no USER, so the
     * catalog runs it as 65532 (distroless' nonroot uid, which the binary does not depend on).
     */
    oauth2Proxy: "quay.io/oauth2-proxy/oauth2-proxy:v7.15.3-alpine", // confirmed: tag v7.15.3 in oauth2-proxy/oauth2-proxy (fetched 2026) and public pins of quay.io/oauth2-proxy/oauth2-proxy:v7.15.3; the -alpine flavour of each release per the Makefile (public pin v7.11.0-alpine)
    /** The Compose project's one-shot that creates and chowns the data directories. */
    dataPermissions: "busybox:1.37.0", // confirmed: public pins incl. digest busybox:1.37.0@sha256:f10e809b... (search 2026)
    /** The private registry (CNCF distribution 2.8; components/registry/registry.ts). */
    registry: "registry:2.8.3", // confirmed: public pins incl. digest registry:2.8.3@sha256:a3d8aaa6... (search 2026)
} as const;

/** The service images, `image:tag@sha256:...` where the lock has the digest. */
export const IMAGES = lockImages(SERVICE_PINS, LOCK);

/** Images of the Postgres backups (components/backups). */
const BACKUP_PINS = {
    /** restic's official image: Alpine with the static binary at /usr/bin/restic (restic/restic docker/Dockerfile.release). */
    restic: "restic/restic:0.18.1", // confirmed: public compose files, scripts and Dockerfiles pin restic/restic:0.18.1 (search 2026)
} as const;

/** The backup images, `image:tag@sha256:...` where the lock has the digest. */
export const BACKUP_IMAGES = lockImages(BACKUP_PINS, LOCK);

/** Every third-party `image:tag` this file pins: what image-digests.lock.json must have an entry for. */
export const PINNED_IMAGES: readonly string[] = [...new Set([SUPABASE_PINS, SERVICE_PINS, BACKUP_PINS].flatMap((pins) => Object.values(pins)))].sort();
