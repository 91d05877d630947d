/**
 * A release is a commit. The image workflow records what it built and scanned in
 * `releases/<tag>.json` and proposes it with the staging bump; promotion proposes the production
 * bump only for a tag whose record says its scan passed; deploys run what main's stack files say.
 */
import * as fs from "fs";
import * as path from "path";
import { parseDocument } from "yaml";
import { z } from "zod";

export const RELEASES_DIR = "releases";

/** Production's tag format (config.ts): the immutable tag of one Archon commit. */
const SHA_TAG = /^sha-[0-9a-f]{7,40}$/;

export const releaseRecordSchema = z.object({
    tag: z.string().regex(SHA_TAG),
    archonCommit: z.string().regex(/^[0-9a-f]{40}$/),
    archonRef: z.string().min(1),
    /** image name -> repository@sha256 digest, as pushed. */
    images: z.record(z.string(), z.string().regex(/@sha256:[0-9a-f]{64}$/)),
    scan: z.object({
        tool: z.string().min(1),
        policy: z.string().min(1),
        result: z.enum(["passed", "failed"]),
    }),
    /** The workflow run that built, scanned and pushed the images. */
    run: z.string().url(),
    /**
     * `sha256:` digests of the Archon files that decide what was installed (uv.lock, package-lock.json,
     * ...), from images/archon-source.json: the locks this release was built from.
     */
    locks: z.record(z.string(), z.string().regex(/^sha256:[0-9a-f]{64}$/)).optional(),
    /**
     * The Python packages each Python image holds, name -> version, read from the built image
     * (importlib.metadata): what `uv sync --locked` installed. The images' SBOMs list the same.
     */
    packages: z.record(z.string(), z.record(z.string(), z.string())).optional(),
});
export type ReleaseRecordFile = z.infer<typeof releaseRecordSchema>;

export class ReleaseRecordError extends Error {}

export function recordPath(projectDir: string, tag: string): string {
    return path.join(projectDir, RELEASES_DIR, `${tag}.json`);
}

export function writeRecord(projectDir: string, record: ReleaseRecordFile): string {
    const parsed = releaseRecordSchema.parse(record);
    const file = recordPath(projectDir, parsed.tag);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify(parsed, null, 2) + "\n");
    return file;
}

/** The record of `tag`, refusing a tag that has none or whose scan did not pass. */
export function verifiedRecord(projectDir: string, tag: string): ReleaseRecordFile {
    if (!SHA_TAG.test(tag)) throw new ReleaseRecordError(`${JSON.stringify(tag)} is not sha-<commit> (7-40 hex digits): only tags the image workflow built can be promoted`);
    const file = recordPath(projectDir, tag);
    if (!fs.existsSync(file)) throw new ReleaseRecordError(`${path.relative(projectDir, file)} does not exist: ${tag} was not built and scanned by the image workflow`);
    const parsed = releaseRecordSchema.safeParse(JSON.parse(fs.readFileSync(file, "utf8")));
    if (!parsed.success) throw new ReleaseRecordError(`${path.relative(projectDir, file)} is not a release record: ${parsed.error.issues[0].path.join(".")} ${parsed.error.issues[0].message}`);
    if (parsed.data.tag !== tag) throw new ReleaseRecordError(`${path.relative(projectDir, file)} records ${parsed.data.tag}, not ${tag}`);
    if (parsed.data.scan.result !== "passed") throw new ReleaseRecordError(`${tag}'s image scan ${parsed.data.scan.result} (${parsed.data.run}): it cannot be promoted`);
    return parsed.data;
}

/** The `imageTag` that Pulumi.<stack>.yaml pins. */
export function stackImageTag(projectDir: string, stack: string, project: string): string {
    const file = path.join(projectDir, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) throw new ReleaseRecordError(`no stack file Pulumi.${stack}.yaml`);
    const tag = parseDocument(fs.readFileSync(file, "utf8")).getIn(["config", `${project}:imageTag`]);
    if (typeof tag !== "string") throw new ReleaseRecordError(`Pulumi.${stack}.yaml sets no ${project}:imageTag (as a string)`);
    return tag;
}

/**
 * Sets `imageTag` in Pulumi.<stack>.yaml, keeping every other line and comment as it is, and
 * returns the tag it replaced.
 */
export function bumpImageTag(projectDir: string, stack: string, project: string, tag: string): string | undefined {
    const file = path.join(projectDir, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) throw new ReleaseRecordError(`no stack file Pulumi.${stack}.yaml`);
    const document = parseDocument(fs.readFileSync(file, "utf8"));
    const key = ["config", `${project}:imageTag`];
    const previous = document.getIn(key);
    document.setIn(key, tag);
    fs.writeFileSync(file, document.toString());
    return typeof previous === "string" ? previous : undefined;
}
