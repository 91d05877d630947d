/**
 * Monitoring on the Kubernetes targets: kube-prometheus-stack (Prometheus, Alertmanager, Grafana,
 * node-exporter, kube-state-metrics), Loki (single binary) and Grafana Alloy shipping every pod's
 * logs, as pinned Helm releases with persistent storage and retention; the stack's alert rules as a
 * PrometheusRule, ServiceMonitors for the exporters that serve /metrics (never Archon, which serves
 * none), blackbox Probes (Archon and Supabase liveness inside the cluster, the public URLs), the
 * bundled Traefik's metrics when k3s runs it, the Loki datasource and the Archon dashboard.
 * Grafana's admin password and the Alertmanager configuration live in Kubernetes Secrets, never in
 * Helm values.
 */
import * as kubernetes from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { AlertProfile, AlertReceiversInput, alertGroups, alertmanagerConfig, prometheusRuleGroups } from "../services/alert-rules";
import { BLACKBOX_EXPORTER_PORT, BLACKBOX_MODULES, ProbeTarget } from "../services/exporters";
import { hostRoutes } from "../services/routes";
import { ServiceSpec } from "../services/catalog";
import { metricsPort } from "../compose/monitoring";
import { DATASOURCE_UIDS, archonDashboardJson } from "../services/grafana-dashboard";
import { K3S_TRAEFIK, Manifest, NamespaceMap, RoutedService, namespaceOf } from "./ingress";
import { CHARTS, IMAGES } from "../services/versions";
import { GRAFANA_ADMIN_PASSWORD_SCRIPT, passwordChecksum } from "../secrets/grafana-admin";

export const MONITORING_NAMESPACE = "monitoring";
const LOKI_URL = `http://loki.${MONITORING_NAMESPACE}.svc.cluster.local:3100`;
const GRAFANA_ADMIN_SECRET = "grafana-admin";
const ALERTMANAGER_SECRET = "alertmanager-archon-config";

/**
 * Alloy configuration: the logs of the pods on Alloy's own node, through the Kubernetes API,
 * labelled, to Loki. The chart runs Alloy as a DaemonSet without clustering (grafana/alloy
 * helm-chart/1.1.2 operations/helm/charts/alloy/values.yaml: `controller.type: daemonset`,
 * `alloy.clustering.enabled: false`), so without the node selector every replica would tail every
 * pod and Loki would get each line once per node. The chart sets HOSTNAME to the pod's
 * `spec.nodeName` (templates/containers/_agent.yaml); the selector is the one Alloy documents for
 * this (grafana/alloy v1.9.2, the chart's appVersion, docs/sources/reference/components/discovery/
 * discovery.kubernetes.md, "limit to only pods on the same node").
 */
export function renderAlloyConfig(lokiUrl: string): string {
    return [
        'discovery.kubernetes "pods" {',
        '  role = "pod"',
        "  selectors {",
        '    role  = "pod"',
        '    field = "spec.nodeName=" + coalesce(sys.env("HOSTNAME"), constants.hostname)',
        "  }",
        "}",
        "",
        'discovery.relabel "pods" {',
        "  targets = discovery.kubernetes.pods.targets",
        '  rule {\n    source_labels = ["__meta_kubernetes_namespace"]\n    target_label  = "namespace"\n  }',
        '  rule {\n    source_labels = ["__meta_kubernetes_pod_name"]\n    target_label  = "pod"\n  }',
        '  rule {\n    source_labels = ["__meta_kubernetes_pod_container_name"]\n    target_label  = "container"\n  }',
        '  rule {\n    source_labels = ["__meta_kubernetes_pod_label_app_kubernetes_io_name"]\n    target_label  = "app"\n  }',
        "}",
        "",
        'loki.source.kubernetes "pods" {',
        "  targets    = discovery.relabel.pods.output",
        "  forward_to = [loki.write.default.receiver]",
        "}",
        "",
        'loki.write "default" {',
        `  endpoint {\n    url = "${lokiUrl}/loki/api/v1/push"\n  }`,
        "}",
        "",
    ].join("\n");
}

/** The tag of an image reference (`busybox:1.37.0@sha256:...` -> `1.37.0`). */
function imageTag(image: string): string {
    const tag = /^[^@]*:([^:@/]+)(@|$)/.exec(image)?.[1];
    if (!tag) throw new Error(`image ${image} has no tag`);
    return tag;
}

export interface KubernetesMonitoringArgs {
    /** `Platform.kubernetesProvider`. */
    provider: kubernetes.Provider;
    /** Config `domain`; Grafana serves at grafana.<domain>. */
    domain: string;
    /** The catalog; the ServiceMonitor takes archon-server's metrics port name from it. */
    services: ServiceSpec[];
    /** `Secrets.grafanaPassword`. */
    grafanaPassword: pulumi.Input<string>;
    /** Where Alertmanager sends alerts (config `alert*`); none = the null receiver. */
    alerting?: AlertReceiversInput;
    /** Config `metricsRetentionDays`. */
    metricsRetentionDays: number;
    /** Config `logsRetentionDays`. */
    logsRetentionDays: number;
    /** Namespace per service group (as the workloads use). */
    namespaces?: NamespaceMap;
    /** Volume sizes in GB. Defaults: Prometheus 20, Loki 20, Grafana 5, Alertmanager 2. */
    storageGb?: { prometheus?: number; loki?: number; grafana?: number; alertmanager?: number };
    /** Services with a ServiceMonitor (job label = the service name, as on Compose); each must serve /metrics on its {@link metricsPort}. Default none. */
    metricsServices?: string[];
    /** Which metrics the alert rules and the dashboard read (ingress, backup signal). */
    alertProfile: AlertProfile;
    /** Where blackbox-exporter runs (the Probes' prober), and what it probes inside the cluster. Unset: no probes. */
    blackbox?: { service: string; namespace: string; probes: ProbeTarget[] };
    /** k3s's bundled Traefik exports metrics (HelmChartConfig): scrape them with the ServiceMonitor `traefik-metrics`. Default false. */
    traefikMetrics?: boolean;
    /**
     * StorageClass of the charts' claims (Prometheus, Alertmanager, Grafana, Loki); k3s passes the
     * retained Hetzner class so metrics and logs outlive a deleted release. Unset = the cluster's default.
     */
    storageClassName?: string;
    /** Cluster add-ons every chart and object waits for (CCM: schedulable nodes; CSI: the StorageClass). Default none. */
    clusterAddons?: pulumi.Resource[];
}

export class KubernetesMonitoring extends pulumi.ComponentResource {
    /** Grafana as an ingress backend (its Service `grafana`, port 80): pass to `KubernetesIngress.services`. */
    public readonly routedServices: RoutedService[];
    /**
     * The kube-prometheus-stack release, which installs (and on upgrade updates) the Prometheus
     * Operator CRDs: anything rendering a ServiceMonitor or PrometheusRule elsewhere waits for it.
     */
    public readonly crds: pulumi.Resource;
    /** The monitoring Namespace: objects of other components in it (the Grafana Ingress) wait for it, not for the whole stack. */
    public readonly namespaceResource: pulumi.Resource;

    constructor(name: string, args: KubernetesMonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:KubernetesMonitoring", name, {}, opts);
        const child = { parent: this, provider: args.provider };
        // Hetzner volumes are 10 GB at least (a smaller claim is rounded up and billed as 10), so
        // the small ones ask for 10 and get what they ask for.
        const size = { prometheus: 20, loki: 20, grafana: HETZNER_MIN_VOLUME_GB, alertmanager: HETZNER_MIN_VOLUME_GB, ...args.storageGb };
        const storageClassName = args.storageClassName;
        const claim = (gb: number) => ({ volumeClaimTemplate: { spec: { accessModes: ["ReadWriteOnce"], storageClassName, resources: { requests: { storage: `${gb}Gi` } } } } });

        const addons = args.clusterAddons ?? [];
        const namespace = new kubernetes.core.v1.Namespace(MONITORING_NAMESPACE, { metadata: { name: MONITORING_NAMESPACE } }, { ...child, dependsOn: addons });
        this.namespaceResource = namespace;
        const ns = namespace.metadata.name;
        const grafanaAdmin = new kubernetes.core.v1.Secret(GRAFANA_ADMIN_SECRET, {
            metadata: { name: GRAFANA_ADMIN_SECRET, namespace: ns },
            stringData: { "admin-user": "admin", "admin-password": pulumi.secret(args.grafanaPassword) },
        }, child);
        const alertmanagerSecret = new kubernetes.core.v1.Secret(ALERTMANAGER_SECRET, {
            metadata: { name: ALERTMANAGER_SECRET, namespace: ns },
            stringData: { "alertmanager.yaml": pulumi.secret(alertmanagerConfig(args.alerting ?? {})) },
        }, child);
        const dashboard = new kubernetes.core.v1.ConfigMap("archon-dashboard", {
            metadata: { name: "archon-dashboard", namespace: ns, labels: { grafana_dashboard: "1" } },
            data: { "archon-overview.json": archonDashboardJson(args.alertProfile) },
        }, child);

        const release = (key: keyof typeof CHARTS, values: Record<string, unknown>, dependsOn: pulumi.Resource[]) => {
            const chart = CHARTS[key];
            return new kubernetes.helm.v3.Release(chart.chart, {
                name: chart.chart,
                chart: chart.chart,
                version: chart.version,
                repositoryOpts: { repo: chart.repo },
                namespace: ns,
                atomic: true,
                values,
            }, { ...child, dependsOn: [namespace, ...addons, ...dependsOn] });
        };

        const stack = release("kubePrometheusStack", {
            // Helm installs CRDs on first install only, never on upgrade: the chart's CRD upgrade job
            // (a pre-install/pre-upgrade/pre-rollback hook running `kubectl apply --server-side`)
            // brings them to the chart's version first (prometheus-community/helm-charts tag
            // kube-prometheus-stack-79.5.0, charts/kube-prometheus-stack/values.yaml `crds.upgradeJob`,
            // charts/crds/templates/upgrade/job.yaml). forceConflicts: the CRDs were first written by
            // Helm's own field manager, so a server-side apply of new versions conflicts without it.
            // Its busybox (which unpacks the CRDs) defaults to the moving tag `latest`: pinned.
            crds: {
                enabled: true,
                upgradeJob: { enabled: true, forceConflicts: true, image: { busybox: { tag: imageTag(IMAGES.dataPermissions) } } },
            },
            prometheus: {
                prometheusSpec: {
                    retention: `${args.metricsRetentionDays}d`,
                    // Whichever comes first: a full volume stops Prometheus, so it drops the oldest
                    // blocks once the TSDB (blocks, WAL and head chunks) reaches this share of it
                    // (`--storage.tsdb.retention.size`, power-of-two units).
                    retentionSize: prometheusRetentionSize(size.prometheus),
                    storageSpec: claim(size.prometheus),
                    // Pick up every ServiceMonitor / PrometheusRule, not only the chart's own.
                    serviceMonitorSelectorNilUsesHelmValues: false,
                    podMonitorSelectorNilUsesHelmValues: false,
                    ruleSelectorNilUsesHelmValues: false,
                    probeSelectorNilUsesHelmValues: false,
                },
            },
            // Control-plane components k3s embeds (and managed clusters hide) expose no scrapeable
            // endpoint: their targets would hold `up == 0` and keep ServiceDown firing.
            kubeControllerManager: { enabled: false },
            kubeScheduler: { enabled: false },
            kubeProxy: { enabled: false },
            kubeEtcd: { enabled: false },
            alertmanager: {
                alertmanagerSpec: { useExistingSecret: true, configSecret: ALERTMANAGER_SECRET, storage: claim(size.alertmanager) },
            },
            grafana: {
                fullnameOverride: "grafana",
                admin: { existingSecret: GRAFANA_ADMIN_SECRET, userKey: "admin-user", passwordKey: "admin-password" },
                // The admin password follows the Secret (Grafana reads it only when it creates the
                // user): an init container on Grafana's volume sets it with Grafana's CLI, and the pod
                // rolls when it changes. The init container runs the server's own image (grafana/
                // helm-charts grafana-10.1.4: image.tag defaults to appVersion 12.2.1; pinned here to
                // the same tag), with the volume the chart names `storage` (templates/_pod.tpl).
                image: { tag: imageTag(IMAGES.grafana) },
                podAnnotations: { "archon.infra/admin-password-sha256": passwordChecksum(args.grafanaPassword) },
                extraInitContainers: [{
                    name: "admin-password",
                    image: `docker.io/${IMAGES.grafana}`,
                    command: ["sh", "-c", GRAFANA_ADMIN_PASSWORD_SCRIPT],
                    env: [
                        { name: "GF_SECURITY_ADMIN_PASSWORD", valueFrom: { secretKeyRef: { name: GRAFANA_ADMIN_SECRET, key: "admin-password" } } },
                        { name: "GF_PATHS_DATA", value: "/var/lib/grafana" },
                    ],
                    volumeMounts: [{ name: "storage", mountPath: "/var/lib/grafana" }],
                    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, readOnlyRootFilesystem: false, runAsNonRoot: true, runAsUser: 472, runAsGroup: 472 },
                    resources: { requests: { cpu: "10m", memory: "64Mi" }, limits: { cpu: "500m", memory: "256Mi" } },
                }],
                persistence: { enabled: true, size: `${size.grafana}Gi`, storageClassName },
                // One ReadWriteOnce volume: a rolling update starts the new pod (maybe on another
                // node) while the old one holds the volume, and it hangs on Multi-Attach. Recreate
                // stops the old pod first (grafana/helm-charts grafana-10.1.4, the chart
                // kube-prometheus-stack 79.5.0 depends on: values.yaml `deploymentStrategy`,
                // default RollingUpdate, templates/deployment.yaml `strategy`).
                deploymentStrategy: { type: "Recreate" },
                "grafana.ini": { server: { root_url: `https://grafana.${args.domain}/` }, analytics: { reporting_enabled: false }, users: { allow_sign_up: false } },
                sidecar: {
                    dashboards: { enabled: true, label: "grafana_dashboard", labelValue: "1", searchNamespace: "ALL" },
                    datasources: { enabled: true, defaultDatasourceEnabled: true, uid: DATASOURCE_UIDS.prometheus },
                },
                additionalDataSources: [{ name: "Loki", type: "loki", uid: DATASOURCE_UIDS.loki, access: "proxy", url: LOKI_URL, editable: false }],
            },
        }, [grafanaAdmin, alertmanagerSecret, dashboard]);

        const loki = release("loki", {
            deploymentMode: "SingleBinary",
            loki: {
                auth_enabled: false,
                commonConfig: { replication_factor: 1 },
                storage: { type: "filesystem" },
                schemaConfig: { configs: [{ from: "2024-01-01", store: "tsdb", object_store: "filesystem", schema: "v13", index: { prefix: "index_", period: "24h" } }] },
                limits_config: { retention_period: `${args.logsRetentionDays * 24}h` },
                compactor: { retention_enabled: true, delete_request_store: "filesystem" },
            },
            singleBinary: {
                replicas: 1,
                persistence: {
                    enabled: true,
                    size: `${size.loki}Gi`,
                    storageClass: storageClassName,
                    // The chart defaults this to true, which sets the StatefulSet's
                    // persistentVolumeClaimRetentionPolicy whenDeleted: Delete: uninstalling or
                    // replacing the release would delete the logs' claim (grafana/loki tag
                    // helm-loki-6.30.1, production/helm/loki/values.yaml singleBinary.persistence,
                    // templates/single-binary/statefulset.yaml). Off: the claim outlives the release.
                    enableStatefulSetAutoDeletePVC: false,
                },
            },
            read: { replicas: 0 },
            write: { replicas: 0 },
            backend: { replicas: 0 },
            gateway: { enabled: false },
            chunksCache: { enabled: false },
            resultsCache: { enabled: false },
            lokiCanary: { enabled: false },
            test: { enabled: false },
        }, [namespace]);

        release("alloy", {
            // One collector per node (DaemonSet), each reading only its node's pods (renderAlloyConfig).
            controller: { type: "daemonset" },
            alloy: { configMap: { create: true, content: renderAlloyConfig(LOKI_URL) }, clustering: { enabled: false } },
        }, [loki]);

        new kubernetes.apiextensions.CustomResource("archon-alerts", {
            apiVersion: "monitoring.coreos.com/v1",
            kind: "PrometheusRule",
            metadata: { name: "archon-alerts", namespace: ns },
            spec: { groups: prometheusRuleGroups(alertGroups(args.alertProfile)) },
        }, { ...child, dependsOn: [stack] });

        for (const serviceName of args.metricsServices ?? []) {
            const service = args.services.find((s) => s.name === serviceName);
            if (!service) continue;
            new kubernetes.apiextensions.CustomResource(serviceName, {
                apiVersion: "monitoring.coreos.com/v1",
                kind: "ServiceMonitor",
                metadata: { name: serviceName, namespace: ns },
                spec: {
                    namespaceSelector: { matchNames: [namespaceOf(service.group, args.namespaces)] },
                    selector: { matchLabels: { "app.kubernetes.io/name": serviceName } },
                    endpoints: [{ port: metricsPort(service).name, path: "/metrics", interval: "30s" }],
                },
            }, { ...child, dependsOn: [stack] });
        }

        if (args.traefikMetrics) {
            const monitor = traefikServiceMonitor();
            new kubernetes.apiextensions.CustomResource(monitor.metadata.name, { ...monitor, metadata: { ...monitor.metadata, namespace: ns } }, { ...child, dependsOn: [stack] });
        }

        const grafanaHost = `grafana.${args.domain}`;
        if (args.blackbox) {
            const hosts = [...new Set([...hostRoutes(args.services).map((h) => h.host), grafanaHost])];
            for (const probe of renderProbes(args.blackbox, hosts)) {
                new kubernetes.apiextensions.CustomResource(probe.metadata.name, { ...probe, metadata: { ...probe.metadata, namespace: ns } }, { ...child, dependsOn: [stack] });
            }
        }

        this.crds = stack;
        this.routedServices = [{
            name: "grafana",
            group: "monitoring",
            ports: [{ name: "http-web", port: 80 }],
            routes: [{ host: grafanaHost, path: "/", port: 80, websockets: true }],
        }];
        this.registerOutputs({ routedServices: this.routedServices.map((s) => s.name) });
    }
}

/** The smallest Hetzner Cloud volume, GB: a smaller claim is provisioned (and billed) at this size. */
export const HETZNER_MIN_VOLUME_GB = 10;

/** Share of the Prometheus volume the TSDB may fill before the oldest blocks go. */
export const PROMETHEUS_RETENTION_SHARE = 0.85;

/** Prometheus's size cap for a volume of `volumeGb`, e.g. 20 -> "17GB". */
export function prometheusRetentionSize(volumeGb: number): string {
    return `${Math.floor(volumeGb * PROMETHEUS_RETENTION_SHARE)}GB`;
}

/** Job names of the Probes, by module (the same as the Compose scrape jobs). */
export const PROBE_JOBS = { [BLACKBOX_MODULES.http]: "blackbox-http", [BLACKBOX_MODULES.tcp]: "blackbox-tcp", [BLACKBOX_MODULES.public]: "blackbox-public", [BLACKBOX_MODULES.tls]: "blackbox-tls" } as const;

/**
 * One Prometheus Operator Probe per blackbox module: the in-cluster health routes and the public
 * URLs (monitoring.coreos.com/v1 Probe: prober.url, module, targets.staticConfig.static; the job
 * label is `jobName`, the instance label the target).
 */
export function renderProbes(blackbox: { service: string; namespace: string; probes: ProbeTarget[] }, publicHosts: string[]): Manifest[] {
    const all = [...blackbox.probes, ...publicHosts.sort().map((host) => ({ module: BLACKBOX_MODULES.public, target: `https://${host}/`, service: "ingress" }))];
    return Object.values(BLACKBOX_MODULES).flatMap((module): Manifest[] => {
        const targets = all.filter((p) => p.module === module).map((p) => p.target);
        if (targets.length === 0) return [];
        return [{
            apiVersion: "monitoring.coreos.com/v1",
            kind: "Probe",
            metadata: { name: PROBE_JOBS[module], namespace: MONITORING_NAMESPACE },
            spec: {
                jobName: PROBE_JOBS[module],
                interval: "30s",
                module,
                prober: { url: `${blackbox.service}.${blackbox.namespace}.svc:${BLACKBOX_EXPORTER_PORT}`, path: "/probe" },
                targets: { staticConfig: { static: targets } },
            },
        }];
    });
}

/**
 * The ServiceMonitor of k3s's bundled Traefik: the chart's metrics Service (traefik/traefik-helm-chart
 * v40.1.0 of k3s v1.36 and v27.0.2 of k3s v1.31, templates/service-metrics.yaml: labels
 * app.kubernetes.io/name=traefik, app.kubernetes.io/component=metrics, port `metrics`; recorded in
 * test/fixtures/helm-charts/traefik-*.json) in kube-system, path /metrics. Rendered by us
 * rather than the chart's own ServiceMonitor, which fails the chart install while the Prometheus
 * Operator CRDs do not exist yet (templates/servicemonitor.yaml).
 */
export function traefikServiceMonitor(): Manifest {
    return {
        apiVersion: "monitoring.coreos.com/v1",
        kind: "ServiceMonitor",
        metadata: { name: "traefik-metrics", namespace: MONITORING_NAMESPACE },
        spec: {
            namespaceSelector: { matchNames: [K3S_TRAEFIK.namespace] },
            selector: { matchLabels: { "app.kubernetes.io/name": "traefik", "app.kubernetes.io/component": "metrics" } },
            endpoints: [{ port: "metrics", path: "/metrics", interval: "30s" }],
        },
    };
}

/**
 * Traefik's router name of an Ingress rule, without its path: `<namespace>-<ingress>-<host>` with
 * every run of non-alphanumerics turned into `-` (traefik/traefik pkg/provider/kubernetes/ingress/
 * kubernetes.go: routerKey = Normalize(namespace-name-host+path); metrics add `@kubernetes`).
 */
export function traefikRouterPrefix(ingress: Pick<Manifest, "metadata">, host: string): string {
    return `${ingress.metadata.namespace}-${ingress.metadata.name}-${host}`.split(/[^\p{L}\p{N}]+/u).filter(Boolean).join("-");
}
