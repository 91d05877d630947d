/**
 * No dashboard panel is empty on a fresh, healthy stack: every panel's query, evaluated by
 * promtool on the series a fresh stack has (scrapes up, probes succeeding, the probes' own 200s
 * through the ingress, host and Postgres metrics; no error, no 401, no backup yet), returns data.
 * Each panel becomes an `absent(<query>)` alert that must stay quiet.
 */
import { strict as assert } from "assert";
import { stringify as toYaml } from "yaml";
import { STACKS, dashboardExprs } from "./fixtures/monitoring-stacks";
import { StackUnderTest, ingressMetricNames, requestLabels } from "./fixtures/promtool/alert-cases";
import { requireTool, run, synth, writeTempFiles } from "./helpers";

/** The series of a fresh stack that is healthy: producer names and labels as in alert-cases.ts. */
function freshStackSeries(stack: StackUnderTest): { series: string; values: string }[] {
    const series = [
        { series: 'up{job="prometheus", instance="localhost:9090"}', values: "1x20" },
        { series: 'up{job="postgres-exporter", instance="postgres-exporter:9187"}', values: "1x20" },
        { series: 'probe_success{job="blackbox-http", instance="http://archon-server:8181/health"}', values: "1x20" },
        { series: 'probe_success{job="blackbox-public", instance="https://archon.example.com/"}', values: "1x20" },
        { series: 'node_cpu_seconds_total{instance="node-exporter:9100", cpu="0", mode="idle"}', values: "0+50x20" },
        { series: 'node_memory_MemAvailable_bytes{instance="node-exporter:9100"}', values: "50x20" },
        { series: 'node_memory_MemTotal_bytes{instance="node-exporter:9100"}', values: "100x20" },
        { series: 'pg_stat_database_numbackends{job="postgres-exporter", instance="postgres-exporter:9187", datid="5", datname="postgres"}', values: "7x20" },
    ];
    if (stack.ingress !== "none") {
        // Only the public probes' requests: 200s, answered fast.
        const { requests, bucket } = ingressMetricNames(stack);
        const ok = requestLabels(stack, "archon", "200").labels;
        series.push(
            { series: `${requests}{${ok}}`, values: "0+2x20" },
            { series: `${bucket}{${ok}, le="0.05"}`, values: "0+2x20" },
            { series: `${bucket}{${ok}, le="+Inf"}`, values: "0+2x20" },
        );
    }
    return series;
}

function promtoolPanels(exprs: string[], stack: StackUnderTest): { status: number | null; output: string } {
    const rules = { groups: [{ name: "panels", rules: exprs.map((expr, i) => ({ alert: `PanelEmpty${i}`, expr: `absent(${expr})`, annotations: { summary: expr } })) }] };
    const tests = {
        rule_files: ["panels.yml"],
        evaluation_interval: "1m",
        tests: [{ interval: "1m", input_series: freshStackSeries(stack), alert_rule_test: exprs.map((_, i) => ({ eval_time: "10m", alertname: `PanelEmpty${i}`, exp_alerts: [] })) }],
    };
    const dir = writeTempFiles({ "panels.yml": toYaml(rules, { lineWidth: 0 }), "tests.yml": toYaml(tests, { lineWidth: 0 }) });
    return run("promtool", ["test", "rules", "tests.yml"], { cwd: dir });
}

describe("Grafana dashboard on a fresh stack", () => {
    for (const { title, stack, overrides, under } of STACKS) {
        it(`${title}: every panel has data`, async () => {
            requireTool("promtool", "prometheus");
            const exprs = dashboardExprs(await synth(stack, overrides));
            assert.ok(exprs.length >= (under.ingress === "none" ? 5 : 9));
            const result = promtoolPanels(exprs, under);
            assert.equal(result.status, 0, result.output);
        });
    }

    it("finds a panel that would be empty (the check can fail)", () => {
        requireTool("promtool", "prometheus");
        const result = promtoolPanels(['sum(rate(traefik_router_requests_total{code=~"5.."}[5m]))'], STACKS[1].under);
        assert.notEqual(result.status, 0, result.output);
    });
});
