/**
 * Offline synth: `npm run synth -- --stack <name> [--config key=value]... [--out dir]`.
 * Runs the real program under Pulumi's mocks and writes resources.json, outputs.json, plan.md and
 * files/ into the output directory (default out/<stack>), which it marks as its own: it never
 * replaces a directory it did not write. Ends with a short plan summary (./lib/plan.ts).
 * Bad configuration or arguments exit 2 with one line naming the key, flag or file and the fix.
 */
import * as fs from "fs";
import * as path from "path";
import { parseCli, runCli, UsageError } from "./lib/cli";
import { billableItems, fetchPricing, pricesFromApi } from "./lib/cost";
import { prepareOutDir } from "./lib/out-dir";
import { planMarkdown, planOf, planSummary } from "./lib/plan";
import { synthesize } from "./lib/synthesize";
import { PROJECT_DIR, listStacks, parseOverride } from "./lib/stack-config";

/** Secret files of a Compose project (env/*.env, secrets/...), by their path under files/. */
const SECRET_FILE = /(^|\/)(env\/[^/]+\.env|secrets\/.+)$/;

async function main(): Promise<void> {
    const { values } = parseCli({
        options: {
            stack: { type: "string", help: "the stack to synthesize (Pulumi.<stack>.yaml); required" },
            config: { type: "string", multiple: true, default: [], help: "override one config key, key=value (JSON where it parses)" },
            out: { type: "string", help: "output directory (default out/<stack>); only a directory the synth wrote is ever replaced" },
            // Prices from Hetzner's Cloud API (GET /v1/pricing) with HCLOUD_TOKEN, instead of the
            // committed table: what a deploy job with a token prints. The only network call the synth makes.
            "live-prices": { type: "boolean", default: false, help: "price the plan from Hetzner's GET /v1/pricing with HCLOUD_TOKEN instead of the committed table" },
        },
        help: {
            summary: "Runs the real program offline under Pulumi's mocks with the stack's config (no cloud, no credentials) and writes resources.json, outputs.json, plan.md and files/.",
            usage: "npm run synth -- --stack <name> [--config key=value]... [--out <dir>] [--live-prices]",
            examples: ["npm run synth -- --stack staging", "npm run synth -- --stack production --config agentNodes=5 --out /tmp/prod-5"],
        },
    });
    if (!values.stack) throw new UsageError(`--stack is required; the stacks are ${listStacks().join(", ")}`);
    const overrides = Object.fromEntries((values.config ?? []).map(parseOverride));
    const given = values.out ?? path.join(PROJECT_DIR, "out", values.stack);
    const out = path.resolve(given);
    // Checked before the program runs, so a refused directory costs nothing; prepared after it
    // succeeded, so a failed synth leaves the previous output in place.
    prepareOutDir(given, PROJECT_DIR, process.cwd(), { dryRun: true });
    const token = process.env.HCLOUD_TOKEN;
    if (values["live-prices"] && !token) throw new UsageError("--live-prices needs HCLOUD_TOKEN (a read-only Hetzner Cloud token is enough)");
    const result = await synthesize(values.stack, overrides);
    prepareOutDir(given, PROJECT_DIR);
    fs.writeFileSync(path.join(out, "resources.json"), JSON.stringify(result.resources, null, 2) + "\n");
    fs.writeFileSync(path.join(out, "outputs.json"), JSON.stringify(result.outputs, null, 2) + "\n");
    for (const [file, text] of Object.entries(result.files)) {
        const target = path.join(out, "files", file);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        // Env files and secret files as the host holds them: readable by their owner only.
        fs.writeFileSync(target, text, { mode: SECRET_FILE.test(file) ? 0o600 : 0o644 });
    }
    const location = billableItems(result.resources).find((item) => item.location !== undefined)?.location ?? "fsn1";
    const plan = values["live-prices"] && token
        ? planOf(result, pricesFromApi(await fetchPricing(token), location, new Date().toISOString().slice(0, 10)))
        : planOf(result);
    const planFile = path.join(out, "plan.md");
    fs.writeFileSync(planFile, planMarkdown(plan));
    const shown = path.relative(process.cwd(), out) || ".";
    console.log(`synth ${values.stack}: ${plan.resources} resources, ${plan.components} components, ${plan.files} files -> ${shown}`);
    console.log(planSummary(plan, path.join(shown, "plan.md")));
}

runCli(main);
