import { strict as assert } from "assert";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { CLUSTER_ISSUER, Manifest, renderIngresses, tlsSecretName } from "../components/kubernetes/ingress";
import { CHARTS } from "../components/services/versions";
import { FIXTURE_HOSTS, ROUTED_SERVICES } from "./fixtures/routed-services";
import { named, ofType, plainInputs, requireTool, run, synth, writeTempFiles } from "./helpers";

interface IngressSpec {
    ingressClassName: string;
    tls?: { hosts: string[]; secretName: string }[];
    rules: { host: string; http: { paths: { path: string; backend: { service: { name: string; port: { name?: string; number?: number } } } }[] } }[];
}

const ingresses = (manifests: Manifest[]) => manifests.filter((m) => m.kind === "Ingress");

/** Every Ingress terminates TLS for each of its hosts, with the host's secret. */
function assertTlsEverywhere(objects: { metadata: { name: string }; spec: IngressSpec }[]): void {
    assert.ok(objects.length > 0, "no Ingress at all");
    for (const ingress of objects) {
        for (const rule of ingress.spec.rules) {
            const tls = ingress.spec.tls?.find((t) => t.hosts.includes(rule.host));
            assert.ok(tls, `Ingress ${ingress.metadata.name} serves ${rule.host} without TLS`);
            assert.equal(tls.secretName, tlsSecretName(rule.host));
        }
    }
}

describe("kubernetes ingress", () => {
    for (const controller of ["traefik", "ingress-nginx"] as const) {
        describe(`with ${controller} (fixture catalog)`, () => {
            const manifests = renderIngresses(ROUTED_SERVICES, { controller });

            it("puts TLS on every Ingress and one cert-manager annotation per host and namespace", () => {
                assertTlsEverywhere(ingresses(manifests) as unknown as { metadata: { name: string }; spec: IngressSpec }[]);
                const annotated = ingresses(manifests).filter((m) => m.metadata.annotations?.["cert-manager.io/cluster-issuer"] === CLUSTER_ISSUER);
                const hosts = annotated.map((m) => (m.spec as unknown as IngressSpec).rules[0].host).sort();
                assert.deepEqual(hosts, FIXTURE_HOSTS);
            });

            it("routes archon.<domain> paths to the UI and the server (websockets on /socket.io) by port name", () => {
                const server = ingresses(manifests).find((m) => m.metadata.name === "archon-server-archon");
                assert.ok(server);
                const paths = (server.spec as unknown as IngressSpec).rules[0].http.paths;
                assert.deepEqual(paths.map((p) => p.path).sort(), ["/api", "/health", "/socket.io"]);
                assert.deepEqual(paths[0].backend.service, { name: "archon-server", port: { name: "http" } });
                assert.ok(ingresses(manifests).some((m) => m.metadata.name === "archon-ui-archon"));
                assert.equal(ingresses(manifests).length, 6);
            });

            it("limits request rate and body size, and sends HSTS and security headers", () => {
                const registry = ingresses(manifests).find((m) => m.metadata.name === "registry-registry")!;
                const annotations = registry.metadata.annotations ?? {};
                if (controller === "ingress-nginx") {
                    assert.equal(annotations["nginx.ingress.kubernetes.io/proxy-body-size"], "2048m");
                    assert.ok(Number(annotations["nginx.ingress.kubernetes.io/limit-rps"]) > 0);
                    assert.equal((registry.spec as unknown as IngressSpec).ingressClassName, "nginx");
                } else {
                    const refs = annotations["traefik.ingress.kubernetes.io/router.middlewares"].split(",");
                    assert.deepEqual(refs, ["archon-security-headers@kubernetescrd", "archon-rate-limit@kubernetescrd", "archon-body-limit-2048mb@kubernetescrd"]);
                    const middleware = (name: string) => manifests.find((m) => m.kind === "Middleware" && m.metadata.name === name && m.metadata.namespace === "archon");
                    assert.deepEqual(middleware("body-limit-2048mb")?.spec, { buffering: { maxRequestBodyBytes: 2048 * 1024 * 1024 } });
                    const headers = middleware("security-headers")?.spec.headers as Record<string, unknown>;
                    assert.equal(headers.stsSeconds, 63072000);
                    assert.equal(headers.contentTypeNosniff, true);
                    assert.ok(middleware("rate-limit"));
                }
            });
        });
    }

    describe("through the production synth", () => {
        it("installs cert-manager with its CRDs at the pinned version and an HTTP-01 ClusterIssuer", async () => {
            const result = await synth("production");
            const release = plainInputs(named(result, "kubernetes:helm.sh/v3:Release", "cert-manager"));
            assert.equal(release.version, CHARTS.certManager.version);
            // chart v1.15+: `crds.enabled` (installCRDs is deprecated); the CRDs outlive an uninstall.
            assert.deepEqual(release.values.crds, { enabled: true, keep: true });
            assert.equal(release.values.installCRDs, undefined);
            const issuer = parseYaml(result.files["kubernetes/_cluster/ClusterIssuer-letsencrypt.yaml"]) as { spec: { acme: { email: string; solvers: { http01: { ingress: { ingressClassName: string } } }[] } } };
            assert.equal(issuer.spec.acme.email, "ops@example.com");
            assert.equal(issuer.spec.acme.solvers[0].http01.ingress.ingressClassName, "traefik");
        });

        it("serves every public Ingress with TLS", async () => {
            const result = await synth("production");
            const objects = ofType(result, "kubernetes:networking.k8s.io/v1:Ingress").map((r) => plainInputs(r) as { metadata: { name: string }; spec: IngressSpec });
            assertTlsEverywhere(objects);
            assert.ok(objects.some((o) => o.spec.rules[0].host === "grafana.archon.example.com"));
        });

        it("installs ingress-nginx as a pinned release only when chosen", async () => {
            const traefik = await synth("production");
            assert.ok(!ofType(traefik, "kubernetes:helm.sh/v3:Release").some((r) => r.name === "ingress-nginx"));
            const nginx = await synth("production", { ingressController: "ingress-nginx" });
            assert.equal(plainInputs(named(nginx, "kubernetes:helm.sh/v3:Release", "ingress-nginx")).version, CHARTS.ingressNginx.version);
            assert.equal(ofType(nginx, "kubernetes:traefik.io/v1alpha1:Middleware").length, 0);
        });

        it("turns off cert-manager's Exact solver path type only with ingress-nginx, whose webhook rejects it (cert-manager #7791)", async () => {
            type CertManagerRelease = { version: string; values: { config?: { apiVersion?: string; kind?: string; featureGates?: Record<string, boolean> } } };
            const rendered = async (controller: "traefik" | "ingress-nginx") =>
                parseYaml((await synth("production", { ingressController: controller })).files["helm/cert-manager.yaml"]) as CertManagerRelease;
            const nginx = await rendered("ingress-nginx");
            // The feature gate exists from cert-manager v1.18.1; the pin must not fall below it.
            const [major, minor, patch] = nginx.version.replace(/^v/, "").split(".").map(Number);
            assert.ok(major > 1 || (major === 1 && (minor > 18 || (minor === 18 && patch >= 1))), `cert-manager ${nginx.version} has no ACMEHTTP01IngressPathTypeExact gate`);
            assert.deepEqual(nginx.values.config, {
                apiVersion: "controller.config.cert-manager.org/v1alpha1",
                kind: "ControllerConfiguration",
                featureGates: { ACMEHTTP01IngressPathTypeExact: false },
            });
            // Traefik accepts Exact paths: cert-manager keeps its default there.
            assert.equal((await rendered("traefik")).values.config, undefined);
        });
    });
});

describe("kubernetes monitoring (production synth)", () => {
    it("pins kube-prometheus-stack, Loki and Alloy with storage and the configured retention", async () => {
        const result = await synth("production");
        const release = (name: string) => plainInputs(named(result, "kubernetes:helm.sh/v3:Release", name));
        const stack = release("kube-prometheus-stack");
        assert.equal(stack.version, CHARTS.kubePrometheusStack.version);
        assert.equal(stack.values.prometheus.prometheusSpec.retention, "30d");
        assert.ok(stack.values.prometheus.prometheusSpec.storageSpec.volumeClaimTemplate);
        assert.equal(release("loki").values.loki.limits_config.retention_period, "336h");
        assert.equal(release("loki").values.singleBinary.persistence.enabled, true);
        assert.equal(release("alloy").version, CHARTS.alloy.version);
    });

    it("keeps the Grafana password in a Secret the chart references, never in Helm values", async () => {
        const result = await synth("production");
        const stack = named(result, "kubernetes:helm.sh/v3:Release", "kube-prometheus-stack");
        assert.equal(plainInputs(stack).values.grafana.admin.existingSecret, "grafana-admin");
        const password = plainInputs(named(result, "kubernetes:core/v1:Secret", "grafana-admin")).stringData["admin-password"];
        assert.ok(password.length >= 16);
        assert.ok(!JSON.stringify(stack.inputs).includes(password));
        assert.ok(!Object.entries(result.files).some(([file, text]) => file.includes("ConfigMap") && text.includes(password)));
    });

    it("provisions the dashboard with the grafana_dashboard label and the Loki datasource", async () => {
        const result = await synth("production");
        const dashboard = parseYaml(result.files["kubernetes/monitoring/ConfigMap-archon-dashboard.yaml"]) as { metadata: { labels: Record<string, string> }; data: Record<string, string> };
        assert.equal(dashboard.metadata.labels.grafana_dashboard, "1");
        assert.equal(JSON.parse(dashboard.data["archon-overview.json"]).uid, "archon-overview");
        const grafana = plainInputs(named(result, "kubernetes:helm.sh/v3:Release", "kube-prometheus-stack")).values.grafana;
        assert.equal(grafana.additionalDataSources[0].type, "loki");
    });

    it("renders the shared rules as a PrometheusRule that passes `promtool check rules`", async () => {
        requireTool("promtool", "prometheus");
        const result = await synth("production");
        const rule = parseYaml(result.files["kubernetes/monitoring/PrometheusRule-archon-alerts.yaml"]) as { spec: { groups: unknown[] } };
        const dir = writeTempFiles({ "rules.yml": JSON.stringify({ groups: rule.spec.groups }) });
        const check = run("promtool", ["check", "rules", path.join(dir, "rules.yml")]);
        assert.equal(check.status, 0, check.output);
    });

    for (const webhook of [undefined, "https://hooks.example.com/alerts/T0123"]) {
        it(`puts the Alertmanager config (${webhook ? "with" : "without"} webhook) in a Secret that passes \`amtool check-config\``, async () => {
            requireTool("amtool", "prometheus-alertmanager");
            const result = await synth("production", webhook ? { alertWebhookUrl: webhook } : {});
            const secret = named(result, "kubernetes:core/v1:Secret", "alertmanager-archon-config");
            const text = plainInputs(secret).stringData["alertmanager.yaml"] as string;
            assert.ok(JSON.stringify(secret.inputs.stringData).includes("$secret"));
            const dir = writeTempFiles({ "alertmanager.yml": text });
            const check = run("amtool", ["check-config", path.join(dir, "alertmanager.yml")]);
            assert.equal(check.status, 0, check.output);
            assert.equal(text.includes("hooks.example.com"), Boolean(webhook));
        });
    }
});
