/**
 * Release bookkeeping for the workflows (and for a person when CI is down):
 *   npm run release -- record --tag sha-<c> --archon-commit <sha> --archon-ref <ref> --digests <dir> [--packages <dir>] --scan passed|failed --tool <t> --run <url>
 *   npm run release -- verify --tag sha-<c> | --stack <name>   refuses a tag without a passed scan
 *   npm run release -- show --stack <name>               prints the imageTag the stack file pins
 *   npm run release -- bump --stack <name> --tag <tag>  sets imageTag in Pulumi.<stack>.yaml
 * `--digests <dir>` holds one file per image, named after it, containing `repository@sha256:...`;
 * `--packages <dir>` one `<image>.json` per Python image, `{name: version}` as the image holds them.
 * The commit must be the pinned one (images/archon-source.json), whose lock digests the record keeps.
 */
import * as fs from "fs";
import * as path from "path";
import { CliError, parseCli } from "./lib/cli";
import { ReleaseRecordError, bumpImageTag, stackImageTag, verifiedRecord, writeRecord } from "./lib/release-record";
import { PROJECT_DIR, readProject } from "./lib/stack-config";
import { loadArchonSource } from "../components/registry/archon-source";

function required(values: Record<string, string | undefined>, ...names: string[]): string[] {
    return names.map((name) => {
        const value = values[name];
        if (!value) throw new ReleaseRecordError(`--${name} is required`);
        return value;
    });
}

function main(): void {
    const { values, positionals } = parseCli({
        allowPositionals: true,
        options: Object.fromEntries(["tag", "stack", "archon-commit", "archon-ref", "digests", "packages", "scan", "tool", "run"].map((o) => [o, { type: "string" as const }])),
    });
    const flags = values as Record<string, string | undefined>;
    switch (positionals[0]) {
        case "show": {
            const [stack] = required(flags, "stack");
            console.log(stackImageTag(PROJECT_DIR, stack, readProject().name));
            return;
        }
        case "verify": {
            const tag = flags.stack ? stackImageTag(PROJECT_DIR, flags.stack, readProject().name) : required(flags, "tag")[0];
            const record = verifiedRecord(PROJECT_DIR, tag);
            console.log(`${tag}: built from ${record.archonCommit} (${record.archonRef}), scan ${record.scan.result} (${record.scan.tool}, ${record.scan.policy}), ${record.run}`);
            return;
        }
        case "bump": {
            const [stack, tag] = required(flags, "stack", "tag");
            const previous = bumpImageTag(PROJECT_DIR, stack, readProject().name, tag);
            console.log(`Pulumi.${stack}.yaml: imageTag ${previous ?? "(unset)"} -> ${tag}`);
            return;
        }
        case "record": {
            const [tag, archonCommit, archonRef, digests, scan, tool, run] = required(flags, "tag", "archon-commit", "archon-ref", "digests", "scan", "tool", "run");
            const images = Object.fromEntries(fs.readdirSync(digests).sort().map((image) => [image, fs.readFileSync(path.join(digests, image), "utf8").trim()]));
            const pin = loadArchonSource();
            if (archonCommit !== pin.commit) throw new ReleaseRecordError(`--archon-commit ${archonCommit} is not the pinned Archon commit ${pin.commit} (images/archon-source.json)`);
            const packages = flags.packages === undefined ? undefined : Object.fromEntries(fs.readdirSync(flags.packages).filter((f) => f.endsWith(".json")).sort()
                .map((f) => [path.basename(f, ".json"), JSON.parse(fs.readFileSync(path.join(flags.packages!, f), "utf8")) as Record<string, string>]));
            const file = writeRecord(PROJECT_DIR, {
                tag, archonCommit, archonRef, images, run,
                scan: { tool, policy: "no fixable CRITICAL vulnerability", result: scan as "passed" | "failed" },
                locks: pin.files,
                packages,
            });
            console.log(`recorded ${path.relative(PROJECT_DIR, file)}`);
            return;
        }
        default:
            throw new ReleaseRecordError("say record, verify, show or bump, e.g. npm run release -- verify --tag sha-1a2b3c4");
    }
}

try {
    main();
} catch (err) {
    if (err instanceof ReleaseRecordError || err instanceof CliError || (err as { name?: string }).name === "ZodError") {
        console.error(`error: ${err instanceof ReleaseRecordError || err instanceof CliError ? err.message : "the release record is incomplete: " + (err as Error).message.split("\n")[0]}`);
        process.exit(2);
    }
    throw err;
}
