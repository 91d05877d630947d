/**
 * Release bookkeeping for the workflows (and for a person when CI is down):
 *   npm run release -- record --tag sha-<c> --archon-commit <sha> --archon-ref <ref> --digests <dir> [--packages <dir>] --scan passed|failed --tool <t> --run <url>
 *   npm run release -- copy --tag sha-<c> --stack <name> --run <url> [--from <registry>]
 *       copies every image by digest into the stack's registry (skopeo), reads it back from the
 *       host the stack pulls from, and records that registry in releases/<tag>.json
 *   npm run release -- verify --tag sha-<c> | --stack <name> [--online]
 *       refuses a tag without a passed scan; with --stack, also one not recorded in that stack's
 *       registry; --online reads every image back from that registry by tag (skopeo)
 *   npm run release -- show --stack <name>               prints the imageTag the stack file pins
 *   npm run release -- hosts --stack <name>              prints the stack's registry pull and push hosts
 *   npm run release -- bump --stack <name> --tag <tag>  sets imageTag in Pulumi.<stack>.yaml
 * `--digests <dir>` holds one file per image, named after it, containing `repository@sha256:...`;
 * `--packages <dir>` one `<image>.json` per Python image, `{name: version}` as the image holds them.
 * The commit must be the pinned one (images/archon-source.json), whose lock digests the record keeps.
 */
import * as fs from "fs";
import * as path from "path";
import { ZodError } from "zod";
import { CliError, parseCli, runCli } from "./lib/cli";
import { checkRegistry, copyRelease } from "./lib/release-copy";
import { ReleaseRecordError, buildTagProblem, bumpImageTag, releaseRecordSchema, recordCopy, recordedRegistries, stackImageTag, stackRegistryHosts, verifiedRecord, writeRecord } from "./lib/release-record";
import { PROJECT_DIR, readProject, stackConfig } from "./lib/stack-config";
import { imageTagProblem } from "../config-schema";
import { loadArchonSource } from "../components/registry/archon-source";
import { ARCHON_IMAGES } from "../components/registry/build-context";

function required(values: Record<string, string | boolean | undefined>, ...names: string[]): string[] {
    return names.map((name) => {
        const value = values[name];
        if (typeof value !== "string" || value === "") throw new ReleaseRecordError(`--${name} is required`);
        return value;
    });
}

const DIGESTS_HOLD = "one file per image, named after it, holding <registry>/<image>@sha256:<digest> (the build jobs' digest-* artifacts)";
const PACKAGES_HOLD = "one <image>.json per Python image, {\"name\": \"version\"} as the image holds them (the build jobs' packages-* artifacts)";

/** The files in a directory a record is made from, sorted, or one line naming the flag and what it must hold. */
function filesOf(flag: string, dir: string, holds: string): string[] {
    let entries: fs.Dirent[];
    try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const what = code === "ENOENT" ? "does not exist" : code === "ENOTDIR" ? "is not a directory" : `cannot be read (${code ?? String(err)})`;
        throw new ReleaseRecordError(`--${flag} ${dir} ${what}: give it the directory with ${holds}`);
    }
    const files = entries.filter((entry) => entry.isFile()).map((entry) => entry.name).sort();
    if (files.length === 0) throw new ReleaseRecordError(`--${flag} ${dir} is empty: it must hold ${holds}`);
    return files;
}

/** One file of --digests: the reference the build pushed, `<registry>/<image>@sha256:<digest>`. */
function pushedReference(file: string, image: string): string {
    const ref = fs.readFileSync(file, "utf8").trim();
    if (!releaseRecordSchema.shape.images.valueType.safeParse(ref).success) {
        throw new ReleaseRecordError(`--digests ${file} holds ${JSON.stringify(ref.slice(0, 120))}, not <registry>/${image}@sha256:<64 hex digits>: it must hold the reference the build pushed (its digest-${image} artifact)`);
    }
    return ref;
}

/** One `<image>.json` of --packages: package name -> version. */
function packageVersions(file: string): Record<string, string> {
    let json: unknown;
    try {
        json = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (err) {
        throw new ReleaseRecordError(`--packages ${file} is not JSON (${(err as Error).message}): it must hold {"name": "version"} as the image holds them`);
    }
    if (json === null || typeof json !== "object" || Array.isArray(json) || Object.values(json).some((v) => typeof v !== "string")) {
        throw new ReleaseRecordError(`--packages ${file} is not {"name": "version", ...}: write it as the image workflow does (importlib.metadata, name -> version)`);
    }
    return json as Record<string, string>;
}

function main(): void {
    const { values, positionals } = parseCli({
        allowPositionals: true,
        options: {
            tag: { type: "string", help: "the release's image tag, sha-<commit> (record, copy, verify, bump)" },
            stack: { type: "string", help: "the stack whose stack file or registry is meant (copy, verify, show, hosts, bump)" },
            "archon-commit": { type: "string", help: "the 40-digit Archon commit the images were built from: the pinned one (record)" },
            "archon-ref": { type: "string", help: "the branch or tag that commit is on (record)" },
            digests: { type: "string", help: "directory with one file per image, named after it, holding repository@sha256:... (record)" },
            packages: { type: "string", help: "directory with one <image>.json per Python image, {name: version} as the image holds them (record)" },
            scan: { type: "string", help: "the image scan's result, passed or failed (record)" },
            tool: { type: "string", help: "the scanner and its version, e.g. \"trivy v0.70.0\" (record)" },
            run: { type: "string", help: "the URL of the workflow run that built (record) or copied (copy) the images" },
            from: { type: "string", help: "the recorded registry to copy from (copy; default the one the build pushed to)" },
            online: { type: "boolean", default: false, help: "also read every image back from the stack's registry by tag (verify --stack)" },
        },
        help: {
            summary: "Release bookkeeping for the workflows (and for a person when CI is down): record a build in releases/<tag>.json, copy its images by digest into a stack's registry, verify a tag, show or bump the imageTag a stack file pins.",
            usage: [
                "npm run release -- record --tag sha-<commit> --archon-commit <sha> --archon-ref <ref> --digests <dir> [--packages <dir>] --scan passed|failed --tool <text> --run <url>",
                "npm run release -- copy --tag sha-<commit> --stack <name> --run <url> [--from <registry>]",
                "npm run release -- verify (--tag sha-<commit> | --stack <name> [--online])",
                "npm run release -- show --stack <name>",
                "npm run release -- hosts --stack <name>",
                "npm run release -- bump --stack <name> --tag <tag>",
            ],
            examples: ["npm run release -- verify --stack production", "npm run release -- bump --stack staging --tag sha-1a2b3c4"],
        },
    });
    const flags = values as Record<string, string | boolean | undefined>;
    const project = () => readProject().name;
    switch (positionals[0]) {
        case "show": {
            const [stack] = required(flags, "stack");
            console.log(stackImageTag(PROJECT_DIR, stack, project()));
            return;
        }
        case "hosts": {
            const [stack] = required(flags, "stack");
            const hosts = stackRegistryHosts(PROJECT_DIR, stack, project());
            console.log(`${hosts.pull} ${hosts.push}`);
            return;
        }
        case "verify": {
            const stack = typeof flags.stack === "string" ? flags.stack : undefined;
            const tag = stack ? stackImageTag(PROJECT_DIR, stack, project()) : required(flags, "tag")[0];
            const registry = stack ? stackRegistryHosts(PROJECT_DIR, stack, project()).pull : undefined;
            const record = verifiedRecord(PROJECT_DIR, tag, registry);
            if (flags.online) {
                if (!registry) throw new ReleaseRecordError("--online needs --stack: it reads the images back from that stack's registry");
                const wrong = checkRegistry(record, registry);
                if (wrong.length > 0) throw new ReleaseRecordError(`${wrong.join("; ")}: copy it again (npm run release -- copy --tag ${tag} --stack ${stack})`);
            }
            console.log(`${tag}: built from ${record.archonCommit} (${record.archonRef}), scan ${record.scan.result} (${record.scan.tool}, ${record.scan.policy}), ${record.run}; in ${recordedRegistries(record).join(", ")}${flags.online ? `; ${registry} serves every recorded digest` : ""}`);
            return;
        }
        case "copy": {
            const [tag, stack, run] = required(flags, "tag", "stack", "run");
            const record = verifiedRecord(PROJECT_DIR, tag);
            const hosts = stackRegistryHosts(PROJECT_DIR, stack, project());
            copyRelease(record, hosts, typeof flags.from === "string" ? flags.from : undefined, (line) => console.log(line));
            const updated = recordCopy(PROJECT_DIR, record, hosts.pull, run);
            console.log(`releases/${tag}.json: ${tag} in ${recordedRegistries(updated).join(", ")}`);
            return;
        }
        case "bump": {
            const [stack, tag] = required(flags, "stack", "tag");
            const problem = imageTagProblem(tag, stackConfig(stack).values[`${project()}:environment`]);
            if (problem !== undefined) throw new ReleaseRecordError(`--tag ${tag}: ${problem}; Pulumi.${stack}.yaml is left as it was`);
            const previous = bumpImageTag(PROJECT_DIR, stack, project(), tag);
            console.log(`Pulumi.${stack}.yaml: imageTag ${previous ?? "(unset)"} -> ${tag}`);
            return;
        }
        case "record": {
            const [tag, archonCommit, archonRef, digests, scan, tool, run] = required(flags, "tag", "archon-commit", "archon-ref", "digests", "scan", "tool", "run");
            const pin = loadArchonSource();
            if (archonCommit !== pin.commit) throw new ReleaseRecordError(`--archon-commit ${archonCommit} is not the pinned Archon commit ${pin.commit} (images/archon-source.json)`);
            const tagProblem = buildTagProblem(tag, archonCommit);
            if (tagProblem !== undefined) throw new ReleaseRecordError(`--tag ${tag} ${tagProblem}`);
            if (scan !== "passed" && scan !== "failed") throw new ReleaseRecordError(`--scan ${scan}: say passed or failed, as the image scan ended`);
            const images = Object.fromEntries(filesOf("digests", digests, DIGESTS_HOLD).map((image) => [image, pushedReference(path.join(digests, image), image)]));
            const packagesDir = typeof flags.packages === "string" ? flags.packages : undefined;
            const packages = packagesDir === undefined ? undefined : Object.fromEntries(filesOf("packages", packagesDir, PACKAGES_HOLD).filter((f) => f.endsWith(".json"))
                .map((f) => [path.basename(f, ".json"), packageVersions(path.join(packagesDir, f))]));
            // A build job that failed leaves its image out: such a record would deploy that image by tag.
            const unrecorded = ARCHON_IMAGES.filter((image) => !(image in images));
            if (unrecorded.length > 0) throw new ReleaseRecordError(`--digests ${digests} has no digest of ${unrecorded.join(", ")}: every image the workflow builds must be recorded (the digest-<image> artifact of each build job); rerun the failed build jobs`);
            const file = writeRecord(PROJECT_DIR, {
                tag, archonCommit, archonRef, images, run,
                scan: { tool, policy: "no fixable CRITICAL vulnerability", result: scan },
                locks: pin.files,
                packages,
            });
            console.log(`recorded ${path.relative(PROJECT_DIR, file)}`);
            return;
        }
        default:
            throw new CliError("say record, copy, verify, show, hosts or bump, e.g. npm run release -- verify --tag sha-1a2b3c4");
    }
}

/** zod's refusal of an incomplete record (record), as one line. */
class IncompleteRecord extends CliError {}

runCli(() => {
    try {
        main();
    } catch (err) {
        if (err instanceof ZodError) throw new IncompleteRecord(`the release record is incomplete: ${err.issues[0].path.join(".")} ${err.issues[0].message}`);
        throw err;
    }
}, [ReleaseRecordError]);
