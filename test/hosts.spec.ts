/**
 * Hetzner hosts and clusters, read from the offline synth: what each target creates, what the world
 * can reach, what production protects, that cloud-init and the host scripts pass their real
 * validators, and that a release or a secret rotation never touches a server (Hetzner would replace it).
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { SynthResult } from "../scripts/lib/synthesize";
import { HOST_SCRIPTS_DIR, renderHostScript } from "../components/hetzner/host-scripts";
import { RETAINED_STORAGE_CLASS } from "../components/hetzner/cluster-addons";
import { SERVER_IMAGE } from "../components/hetzner/server";
import { contentHash } from "../components/compose/delivery";
import { K3S_INSTALLERS } from "../components/hetzner/k3s-installers";
import { KUBECONFIG, generatedSecretValues, named, ofType, plainInputs, requireTool, run, synth, writeTempFiles } from "./helpers";

const SERVER = "hcloud:index/server:Server";
const VOLUME = "hcloud:index/volume:Volume";
const FIREWALL = "hcloud:index/firewall:Firewall";
const COMMAND = "command:remote:Command";
const RELEASE = "kubernetes:helm.sh/v3:Release";
const WORLD = ["0.0.0.0/0", "::/0"];
const ADMIN_CIDRS = ["203.0.113.0/24"];


function hcloudResources(result: SynthResult) {
    return result.resources.filter((r) => r.type.startsWith("hcloud:"));
}

/**
 * The stack's Hetzner firewalls by resource name (`hosts`: the hosts' rules; `ci-access`: the one
 * CI opens while a deploy runs), each with the ID servers attach it by (its component's output).
 */
function firewallsByName(result: SynthResult): Record<string, { id: number; rules: FirewallRuleInput[] }> {
    return Object.fromEntries(ofType(result, FIREWALL).map((firewall) => {
        const id = result.componentOutputs[firewall.parent]?.firewallId;
        assert.ok(Number.isInteger(id) && (id as number) > 0, `${firewall.name}: its component outputs no numeric firewallId`);
        return [firewall.name, { id: id as number, rules: plainInputs(firewall).rules as FirewallRuleInput[] }];
    }));
}

interface FirewallRuleInput { direction: string; protocol: string; port?: string; sourceIps: string[] }

function isSecret(value: unknown): boolean {
    return value !== null && typeof value === "object" && "$secret" in (value as object);
}


describe("hosts: compose target (staging)", () => {
    it("creates one compose host with network, firewall, SSH key and one protected data volume", async () => {
        const s = await synth("staging");
        const count = (type: string) => ofType(s, type).length;
        assert.strictEqual(count(SERVER), 1);
        assert.strictEqual(count("hcloud:index/network:Network"), 1);
        assert.strictEqual(count("hcloud:index/networkSubnet:NetworkSubnet"), 1);
        // The hosts' firewall and the CI access firewall (empty but while a deploy runs).
        assert.deepStrictEqual(ofType(s, FIREWALL).map((f) => f.name).sort(), ["ci-access", "hosts"]);
        assert.strictEqual(count("hcloud:index/sshKey:SshKey"), 1);
        assert.strictEqual(count("hcloud:index/placementGroup:PlacementGroup"), 0);
        assert.strictEqual(count("hcloud:index/loadBalancer:LoadBalancer"), 0);
        const volumes = ofType(s, VOLUME);
        assert.strictEqual(volumes.length, 1);
        assert.strictEqual(volumes[0].options.protect, true, "the data volume must be protect: true");
        assert.strictEqual(plainInputs(volumes[0]).deleteProtection, true);
        assert.strictEqual(plainInputs(volumes[0]).size, 30);
        const server = plainInputs(ofType(s, SERVER)[0]);
        assert.strictEqual(server.image, SERVER_IMAGE);
        assert.strictEqual(server.serverType, "cx33");
        assert.strictEqual(server.deleteProtection, false, "staging servers are rebuilt freely");
        assert.strictEqual(server.backups, false);
    });

    it("attaches the firewalls at boot and the volume as a separate resource", async () => {
        const s = await synth("staging");
        const server = plainInputs(ofType(s, SERVER)[0]);
        for (const id of server.firewallIds) assert.ok(Number.isInteger(id) && id > 0, `firewallIds must be numbers, got ${JSON.stringify(server.firewallIds)}`);
        const firewalls = firewallsByName(s);
        assert.deepStrictEqual([...server.firewallIds].sort(), [firewalls.hosts.id, firewalls["ci-access"].id].sort(), "the server must boot behind the hosts' and the CI access firewall");
        assert.strictEqual(server.volumes, undefined, "the volume must not be tied to the server's lifecycle");
        assert.strictEqual(ofType(s, "hcloud:index/volumeAttachment:VolumeAttachment").length, 1);
    });

    it("mounts the volume with a script that formats only a device without a filesystem", async () => {
        const s = await synth("staging");
        const mount = plainInputs(named(s, COMMAND, "mount-data"));
        assert.match(mount.create, /if ! sudo blkid -p "\$VOLUME_DEVICE"/);
        assert.match(mount.create, /export VOLUME_DEVICE='\/dev\/disk\/by-id\/scsi-0HC_Volume_\d+'/);
        const mkfsLines = mount.create.split("\n").filter((line: string) => line.includes("mkfs"));
        assert.strictEqual(mkfsLines.length, 1);
    });

    it("outputs the host, a ready-to-paste SSH command and the generated key as a secret", async () => {
        const s = await synth("staging");
        const hosts = s.outputs.hosts as { name: string; role: string; publicIpv4: string; publicIpv6: string; privateIp: string }[];
        assert.strictEqual(hosts.length, 1);
        assert.deepStrictEqual({ name: hosts[0].name, role: hosts[0].role, privateIp: hosts[0].privateIp }, { name: "archon-staging-compose", role: "compose", privateIp: "10.0.1.11" });
        assert.match(hosts[0].publicIpv4, /^\d+\.\d+\.\d+\.\d+$/);
        assert.match(hosts[0].publicIpv6, /:/);
        const commands = s.outputs.sshCommands as Record<string, string>;
        assert.strictEqual(commands["archon-staging-compose"], `ssh -i ~/.ssh/archon-staging deploy@${hosts[0].publicIpv4}`);
        assert.ok(isSecret(s.outputs.sshPrivateKey), "the generated private key must be a secret output");
        assert.strictEqual(s.outputs.ingressIpv4, hosts[0].publicIpv4);
    });

    it("uses a configured public key instead of generating one", async () => {
        const publicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops@example.com";
        const s = await synth("staging", { sshPublicKey: publicKey });
        assert.strictEqual(ofType(s, "tls:index/privateKey:PrivateKey").filter((r) => r.name === "ssh").length, 0);
        assert.strictEqual(plainInputs(ofType(s, "hcloud:index/sshKey:SshKey")[0]).publicKey, publicKey);
        assert.strictEqual(s.outputs.sshPrivateKey, undefined);
        assert.ok(s.files["cloud-init/compose.yaml"].includes(publicKey));
    });
});

describe("hosts: k3s target (production)", () => {
    it("creates 3 control-plane and 3 agent servers in a spread placement group behind a load balancer", async () => {
        const s = await synth("production");
        const servers = ofType(s, SERVER).map(plainInputs);
        assert.strictEqual(servers.length, 6);
        const byName = Object.fromEntries(servers.map((srv) => [srv.name, srv]));
        for (const i of [1, 2, 3]) {
            assert.strictEqual(byName[`archon-production-cp-${i}`].serverType, "cpx32");
            assert.strictEqual(byName[`archon-production-agent-${i}`].serverType, "cpx42");
        }
        const groups = ofType(s, "hcloud:index/placementGroup:PlacementGroup");
        assert.strictEqual(groups.length, 1);
        assert.strictEqual(plainInputs(groups[0]).type, "spread");
        for (const srv of servers) assert.strictEqual(typeof srv.placementGroupId, "number", `${srv.name} has no placement group`);
        assert.strictEqual(ofType(s, "hcloud:index/loadBalancer:LoadBalancer").length, 1);
        assert.strictEqual(ofType(s, "hcloud:index/loadBalancerTarget:LoadBalancerTarget").length, 6);
        const services = ofType(s, "hcloud:index/loadBalancerService:LoadBalancerService").map(plainInputs);
        assert.deepStrictEqual(services.map((svc) => [svc.protocol, svc.listenPort, svc.destinationPort, svc.proxyprotocol]).sort(),
            [["tcp", 443, 443, true], ["tcp", 80, 80, true]]);
        const nodeIps = (s.outputs.hosts as { publicIpv4: string }[]).map((h) => h.publicIpv4);
        assert.match(String(s.outputs.ingressIpv4), /^\d+\.\d+\.\d+\.\d+$/);
        assert.ok(!nodeIps.includes(String(s.outputs.ingressIpv4)), "ingress goes through the load balancer");
    });

    it("protects production servers and keeps Hetzner backups", async () => {
        const s = await synth("production");
        for (const srv of ofType(s, SERVER).map(plainInputs)) {
            assert.strictEqual(srv.deleteProtection, true, `${srv.name} deleteProtection`);
            assert.strictEqual(srv.rebuildProtection, true, `${srv.name} rebuildProtection`);
            assert.strictEqual(srv.backups, true, `${srv.name} backups`);
        }
    });

    it("puts every node on the private network at a fixed address", async () => {
        const s = await synth("production");
        const addresses = ofType(s, SERVER).map(plainInputs).map((srv) => srv.networks[0].ip).sort();
        assert.deepStrictEqual(addresses, ["10.0.1.101", "10.0.1.102", "10.0.1.103", "10.0.1.11", "10.0.1.12", "10.0.1.13"]);
        for (const srv of ofType(s, SERVER).map(plainInputs)) assert.strictEqual(typeof srv.networks[0].networkId, "number");
    });

    // Every k3sVersion with a verified installer row (config refuses any other, see
    // supply-chain.spec.ts): the configured version, with its row's installer, reaches every node.
    for (const [version, installer] of Object.entries(K3S_INSTALLERS)) {
        it(`installs the pinned k3s over SSH: only the first node may --cluster-init, the others join over the private network (k3sVersion ${version})`, async () => {
            const s = await synth("production", { k3sVersion: version });
            const create = (name: string) => plainInputs(named(s, COMMAND, name)).create as string;
            // Which server a node joins is decided on the node (test/k3s-platform.spec.ts runs it).
            assert.match(create("install-cp-1"), /export K3S_ROLE='server'\nexport K3S_JOIN_URLS='https:\/\/10\.0\.1\.12:6443 https:\/\/10\.0\.1\.13:6443'\nexport K3S_MAY_INIT='true'/);
            assert.match(create("install-cp-2"), /export K3S_ROLE='server'\nexport K3S_JOIN_URLS='https:\/\/10\.0\.1\.11:6443 https:\/\/10\.0\.1\.13:6443'\nexport K3S_MAY_INIT='false'/);
            assert.match(create("install-agent-1"), /export K3S_ROLE='agent'\nexport K3S_JOIN_URLS='https:\/\/10\.0\.1\.11:6443 https:\/\/10\.0\.1\.12:6443 https:\/\/10\.0\.1\.13:6443'\nexport K3S_MAY_INIT='false'/);
            for (const name of ["install-cp-1", "install-cp-2", "install-cp-3", "install-agent-1"]) {
                assert.ok(create(name).includes(`export K3S_VERSION='${version}'\n`), `${name}: K3S_VERSION is not ${version}`);
                assert.ok(create(name).includes(`export K3S_INSTALLER_COMMIT='${installer.commit}'\nexport K3S_INSTALLER_SHA256='${installer.sha256}'\n`), `${name}: not the installer row of ${version}`);
                assert.match(create(name), /--flannel-iface "\$private_iface"/);
            }
            assert.ok(named(s, COMMAND, "install-cp-3").options.dependsOn?.some((urn) => urn.endsWith("::install-cp-2")), "etcd members join one at a time");
            for (const file of Object.keys(s.files).filter((f) => f.startsWith("cloud-init/"))) {
                assert.doesNotMatch(s.files[file], /k3s/i, `${file}: k3s is installed over SSH, not from user-data`);
            }
        });
    }

    it("sends the k3s token on stdin only, as a secret", async () => {
        const s = await synth("production");
        const token = plainInputs(named(s, "random:index/randomPassword:RandomPassword", "k3s-token"));
        assert.ok(token);
        for (const install of ofType(s, COMMAND).filter((c) => c.name.startsWith("install-"))) {
            assert.ok(isSecret(install.inputs.stdin), `${install.name}: stdin must be secret`);
            assert.deepStrictEqual(install.options.ignoreChanges, ["stdin"], `${install.name}: a token rotation must not re-run the install`);
            assert.ok(!JSON.stringify(install.inputs.create).includes(String(plainInputs(install).stdin)), `${install.name}: token in the command line`);
        }
    });

    it("exports the fetched kubeconfig as a secret pointing at the first control plane, and the provider uses it", async () => {
        const s = await synth("production");
        assert.ok(isSecret(s.outputs.kubeconfig));
        const cp1 = (s.outputs.hosts as { name: string; publicIpv4: string }[]).find((h) => h.name === "archon-production-cp-1")!;
        assert.ok(String((s.outputs.kubeconfig as { $secret: string }).$secret).includes(`server: https://${cp1.publicIpv4}:6443`));
        const provider = named(s, "pulumi:providers:kubernetes", "cluster");
        assert.ok(isSecret(provider.inputs.kubeconfig));
        assert.ok(provider.options.dependsOn?.some((urn) => urn.endsWith("command:remote:Command::kubeconfig")), "the provider must wait for the cluster");
        const fetch = named(s, COMMAND, "kubeconfig");
        assert.deepStrictEqual(plainInputs(fetch).logging, "none");
        assert.ok(fetch.options.additionalSecretOutputs?.includes("stdout"));
        for (const install of ofType(s, COMMAND).filter((c) => c.name.startsWith("install-"))) {
            assert.ok(fetch.options.dependsOn?.includes(install.urn), `kubeconfig fetch must wait for ${install.name}`);
        }
    });

    it("installs the Hetzner CCM and CSI driver at pinned versions with a retained default storage class", async () => {
        const s = await synth("production");
        const ccm = plainInputs(named(s, RELEASE, "hcloud-ccm"));
        const csi = plainInputs(named(s, RELEASE, "hcloud-csi"));
        for (const release of [ccm, csi]) {
            assert.strictEqual(release.repositoryOpts.repo, "https://charts.hetzner.cloud");
            assert.match(release.version, /^\d+\.\d+\.\d+$/);
            assert.strictEqual(release.namespace, "kube-system");
        }
        assert.deepStrictEqual(csi.values.storageClasses, [{ name: RETAINED_STORAGE_CLASS, defaultStorageClass: true, reclaimPolicy: "Retain" }]);
        assert.strictEqual(ccm.values.env.HCLOUD_LOAD_BALANCERS_ENABLED.value, "false");
        assert.strictEqual(ccm.values.networking.enabled, true);
    });

    it("pins a CCM Hetzner still supports (v1.30.1 or later: older ones crash once the API drops `datacenter`)", async () => {
        const version = plainInputs(named(await synth("production"), RELEASE, "hcloud-ccm")).version as string;
        const [major, minor, patch] = version.split(".").map(Number);
        assert.ok(major > 1 || (major === 1 && (minor > 30 || (minor === 30 && patch >= 1))), `hcloud-cloud-controller-manager ${version} is older than 1.30.1`);
    });

    it("creates the cluster's hcloud Secret from its own token, as a secret (without one, k3s is refused: config.spec)", async () => {
        const withToken = await synth("production", { hcloudTokenForCluster: "test-hcloud-token-0123456789" });
        const secret = named(withToken, "kubernetes:core/v1:Secret", "hcloud");
        assert.ok(JSON.stringify(secret.inputs).includes('"$secret"'));
        assert.strictEqual(plainInputs(secret).stringData.token, "test-hcloud-token-0123456789");
        assert.match(plainInputs(secret).stringData.network, /^\d+$/);
        assert.ok(!JSON.stringify(withToken.outputs).includes("test-hcloud-token-0123456789"));
    });

    it("serves a single-node cluster on the node's own ports, without a load balancer", async () => {
        const s = await synth("production", { controlPlaneNodes: 1, agentNodes: 0 });
        assert.strictEqual(ofType(s, SERVER).length, 1);
        assert.strictEqual(ofType(s, "hcloud:index/loadBalancer:LoadBalancer").length, 0);
        const hosts = s.outputs.hosts as { publicIpv4: string }[];
        assert.strictEqual(s.outputs.ingressIpv4, hosts[0].publicIpv4);
    });
});

describe("hosts: kubernetes target", () => {
    it("creates no Hetzner resource and builds the provider from the kubeconfig secret", async () => {
        const s = await synth("staging", { target: "kubernetes", kubeconfig: KUBECONFIG });
        assert.deepStrictEqual(hcloudResources(s).map((r) => r.type), []);
        assert.strictEqual(ofType(s, COMMAND).length, 0);
        const provider = named(s, "pulumi:providers:kubernetes", "cluster");
        assert.deepStrictEqual(provider.inputs.kubeconfig, { $secret: KUBECONFIG });
        assert.deepStrictEqual(s.outputs.hosts, []);
    });
});

describe("hosts: firewall exposure", () => {
    for (const stack of ["staging", "production"]) {
        it(`${stack}: only 80/443 (not on nodes behind the load balancer) and ICMP reach the world; SSH and the Kubernetes API only sshAllowedCidrs`, async () => {
            const s = await synth(stack);
            const firewalls = firewallsByName(s);
            assert.deepStrictEqual(Object.keys(firewalls).sort(), ["ci-access", "hosts"]);
            // The CI access firewall is created empty (npm run ci-access opens it for one runner's
            // address while a deploy runs; ci-access.spec.ts), so what the world reaches at rest is
            // the union of both firewalls' rules, as Hetzner applies them.
            assert.deepStrictEqual(firewalls["ci-access"].rules, []);
            const rules = Object.values(firewalls).flatMap((f) => f.rules);
            for (const rule of rules) assert.strictEqual(rule.direction, "in");
            const world = rules.filter((r) => r.sourceIps.some((ip) => WORLD.includes(ip) || ip.endsWith("/0")));
            // Production's nodes sit behind the PROXY protocol load balancer, which reaches them privately.
            const publicWeb = stack === "production" ? [] : ["tcp/443", "tcp/80"];
            assert.deepStrictEqual(world.map((r) => `${r.protocol}/${r.port ?? "-"}`).sort(), ["icmp/-", ...publicWeb]);
            for (const r of world) assert.deepStrictEqual([...r.sourceIps].sort(), [...WORLD].sort());
            const admin = rules.filter((r) => !world.includes(r));
            const expected = stack === "production" ? ["tcp/22", "tcp/6443"] : ["tcp/22"];
            assert.deepStrictEqual(admin.map((r) => `${r.protocol}/${r.port}`).sort(), expected);
            for (const r of admin) assert.deepStrictEqual(r.sourceIps, ADMIN_CIDRS);
            const allFirewalls = Object.values(firewalls).map((f) => f.id).sort();
            for (const srv of ofType(s, SERVER).map(plainInputs)) {
                assert.deepStrictEqual([...srv.firewallIds].sort(), allFirewalls, `${srv.name} must get both firewalls at boot`);
            }
        });
    }
});

describe("hosts: rendered cloud-init and host scripts pass their real validators", () => {
    const cloudInitFiles = async () => {
        const files: Record<string, string> = {};
        for (const stack of ["staging", "production"]) {
            const s = await synth(stack);
            for (const [file, text] of Object.entries(s.files)) if (file.startsWith("cloud-init/")) files[`${stack}/${file}`] = text;
        }
        return files;
    };

    it("every user-data passes `cloud-init schema` and carries no secret", async () => {
        requireTool("cloud-init", "cloud-init");
        const files = await cloudInitFiles();
        assert.strictEqual(Object.keys(files).length, 7);
        const dir = writeTempFiles(files);
        for (const [file, text] of Object.entries(files)) {
            assert.ok(text.startsWith("#cloud-config\n"), `${file}: header`);
            const result = run("cloud-init", ["schema", "--config-file", path.join(dir, file)]);
            assert.strictEqual(result.status, 0, `${file}: ${result.output}`);
        }
        for (const stack of ["staging", "production"]) {
            const s = await synth(stack);
            const secrets = generatedSecretValues(s);
            assert.ok(secrets.length > 5);
            for (const file of Object.keys(s.files).filter((f) => f.startsWith("cloud-init/"))) {
                for (const secret of secrets) assert.ok(!s.files[file].includes(secret), `${stack}/${file} holds a secret`);
            }
        }
    });

    it("uses only top-level keys the pinned Ubuntu's cloud-init knows, each read by a module Ubuntu runs (per host type)", async () => {
        // `cloud-init schema` here (Debian's 22.4) admits unknown top-level keys; the image's own 24.1.3
        // does not, and its module would never see a misspelled one: write_filez would write nothing.
        const known = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures", "cloud-init", "ubuntu-24.04-cloud-init-24.1.3.json"), "utf8")) as
            { keys: Record<string, string[]>; ubuntuModules: Record<string, string[]> };
        assert.equal(SERVER_IMAGE, "ubuntu-24.04", "the key list is that of Ubuntu 24.04's cloud-init: record the new image's");
        const runs = new Set(Object.values(known.ubuntuModules).flat());
        const core = ["base_config", "output_config", "reporting_config", "(cloud-init itself)"];
        const hostType = (file: string) => (/\/compose\.yaml$/.test(file) ? "compose host" : /\/cp-\d+\.yaml$/.test(file) ? "k3s server" : /\/agent-\d+\.yaml$/.test(file) ? "k3s agent" : undefined);
        const files = await cloudInitFiles();
        const types = new Set<string>();
        for (const [file, text] of Object.entries(files)) {
            const type = hostType(file);
            assert.ok(type, `${file}: which host type is it?`);
            types.add(type);
            const keys = Object.keys(parseYaml(text) as object);
            assert.ok(keys.includes("write_files") && keys.includes("runcmd"), `${type} (${file}): ${keys.join(", ")}`);
            for (const key of keys) {
                const modules = known.keys[key];
                assert.ok(modules, `${type} (${file}): cloud-init 24.1.3 has no top-level key ${key}`);
                assert.ok(modules.some((m) => runs.has(m) || core.includes(m)), `${type} (${file}): ${key} is read by ${modules.join(", ")}, which Ubuntu's cloud.cfg never runs`);
            }
        }
        assert.deepStrictEqual([...types].sort(), ["compose host", "k3s agent", "k3s server"]);
    });

    it("cloud-init schema rejects a broken user-data (the check can fail)", () => {
        requireTool("cloud-init", "cloud-init");
        const dir = writeTempFiles({ "broken.yaml": "#cloud-config\npackage_update: maybe\nssh_pwauth: [1, 2]\n" });
        assert.notStrictEqual(run("cloud-init", ["schema", "--config-file", path.join(dir, "broken.yaml")]).status, 0);
    });

    it("user-data hardens SSH, installs Docker for compose only and turns on security upgrades", async () => {
        const files = await cloudInitFiles();
        const compose = files["staging/cloud-init/compose.yaml"];
        assert.match(compose, /PasswordAuthentication no/);
        assert.match(compose, /PermitRootLogin no/);
        assert.match(compose, /ssh_pwauth: false/);
        assert.match(compose, /- - docker-compose-plugin\n {4}- 2\.\d+\.\d+-1~ubuntu\.24\.04~noble/);
        assert.match(compose, /Unattended-Upgrade "1"/);
        assert.doesNotMatch(files["production/cloud-init/cp-1.yaml"], /docker/);
    });

    it("every host script and every rendered remote command passes shellcheck", async () => {
        requireTool("shellcheck", "shellcheck");
        const scripts: Record<string, string> = {};
        for (const file of fs.readdirSync(HOST_SCRIPTS_DIR)) scripts[`raw/${file}`] = fs.readFileSync(path.join(HOST_SCRIPTS_DIR, file), "utf8");
        for (const stack of ["staging", "production"]) {
            for (const cmd of ofType(await synth(stack), COMMAND)) scripts[`${stack}/${cmd.name}.sh`] = plainInputs(cmd).create;
        }
        scripts["delivery/write-secret-file.sh"] = renderHostScript(["write-secret-file"], { PROJECT_DIR: "/opt/archon", SECRET_FILE: "env/.env" });
        scripts["delivery/compose-up.sh"] = renderHostScript(["compose-up"], { PROJECT_DIR: "/opt/archon" });
        assert.ok(Object.keys(scripts).length >= 6 + 8 + 2);
        const dir = writeTempFiles(scripts);
        for (const file of Object.keys(scripts)) {
            const result = run("shellcheck", ["--shell=bash", "--severity=style", path.join(dir, file)]);
            assert.strictEqual(result.status, 0, `${file}:\n${result.output}`);
        }
    });

    it("shellcheck flags a faulty script (the check can fail)", () => {
        requireTool("shellcheck", "shellcheck");
        const dir = writeTempFiles({ "bad.sh": "#!/usr/bin/env bash\nrm -rf $1/*\n" });
        assert.notStrictEqual(run("shellcheck", [path.join(dir, "bad.sh")]).status, 0);
    });
});

describe("hosts: releases and secret rotations never replace a server", () => {
    const hetznerInputs = (s: SynthResult) =>
        Object.fromEntries(hcloudResources(s).filter((r) => r.custom).map((r) => [r.urn, r.inputs]));

    for (const stack of ["staging", "production"]) {
        it(`${stack}: a new image tag changes no Hetzner resource input`, async () => {
            const before = await synth(stack);
            const after = await synth(stack, { imageTag: "sha-deadbee" });
            assert.notDeepStrictEqual(before.outputs.imageRefs, after.outputs.imageRefs, "the override must reach the program");
            assert.deepStrictEqual(hetznerInputs(after), hetznerInputs(before));
        });

        it(`${stack}: rotating the secrets (secretsVersion 2) changes no Hetzner resource input`, async () => {
            const before = await synth(stack);
            const after = await synth(stack, { secretsVersion: 2 });
            const keepers = (r: SynthResult) => plainInputs(named(r, "random:index/randomPassword:RandomPassword", "k3s-token")).keepers;
            assert.notDeepStrictEqual(keepers(before), keepers(after), "the rotation must reach the program");
            assert.deepStrictEqual(hetznerInputs(after), hetznerInputs(before));
            assert.ok(ofType(before, SERVER).length > 0);
        });
    }
});

describe("hosts: compose delivery re-runs on content changes only", () => {
    it("the project hash changes with any file's content or path, never with key order", () => {
        const base = { "docker-compose.yml": "services: {}\n", "kong.yml": "_format_version: '3.0'\n" };
        assert.strictEqual(contentHash(base), contentHash({ "kong.yml": base["kong.yml"], "docker-compose.yml": base["docker-compose.yml"] }));
        assert.notStrictEqual(contentHash(base), contentHash({ ...base, "kong.yml": "_format_version: '3.1'\n" }));
        assert.notStrictEqual(contentHash(base), contentHash({ "docker-compose.yaml": base["docker-compose.yml"], "kong.yml": base["kong.yml"] }));
    });
});
