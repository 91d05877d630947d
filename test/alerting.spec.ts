/**
 * Alerts reach a person, and silence is noticed (issue 25.8): every receiver kind renders a
 * configuration the real amtool accepts; production without a receiver or a dead man's switch is
 * warned about in the synth itself; and the real Alertmanager (Debian's prometheus-alertmanager)
 * with the configuration the synth renders, fed by the real Prometheus evaluating the rendered
 * rules, delivers a firing alert to Slack and the webhook, Watchdog to the dead man's switch, and
 * neither info alerts nor InfoInhibitor to anyone. The receivers are stubs on loopback (Slack's
 * over https, with a CA Alertmanager is told to trust).
 */
import { strict as assert } from "assert";
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as os from "os";
import * as path from "path";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { AlertReceivers, alertingGaps, renderAlertmanagerConfig } from "../components/services/alert-rules";
import { PROJECT_DIR } from "../scripts/lib/stack-config";
import { freePort, requireTool, run, synth, writeTempFiles } from "./helpers";

const SLACK = "https://hooks.slack.com/services/T0000/B0000/XXXXXXXX";
const EMAIL: AlertReceivers["email"] = { to: ["oncall@example.com", "ops@example.com"], from: "alerts@example.com", smarthost: "smtp.example.com:587", username: "alerts", password: "smtp-password-fixture" };

interface Route { receiver: string; matchers?: string[]; routes?: Route[]; repeat_interval?: string }
interface AlertmanagerYaml { route: Route; receivers: Record<string, unknown>[]; inhibit_rules: { source_matchers?: string[]; target_matchers: string[]; equal?: string[] }[] }

function amtoolCheck(text: string): { status: number | null; output: string } {
    const dir = writeTempFiles({ "alertmanager.yml": text });
    return run("amtool", ["check-config", path.join(dir, "alertmanager.yml")]);
}

describe("alerting: receivers, the dead man's switch and InfoInhibitor (issue 25.8)", () => {
    const cases: [string, AlertReceivers, string[]][] = [
        ["nothing set", {}, []],
        ["Slack", { slack: { webhookUrl: SLACK, channel: "#ops" } }, ["slack_configs"]],
        ["e-mail through the stack's SMTP server", { email: EMAIL }, ["email_configs"]],
        ["a generic webhook", { webhookUrl: "https://hooks.example.com/alertmanager" }, ["webhook_configs"]],
        ["all three and a dead man's switch", { slack: { webhookUrl: SLACK }, email: EMAIL, webhookUrl: "https://hooks.example.com/a", deadMansSwitchUrl: "https://hc-ping.com/4b1a" }, ["slack_configs", "email_configs", "webhook_configs"]],
    ];
    for (const [title, receivers, integrations] of cases) {
        it(`${title}: amtool check-config accepts it; alerts go to ${integrations.length ? "oncall" : "nobody"}`, () => {
            requireTool("amtool", "prometheus-alertmanager");
            const text = renderAlertmanagerConfig(receivers);
            const check = amtoolCheck(text);
            assert.equal(check.status, 0, check.output);
            const config = parseYaml(text) as AlertmanagerYaml;
            const oncall = config.receivers.find((r) => r.name === "oncall");
            assert.deepEqual(Object.keys(oncall ?? {}).filter((k) => k !== "name").sort(), [...integrations].sort());
            assert.equal(config.route.receiver, integrations.length ? "oncall" : "null");
            const watchdog = config.route.routes!.find((r) => r.matchers?.includes('alertname="Watchdog"'))!;
            assert.equal(watchdog.receiver, receivers.deadMansSwitchUrl ? "deadmansswitch" : "null");
            assert.equal(config.route.routes!.find((r) => r.matchers?.includes('alertname="InfoInhibitor"'))?.receiver, "null");
            assert.ok(config.inhibit_rules.some((r) => r.source_matchers?.includes('alertname="InfoInhibitor"') && r.target_matchers.includes('severity="info"') && r.equal?.includes("namespace")));
        });
    }

    it("amtool refuses a broken one (the check can fail)", () => {
        requireTool("amtool", "prometheus-alertmanager");
        const broken = renderAlertmanagerConfig({ webhookUrl: "https://hooks.example.com/a" }).replace("receiver: oncall", "receiver: on-call");
        assert.notEqual(amtoolCheck(broken).status, 0);
    });

    it("production without a receiver or a switch is warned about loudly, by the synth too (staging's stays quiet: newcomer.spec.ts)", () => {
        const synthRun = (stack: string) => spawnSync(process.execPath, ["--require", "./scripts/lib/preflight.js", "--require", "ts-node/register/transpile-only", "scripts/synth.ts", "--stack", stack, "--out", fs.mkdtempSync(path.join(os.tmpdir(), "archon-alerting-"))], { cwd: PROJECT_DIR, encoding: "utf8", timeout: 240_000 });
        const production = synthRun("production");
        assert.equal(production.status, 0, production.stderr);
        assert.match(production.stderr, /PRODUCTION ALERTS REACH NOBODY: no alert receiver .*every alert is dropped; no dead man's switch \(alertDeadMansSwitchUrl\)/);
        assert.deepEqual(alertingGaps({ slack: { webhookUrl: SLACK }, deadMansSwitchUrl: "https://hc-ping.com/x" }), []);
    });

    it("refuses e-mail alerts without an SMTP server, and a Slack channel without a Slack webhook, naming the key", async () => {
        await assert.rejects(synth("staging", { alertEmailTo: ["oncall@example.com"] }), /alertEmailTo.*smtpHost/);
        await assert.rejects(synth("staging", { alertSlackChannel: "#ops" }), /alertSlackChannel.*alertSlackWebhookUrl/);
    });

    it("the stack outputs say where alerts go, without a URL", async () => {
        const result = await synth("staging", { alertSlackWebhookUrl: SLACK, alertDeadMansSwitchUrl: "https://hc-ping.com/4b1a" });
        assert.deepEqual(result.outputs.alerting, { receivers: ["slack"], deadMansSwitch: "Watchdog every 5m", gaps: [] });
        const production = await synth("production");
        assert.equal((production.outputs.alerting as { gaps: string[] }).gaps.length, 2);
    });

    describe("the real Alertmanager and Prometheus with the rendered configuration and rules", function () {
        this.timeout(240_000);
        const processes: ChildProcess[] = [];
        const received: { path: string; body: { alerts?: { labels: Record<string, string>; status: string }[] } }[] = [];
        let root: string;
        let stubs: (http.Server | https.Server)[] = [];
        /** What Alertmanager holds at the end (api/v2/alerts): each alert and whether it was suppressed, by what. */
        let held: { labels: Record<string, string>; status: { state: string; inhibitedBy: string[] } }[] = [];

        before(async () => {
            requireTool("prometheus-alertmanager", "prometheus-alertmanager");
            requireTool("prometheus", "prometheus");
            requireTool("openssl", "openssl");
            root = fs.mkdtempSync(path.join(os.tmpdir(), "archon-alerting-"));
            // Slack is https: a certificate for 127.0.0.1 whose CA Alertmanager trusts (Go reads SSL_CERT_FILE).
            const made = run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                "-keyout", path.join(root, "key.pem"), "-out", path.join(root, "cert.pem")]);
            assert.equal(made.status, 0, made.output);
            const record = (req: http.IncomingMessage, res: http.ServerResponse) => {
                let body = "";
                req.on("data", (c: Buffer) => { body += c.toString(); });
                req.on("end", () => {
                    received.push({ path: req.url ?? "", body: JSON.parse(body || "{}") });
                    res.writeHead(200).end("ok");
                });
            };
            const webhookPort = await freePort();
            const slackPort = await freePort();
            const plain = http.createServer(record);
            const tls = https.createServer({ key: fs.readFileSync(path.join(root, "key.pem")), cert: fs.readFileSync(path.join(root, "cert.pem")) }, record);
            await new Promise<void>((resolve) => plain.listen(webhookPort, "127.0.0.1", resolve));
            await new Promise<void>((resolve) => tls.listen(slackPort, "127.0.0.1", resolve));
            stubs = [plain, tls];

            const result = await synth("staging", {
                alertSlackWebhookUrl: `https://127.0.0.1:${slackPort}/slack`,
                alertWebhookUrl: `http://127.0.0.1:${webhookPort}/webhook`,
                alertDeadMansSwitchUrl: `http://127.0.0.1:${webhookPort}/dead-mans-switch`,
            });
            const rendered = Object.entries(result.files).find(([name]) => name.endsWith("alertmanager.yml"));
            assert.ok(rendered && rendered[0].startsWith("project/secrets/"), "with receivers the configuration is a secret file");
            const rules = result.files["project/config/prometheus/etc_prometheus_rules_archon.yml"];
            assert.match(rules, /alert: Watchdog/);
            const amPort = await freePort();
            const promPort = await freePort();
            fs.writeFileSync(path.join(root, "alertmanager.yml"), rendered[1]);
            fs.writeFileSync(path.join(root, "archon.yml"), rules);
            // An info alert as kube-prometheus-stack's info rules raise them, alone in its namespace.
            fs.writeFileSync(path.join(root, "drill.yml"), toYaml({ groups: [{ name: "drill", rules: [{ alert: "DrillInfoOnly", expr: 'vector(1)', labels: { severity: "info", namespace: "monitoring" } }] }] }));
            fs.writeFileSync(path.join(root, "prometheus.yml"), toYaml({
                global: { evaluation_interval: "1s" },
                rule_files: ["archon.yml", "drill.yml"],
                alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${amPort}`] }] }] },
            }));
            const start = (cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) => {
                const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
                let log = "";
                child.stderr?.on("data", (d: Buffer) => { log += d.toString(); });
                processes.push(child);
                return () => log;
            };
            start("prometheus-alertmanager", ["--config.file=alertmanager.yml", `--storage.path=${path.join(root, "am")}`, `--web.listen-address=127.0.0.1:${amPort}`, "--cluster.listen-address="], { SSL_CERT_FILE: path.join(root, "cert.pem") });
            // Alerts are resent every second, not every minute: the first send may precede Alertmanager's start.
            start("prometheus", ["--config.file=prometheus.yml", `--storage.tsdb.path=${path.join(root, "tsdb")}`, `--web.listen-address=127.0.0.1:${promPort}`, "--rules.alert.resend-delay=1s"]);
            // A critical alert, as Prometheus posts it (api/v2/alerts), once Alertmanager answers.
            const critical = JSON.stringify([{ labels: { alertname: "PostgresDown", severity: "critical", instance: "postgres-exporter:9187", job: "postgres-exporter" }, annotations: { summary: "Postgres behind postgres-exporter:9187 does not answer" } }]);
            for (let i = 0; i < 60; i++) {
                const posted = await new Promise<number>((resolve) => {
                    const req = http.request({ host: "127.0.0.1", port: amPort, path: "/api/v2/alerts", method: "POST", headers: { "content-type": "application/json" } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
                    req.on("error", () => resolve(0));
                    req.end(critical);
                });
                if (posted === 200) break;
                await new Promise((r) => setTimeout(r, 500));
            }
            // Past the oncall route's group_wait (30 s), with room for a second evaluation.
            const deadline = Date.now() + 60_000;
            while (Date.now() < deadline && !received.some((r) => r.path === "/webhook")) await new Promise((r) => setTimeout(r, 500));
            await new Promise((r) => setTimeout(r, 5_000));
            held = await new Promise((resolve, reject) => {
                http.get({ host: "127.0.0.1", port: amPort, path: "/api/v2/alerts" }, (res) => {
                    let body = "";
                    res.on("data", (c: Buffer) => { body += c.toString(); });
                    res.on("end", () => resolve(JSON.parse(body)));
                }).on("error", reject);
            });
        });
        after(async () => {
            for (const child of processes) child.kill("SIGTERM");
            for (const stub of stubs) stub.close();
            if (root) fs.rmSync(root, { recursive: true, force: true });
        });

        const alertsAt = (where: string) => received.filter((r) => r.path === where).flatMap((r) => r.body.alerts ?? []).map((a) => a.labels.alertname);

        it("delivers the firing critical alert to Slack (over https) and to the webhook", () => {
            assert.ok(alertsAt("/webhook").includes("PostgresDown"), JSON.stringify(received.map((r) => r.path)));
            assert.ok(received.some((r) => r.path === "/slack"), "Slack's incoming webhook got the notification");
        });

        it("sends Watchdog, raised by the rendered rule, to the dead man's switch and nowhere else", () => {
            assert.ok(alertsAt("/dead-mans-switch").includes("Watchdog"));
            assert.ok(!alertsAt("/webhook").includes("Watchdog"));
            assert.deepEqual([...new Set(alertsAt("/dead-mans-switch"))], ["Watchdog"]);
        });

        it("sends neither the info alert (inhibited by the rendered InfoInhibitor) nor InfoInhibitor itself", () => {
            // Both reached Alertmanager: the info alert is held back by the inhibition, not missing.
            const info = held.find((a) => a.labels.alertname === "DrillInfoOnly");
            const inhibitor = held.find((a) => a.labels.alertname === "InfoInhibitor");
            assert.ok(info && inhibitor, JSON.stringify(held.map((a) => a.labels.alertname)));
            assert.equal(info.status.state, "suppressed");
            assert.equal(info.status.inhibitedBy.length, 1);
            const everywhere = [...alertsAt("/webhook"), ...alertsAt("/dead-mans-switch")];
            assert.ok(!everywhere.includes("DrillInfoOnly"), everywhere.join(", "));
            assert.ok(!everywhere.includes("InfoInhibitor"), everywhere.join(", "));
        });
    });
});
