/**
 * Every metric a stack's alert rules and dashboard read comes from a component that stack's synth
 * deploys and Prometheus scrapes (the producer table: components/services/metric-sources.ts), and
 * no scrape job or Probe asks a target for a path it does not serve (Archon serves no /metrics).
 * Also the chart PVCs' storage class and Traefik's HTTP -> HTTPS redirect on k3s.
 */
import { strict as assert } from "assert";
import { parse as parseYaml } from "yaml";
import { RETAINED_STORAGE_CLASS } from "../components/hetzner/cluster-addons";
import { BLACKBOX_EXPORTER, POSTGRES_EXPORTER } from "../components/services/exporters";
import { K3S_TRAEFIK } from "../components/kubernetes/ingress";
import { METRIC_SOURCES, Producer, producerOf } from "../components/services/metric-sources";
import {
    AlertProfile, COMPOSE_BACKUP_SIGNAL, KUBERNETES_BACKUP_SIGNAL, alertGroups, composeIngressSignals, ingressNginxSignals, traefikIngressSignals,
} from "../components/services/alert-rules";
import { TEXTFILE_DIRECTORY as NODE_EXPORTER_TEXTFILE_DIR } from "../components/backups/postgres-backup";
import { SynthResult } from "../scripts/lib/synthesize";
import { STACKS, dashboardExprs, renderedRuleGroups } from "./fixtures/monitoring-stacks";
import { KUBECONFIG, named, plainInputs, synth } from "./helpers";

const KUBERNETES_TARGET = { target: "kubernetes", kubeconfig: KUBECONFIG };

const PROMQL_WORDS = new Set(["sum", "min", "max", "avg", "count", "rate", "irate", "increase", "by", "without", "on", "ignoring",
    "group_left", "group_right", "or", "and", "unless", "bool", "offset", "time", "histogram_quantile", "abs", "le", "absent", "vector"]);

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

/**
 * The paths each component serves to Prometheus, as its own source or documentation says: every
 * Prometheus-ecosystem binary serves /metrics (prometheus/client_golang promhttp; Grafana
 * docs "Internal Grafana metrics"; Loki "Observability"; cAdvisor docs/storage/prometheus.md;
 * Alloy internal/service/http/http.go), blackbox-exporter also /probe (main.go), Traefik its
 * entry point `metrics` at /metrics (pkg/metrics/prometheus.go). Archon's services are absent on
 * purpose: coleam00/Archon v0.1.0 serves no metrics.
 */
const SERVED_PATHS: Record<string, string[]> = {
    prometheus: ["/metrics"],
    alertmanager: ["/metrics"],
    grafana: ["/metrics"],
    loki: ["/metrics"],
    "node-exporter": ["/metrics"],
    cadvisor: ["/metrics"],
    alloy: ["/metrics"],
    [BLACKBOX_EXPORTER]: ["/metrics", "/probe"],
    [POSTGRES_EXPORTER]: ["/metrics"],
    traefik: ["/metrics"],
};

/**
 * The health routes blackbox-exporter may probe inside the network, as each service's source
 * serves them: Archon v0.1.0 python/src/server/main.py (`@app.get("/health")`),
 * python/src/agents/server.py (`@app.get("/health")`), the UI's root; Kong's status API
 * (`/status` on KONG_STATUS_LISTEN), PostgREST's admin server (`/ready`), GoTrue (`/health`).
 * archon-mcp has no HTTP health route (its health is an MCP tool): a TCP connect on its port.
 */
const HEALTH_ROUTES: Record<string, { http?: string; port: number }> = {
    "archon-server": { http: "/health", port: 8181 },
    "archon-agents": { http: "/health", port: 8052 },
    "archon-ui": { http: "/", port: 3737 },
    "archon-mcp": { port: 8051 },
    kong: { http: "/status", port: 8100 },
    rest: { http: "/ready", port: 3001 },
    auth: { http: "/health", port: 9999 },
};

interface ComposeFile { services: Record<string, { command?: string[]; healthcheck?: unknown }> }
interface ScrapeJob {
    job_name: string;
    metrics_path?: string;
    params?: { module?: string[] };
    static_configs: { targets: string[] }[];
    relabel_configs?: { target_label: string; replacement?: string }[];
}

function composeFiles(result: SynthResult): { compose: ComposeFile; jobs: ScrapeJob[] } {
    return {
        compose: parseYaml(result.files["project/docker-compose.yml"]) as ComposeFile,
        jobs: (parseYaml(result.files["project/config/prometheus/etc_prometheus_prometheus.yml"]) as { scrape_configs: ScrapeJob[] }).scrape_configs,
    };
}

/** Compose: every scrape job as (service it reaches, path); blackbox probe jobs reach blackbox-exporter. */
function composeScrapes(result: SynthResult): { job: string; service: string; path: string }[] {
    const { jobs } = composeFiles(result);
    return jobs.flatMap((job) => {
        const relabelled = job.relabel_configs?.find((r) => r.target_label === "__address__")?.replacement;
        const addresses = relabelled ? [relabelled] : job.static_configs.flatMap((c) => c.targets);
        return addresses.map((address) => {
            const host = address.split(":")[0];
            return { job: job.job_name, service: host === "localhost" ? "prometheus" : host, path: job.metrics_path ?? "/metrics" };
        });
    });
}

/** Compose: the producers deployed and scraped. */
function composeProducers(result: SynthResult): Set<Producer> {
    const { compose } = composeFiles(result);
    const scraped = new Set(composeScrapes(result).map((s) => s.service).filter((s) => s in compose.services || s === "prometheus"));
    const producers = new Set<Producer>();
    if (scraped.has("prometheus")) producers.add("prometheus");
    if (scraped.has("node-exporter")) {
        producers.add("node-exporter");
        if ((compose.services["node-exporter"].command ?? []).includes(`--collector.textfile.directory=${NODE_EXPORTER_TEXTFILE_DIR}`)) producers.add("node-exporter-textfile");
    }
    if (scraped.has(POSTGRES_EXPORTER)) producers.add("postgres-exporter");
    if (scraped.has(BLACKBOX_EXPORTER)) producers.add("blackbox-exporter");
    // Alloy makes the ingress metrics only when its pipeline defines them and the proxy writes the JSON log it parses.
    const alloyConfig = result.files["project/config/alloy/etc_alloy_config.alloy"] ?? "";
    const nginxConf = result.files["project/config/proxy/etc_nginx_nginx.conf"] ?? "";
    if (scraped.has("alloy") && alloyConfig.includes('name        = "nginx_http_requests_total"') && /access_log \/dev\/stdout archon_json;/.test(nginxConf)) producers.add("alloy");
    return producers;
}

function manifests(result: SynthResult, kind: string): { file: string; doc: any }[] {
    return Object.entries(result.files).filter(([file]) => new RegExp(`^kubernetes/[^/]+/${kind}-`).test(file)).map(([file, text]) => ({ file, doc: parseYaml(text) }));
}

/** Kubernetes: the Service a ServiceMonitor selects (by app.kubernetes.io/name in its namespace), when the synth renders it. */
function kubernetesScrapes(result: SynthResult): { job: string; service: string; path: string }[] {
    return manifests(result, "ServiceMonitor").flatMap(({ doc }) => {
        const name = doc.spec.selector.matchLabels["app.kubernetes.io/name"] as string;
        const namespaces = doc.spec.namespaceSelector.matchNames as string[];
        const rendered = namespaces.some((ns) => `kubernetes/${ns}/Service-${name}.yaml` in result.files);
        // The chart-rendered Traefik metrics Service is not in the synth; the HelmChartConfig turns it on (checked below).
        const service = rendered || (name === "traefik" && namespaces.includes(K3S_TRAEFIK.namespace)) ? name : `${name} (not rendered)`;
        return (doc.spec.endpoints as { path?: string }[]).map((e) => ({ job: doc.metadata.name as string, service, path: e.path ?? "/metrics" }));
    });
}

/** Kubernetes: the producers deployed and scraped. */
function kubernetesProducers(result: SynthResult): Set<Producer> {
    const producers = new Set<Producer>(["prometheus"]);
    const scraped = new Set(kubernetesScrapes(result).map((s) => s.service));
    if (scraped.has(POSTGRES_EXPORTER)) producers.add("postgres-exporter");
    const values = (name: string) => plainInputs(named(result, "kubernetes:helm.sh/v3:Release", name)).values;
    const stack = values("kube-prometheus-stack");
    // Prometheus picks up Probe objects outside the chart's own only with probeSelectorNilUsesHelmValues off.
    const probers = manifests(result, "Probe").map(({ doc }) => doc.spec.prober.url as string);
    if (stack.prometheus?.prometheusSpec?.probeSelectorNilUsesHelmValues === false && probers.length > 0
        && probers.every((url) => `kubernetes/${url.split(".")[1]}/Service-${url.split(".")[0]}.yaml` in result.files)) producers.add("blackbox-exporter");
    if (stack.nodeExporter?.enabled !== false) producers.add("node-exporter");
    if (stack.kubeStateMetrics?.enabled !== false) producers.add("kube-state-metrics");
    if (values("cert-manager").prometheus?.servicemonitor?.enabled === true) producers.add("cert-manager");
    const nginx = Object.keys(result.files).includes("helm/ingress-nginx.yaml") ? values("ingress-nginx").controller?.metrics : undefined;
    if (nginx?.enabled === true && nginx.serviceMonitor?.enabled === true) producers.add("ingress-nginx");
    const traefikConfig = result.files[`kubernetes/${K3S_TRAEFIK.namespace}/HelmChartConfig-${K3S_TRAEFIK.name}.yaml`];
    if (traefikConfig && scraped.has("traefik")) {
        const prom = (parseYaml((parseYaml(traefikConfig) as { spec: { valuesContent: string } }).spec.valuesContent) as any).metrics?.prometheus;
        if (prom?.addRoutersLabels === true && prom?.service?.enabled === true) producers.add("traefik");
    }
    return producers;
}

const TARGETS = STACKS.map((s) => ({ ...s, producers: s.under.ingress === "compose-nginx" ? composeProducers : kubernetesProducers }));

describe("alert metric sources", () => {
    it("reads metric names from PromQL as written in the rules", () => {
        assert.deepEqual(metricNames('sum by (job) (rate(http_requests_total{status=~"5.."}[5m])) / sum by (job) (rate(http_requests_total[5m])) > 0.05'), ["http_requests_total"]);
        assert.deepEqual(metricNames("sum by (instance) (pg_stat_database_numbackends) / max by (instance) (pg_settings_max_connections) > 0.9"),
            ["pg_stat_database_numbackends", "pg_settings_max_connections"]);
        assert.deepEqual(metricNames('time() - max(a{x="y"}) > 1 or (absent(a{x="y"}) and on() (time() - min(b)) > 1)'), ["a", "b"]);
    });

    it("names, beside each rule, exactly the producers of the metrics its expression reads", () => {
        const profiles: AlertProfile[] = [
            { ingress: composeIngressSignals("supabase.example.com"), backup: COMPOSE_BACKUP_SIGNAL, certManager: false },
            { ingress: traefikIngressSignals("archon-kong-supabase-supabase-example-com"), backup: KUBERNETES_BACKUP_SIGNAL, certManager: true },
            { ingress: ingressNginxSignals("supabase.example.com"), backup: KUBERNETES_BACKUP_SIGNAL, certManager: true },
            { backup: KUBERNETES_BACKUP_SIGNAL, certManager: true },
        ];
        for (const profile of profiles) {
            for (const rule of alertGroups(profile).flatMap((g) => g.rules)) {
                const fromTable = new Set(metricNames(rule.expr).map((m) => producerOf(m) ?? `unknown:${m}`));
                assert.deepEqual([...fromTable].sort(), [...new Set(rule.producers)].sort(), rule.alert);
            }
        }
    });

    it("keeps a documentation link for every producer in the table", () => {
        for (const [producer, row] of Object.entries(METRIC_SOURCES)) {
            assert.match(row.docs, /https:\/\/|\.go\b|\.md\b/, producer);
            assert.ok(row.metrics.length > 0, producer);
        }
    });

    for (const { title, stack, overrides, producers } of TARGETS) {
        it(`${title}: every metric of every rule and dashboard panel comes from a producer the synth deploys`, async () => {
            const result = await synth(stack, overrides);
            const deployed = producers(result);
            const exprs = [...renderedRuleGroups(result).flatMap((g) => g.rules.map((r) => [r.alert, r.expr])), ...dashboardExprs(result).map((e) => ["dashboard", e])];
            const missing = exprs.flatMap(([where, expr]) => metricNames(expr).flatMap((metric) => {
                const producer = producerOf(metric);
                return producer && deployed.has(producer) ? [] : [`${where}: ${metric} (${producer ?? "in no producer's table row"})`];
            }));
            assert.deepEqual(missing, [], `deployed producers: ${[...deployed].sort().join(", ")}`);
        });
    }

    it("detects a metric no component produces (the check can fail)", async () => {
        const deployed = composeProducers(await synth("staging"));
        assert.equal(producerOf("http_requests_total"), undefined);
        assert.equal(producerOf("archon_auth_requests_total"), undefined);
        assert.ok(!deployed.has("traefik") && !deployed.has("cert-manager"));
    });

    it("reads the ingress's request metrics in the dashboard exactly as the rules do", async () => {
        for (const { stack, overrides } of TARGETS.slice(0, 3)) {
            const result = await synth(stack, overrides);
            const ruleMetrics = new Set(renderedRuleGroups(result).flatMap((g) => g.rules).filter((r) => ["HighErrorRate", "HighLatencyP95"].includes(r.alert)).flatMap((r) => metricNames(r.expr)));
            const panelMetrics = new Set(dashboardExprs(result).flatMap(metricNames).filter((m) => ["alloy", "traefik", "ingress-nginx"].includes(producerOf(m) ?? "")));
            assert.deepEqual([...panelMetrics].sort(), [...ruleMetrics].sort());
        }
    });

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

/** An in-network probe target as (service, port, path); public URLs and foreign hosts are left out. */
function internalProbe(target: string): { service: string; port: number; path?: string } {
    const url = /^http:\/\/([^:/]+):(\d+)(\/.*)$/.exec(target);
    if (url) return { service: url[1], port: Number(url[2]), path: url[3] };
    const tcp = /^([^:/]+):(\d+)$/.exec(target);
    assert.ok(tcp, `probe target ${target} is neither a URL nor host:port`);
    return { service: tcp[1], port: Number(tcp[2]) };
}

function composeProbeTargets(result: SynthResult): { module: string; target: string }[] {
    return composeFiles(result).jobs.filter((j) => j.metrics_path === "/probe")
        .flatMap((j) => j.static_configs.flatMap((c) => c.targets.map((target) => ({ module: j.params!.module![0], target }))));
}

function kubernetesProbeTargets(result: SynthResult): { module: string; target: string }[] {
    return manifests(result, "Probe").flatMap(({ doc }) => (doc.spec.targets.staticConfig.static as string[]).map((target) => ({ module: doc.spec.module as string, target })));
}

function checkProbes(probes: { module: string; target: string }[], enableAgents: boolean, domain: string): void {
    const internal = probes.filter((p) => p.module !== "https_public").map((p) => ({ ...internalProbe(p.target), module: p.module }));
    for (const probe of internal) {
        const route = HEALTH_ROUTES[probe.service];
        assert.ok(route, `${probe.service} is probed but has no known health route`);
        assert.equal(probe.port, route.port, `${probe.service} probed on port ${probe.port}`);
        if (route.http) assert.deepEqual([probe.module, probe.path], ["http_2xx", route.http], `${probe.service}`);
        else assert.deepEqual([probe.module, probe.path], ["tcp_connect", undefined], `${probe.service}`);
    }
    const expected = Object.keys(HEALTH_ROUTES).filter((s) => enableAgents || s !== "archon-agents").sort();
    assert.deepEqual([...new Set(internal.map((p) => p.service))].sort(), expected);
    const publicUrls = probes.filter((p) => p.module === "https_public").map((p) => p.target);
    for (const host of ["archon", "mcp", "supabase", "grafana"]) assert.ok(publicUrls.includes(`https://${host}.${domain}/`), `public probe of ${host}`);
}

describe("scrape and probe paths", () => {
    it("compose: every scrape job asks a component for a path it serves, and no Archon service is scraped", async () => {
        const scrapes = composeScrapes(await synth("staging"));
        for (const scrape of scrapes) {
            assert.ok(SERVED_PATHS[scrape.service]?.includes(scrape.path), `job ${scrape.job}: ${scrape.service} does not serve ${scrape.path}`);
        }
        assert.ok(!scrapes.some((s) => s.service.startsWith("archon-")));
    });

    it("compose: blackbox probes every Archon service and Kong, PostgREST, GoTrue on their health routes, and every public URL", async () => {
        const result = await synth("staging");
        checkProbes(composeProbeTargets(result), false, "staging.archon.example.com");
        const withAgents = await synth("staging", { enableAgents: true });
        checkProbes(composeProbeTargets(withAgents), true, "staging.archon.example.com");
    });

    it("k3s: every ServiceMonitor asks for a path its Service serves, no Archon service has one, Probes reach rendered Services' ports", async () => {
        const result = await synth("production");
        const scrapes = kubernetesScrapes(result);
        for (const scrape of scrapes) {
            assert.ok(SERVED_PATHS[scrape.service]?.includes(scrape.path), `ServiceMonitor ${scrape.job}: ${scrape.service} does not serve ${scrape.path}`);
        }
        assert.ok(!scrapes.some((s) => s.service.startsWith("archon-")));
        assert.ok(scrapes.some((s) => s.service === "traefik"), "Traefik's metrics are scraped");
        // The nodes' kubelet certificates (tls_connect) are no catalog service: test/k3s-lifecycle.spec.ts checks them.
        const probes = kubernetesProbeTargets(result).filter((p) => p.module !== "tls_connect");
        const agents = "kubernetes/archon/Service-archon-agents.yaml" in result.files;
        checkProbes(probes, agents, "archon.example.com");
        for (const probe of probes.filter((p) => p.module !== "https_public").map((p) => internalProbe(p.target))) {
            const service = parseYaml(result.files[`kubernetes/archon/Service-${probe.service}.yaml`]) as { spec: { ports: { port: number }[] } };
            assert.ok(service.spec.ports.some((p) => p.port === probe.port), `Service ${probe.service} exposes ${probe.port}`);
        }
    });

    it("k3s: Traefik exports router metrics on a metrics Service the ServiceMonitor selects", async () => {
        const result = await synth("production");
        const values = parseYaml((parseYaml(result.files[`kubernetes/${K3S_TRAEFIK.namespace}/HelmChartConfig-${K3S_TRAEFIK.name}.yaml`]) as { spec: { valuesContent: string } }).spec.valuesContent) as any;
        assert.deepEqual({ ...values.metrics.prometheus, buckets: undefined }, { entryPoint: "metrics", addRoutersLabels: true, addServicesLabels: true, buckets: undefined, service: { enabled: true } });
        assert.ok(String(values.metrics.prometheus.buckets).split(",").includes("2"), "2 s (the latency threshold) is a bucket bound");
        const monitor = parseYaml(result.files["kubernetes/monitoring/ServiceMonitor-traefik-metrics.yaml"]) as any;
        // traefik-helm-chart v27.0.2 templates/_service-metrics.tpl: the metrics Service's labels; port `metrics`.
        assert.deepEqual(monitor.spec.selector.matchLabels, { "app.kubernetes.io/name": "traefik", "app.kubernetes.io/component": "metrics" });
        assert.deepEqual(monitor.spec.namespaceSelector.matchNames, ["kube-system"]);
        assert.equal(monitor.spec.endpoints[0].port, "metrics");
    });

    it("ingress-nginx: the controller's metrics and ServiceMonitor are on; no Traefik monitor", async () => {
        const result = await synth("production", { ingressController: "ingress-nginx" });
        const controller = plainInputs(named(result, "kubernetes:helm.sh/v3:Release", "ingress-nginx")).values.controller;
        assert.deepEqual(controller.metrics, { enabled: true, serviceMonitor: { enabled: true } });
        assert.equal(result.files["kubernetes/monitoring/ServiceMonitor-traefik-metrics.yaml"], undefined);
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
