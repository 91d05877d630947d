/**
 * The delivery workflows: valid against GitHub's workflow schema (action-validator, offline), every
 * `run:` script accepted by the real shellcheck and free of `${{ }}` (inputs reach scripts through
 * `env:` only), and what people rely on: no job a pull request triggers can read a stack's secret,
 * production credentials are used by main's code only, pull requests are checked in Debian 12 with
 * the README's commands and get an offline plan diff, a release and a promotion copy images by
 * digest, CI opens the hosts to its own address only for the length of a deploy, every deploy is
 * smoke-tested, images are scanned before they are pushed and built from the program's own
 * definitions. The release -> promotion -> rollback sequence itself runs in test/delivery.spec.ts.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { validateWorkflow } from "@action-validator/core";
import { parse as parseYaml } from "yaml";
import { ARCHON_IMAGES } from "../components/registry/build-context";
import { requireTool, run, writeTempFiles } from "./helpers";

const ROOT = path.resolve(__dirname, "..");
const DIR = path.join(ROOT, ".github", "workflows");

interface Step {
    name?: string;
    id?: string;
    uses?: string;
    run?: string;
    if?: string;
    with?: Record<string, unknown>;
    env?: Record<string, string>;
}
interface Job {
    if?: string;
    environment?: string;
    needs?: string[];
    env?: Record<string, string>;
    steps?: Step[];
    uses?: string;
    with?: Record<string, unknown>;
    secrets?: string;
    permissions?: Record<string, string>;
    strategy?: { matrix: unknown };
    container?: { image: string; options?: string };
    "runs-on"?: string;
}
interface Workflow {
    on: Record<string, Record<string, unknown> | null>;
    concurrency?: { group: string; "cancel-in-progress": boolean };
    permissions?: Record<string, string>;
    jobs: Record<string, Job>;
}

const FILES = fs.readdirSync(DIR).filter((f) => f.endsWith(".yml")).sort();

function text(file: string): string {
    return fs.readFileSync(path.join(DIR, file), "utf8");
}
function workflow(file: string): Workflow {
    return parseYaml(text(file)) as Workflow;
}
function steps(w: Workflow): Step[] {
    return Object.values(w.jobs).flatMap((job) => job.steps ?? []);
}
function stepIndex(job: Job, match: (s: Step) => boolean, what: string): number {
    const index = (job.steps ?? []).findIndex(match);
    assert.ok(index >= 0, `no step ${what}`);
    return index;
}

/** The events that start a workflow (`on:` keys). */
const triggers = (w: Workflow) => Object.keys(w.on);

/**
 * What each job started by `event` can read: its secrets (besides the run's own GITHUB_TOKEN), its
 * environment, `secrets: inherit`, and write permissions. Jobs that call a reusable workflow are
 * followed into it, as GitHub runs them with the caller's trigger.
 */
function exposure(workflows: Record<string, Workflow>, event: string): string[] {
    const found: string[] = [];
    const visit = (file: string, w: Workflow, via: string) => {
        for (const [name, job] of Object.entries(w.jobs)) {
            const where = `${via}${file} job ${name}`;
            for (const secret of JSON.stringify(job).match(/secrets\.[A-Za-z0-9_]+|secrets\[[^\]]*\]/g) ?? []) {
                if (secret !== "secrets.GITHUB_TOKEN") found.push(`${where} reads ${secret}`);
            }
            if (job.environment) found.push(`${where} runs in environment ${job.environment}`);
            if (job.secrets === "inherit") found.push(`${where} passes secrets: inherit`);
            for (const [scope, level] of Object.entries({ ...(w.permissions ?? {}), ...(job.permissions ?? {}) })) {
                if (level === "write") found.push(`${where} may write ${scope}`);
            }
            const called = /^\.\/\.github\/workflows\/(.+)$/.exec(job.uses ?? "")?.[1];
            if (called) visit(called, workflows[called], `${where} -> `);
        }
    };
    for (const [file, w] of Object.entries(workflows)) if (triggers(w).includes(event)) visit(file, w, "");
    return found;
}

const ALL: Record<string, Workflow> = Object.fromEntries(FILES.map((file) => [file, workflow(file)]));

describe("GitHub workflows", () => {
    it("are the delivery workflows", () => {
        assert.deepEqual(FILES, [
            "build-images.yml", "ci-access-expiry.yml", "deploy-production.yml", "deploy-staging.yml", "deploy.yml", "image-lock.yml",
            "pr-comment.yml", "preview-production.yml", "promote-production.yml", "pull-request.yml",
        ]);
    });

    for (const file of FILES) {
        it(`${file} is a valid workflow and pins every action: GitHub's by version, others by commit`, () => {
            assert.deepEqual(validateWorkflow(text(file)).errors, []);
            for (const step of steps(workflow(file)).filter((s) => s.uses !== undefined)) {
                const pin = step.uses!.startsWith("actions/") ? /@v\d+\.\d+\.\d+$/ : /@[0-9a-f]{40}$/;
                assert.match(step.uses!, pin, `${file}: ${step.uses} is not pinned`);
            }
        });
    }

    it("the schema check catches a broken workflow (so the check above can fail)", () => {
        assert.notDeepEqual(validateWorkflow("on: push\njobs:\n  a:\n    runs-onn: ubuntu-24.04\n").errors, []);
    });

    it("every run: script passes the real shellcheck, and none expands ${{ }} itself (inputs arrive through env:)", () => {
        requireTool("shellcheck", "shellcheck");
        const scripts: Record<string, string> = {};
        for (const file of FILES) {
            steps(workflow(file)).forEach((step, i) => {
                if (!step.run) return;
                assert.doesNotMatch(step.run, /\$\{\{/, `${file} step ${step.name ?? i} expands an expression inside its script: pass it through env:`);
                scripts[`${file}-${i}.sh`] = `#!/usr/bin/env bash\nset -euo pipefail\n${step.run}\n`;
            });
        }
        assert.ok(Object.keys(scripts).length > 30);
        const dir = writeTempFiles(scripts, "workflow-run-");
        const result = run("shellcheck", ["--severity=warning", ...Object.keys(scripts).map((f) => path.join(dir, f))]);
        assert.equal(result.status, 0, result.output);
        const broken = writeTempFiles({ "x.sh": "#!/usr/bin/env bash\necho $((\n" });
        assert.notEqual(run("shellcheck", [path.join(broken, "x.sh")]).status, 0);
    });

    it("pins each action to the commit its named release tag points at (recorded), pulumi/actions at v7, with the CLI of the SDK the project locks", () => {
        const { tags } = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures", "action-tags.json"), "utf8")) as { tags: Record<string, Record<string, string>> };
        const lockedSdk = (JSON.parse(fs.readFileSync(path.join(__dirname, "..", "package-lock.json"), "utf8")) as { packages: Record<string, { version: string }> }).packages["node_modules/@pulumi/pulumi"].version;
        let pinned = 0;
        for (const file of FILES) {
            for (const match of text(file).matchAll(/uses: ([\w.-]+\/[\w.-]+)@([0-9a-f]{40}) # (v[\w.-]+)$/gm)) {
                const [, action, commit, tag] = match;
                assert.equal(tags[action]?.[tag], commit, `${file}: ${action}@${commit} is not ${tag}'s commit${tags[action]?.[tag] ? "" : " (none recorded: record it in test/fixtures/action-tags.json)"}`);
                pinned++;
            }
            for (const line of text(file).split("\n").filter((l) => l.includes("pulumi/actions@"))) assert.match(line, / # v7\.\d+\.\d+$/, `${file}: ${line}`);
            for (const step of steps(workflow(file)).filter((s) => s.uses?.startsWith("pulumi/actions@"))) assert.equal(step.with?.["pulumi-version"], lockedSdk, `${file}: the CLI the SDK in package-lock.json expects`);
        }
        assert.ok(pinned >= 6);
    });

    describe("who can read what", () => {
        it("no job a pull request starts reads a secret, runs in an environment, inherits secrets or may write", () => {
            assert.ok(triggers(ALL["pull-request.yml"]).includes("pull_request"));
            assert.deepEqual(exposure(ALL, "pull_request"), []);
            for (const file of FILES) assert.ok(!triggers(ALL[file]).includes("pull_request_target"), `${file}: pull_request_target runs with secrets for forks`);
        });

        it("the check catches a pull request job that reads production's secrets, directly or through a called workflow", () => {
            const leaky = structuredClone(ALL);
            leaky["pull-request.yml"].jobs.test.steps!.push({ run: "pulumi preview", env: { PULUMI_ACCESS_TOKEN: "${{ secrets.PULUMI_ACCESS_TOKEN }}" } });
            leaky["pull-request.yml"].jobs.preview = { uses: "./.github/workflows/deploy.yml", with: { stack: "production" }, secrets: "inherit" };
            const found = exposure(leaky, "pull_request");
            assert.ok(found.includes("pull-request.yml job test reads secrets.PULUMI_ACCESS_TOKEN"), found.join("\n"));
            assert.ok(found.includes("pull-request.yml job preview passes secrets: inherit"), found.join("\n"));
            assert.ok(found.includes("pull-request.yml job preview -> deploy.yml job up runs in environment ${{ inputs.stack }}"), found.join("\n"));
        });

        it("the comment workflow posts the plan diff with a write token but never checks out or runs the pull request's code", () => {
            const w = ALL["pr-comment.yml"];
            assert.deepEqual(triggers(w), ["workflow_run"]);
            assert.deepEqual((w.on.workflow_run as { workflows: string[] }).workflows, ["pull-request"]);
            const job = w.jobs.comment;
            assert.deepEqual(job.permissions, { actions: "read", "pull-requests": "write" });
            assert.ok(!job.steps!.some((s) => s.uses?.startsWith("actions/checkout@") || /\bnpm\b|\bnode\b|\.sh\b/.test(s.run ?? "")), "it runs no code of the repository");
            assert.match(job.steps!.at(-1)!.run!, /head\.sha[\s\S]*\$HEAD_SHA/, "it posts only on the pull request whose head that run tested");
        });

        it("jobs with a stack's or the registries' credentials run main's code only", () => {
            const guarded = ["production", "production-preview", "images", "ci-access-production", "ci-access-${{ matrix.stack }}", "${{ inputs.stack }}"];
            for (const [file, w] of Object.entries(ALL)) {
                for (const [name, job] of Object.entries(w.jobs)) {
                    if (!job.environment) continue;
                    assert.ok(guarded.includes(job.environment), `${file} job ${name}: environment ${job.environment} is not one README documents`);
                    assert.equal(job.if, "github.ref == 'refs/heads/main'", `${file} job ${name} runs in ${job.environment} from any branch`);
                    for (const event of triggers(w)) assert.ok(["push", "workflow_dispatch", "schedule", "workflow_call"].includes(event), `${file} is started by ${event}`);
                    if (w.on.push) assert.deepEqual((w.on.push as { branches: string[] }).branches, ["main"], file);
                }
            }
            // The reusable deploy is called only from main's deploy workflows.
            assert.deepEqual(Object.entries(ALL).filter(([, w]) => Object.values(w.jobs).some((j) => j.uses === "./.github/workflows/deploy.yml")).map(([f]) => f).sort(), ["deploy-production.yml", "deploy-staging.yml"]);
        });

        it("production is previewed for real only after merge, in its own environment", () => {
            const w = ALL["preview-production.yml"];
            assert.deepEqual(w.on, { push: { branches: ["main"] }, workflow_dispatch: null });
            const job = w.jobs.preview;
            assert.equal(job.environment, "production-preview");
            const preview = job.steps!.find((s) => s.uses?.startsWith("pulumi/actions@"))!;
            assert.deepEqual([preview.with?.command, preview.with?.["stack-name"], preview.with?.policyPacks], ["preview", "production", "policies"]);
            for (const [file, w2] of Object.entries(ALL)) {
                if (triggers(w2).includes("pull_request")) assert.ok(!steps(w2).some((s) => s.uses?.startsWith("pulumi/actions@")), `${file} runs pulumi for a pull request`);
            }
        });
    });

    describe("pull requests", () => {
        const w = ALL["pull-request.yml"];

        it("run in Debian 12, as .ci/run (privileged for its namespaces), with the tests README names", () => {
            for (const name of ["test", "offline", "plan-diff"]) assert.equal(w.jobs[name].container?.image, "debian:12", name);
            assert.equal(w.jobs.test.container?.options, "--privileged");
            assert.equal(w.jobs.test.steps!.find((s) => s.name === "Validators, npm ci, npm test")?.run, ".ci/run");
            const ci = fs.readFileSync(path.join(ROOT, ".ci", "run"), "utf8");
            assert.match(ci, /^npm test$/m, ".ci/run ends in README's test command");
            assert.match(fs.readFileSync(path.join(ROOT, "README.md"), "utf8"), /^npm test +# typecheck \+ the whole suite/m);
        });

        it("synth and policy-check both stacks, and diff each against the base branch's synth, failing on a protected resource lost", () => {
            const offline = w.jobs.offline.steps!.map((s) => s.run ?? "").join("\n");
            for (const stack of ["staging", "production"]) {
                assert.match(offline, new RegExp(`npm run synth -- --stack ${stack}`));
                assert.match(offline, new RegExp(`npm run policy -- --stack ${stack}`));
            }
            const job = w.jobs["plan-diff"];
            const base = job.steps!.find((s) => s.uses?.startsWith("actions/checkout@") && s.with?.path === "base");
            assert.equal(base?.with?.ref, "${{ github.event.pull_request.base.sha }}");
            const scripts = job.steps!.map((s) => s.run ?? "").join("\n");
            assert.match(scripts, /\(cd base && npm run synth -- --stack "\$stack" --out "\.\.\/plan\/base\/\$stack"\)/);
            assert.match(scripts, /npm run -s plan-diff -- --base "plan\/base\/\$stack" --head "plan\/head\/\$stack" .*--fail-on-protected/);
            assert.equal((job.steps!.at(-1)!.with?.path as string).trim(), "plan/comment.md\nplan/pr-number");
        });

        it("every command a workflow runs is one README gives (script and subcommand)", () => {
            const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
            const scripts = (JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
            const commands = new Set<string>();
            for (const file of FILES) {
                for (const step of steps(workflow(file))) {
                    for (const match of (step.run ?? "").matchAll(/npm run (?:-s )?([a-z-]+)(?: -- ([a-z]+))?/g)) commands.add(match[2] ? `npm run ${match[1]} -- ${match[2]}` : `npm run ${match[1]}`);
                }
            }
            assert.ok(commands.size >= 12, [...commands].join(", "));
            for (const command of commands) {
                assert.ok(scripts[command.split(" ")[2]], `${command}: package.json has no such script`);
                assert.ok(readme.includes(command), `a workflow runs \`${command}\`, which README does not give`);
            }
        });
    });

    describe("releases, promotion, rollback", () => {
        it("a deploy runs from what main holds: no workflow sets config, and promotion (or rollback) is a pull request", () => {
            for (const file of FILES) assert.doesNotMatch(text(file), /pulumi config set/, `${file} changes config only inside its runner`);
            const promote = ALL["promote-production.yml"];
            assert.deepEqual(triggers(promote), ["workflow_dispatch"]);
            const job = promote.jobs.propose;
            const verify = stepIndex(job, (s) => s.run === 'npm run -s release -- verify --tag "$IMAGE_TAG"', "verifying the scan");
            const login = stepIndex(job, (s) => /skopeo login/.test(s.run ?? ""), "logging in to both registries");
            const copy = stepIndex(job, (s) => s.run === 'npm run -s release -- copy --tag "$IMAGE_TAG" --stack production --run "$RUN_URL"', "copying by digest");
            const bump = stepIndex(job, (s) => s.run === 'npm run -s release -- bump --stack production --tag "$IMAGE_TAG"', "bumping the stack file");
            const pr = stepIndex(job, (s) => s.uses?.startsWith("peter-evans/create-pull-request@") === true, "opening the pull request");
            assert.ok(verify < login && login < copy && copy < bump && bump < pr);
            assert.equal(job.steps![pr].with?.["add-paths"], "Pulumi.production.yaml\nreleases/${{ inputs.image_tag }}.json\n");
            assert.equal(job.container?.image, "debian:12");
            assert.match(job.steps![0].run!, /apt-get install .*skopeo/);
            assert.ok(!steps(promote).some((s) => s.uses?.startsWith("pulumi/actions@")), "promotion deploys nothing itself");

            const production = ALL["deploy-production.yml"];
            assert.deepEqual(production.on.push, { branches: ["main"], paths: ["Pulumi.production.yaml"] });
            assert.deepEqual(production.jobs.deploy.with, { stack: "production" });
            assert.equal(production.jobs.deploy.uses, "./.github/workflows/deploy.yml");
            const staging = ALL["deploy-staging.yml"];
            assert.deepEqual(staging.on.push, { branches: ["main"] });
            assert.deepEqual(staging.jobs.deploy.with, { stack: "staging" });
            for (const [w, group] of [[production, "pulumi-up-production"], [staging, "pulumi-up-staging"]] as const) {
                assert.deepEqual(w.concurrency, { group, "cancel-in-progress": false });
                assert.equal(w.jobs.deploy.secrets, "inherit");
            }
            assert.match(text("deploy-staging.yml"), /at most one running and one pending run per group: a newer push replaces the pending\n# one \(which is cancelled\)/);
        });

        it("a deploy verifies the record in its stack's registry (and the image lock on production), opens the hosts to its runner only, smoke-tests, logs who approved", () => {
            const job = ALL["deploy.yml"].jobs.up;
            assert.equal(job.environment, "${{ inputs.stack }}");
            const verify = stepIndex(job, (s) => s.run === 'npm run -s release -- verify --stack "$STACK"', "refusing a tag not in this stack's registry");
            const lock = stepIndex(job, (s) => s.run === "npm run -s image-lock -- check --resolved", "refusing unlocked third-party images");
            assert.equal(job.steps![lock].if, "inputs.stack == 'production'");
            const open = stepIndex(job, (s) => /ci-access -- open --stack "\$STACK" --ip "\$ip" --minutes 60 --owner "\$RUN_URL"/.test(s.run ?? ""), "opening CI access");
            const up = stepIndex(job, (s) => s.uses?.startsWith("pulumi/actions@") === true && s.with?.command === "up", "pulumi up");
            const smoke = stepIndex(job, (s) => s.run === 'npm run smoke -- --stack "$STACK"', "smoke test");
            const rollback = stepIndex(job, (s) => s.if === "failure()", "pointing at the rollback runbook");
            const close = stepIndex(job, (s) => s.run === 'npm run -s ci-access -- close --stack "$STACK" --owner "$RUN_URL"', "closing this run's CI access");
            assert.ok(verify < lock && lock < open && open < up && up < smoke && smoke < rollback && rollback < close);
            assert.equal(job.steps![close].if, "always()");
            assert.match(job.steps![rollback].run!, /Roll back/);
            const upStep = job.steps![up];
            assert.equal(upStep.with?.policyPacks, "policies");
            assert.equal(upStep.with?.message, "${{ steps.meta.outputs.message }}");
            const meta = job.steps!.find((s) => s.id === "meta")!;
            assert.match(meta.run!, /actions\/runs\/\$GITHUB_RUN_ID\/approvals/);
            // The release log reads "approved by @login, ..." and "no approval required" (scripts/lib/release-log.ts).
            assert.match(meta.run!, /"@" \+ \.user\.login/);
            assert.match(meta.run!, /approval="approved by \$approvers"; else approval="no approval required"/);
            assert.equal(job.permissions?.actions, "read");
            for (const secret of ["PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "HCLOUD_TOKEN"]) assert.equal(job.env?.[secret], `\${{ secrets.${secret} }}`);
            assert.equal(job.env?.PULUMI_BACKEND_URL, "${{ vars.PULUMI_BACKEND_URL }}");
        });

        it("expired CI access rules are removed every 15 minutes whatever left them, in the stacks' ci-access environments", () => {
            const w = ALL["ci-access-expiry.yml"];
            assert.deepEqual(w.on, { schedule: [{ cron: "*/15 * * * *" }], workflow_dispatch: null });
            const job = w.jobs.prune;
            assert.deepEqual((job.strategy!.matrix as { stack: string[] }).stack, ["staging", "production"]);
            assert.equal(job.environment, "ci-access-${{ matrix.stack }}");
            assert.equal(job.steps!.at(-1)!.run, 'npm run -s ci-access -- prune --stack "$STACK"');
        });

        it("the third-party image lock is resolved daily and on every change of the pins, and proposed as a pull request", () => {
            const w = ALL["image-lock.yml"];
            assert.deepEqual(w.on.push, { branches: ["main"], paths: ["components/services/versions.ts", "components/services/image-lock.ts"] });
            assert.ok(w.on.schedule);
            const job = w.jobs.resolve;
            const resolve = stepIndex(job, (s) => s.run === 'npm run -s image-lock -- resolve --run "$RUN_URL"', "resolving");
            const pr = stepIndex(job, (s) => s.uses?.startsWith("peter-evans/create-pull-request@") === true, "proposing");
            assert.ok(resolve < pr);
            assert.equal(job.steps![pr].with?.["add-paths"], "image-digests.lock.json");
        });
    });

    describe("images", () => {
        it("are built from the program's build definitions, scanned before they are pushed, pushed with an SBOM, copied into staging by digest and proposed", () => {
            const w = ALL["build-images.yml"];
            assert.deepEqual(triggers(w), ["workflow_dispatch"]);
            assert.match(w.jobs.plan.steps!.find((s) => s.id === "builds")!.run!, /npm run -s image-builds -- --matrix/);
            assert.equal(w.jobs.build.strategy!.matrix, "${{ fromJSON(needs.plan.outputs.matrix) }}");
            const build = w.jobs.build;
            const scan = stepIndex(build, (s) => s.uses?.startsWith("aquasecurity/trivy-action@") === true, "scan");
            const push = stepIndex(build, (s) => s.with?.push === true, "push");
            assert.ok(scan < push, "the scan runs before anything is pushed");
            assert.deepEqual(
                (({ severity, "ignore-unfixed": unfixed, "exit-code": code }) => ({ severity, unfixed, code }))(build.steps![scan].with as Record<string, unknown>),
                { severity: "CRITICAL", unfixed: true, code: "1" },
            );
            assert.equal(build.steps![push].with?.sbom, true);
            assert.match(String(build.steps![push].with?.["cache-to"]), /^type=registry,.*mode=max$/);
            assert.equal(build.environment, "images");
            assert.ok(build.steps!.some((s) => s.uses?.startsWith("actions/upload-artifact@") && s.if === "always()" && String(s.with?.path).startsWith("trivy-")), "the report is kept even when the scan fails");
            assert.equal(build.steps!.find((s) => s.name === "Record the digest")!.env?.DIGEST, "${{ steps.push.outputs.digest }}");
            assert.deepEqual(w.jobs.propose.needs, ["plan", "build"]);
            const propose = w.jobs.propose;
            assert.equal(propose.env?.ARCHON_REF, "${{ inputs.archon_ref }}", "the dispatch input reaches the script through env only");
            assert.match(propose.steps!.map((s) => s.run ?? "").join("\n"), /release -- record [\s\S]*--scan passed[\s\S]*skopeo login[\s\S]*release -- copy --tag "\$TAG" --stack staging --run "\$RUN_URL"[\s\S]*release -- bump --stack staging --tag "\$TAG"/);
            assert.equal(propose.steps!.find((s) => s.uses?.startsWith("peter-evans/"))!.with?.["add-paths"], "Pulumi.staging.yaml\nreleases/${{ needs.plan.outputs.tag }}.json\n");
        });

        it("are built from the contexts and Dockerfiles the program stages (a drift fails here)", () => {
            const printed = run(process.execPath, ["--require", "ts-node/register/transpile-only", "scripts/image-builds.ts", "--matrix"], { cwd: ROOT });
            assert.equal(printed.status, 0, printed.output);
            assert.deepEqual(JSON.parse(printed.output), { include: ARCHON_IMAGES.map((image) => ({ image })) });
            const build = ALL["build-images.yml"].jobs.build;
            assert.equal(build.env?.IMAGE_NAME, "${{ matrix.image }}");
            const stage = build.steps!.find((s) => s.id === "ctx")!;
            assert.match(stage.run!, /npm run -s image-builds -- --source archon --stage "\$RUNNER_TEMP\/contexts" --image "\$IMAGE_NAME"/);
            for (const step of build.steps!.filter((s) => s.uses?.startsWith("docker/build-push-action@"))) {
                assert.deepEqual([step.with?.context, step.with?.file, step.with?.["build-args"]], ["${{ steps.ctx.outputs.context }}", "${{ steps.ctx.outputs.file }}", "${{ steps.ctx.outputs.args }}"]);
            }
        });
    });
});
