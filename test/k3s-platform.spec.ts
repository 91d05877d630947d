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

/** The servers' k3s API on the private network (network.ts privateIpFor). */
const CP1 = "https://10.0.1.11:6443";
const CP2 = "https://10.0.1.12:6443";
const CP3 = "https://10.0.1.13:6443";

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
function runInstall(script: string, privateIp: string, installerHash: "stub" | "recorded", answering: string[] = [], installed?: string): InstallRun {
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
    // A node already running k3s answers `k3s --version` as k3s does.
    if (installed) stub("k3s", `echo "k3s version ${installed} (5aed4d7b)"; echo "go version go1.25.9"`);
    stub("ip", `echo "3: enp7s0    inet ${privateIp}/32 brd ${privateIp} scope global dynamic enp7s0"`);
    const stubInstaller = path.join(dir, "stub-installer.sh");
    fs.writeFileSync(stubInstaller, STUB_INSTALLER);
    // k3s serves /cacerts on 6443: the servers in \`answering\` answer, any other fails as curl does
    // when nothing listens (exit 7).
    stub("curl", `out=""
for a in "$@"; do case "$a" in
  */cacerts) case " ${answering.join(" ")} " in *" $\{a%/cacerts}/ "*|*" $\{a%/cacerts} "*) exit 0 ;; *) exit 7 ;; esac ;;
  https://*) echo "$a" >>"${dir}/downloads" ;;
esac; done
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
function installerArguments(script: string, privateIp: string, answering: string[] = []): string[] {
    const result = runInstall(script, privateIp, "stub", answering);
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
            const args = name === "install-cp-1"
                ? installerArguments(plainInputs(named(s, COMMAND, name)).create, "10.0.1.11")
                : installerArguments(plainInputs(named(s, COMMAND, name)).create, "10.0.1.12", [CP1]);
            assert.equal(args[0], "server");
            assert.equal(flagValue(args, "--cluster-cidr"), K3S_CLUSTER_CIDR, args.join(" "));
            assert.equal(flagValue(args, "--service-cidr"), K3S_SERVICE_CIDR);
            assert.equal(flagValue(args, "--cluster-dns"), K3S_CLUSTER_DNS);
        }
        const agent = installerArguments(plainInputs(named(s, COMMAND, "install-agent-1")).create, "10.0.1.101", [CP1]);
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

describe("k3s servers: one cluster, joined by replacements, secrets encrypted (a real bash run of the rendered install)", () => {
    const script = async (name: string) => plainInputs(named(await synth("production"), COMMAND, name)).create as string;

    it("cp-1 starts the cluster (--cluster-init) only when no other server answers", async () => {
        const args = installerArguments(await script("install-cp-1"), "10.0.1.11");
        assert.ok(args.includes("--cluster-init"), args.join(" "));
        assert.equal(flagValue(args, "--server"), undefined);
    });

    it("a replaced cp-1 joins the surviving servers instead of starting a new, empty cluster", async () => {
        const args = installerArguments(await script("install-cp-1"), "10.0.1.11", [CP2, CP3]);
        assert.ok(!args.includes("--cluster-init"), args.join(" "));
        assert.equal(flagValue(args, "--server"), CP2);
        // cp-2 gone as well: the next survivor.
        assert.equal(flagValue(installerArguments(await script("install-cp-1"), "10.0.1.11", [CP3]), "--server"), CP3);
    });

    it("another server never starts a cluster of its own: with no server answering it refuses, naming the runbook", async () => {
        const result = runInstall(await script("install-cp-2"), "10.0.1.12", "stub", []);
        assert.equal(result.status, 1, result.output);
        assert.match(result.output, /no server of the cluster answers at: https:\/\/10\.0\.1\.11:6443 https:\/\/10\.0\.1\.13:6443; refusing to start a new cluster/);
        assert.ok(!result.sudoCalls.some((call) => call[0] === "env"), "the installer must not run");
        assert.equal(flagValue(installerArguments(await script("install-cp-2"), "10.0.1.12", [CP3]), "--server"), CP3);
    });

    it("agents join the first server that answers", async () => {
        assert.equal(flagValue(installerArguments(await script("install-agent-1"), "10.0.1.101", [CP2, CP3]), "--server"), CP2);
        assert.equal(runInstall(await script("install-agent-1"), "10.0.1.101", "stub", []).status, 1);
    });

    it("servers run with --secrets-encryption (agents hold no secrets at rest and take no such flag)", async () => {
        for (const [name, ip, answering] of [["install-cp-1", "10.0.1.11", []], ["install-cp-2", "10.0.1.12", [CP1]], ["install-cp-3", "10.0.1.13", [CP1]]] as const) {
            assert.ok(installerArguments(await script(name), ip, [...answering]).includes("--secrets-encryption"), name);
        }
        assert.ok(!installerArguments(await script("install-agent-1"), "10.0.1.101", [CP1]).includes("--secrets-encryption"));
    });

    it("puts every server's public address on every server's API certificate", async () => {
        const s = await synth("production");
        const publicIps = ["cp-1", "cp-2", "cp-3"].map((n) => String(plainInputs(named(s, "command:remote:Command", `install-${n}`)).connection.host));
        assert.equal(new Set(publicIps).size, 3);
        const args = installerArguments(await script("install-cp-2"), "10.0.1.12", [CP1]);
        const sans = args.flatMap((a, i) => (a === "--tls-san" ? [args[i + 1]] : []));
        assert.deepEqual([...sans].sort(), [...publicIps].sort());
    });
});

describe("upgrading k3s: one minor at a time, servers first, drained (a real bash run of the rendered install)", () => {
    const script = async (name: string) => plainInputs(named(await synth("production"), COMMAND, name)).create as string;
    const drainCalls = (run: InstallRun) => run.sudoCalls.filter((c) => c[0] === "k3s" && c[1] === "kubectl").map((c) => c[2]);

    it("a server on the previous minor is drained, upgraded and uncordoned", async () => {
        const result = runInstall(await script("install-cp-2"), "10.0.1.12", "stub", [CP1], "v1.35.6+k3s1");
        assert.equal(result.status, 0, result.output);
        assert.deepEqual(drainCalls(result), ["drain", "uncordon"]);
        const drain = result.sudoCalls.findIndex((c) => c[2] === "drain");
        const install = result.sudoCalls.findIndex((c) => c[0] === "env");
        assert.ok(drain >= 0 && drain < install && install < result.sudoCalls.findIndex((c) => c[2] === "uncordon"), "drain, install, uncordon");
    });

    it("refuses to skip a minor or to go down, before touching anything", async () => {
        for (const installed of ["v1.34.9+k3s1", "v1.37.0+k3s1"]) {
            const result = runInstall(await script("install-cp-2"), "10.0.1.12", "stub", [CP1], installed);
            assert.equal(result.status, 1, result.output);
            assert.match(result.output, new RegExp(`this node runs k3s ${installed.replace(/[.+]/g, "\\$&")}: upgrade one minor at a time`));
            assert.ok(!result.sudoCalls.some((c) => c[0] === "env" || c[0] === "k3s"), JSON.stringify(result.sudoCalls));
        }
    });

    it("re-running the same version (a flag change) neither drains nor refuses; agents are never drained here", async () => {
        assert.deepEqual(drainCalls(runInstall(await script("install-cp-2"), "10.0.1.12", "stub", [CP1], "v1.36.3+k3s1")), []);
        const agent = runInstall(await script("install-agent-1"), "10.0.1.101", "stub", [CP1], "v1.35.6+k3s1");
        assert.equal(agent.status, 0, agent.output);
        assert.deepEqual(drainCalls(agent), []);
    });

    it("orders the installs: servers one at a time, then agents one at a time", async () => {
        const s = await synth("production");
        const installs = ofType(s, COMMAND).filter((r) => /^install-agent-/.test(r.name)).map((r) => r.name).sort();
        for (const agent of installs) {
            for (const server of ["install-cp-1", "install-cp-2", "install-cp-3"]) assert.ok(named(s, COMMAND, agent).options.dependsOn?.includes(named(s, COMMAND, server).urn), `${agent} after ${server}`);
        }
        for (let i = 1; i < installs.length; i++) assert.ok(named(s, COMMAND, installs[i]).options.dependsOn?.includes(named(s, COMMAND, installs[i - 1]).urn));
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

    it("Traefik's HelmChartConfig (PROXY protocol, redirect) lands with the ingress, not after the monitoring stack; ingress-nginx's ServiceMonitor still waits for the CRDs", async () => {
        const s = await synth("production");
        const config = named(s, "kubernetes:helm.cattle.io/v1:HelmChartConfig", "traefik-config");
        // Waiting for a component is waiting for everything under it (the SDK resolves a component
        // dependency to its children): expand them.
        const expanded = (start: ResourceRecord) => {
            const byUrn = new Map(s.resources.map((r) => [r.urn, r]));
            const descendants = (urn: string) => s.resources.filter((r) => {
                for (let p = r.parent; p; p = byUrn.get(p)?.parent ?? "") if (p === urn) return true;
                return false;
            });
            const seen = new Set<string>();
            const queue = [start.urn];
            while (queue.length > 0) {
                const record = byUrn.get(queue.pop()!);
                if (!record) continue;
                const deps = (record.options.dependsOn ?? []).flatMap((u) => [u, ...(byUrn.get(u)?.custom ? [] : descendants(u).map((d) => d.urn))]);
                for (const next of [...deps, record.parent].filter((u) => u !== "")) {
                    if (!seen.has(next)) {
                        seen.add(next);
                        queue.push(next);
                    }
                }
            }
            return seen;
        };
        const waits = expanded(config);
        // The check can fail: a Grafana object waits for the whole monitoring namespace's stack.
        assert.ok(expanded(named(s, "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "archon-alerts")).has(releaseUrn(s, "kube-prometheus-stack")));
        assert.ok(waits.has(releaseUrn(s, "hcloud-ccm")));
        for (const release of ["kube-prometheus-stack", "loki", "alloy"]) assert.ok(!waits.has(releaseUrn(s, release)), `the Traefik config waits for ${release}`);
        const nginx = await synth("production", { ingressController: "ingress-nginx" });
        assert.ok(waitsFor(nginx.resources, named(nginx, RELEASE, "ingress-nginx")).has(releaseUrn(nginx, "kube-prometheus-stack")));
        // The Grafana Ingress (monitoring namespace) still waits for its namespace.
        const grafana = ofType(s, "kubernetes:networking.k8s.io/v1:Ingress").find((r) => plainInputs(r).metadata.namespace === "monitoring");
        assert.ok(grafana && waitsFor(s.resources, grafana).has(named(s, "kubernetes:core/v1:Namespace", "monitoring").urn));
    });

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
