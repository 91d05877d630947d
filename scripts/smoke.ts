/**
 * Smoke test of a deployed stack: `npm run smoke -- --stack <name>` reads the stack's outputs
 * (`pulumi stack output --json --show-secrets`), or `--outputs <file>` (that JSON, or a synth's
 * outputs.json), and checks every public surface over HTTPS with a timeout and retries. Prints a
 * table; exits 1 naming the failing checks, 2 on a usage problem.
 *
 * Options: --timeout <s> (10), --retries <n> (5), --retry-delay <s> (6), --ca <pem file>,
 * --resolve <host>=<address> (repeatable, or `*=<address>` for every host), --port <n>,
 * --registry-user <name> (the stack's registry user).
 *
 * It loads no Pulumi SDK, so it starts fast on a CI runner.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import { DEFAULT_REGISTRY_USER, SmokeOutputs, formatSmoke, runSmoke, smokeChecks } from "./lib/smoke";
import { reveal } from "./lib/reveal";
import { UsageError, parseCli, runCli } from "./lib/cli";

function number(flag: string, text: string, min: number, max: number): number {
    const value = Number(text);
    if (!Number.isFinite(value) || value < min || value > max) throw new UsageError(`--${flag} ${text}: a number from ${min} to ${max}`);
    return value;
}

function readOutputs(stack: string | undefined, file: string | undefined): SmokeOutputs {
    let text: string;
    if (file) {
        text = readText(file, "--outputs");
    } else if (stack) {
        try {
            text = execFileSync("pulumi", ["stack", "output", "--json", "--show-secrets", "--stack", stack], { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
        } catch (err) {
            const error = err as NodeJS.ErrnoException;
            if (error.code === "ENOENT") throw new UsageError("the Pulumi CLI is not installed: install it, or pass the outputs with --outputs <file>");
            throw new UsageError(`pulumi stack output --stack ${stack} failed: ${String((error as { stderr?: string }).stderr ?? error.message).trim().split("\n")[0]}`);
        }
    } else {
        throw new UsageError("--stack <name> or --outputs <file> is required");
    }
    let parsed: unknown;
    try {
        parsed = JSON.parse(text);
    } catch {
        throw new UsageError(`${file ?? `pulumi stack output --stack ${stack}`}: not JSON; pass the stack's outputs (pulumi stack output --json --show-secrets, or a synth's outputs.json)`);
    }
    const outputs = reveal(parsed) as Partial<SmokeOutputs>;
    for (const key of ["urls", "publicHosts", "registryServer", "supabase", "passwords"] as const) {
        if (outputs[key] === undefined) throw new UsageError(`the outputs have no ${key}: are they this project's stack outputs?`);
    }
    return outputs as SmokeOutputs;
}

async function main(): Promise<void> {
    const { values } = parseCli({
        options: {
            stack: { type: "string", help: "read the stack's outputs with pulumi stack output (needs the Pulumi CLI)" },
            outputs: { type: "string", help: "read the outputs from this JSON file instead (pulumi stack output --json --show-secrets, or a synth's outputs.json)" },
            timeout: { type: "string", default: "10", help: "seconds per request" },
            retries: { type: "string", default: "5", help: "attempts per check before it fails" },
            "retry-delay": { type: "string", default: "6", help: "seconds between attempts" },
            ca: { type: "string", help: "a PEM file of CA certificates to trust (a bootstrap certificate before Let's Encrypt's)" },
            resolve: { type: "string", multiple: true, default: [], help: "host=address to connect to instead of DNS (*=address for every host), before DNS points at the stack" },
            port: { type: "string", help: "HTTPS port to connect to (default 443)" },
            "registry-user": { type: "string", default: DEFAULT_REGISTRY_USER, help: "the registry's pull user" },
        },
        help: {
            summary: "Checks every public surface of a deployed stack over HTTPS (UI, API health, MCP, Supabase REST and auth, Grafana, registry), logins included; exits 1 naming what failed.",
            usage: "npm run smoke -- (--stack <name> | --outputs <file>) [--timeout <s>] [--retries <n>] [--retry-delay <s>] [--ca <pem>] [--resolve host=address]... [--port <n>] [--registry-user <name>]",
            examples: ["npm run smoke -- --stack staging", "npm run smoke -- --outputs outputs.json --resolve '*=203.0.113.10' --ca bootstrap-ca.pem"],
        },
    });
    const outputs = readOutputs(values.stack, values.outputs);
    const checks = smokeChecks(outputs, values["registry-user"]!);
    const resolve: Record<string, string> = {};
    for (const entry of values.resolve ?? []) {
        const [host, address] = entry.split("=");
        if (!host || !address) throw new UsageError(`--resolve ${entry}: write it as host=address`);
        if (host === "*") for (const check of checks) resolve[new URL(check.url).hostname] = address;
        else resolve[host] = address;
    }
    const results = await runSmoke(checks, {
        timeoutMs: number("timeout", values.timeout!, 1, 300) * 1000,
        retries: number("retries", values.retries!, 0, 100),
        retryDelayMs: number("retry-delay", values["retry-delay"]!, 0, 600) * 1000,
        ca: values.ca ? readText(values.ca, "--ca") : undefined,
        resolve,
        port: values.port ? number("port", values.port, 1, 65535) : undefined,
    });
    process.stdout.write(formatSmoke(results));
    const failed = results.filter((r) => !r.ok);
    if (failed.length > 0) {
        console.error(`smoke: ${failed.length} of ${results.length} checks failed: ${failed.map((r) => r.check.name).join(", ")}`);
        process.exit(1);
    }
    console.log(`smoke: all ${results.length} checks passed`);
}

/** A file a flag names, or one line saying why it cannot be read. */
function readText(file: string, flag: string): string {
    try {
        return fs.readFileSync(file, "utf8");
    } catch (err) {
        throw new UsageError(`${flag} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
}

runCli(main);
