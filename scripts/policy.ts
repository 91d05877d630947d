/**
 * Offline policy check: `npm run policy -- --stack <name> [--config key=value]... [--from <dir>]
 * [--environment staging|production] [--policy-config <file.json>]`.
 * Runs the CrossGuard pack's own policies over the synth (in-process, or out/<stack>/resources.json
 * from `--from`). Prints every violation with its policy, URN and message; exits 1 on a mandatory
 * violation (advisory ones only warn), 2 on bad arguments or configuration.
 */
import * as fs from "fs";
import * as path from "path";
import { UsageError, parseCli, runCli } from "./lib/cli";
import { PRODUCTION } from "../policies/lib/context";

/** The environments the pack knows (policies/lib/context.ts): production is strict. */
const ENVIRONMENTS = ["staging", PRODUCTION];

/** A JSON file a flag names, or one line saying what is wrong with it. */
function readJson<T>(file: string, flag: string): T {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (err) {
        throw new UsageError(`${flag} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    try {
        return JSON.parse(text) as T;
    } catch {
        throw new UsageError(`${flag} ${file}: not JSON`);
    }
}
import { PolicyPackConfig, checkResources, committedPolicyConfig, policyEnvironment, policyReport } from "./lib/policy-check";
import { PROJECT } from "../config";
import { MissingRenderedFilesError } from "../policies/lib/files";
import { ResourceRecord, safeName, synthesize } from "./lib/synthesize";
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
    const outputs = fs.existsSync(outputsFile) ? readJson<{ stack?: { name?: string; environment?: string } }>(outputsFile, "--from") : {};
    const resources = readJson<ResourceRecord[]>(file, "--from");
    if (!Array.isArray(resources)) throw new UsageError(`--from ${from}: resources.json is not a synth's list of resources`);
    // The synth's URNs name their stack (urn:pulumi:<stack>::...): another stack's output would be
    // checked with this stack's environment and policy config.
    const stacks = new Set([...resources.map((r) => /^urn:pulumi:([^:]+)::/.exec(String(r.urn))?.[1]), outputs.stack?.name].filter((s): s is string => s !== undefined));
    const other = [...stacks].find((s) => s !== stack);
    if (other !== undefined) throw new UsageError(`--from ${from}: holds the synth of stack ${other}, not ${stack}; run npm run synth -- --stack ${stack} --out <dir> and pass that`);
    for (const resource of resources) relocateRenderedFiles(resource, from, stack);
    return { resources, environment: outputs.stack?.environment };
}

/**
 * Points every path-based archive or asset of `resource` (the Compose project a CopyToRemote
 * delivers) at the synth's own copy under `<from>/files/<resource>/`, which `--from` hands over
 * with resources.json; the path the synth recorded (a temporary directory of the machine that
 * rendered it) only when that copy is absent. Neither on disk is an error: the check fails closed
 * instead of passing a project it cannot see.
 */
function relocateRenderedFiles(resource: ResourceRecord, from: string, stack: string): void {
    const walk = (value: unknown): void => {
        if (Array.isArray(value)) return value.forEach(walk);
        if (value === null || typeof value !== "object") return;
        const object = value as Record<string, unknown>;
        for (const key of ["$archive", "$asset"]) {
            const located = object[key] as { path?: unknown } | undefined;
            if (located === null || typeof located !== "object" || typeof located.path !== "string") continue;
            const copy = path.join(from, "files", safeName(resource.name), key === "$asset" ? path.basename(located.path) : "");
            if (fs.existsSync(copy)) located.path = copy;
            else if (!fs.existsSync(located.path)) {
                throw new MissingRenderedFilesError(`${copy} (and at ${located.path}, where the synth wrote them) of ${resource.name}`, `run npm run synth -- --stack ${stack} --out ${from} again`);
            }
            return;
        }
        Object.values(object).forEach(walk);
    };
    walk(resource.inputs);
}

async function main(): Promise<void> {
    const { values } = parseCli({
        options: {
            stack: { type: "string", help: "the stack to check; required" },
            config: { type: "string", multiple: true, default: [], help: "override one config key for the synth, key=value" },
            from: { type: "string", help: "check a synth's output directory (resources.json, files/) instead of synthesizing" },
            environment: { type: "string", help: "staging or production: which strictness the pack applies (default: the stack's)" },
            "policy-config": { type: "string", help: "a policy pack config JSON (default policies/config/<environment>.json)" },
        },
        help: {
            summary: "Runs the CrossGuard pack's own policies over the offline synth; exits 1 on a mandatory violation, naming the policy and the resource.",
            usage: "npm run policy -- --stack <name> [--config key=value]... [--from <dir>] [--environment staging|production] [--policy-config <file.json>]",
            examples: ["npm run policy -- --stack production", "npm run synth -- --stack staging && npm run policy -- --stack staging --from out/staging"],
        },
    });
    if (!values.stack) throw new UsageError(`--stack is required; the stacks are ${listStacks().join(", ")}`);
    if (values.environment !== undefined && !ENVIRONMENTS.includes(values.environment)) {
        throw new UsageError(`--environment ${values.environment}: must be ${ENVIRONMENTS.join(" or ")}`);
    }
    const overrides = Object.fromEntries((values.config ?? []).map(parseOverride));
    const loaded = await load(values.stack, overrides, values.from);
    const environment = values.environment ?? policyEnvironment(values.stack, loaded.environment);
    const policyConfig = values["policy-config"] === undefined
        ? committedPolicyConfig(environment)
        : readJson<PolicyPackConfig>(values["policy-config"], "--policy-config");
    const violations = await checkResources(loaded.resources, { environment, policyConfig });
    console.log(policyReport(values.stack, environment, loaded.resources, violations));
    if (violations.some((v) => v.enforcementLevel === "mandatory")) process.exitCode = 1;
}

runCli(main, [MissingRenderedFilesError]);
