import { strict as assert } from "assert";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import { ServiceSpec } from "../components/services/catalog";
import { ComposeMonitoringArgs, PROMETHEUS_CONFIG_DIR, composeMonitoringServices } from "../components/compose/monitoring";
import { renderNginxConf } from "../components/compose/proxy";
import { FIXTURE_DOMAIN, ROUTED_SERVICES } from "./fixtures/routed-services";
import { requireTool, run, synth, writeTempFiles } from "./helpers";

const ARGS: ComposeMonitoringArgs = {
    services: ROUTED_SERVICES,
    domain: FIXTURE_DOMAIN,
    grafanaPassword: "grafana-admin-password-fixture",
    metricsRetentionDays: 21,
    logsRetentionDays: 9,
    postgres: { host: "db", port: 5432, user: "postgres", password: "pg-password-fixture" },
};

/** A file's content as plain text (secret contents are Outputs). */
function text(content: pulumi.Input<string>): Promise<string> {
    return new Promise((resolve) => pulumi.output(content).apply((v) => resolve(v)));
}

function spec(services: ServiceSpec[], name: string): ServiceSpec {
    const found = services.find((s) => s.name === name);
    assert.ok(found, `no ${name}; there are ${services.map((s) => s.name).join(", ")}`);
    return found;
}

/** The service's files as a temp-dir tree, paths relative to `root` inside the container. */
async function filesUnder(service: ServiceSpec, root: string): Promise<Record<string, string>> {
    const tree: Record<string, string> = {};
    for (const file of service.files ?? []) {
        if (file.path.startsWith(root + "/")) tree[file.path.slice(root.length + 1)] = await text(file.content);
    }
    return tree;
}

describe("compose monitoring", () => {
    const services = composeMonitoringServices(ARGS);

    it("runs Prometheus, Alertmanager, Grafana, Loki, node-exporter and cAdvisor on compose only", () => {
        for (const name of ["prometheus", "alertmanager", "grafana", "loki", "alloy", "node-exporter", "cadvisor", "blackbox-exporter", "postgres-exporter"]) {
            assert.deepEqual(spec(services, name).targets, ["compose"]);
        }
        assert.ok(!composeMonitoringServices({ ...ARGS, postgres: undefined }).some((s) => s.name === "postgres-exporter"));
    });

    it("renders a prometheus.yml whose rule file resolves and that passes `promtool check config`", async () => {
        requireTool("promtool", "prometheus");
        const dir = writeTempFiles(await filesUnder(spec(services, "prometheus"), PROMETHEUS_CONFIG_DIR));
        const result = run("promtool", ["check", "config", path.join(dir, "prometheus.yml")]);
        assert.equal(result.status, 0, result.output);
        const rules = (parseYaml(await text(spec(services, "prometheus").files![1].content)) as { groups: { rules: unknown[] }[] }).groups.flatMap((g) => g.rules);
        assert.equal(rules.length, 14, "12 alerts and the heartbeats Watchdog and InfoInhibitor");
        assert.match(result.output, new RegExp(`SUCCESS: ${rules.length} rules found`));
    });

    it("renders the staging synth's prometheus.yml so that `promtool check config` passes", async () => {
        requireTool("promtool", "prometheus");
        const files = (await synth("staging")).files;
        const dir = writeTempFiles({
            "prometheus.yml": files["project/config/prometheus/etc_prometheus_prometheus.yml"],
            "rules/archon.yml": files["project/config/prometheus/etc_prometheus_rules_archon.yml"],
        });
        const result = run("promtool", ["check", "config", path.join(dir, "prometheus.yml")]);
        assert.equal(result.status, 0, result.output);
    });

    it("gives blackbox-exporter a configuration its own `--config.check` accepts", async () => {
        requireTool("prometheus-blackbox-exporter", "prometheus-blackbox-exporter");
        const blackbox = spec(services, "blackbox-exporter");
        const dir = writeTempFiles({ "config.yml": await text(blackbox.files![0].content) });
        assert.deepEqual(blackbox.args, ["--config.file=/etc/blackbox_exporter/config.yml"]);
        const result = run("prometheus-blackbox-exporter", ["--config.check", `--config.file=${path.join(dir, "config.yml")}`]);
        assert.equal(result.status, 0, result.output);
        const broken = writeTempFiles({ "config.yml": "modules:\n  x:\n    prober: http\n    http:\n      no_such_key: 1\n" });
        assert.notEqual(run("prometheus-blackbox-exporter", ["--config.check", `--config.file=${path.join(broken, "config.yml")}`]).status, 0);
    });

    it("scrapes the exporters on their ports, never an Archon service, and probes every public host", async () => {
        const config = parseYaml(await text(spec(services, "prometheus").files![0].content)) as {
            scrape_configs: { job_name: string; metrics_path?: string; static_configs: { targets: string[] }[] }[];
        };
        const targets = (job: string) => config.scrape_configs.find((c) => c.job_name === job)?.static_configs[0].targets;
        assert.equal(targets("archon-server"), undefined);
        assert.ok(!config.scrape_configs.some((c) => c.static_configs.some((s) => s.targets.some((t) => t.startsWith("archon-")) && c.metrics_path !== "/probe")));
        assert.deepEqual(targets("node-exporter"), ["node-exporter:9100"]);
        assert.deepEqual(targets("cadvisor"), ["cadvisor:8080"]);
        assert.deepEqual(targets("alloy"), ["alloy:12345"]);
        assert.deepEqual(targets("postgres-exporter"), ["postgres-exporter:9187"]);
        for (const host of ["archon", "mcp", "supabase", "grafana", "registry"]) assert.ok(targets("blackbox-public")?.includes(`https://${host}.${FIXTURE_DOMAIN}/`), host);
    });

    it("keeps metrics and logs for the configured days, on the data volume", async () => {
        const prometheus = spec(services, "prometheus");
        assert.ok(prometheus.args?.includes("--storage.tsdb.retention.time=21d"));
        assert.equal(prometheus.storage?.[0].mountPath, "/prometheus");
        const loki = parseYaml(await text(spec(services, "loki").files![0].content)) as { limits_config: { retention_period: string }; compactor: { retention_enabled: boolean } };
        assert.equal(loki.limits_config.retention_period, "216h");
        assert.equal(loki.compactor.retention_enabled, true);
        assert.ok(spec(services, "loki").storage?.length);
    });

    it("gives Grafana its admin password as a secret env, provisions both datasources and the dashboard", async () => {
        const grafana = spec(services, "grafana");
        assert.equal(grafana.secretEnv?.GF_SECURITY_ADMIN_PASSWORD, ARGS.grafanaPassword);
        assert.ok(!JSON.stringify(grafana.env).includes(String(ARGS.grafanaPassword)));
        const files = await filesUnder(grafana, "/etc/grafana");
        const datasources = parseYaml(files["provisioning/datasources/archon.yml"]) as { datasources: { type: string; url: string }[] };
        assert.deepEqual(datasources.datasources.map((d) => [d.type, d.url]), [["prometheus", "http://prometheus:9090"], ["loki", "http://loki:3100"]]);
        const dashboard = JSON.parse(files["dashboards/archon-overview.json"]) as { panels: { targets: { datasource: { uid: string } }[] }[] };
        assert.ok(dashboard.panels.length >= 6);
        assert.equal(spec(services, "postgres-exporter").secretEnv?.DATA_SOURCE_PASS, "pg-password-fixture");
    });

    it("routes grafana.<domain> through the proxy", () => {
        assert.match(renderNginxConf([...ROUTED_SERVICES.filter((s) => s.name !== "grafana"), ...services]), /server_name grafana\.example\.com;[\s\S]*?set \$backend_host grafana;\s+proxy_pass http:\/\/\$backend_host:3000;/);
    });

    for (const webhook of [undefined, "https://hooks.example.com/alerts/T0123"]) {
        it(`ships an Alertmanager config that passes \`amtool check-config\`, secret only ${webhook ? "with" : "without"} a webhook`, async () => {
            requireTool("amtool", "prometheus-alertmanager");
            const file = spec(composeMonitoringServices({ ...ARGS, alerting: { webhookUrl: webhook } }), "alertmanager").files![0];
            assert.equal(file.secret ?? false, Boolean(webhook));
            const dir = writeTempFiles({ "alertmanager.yml": await text(file.content) });
            const result = run("amtool", ["check-config", path.join(dir, "alertmanager.yml")]);
            assert.equal(result.status, 0, result.output);
        });
    }
});
