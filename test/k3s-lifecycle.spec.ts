/**
 * The k3s cluster over time (issue 26 items 3 and 4): certificates renewed before the 365 days run
 * out (a real bash + openssl run of the renewal step on generated certificates), the kubeconfig
 * fetched again after each renewal and when cp-1 is replaced, without replacing the Kubernetes
 * provider (and with it every object on the cluster), and servers kept: protected in production,
 * never replaced by a user-data edit, their URNs those of the baseline.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { CERTIFICATE_RENEWAL_DAYS, ETCD_SNAPSHOT_SCHEDULE, certificateWindow } from "../components/hetzner/k3s-cluster";
import { named, ofType, plainInputs, requireTool, run, synth } from "./helpers";
import { connectionAllowed, Pod } from "./routing/network-policy";
import { renderedObjects } from "./routing/traefik";

const COMMAND = "command:remote:Command";
const SERVER = "hcloud:index/server:Server";

interface RenewalRun { status: number | null; output: string; restarts: string[] }

/**
 * Runs the rendered renewal step in real bash with real openssl on certificates generated to expire
 * in `days` (per file); sudo runs the command as is, systemctl and k3s are stubs that record calls.
 */
function runRenewal(script: string, certificates: Record<string, number>): RenewalRun {
    requireTool("openssl", "openssl");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "k3s-certs-"));
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin);
    for (const [file, days] of Object.entries(certificates)) {
        const target = path.join(dir, "data", file);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        const made = run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${target}.key`, "-out", target, "-days", String(days), "-subj", "/CN=k3s"]);
        assert.equal(made.status, 0, made.output);
    }
    const stub = (name: string, body: string) => fs.writeFileSync(path.join(bin, name), `#!/usr/bin/env bash\n${body}\n`, { mode: 0o755 });
    stub("cloud-init", "exit 0");
    stub("sudo", 'exec "$@"');
    stub("systemctl", `echo "$*" >>"${dir}/systemctl"; exit 0`);
    stub("k3s", "exit 0");
    const file = path.join(dir, "renew.sh");
    fs.writeFileSync(file, script.replace("set -euo pipefail", `set -euo pipefail\nexport K3S_DATA_DIR='${path.join(dir, "data")}'`));
    const result = run("bash", [file], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
    const log = path.join(dir, "systemctl");
    const restarts = fs.existsSync(log) ? fs.readFileSync(log, "utf8").split("\n").filter((l) => l.startsWith("restart")) : [];
    fs.rmSync(dir, { recursive: true, force: true });
    return { status: result.status, output: result.output, restarts };
}

describe("k3s certificates and the kubeconfig outlive a year", () => {
    it("the renewal step restarts k3s only when a certificate expires within 90 days (k3s renews those when it starts)", async () => {
        const s = await synth("production");
        const script = plainInputs(named(s, COMMAND, "certificates-cp-1")).create as string;
        const fresh = runRenewal(script, { "server/tls/client-admin.crt": 365, "server/tls/server-ca.crt": 3650, "agent/client-kubelet.crt": 300 });
        assert.equal(fresh.status, 0, fresh.output);
        assert.deepEqual(fresh.restarts, [], fresh.output);
        const due = runRenewal(script, { "server/tls/client-admin.crt": 60, "server/tls/server-ca.crt": 3650, "server/tls/etcd/server-client.crt": 300 });
        assert.equal(due.status, 0, due.output);
        assert.deepEqual(due.restarts, ["restart k3s"], due.output);
        assert.match(due.output, /due: .*client-admin\.crt expires/);
        const etcdDue = runRenewal(script, { "server/tls/client-admin.crt": 300, "server/tls/etcd/peer-server-client.crt": 30 });
        assert.deepEqual(etcdDue.restarts, ["restart k3s"], etcdDue.output);
        const agent = runRenewal(plainInputs(named(s, COMMAND, "certificates-agent-1")).create, { "agent/serving-kubelet.crt": 10 });
        assert.deepEqual(agent.restarts, ["restart k3s-agent"], agent.output);
        assert.equal(CERTIFICATE_RENEWAL_DAYS, 90);
    });

    it("runs the renewal on every node, one at a time, servers first, then fetches the kubeconfig; each carries the month as a trigger", async () => {
        const s = await synth("production");
        const renewals = ofType(s, COMMAND).filter((r) => r.name.startsWith("certificates-"));
        const servers = ofType(s, SERVER).map((r) => r.name);
        assert.deepEqual(renewals.map((r) => r.name.slice("certificates-".length)).sort(), [...servers].sort(), "one renewal per node");
        const agents = servers.filter((n) => n.startsWith("agent-")).sort();
        assert.ok(agents.length > 0);
        const order = ["cp-1", "cp-2", "cp-3", ...agents];
        for (let i = 1; i < order.length; i++) {
            const current = named(s, COMMAND, `certificates-${order[i]}`);
            assert.ok(current.options.dependsOn?.includes(named(s, COMMAND, `certificates-${order[i - 1]}`).urn), `${order[i]} waits for ${order[i - 1]}`);
        }
        const window = certificateWindow();
        assert.match(window, /^\d{4}-\d{2}$/);
        for (const r of renewals) assert.ok((plainInputs(r).triggers as unknown[]).includes(window), r.name);
        const kubeconfig = named(s, COMMAND, "kubeconfig");
        assert.ok((plainInputs(kubeconfig).triggers as unknown[]).includes(window));
        for (const r of renewals) assert.ok(kubeconfig.options.dependsOn?.includes(r.urn), `the kubeconfig is fetched after ${r.name}`);
        assert.equal(certificateWindow(new Date("2027-01-31T23:59:59Z")), "2027-01");
        assert.equal(certificateWindow(new Date("2027-02-01T00:00:00Z")), "2027-02");
    });

    it("gives the Kubernetes provider a stable clusterIdentifier, so a re-fetched kubeconfig updates it instead of replacing every object", async () => {
        const s = await synth("production");
        const provider = named(s, "pulumi:providers:kubernetes", "cluster");
        assert.equal(plainInputs(provider).clusterIdentifier, "k3s-archon-production");
    });
});

describe("an alert before a node certificate runs out", () => {
    it("blackbox probes every node's kubelet certificate (TLS, no verification), which CertificateExpiringSoon reads; only blackbox may reach the kubelets", async () => {
        const s = await synth("production");
        const objects = renderedObjects(s.files);
        const probe = objects.find((o) => o.kind === "Probe" && o.metadata.name === "blackbox-tls");
        assert.ok(probe, "a blackbox-tls Probe");
        const nodes = ofType(s, SERVER).map((r) => plainInputs(r).networks[0].ip as string);
        assert.deepEqual([...probe.spec!.targets.staticConfig.static].sort(), nodes.map((ip) => `${ip}:10250`).sort());
        assert.equal(probe.spec!.module, "tls_connect");
        const files = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === "blackbox-exporter-files") as unknown as { data: Record<string, string> };
        const blackboxConfig = parseYaml(Object.values(files.data)[0]) as { modules: Record<string, { tcp: { tls?: boolean; tls_config?: { insecure_skip_verify: boolean } } }> };
        assert.equal(blackboxConfig.modules.tls_connect.tcp.tls, true);
        assert.deepEqual(blackboxConfig.modules.tls_connect.tcp.tls_config, { insecure_skip_verify: true });
        const rules = objects.find((o) => o.kind === "PrometheusRule")!.spec!.groups.flatMap((g: { rules: { alert?: string; expr?: string }[] }) => g.rules);
        assert.match(rules.find((r: { alert?: string }) => r.alert === "CertificateExpiringSoon").expr, /min by \(instance\) \(probe_ssl_earliest_cert_expiry\)/);
        const pod = (name: string): Pod => {
            const w = objects.find((o) => o.kind === "Deployment" && o.metadata.name === name)!;
            return { namespace: w.metadata.namespace!, labels: w.spec!.template.metadata.labels };
        };
        for (const ip of nodes) {
            assert.equal(connectionAllowed(objects, pod("blackbox-exporter"), { ip }, 10250), true, ip);
            assert.equal(connectionAllowed(objects, pod("blackbox-exporter"), { ip }, 6443), false, `${ip}:6443`);
            assert.equal(connectionAllowed(objects, pod("archon-server"), { ip }, 10250), false, `archon-server -> ${ip}`);
        }
    });
});

describe("etcd snapshots to object storage (k3s --etcd-s3)", () => {
    const BACKUP = { backupAccessKeyId: "AKIDEXAMPLE", backupSecretAccessKey: "etcd-s3-Secret-1" };

    it("with the backup credentials: each server, one at a time, gets the settings as a secret on stdin, in the backups' bucket under etcd/<stack>", async () => {
        const s = await synth("production", BACKUP);
        const steps = ["cp-1", "cp-2", "cp-3"].map((n) => named(s, COMMAND, `etcd-snapshots-${n}`));
        for (const [i, step] of steps.entries()) {
            assert.ok("$secret" in (step.inputs.stdin as object), `${step.name}: settings travel as a secret`);
            const settings = parseYaml(plainInputs(step).stdin as string) as Record<string, unknown>;
            assert.deepEqual(settings, {
                "etcd-snapshot-schedule-cron": ETCD_SNAPSHOT_SCHEDULE.cron,
                "etcd-snapshot-retention": ETCD_SNAPSHOT_SCHEDULE.retention,
                "etcd-s3": true,
                "etcd-s3-endpoint": "fsn1.your-objectstorage.com",
                "etcd-s3-region": "fsn1",
                "etcd-s3-bucket": "archon-backups-production",
                "etcd-s3-folder": "etcd/production",
                "etcd-s3-access-key": "AKIDEXAMPLE",
                "etcd-s3-secret-key": "etcd-s3-Secret-1",
            });
            assert.ok(!String(plainInputs(step).create).includes("etcd-s3-Secret-1"), "never on the command line");
            if (i > 0) assert.ok(step.options.dependsOn?.includes(steps[i - 1].urn), `${step.name} waits for ${steps[i - 1].name}`);
        }
        assert.ok(named(s, COMMAND, "certificates-cp-1").options.dependsOn?.includes(steps[2].urn));
        assert.equal(ofType(await synth("production"), COMMAND).filter((r) => r.name.startsWith("etcd-snapshots-")).length, 0, "no credentials, no upload step");
    });

    it("writes the settings to a root-only drop-in and restarts k3s only when they changed (a real bash run)", async () => {
        const script = plainInputs(named(await synth("production", BACKUP), COMMAND, "etcd-snapshots-cp-1")).create as string;
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "k3s-etcd-"));
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin);
        const stub = (name: string, body: string) => fs.writeFileSync(path.join(bin, name), `#!/usr/bin/env bash\n${body}\n`, { mode: 0o755 });
        stub("cloud-init", "exit 0");
        stub("sudo", 'exec "$@"');
        stub("systemctl", `echo "$*" >>"${dir}/systemctl"`);
        stub("k3s", "exit 0");
        const file = path.join(dir, "step.sh");
        fs.writeFileSync(file, script.replace("set -euo pipefail", `set -euo pipefail\nexport K3S_CONFIG_DIR='${path.join(dir, "etc")}'`));
        const once = (input: string) => run("bash", [file], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, input });
        const restarts = () => (fs.existsSync(path.join(dir, "systemctl")) ? fs.readFileSync(path.join(dir, "systemctl"), "utf8").trim().split("\n") : []);
        const first = once("etcd-s3: true\n");
        assert.equal(first.status, 0, first.output);
        const dropIn = path.join(dir, "etc", "config.yaml.d", "50-archon-etcd-s3.yaml");
        assert.equal(fs.readFileSync(dropIn, "utf8"), "etcd-s3: true\n");
        assert.equal(fs.statSync(dropIn).mode & 0o777, 0o600);
        assert.deepEqual(restarts(), ["restart k3s"]);
        assert.equal(once("etcd-s3: true\n").status, 0);
        assert.deepEqual(restarts(), ["restart k3s"], "unchanged settings: no restart");
        assert.equal(once("etcd-s3: true\netcd-s3-secret-key: rotated\n").status, 0);
        assert.deepEqual(restarts(), ["restart k3s", "restart k3s"], "a rotated key: one restart");
        fs.rmSync(dir, { recursive: true, force: true });
    });
});

describe("k3s servers are kept", () => {
    it("production: servers are protected (a replacing preview stops), every node ignores user-data edits", async () => {
        const s = await synth("production");
        const servers = ofType(s, SERVER);
        assert.ok(servers.length >= 4);
        for (const server of servers) {
            assert.deepEqual(server.options.ignoreChanges, ["userData"], server.name);
            assert.equal(server.options.protect ?? false, server.name.startsWith("cp-"), server.name);
        }
    });

    it("staging's Compose host keeps acting on its user-data and is not protected by Pulumi", async () => {
        const server = named(await synth("staging"), SERVER, "compose");
        assert.equal(server.options.ignoreChanges, undefined);
        assert.equal(server.options.protect, undefined);
    });
});
