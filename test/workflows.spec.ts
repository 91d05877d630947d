/**
 * The delivery workflows: valid against GitHub's workflow schema (action-validator, offline), and
 * the essentials people rely on: triggers, pinned actions, the policy pack on every preview and up,
 * the production environment and non-overlapping updates.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { validateWorkflow } from "@action-validator/core";
import { parse as parseYaml } from "yaml";

const DIR = path.resolve(__dirname, "..", ".github", "workflows");

interface Step {
    uses?: string;
    run?: string;
    with?: Record<string, unknown>;
    env?: Record<string, string>;
}
interface Job {
    environment?: string;
    needs?: string[];
    env?: Record<string, string>;
    steps: Step[];
    permissions?: Record<string, string>;
}
interface Workflow {
    on: Record<string, Record<string, unknown> | null>;
    concurrency?: { group: string; "cancel-in-progress": boolean };
    jobs: Record<string, Job>;
}

function text(file: string): string {
    return fs.readFileSync(path.join(DIR, file), "utf8");
}
function workflow(file: string): Workflow {
    return parseYaml(text(file)) as Workflow;
}
function steps(w: Workflow): Step[] {
    return Object.values(w.jobs).flatMap((job) => job.steps);
}
function pulumiSteps(w: Workflow, command: string): Step[] {
    return steps(w).filter((s) => s.uses?.startsWith("pulumi/actions@") && s.with?.command === command);
}

const FILES = ["pull-request.yml", "deploy-staging.yml", "promote-production.yml"];

describe("GitHub workflows", () => {
    for (const file of FILES) {
        it(`${file} is a valid workflow and pins every action to a full version or commit`, () => {
            assert.deepEqual(validateWorkflow(text(file)).errors, []);
            for (const step of steps(workflow(file)).filter((s) => s.uses !== undefined)) {
                assert.match(step.uses!, /^[\w.-]+\/[\w.\/-]+@(v\d+\.\d+\.\d+|[0-9a-f]{40})$/, `${file}: ${step.uses} is not pinned`);
            }
        });
    }

    it("the schema check catches a broken workflow (so the check above can fail)", () => {
        assert.notDeepEqual(validateWorkflow("on: push\njobs:\n  a:\n    runs-onn: ubuntu-24.04\n").errors, []);
    });

    it("pull requests run the tests with the validators, synth and policy-check both stacks, and preview both with the pack", () => {
        const w = workflow("pull-request.yml");
        assert.ok("pull_request" in w.on);
        const runs = steps(w).map((s) => s.run ?? "").join("\n");
        assert.match(runs, /\.ci\/run/);
        assert.match(runs, /npm ci/);
        for (const stack of ["staging", "production"]) {
            assert.match(runs, new RegExp(`npm run synth -- --stack ${stack}`));
            assert.match(runs, new RegExp(`npm run policy -- --stack ${stack}`));
        }
        const [preview] = pulumiSteps(w, "preview");
        assert.equal(preview.with?.policyPacks, "policies");
        assert.equal(preview.with?.["comment-on-pr"], true);
        const job = Object.values(w.jobs).find((j) => j.steps.includes(preview))!;
        assert.equal(job.permissions?.["pull-requests"], "write");
        assert.deepEqual((job as unknown as { strategy: { matrix: { stack: string[] } } }).strategy.matrix.stack, ["staging", "production"]);
        assert.equal(preview.with?.["stack-name"], "${{ matrix.stack }}");
        assert.equal(preview.env?.HCLOUD_TOKEN, "${{ secrets.HCLOUD_TOKEN }}");
    });

    it("a push to main updates staging, one update at a time, with the pack", () => {
        const w = workflow("deploy-staging.yml");
        assert.deepEqual(w.on.push?.branches, ["main"]);
        const [up] = pulumiSteps(w, "up");
        assert.equal(up.with?.["stack-name"], "staging");
        assert.equal(up.with?.policyPacks, "policies");
        assert.deepEqual(w.concurrency, { group: "pulumi-up-staging", "cancel-in-progress": false });
        for (const secret of ["PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "HCLOUD_TOKEN"]) {
            assert.equal(up.env?.[secret], `\${{ secrets.${secret} }}`);
        }
    });

    it("production is promoted by hand with an image tag, behind the production environment", () => {
        const w = workflow("promote-production.yml");
        assert.deepEqual(Object.keys(w.on), ["workflow_dispatch"]);
        const inputs = w.on.workflow_dispatch?.inputs as Record<string, { required: boolean }>;
        assert.equal(inputs.image_tag.required, true);
        const [job] = Object.values(w.jobs);
        assert.equal(job.environment, "production");
        assert.deepEqual(w.concurrency, { group: "pulumi-up-production", "cancel-in-progress": false });
        const runs = job.steps.map((s) => s.run ?? "").join("\n");
        assert.match(runs, /pulumi config set imageTag "\$IMAGE_TAG"/);
        assert.equal(job.env?.IMAGE_TAG, "${{ inputs.image_tag }}");
        const [up] = pulumiSteps(w, "up");
        assert.equal(up.with?.["stack-name"], "production");
        assert.equal(up.with?.policyPacks, "policies");
        assert.ok(job.steps.indexOf(up) > job.steps.findIndex((s) => s.run?.includes("pulumi config set imageTag")));
        assert.equal(job.env?.HCLOUD_TOKEN, "${{ secrets.HCLOUD_TOKEN }}");
    });

    it("staging and production updates never share a concurrency group with previews", () => {
        const groups = FILES.map((f) => workflow(f).concurrency?.group);
        assert.equal(new Set(groups).size, groups.length);
    });
});
