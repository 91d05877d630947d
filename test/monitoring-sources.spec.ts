/**
 * Every alert is evaluable where it is deployed: each metric its expression reads comes from a
 * source the synth of that target actually deploys and scrapes (Compose: prometheus.yml's scrape
 * jobs whose target is a service of the compose project; Kubernetes: ServiceMonitors selecting a
 * rendered Service, plus the exporters the Helm releases' values turn on). Also the chart PVCs'
 * storage class and Traefik's HTTP -> HTTPS redirect on k3s.
 */
import { strict as assert } from "assert";
import { parse as parseYaml } from "yaml";
import { ALERT_GROUPS } from "../components/services/alert-rules";
import { RETAINED_STORAGE_CLASS } from "../components/hetzner/cluster-addons";
import { POSTGRES_EXPORTER } from "../components/services/exporters";
import { K3S_TRAEFIK } from "../components/kubernetes/ingress";
import { SynthResult } from "../scripts/lib/synthesize";
import { KUBECONFIG, named, plainInputs, synth } from "./helpers";

const KUBERNETES_TARGET = { target: "kubernetes", kubeconfig: KUBECONFIG };

/**
 * Which exporter produces a metric family (the one hand-kept table: names as each exporter
 * documents them). `up` is written by Prometheus for every scrape.
 */
const METRIC_SOURCES: [RegExp, string][] = [
    [/^up$/, "*"],
    [/^node_/, "node-exporter"],
    [/^pg_/, POSTGRES_EXPORTER],
    [/^certmanager_/, "cert-manager"],
    [/^probe_/, "blackbox-exporter"],
    [/^(http_requests?_|archon_)/, "archon-server"],
];

const PROMQL_WORDS = new Set(["sum", "min", "max", "avg", "count", "rate", "irate", "increase", "by", "without", "on", "ignoring",
    "group_left", "group_right", "or", "and", "unless", "bool", "offset", "time", "histogram_quantile", "abs", "le"]);

/** Splits a PromQL expression at its top-level `or` (outside parentheses). */
function orBranches(expr: string): string[] {
    const branches: string[] = [];
    let depth = 0;
    let start = 0;
    for (let i = 0; i < expr.length; i++) {
        if (expr[i] === "(") depth++;
        else if (expr[i] === ")") depth--;
        else if (depth === 0 && /^\sor\s/.test(expr.slice(i, i + 4))) {
            branches.push(expr.slice(start, i));
            start = i + 4;
        }
    }
    return [...branches, expr.slice(start)];
}

/** The metric names a PromQL expression selects (label matchers, strings, groupings, ranges and functions removed). */
export function metricNames(expr: string): string[] {
    const stripped = expr
        .replace(/"[^"]*"/g, "")
        .replace(/\{[^}]*\}/g, " ")
        .replace(/\[[^\]]*\]/g, " ")
        .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, " ");
    const names = [...stripped.matchAll(/\b[a-zA-Z_:][a-zA-Z0-9_:]*\b(?!\s*\()/g)].map((m) => m[0]).filter((w) => !PROMQL_WORDS.has(w));
    return [...new Set(names.filter((n) => !/^\d/.test(n)))];
}

function sourceOf(metric: string): string {
    const found = METRIC_SOURCES.find(([pattern]) => pattern.test(metric));
    if (!found) throw new Error(`metric ${metric}: no source in METRIC_SOURCES; add the exporter that produces it`);
    return found[1];
}

/** Compose: the hosts prometheus.yml scrapes (static target, or blackbox's relabelled address) that are services of the project. */
function composeSources(result: SynthResult): Set<string> {
    const compose = parseYaml(result.files["project/docker-compose.yml"]) as { services: Record<string, unknown> };
    const prometheus = parseYaml(result.files["project/config/prometheus/etc_prometheus_prometheus.yml"]) as {
        scrape_configs: { static_configs: { targets: string[] }[]; relabel_configs?: { target_label: string; replacement?: string }[] }[];
    };
    const hosts = prometheus.scrape_configs.flatMap((job) => {
        const relabelled = job.relabel_configs?.find((r) => r.target_label === "__address__")?.replacement;
        return relabelled ? [relabelled] : job.static_configs.flatMap((c) => c.targets);
    }).map((address) => address.split(":")[0]);
    return new Set(hosts.filter((host) => host in compose.services));
}

/**
 * Kubernetes: Services a ServiceMonitor selects (by app.kubernetes.io/name in its namespace) that
 * the synth renders, node-exporter when kube-prometheus-stack keeps it on (the chart's default),
 * cert-manager when its release turns its ServiceMonitor on.
 */
function kubernetesSources(result: SynthResult): Set<string> {
    const sources = new Set<string>();
    for (const [file, text] of Object.entries(result.files)) {
        if (!/^kubernetes\/[^/]+\/ServiceMonitor-/.test(file)) continue;
        const monitor = parseYaml(text) as { spec: { namespaceSelector: { matchNames: string[] }; selector: { matchLabels: Record<string, string> } } };
        const service = monitor.spec.selector.matchLabels["app.kubernetes.io/name"];
        if (monitor.spec.namespaceSelector.matchNames.some((ns) => `kubernetes/${ns}/Service-${service}.yaml` in result.files)) sources.add(service);
    }
    const values = (name: string) => plainInputs(named(result, "kubernetes:helm.sh/v3:Release", name)).values;
    if (values("kube-prometheus-stack").nodeExporter?.enabled !== false) sources.add("node-exporter");
    if (values("cert-manager").prometheus?.servicemonitor?.enabled === true) sources.add("cert-manager");
    return sources;
}

const TARGETS: { target: string; stack: string; overrides: Record<string, unknown>; sources: (r: SynthResult) => Set<string> }[] = [
    { target: "compose", stack: "staging", overrides: {}, sources: composeSources },
    { target: "k3s", stack: "production", overrides: {}, sources: kubernetesSources },
    { target: "kubernetes", stack: "staging", overrides: KUBERNETES_TARGET, sources: kubernetesSources },
];

describe("alert metric sources", () => {
    it("reads metric names from PromQL as written in the rules", () => {
        assert.deepEqual(metricNames('sum by (job) (rate(http_requests_total{status=~"5.."}[5m])) / sum by (job) (rate(http_requests_total[5m])) > 0.05'), ["http_requests_total"]);
        assert.deepEqual(metricNames("sum by (instance) (pg_stat_database_numbackends) / max by (instance) (pg_settings_max_connections) > 0.9"),
            ["pg_stat_database_numbackends", "pg_settings_max_connections"]);
        assert.deepEqual(orBranches("(a - time()) < 1 or (b - time()) < 2").map(metricNames), [["a"], ["b"]]);
    });

    for (const { target, stack, overrides, sources } of TARGETS) {
        it(`has every alert evaluable on target ${target}: one branch of its expression reads only metrics a deployed source produces`, async () => {
            const deployed = sources(await synth(stack, overrides));
            assert.ok(deployed.size > 0, "no scraped source found in the synth");
            const missing: string[] = [];
            for (const rule of ALERT_GROUPS.flatMap((g) => g.rules)) {
                const branches = orBranches(rule.expr).map(metricNames);
                const evaluable = branches.some((metrics) => metrics.length > 0 && metrics.every((m) => sourceOf(m) === "*" || deployed.has(sourceOf(m))));
                if (!evaluable) missing.push(`${rule.alert} (needs ${branches.map((b) => b.map(sourceOf).join("+")).join(" or ")})`);
            }
            assert.deepEqual(missing, [], `deployed sources: ${[...deployed].sort().join(", ")}`);
        });
    }

    it("labels the Postgres exporter's series job=postgres-exporter on both targets", async () => {
        const compose = parseYaml((await synth("staging")).files["project/config/prometheus/etc_prometheus_prometheus.yml"]) as { scrape_configs: { job_name: string }[] };
        assert.ok(compose.scrape_configs.some((c) => c.job_name === POSTGRES_EXPORTER));
        // A ServiceMonitor without jobLabel names the job after the Service.
        const monitor = parseYaml((await synth("production")).files[`kubernetes/monitoring/ServiceMonitor-${POSTGRES_EXPORTER}.yaml`]) as { spec: { jobLabel?: string; selector: { matchLabels: Record<string, string> } } };
        assert.equal(monitor.spec.jobLabel, undefined);
        assert.equal(monitor.spec.selector.matchLabels["app.kubernetes.io/name"], POSTGRES_EXPORTER);
    });

    it("gives postgres-exporter on Kubernetes its password through a Secret only, and lets it through db's NetworkPolicy", async () => {
        const result = await synth("production");
        const password = plainInputs(named(result, "kubernetes:core/v1:Secret", `${POSTGRES_EXPORTER}-secrets`)).stringData.DATA_SOURCE_PASS as string;
        assert.equal(password, plainInputs(named(result, "kubernetes:core/v1:Secret", "db-secrets")).stringData.POSTGRES_PASSWORD);
        const env = parseYaml(result.files[`kubernetes/archon/ConfigMap-${POSTGRES_EXPORTER}-env.yaml`]) as { data: Record<string, string> };
        assert.equal(env.data.DATA_SOURCE_URI, "db:5432/postgres?sslmode=disable");
        assert.ok(!Object.entries(result.files).some(([file, text]) => !file.includes("/Secret-") && text.includes(password)));
        const dbPolicy = parseYaml(result.files["kubernetes/archon/NetworkPolicy-allow-db.yaml"]) as { spec: { ingress: { from: { podSelector?: { matchLabels: Record<string, string> } }[] }[] } };
        assert.ok(dbPolicy.spec.ingress[0].from.some((p) => p.podSelector?.matchLabels["app.kubernetes.io/name"] === POSTGRES_EXPORTER));
    });

    it("keeps the certificate's own namespace label on cert-manager's series (honorLabels)", async () => {
        const values = plainInputs(named(await synth("production"), "kubernetes:helm.sh/v3:Release", "cert-manager")).values;
        assert.deepEqual(values.prometheus.servicemonitor, { enabled: true, honorLabels: true });
    });

    it("scrapes no control-plane component k3s embeds (their targets would keep ServiceDown firing)", async () => {
        const values = plainInputs(named(await synth("production"), "kubernetes:helm.sh/v3:Release", "kube-prometheus-stack")).values;
        for (const component of ["kubeControllerManager", "kubeScheduler", "kubeProxy", "kubeEtcd"]) assert.equal(values[component].enabled, false, component);
    });
});

/** The storage classes of every claim the Helm charts create, from the rendered values files. */
function chartClaimClasses(result: SynthResult): Record<string, unknown> {
    const stack = parseYaml(result.files["helm/kube-prometheus-stack.yaml"]) as { values: any };
    const loki = parseYaml(result.files["helm/loki.yaml"]) as { values: any };
    return {
        prometheus: stack.values.prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.storageClassName,
        alertmanager: stack.values.alertmanager.alertmanagerSpec.storage.volumeClaimTemplate.spec.storageClassName,
        grafana: stack.values.grafana.persistence.storageClassName,
        loki: loki.values.singleBinary.persistence.storageClass,
    };
}

function workloadClaimClasses(result: SynthResult): unknown[] {
    return Object.entries(result.files)
        .filter(([file]) => /^kubernetes\/archon\/PersistentVolumeClaim-/.test(file))
        .map(([, text]) => (parseYaml(text) as { spec: { storageClassName?: string } }).spec.storageClassName);
}

describe("storage of the monitoring charts", () => {
    it("puts Prometheus, Alertmanager, Grafana and Loki on the retained Hetzner class on k3s, as the workloads", async () => {
        const result = await synth("production");
        const every = (cls: unknown) => ({ prometheus: cls, alertmanager: cls, grafana: cls, loki: cls });
        assert.deepEqual(chartClaimClasses(result), every(RETAINED_STORAGE_CLASS));
        const workloads = workloadClaimClasses(result);
        assert.ok(workloads.length >= 2);
        assert.ok(workloads.every((c) => c === RETAINED_STORAGE_CLASS), String(workloads));
        // The class exists: the CSI chart creates it (and no other).
        const csi = parseYaml(result.files["helm/hcloud-csi.yaml"]) as { values: { storageClasses: { name: string; reclaimPolicy: string }[] } };
        assert.deepEqual(csi.values.storageClasses.map((c) => [c.name, c.reclaimPolicy]), [[RETAINED_STORAGE_CLASS, "Retain"]]);
    });

    it("leaves the class to the cluster's default on target kubernetes, unless storageClassName is set", async () => {
        const unset = await synth("staging", KUBERNETES_TARGET);
        assert.deepEqual(chartClaimClasses(unset), { prometheus: undefined, alertmanager: undefined, grafana: undefined, loki: undefined });
        assert.ok(workloadClaimClasses(unset).every((c) => c === undefined));
        const configured = await synth("staging", { ...KUBERNETES_TARGET, storageClassName: "gp3-retain" });
        assert.deepEqual(chartClaimClasses(configured), { prometheus: "gp3-retain", alertmanager: "gp3-retain", grafana: "gp3-retain", loki: "gp3-retain" });
        assert.ok(workloadClaimClasses(configured).every((c) => c === "gp3-retain"));
    });
});

describe("Traefik HTTP -> HTTPS on k3s", () => {
    const file = `kubernetes/${K3S_TRAEFIK.namespace}/HelmChartConfig-${K3S_TRAEFIK.name}.yaml`;

    it("configures k3s's bundled Traefik to redirect entrypoint web permanently to websecure", async () => {
        const config = parseYaml((await synth("production")).files[file]) as { apiVersion: string; spec: { valuesContent: string } };
        assert.equal(config.apiVersion, "helm.cattle.io/v1");
        const values = parseYaml(config.spec.valuesContent) as { additionalArguments: string[] };
        assert.deepEqual(values.additionalArguments.filter((a) => a.includes(".http.redirections.")).sort(), [
            "--entryPoints.web.http.redirections.entryPoint.permanent=true",
            "--entryPoints.web.http.redirections.entryPoint.scheme=https",
            "--entryPoints.web.http.redirections.entryPoint.to=websecure",
        ]);
    });

    it("leaves Traefik alone where it is not k3s's (ingress-nginx chosen, or target kubernetes)", async () => {
        assert.equal((await synth("production", { ingressController: "ingress-nginx" })).files[file], undefined);
        assert.equal((await synth("staging", KUBERNETES_TARGET)).files[file], undefined);
    });
});
