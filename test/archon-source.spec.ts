/**
 * Archon as it is built (issue 23): one pinned commit, and each Python service started by an
 * exec-form command whose module and ASGI app exist in that commit's source, on both renderers.
 *
 * The source facts come from the staged build contexts when CI has them (ARCHON_BUILD_CONTEXTS:
 * the --stage directory of `npm run image-builds -- --source <checkout>`; the image workflow runs
 * this spec so), else from images/archon-source.json, recorded from the pinned commit with
 * `npm run archon-source -- record` (no Archon checkout needed).
 */
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { ARCHON_BUILDS, INFRA_ROOT, dockerfilePath } from "../components/registry/build-context";
import {
    ARCHON_SOURCE_FILE, ModuleFacts, checkoutMismatch, commandArgv, loadArchonSource, pythonModuleFacts, shellWords, stageInstructions,
} from "../components/registry/archon-source";
import { readSourceRevision } from "../components/registry/release";
import { ARCHON_COMMANDS, ArchonPythonService, entryPointOf, moduleFile } from "../components/services/archon-commands";
import { SynthResult } from "../scripts/lib/synthesize";
import { run, synth } from "./helpers";

const record = loadArchonSource();
const PYTHON_SERVICES = Object.keys(ARCHON_COMMANDS) as ArchonPythonService[];
const STAGED = process.env.ARCHON_BUILD_CONTEXTS;

/** The staged context directory of `image` under ARCHON_BUILD_CONTEXTS (`<image>-<content hash>`). */
function stagedContext(image: string): string {
    const dirs = fs.readdirSync(STAGED!).filter((d) => new RegExp(`^${image}-[0-9a-f]{16}$`).test(d));
    assert.strictEqual(dirs.length, 1, `${STAGED} holds ${dirs.length} staged contexts of ${image}: stage one checkout only`);
    return path.join(STAGED!, dirs[0]);
}

/** What `file` (relative to python/) defines in the source being built: staged context, else the record. */
function moduleFacts(image: ArchonPythonService, file: string): ModuleFacts | null {
    if (STAGED) return pythonModuleFacts(stagedContext(image), [file])[file];
    return record.pythonModules[file] ?? null;
}

/**
 * The argv a container of `image` starts with: the rendered command when there is one, else the
 * image's default, i.e. the CMD of the Dockerfile (and target) the build uses; Archon's own
 * Dockerfiles as recorded from the pinned commit.
 */
function effectiveCommand(image: ArchonPythonService, rendered: string[] | undefined): { argv: string[]; from: string } {
    if (rendered && rendered.length > 0) return { argv: rendered, from: "the rendered command" };
    const build = ARCHON_BUILDS[image];
    if ("archon" in build.dockerfile) {
        const cmd = record.archonDockerfiles[build.dockerfile.archon]?.cmd;
        assert.ok(cmd, `no CMD recorded for ${build.dockerfile.archon}`);
        return { argv: commandArgv(cmd), from: `the image's CMD (${build.dockerfile.archon} at ${record.commit.slice(0, 12)})` };
    }
    const dockerfile = fs.readFileSync(dockerfilePath(build, "/nonexistent"), "utf8");
    const cmd = [...stageInstructions(dockerfile, build.target)].reverse().find((i) => i.keyword === "CMD");
    assert.ok(cmd, `${build.dockerfile.infra} has no CMD for ${build.target ?? "its last stage"}`);
    return { argv: commandArgv(cmd.args), from: `the image's CMD (${build.dockerfile.infra}${build.target ? ` --target ${build.target}` : ""})` };
}

/** Every reason `argv` cannot start `image` at the pinned commit (empty: it can). */
function problems(image: ArchonPythonService, argv: string[]): string[] {
    const found: string[] = [];
    let entry = entryPointOf(argv);
    if (typeof entry === "string") {
        found.push(entry);
        // Still read the target a shell would run, to say whether it exists.
        const inner = argv.length >= 3 && /(^|\/)sh$/.test(argv[0]) ? shellWords(argv[2]) : [];
        const innermost = inner[0] === "sh" && inner[1] === "-c" ? shellWords(inner[2] ?? "") : inner;
        entry = entryPointOf(innermost);
        if (typeof entry === "string") return found;
    }
    const file = moduleFile(entry.module);
    const facts = moduleFacts(image, file);
    if (!facts) found.push(`module ${entry.module}: python/${file} does not exist`);
    else if (entry.attribute !== undefined && !facts.names.includes(entry.attribute)) found.push(`Attribute "${entry.attribute}" not found in module "${entry.module}" (python/${file} defines no ${entry.attribute})`);
    else if (entry.attribute === undefined && !facts.runsAsMain) found.push(`python -m ${entry.module}: python/${file} has no __main__ block`);
    return found;
}

describe(`Archon as built: the pinned commit ${record.commit.slice(0, 12)} (${STAGED ? `staged contexts in ${STAGED}` : "recorded facts"})`, () => {
    let staging: SynthResult;
    let production: SynthResult;
    before(async () => {
        staging = await synth("staging", { enableAgents: true });
        production = await synth("production");
    });

    /** The rendered argv of each Python service: Compose entrypoint + command, Kubernetes command + args. */
    function rendered(result: SynthResult, target: "compose" | "kubernetes", image: ArchonPythonService): string[] | undefined {
        if (target === "compose") {
            const service = parseYaml(result.files["project/docker-compose.yml"]).services[image];
            assert.ok(service, `compose has no ${image}`);
            const joined = [...(service.entrypoint ?? []), ...(service.command ?? [])];
            return joined.length > 0 ? joined : undefined;
        }
        const text = result.files[`kubernetes/archon/Deployment-${image}.yaml`];
        assert.ok(text, `no Deployment ${image}`);
        const container = parseYaml(text).spec.template.spec.containers[0];
        const joined = [...(container.command ?? []), ...(container.args ?? [])];
        return joined.length > 0 ? joined : undefined;
    }

    for (const target of ["compose", "kubernetes"] as const) {
        it(`${target}: each Python service starts with an exec-form command whose module and ASGI app exist at the pinned commit`, () => {
            const result = target === "compose" ? staging : production;
            const failures = PYTHON_SERVICES.flatMap((image) => {
                const { argv, from } = effectiveCommand(image, rendered(result, target, image));
                return problems(image, argv).map((p) => `${image} runs ${JSON.stringify(argv)} (${from}): ${p}`);
            });
            assert.deepStrictEqual(failures, []);
        });
    }

    it("the images' own CMD is the same command (a container started without one runs the same thing)", () => {
        for (const image of PYTHON_SERVICES) {
            const build = ARCHON_BUILDS[image];
            assert.ok("infra" in build.dockerfile && build.target === image, `${image} builds from this repository's Dockerfile, target ${image}`);
            assert.deepStrictEqual(effectiveCommand(image, undefined).argv, [...ARCHON_COMMANDS[image]]);
        }
    });

    it("the probes ask only routes the pinned source serves", () => {
        const container = (image: string) => parseYaml(production.files[`kubernetes/archon/Deployment-${image}.yaml`]).spec.template.spec.containers[0];
        const files: Record<ArchonPythonService, string> = { "archon-server": "src/server/main.py", "archon-mcp": "src/mcp_server/mcp_server.py", "archon-agents": "src/agents/server.py" };
        for (const image of PYTHON_SERVICES) {
            const facts = moduleFacts(image, files[image]);
            assert.ok(facts, files[image]);
            const c = container(image);
            for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe].filter(Boolean)) {
                if (probe.httpGet) assert.ok(facts.routes.includes(`GET ${probe.httpGet.path}`), `${image} probes GET ${probe.httpGet.path}; python/${files[image]} serves ${facts.routes.join(", ")}`);
            }
        }
    });

    it("catches what today's upstream image would do: tag v0.1.0's CMD names socket_app, which its main.py does not define", () => {
        // The check itself, on v0.1.0's recorded CMD and the pinned main.py's names (main.py defines
        // `app` at both commits; socket_app at neither).
        const v010 = commandArgv('sh -c "python -m uvicorn src.server.main:socket_app --host 0.0.0.0 --port ${ARCHON_SERVER_PORT} --workers 1"');
        assert.deepStrictEqual(problems("archon-server", v010), [
            "a shell runs it (/bin/sh -c ...), not exec form",
            'Attribute "socket_app" not found in module "src.server.main" (python/src/server/main.py defines no socket_app)',
        ]);
    });
});

describe("The Archon pin: one commit, recorded, and the only one the build takes", () => {
    const record = loadArchonSource();

    it("names one exact commit, the image workflow's default ref, with the digests of its lock files", () => {
        assert.match(record.commit, /^[0-9a-f]{40}$/);
        const workflow = parseYaml(fs.readFileSync(path.join(INFRA_ROOT, ".github", "workflows", "build-images.yml"), "utf8"));
        assert.strictEqual(workflow.on.workflow_dispatch.inputs.archon_ref.default, record.commit);
        assert.deepStrictEqual(Object.keys(record.files).sort(), ["archon-ui-main/package-lock.json", "archon-ui-main/package.json", "python/pyproject.toml", "python/uv.lock"]);
        const readme = fs.readFileSync(path.join(INFRA_ROOT, "README.md"), "utf8");
        assert.ok(readme.includes(record.commit), "README names the pinned commit");
    });

    /** A git checkout with Archon's layout at a commit of its own, and a record of that commit. */
    function fixtureCheckout(): { dir: string; recordFile: string } {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "archon-pin-"));
        const files: Record<string, string> = {
            "python/pyproject.toml": "[project]\nname = \"archon\"\n",
            "python/uv.lock": "version = 1\n",
            "python/src/__init__.py": "",
            "python/src/server/main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
            "python/src/mcp_server/mcp_server.py": "def main():\n    pass\n\nif __name__ == \"__main__\":\n    main()\n",
            "python/src/agents/server.py": "app = object()\n",
            "archon-ui-main/package.json": "{}\n",
            "archon-ui-main/package-lock.json": "{}\n",
            "migration/complete_setup.sql": "SELECT 1;\n",
        };
        for (const [file, text] of Object.entries(files)) {
            fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
            fs.writeFileSync(path.join(dir, file), text);
        }
        const git = (...args: string[]) => execFileSync("git", ["-C", dir, ...args], { encoding: "utf8" }).trim();
        git("init", "-q");
        git("add", ".");
        git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "fixture");
        const commit = git("rev-parse", "HEAD");
        const sha = (file: string) => `sha256:${crypto.createHash("sha256").update(fs.readFileSync(path.join(dir, file))).digest("hex")}`;
        const recordFile = path.join(dir, "..", `${path.basename(dir)}.json`);
        fs.writeFileSync(recordFile, JSON.stringify({ ...record, commit, files: Object.fromEntries(Object.keys(record.files).map((f) => [f, sha(f)])) }));
        return { dir, recordFile };
    }

    const imageBuilds = (...args: string[]) => run(process.execPath, ["--require", "ts-node/register/transpile-only", path.join(INFRA_ROOT, "scripts", "image-builds.ts"), ...args], { cwd: INFRA_ROOT });

    it("the image build refuses a checkout at another commit, and one that is not a git checkout, with one line, before staging anything", () => {
        const { dir, recordFile } = fixtureCheckout();
        const stage = fs.mkdtempSync(path.join(os.tmpdir(), "archon-pin-stage-"));
        try {
            const commit = readSourceRevision(dir)!.commit;
            const refused = imageBuilds("--source", dir, "--stage", stage);
            assert.strictEqual(refused.status, 2, refused.output);
            assert.strictEqual(refused.output.trim(), `error: --source ${dir} is at commit ${commit.slice(0, 12)}, not the pinned Archon ${record.commit.slice(0, 12)} (${record.ref}, images/archon-source.json); check out ${record.commit}, or move the pin (${record.recipe})`);
            assert.deepStrictEqual(fs.readdirSync(stage), [], "nothing staged");

            // The same checkout against a record of its own commit is taken, and staged.
            const taken = imageBuilds("--source", dir, "--stage", stage, "--record", recordFile, "--image", "archon-server");
            assert.strictEqual(taken.status, 0, taken.output);
            assert.strictEqual(JSON.parse(taken.output).target, "archon-server");

            // A lock file changed after the commit: refused.
            fs.appendFileSync(path.join(dir, "python", "uv.lock"), "# edited\n");
            const edited = imageBuilds("--source", dir, "--stage", stage, "--record", recordFile, "--image", "archon-server");
            assert.strictEqual(edited.status, 2);
            assert.match(edited.output, /has uncommitted changes/);

            fs.rmSync(path.join(dir, ".git"), { recursive: true });
            assert.match(checkoutMismatch(dir, record, readSourceRevision(dir)) ?? "", /is not a git checkout, so nothing proves it is Archon/);
        } finally {
            for (const d of [dir, stage]) fs.rmSync(d, { recursive: true, force: true });
        }
    });

    it("the image build refuses a checkout whose server module lacks the ASGI app its command runs", () => {
        const { dir, recordFile } = fixtureCheckout();
        const stage = fs.mkdtempSync(path.join(os.tmpdir(), "archon-pin-stage-"));
        try {
            fs.writeFileSync(path.join(dir, "python", "src", "server", "main.py"), "socket_app = None\n");
            execFileSync("git", ["-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qam", "v0.1.0-like"]);
            const rerecord = JSON.parse(fs.readFileSync(recordFile, "utf8"));
            fs.writeFileSync(recordFile, JSON.stringify({ ...rerecord, commit: readSourceRevision(dir)!.commit }));
            const refused = imageBuilds("--source", dir, "--stage", stage, "--record", recordFile, "--image", "archon-server");
            assert.strictEqual(refused.status, 2, refused.output);
            assert.strictEqual(refused.output.trim(), 'error: archon-server: src/server/main.py defines no app, so uvicorn would exit (Attribute "app" not found in module "src.server.main")');
        } finally {
            for (const d of [dir, stage]) fs.rmSync(d, { recursive: true, force: true });
        }
    });

    it("the record validates, and says how to make it again", () => {
        assert.ok(fs.existsSync(ARCHON_SOURCE_FILE));
        assert.match(record.recipe, /npm run archon-source -- record --source/);
        assert.ok(record.migrations.applied[0] === "complete_setup.sql");
    });
});
