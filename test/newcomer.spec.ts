/**
 * A newcomer's first hour (issue 10, items 2-7; issue 12 item 8): the synth's output directory, its
 * plan, config refusals in the synth and in the program, one-line errors from every script, a quiet
 * happy path, and consistency (engines, env file modes, outputs, bench).
 */
import { strict as assert } from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, loadConfig } from "../config";
import { COMPOSE_HEADER } from "../components/compose/project";
import { OUT_MARKER } from "../scripts/lib/out-dir";
import { PROJECT_DIR, StackConfigError, parseOverride, stackConfig } from "../scripts/lib/stack-config";
import { SynthResult, reveal } from "../scripts/lib/synthesize";
import { checkResources, committedPolicyConfig, policyEnvironment, policyReport } from "../scripts/lib/policy-check";
import { DEFAULT_REGISTRY_USER, SmokeOutputs, smokeChecks } from "../scripts/lib/smoke";
import { SECRET_KEYS } from "../config-schema";
import { policies, resourcePolicies, stackPolicies } from "../policies/all";
import { inProgram, run, synth } from "./helpers";

// Absolute: node resolves --require from the working directory, and some cases run elsewhere.
const TS_NODE = ["--require", path.join(PROJECT_DIR, "scripts", "lib", "preflight.js"), "--require", require.resolve("ts-node/register/transpile-only")];

/** A script run as its npm script runs it (package.json), from the checkout. */
function script(name: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): { status: number | null; output: string; stdout: string } {
    const result = spawnSync(process.execPath, [...TS_NODE, path.join(PROJECT_DIR, "scripts", `${name}.ts`), ...args], {
        cwd: options.cwd ?? PROJECT_DIR, encoding: "utf8", timeout: 240_000,
        // ts-node looks for tsconfig.json from the working directory.
        env: { ...(options.env ?? process.env), TS_NODE_PROJECT: path.join(PROJECT_DIR, "tsconfig.json") },
    });
    return { status: result.status, output: `${result.stdout}${result.stderr}`, stdout: result.stdout };
}

/** Exit 2 and exactly one line, `error: ...`, without a stack trace or zod's internals. */
function assertOneLineError(result: { status: number | null; output: string }, pattern: RegExp): void {
    const lines = result.output.trim().split("\n");
    assert.equal(result.status, 2, result.output);
    assert.equal(lines.length, 1, `one line:\n${result.output}`);
    assert.match(lines[0], /^error: /);
    assert.match(lines[0], pattern);
    assert.doesNotMatch(lines[0], /\s+at \S+ \(|expected \w+, received|Invalid input/);
}

function tempDir(prefix: string): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A copy of the project's Pulumi.yaml with one stack file: `config` lines appended to staging's. */
function projectWithStack(extraConfigLines: string, replace?: [RegExp, string]): string {
    const dir = tempDir("archon-project-");
    fs.copyFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    let staging = fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.staging.yaml"), "utf8");
    if (replace) staging = staging.replace(replace[0], replace[1]);
    fs.writeFileSync(path.join(dir, "Pulumi.staging.yaml"), staging + extraConfigLines);
    return dir;
}

const README = fs.readFileSync(path.join(PROJECT_DIR, "README.md"), "utf8");

/** A command line split as a POSIX shell splits plain and single-quoted words (all README's quotes use). */
function shellWords(line: string): string[] {
    return [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]);
}

/**
 * The output README quotes for a command: the fenced block after `<!-- quoted-output: <command> -->`,
 * exactly one per npm script. `args` are the script's arguments (after `--`).
 */
function readmeQuote(prefix: string, text = README): { args: string[]; output: string } {
    const quotes = [...text.matchAll(/^<!-- quoted-output: (.+) -->\n```\n([\s\S]*?)\n```$/gm)].filter((m) => m[1].startsWith(`${prefix} `));
    assert.equal(quotes.length, 1, `README quotes the output of ${prefix} once`);
    const words = shellWords(quotes[0][1]);
    assert.equal(words.indexOf("--"), 3, quotes[0][1]);
    return { args: words.slice(4), output: quotes[0][2] };
}

/** The lines of the first fenced block after `marker` (a heading or an HTML comment line). */
function blockAfter(marker: string, text = README): string[] {
    const at = text.indexOf(`\n${marker}\n`);
    assert.ok(at >= 0, `README has ${marker}`);
    const block = /```[a-z]*\n([\s\S]*?)\n```/.exec(text.slice(at))!;
    return block[1].split("\n");
}

describe("synth --out: only ever replaces what the synth wrote (issue 10.2)", function () {
    this.timeout(300_000);
    let out: string;
    let first: { status: number | null; output: string; stdout: string };

    before(() => {
        // README's command, run from a directory of its own so the summary names out/staging as in
        // the checkout (the default --out), without writing into the checkout.
        const cwd = tempDir("archon-out-");
        out = path.join(cwd, "out", "staging");
        first = script("synth", [...readmeQuote("npm run synth").args, "--out", path.join("out", "staging")], { cwd });
    });

    it("writes into a new directory and marks it as its own", () => {
        assert.equal(first.status, 0, first.output);
        assert.ok(fs.existsSync(path.join(out, OUT_MARKER)));
        for (const entry of ["resources.json", "outputs.json", "plan.md", "files"]) assert.ok(fs.existsSync(path.join(out, entry)), entry);
    });

    it("refuses a non-empty directory it did not write, and leaves it as it was", () => {
        const dir = tempDir("archon-foreign-");
        fs.writeFileSync(path.join(dir, "notes.txt"), "mine");
        fs.mkdirSync(path.join(dir, ".git"));
        const result = script("synth", ["--stack", "staging", "--out", dir]);
        assertOneLineError(result, /--out .*: the directory is not empty and was not written by the synth/);
        assert.deepEqual(fs.readdirSync(dir).sort(), [".git", "notes.txt"]);
    });

    it("refuses --out . and the checkout, before running the program", () => {
        const cwd = tempDir("archon-cwd-");
        fs.writeFileSync(path.join(cwd, "keep"), "x");
        assertOneLineError(script("synth", ["--stack", "staging", "--out", "."], { cwd }), /--out \.: refusing to write into the current directory/);
        assertOneLineError(script("synth", ["--stack", "staging", "--out", PROJECT_DIR], { cwd }), /refusing to write into the checkout/);
        assertOneLineError(script("synth", ["--stack", "staging", "--out", path.dirname(PROJECT_DIR)], { cwd }), /refusing to write into the checkout or a directory holding it/);
        assert.ok(fs.existsSync(path.join(cwd, "keep")));
        assert.ok(fs.existsSync(path.join(PROJECT_DIR, ".git")));
    });

    it("in its own directory replaces only its entries: .git and other files stay, stale files go", () => {
        fs.mkdirSync(path.join(out, ".git"));
        fs.writeFileSync(path.join(out, ".git", "HEAD"), "ref: refs/heads/main\n");
        fs.writeFileSync(path.join(out, "review-notes.md"), "mine");
        fs.writeFileSync(path.join(out, "files", "stale.yaml"), "from an older synth");
        const again = script("synth", ["--stack", "staging", "--out", out]);
        assert.equal(again.status, 0, again.output);
        assert.equal(fs.readFileSync(path.join(out, ".git", "HEAD"), "utf8"), "ref: refs/heads/main\n");
        assert.equal(fs.readFileSync(path.join(out, "review-notes.md"), "utf8"), "mine");
        assert.ok(!fs.existsSync(path.join(out, "files", "stale.yaml")), "the synth's own stale file is gone");
    });

    it("writes env files and secret files 0600, as the host holds them (issue 10.7)", () => {
        const project = path.join(out, "files", "project");
        const envFiles = fs.readdirSync(path.join(project, "env"));
        assert.ok(envFiles.length > 5);
        for (const file of envFiles) assert.equal(fs.statSync(path.join(project, "env", file)).mode & 0o777, 0o600, file);
        assert.equal(fs.statSync(path.join(project, "docker-compose.yml")).mode & 0o777, 0o644);
    });

    it("prints a short plan and writes plan.md: hosts, images with tags, what is protected, resources by component and type (issue 10.6)", () => {
        const lines = first.stdout.trim().split("\n");
        assert.match(lines[0], /^synth staging: \d+ resources, \d+ components, \d+ files -> /);
        assert.match(first.stdout, /^ {2}public hosts: .*archon\.staging\.archon\.example\.com/m);
        assert.match(first.stdout, /^ {2}images: archon-mcp:sha-1a2b3c4, archon-migrate:sha-1a2b3c4, archon-server:sha-1a2b3c4, archon-ui:sha-1a2b3c4 and \d+ pinned third-party images$/m);
        assert.match(first.stdout, /^ {2}protected: data \(Volume\), pgsodium-root-key \(RandomId\)$/m);
        assert.match(first.stdout, /^ {2}plan: .*plan\.md$/m);
        assert.ok(lines.length <= 8, `short: ${lines.length} lines`);

        const plan = fs.readFileSync(path.join(out, "plan.md"), "utf8");
        const resources = JSON.parse(fs.readFileSync(path.join(out, "resources.json"), "utf8")) as { custom: boolean; type: string }[];
        assert.match(plan, /^# Plan: staging \(target compose, environment staging\)$/m);
        assert.match(plan, /^- https:\/\/supabase\.staging\.archon\.example\.com$/m);
        assert.match(plan, /^- `registry\.staging\.archon\.example\.com\/archon-server:sha-1a2b3c4`$/m);
        assert.match(plan, /^- `supabase\/postgres:15\.8\.1\.085`$/m);
        assert.match(plan, /^- data \(`hcloud:index\/volume:Volume`\): protect$/m);
        assert.match(plan, /^\| ComposeDelivery compose-project \| \d+ \|$/m);
        // The by-type table accounts for every resource.
        const byType = [...plan.matchAll(/^\| `([^`]+)` \| (\d+) \|$/gm)];
        assert.equal(byType.reduce((sum, m) => sum + Number(m[2]), 0), resources.filter((r) => r.custom).length);
    });

    it("prints exactly the summary README quotes under \"Try it\" (issue 28.5)", () => {
        const quote = readmeQuote("npm run synth");
        assert.deepEqual(quote.args, ["--stack", "staging"]);
        assert.equal(first.stdout.trimEnd(), quote.output, "README's quoted synth summary is stale: paste what npm run synth -- --stack staging prints now");
    });

    it("is quiet: no warning a newcomer cannot act on (issue 10.5)", () => {
        assert.doesNotMatch(first.output, /warning|Undefined value|hcloudTokenForCluster|backupAccessKeyId/i, first.output);
    });
});

describe("config refusals in the synth's reading of the stack file (issue 10.3, 12.8)", () => {
    const refused = (dir: string) => {
        try {
            stackConfig("staging", {}, dir);
        } catch (err) {
            assert.ok(err instanceof StackConfigError, String(err));
            return err.message;
        }
        assert.fail("the stack file was accepted");
    };

    it("names the closest declared key for a misspelled one", () => {
        assert.match(refused(projectWithStack("  archon-infra:enableAgent: true\n")), /^archon-infra:enableAgent in Pulumi\.staging\.yaml is not a key of this project; did you mean enableAgents\? /);
        assert.match(refused(projectWithStack("  archon-infra:postgresStorageGB: 50\n")), /did you mean postgresStorageGb\?/);
        assert.throws(() => stackConfig("staging", { enableAgent: true }), /archon-infra:enableAgent in --config is not a key of this project; did you mean enableAgents\?/);
        // Other namespaces belong to their providers.
        assert.doesNotThrow(() => stackConfig("staging", {}, projectWithStack("  hcloud:pollInterval: 1s\n")));
    });

    it("refuses imageTag written as a YAML number, naming what YAML made of it", () => {
        assert.match(refused(projectWithStack("", [/imageTag: sha-1a2b3c4/, "imageTag: 1.10"])), /archon-infra:imageTag in Pulumi\.staging\.yaml is written 1\.10, which YAML reads as the number 1\.1 .*quote it: imageTag: "1\.10"/);
        assert.match(refused(projectWithStack("", [/imageTag: sha-1a2b3c4/, "imageTag: 0x1F"])), /is written 0x1F, which YAML reads as the number 31/);
        assert.doesNotThrow(() => stackConfig("staging", {}, projectWithStack("", [/imageTag: sha-1a2b3c4/, 'imageTag: "v1.10"'])));
    });

    it("refuses a secret key committed in plain text", () => {
        assert.match(refused(projectWithStack("  archon-infra:registryPassword: hunter2\n")), /^archon-infra:registryPassword in Pulumi\.staging\.yaml is in plain text; it is a secret: pulumi config set --secret registryPassword <value>/);
        assert.doesNotThrow(() => stackConfig("staging", {}, projectWithStack("  archon-infra:alertWebhookUrl:\n    secure: AAABAF1x\n")));
    });

    it("names the file and line of malformed YAML, in one line", () => {
        const message = refused(projectWithStack("  archon-infra:agentNodes: [1\n"));
        assert.match(message, /^Pulumi\.staging\.yaml line \d+ is not valid YAML: /);
        assert.ok(!message.includes("\n"), message);
    });
});

describe("config refusals in the program, as pulumi preview/up run it (issue 10.3, 12.8)", function () {
    this.timeout(120_000);

    /** loadConfig's refusal with the staging config plus `extra` (keys without namespace), set as the CLI would. */
    function programRefusal(extra: Record<string, string>, secretKeys: string[] = []): Promise<string> {
        return inProgram("staging", {}, async () => {
            const base = stackConfig("staging");
            const values = { ...base.values, ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [`archon-infra:${k}`, v])) };
            pulumi.runtime.setAllConfig(values, [...base.secretKeys, ...secretKeys.map((k) => `archon-infra:${k}`)]);
            try {
                loadConfig();
                return "accepted";
            } catch (err) {
                assert.ok(err instanceof ConfigError, String(err));
                return err.message;
            } finally {
                pulumi.runtime.setAllConfig(base.values, base.secretKeys);
            }
        });
    }

    it("names the closest declared key for an unknown one", async () => {
        assert.match(await programRefusal({ enableAgent: "true" }), /^archon-infra:enableAgent in the stack's config is not a key of this project; did you mean enableAgents\?/);
    });

    it("refuses a secret key that did not arrive encrypted (PULUMI_CONFIG_SECRET_KEYS)", async () => {
        assert.match(await programRefusal({ registryPassword: "hunter2" }), /^archon-infra:registryPassword is stored in plain text; it is a secret: pulumi config set --secret registryPassword/);
        assert.doesNotMatch(await programRefusal({ registryPassword: "hunter2" }, ["registryPassword"]), /plain text/);
    });

    it("refuses what the stack file's YAML would have coerced, a non-http webhook, sizes beyond Hetzner's, and a sha- tag without hex", async () => {
        assert.match(await programRefusal({ imageTag: "1.1" }), /imageTag = "1\.1": is a bare number, which a stack file turns into a YAML number \(1\.10 becomes 1\.1, 0x1F becomes 31\)/);
        assert.match(await programRefusal({ imageTag: "31" }), /imageTag = "31": is a bare number/);
        assert.match(await programRefusal({ imageTag: "sha-nothex1" }), /imageTag = "sha-nothex1": is a sha- tag without a commit/);
        assert.equal(await programRefusal({ imageTag: "v0.1.0" }), "accepted");
        assert.match(await programRefusal({ alertWebhookUrl: "ftp://hooks.example.com/x" }, ["alertWebhookUrl"]), /alertWebhookUrl = \[secret\]: must be an http\(s\) URL/);
        assert.match(await programRefusal({ postgresStorageGb: "20000" }), /postgresStorageGb = 20000: must be a whole number of GB from 10 to 10240/);
        assert.match(await programRefusal({ registryStorageGb: "10241" }), /registryStorageGb = 10241: must be a whole number of GB from 10 to 10240/);
        assert.match(await programRefusal({ dataVolumeSizeGb: "99999" }), /dataVolumeSizeGb = 99999: must be a whole number of GB from 10 to 10240/);
        assert.match(await programRefusal({ agentNodes: "101" }), /agentNodes = 101: must be at most 100/);
        assert.match(await programRefusal({ logsRetentionDays: "400" }), /logsRetentionDays = 400: must be a whole number of days from 1 to 365/);
    });

    it("says a missing key is required once, without zod's internals", async () => {
        const message = await inProgram("staging", {}, async () => {
            const base = stackConfig("staging");
            const values = { ...base.values };
            delete values["archon-infra:domain"];
            delete values["archon-infra:imageTag"];
            pulumi.runtime.setAllConfig(values, base.secretKeys);
            try {
                loadConfig();
                return "accepted";
            } catch (err) {
                return (err as Error).message;
            } finally {
                pulumi.runtime.setAllConfig(base.values, base.secretKeys);
            }
        });
        assert.match(message, /archon-infra:domain = \(not set\): is required: pulumi config set domain <value>/);
        assert.match(message, /archon-infra:imageTag = \(not set\): is required: the pinned Archon image tag/);
        assert.doesNotMatch(message, /expected \w+, received|Invalid input|is required \(is required/);
        assert.equal(message.match(/is required/g)?.length, 2, message);
    });
});

describe("every script: one line and exit 2 for bad input (issue 10.4)", function () {
    this.timeout(300_000);
    const noPulumi = { ...process.env, PATH: "/usr/bin:/bin" };

    it("synth: unknown flag, flag without value, missing --stack, unknown stack, unknown key", () => {
        assertOneLineError(script("synth", ["--stack", "staging", "--bogus"]), /^error: unknown option --bogus; the options are --stack <value>, --config <value>, --out <value>, --live-prices$/);
        assertOneLineError(script("synth", ["--stack"]), /^error: --stack needs a value: --stack <value>$/);
        assertOneLineError(script("synth", []), /--stack is required; the stacks are production, staging/);
        assertOneLineError(script("synth", ["--stack", "nope"]), /no stack file Pulumi\.nope\.yaml/);
        assertOneLineError(script("synth", ["--stack", "staging", "--config", "enableAgent=true"]), /did you mean enableAgents\?/);
    });

    it("policy: unknown --environment, --from another stack's synth, unknown flag", () => {
        assertOneLineError(script("policy", ["--stack", "staging", "--environment", "prod"]), /^error: --environment prod: must be staging or production$/);
        const from = tempDir("archon-from-");
        fs.writeFileSync(path.join(from, "resources.json"), JSON.stringify([{ urn: "urn:pulumi:staging::archon-infra::pulumi:pulumi:Stack::archon-infra-staging", type: "pulumi:pulumi:Stack", name: "archon-infra-staging", parent: "", custom: false, inputs: {}, options: {} }]));
        fs.writeFileSync(path.join(from, "outputs.json"), JSON.stringify({ stack: { name: "staging", environment: "staging", target: "compose" } }));
        assertOneLineError(script("policy", ["--stack", "production", "--from", from]), /--from .*: holds the synth of stack staging, not production/);
        fs.writeFileSync(path.join(from, "resources.json"), "{not json");
        assertOneLineError(script("policy", ["--stack", "staging", "--from", from]), /resources\.json: not JSON/);
        assertOneLineError(script("policy", ["--stak", "staging"]), /unknown option --stak/);
    });

    it("releases: no Pulumi CLI, an unreadable --file, a flag without its value", () => {
        assertOneLineError(script("releases", ["--stack", "production"], { env: noPulumi }), /the Pulumi CLI is not installed \(pulumi is not on PATH\)/);
        assertOneLineError(script("releases", ["--stack", "production", "--file", "/nonexistent/history.json"]), /--file \/nonexistent\/history\.json: cannot read it \(ENOENT\)/);
        assertOneLineError(script("releases", ["--stack"]), /--stack needs a value/);
    });

    it("smoke, ci-access, release, restore, image-builds, bench: unknown flags and their own bad input", () => {
        for (const name of ["smoke", "ci-access", "release", "restore", "image-builds", "bench"]) {
            assertOneLineError(script(name, ["--no-such-flag"]), /unknown option --no-such-flag; the options are /);
        }
        assertOneLineError(script("smoke", ["--outputs", "/nonexistent.json"]), /--outputs \/nonexistent\.json: cannot read it \(ENOENT\)/);
        assertOneLineError(script("smoke", ["--stack", "staging"], { env: noPulumi }), /the Pulumi CLI is not installed/);
        assertOneLineError(script("restore", ["--stack", "staging", "--backup", "latest"], { env: noPulumi }), /the Pulumi CLI is not installed/);
        assertOneLineError(script("restore", ["--stack", "staging"]), /--backup is required/);
        assertOneLineError(script("bench", ["--runs", "0"]), /--runs 0: a whole number from 1 to 100/);
        assertOneLineError(script("ci-access", ["open", "--stack"]), /--stack needs a value/);
    });

    it("every npm script, before npm ci: one line saying to run it", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, "package.json"), "utf8")) as { scripts: Record<string, string> };
        const dir = tempDir("archon-no-deps-");
        fs.mkdirSync(path.join(dir, "scripts", "lib"), { recursive: true });
        fs.copyFileSync(path.join(PROJECT_DIR, "scripts", "lib", "preflight.js"), path.join(dir, "scripts", "lib", "preflight.js"));
        const node = Object.entries(pkg.scripts).filter(([name]) => !["test", "typecheck"].includes(name));
        assert.ok(node.length >= 9);
        for (const [name, command] of node) {
            assert.match(command, /^node --require \.\/scripts\/lib\/preflight\.js --require ts-node\/register\/transpile-only scripts\//, name);
            const result = run("sh", ["-c", command], { cwd: dir });
            assertOneLineError(result, /the project's dependencies are not installed \(node_modules\/ts-node is missing\): run npm ci/);
        }
    });
});

describe("consistency (issue 10.7)", function () {
    this.timeout(300_000);

    it("engines.node asks for what @pulumi/pulumi requires, and the workflows run that Node", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, "package.json"), "utf8")) as { engines: { node: string } };
        const pulumiPkg = JSON.parse(fs.readFileSync(require.resolve("@pulumi/pulumi/package.json"), "utf8")) as { engines: { node: string } };
        const floor = (range: string) => Number(/>=\s*(\d+)/.exec(range)?.[1]);
        assert.ok(floor(pkg.engines.node) >= floor(pulumiPkg.engines.node), `engines.node ${pkg.engines.node} admits what @pulumi/pulumi (${pulumiPkg.engines.node}) does not`);
        const workflows = path.join(PROJECT_DIR, ".github", "workflows");
        for (const file of fs.readdirSync(workflows)) {
            for (const match of fs.readFileSync(path.join(workflows, file), "utf8").matchAll(/node-version:\s*"?(\d+)/g)) {
                assert.ok(Number(match[1]) >= floor(pkg.engines.node), `${file}: node-version ${match[1]}`);
            }
        }
    });

    it("env files are delivered 0600, as the compose file's header says; secret files with the modes it names", async () => {
        const result: SynthResult = await synth("staging");
        assert.ok(result.files["project/docker-compose.yml"].startsWith(COMPOSE_HEADER));
        assert.match(COMPOSE_HEADER, /env\/\*\.env \(mode 0600, the deploy user's\) and secrets\/ \(mode 0440, .*; 0444 /);
        const commands = result.resources.filter((r) => r.type === "command:remote:Command").map((r) => String((reveal(r.inputs) as { create?: unknown }).create ?? ""));
        const delivered = commands.map((c) => ({ file: /^export SECRET_FILE='([^']+)'$/m.exec(c)?.[1], mode: /^export SECRET_FILE_MODE='([^']+)'$/m.exec(c)?.[1] ?? "0600", create: c })).filter((d) => d.file);
        const envFiles = delivered.filter((d) => d.file!.startsWith("env/"));
        assert.ok(envFiles.length > 5);
        for (const d of envFiles) assert.equal(d.mode, "0600", d.file);
        for (const d of delivered.filter((x) => x.file!.startsWith("secrets/"))) assert.ok(["0440", "0444"].includes(d.mode), `${d.file}: ${d.mode}`);
        // The real delivery script, as the host runs it, into a directory of this test's.
        const dir = tempDir("archon-delivery-");
        const env = envFiles[0];
        // cloud-init's wait for the first boot is the host's; here it is a stub that returns at once.
        fs.mkdirSync(path.join(dir, "bin"));
        fs.writeFileSync(path.join(dir, "bin", "cloud-init"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
        const created = run("bash", ["-c", env.create.replace(/^export PROJECT_DIR='[^']*'$/m, `export PROJECT_DIR='${dir}'`)], {
            input: "KEY=value\n", env: { ...process.env, PATH: `${path.join(dir, "bin")}:${process.env.PATH}` }, timeout: 30_000,
        });
        assert.equal(created.status, 0, created.output);
        assert.equal(fs.statSync(path.join(dir, env.file!)).mode & 0o777, 0o600);
    });

    it("outputs list only the Archon images that run: no archon-agents while agents are off", async () => {
        const staging = reveal((await synth("staging")).outputs) as { imageRefs: Record<string, string>; kubeconfig: unknown };
        assert.deepEqual(Object.keys(staging.imageRefs).sort(), ["archon-mcp", "archon-migrate", "archon-server", "archon-ui"]);
        assert.equal(staging.kubeconfig, null);
        const production = reveal((await synth("production")).outputs) as { imageRefs: Record<string, string> };
        assert.ok("archon-agents" in production.imageRefs);
    });

    it("npm run bench prints each case as it finishes", async function () {
        this.timeout(600_000);
        const arrivals: { at: number; line: string }[] = [];
        const started = Date.now();
        const child = spawn(process.execPath, [...TS_NODE, "scripts/bench.ts", "--runs", "1"], { cwd: PROJECT_DIR });
        let buffer = "";
        child.stdout.on("data", (chunk: Buffer) => {
            buffer += chunk.toString();
            const lines = buffer.split("\n");
            buffer = lines.pop() ?? "";
            for (const line of lines) arrivals.push({ at: Date.now() - started, line });
        });
        let stderr = "";
        child.stderr.on("data", (chunk: Buffer) => { stderr += chunk.toString(); });
        const ended = await new Promise<number>((resolve) => child.on("close", () => resolve(Date.now() - started)));
        const cases = arrivals.filter((a) => /median .* peak RSS/.test(a.line));
        assert.equal(cases.length, 5, `${arrivals.map((a) => a.line).join("\n")}\n${stderr}`);
        // The floor's line arrives while four synths are still to run, well before the end.
        assert.ok(ended - cases[0].at > 3000, `first case at ${cases[0].at} ms, end at ${ended} ms`);
        assert.ok(cases[1].at < cases[3].at && cases[2].at < cases[3].at);
    });
});

describe("the plan of production (issue 10.6)", function () {
    this.timeout(120_000);
    it("lists the Helm charts with versions and the protected volumes", async () => {
        const { planOf, planMarkdown } = await import("../scripts/lib/plan");
        const plan = planOf(await synth("production"));
        assert.ok(plan.charts.some((c) => /^cert-manager@v\d/.test(c)), plan.charts.join(", "));
        // The k3s servers (etcd) are protected too (issue 26.4).
        assert.deepEqual(plan.protectedResources.map((p) => p.name), ["cp-1", "cp-2", "cp-3", "db-data", "pgsodium-root-key", "registry-data"]);
        assert.ok(plan.images.some((i) => i.endsWith("/archon-agents:sha-1a2b3c4")));
        assert.match(planMarkdown(plan), /^- db-data \(`kubernetes:core\/v1:PersistentVolumeClaim`\): protect, retainOnDelete$/m);
    });
});

describe("README as one path: what it quotes and lists is what the program has today (issue 28.5)", function () {
    this.timeout(300_000);

    it("\"Try it\" gives exactly two commands, the synth it quotes and the test command CI runs", () => {
        const commands = blockAfter("## Try it: two commands, no cloud account").map((line) => line.replace(/\s+#.*$/, "")).filter((line) => line.trim() !== "");
        assert.deepEqual(commands, ["npm run synth -- --stack staging", "npm test"]);
        assert.deepEqual(readmeQuote("npm run synth").args, shellWords(commands[0]).slice(4));
        const pkg = JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, "package.json"), "utf8")) as { scripts: Record<string, string> };
        assert.ok(pkg.scripts.synth && pkg.scripts.test);
        assert.match(fs.readFileSync(path.join(PROJECT_DIR, ".ci", "run"), "utf8"), /^npm test$/m);
    });

    it("quotes exactly what npm run policy prints for the command it shows (stdout)", async () => {
        const quote = readmeQuote("npm run policy");
        const stack = quote.args[quote.args.indexOf("--stack") + 1];
        const overrides: Record<string, unknown> = {};
        for (let i = 0; i < quote.args.length; i += 2) {
            assert.ok(["--stack", "--config"].includes(quote.args[i]), `README's policy command: ${quote.args[i]} is not replayed here`);
            if (quote.args[i] === "--config") Object.assign(overrides, Object.fromEntries([parseOverride(quote.args[i + 1])]));
        }
        const result = await synth(stack, overrides);
        const environment = policyEnvironment(stack, stackConfig(stack, overrides).values["archon-infra:environment"]);
        const violations = await checkResources(result.resources, { environment, policyConfig: committedPolicyConfig(environment) });
        assert.equal(policyReport(stack, environment, result.resources, violations), quote.output, "README's quoted policy output is stale: paste what the command prints now");
    });

    it("states the pack's policy count, in README and policies/README.md, and policies/README.md has one row per policy", () => {
        assert.equal(Number(/CrossGuard pack of (\d+) policies/.exec(README)?.[1]), policies.length);
        const pack = fs.readFileSync(path.join(PROJECT_DIR, "policies", "README.md"), "utf8");
        const stated = /The pack has (\d+) policies \(`policies\/all\.ts`: (\d+) that look at one resource, (\d+) marked \(stack\)/.exec(pack);
        assert.deepEqual(stated?.slice(1).map(Number), [policies.length, resourcePolicies.length, stackPolicies.length]);
        const table = pack.slice(pack.indexOf("\n## Policies\n"), pack.indexOf("\nThe offline check fails closed"));
        const rows = [...table.matchAll(/^\| ([a-z][a-z-]*)( \(stack\))? \|/gm)].filter((m) => m[1] !== "policy");
        assert.deepEqual(rows.map((m) => m[1]).sort(), policies.map((p) => p.name).sort());
        assert.deepEqual(rows.filter((m) => m[2]).map((m) => m[1]).sort(), stackPolicies.map((p) => p.name).sort());
    });

    it("lists every secret key of config-schema.ts, and only those, in the first deploy's secrets table", () => {
        const at = README.indexOf("<!-- secret-keys: config-schema.ts SECRET_KEYS -->");
        assert.ok(at >= 0);
        const table = README.slice(at, README.indexOf("\n\n", README.indexOf("| --- |", at)));
        const keys = [...table.matchAll(/^\| ([^|]+) \|/gm)].flatMap((m) => [...m[1].matchAll(/`([A-Za-z]+)`/g)].map((k) => k[1]));
        assert.deepEqual(keys.sort(), [...SECRET_KEYS].sort());
    });

    it("names stack outputs that exist, the SSH key path sshCommands expects, and the smoke test's check count", async () => {
        const staging = reveal((await synth("staging")).outputs) as Record<string, unknown>;
        const production = reveal((await synth("production")).outputs) as Record<string, unknown>;
        const named = [...README.matchAll(/pulumi stack output((?: (?:--stack \S+|--show-secrets|--json))*) ([A-Za-z]+)/g)].map((m) => m[2]);
        assert.ok(named.length >= 10, named.join(", "));
        for (const name of named) assert.ok(name in staging, `README reads the stack output ${name}, which index.ts does not export`);
        assert.match(README, /pulumi stack output --stack staging --show-secrets sshPrivateKey > ~\/\.ssh\/archon-staging\)/);
        assert.ok(Object.values(staging.sshCommands as Record<string, string>).every((c) => c.startsWith("ssh -i ~/.ssh/archon-staging ")));
        const checks = Number(/`smoke: all (\d+) checks passed`/.exec(README)?.[1]);
        for (const outputs of [staging, production]) assert.equal(smokeChecks(outputs as unknown as SmokeOutputs, DEFAULT_REGISTRY_USER).length, checks);
    });

    it("runs only npm scripts package.json has", () => {
        const scripts = (JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
        for (const m of README.matchAll(/npm run (?:-s )?([a-z-]+)/g)) assert.ok(scripts[m[1]], `README runs npm run ${m[1]}, which package.json does not have`);
    });

    it("lays out every top-level entry of the repository, every components/ folder and every script", () => {
        const layout = blockAfter("<!-- layout: every top-level entry of git ls-files, every components/ folder, every scripts/*.ts -->").join("\n");
        const files = run("git", ["ls-files"], { cwd: PROJECT_DIR });
        assert.equal(files.status, 0, files.output);
        const tracked = files.output.trim().split("\n");
        for (const top of new Set(tracked.map((f) => f.split("/")[0]))) {
            const isDir = tracked.some((f) => f.startsWith(`${top}/`));
            assert.ok(isDir ? new RegExp(`^${top.replace(/\./g, "\\.")}/`, "m").test(layout) : layout.includes(top), `Layout misses ${top}${isDir ? "/" : ""}`);
        }
        for (const dir of fs.readdirSync(path.join(PROJECT_DIR, "components"), { withFileTypes: true }).filter((d) => d.isDirectory())) {
            assert.match(layout, new RegExp(`^  ${dir.name}/ `, "m"), `Layout misses components/${dir.name}/`);
        }
        const scriptsLine = layout.split("\n").find((line) => line.startsWith("scripts/"))!;
        for (const file of fs.readdirSync(path.join(PROJECT_DIR, "scripts")).filter((f) => f.endsWith(".ts"))) {
            assert.match(scriptsLine, new RegExp(`[ ,]${path.basename(file, ".ts")}[,;]`), `Layout's scripts/ line misses ${file}`);
        }
    });
});
