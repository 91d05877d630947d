/**
 * The program as `pulumi up` starts it: Pulumi's Node runner in a child process, with the argv and
 * environment the Node.js language host builds (pulumi/pulumi
 * sdk/nodejs/cmd/pulumi-language-nodejs/main.go), against mock engine endpoints.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { SynthMocks } from "../scripts/lib/mocks";
import { MonitorLike, RunnerOutcome, runUnderRunner, runnerCommand, runnerEnvironment, runtimeOptions, splitArgs } from "../scripts/lib/runner";
import { PROJECT_DIR, readProject, stackConfig } from "../scripts/lib/stack-config";
import { synth } from "./helpers";

describe("Pulumi's Node runner", () => {
    const project = readProject();

    it("gets the language host's argv: nodeargs, the runner, its flags, the entry point", () => {
        const argv = runnerCommand(project, "staging", PROJECT_DIR, "127.0.0.1:1", "127.0.0.1:2");
        const runPath = argv.find((a) => a.endsWith(path.join("cmd", "run", "index.js")));
        assert.ok(runPath && fs.existsSync(runPath), `the runner resolves from the project: ${argv.join(" ")}`);
        assert.deepEqual(argv.slice(argv.indexOf(runPath) + 1), [
            "--monitor", "127.0.0.1:1", "--engine", "127.0.0.1:2", "--project", "archon-infra", "--root-directory", PROJECT_DIR,
            "--stack", "staging", "--pwd", PROJECT_DIR, "--parallel", "16", ".",
        ]);
        assert.deepEqual(splitArgs(`--max-old-space-size=512 --require "a b" '--x'`), ["--max-old-space-size=512", "--require", "a b", "--x"]);
    });

    it("registers ts-node once, the runner's own, transpiling only (no ts-node in nodeargs; tsconfig with noCheck)", () => {
        const options = runtimeOptions(project);
        assert.equal(options.typescript, true);
        assert.doesNotMatch(options.nodeargs, /ts-node/);
        assert.ok(options.tsconfig, "Pulumi.yaml names the deploy tsconfig");
        const tsconfig = JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, options.tsconfig), "utf8")) as { compilerOptions: Record<string, unknown> };
        // run.js: transpileOnly = PULUMI_NODEJS_TRANSPILE_ONLY, else the tsconfig's own compilerOptions.noCheck.
        assert.equal(tsconfig.compilerOptions.noCheck, true);
    });

    it("gets the language host's environment: config as <ns>:config:<key>, the secret keys, the TypeScript options", () => {
        const config = stackConfig("staging", { registryPassword: "tok", registryServer: "ghcr.io", registryUsername: "ci" });
        const env = runnerEnvironment(project, config, { PATH: "/bin", PULUMI_CONFIG: "{}", PULUMI_NODEJS_STACK: "other" });
        const passed = JSON.parse(env.PULUMI_CONFIG ?? "") as Record<string, string>;
        assert.equal(passed["archon-infra:config:domain"], "staging.archon.example.com");
        assert.equal(passed["archon-infra:config:secretsVersion"], "1");
        assert.deepEqual(JSON.parse(env.PULUMI_CONFIG_SECRET_KEYS ?? ""), ["archon-infra:registryPassword"]);
        assert.equal(env.PULUMI_NODEJS_TYPESCRIPT, "true");
        assert.equal(env.PULUMI_NODEJS_TSCONFIG_PATH, "tsconfig.deploy.json");
        assert.equal(env.PULUMI_NODEJS_STACK, undefined, "the parent's runtime settings do not leak");
        assert.equal(env.PATH, "/bin");
    });

    for (const stack of ["staging", "production"]) {
        it(`loads the program for ${stack} and registers its resources under the stack`, async () => {
            const result = await synth(stack);
            const root = result.resources.find((r) => r.type === "pulumi:pulumi:Stack");
            assert.equal(root?.urn, `urn:pulumi:${stack}::archon-infra::pulumi:pulumi:Stack::archon-infra-${stack}`);
            assert.ok(result.resources.filter((r) => r.custom).length > 10);
            assert.deepEqual((result.outputs.stack as { name: string }).name, stack);
        });
    }

    /** Runs `index` as the program of a copy of the project's runtime settings (Pulumi.yaml, tsconfigs) under the runner. */
    async function runProgram(index: string): Promise<RunnerOutcome> {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "runner-"));
        for (const file of ["Pulumi.yaml", "Pulumi.staging.yaml", "tsconfig.json", "tsconfig.deploy.json", "package.json"]) fs.copyFileSync(path.join(PROJECT_DIR, file), path.join(dir, file));
        fs.symlinkSync(path.join(PROJECT_DIR, "node_modules"), path.join(dir, "node_modules"));
        fs.writeFileSync(path.join(dir, "index.ts"), index);
        fs.writeFileSync(path.join(dir, "config.ts"), "export {};\n");
        const config = stackConfig("staging", {}, dir);
        await pulumi.runtime.setMocks(new SynthMocks(), config.project, "staging", false);
        const monitor = pulumi.runtime.getMonitor() as unknown as MonitorLike;
        try {
            return await runUnderRunner(readProject(dir), "staging", config, dir, monitor);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }

    it("transpiles only: a program with a type error still runs", async function () {
        this.timeout(60_000);
        const outcome = await runProgram('const typeError: number = "text" as unknown as string;\nexport const value = typeError;\n');
        assert.equal(outcome.status, 0, outcome.output + outcome.errors.join("\n"));
    });

    it("transpiles with SWC, as tsconfig.deploy.json's ts-node section says (what `pulumi up` loads too)", async function () {
        this.timeout(60_000);
        // ts-node keeps its one registration on process[Symbol.for("ts-node.register.instance")] (ts-node/dist/index.js).
        const outcome = await runProgram([
            'const service = (process as unknown as Record<symbol, { options: Record<string, unknown> } | undefined>)[Symbol.for("ts-node.register.instance")];',
            "console.log(`ts-node ${JSON.stringify({ swc: service?.options.swc, transpileOnly: service?.options.transpileOnly })}`);",
            "",
        ].join("\n"));
        assert.equal(outcome.status, 0, outcome.output + outcome.errors.join("\n"));
        assert.match(outcome.output, /^ts-node \{"swc":true,"transpileOnly":true\}$/m, outcome.output);
    });
});
