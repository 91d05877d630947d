/**
 * The alert rules of every kind of stack, as the synth renders them: `promtool check rules`, and
 * `promtool test rules` with a test where each alert fires and one where it stays quiet, on input
 * series named as their producers name them, expecting the summary and description written there
 * (test/fixtures/promtool/alert-cases.ts). Also the
 * Alertmanager configuration (`amtool check-config`).
 */
import { strict as assert } from "assert";
import * as path from "path";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { renderAlertmanagerConfig } from "../components/services/alert-rules";
import { alertRuleTests } from "./fixtures/promtool/alert-cases";
import { RuleGroup, STACKS, renderedRuleGroups } from "./fixtures/monitoring-stacks";
import { requireTool, run, synth, writeTempFiles } from "./helpers";

const HEARTBEATS = ["Watchdog", "InfoInhibitor"];

describe("alert rules (promtool, amtool)", () => {
    for (const { title, stack, overrides, under } of STACKS) {
        describe(title, () => {
            let groups: RuleGroup[];
            before(async () => { groups = renderedRuleGroups(await synth(stack, overrides)); });

            it("has the alerts of its signals, each with for, severity and summary", () => {
                const names = groups.flatMap((g) => g.rules.map((r) => r.alert));
                const ingress = under.ingress === "none" ? [] : ["HighErrorRate", "HighLatencyP95", "AuthFailuresHigh"];
                // Compose renders the heartbeats kube-prometheus-stack ships on Kubernetes.
                const heartbeat = under.ingress === "compose-nginx" ? HEARTBEATS : [];
                assert.deepEqual([...names].sort(), ["ServiceDown", "EndpointDown", ...ingress, "HostCpuHigh", "HostMemoryHigh", "HostDiskFull",
                    "PostgresDown", "PostgresConnectionsNearMax", "PostgresBackupStale", "CertificateExpiringSoon", ...heartbeat].sort());
                for (const rule of groups.flatMap((g) => g.rules)) {
                    assert.match(rule.for ?? "", /^\d+[smh]$/);
                    assert.ok(HEARTBEATS.includes(rule.alert) ? rule.labels?.severity === "none" : ["critical", "warning"].includes(rule.labels?.severity ?? ""));
                    assert.ok((rule.annotations?.summary ?? "").length > 10);
                }
                const auth = groups.flatMap((g) => g.rules).find((r) => r.alert === "AuthFailuresHigh");
                if (auth) assert.match(auth.annotations?.description ?? "", /401\/403 .*Supabase host/);
            });

            it("passes `promtool check rules`", () => {
                requireTool("promtool", "prometheus");
                const dir = writeTempFiles({ "rules.yml": toYaml({ groups }) });
                const result = run("promtool", ["check", "rules", path.join(dir, "rules.yml")]);
                assert.equal(result.status, 0, result.output);
                assert.match(result.output, new RegExp(`SUCCESS: ${groups.flatMap((g) => g.rules).length} rules found`));
            });

            it("passes `promtool test rules`: every alert fires on its bad case and stays quiet on its good one", () => {
                requireTool("promtool", "prometheus");
                const tests = alertRuleTests(under);
                for (const alert of groups.flatMap((g) => g.rules.map((r) => r.alert))) {
                    const cases = tests.flatMap((t) => t.alert_rule_test).filter((c) => c.alertname === alert);
                    assert.ok(cases.some((c) => c.exp_alerts.length > 0), `${alert}: no test where it fires`);
                    // Watchdog never stays quiet while Prometheus runs: alerting.spec.ts proves its delivery instead.
                    if (alert !== "Watchdog") assert.ok(cases.some((c) => c.exp_alerts.length === 0), `${alert}: no test where it stays quiet`);
                }
                const dir = writeTempFiles({
                    "rules.yml": toYaml({ groups }, { lineWidth: 0 }),
                    "tests.yml": toYaml({ rule_files: ["rules.yml"], evaluation_interval: "1m", tests }, { lineWidth: 0 }),
                });
                const result = run("promtool", ["test", "rules", "tests.yml"], { cwd: dir });
                assert.equal(result.status, 0, result.output);
                assert.match(result.output, /SUCCESS/);
            });
        });
    }

    it("fails `promtool test rules` when an input series is misnamed (the check can fail)", async () => {
        requireTool("promtool", "prometheus");
        const groups = renderedRuleGroups(await synth("production"));
        const under = STACKS[1].under;
        const tests = alertRuleTests(under).filter((t) => t.name === "HighErrorRate fires")
            .map((t) => ({ ...t, input_series: t.input_series.map((s) => ({ ...s, series: s.series.replace("traefik_router_requests_total", "traefik_requests_total") })) }));
        const dir = writeTempFiles({ "rules.yml": toYaml({ groups }), "tests.yml": toYaml({ rule_files: ["rules.yml"], evaluation_interval: "1m", tests }) });
        const result = run("promtool", ["test", "rules", "tests.yml"], { cwd: dir });
        assert.notEqual(result.status, 0, result.output);
    });

    for (const webhookUrl of [undefined, "https://hooks.example.com/alerts/T0123"]) {
        it(`renders an Alertmanager config that passes \`amtool check-config\` ${webhookUrl ? "with" : "without"} a webhook`, () => {
            requireTool("amtool", "prometheus-alertmanager");
            const text = renderAlertmanagerConfig({ webhookUrl });
            const dir = writeTempFiles({ "alertmanager.yml": text });
            const result = run("amtool", ["check-config", path.join(dir, "alertmanager.yml")]);
            assert.equal(result.status, 0, result.output);
            const config = parseYaml(text) as { route: { receiver: string; routes: { receiver: string; matchers: string[] }[] } };
            const expected = webhookUrl ? "oncall" : "null";
            assert.equal(config.route.receiver, expected);
            for (const matcher of ['severity="critical"', 'severity=~"warning|info"']) {
                const route = config.route.routes.find((r) => r.matchers.includes(matcher));
                assert.equal(route?.receiver, expected, `${matcher} routes to ${expected}`);
            }
            assert.equal(text.includes("hooks.example.com"), Boolean(webhookUrl));
        });
    }
});
