/**
 * What a change does to a stack, offline: `npm run plan-diff -- --base <synth dir> --head <synth dir>
 * [--title <text>] [--out <file.md>] [--fail-on-protected]`. Both directories are `npm run synth --
 * --out` output of one stack (the base branch's and the change's). Prints the Markdown the pull
 * request shows (scripts/lib/plan-diff.ts); with --fail-on-protected, exits 1 when a protected or
 * retained resource would be deleted or replaced. Bad input: one line, exit 2.
 */
import * as fs from "fs";
import { UsageError, parseCli, runCli } from "./lib/cli";
import { losesProtected, planDiff, planDiffMarkdown, readSynthDir } from "./lib/plan-diff";

function main(): void {
    const { values } = parseCli({
        options: {
            base: { type: "string", help: "the base branch's synth directory (npm run synth -- --out); required" },
            head: { type: "string", help: "the change's synth directory of the same stack; required" },
            title: { type: "string", help: "the Markdown heading (default \"Plan diff: <stack>\")" },
            out: { type: "string", help: "also write the Markdown to this file" },
            "fail-on-protected": { type: "boolean", default: false, help: "exit 1 when a protected or retained resource would be deleted or replaced" },
        },
        help: {
            summary: "What a change does to a stack, offline: compares two synths of one stack and prints the Markdown a pull request shows (resources created, updated, replaced, deleted; protected ones touched; cost).",
            usage: "npm run plan-diff -- --base <synth dir> --head <synth dir> [--title <text>] [--out <file.md>] [--fail-on-protected]",
            examples: [
                "npm run plan-diff -- --base /tmp/base/production --head out/production --fail-on-protected",
                "npm run plan-diff -- --base plan/base/staging --head plan/head/staging --title \"staging: plan diff\" --out plan/staging.md",
            ],
        },
    });
    if (!values.base || !values.head) throw new UsageError("--base and --head are required: two npm run synth -- --out directories of one stack");
    const read = (dir: string) => {
        try {
            return readSynthDir(dir);
        } catch (error) {
            throw new UsageError((error as Error).message.split("\n")[0]);
        }
    };
    const base = read(values.base);
    const head = read(values.head);
    if (base.stack !== head.stack) throw new UsageError(`--base is stack ${base.stack}, --head stack ${head.stack}: compare one stack with itself`);
    const diff = planDiff(base, head);
    const markdown = planDiffMarkdown(diff, values.title ?? `Plan diff: ${head.stack}`);
    if (values.out) fs.writeFileSync(values.out, markdown + "\n");
    process.stdout.write(markdown + "\n");
    if (values["fail-on-protected"] && losesProtected(diff)) {
        console.error(`plan-diff ${head.stack}: a protected resource would be deleted or replaced (see "Protected resources touched"); remove its protection in a change of its own first, if that is really meant`);
        process.exitCode = 1;
    }
}

runCli(main);
