/**
 * The delivery workflows: valid against GitHub's workflow schema (action-validator, offline), every
 * `run:` script accepted by the real shellcheck, and what people rely on: a release is a commit,
 * credentials are scoped to environments and never reach a fork, CI opens the hosts to its own
 * address only for the length of a deploy, every deploy is smoke-tested, images are scanned before
 * they are pushed and built from the program's own definitions.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { validateWorkflow } from "@action-validator/core";
import { parse as parseYaml } from "yaml";
import { ARCHON_IMAGES } from "../components/registry/build-context";
import { requireTool, run, writeTempFiles } from "./helpers";

const DIR = path.resolve(__dirname, "..", ".github", "workflows");

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
}
interface Workflow {
    on: Record<string, Record<string, unknown> | null>;
    concurrency?: { group: string; "cancel-in-progress": boolean };
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

describe("GitHub workflows", () => {
    it("are the six delivery workflows", () => {
        assert.deepEqual(FILES, ["build-images.yml", "deploy-production.yml", "deploy-staging.yml", "deploy.yml", "promote-production.yml", "pull-request.yml"]);
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

    it("every run: script passes the real shellcheck (expressions stood in for)", () => {
        requireTool("shellcheck", "shellcheck");
        const scripts: Record<string, string> = {};
        for (const file of FILES) {
            steps(workflow(file)).forEach((step, i) => {
                if (step.run) scripts[`${file}-${i}.sh`] = `#!/usr/bin/env bash\nset -euo pipefail\n${step.run.replace(/\$\{\{[^}]*\}\}/g, "EXPR")}\n`;
            });
        }
        assert.ok(Object.keys(scripts).length > 20);
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

    it("secrets reach only jobs in a GitHub environment, and previews never run a fork's code with them", () => {
        for (const file of FILES) {
            for (const [name, job] of Object.entries(workflow(file).jobs)) {
                const body = JSON.stringify(job).replace(/secrets\.(GITHUB_TOKEN|RELEASE_PR_TOKEN)/g, "");
                if (/secrets\./.test(body)) assert.ok(job.environment, `${file} job ${name} reads secrets outside an environment`);
            }
        }
        const preview = workflow("pull-request.yml").jobs.preview;
        assert.equal(preview.environment, "preview");
        assert.equal(preview.if, "github.event.pull_request.head.repo.full_name == github.repository");
        assert.ok(!("pull_request_target" in workflow("pull-request.yml").on), "pull_request_target would run with secrets for forks");
        for (const job of ["test", "offline"]) assert.ok(!JSON.stringify(workflow("pull-request.yml").jobs[job]).includes("secrets."), `${job} needs no secrets`);
    });

    it("pull requests run the tests with the validators, synth and policy-check both stacks, and preview both with the pack", () => {
        const w = workflow("pull-request.yml");
        const runs = steps(w).map((s) => s.run ?? "").join("\n");
        assert.match(runs, /\.ci\/run/);
        for (const stack of ["staging", "production"]) {
            assert.match(runs, new RegExp(`npm run synth -- --stack ${stack}`));
            assert.match(runs, new RegExp(`npm run policy -- --stack ${stack}`));
        }
        const preview = w.jobs.preview.steps!.find((s) => s.uses?.startsWith("pulumi/actions@"))!;
        assert.equal(preview.with?.command, "preview");
        assert.equal(preview.with?.policyPacks, "policies");
        assert.equal(preview.with?.["cloud-url"], "${{ vars.PULUMI_BACKEND_URL }}");
        assert.deepEqual((w.jobs.preview.strategy!.matrix as { stack: string[] }).stack, ["staging", "production"]);
    });

    it("a deploy runs from what main holds: no workflow sets config, and promotion is a pull request", () => {
        for (const file of FILES) assert.doesNotMatch(text(file), /pulumi config set/, `${file} changes config only inside its runner`);
        const promote = workflow("promote-production.yml");
        assert.deepEqual(Object.keys(promote.on), ["workflow_dispatch"]);
        const job = promote.jobs.propose;
        const verify = stepIndex(job, (s) => /npm run -s release -- verify --tag "\$IMAGE_TAG"/.test(s.run ?? ""), "verifying the scan");
        const bump = stepIndex(job, (s) => /release -- bump --stack production --tag "\$IMAGE_TAG"/.test(s.run ?? ""), "bumping the stack file");
        const pr = stepIndex(job, (s) => s.uses?.startsWith("peter-evans/create-pull-request@") === true, "opening the pull request");
        assert.ok(verify < bump && bump < pr);
        assert.equal(job.steps![pr].with?.["add-paths"], "Pulumi.production.yaml");
        assert.ok(!steps(promote).some((s) => s.uses?.startsWith("pulumi/actions@")), "promotion deploys nothing itself");

        const production = workflow("deploy-production.yml");
        assert.deepEqual(production.on.push, { branches: ["main"], paths: ["Pulumi.production.yaml"] });
        assert.deepEqual(production.jobs.deploy.with, { stack: "production" });
        assert.equal(production.jobs.deploy.uses, "./.github/workflows/deploy.yml");
        const staging = workflow("deploy-staging.yml");
        assert.deepEqual(staging.on.push, { branches: ["main"] });
        assert.deepEqual(staging.jobs.deploy.with, { stack: "staging" });
        for (const [w, group] of [[production, "pulumi-up-production"], [staging, "pulumi-up-staging"]] as const) {
            assert.deepEqual(w.concurrency, { group, "cancel-in-progress": false });
            assert.equal(w.jobs.deploy.secrets, "inherit");
        }
        assert.match(text("deploy-staging.yml"), /at most one running and one pending run per group: a newer push replaces the pending\n# one \(which is cancelled\)/);
    });

    it("a deploy opens the hosts to its runner only around `pulumi up`, smoke-tests, and logs who approved it", () => {
        const job = workflow("deploy.yml").jobs.up;
        assert.equal(job.environment, "${{ inputs.stack }}");
        const verify = stepIndex(job, (s) => s.run === "npm run -s release -- verify --stack production", "refusing an unscanned tag");
        assert.equal(job.steps![verify].if, "inputs.stack == 'production'");
        const open = stepIndex(job, (s) => /ci-access -- open --stack "\$STACK" --ip "\$ip"/.test(s.run ?? ""), "opening CI access");
        const up = stepIndex(job, (s) => s.uses?.startsWith("pulumi/actions@") === true && s.with?.command === "up", "pulumi up");
        const smoke = stepIndex(job, (s) => s.run === 'npm run smoke -- --stack "$STACK"', "smoke test");
        const rollback = stepIndex(job, (s) => s.if === "failure()", "pointing at the rollback runbook");
        const close = stepIndex(job, (s) => /ci-access -- close --stack "\$STACK"/.test(s.run ?? ""), "closing CI access");
        assert.ok(verify < open && open < up && up < smoke && smoke < rollback && rollback < close);
        assert.equal(job.steps![close].if, "always()");
        assert.match(job.steps![rollback].run!, /Roll back/);
        const upStep = job.steps![up];
        assert.equal(upStep.with?.policyPacks, "policies");
        assert.equal(upStep.with?.message, "${{ steps.meta.outputs.message }}");
        const meta = job.steps!.find((s) => s.id === "meta")!;
        assert.match(meta.run!, /actions\/runs\/\$GITHUB_RUN_ID\/approvals/);
        assert.match(meta.run!, /approved by/);
        assert.equal(job.permissions?.actions, "read");
        for (const secret of ["PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "HCLOUD_TOKEN"]) assert.equal(job.env?.[secret], `\${{ secrets.${secret} }}`);
        assert.equal(job.env?.PULUMI_BACKEND_URL, "${{ vars.PULUMI_BACKEND_URL }}");
    });

    it("images are built from the program's build definitions, scanned before they are pushed, pushed with an SBOM, and proposed for staging", () => {
        const w = workflow("build-images.yml");
        assert.deepEqual(Object.keys(w.on), ["workflow_dispatch"]);
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
        assert.deepEqual(w.jobs.propose.needs, ["plan", "build"]);
        const propose = w.jobs.propose.steps!;
        assert.match(propose.map((s) => s.run ?? "").join("\n"), /release -- record [\s\S]*--scan passed[\s\S]*release -- bump --stack staging --tag "\$TAG"/);
        assert.equal(propose.find((s) => s.uses?.startsWith("peter-evans/"))!.with?.["add-paths"], "Pulumi.staging.yaml\nreleases/${{ needs.plan.outputs.tag }}.json\n");
    });

    it("the image workflow builds each image from the contexts and Dockerfiles the program stages (a drift fails here)", () => {
        const printed = run(process.execPath, ["--require", "ts-node/register/transpile-only", "scripts/image-builds.ts", "--matrix"], { cwd: path.resolve(__dirname, "..") });
        assert.equal(printed.status, 0, printed.output);
        assert.deepEqual(JSON.parse(printed.output), { include: ARCHON_IMAGES.map((image) => ({ image })) });
        const build = workflow("build-images.yml").jobs.build;
        const stage = build.steps!.find((s) => s.id === "ctx")!;
        assert.match(stage.run!, /npm run -s image-builds -- --source archon --stage "\$RUNNER_TEMP\/contexts" --image "\$\{\{ matrix.image \}\}"/);
        for (const step of build.steps!.filter((s) => s.uses?.startsWith("docker/build-push-action@"))) {
            assert.deepEqual([step.with?.context, step.with?.file, step.with?.["build-args"]], ["${{ steps.ctx.outputs.context }}", "${{ steps.ctx.outputs.file }}", "${{ steps.ctx.outputs.args }}"]);
        }
    });
});
