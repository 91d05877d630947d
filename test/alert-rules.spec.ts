import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { ALERT_GROUPS, renderAlertmanagerConfig, renderRuleFile } from "../components/services/alert-rules";
import { requireTool, run, writeTempFiles } from "./helpers";

const UNIT_TESTS = path.join(__dirname, "fixtures", "promtool", "alert-rules.test.yml");

interface UnitTestGroup {
    name: string;
    alert_rule_test: { alertname: string; exp_alerts: unknown[] }[];
}

describe("alert rules (promtool, amtool)", () => {
    const allAlerts = ALERT_GROUPS.flatMap((g) => g.rules);

    it("covers every alert the issue asks for, each with for, severity and summary", () => {
        const names = allAlerts.map((r) => r.alert);
        for (const required of ["ServiceDown", "HighErrorRate", "HighLatencyP95", "HostCpuHigh", "HostMemoryHigh", "HostDiskFull",
            "PostgresDown", "PostgresConnectionsNearMax", "CertificateExpiringSoon", "AuthFailuresHigh"]) {
            assert.ok(names.includes(required), `missing alert ${required}`);
        }
        const rendered = parseYaml(renderRuleFile()) as { groups: { rules: { for?: string; labels?: { severity?: string }; annotations?: { summary?: string } }[] }[] };
        for (const rule of rendered.groups.flatMap((g) => g.rules)) {
            assert.match(rule.for ?? "", /^\d+[smh]$/);
            assert.ok(["critical", "warning"].includes(rule.labels?.severity ?? ""));
            assert.ok((rule.annotations?.summary ?? "").length > 10);
        }
    });

    it("passes `promtool check rules`", () => {
        requireTool("promtool", "prometheus");
        const dir = writeTempFiles({ "rules.yml": renderRuleFile() });
        const result = run("promtool", ["check", "rules", path.join(dir, "rules.yml")]);
        assert.equal(result.status, 0, result.output);
        assert.match(result.output, new RegExp(`SUCCESS: ${allAlerts.length} rules found`));
    });

    it("has a promtool unit test that fires AND one that stays quiet for every alert", () => {
        const tests = (parseYaml(fs.readFileSync(UNIT_TESTS, "utf8")) as { tests: UnitTestGroup[] }).tests;
        for (const rule of allAlerts) {
            const cases = tests.flatMap((t) => t.alert_rule_test).filter((c) => c.alertname === rule.alert);
            assert.ok(cases.some((c) => c.exp_alerts.length > 0), `${rule.alert}: no test where it fires`);
            assert.ok(cases.some((c) => c.exp_alerts.length === 0), `${rule.alert}: no test where it stays quiet`);
        }
    });

    it("passes `promtool test rules` on synthetic series", () => {
        requireTool("promtool", "prometheus");
        const dir = writeTempFiles({ "rules.yml": renderRuleFile(), "alert-rules.test.yml": fs.readFileSync(UNIT_TESTS, "utf8") });
        const result = run("promtool", ["test", "rules", "alert-rules.test.yml"], { cwd: dir });
        assert.equal(result.status, 0, result.output);
    });

    for (const webhookUrl of [undefined, "https://hooks.example.com/alerts/T0123"]) {
        it(`renders an Alertmanager config that passes \`amtool check-config\` ${webhookUrl ? "with" : "without"} a webhook`, () => {
            requireTool("amtool", "prometheus-alertmanager");
            const text = renderAlertmanagerConfig({ webhookUrl });
            const dir = writeTempFiles({ "alertmanager.yml": text });
            const result = run("amtool", ["check-config", path.join(dir, "alertmanager.yml")]);
            assert.equal(result.status, 0, result.output);
            const config = parseYaml(text) as { route: { receiver: string; routes: { receiver: string; matchers: string[] }[] } };
            const expected = webhookUrl ? "webhook" : "null";
            assert.equal(config.route.receiver, expected);
            for (const severity of ["critical", "warning"]) {
                const route = config.route.routes.find((r) => r.matchers.includes(`severity="${severity}"`));
                assert.equal(route?.receiver, expected, `severity ${severity} routes to ${expected}`);
            }
            assert.equal(text.includes("hooks.example.com"), Boolean(webhookUrl));
        });
    }
});
