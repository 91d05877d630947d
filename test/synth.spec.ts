import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PROJECT_DIR, parseOverride, stackConfig } from "../scripts/lib/stack-config";
import { SynthResult, synthesize, withStandInHint } from "../scripts/lib/synthesize";
import { parse as parseYaml } from "yaml";
import { requireTool, run, synth } from "./helpers";

function runSynthCli(stack: string, extra: string[] = []): { out: string; status: number | null; output: string } {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), `synth-${stack}-`));
    const result = run("node", ["--require", "ts-node/register/transpile-only", "scripts/synth.ts", "--stack", stack, "--out", out, ...extra], { cwd: PROJECT_DIR });
    return { out, ...result };
}

function readTree(dir: string): Record<string, string> {
    const files: Record<string, string> = {};
    const walk = (sub: string) => {
        for (const entry of fs.readdirSync(path.join(dir, sub), { withFileTypes: true })) {
            const relative = path.join(sub, entry.name);
            if (entry.isDirectory()) walk(relative);
            else files[relative] = fs.readFileSync(path.join(dir, relative), "utf8");
        }
    };
    walk("");
    return files;
}

function containsSecretSignature(value: unknown): boolean {
    return JSON.stringify(value).includes("4dabf18193072939515e22adb298388d");
}

for (const stack of ["staging", "production"]) {
    describe(`synth of ${stack}`, () => {
        let result: SynthResult;
        before(async () => {
            result = await synth(stack);
        });

        it("lists every resource as {urn, type, name, parent, custom, inputs, options}, sorted by URN", () => {
            assert.ok(result.resources.length > 0);
            for (const resource of result.resources) {
                assert.deepEqual(Object.keys(resource).sort(), ["custom", "inputs", "name", "options", "parent", "type", "urn"]);
                assert.ok(resource.urn.startsWith(`urn:pulumi:${stack}::archon-infra::`), resource.urn);
                assert.ok(resource.urn.endsWith(`::${resource.name}`), resource.urn);
            }
            const urns = result.resources.map((r) => r.urn);
            assert.deepEqual(urns, [...urns].sort());
            assert.equal(new Set(urns).size, urns.length, "URNs are unique");
        });

        it("wraps secrets as {$secret} and leaves no engine signature behind", () => {
            assert.equal(containsSecretSignature(result.resources), false);
            assert.equal(containsSecretSignature(result.outputs), false);
            const supabase = result.outputs.supabase as Record<string, unknown>;
            assert.deepEqual(Object.keys(supabase.anonKey as object), ["$secret"]);
        });

        it("parents every resource to a component, and every parent exists", () => {
            const byUrn = new Map(result.resources.map((r) => [r.urn, r]));
            const root = result.resources.find((r) => r.type === "pulumi:pulumi:Stack");
            assert.ok(root);
            for (const resource of result.resources) {
                if (resource === root) continue;
                const parent = byUrn.get(resource.parent);
                assert.ok(parent, `${resource.urn}: parent ${resource.parent} is not registered`);
                assert.equal(parent.custom, false, `${resource.urn}: parent is a custom resource`);
                const isProvider = resource.type.startsWith("pulumi:providers:");
                if (resource.custom && !isProvider) {
                    assert.notEqual(parent, root, `${resource.name} (${resource.type}) sits at the stack root: parent it to its component`);
                }
            }
        });

        it("has every component register its outputs", () => {
            const components = result.resources.filter((r) => !r.custom && r.type !== "pulumi:pulumi:Stack").map((r) => r.urn);
            assert.ok(components.length > 0);
            assert.deepEqual(components.filter((urn) => !(urn in result.componentOutputs)), []);
        });

        it("reports the stack and target as outputs", () => {
            const config = stackConfig(stack).values;
            assert.deepEqual(result.outputs.stack, { name: stack, environment: config["archon-infra:environment"], target: config["archon-infra:target"] });
        });
    });
}

describe("synth command", () => {
    it("writes resources.json, outputs.json and files/ that two runs make byte for byte alike", function () {
        this.timeout(180_000);
        const first = runSynthCli("production");
        const second = runSynthCli("production");
        assert.equal(first.status, 0, first.output);
        assert.equal(second.status, 0, second.output);
        assert.match(first.output, /^synth production: \d+ resources, \d+ components, \d+ files -> /m);
        const a = readTree(first.out);
        const b = readTree(second.out);
        assert.ok("resources.json" in a && "outputs.json" in a);
        assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort());
        for (const file of Object.keys(a)) assert.equal(a[file], b[file], `${file} differs between runs`);
        const resources = JSON.parse(a["resources.json"]) as { urn: string }[];
        assert.ok(resources.length > 0);
    });

    it("writes the staging Compose project whole, env files included, as the real docker-compose accepts it", () => {
        requireTool("docker-compose", "docker-compose");
        const { out, status, output } = runSynthCli("staging");
        assert.equal(status, 0, output);
        const project = path.join(out, "files", "project");
        const compose = parseYaml(fs.readFileSync(path.join(project, "docker-compose.yml"), "utf8")) as { services: Record<string, { env_file?: string[] }> };
        const envFiles = Object.values(compose.services).flatMap((service) => service.env_file ?? []);
        assert.ok(envFiles.length > 0);
        for (const envFile of envFiles) assert.ok(fs.existsSync(path.join(project, envFile)), `${envFile} is written beside docker-compose.yml`);
        const check = run("docker-compose", ["config", "-q"], { cwd: project });
        assert.equal(check.status, 0, check.output);
    });

    it("applies --config overrides over the stack file, values as JSON when they parse", () => {
        const { out, status, output } = runSynthCli("staging", ["--config", "secretsVersion=3", "--config", "domain=other.example.org"]);
        assert.equal(status, 0, output);
        const resources = JSON.parse(fs.readFileSync(path.join(out, "resources.json"), "utf8")) as { type: string; inputs: { keepers?: unknown } }[];
        const password = resources.find((r) => r.type === "random:index/randomPassword:RandomPassword");
        assert.deepEqual(password?.inputs.keepers, { secretsVersion: "3" });
    });

    it("loads in its own process only the SDK's mock engine parts: the SDK itself, the providers and the program load in the runner's child", () => {
        const out = fs.mkdtempSync(path.join(os.tmpdir(), "synth-modules-"));
        const list = path.join(out, "modules.json");
        const { status, output } = run("node", ["--require", path.join(__dirname, "fixtures", "loaded-modules.js"), "--require", "ts-node/register/transpile-only", "scripts/synth.ts", "--stack", "staging", "--out", path.join(out, "synth")], {
            cwd: PROJECT_DIR,
            env: { ...process.env, ARCHON_TEST_LOADED_MODULES: list },
        });
        assert.equal(status, 0, output);
        const loaded = (JSON.parse(fs.readFileSync(list, "utf8")) as string[]).map((file) => path.relative(PROJECT_DIR, file));
        fs.rmSync(out, { recursive: true, force: true });
        assert.ok(loaded.includes(path.join("node_modules", "@pulumi", "pulumi", "runtime", "mocks.js")), "the synth serves Pulumi's own mock monitor");
        const sdkIndex = path.join("node_modules", "@pulumi", "pulumi", "index.js");
        const providers = ["command", "docker", "hcloud", "kubernetes", "random", "tls"].map((name) => path.join("node_modules", "@pulumi", name) + path.sep);
        // The program's entry point and config.ts (which reads pulumi.Config); components it reads
        // here are pure (config-schema.ts's server types, prices), any that imports the SDK loads its index.
        const program = ["index.ts", "config.ts"];
        const unexpected = loaded.filter((file) => file === sdkIndex || program.includes(file) || providers.some((prefix) => file.startsWith(prefix)));
        assert.deepEqual(unexpected, [], "loaded by the synth's own process although only the runner's child uses them");
    });

    it("parses override values as JSON when they can, else as strings", () => {
        assert.deepEqual(parseOverride("agentNodes=3"), ["agentNodes", 3]);
        assert.deepEqual(parseOverride("buildImages=false"), ["buildImages", false]);
        assert.deepEqual(parseOverride('sshAllowedCidrs=["10.0.0.0/8"]'), ["sshAllowedCidrs", ["10.0.0.0/8"]]);
        assert.deepEqual(parseOverride("imageTag=sha-1a2b3c4"), ["imageTag", "sha-1a2b3c4"]);
        assert.deepEqual(parseOverride("domain=a=b.example.com"), ["domain", "a=b.example.com"]);
        assert.throws(() => parseOverride("novalue"), /--config "novalue": write it as key=value/);
    });

    it("refuses a missing --stack, naming the stacks", () => {
        const result = run("node", ["--require", "ts-node/register/transpile-only", "scripts/synth.ts"], { cwd: PROJECT_DIR });
        assert.equal(result.status, 2);
        assert.equal(result.output.trim(), "error: --stack is required; the stacks are production, staging");
    });

    it("stands in for encrypted stack values with labelled, deterministic secrets the program accepts", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "project-"));
        fs.copyFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
        const committed = fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.production.yaml"), "utf8");
        fs.writeFileSync(path.join(dir, "Pulumi.production.yaml"), `${committed}  archon-infra:alertWebhookUrl:\n    secure: AAABAF1x\n  hcloud:token:\n    secure: AAABAG2y\n`);
        const config = stackConfig("production", {}, dir);
        const webhook = config.values["archon-infra:alertWebhookUrl"];
        assert.ok(webhook.includes(encodeURIComponent("<secret archon-infra:alertWebhookUrl from Pulumi.production.yaml>")), webhook);
        assert.equal(config.values["hcloud:token"], "<secret hcloud:token from Pulumi.production.yaml>");
        // The committed file's own encrypted value (the cluster's Hetzner token placeholder) counts too.
        assert.deepEqual(config.secretKeys, ["archon-infra:alertWebhookUrl", "archon-infra:hcloudTokenForCluster", "hcloud:token"]);
        assert.deepEqual(stackConfig("production", {}, dir), config, "deterministic");
        // The program accepts the stand-ins; they stay secret in what it renders.
        const result = await synthesize("production", {}, undefined, dir);
        const alertmanager = Object.entries(result.files).filter(([, text]) => text.includes("stand-in.invalid"));
        assert.ok(alertmanager.length > 0, "the webhook stand-in reaches the Alertmanager config");
        const outsideSecrets = (value: unknown): boolean => {
            if (typeof value === "string") return value.includes("stand-in.invalid");
            if (Array.isArray(value)) return value.some(outsideSecrets);
            if (value === null || typeof value !== "object") return false;
            if ("$secret" in value) return false;
            return Object.values(value).some(outsideSecrets);
        };
        assert.deepEqual(result.resources.filter((r) => outsideSecrets(r.inputs)).map((r) => r.urn), [], "the stand-in appears only inside secrets");
    });

    it("names the key when the program refuses a stand-in, and how to pass one", () => {
        const config = { project: "archon-infra", values: {}, secretKeys: [], standIns: { "archon-infra:kubeconfig": "Pulumi.dev.yaml" } };
        assert.equal(withStandInHint("archon-infra:kubeconfig = [secret]: not a kubeconfig", config),
            "archon-infra:kubeconfig = [secret]: not a kubeconfig; archon-infra:kubeconfig is encrypted in Pulumi.dev.yaml and the synth cannot decrypt it: pass a stand-in with --config kubeconfig=<value>");
    });
});
