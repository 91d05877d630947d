/**
 * The first deploy on an empty project (README "First deploy"): the synth's graph orders
 * DNS preflight -> registry serving -> image push -> Archon workloads on both targets, the DNS
 * records cover every public host (managed in `dnsZone` or printed), and the preflight and
 * compose-up scripts behave as documented when run for real.
 */
import * as assert from "assert";
import { ChildProcess, spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as https from "https";
import * as path from "path";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { ResourceRecord, SynthConfigError, SynthResult, reveal } from "../scripts/lib/synthesize";
import { DNS_PREFLIGHT_SCRIPT, dnsRecords, rrsetName } from "../components/hetzner/dns";
import { ARCHON_IMAGES } from "../components/registry/build-context";
import { REGISTRY_PROBE_SCRIPT } from "../components/registry/bootstrap";
import { registryConfigYaml } from "../components/registry/registry";
import * as kubernetes from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { KubernetesWorkloads, SKIP_AWAIT_ANNOTATION } from "../components/kubernetes/workloads";
import { ServiceSpec } from "../components/services/catalog";
import { freePort, inProgram, named, ofType, plainInputs, requireTool, run, runComposeUp, synth, writeTempFiles } from "./helpers";

const CHECKOUT = path.resolve(__dirname, "fixtures", "archon-checkout");
const BUILD = { buildImages: true, archonSourceDir: CHECKOUT };
const IMAGE = "docker:index/image:Image";
const LOCAL = "command:local:Command";
const REMOTE = "command:remote:Command";
const ARCHON_KINDS = ["kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:Job"];

/**
 * Everything `resource` waits for before it is created: its dependsOn (explicit and the synth's
 * input dependencies), a component's descendants counted as the component, and its ancestors'
 * dependsOn, transitively.
 */
function waitsFor(result: SynthResult, resource: ResourceRecord): Set<string> {
    const byUrn = new Map(result.resources.map((r) => [r.urn, r]));
    const children = new Map<string, string[]>();
    for (const r of result.resources) children.set(r.parent, [...(children.get(r.parent) ?? []), r.urn]);
    const descendants = (urn: string): string[] => (children.get(urn) ?? []).flatMap((c) => [c, ...descendants(c)]);
    const seen = new Set<string>();
    const visit = (urn: string) => {
        const record = byUrn.get(urn);
        if (!record) return;
        const direct = [...(record.options.dependsOn ?? [])];
        // Ancestors' dependsOn hold for their children too.
        for (let p = record.parent; p && byUrn.has(p); p = byUrn.get(p)!.parent) direct.push(...(byUrn.get(p)!.options.dependsOn ?? []));
        for (const dep of direct) {
            for (const each of [dep, ...descendants(dep)]) {
                if (seen.has(each)) continue;
                seen.add(each);
                visit(each);
            }
        }
    };
    visit(resource.urn);
    return seen;
}

function assertWaits(result: SynthResult, later: ResourceRecord, earlier: ResourceRecord): void {
    assert.ok(waitsFor(result, later).has(earlier.urn), `${later.type} ${later.name} must wait for ${earlier.type} ${earlier.name}`);
}

function assertIndependent(result: SynthResult, first: ResourceRecord, of: ResourceRecord): void {
    assert.ok(!waitsFor(result, first).has(of.urn), `${first.type} ${first.name} must not wait for ${of.type} ${of.name} (the order would deadlock)`);
}

describe("first deploy: staging (Compose)", () => {
    it("starts proxy, certbot and the registry, waits for it over TLS, pushes, then starts Archon", async () => {
        const result = await synth("staging", BUILD);
        const edge = named(result, REMOTE, "compose-up-edge");
        const ready = named(result, LOCAL, "registry-ready");
        const up = named(result, REMOTE, "compose-up");
        const preflight = named(result, LOCAL, "dns-preflight");
        const images = ofType(result, IMAGE);
        assert.deepStrictEqual(images.map((i) => i.name).sort(), ["archon-mcp", "archon-migrate", "archon-server", "archon-ui"]);
        assertWaits(result, edge, preflight);
        assertWaits(result, ready, edge);
        for (const image of images) {
            assertWaits(result, image, ready);
            assertWaits(result, up, image);
            assertIndependent(result, edge, image);
        }
        assertWaits(result, up, preflight);
        assert.match(plainInputs(edge).create, /^export START_ONLY='proxy certbot registry'$/m);
        assert.match(plainInputs(up).create, /^export ARCHON_IMAGES_REQUIRED='1'$/m);
        // The pushes go to the read-write instance's host (components/registry/hosts.ts).
        assert.strictEqual(plainInputs(ready).environment.REGISTRY_SERVER, "registry-push.staging.archon.example.com");
    });

    it("delivers the project with image tags before the push and with the pushed digests after it", async () => {
        const result = await synth("staging", BUILD);
        const edgeCopy = named(result, "command:remote:CopyToRemote", "edge-project");
        const copy = named(result, "command:remote:CopyToRemote", "project");
        assertWaits(result, copy, named(result, REMOTE, "compose-up-edge"));
        const composeFile = (record: ResourceRecord) => {
            const dir = (plainInputs(record).source as { $archive: { path: string } }).$archive.path;
            return parseYaml(fs.readFileSync(path.join(dir, "docker-compose.yml"), "utf8")) as { services: Record<string, { image: string }> };
        };
        const before = composeFile(edgeCopy).services;
        const after = composeFile(copy).services;
        assert.strictEqual(before["archon-server"].image, "registry.staging.archon.example.com/archon-server:sha-1a2b3c4");
        assert.match(after["archon-server"].image, /^registry\.staging\.archon\.example\.com\/archon-server:sha-1a2b3c4@sha256:[0-9a-f]{64}$/);
        for (const service of ["proxy", "certbot", "registry"]) assert.deepStrictEqual(before[service], after[service], `${service} must not change between the two deliveries`);
    });

    it("without builds here, one compose-up starts everything else first and Archon only if its images pull", async () => {
        const result = await synth("staging");
        assert.deepStrictEqual(ofType(result, IMAGE), []);
        assert.throws(() => named(result, REMOTE, "compose-up-edge"));
        assert.throws(() => named(result, LOCAL, "registry-ready"));
        const create: string = plainInputs(named(result, REMOTE, "compose-up")).create;
        assert.match(create, /^export ARCHON_SERVICES='archon-server archon-mcp archon-ui archon-migrate'$/m);
        assert.match(create, /^export ARCHON_IMAGES_REQUIRED='0'$/m);
        const others = /^export OTHER_SERVICES='([^']*)'$/m.exec(create)?.[1].split(" ") ?? [];
        for (const service of ["db", "kong", "registry", "proxy", "certbot", "prometheus", "grafana"]) assert.ok(others.includes(service), service);
        for (const service of ARCHON_IMAGES) assert.ok(!others.includes(service), service);
    });
});

describe("first deploy: production (k3s)", () => {
    it("orders registry -> its Ingress -> registry-ready -> image push -> Archon workloads", async () => {
        const result = await synth("production", BUILD);
        const ready = named(result, LOCAL, "registry-ready");
        const registry = named(result, "kubernetes:apps/v1:StatefulSet", "registry");
        const registryIngress = named(result, "kubernetes:networking.k8s.io/v1:Ingress", "archon-registry-registry");
        assertWaits(result, ready, registry);
        assertWaits(result, ready, registryIngress);
        const images = ofType(result, IMAGE);
        assert.strictEqual(images.length, 5);
        const archon = result.resources.filter((r) => ARCHON_KINDS.includes(r.type) && (ARCHON_IMAGES as readonly string[]).includes(r.name));
        assert.deepStrictEqual(archon.map((r) => r.name).sort(), [...ARCHON_IMAGES].sort());
        for (const image of images) {
            assertWaits(result, image, ready);
            for (const workload of archon) assertWaits(result, workload, image);
        }
        // The registry and its Ingress never wait for what waits for them.
        for (const workload of archon) {
            assertIndependent(result, registryIngress, workload);
            assertIndependent(result, registry, workload);
        }
        for (const workload of archon) assert.strictEqual(plainInputs(workload).metadata.annotations, undefined, "built here: the workloads are awaited");
    });

    it("every Ingress (a certificate request) and the registry check wait for the DNS preflight", async () => {
        const result = await synth("production", BUILD);
        const preflight = named(result, LOCAL, "dns-preflight");
        const ingresses = ofType(result, "kubernetes:networking.k8s.io/v1:Ingress");
        assert.ok(ingresses.length >= 5);
        for (const ingress of ingresses) assertWaits(result, ingress, preflight);
        assertWaits(result, named(result, LOCAL, "registry-ready"), preflight);
    });

    it("with CI-pushed images, checks the registry for them before the Archon workloads", async () => {
        const result = await synth("production");
        const check = named(result, LOCAL, "archon-images-present");
        assertWaits(result, check, named(result, LOCAL, "registry-ready"));
        const env = plainInputs(check).environment;
        assert.deepStrictEqual(JSON.parse(env.REGISTRY_IMAGES), ["archon-server", "archon-mcp", "archon-ui", "archon-agents", "archon-migrate"]);
        assert.strictEqual(env.REGISTRY_TAG, "sha-1a2b3c4");
        assert.strictEqual(env.REGISTRY_SERVER, "registry.archon.example.com", "it asks the host the nodes pull from");
        assert.deepStrictEqual(JSON.parse(env.REGISTRY_DIGESTS), {}, "the committed example tag has no release record");
        const password = (check.inputs.environment as Record<string, unknown>).REGISTRY_PASSWORD;
        assert.ok(typeof password === "object" && password !== null && "$secret" in password, "the registry password stays secret");
        for (const name of ARCHON_IMAGES) {
            const workload = result.resources.find((r) => ARCHON_KINDS.includes(r.type) && r.name === name);
            assert.ok(workload, name);
            assertWaits(result, workload, check);
            // The synth's check reports the images present: Pulumi awaits the workloads as usual.
            assert.strictEqual(plainInputs(workload).metadata.annotations, undefined);
        }
    });
});

describe("Archon workloads' await (KubernetesWorkloads)", () => {
    /** The annotations of an Archon Deployment and a Job and of another Deployment, with the image check's answer `missing`. */
    const annotationsWith = (missing: boolean) => inProgram("production", {}, async () => {
        const provider = new kubernetes.Provider("test", { kubeconfig: "{}" });
        const spec = (name: string, kind: ServiceSpec["kind"]): ServiceSpec => ({
            name, group: "archon", image: `registry.test/${name}:sha-abcdef1`, kind, ports: kind === "oneshot" ? [] : [{ name: "http", port: 8080 }],
            resources: { cpu: "10m", memory: "16Mi", cpuLimit: "100m", memoryLimit: "64Mi" },
            security: { runAsNonRoot: true, runAsUser: 1000, readOnlyRootFilesystem: true },
        });
        const workloads = new KubernetesWorkloads("first-deploy-test", {
            services: [spec("archon-ui", "service"), spec("archon-migrate", "oneshot"), spec("kong", "service")],
            namespace: "first-deploy-test",
            provider,
            archon: { services: ["archon-ui", "archon-migrate"], dependsOn: [], skipAwait: pulumi.output(missing) },
        });
        const annotations = (service: string) => new Promise<unknown>((resolve) =>
            (workloads.byService.get(service)![0] as kubernetes.apps.v1.Deployment | kubernetes.batch.v1.Job).metadata.annotations.apply(resolve));
        return { ui: await annotations("archon-ui"), migrate: await annotations("archon-migrate"), kong: await annotations("kong") };
    });

    it("skips Pulumi's await on the Archon workloads only when their images were missing", async () => {
        const missing = await annotationsWith(true);
        assert.deepStrictEqual(missing.ui, { [SKIP_AWAIT_ANNOTATION]: "true" });
        assert.deepStrictEqual(missing.migrate, { [SKIP_AWAIT_ANNOTATION]: "true" });
        assert.ok(!missing.kong, "only the Archon workloads");
        const present = await annotationsWith(false);
        assert.ok(!present.ui && !present.migrate, JSON.stringify(present));
    });
});

describe("DNS records", () => {
    it("are an output with A and AAAA for every public host, at the ingress address", async () => {
        for (const stack of ["staging", "production"]) {
            const outputs = reveal((await synth(stack)).outputs) as { dnsRecords: { host: string; type: string; value: string }[]; publicHosts: string[]; ingressIpv4: string };
            const hosts = [...new Set(outputs.dnsRecords.map((r) => r.host))].sort();
            assert.deepStrictEqual(hosts, [...outputs.publicHosts].sort(), stack);
            assert.ok(hosts.some((h) => h.startsWith("registry.")), `${stack}: registry host`);
            for (const record of outputs.dnsRecords.filter((r) => r.type === "A")) assert.strictEqual(record.value, outputs.ingressIpv4);
            assert.strictEqual(outputs.dnsRecords.filter((r) => r.type === "AAAA").length, hosts.length);
            assert.strictEqual(ofType(await synth(stack), "hcloud:index/zoneRrset:ZoneRrset").length, 0, "no zone: no managed record");
        }
    });

    it("are managed in the Hetzner zone `dnsZone`, and the preflight waits for them", async () => {
        const result = await synth("production", { dnsZone: "example.com" });
        const outputs = reveal(result.outputs) as { publicHosts: string[]; ingressIpv4: string };
        const rrsets = ofType(result, "hcloud:index/zoneRrset:ZoneRrset").map(plainInputs);
        assert.strictEqual(rrsets.length, outputs.publicHosts.length * 2);
        const a = rrsets.find((r) => r.name === "registry.archon" && r.type === "A");
        assert.ok(a, JSON.stringify(rrsets.map((r) => r.name)));
        assert.deepStrictEqual({ zone: a.zone, records: a.records.map((r: { value: string }) => r.value) }, { zone: "example.com", records: [outputs.ingressIpv4] });
        const preflight = named(result, LOCAL, "dns-preflight");
        for (const rrset of ofType(result, "hcloud:index/zoneRrset:ZoneRrset")) assertWaits(result, preflight, rrset);
    });

    it("refuses a dnsZone that does not contain the domain", async () => {
        await assert.rejects(synth("staging", { dnsZone: "example.org" }), (err: Error) => {
            assert.ok(err instanceof SynthConfigError, String(err));
            assert.match(err.message, /archon-infra:dnsZone = "example\.org": does not contain domain staging\.archon\.example\.com/);
            return true;
        });
    });

    it("names records relative to the zone", () => {
        assert.strictEqual(rrsetName("registry.staging.example.com", "example.com"), "registry.staging");
        assert.strictEqual(rrsetName("example.com", "example.com"), "@");
        assert.throws(() => rrsetName("a.example.org", "example.com"), /not inside the DNS zone example\.com/);
        assert.deepStrictEqual(dnsRecords(["b.x.io", "a.x.io"], "203.0.113.5").map((r) => r.host), ["a.x.io", "b.x.io"]);
    });
});

/**
 * Runs the DNS preflight for real with node, in a private mount namespace whose /etc/hosts holds
 * `hosts` and whose resolv.conf points at a closed loopback port (no query leaves the machine).
 */
function preflight(records: { host: string; type: string; value: string }[], hosts: string): { status: number | null; output: string } {
    requireTool("unshare", "util-linux");
    const dir = writeTempFiles({ hosts, "resolv.conf": "nameserver 127.0.0.9\noptions timeout:1 attempts:1\n", "preflight.js": DNS_PREFLIGHT_SCRIPT }, "archon-dns-");
    const script = `mount --bind "${dir}/hosts" /etc/hosts && mount --bind "${dir}/resolv.conf" /etc/resolv.conf && exec "${process.execPath}" "${dir}/preflight.js"`;
    const result = run("unshare", ["-m", "--propagation", "private", "sh", "-c", script], {
        env: { ...process.env, DNS_RECORDS: JSON.stringify(records), DNS_WAIT_SECONDS: "0", DNS_RETRY_SECONDS: "0" },
    });
    fs.rmSync(dir, { recursive: true, force: true });
    return result;
}

describe("DNS preflight (run for real)", () => {
    const records = [
        { host: "archon.stack.test", type: "A", value: "203.0.113.10" },
        { host: "registry.stack.test", type: "A", value: "203.0.113.10" },
        { host: "registry.stack.test", type: "AAAA", value: "2001:db8::1" },
    ];

    it("passes when every host resolves to the expected address", () => {
        const result = preflight(records, "127.0.0.1 localhost\n203.0.113.10 archon.stack.test registry.stack.test\n2001:db8::1 registry.stack.test\n");
        assert.strictEqual(result.status, 0, result.output);
        assert.match(result.output, /ok/);
    });

    it("passes without AAAA records (Let's Encrypt then uses IPv4)", () => {
        const result = preflight(records, "127.0.0.1 localhost\n203.0.113.10 archon.stack.test registry.stack.test\n");
        assert.strictEqual(result.status, 0, result.output);
    });

    it("fails naming a host that points elsewhere, with the record to create", () => {
        const result = preflight(records, "127.0.0.1 localhost\n203.0.113.10 archon.stack.test\n198.51.100.7 registry.stack.test\n");
        assert.strictEqual(result.status, 1, result.output);
        assert.match(result.output, /registry\.stack\.test {2}A {2}203\.0\.113\.10 {4}\(registry\.stack\.test resolves to 198\.51\.100\.7\)/);
        assert.doesNotMatch(result.output, /archon\.stack\.test {2}A/);
    });

    it("fails naming a host that does not resolve, and a stray AAAA record", () => {
        const result = preflight(records, "127.0.0.1 localhost\n203.0.113.10 registry.stack.test\n2001:db8::99 registry.stack.test\n");
        assert.strictEqual(result.status, 1, result.output);
        assert.match(result.output, /archon\.stack\.test {2}A {2}203\.0\.113\.10 {4}\(archon\.stack\.test does not resolve/);
        assert.match(result.output, /registry\.stack\.test {2}AAAA {2}2001:db8::1 {4}\(registry\.stack\.test resolves to 2001:db8::99\)/);
        assert.match(result.output, /dnsZone/);
    });
});


describe("compose-up (rendered script, fake docker)", () => {
    it("starts everything else, then Archon once its images pull", async () => {
        const { status, output, calls: all } = runComposeUp(await synth("staging"), 0);
        assert.strictEqual(status, 0, output);
        // Each `up` is bounded and followed by its check of the containers (docker ps, compose-up.sh check_services).
        const calls = all.filter((c) => !c.startsWith("ps -aq "));
        assert.match(calls[0], /^compose up -d --wait --wait-timeout 600 --remove-orphans db rest .*registry .*proxy certbot$/);
        assert.strictEqual(calls[1], "compose pull --quiet archon-server archon-mcp archon-ui archon-migrate");
        assert.strictEqual(calls[2], "compose up -d --wait --wait-timeout 600 --remove-orphans");
        assert.strictEqual(calls.length, 3);
        assert.strictEqual(all.filter((c) => c.startsWith("ps -aq ")).length, 2, "both ups are checked");
    });

    it("leaves Archon pending with a clear next step when its images are not in the registry yet", async () => {
        const { status, output, calls: all } = runComposeUp(await synth("staging"), 1);
        assert.strictEqual(status, 0, output);
        const calls = all.filter((c) => !c.startsWith("ps -aq "));
        assert.strictEqual(calls.length, 2, "no second up");
        assert.match(output, /NOT STARTED: archon-server archon-mcp archon-ui archon-migrate/);
        assert.match(output, /tag sha-1a2b3c4\) are not in the registry yet/);
        assert.match(output, /build-images workflow/);
    });

    it("fails when the images this deploy pushed cannot be pulled", async () => {
        const { status, output } = runComposeUp(await synth("staging", BUILD), 1);
        assert.strictEqual(status, 1, output);
        assert.match(output, /check the registry login/);
    });
});

describe("registry probe (real docker-registry over TLS)", () => {
    let server: ChildProcess | undefined;
    let dir = "";
    let address = "";
    let output = "";
    const PASSWORD = "probe-secret";

    before(async function () {
        const binary = requireTool("docker-registry", "docker-registry");
        requireTool("htpasswd", "apache2-utils");
        requireTool("python3", "python3-cryptography");
        dir = writeTempFiles({}, "archon-probe-");
        const cert = run("python3", [path.resolve(__dirname, "..", "components", "compose", "nginx", "bootstrap-cert.py"), "localhost", path.join(dir, "tls")]);
        assert.strictEqual(cert.status, 0, cert.output);
        const hash = run("htpasswd", ["-nbB", "archon", PASSWORD]);
        assert.strictEqual(hash.status, 0, hash.output);
        fs.writeFileSync(path.join(dir, "htpasswd"), hash.output.trim() + "\n");
        const port = await freePort();
        address = `localhost:${port}`;
        // The stack's own registry config (its read-write instance, which the test pushes to), with a
        // local address, storage and TLS (nginx/the ingress terminate TLS in the stack).
        const config = parseYaml(registryConfigYaml(address, "push")) as Record<string, any>;
        config.storage.filesystem.rootdirectory = path.join(dir, "data");
        config.http.addr = `127.0.0.1:${port}`;
        delete config.http.debug;
        config.http.tls = { certificate: path.join(dir, "tls", "fullchain.pem"), key: path.join(dir, "tls", "privkey.pem") };
        config.auth.htpasswd.path = path.join(dir, "htpasswd");
        fs.writeFileSync(path.join(dir, "config.yml"), toYaml(config));
        server = spawn(binary, ["serve", path.join(dir, "config.yml")], { stdio: ["ignore", "pipe", "pipe"] });
        server.stdout?.on("data", (d) => { output += d; });
        server.stderr?.on("data", (d) => { output += d; });
        for (let i = 0; i < 100 && !/listening on/.test(output); i++) await new Promise((r) => setTimeout(r, 100));
        assert.match(output, /listening on/, output);
    });

    after(() => {
        server?.kill();
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    const probe = (env: Record<string, string>) => run(process.execPath, ["-e", REGISTRY_PROBE_SCRIPT], {
        env: { ...process.env, REGISTRY_SERVER: address, REGISTRY_WAIT_SECONDS: "0", REGISTRY_RETRY_SECONDS: "0", ...env },
    });
    const trusted = () => ({ NODE_EXTRA_CA_CERTS: path.join(dir, "tls", "fullchain.pem") });

    it("ready: refuses a certificate nobody trusts (the bootstrap certificate), naming the error", () => {
        const result = probe({ REGISTRY_PROBE: "ready" });
        assert.strictEqual(result.status, 1, result.output);
        assert.match(result.output, /SELF_SIGNED|self[- ]signed/i);
        assert.match(result.output, /dnsRecords/);
    });

    it("ready: passes once the registry answers over a trusted certificate", () => {
        const result = probe({ REGISTRY_PROBE: "ready", ...trusted() });
        assert.strictEqual(result.status, 0, result.output);
        assert.match(result.output, /answers \(401\)/);
    });

    it("images: reports the missing images, then present once pushed", async () => {
        const env = { REGISTRY_PROBE: "images", REGISTRY_IMAGES: JSON.stringify(["archon-ui", "archon-server"]), REGISTRY_TAG: "sha-abcdef1", REGISTRY_USERNAME: "archon", REGISTRY_PASSWORD: PASSWORD, ...trusted() };
        const before = probe(env);
        assert.strictEqual(before.status, 0, before.output);
        assert.match(before.output, /^missing: archon-ui, archon-server$/m);
        for (const name of ["archon-ui", "archon-server"]) await pushEmptyImage(address, name, "sha-abcdef1", PASSWORD, fs.readFileSync(path.join(dir, "tls", "fullchain.pem")));
        const after = probe(env);
        assert.strictEqual(after.status, 0, after.output);
        assert.match(after.output, /^present$/m);
        const wrong = probe({ ...env, REGISTRY_PASSWORD: "wrong" });
        assert.strictEqual(wrong.status, 1, wrong.output);
        assert.match(wrong.output, /answered 401 \(are the registry credentials right\?\)/);
    });

    it("images: with recorded digests, asks for each digest and FAILS when one is missing (the deploy stops before Archon moves)", async () => {
        const pushed = await pushEmptyImage(address, "archon-mcp", "sha-abcdef1", PASSWORD, fs.readFileSync(path.join(dir, "tls", "fullchain.pem")));
        const env = { REGISTRY_PROBE: "images", REGISTRY_IMAGES: JSON.stringify(["archon-mcp"]), REGISTRY_TAG: "sha-abcdef1", REGISTRY_USERNAME: "archon", REGISTRY_PASSWORD: PASSWORD, ...trusted() };
        const right = probe({ ...env, REGISTRY_DIGESTS: JSON.stringify({ "archon-mcp": pushed }) });
        assert.strictEqual(right.status, 0, right.output);
        assert.match(right.output, /^present$/m);
        // The tag exists, but not with the digest the record names (another build, or a lost copy).
        const other = `sha256:${"0".repeat(64)}`;
        const missing = probe({ ...env, REGISTRY_DIGESTS: JSON.stringify({ "archon-mcp": other }) });
        assert.strictEqual(missing.status, 1, missing.output);
        assert.match(missing.output, new RegExp(`${address}/archon-mcp@${other} not in the registry, though the release record of sha-abcdef1 names it there: copy it again \\(npm run release -- copy --tag sha-abcdef1 --stack <stack>\\)`));
    });
});


/** Pushes an image with an empty config and no layers through the registry API, as `docker push` would; returns its digest. */
async function pushEmptyImage(address: string, name: string, tag: string, password: string, ca: Buffer): Promise<string> {
    const auth = `Basic ${Buffer.from(`archon:${password}`).toString("base64")}`;
    const call = (method: string, url: string, body?: string, headers: Record<string, string> = {}) => new Promise<{ status: number; location?: string }>((resolve, reject) => {
        const req = https.request(url.startsWith("http") ? url : `https://${address}${url}`, { method, ca, headers: { Authorization: auth, ...headers } }, (res) => {
            res.resume();
            res.on("end", () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
        });
        req.on("error", reject);
        req.end(body);
    });
    const configBlob = "{}";
    const digest = `sha256:${crypto.createHash("sha256").update(configBlob).digest("hex")}`;
    const upload = await call("POST", `/v2/${name}/blobs/uploads/`);
    assert.strictEqual(upload.status, 202);
    const location = new URL(upload.location!, `https://${address}`);
    location.searchParams.set("digest", digest);
    assert.strictEqual((await call("PUT", location.toString(), configBlob, { "Content-Type": "application/octet-stream" })).status, 201);
    const manifest = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { mediaType: "application/vnd.oci.image.config.v1+json", digest, size: configBlob.length }, layers: [] });
    const put = await call("PUT", `/v2/${name}/manifests/${tag}`, manifest, { "Content-Type": "application/vnd.oci.image.manifest.v1+json" });
    assert.strictEqual(put.status, 201);
    return `sha256:${crypto.createHash("sha256").update(manifest).digest("hex")}`;
}
