/**
 * Release log: `npm run releases -- --stack <name> [--file history.json] [--json]`.
 * Reads `pulumi stack history --json` (runs it when no --file is given) and prints when, who,
 * which image tag, release or rollback, and the result. Bad arguments, a missing Pulumi CLI or an
 * unreadable history exit 2 with one line.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import { UsageError, parseCli, runCli } from "./lib/cli";
import { StackHistoryError, formatReleaseLog, releaseLog } from "./lib/release-log";
import { readProject } from "./lib/stack-config";

function history(stack: string, file: string | undefined): string {
    if (file !== undefined) {
        try {
            return fs.readFileSync(file, "utf8");
        } catch (err) {
            throw new UsageError(`--file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
        }
    }
    try {
        return execFileSync("pulumi", ["stack", "history", "--json", "--stack", stack, "--page-size", "1000"], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, stdio: ["ignore", "pipe", "pipe"] });
    } catch (err) {
        const error = err as NodeJS.ErrnoException & { stderr?: string };
        if (error.code === "ENOENT") throw new UsageError("the Pulumi CLI is not installed (pulumi is not on PATH): install it from https://www.pulumi.com/docs/install/, or pass a saved history with --file <history.json>");
        throw new UsageError(`pulumi stack history --stack ${stack} failed: ${String(error.stderr || error.message).trim().split("\n")[0]}`);
    }
}

function main(): void {
    const { values } = parseCli({
        options: {
            stack: { type: "string", help: "the stack whose release log to print; required" },
            file: { type: "string", help: "read this saved pulumi stack history --json output instead of running the Pulumi CLI" },
            json: { type: "boolean", default: false, help: "print the entries as JSON instead of a table" },
        },
        help: {
            summary: "Prints a stack's release log from pulumi stack history: when, who, which image tag, release, redeploy or rollback, the result, the CI run and who approved it.",
            usage: "npm run releases -- --stack <name> [--file <history.json>] [--json]",
            examples: ["npm run releases -- --stack production", "pulumi stack history --json --stack production > history.json && npm run releases -- --stack production --file history.json"],
        },
    });
    if (!values.stack) throw new UsageError("--stack is required, e.g. npm run releases -- --stack production");
    const text = history(values.stack, values.file);
    let parsed: unknown;
    try {
        parsed = JSON.parse(text);
    } catch {
        throw new UsageError(`${values.file ?? "pulumi stack history"}: not JSON; give it the output of pulumi stack history --json`);
    }
    const source = values.file ?? `pulumi stack history --stack ${values.stack}`;
    let entries: ReturnType<typeof releaseLog>;
    try {
        entries = releaseLog(parsed, readProject().name);
    } catch (err) {
        if (!(err instanceof StackHistoryError)) throw err;
        throw new UsageError(`${source}: not the stack history the Pulumi CLI prints (${err.message}); save it with pulumi stack history --json --stack ${values.stack} > <file>`);
    }
    process.stdout.write(values.json ? JSON.stringify(entries, null, 2) + "\n" : formatReleaseLog(entries));
}

runCli(main);
