/**
 * Offline policy check: `npm run policy -- --stack <name> [--config key=value]... [--from <dir>]
 * [--environment staging|production] [--policy-config <file.json>]`.
 * Runs the CrossGuard pack's own policies over the synth (in-process, or out/<stack>/resources.json
 * from `--from`). Prints every violation with its policy, URN and message; exits 1 on a mandatory
 * violation (advisory ones only warn), 2 on bad arguments or configuration.
 */
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { runCli } from "./lib/cli";
import { PRODUCTION } from "../policies/lib/context";
import { PolicyPackConfig, checkResources, committedPolicyConfig, formatViolations } from "./lib/policy-check";
import { PROJECT } from "../config";
import { ResourceRecord, synthesize } from "./lib/synthesize";
import { StackConfigError, listStacks, parseOverride, stackConfig } from "./lib/stack-config";

interface Loaded {
    resources: ResourceRecord[];
    /** The stack's config `environment`. */
    environment?: string;
}

async function load(stack: string, overrides: Record<string, unknown>, from: string | undefined): Promise<Loaded> {
    if (from === undefined) {
        const result = await synthesize(stack, overrides);
        return { resources: result.resources, environment: stackConfig(stack, overrides).values[`${PROJECT}:environment`] };
    }
    const file = path.join(from, "resources.json");
    if (!fs.existsSync(file)) throw new StackConfigError(`--from ${from}: no resources.json there; run npm run synth -- --stack ${stack} --out ${from}`);
    const outputsFile = path.join(from, "outputs.json");
    const outputs = fs.existsSync(outputsFile) ? (JSON.parse(fs.readFileSync(outputsFile, "utf8")) as { stack?: { environment?: string } }) : {};
    return { resources: JSON.parse(fs.readFileSync(file, "utf8")) as ResourceRecord[], environment: outputs.stack?.environment };
}

async function main(): Promise<void> {
    const { values } = parseArgs({
        options: {
            stack: { type: "string" },
            config: { type: "string", multiple: true, default: [] },
            from: { type: "string" },
            environment: { type: "string" },
            "policy-config": { type: "string" },
        },
    });
    if (!values.stack) throw new StackConfigError(`--stack is required; the stacks are ${listStacks().join(", ")}`);
    const overrides = Object.fromEntries((values.config ?? []).map(parseOverride));
    const loaded = await load(values.stack, overrides, values.from);
    // The pack is strict for the stack tag environment=production or a stack named production; the
    // workflows tag the production stack from its config, so either one selects production here.
    const environment = values.environment ?? (values.stack === PRODUCTION || loaded.environment === PRODUCTION ? PRODUCTION : loaded.environment ?? "staging");
    const policyConfig = values["policy-config"] === undefined
        ? committedPolicyConfig(environment)
        : (JSON.parse(fs.readFileSync(values["policy-config"], "utf8")) as PolicyPackConfig);
    const violations = await checkResources(loaded.resources, { environment, policyConfig });
    const mandatory = violations.filter((v) => v.enforcementLevel === "mandatory").length;
    if (violations.length > 0) console.log(formatViolations(violations));
    const custom = loaded.resources.filter((r) => r.custom).length;
    console.log(`policy ${values.stack} (${environment}): ${custom} resources, ${mandatory} mandatory and ${violations.length - mandatory} advisory violations`);
    if (mandatory > 0) process.exitCode = 1;
}

runCli(main);
