/**
 * Release log: `npm run releases -- --stack <name> [--file history.json] [--json]`.
 * Reads `pulumi stack history --json` (runs it when no --file is given) and prints when, who,
 * which image tag, release or rollback, and the result.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import { parseArgs } from "util";
import { formatReleaseLog, releaseLog } from "./lib/release-log";
import { readProject } from "./lib/stack-config";

function main(): void {
    const { values } = parseArgs({
        options: {
            stack: { type: "string" },
            file: { type: "string" },
            json: { type: "boolean", default: false },
        },
    });
    if (!values.stack) {
        console.error("--stack is required, e.g. npm run releases -- --stack production");
        process.exit(2);
    }
    const text = values.file
        ? fs.readFileSync(values.file, "utf8")
        : execFileSync("pulumi", ["stack", "history", "--json", "--stack", values.stack, "--page-size", "1000"], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    const entries = releaseLog(JSON.parse(text), readProject().name);
    process.stdout.write(values.json ? JSON.stringify(entries, null, 2) + "\n" : formatReleaseLog(entries));
}

main();
