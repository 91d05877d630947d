/**
 * Offline synth: `npm run synth -- --stack <name> [--config key=value]... [--out dir]`.
 * Runs the real program under Pulumi's mocks and writes resources.json, outputs.json and files/.
 * Bad configuration exits 2 with one line naming the key and the fix.
 */
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { runCli } from "./lib/cli";
import { synthesize } from "./lib/synthesize";
import { PROJECT_DIR, StackConfigError, listStacks, parseOverride } from "./lib/stack-config";

async function main(): Promise<void> {
    const { values } = parseArgs({
        options: {
            stack: { type: "string" },
            config: { type: "string", multiple: true, default: [] },
            out: { type: "string" },
        },
    });
    if (!values.stack) throw new StackConfigError(`--stack is required; the stacks are ${listStacks().join(", ")}`);
    const overrides = Object.fromEntries((values.config ?? []).map(parseOverride));
    const result = await synthesize(values.stack, overrides);
    const out = path.resolve(values.out ?? path.join(PROJECT_DIR, "out", values.stack));
    fs.rmSync(out, { recursive: true, force: true });
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, "resources.json"), JSON.stringify(result.resources, null, 2) + "\n");
    fs.writeFileSync(path.join(out, "outputs.json"), JSON.stringify(result.outputs, null, 2) + "\n");
    for (const [file, text] of Object.entries(result.files)) {
        const target = path.join(out, "files", file);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, text);
    }
    const custom = result.resources.filter((r) => r.custom).length;
    console.log(`synth ${values.stack}: ${custom} resources, ${result.resources.length - custom} components, ${Object.keys(result.files).length} files -> ${path.relative(process.cwd(), out) || "."}`);
}

runCli(main);
