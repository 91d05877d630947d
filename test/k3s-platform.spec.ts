/**
 * The production cluster's platform layer, read from the synth: the k3s pod and Service ranges
 * Archon's internal API admits, the Hetzner CCM configured with the private network, every
 * workload, claim and custom resource ordered after the add-ons it needs, stateful add-ons safe
 * across upgrades, one log collector per node, and PROXY protocol agreed between the Hetzner load
 * balancer and the ingress controller (the per-client rate limit's client address).
 */
import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import { ConfigError, loadConfig } from "../config";
import { NETWORK_RANGE, HOSTS_SUBNET } from "../components/hetzner/network";
import {
    ARCHON_INTERNAL_RANGE, DOCKER_DEFAULT_BRIDGE, K3S_CLUSTER_CIDR, K3S_CLUSTER_DNS, K3S_SERVICE_CIDR, cidrContains, cidrsOverlap,
} from "../components/hetzner/pod-network";
import { K3S_TRAEFIK } from "../components/kubernetes/ingress";
import { K3S_INSTALLERS } from "../components/hetzner/k3s-installers";
import { PROJECT_DIR, stackConfig } from "../scripts/lib/stack-config";
import { ResourceRecord, SynthResult } from "../scripts/lib/synthesize";
import { KUBECONFIG, named, ofType, plainInputs, run, synth } from "./helpers";

const RELEASE = "kubernetes:helm.sh/v3:Release";
const COMMAND = "command:remote:Command";
const CUSTOM_RESOURCE_TYPE = /^kubernetes:(monitoring\.coreos\.com|cert-manager\.io|traefik\.io|helm\.cattle\.io)\//;
const TOKEN = { hcloudTokenForCluster: "test-hcloud-token-0123456789" };

/** Every resource a resource waits for: its dependsOn, transitively, and whatever its ancestors wait for. */
function waitsFor(resources: ResourceRecord[], start: ResourceRecord): Set<string> {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const seen = new Set<string>();
    const queue = [start.urn];
    while (queue.length > 0) {
        const record = byUrn.get(queue.pop()!);
        if (!record) continue;
        for (const next of [...(record.options.dependsOn ?? []), record.parent].filter((u) => u !== "")) {
            if (!seen.has(next)) {
                seen.add(next);
                queue.push(next);
            }
        }
    }
    return seen;
}

function releaseUrn(s: SynthResult, name: string): string {
    return named(s, RELEASE, name).urn;
}

/** The Kubernetes objects of the stack's workloads, monitoring and ingress (everything but the add-ons themselves). */
function clusterObjects(s: SynthResult): ResourceRecord[] {
    const addons = s.resources.filter((r) => r.type === "archon:infra:ClusterAddons").map((r) => r.urn);
    return s.resources.filter((r) => r.custom && r.type.startsWith("kubernetes:") && !addons.includes(r.parent));
}

function traefikArguments(s: SynthResult): string[] {
    const file = s.files[`kubernetes/${K3S_TRAEFIK.namespace}/HelmChartConfig-${K3S_TRAEFIK.name}.yaml`];
    const config = parseYaml(file) as { spec: { valuesContent: string } };
    return (parseYaml(config.spec.valuesContent) as { additionalArguments: string[] }).additionalArguments;
}

function proxyProtocolTrust(args: string[]): Record<string, string[]> {
    return Object.fromEntries(args.flatMap((a) => {
        const match = /^--entryPoints\.([^.]+)\.proxyProtocol\.trustedIPs=(.*)$/.exec(a);
        return match ? [[match[1], match[2].split(",")]] : [];
    }));
}

/** What the stub installer the stubbed `curl` downloads contains. */
const STUB_INSTALLER = "# installer\n";

interface InstallRun {
    status: number;
    output: string;
    /** URLs the script fetched with curl. */
    downloads: string[];
    /** Each sudo call's arguments, in order. */
    sudoCalls: string[][];
}

/**
 * Runs a rendered k3s install command in real bash with the host's tools stubbed (cloud-init, ip,
 * curl, sudo); sha256sum is the real one. The stubbed curl "downloads" STUB_INSTALLER, whose hash
 * is not the recorded one of the real install.sh: with `installerHash: "stub"` the test puts the
 * stub's sha256 where the rendered command carries the recorded one (the check then passes, the
 * way it does on a node for the real installer); with "recorded" the command runs as rendered and
 * must refuse the (for it, tampered) download.
 */
function runInstall(script: string, privateIp: string, installerHash: "stub" | "recorded"): InstallRun {
    const recorded = /^export K3S_INSTALLER_SHA256='([0-9a-f]{64})'$/m.exec(script);
    assert.ok(recorded, "the rendered command carries the installer's sha256");
    assert.ok(Object.values(K3S_INSTALLERS).some((row) => row.sha256 === recorded[1]), "the sha256 is a verified row's");
    const stubHash = createHash("sha256").update(STUB_INSTALLER).digest("hex");
    const rendered = installerHash === "stub" ? script.replace(recorded[0], `export K3S_INSTALLER_SHA256='${stubHash}'`) : script;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "k3s-install-"));
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin);
    const stub = (name: string, body: string) => fs.writeFileSync(path.join(bin, name), `#!/usr/bin/env bash\n${body}\n`, { mode: 0o755 });
    stub("cloud-init", "exit 0");
    stub("ip", `echo "3: enp7s0    inet ${privateIp}/32 brd ${privateIp} scope global dynamic enp7s0"`);
    const stubInstaller = path.join(dir, "stub-installer.sh");
    fs.writeFileSync(stubInstaller, STUB_INSTALLER);
    stub("curl", `out=""
for a in "$@"; do case "$a" in https://*) echo "$a" >>"${dir}/downloads" ;; esac; done
while [ $# -gt 0 ]; do if [ "$1" = -o ]; then out="$2"; fi; shift; done
cp "${stubInstaller}" "$out"`);
    // Each sudo call: its arguments, one per line, in its own file; stdin (the token) is drained.
    stub("sudo", `n=$(ls "${dir}"/sudo-* 2>/dev/null | wc -l); printf '%s\\n' "$@" >"${dir}/sudo-$n"; cat >/dev/null`);
    const scriptFile = path.join(dir, "install.sh");
    fs.writeFileSync(scriptFile, rendered);
    const result = run("bash", [scriptFile], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, input: "token\n" });
    const calls = fs.readdirSync(dir).filter((f) => f.startsWith("sudo-")).sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
    const sudoCalls = calls.map((f) => fs.readFileSync(path.join(dir, f), "utf8").trimEnd().split("\n"));
    const downloadsFile = path.join(dir, "downloads");
    const downloads = fs.existsSync(downloadsFile) ? fs.readFileSync(downloadsFile, "utf8").trim().split("\n") : [];
    fs.rmSync(dir, { recursive: true, force: true });
    return { status: result.status ?? -1, output: result.output, downloads, sudoCalls };
}

/**
 * Runs a rendered k3s install command (see runInstall) with its checksum check passing, and
 * returns the arguments it hands the k3s installer.
 */
function installerArguments(script: string, privateIp: string): string[] {
    const result = runInstall(script, privateIp, "stub");
    assert.equal(result.status, 0, result.output);
    const last = result.sudoCalls[result.sudoCalls.length - 1];
    // sudo env -u INSTALL_K3S_SKIP_DOWNLOAD INSTALL_K3S_VERSION=... sh <installer> <k3s arguments...>
    assert.equal(last[0], "env", `the last sudo call runs the installer: ${last.join(" ")}`);
    return last.slice(last.indexOf("sh") + 2);
}

function flagValue(args: string[], flag: string): string | undefined {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
}

describe("k3s pod and Service ranges (Archon's internal API admits 172.16.0.0/12 only)", () => {
    it("chooses ranges inside 172.16.0.0/12, clear of the Hetzner network, Docker's bridge, Hetzner's gateway and each other", () => {
        for (const cidr of [K3S_CLUSTER_CIDR, K3S_SERVICE_CIDR]) {
            assert.ok(cidrContains(ARCHON_INTERNAL_RANGE, cidr), `${cidr} is outside ${ARCHON_INTERNAL_RANGE}`);
            for (const other of [NETWORK_RANGE, DOCKER_DEFAULT_BRIDGE, "172.31.1.1/32"]) assert.ok(!cidrsOverlap(cidr, other), `${cidr} overlaps ${other}`);
        }
        assert.ok(!cidrsOverlap(K3S_CLUSTER_CIDR, K3S_SERVICE_CIDR));
        assert.ok(cidrContains(K3S_SERVICE_CIDR, `${K3S_CLUSTER_DNS}/32`), "CoreDNS's address lies in the Service range");
    });

    it("the range checks can fail", () => {
        assert.ok(!cidrContains(ARCHON_INTERNAL_RANGE, "10.42.0.0/16"));
        assert.ok(!cidrContains(ARCHON_INTERNAL_RANGE, "172.0.0.0/8"));
        assert.ok(cidrsOverlap("172.17.0.0/16", "172.17.5.0/24"));
        assert.ok(!cidrContains("172.16.0.0/12", "not-a-cidr"));
    });

    it("hands the installer --cluster-cidr/--service-cidr/--cluster-dns on servers only (a real bash run of the rendered command)", async () => {
        const s = await synth("production");
        for (const name of ["install-cp-1", "install-cp-2"]) {
            const args = installerArguments(plainInputs(named(s, COMMAND, name)).create, name === "install-cp-1" ? "10.0.1.11" : "10.0.1.12");
            assert.equal(args[0], "server");
            assert.equal(flagValue(args, "--cluster-cidr"), K3S_CLUSTER_CIDR, args.join(" "));
            assert.equal(flagValue(args, "--service-cidr"), K3S_SERVICE_CIDR);
            assert.equal(flagValue(args, "--cluster-dns"), K3S_CLUSTER_DNS);
        }
        const agent = installerArguments(plainInputs(named(s, COMMAND, "install-agent-1")).create, "10.0.1.101");
        assert.equal(agent[0], "agent");
        // `k3s agent` has no such flags and would refuse to start with them.
        for (const flag of ["--cluster-cidr", "--service-cidr", "--cluster-dns"]) assert.ok(!agent.includes(flag), `agent got ${flag}`);
        assert.equal(flagValue(agent, "--node-ip"), "10.0.1.101");
    });

    it("fetches install.sh from the pinned release's commit, runs it only when its sha256 matches and refuses it otherwise (a real bash and sha256sum run)", async () => {
        const s = await synth("production");
        const version = String(stackConfig("production").values["archon-infra:k3sVersion"]);
        const { commit } = K3S_INSTALLERS[version];
        const script = plainInputs(named(s, COMMAND, "install-cp-1")).create as string;
        const url = `https://raw.githubusercontent.com/k3s-io/k3s/${commit}/install.sh`;

        const accepted = runInstall(script, "10.0.1.11", "stub");
        assert.equal(accepted.status, 0, accepted.output);
        assert.deepEqual(accepted.downloads, [url]);
        const last = accepted.sudoCalls[accepted.sudoCalls.length - 1];
        assert.deepEqual(last.slice(0, 3), ["env", "-u", "INSTALL_K3S_SKIP_DOWNLOAD"]);
        assert.ok(last.includes(`INSTALL_K3S_VERSION=${version}`), last.join(" "));

        // As rendered, the recorded sha256 is the real install.sh's: the stub download does not match it.
        const refused = runInstall(script, "10.0.1.11", "recorded");
        assert.equal(refused.status, 1, refused.output);
        assert.match(refused.output, new RegExp(`k3s install\\.sh at ${commit} does not match sha256 [0-9a-f]{64}; refusing to run it`));
        assert.deepEqual(refused.downloads, [url]);
        assert.ok(accepted.sudoCalls.some((call) => call[0] === "env"), "the check can fail: the accepted run's installer call is seen");
        assert.ok(!refused.sudoCalls.some((call) => call[0] === "env"), `a refused installer must not run: ${JSON.stringify(refused.sudoCalls)}`);
    });

    it("keeps k3s's Traefik with ingressController traefik and disables it with ingress-nginx (both would claim 80/443)", async () => {
        const disabled = (args: string[]) => args.some((a, i) => a === "--disable" && args[i + 1] === "traefik");
        const traefik = installerArguments(plainInputs(named(await synth("production"), COMMAND, "install-cp-1")).create, "10.0.1.11");
        assert.equal(disabled(traefik), false);
        const nginx = installerArguments(plainInputs(named(await synth("production", { ingressController: "ingress-nginx" }), COMMAND, "install-cp-1")).create, "10.0.1.11");
        assert.equal(disabled(nginx), true, nginx.join(" "));
    });
});

describe("target kubernetes: archon-agents only with a pod CIDR Archon admits", () => {
    const kubernetes = (overrides: Record<string, unknown>) => {
        const config = stackConfig("staging", { target: "kubernetes", kubeconfig: KUBECONFIG, ...overrides });
        pulumi.runtime.setAllConfig(config.values, config.secretKeys);
        return loadConfig();
    };
    const refusal = (overrides: Record<string, unknown>): string => {
        try {
            kubernetes(overrides);
        } catch (err) {
            assert.ok(err instanceof ConfigError, String(err));
            assert.ok(!err.message.includes("\n"));
            return err.message;
        }
        return assert.fail(`accepted ${JSON.stringify(overrides)}`);
    };

    it("refuses enableAgents without podCidr, or with a pod CIDR outside 172.16.0.0/12, naming the key and the fix", () => {
        assert.match(refusal({ enableAgents: true }), /^archon-infra:enableAgents = true: archon-agents needs pod addresses inside 172\.16\.0\.0\/12 .*pulumi config set podCidr <cidr>.*or pulumi config set enableAgents false$/);
        assert.match(refusal({ enableAgents: true, podCidr: "10.42.0.0/16" }), /enableAgents = true: .*podCidr 10\.42\.0\.0\/16 is outside it/);
        assert.match(refusal({ enableAgents: true, podCidr: "172.0.0.0/8" }), /is outside it/);
        assert.match(refusal({ podCidr: "172.20.0.0" }), /podCidr = "172\.20\.0\.0": must be the existing cluster's pod CIDR/);
    });

    it("accepts a pod CIDR inside the range, or no agents", () => {
        assert.equal(kubernetes({ enableAgents: true, podCidr: "172.24.0.0/14" }).enableAgents, true);
        assert.equal(kubernetes({ enableAgents: false }).enableAgents, false);
    });

    it("refuses podCidr on the targets that pick their own pod network", () => {
        const config = stackConfig("production", { podCidr: "172.20.0.0/16" });
        pulumi.runtime.setAllConfig(config.values, config.secretKeys);
        assert.throws(() => loadConfig(), /podCidr = "172\.20\.0\.0\/16": is for target kubernetes only; k3s clusters get pods in 172\.20\.0\.0\/16/);
        assert.ok(K3S_CLUSTER_CIDR === "172.20.0.0/16", "the message names the range the program gives k3s");
    });

    it("makes the synth exit 2 with that one line", () => {
        const out = fs.mkdtempSync(path.join(os.tmpdir(), "synth-"));
        const result = run("node", ["--require", "ts-node/register/transpile-only", "scripts/synth.ts", "--stack", "staging",
            "--config", "target=kubernetes", "--config", `kubeconfig=${KUBECONFIG}`, "--config", "enableAgents=true", "--out", out], { cwd: PROJECT_DIR });
        assert.equal(result.status, 2, result.output);
        assert.equal(result.output.trim().split("\n").length, 1, result.output);
        assert.match(result.output, /^error: archon-infra:enableAgents = true: archon-agents needs pod addresses inside 172\.16\.0\.0\/12/);
    });
});

describe("hcloud cloud controller with the private network (production synth)", () => {
    it("puts the network in the hcloud Secret and has the CCM read it (networking.enabled), with k3s's pod range and no routes", async () => {
        const s = await synth("production", TOKEN);
        const secret = named(s, "kubernetes:core/v1:Secret", "hcloud");
        const data = plainInputs(secret);
        assert.deepEqual(data.metadata, { name: "hcloud", namespace: "kube-system" });
        assert.match(data.stringData.network, /^\d+$/);
        const network = named(s, "hcloud:index/network:Network", "network");
        assert.ok(secret.options.dependsOn?.includes(network.urn), "the Secret's network is the stack's network");
        assert.equal(plainInputs(network).ipRange, NETWORK_RANGE);

        const ccm = named(s, RELEASE, "hcloud-ccm");
        const values = plainInputs(ccm).values;
        assert.equal(values.networking.enabled, true);
        // The chart's default networking.network reads Secret hcloud, key network: not overridden.
        assert.equal(values.networking.network, undefined);
        assert.equal(values.networking.clusterCIDR, K3S_CLUSTER_CIDR);
        assert.equal(values.env.HCLOUD_NETWORK_ROUTES_ENABLED.value, "false");
        assert.equal(values.env.HCLOUD_NETWORK, undefined, "the chart sets HCLOUD_NETWORK itself (env must not)");
        assert.ok(ccm.options.dependsOn?.includes(secret.urn), "the CCM starts after its Secret");

        const install = plainInputs(named(s, COMMAND, "install-cp-1")).create as string;
        assert.ok(install.includes(`export K3S_CLUSTER_CIDR='${values.networking.clusterCIDR}'`), "CCM and k3s agree on the pod range");
    });

    it("starts the CSI driver after the CCM (its controller does not tolerate uninitialized nodes)", async () => {
        const s = await synth("production", TOKEN);
        assert.ok(named(s, RELEASE, "hcloud-csi").options.dependsOn?.includes(releaseUrn(s, "hcloud-ccm")));
    });
});

describe("cluster objects wait for the add-ons they need (production synth)", () => {
    for (const controller of ["traefik", "ingress-nginx"]) {
        it(`${controller}: every workload, claim, chart and custom resource waits for the CCM; claims and stateful charts for the CSI driver`, async () => {
            const s = await synth("production", { ...TOKEN, ingressController: controller });
            const ccm = releaseUrn(s, "hcloud-ccm");
            const csi = releaseUrn(s, "hcloud-csi");
            const objects = clusterObjects(s);
            assert.ok(objects.length > 50);
            for (const object of objects) {
                assert.ok(waitsFor(s.resources, object).has(ccm), `${object.type} ${object.name} does not wait for the CCM`);
            }
            const claims = ofType(s, "kubernetes:core/v1:PersistentVolumeClaim");
            assert.ok(claims.length >= 2);
            for (const claim of [...claims, named(s, RELEASE, "kube-prometheus-stack"), named(s, RELEASE, "loki"), ...ofType(s, "kubernetes:apps/v1:StatefulSet")]) {
                assert.ok(waitsFor(s.resources, claim).has(csi), `${claim.type} ${claim.name} does not wait for the CSI driver`);
            }
        });

        it(`${controller}: ServiceMonitors and PrometheusRules wait for the monitoring CRDs; cert-manager CRs and Ingresses for cert-manager`, async () => {
            const s = await synth("production", { ingressController: controller });
            const promStack = releaseUrn(s, "kube-prometheus-stack");
            const certManager = releaseUrn(s, "cert-manager");
            const monitoringCrs = s.resources.filter((r) => r.type.startsWith("kubernetes:monitoring.coreos.com/"));
            assert.ok(monitoringCrs.some((r) => r.type.endsWith(":PrometheusRule")) && monitoringCrs.some((r) => r.type.endsWith(":ServiceMonitor")));
            // cert-manager's chart renders its own ServiceMonitor.
            for (const r of [...monitoringCrs, named(s, RELEASE, "cert-manager")]) {
                assert.ok(waitsFor(s.resources, r).has(promStack), `${r.type} ${r.name} does not wait for kube-prometheus-stack`);
            }
            const ingresses = ofType(s, "kubernetes:networking.k8s.io/v1:Ingress");
            assert.ok(ingresses.length > 0);
            for (const r of [...s.resources.filter((x) => x.type.startsWith("kubernetes:cert-manager.io/")), ...ingresses]) {
                assert.ok(waitsFor(s.resources, r).has(certManager), `${r.type} ${r.name} does not wait for cert-manager`);
            }
            if (controller === "ingress-nginx") {
                for (const r of ingresses) assert.ok(waitsFor(s.resources, r).has(releaseUrn(s, "ingress-nginx")), `${r.name} does not wait for ingress-nginx`);
            }
            assert.ok(s.resources.some((r) => CUSTOM_RESOURCE_TYPE.test(r.type)));
        });
    }

    it("orders the add-ons Secret -> CCM -> CSI, and none of them waits for what comes after it", async () => {
        const s = await synth("production", TOKEN);
        const secret = named(s, "kubernetes:core/v1:Secret", "hcloud");
        const ccm = named(s, RELEASE, "hcloud-ccm");
        const csi = named(s, RELEASE, "hcloud-csi");
        assert.ok(waitsFor(s.resources, ccm).has(secret.urn), "the CCM reads the Secret");
        assert.ok(waitsFor(s.resources, csi).has(ccm.urn), "the CSI controller needs initialized nodes");
        // A cycle would hang the deploy; an add-on waiting for the workloads would never start them.
        assert.equal(waitsFor(s.resources, secret).has(ccm.urn), false, "the Secret does not wait for the CCM");
        assert.equal(waitsFor(s.resources, ccm).has(csi.urn), false, "the CCM does not wait for the CSI driver");
        for (const object of clusterObjects(s)) {
            assert.equal(waitsFor(s.resources, ccm).has(object.urn), false, `the CCM waits for ${object.type} ${object.name}`);
        }
    });
});

describe("stateful add-ons across upgrades (production synth)", () => {
    it("Grafana on its ReadWriteOnce volume is replaced with Recreate, not rolled", async () => {
        const grafana = plainInputs(named(await synth("production"), RELEASE, "kube-prometheus-stack")).values.grafana;
        assert.equal(grafana.persistence.enabled, true);
        assert.deepEqual(grafana.deploymentStrategy, { type: "Recreate" });
    });

    it("Loki's StatefulSet keeps its claim when the release goes (enableStatefulSetAutoDeletePVC off)", async () => {
        const loki = plainInputs(named(await synth("production"), RELEASE, "loki")).values;
        assert.equal(loki.singleBinary.persistence.enabled, true);
        assert.equal(loki.singleBinary.persistence.enableStatefulSetAutoDeletePVC, false);
    });

    it("Loki deletes logs older than logsRetentionDays: compactor retention on, with its delete-request store", async () => {
        // The chart copies loki.compactor and loki.limits_config into Loki's config.yaml (recorded with
        // the real chart in test/fixtures/helm-charts/loki-*.json, checked by test/helm-charts.spec.ts).
        const loki = plainInputs(named(await synth("production"), RELEASE, "loki")).values.loki;
        assert.deepEqual(loki.compactor, { retention_enabled: true, delete_request_store: "filesystem" });
        const days = Number(stackConfig("production").values["archon-infra:logsRetentionDays"]);
        assert.ok(days > 0);
        assert.equal(loki.limits_config.retention_period, `${days * 24}h`);
    });

    it("kube-prometheus-stack upgrades its CRDs with the chart's upgrade job, with a pinned busybox", async () => {
        const crds = plainInputs(named(await synth("production"), RELEASE, "kube-prometheus-stack")).values.crds;
        assert.equal(crds.enabled, true);
        assert.equal(crds.upgradeJob.enabled, true);
        assert.equal(crds.upgradeJob.forceConflicts, true);
        assert.match(crds.upgradeJob.image.busybox.tag, /^\d+\.\d+\.\d+$/);
    });
});

describe("logs collected once (production synth)", () => {
    it("runs Alloy per node, each instance discovering only its node's pods (or clustered)", async () => {
        const values = plainInputs(named(await synth("production"), RELEASE, "alloy")).values;
        const content = values.alloy.configMap.content as string;
        const perNode = values.controller?.type === "daemonset"
            && /discovery\.kubernetes "pods" \{[^}]*selectors \{\s*role\s*=\s*"pod"\s*field\s*=\s*"spec\.nodeName=" \+ coalesce\(sys\.env\("HOSTNAME"\), constants\.hostname\)\s*\}/.test(content);
        const clustered = values.alloy.clustering?.enabled === true && /clustering \{\s*enabled = true/.test(content);
        assert.ok(perNode || clustered, content);
        assert.equal(values.alloy.clustering?.enabled ?? false, clustered);
    });
});

describe("client addresses through the load balancer (PROXY protocol end to end)", () => {
    it("production: the load balancer sends PROXY protocol and Traefik accepts it on both entrypoints from the network and the pod range only", async () => {
        const s = await synth("production");
        const services = ofType(s, "hcloud:index/loadBalancerService:LoadBalancerService").map(plainInputs);
        assert.deepEqual(services.map((svc) => svc.proxyprotocol), [true, true]);
        const trust = proxyProtocolTrust(traefikArguments(s));
        assert.deepEqual(Object.keys(trust).sort(), ["web", "websecure"]);
        for (const cidrs of Object.values(trust)) {
            assert.deepEqual([...cidrs].sort(), [NETWORK_RANGE, K3S_CLUSTER_CIDR].sort());
            // The balancer's private address lies in the subnet it joins.
            assert.ok(cidrs.some((c) => cidrContains(c, HOSTS_SUBNET)));
            for (const c of cidrs) assert.ok(!c.endsWith("/0"), "never trust the world");
        }
        // The hosts' firewall (the CI access firewall beside it is empty but while a deploy runs, and opens 22/6443 only).
        const rules = plainInputs(named(s, "hcloud:index/firewall:Firewall", "hosts")).rules as { port?: string; sourceIps: string[] }[];
        assert.ok(rules.length > 0);
        assert.ok(!rules.some((r) => ["80", "443"].includes(r.port ?? "")), "nodes behind the balancer accept no direct web traffic (it could forge PROXY headers)");
    });

    it("single node: no balancer, no PROXY protocol, the node serves 80/443 itself", async () => {
        const s = await synth("production", { controlPlaneNodes: 1, agentNodes: 0 });
        assert.equal(ofType(s, "hcloud:index/loadBalancerService:LoadBalancerService").length, 0);
        assert.deepEqual(proxyProtocolTrust(traefikArguments(s)), {});
        const rules = plainInputs(named(s, "hcloud:index/firewall:Firewall", "hosts")).rules as { port?: string }[];
        assert.deepEqual(rules.filter((r) => ["80", "443"].includes(r.port ?? "")).length, 2);
    });

    it("ingress-nginx expects PROXY protocol from the same sources when the balancer sends it", async () => {
        const withLb = plainInputs(named(await synth("production", { ingressController: "ingress-nginx" }), RELEASE, "ingress-nginx")).values.controller.config;
        assert.equal(withLb["use-proxy-protocol"], "true");
        assert.deepEqual(withLb["proxy-real-ip-cidr"].split(",").sort(), [NETWORK_RANGE, K3S_CLUSTER_CIDR].sort());
        const single = plainInputs(named(await synth("production", { ingressController: "ingress-nginx", controlPlaneNodes: 1, agentNodes: 0 }), RELEASE, "ingress-nginx")).values.controller.config;
        assert.equal(single["use-proxy-protocol"], undefined);
    });

    it("keys Traefik's rate limit on the connection's client address, never on X-Forwarded-For", async () => {
        const s = await synth("production");
        const limits = Object.entries(s.files).filter(([f]) => /\/Middleware-rate-limit\.yaml$/.test(f));
        assert.ok(limits.length > 0);
        for (const [file, text] of limits) {
            const rateLimit = (parseYaml(text) as { spec: { rateLimit: { sourceCriterion?: { ipStrategy?: { depth?: number; excludedIPs?: string[] }; requestHeaderName?: string; requestHost?: boolean } } } }).spec.rateLimit;
            const criterion = rateLimit.sourceCriterion;
            assert.ok(criterion?.ipStrategy, `${file}: no ipStrategy`);
            assert.ok((criterion.ipStrategy.depth ?? 0) <= 0 && (criterion.ipStrategy.excludedIPs ?? []).length === 0, `${file}: reads X-Forwarded-For`);
            assert.equal(criterion.requestHeaderName, undefined);
            assert.notEqual(criterion.requestHost, true);
        }
    });
});
