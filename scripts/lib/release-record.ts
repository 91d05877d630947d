/**
 * A release is a commit. The image workflow records what it built and scanned in
 * `releases/<tag>.json` and proposes it with the staging bump; promotion copies the images by digest
 * into the next stack's registry, records that copy and proposes the production bump; deploys run
 * what main's stack files say. A digest is used only with a registry host the record names: it was
 * pushed there by the build, or copied there and read back by `npm run release -- copy`.
 */
import * as fs from "fs";
import * as path from "path";
import { parseDocument } from "yaml";
import { z } from "zod";
import { RegistryHosts, registryHosts } from "../../components/registry/hosts";

export const RELEASES_DIR = "releases";

/** Production's tag format (config.ts): the immutable tag of one Archon commit. */
const SHA_TAG = /^sha-[0-9a-f]{7,40}$/;
/** A registry host as config `registryServer` takes it (optionally with a port), or with a path (ghcr.io/org). */
const REGISTRY = /^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)*$/;

const copySchema = z.object({
    /** The pull host the images were copied to and read back from by digest. */
    registry: z.string().regex(REGISTRY),
    /** The workflow run that copied them. */
    run: z.string().url(),
});

export const releaseRecordSchema = z.object({
    tag: z.string().regex(SHA_TAG),
    archonCommit: z.string().regex(/^[0-9a-f]{40}$/),
    archonRef: z.string().min(1),
    /** image name -> `<registry>/<image>@sha256:...`, as the build pushed it (one registry for all). */
    images: z.record(z.string(), z.string().regex(/^[a-z0-9.:/_-]+@sha256:[0-9a-f]{64}$/)),
    /** Registries the same digests were copied to since (promotion), oldest first. */
    copies: z.array(copySchema).optional(),
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
}).superRefine((record, ctx) => {
    const registries = new Set(Object.entries(record.images).map(([image, ref]) => repositoryRegistry(image, ref)));
    if (registries.has(undefined)) ctx.addIssue({ code: "custom", path: ["images"], message: "every reference must be <registry>/<image name>@sha256:..." });
    else if (registries.size > 1) ctx.addIssue({ code: "custom", path: ["images"], message: `the build pushes to one registry, not ${[...registries].join(" and ")}` });
});
export type ReleaseRecordFile = z.infer<typeof releaseRecordSchema>;

export class ReleaseRecordError extends Error {}

/** The registry part of `<registry>/<image>@sha256:...`, or undefined when the path does not end in the image's name. */
function repositoryRegistry(image: string, ref: string): string | undefined {
    const repository = ref.slice(0, ref.lastIndexOf("@"));
    const suffix = `/${image}`;
    return repository.endsWith(suffix) && repository.length > suffix.length ? repository.slice(0, -suffix.length) : undefined;
}

/** The registry the build pushed to. */
export function buildRegistry(record: ReleaseRecordFile): string {
    const [image, ref] = Object.entries(record.images)[0] ?? [];
    const registry = image === undefined ? undefined : repositoryRegistry(image, ref);
    if (registry === undefined) throw new ReleaseRecordError(`the record of ${record.tag} names no image`);
    return registry;
}

/** Every registry host the record's digests may be used with: the build's, then each copy's. */
export function recordedRegistries(record: ReleaseRecordFile): string[] {
    return [...new Set([buildRegistry(record), ...(record.copies ?? []).map((c) => c.registry)])];
}

/** Image name -> `sha256:...` (the same in every recorded registry: copies preserve digests). */
export function recordedDigests(record: ReleaseRecordFile): Record<string, string> {
    return Object.fromEntries(Object.entries(record.images).map(([image, ref]) => [image, ref.slice(ref.lastIndexOf("@") + 1)]));
}

/**
 * Why `tag` is not the tag the image workflow gives a build of `commit` (sha- and a prefix of the
 * commit's hex digits, at least 7), or undefined when it is.
 */
export function buildTagProblem(tag: string, commit: string): string | undefined {
    if (!SHA_TAG.test(tag)) return "is not sha-<commit> (7-40 lower-case hex digits), as the image workflow tags a build";
    if (!commit.startsWith(tag.slice("sha-".length))) return `does not name commit ${commit}: a build of it is tagged sha-${commit.slice(0, 7)}`;
    return undefined;
}

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

/** The record of `tag` as it is on disk, refusing a missing or malformed one. */
export function readRecord(projectDir: string, tag: string): ReleaseRecordFile {
    if (!SHA_TAG.test(tag)) throw new ReleaseRecordError(`${JSON.stringify(tag)} is not sha-<commit> (7-40 hex digits): only tags the image workflow built can be promoted`);
    const file = recordPath(projectDir, tag);
    const shown = path.relative(projectDir, file);
    if (!fs.existsSync(file)) throw new ReleaseRecordError(`${shown} does not exist: ${tag} was not built and scanned by the image workflow`);
    let json: unknown;
    try {
        json = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (error) {
        throw new ReleaseRecordError(`${shown} is not JSON (${(error as Error).message}); restore it from git`);
    }
    const parsed = releaseRecordSchema.safeParse(json);
    if (!parsed.success) throw new ReleaseRecordError(`${shown} is not a release record: ${parsed.error.issues[0].path.join(".")} ${parsed.error.issues[0].message}`);
    if (parsed.data.tag !== tag) throw new ReleaseRecordError(`${shown} records ${parsed.data.tag}, not ${tag}`);
    return parsed.data;
}

/**
 * The record of `tag`, refusing a tag that has none or whose scan did not pass; with `registry`,
 * also one whose digests were never pushed or copied to that host.
 */
export function verifiedRecord(projectDir: string, tag: string, registry?: string): ReleaseRecordFile {
    const record = readRecord(projectDir, tag);
    if (record.scan.result !== "passed") throw new ReleaseRecordError(`${tag}'s image scan ${record.scan.result} (${record.run}): it cannot be promoted`);
    if (registry !== undefined && !recordedRegistries(record).includes(registry)) {
        throw new ReleaseRecordError(`${path.relative(projectDir, recordPath(projectDir, tag))} records ${tag} in ${recordedRegistries(record).join(", ")}, not in ${registry}: copy it there by digest first (npm run release -- copy --tag ${tag} --stack <stack>)`);
    }
    return record;
}

/** Adds `registry` to the record's copies (once) and writes it back. */
export function recordCopy(projectDir: string, record: ReleaseRecordFile, registry: string, run: string): ReleaseRecordFile {
    if (recordedRegistries(record).includes(registry)) return record;
    const updated = { ...record, copies: [...(record.copies ?? []), { registry, run }] };
    writeRecord(projectDir, updated);
    return updated;
}

/** What the program takes from a release record: each image's digest, and where it may be used. */
export interface RecordedRelease {
    /** The record's path. */
    file: string;
    /** Image name -> `sha256:<64 hex>`, as the image workflow pushed it. */
    digests: Record<string, string>;
    /** The registry hosts those digests were pushed or copied to (and read back from). */
    registries: string[];
}

/**
 * The program's reading of `<dir>/<tag>.json` (config `releasesDir`): undefined when there is no
 * record (the images are then referenced by tag). Throws a ReleaseRecordError naming the fix when
 * the file is broken, records another tag, or does not record `registry`, the host the stack pulls
 * from: a digest is used only with a host it was pushed or copied to, and another registry may
 * hold nothing (or other bytes) under it. Digests are never guessed: they come from the workflows.
 */
export function recordedReleaseFor(dir: string, tag: string, registry: string, stack: string): RecordedRelease | undefined {
    const file = path.join(dir, `${tag}.json`);
    if (!fs.existsSync(file)) return undefined;
    let json: unknown;
    try {
        json = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (error) {
        throw new ReleaseRecordError(`${file} is not JSON (${(error as Error).message}); restore it from git or remove it to deploy by tag`);
    }
    const parsed = releaseRecordSchema.safeParse(json);
    if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new ReleaseRecordError(`${file} is not a release record (${issue.path.join(".")}: ${issue.message}); restore it from git or remove it to deploy by tag`);
    }
    if (parsed.data.tag !== tag) throw new ReleaseRecordError(`${file} records tag ${parsed.data.tag}; restore the record of ${tag} from git`);
    const registries = recordedRegistries(parsed.data);
    if (!registries.includes(registry)) {
        throw new ReleaseRecordError(`${file} records its digests in ${registries.join(", ")}, not in this stack's registry ${registry}; copy the images there by digest and commit the record (npm run release -- copy --tag ${tag} --stack ${stack}, which the promote workflow runs)`);
    }
    return { file, digests: recordedDigests(parsed.data), registries };
}

/** One key of Pulumi.<stack>.yaml's config, as written there. */
function stackValue(projectDir: string, stack: string, project: string, key: string): unknown {
    const file = path.join(projectDir, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) throw new ReleaseRecordError(`no stack file Pulumi.${stack}.yaml`);
    return parseDocument(fs.readFileSync(file, "utf8")).getIn(["config", `${project}:${key}`]);
}

/** The `imageTag` that Pulumi.<stack>.yaml pins. */
export function stackImageTag(projectDir: string, stack: string, project: string): string {
    const tag = stackValue(projectDir, stack, project, "imageTag");
    if (typeof tag !== "string") throw new ReleaseRecordError(`Pulumi.${stack}.yaml sets no ${project}:imageTag (as a string)`);
    return tag;
}

/** The registry hosts of a stack, from its stack file (`registryServer`, else `registry[-push].<domain>`). */
export function stackRegistryHosts(projectDir: string, stack: string, project: string): RegistryHosts {
    const domain = stackValue(projectDir, stack, project, "domain");
    const server = stackValue(projectDir, stack, project, "registryServer");
    if (server !== undefined && typeof server !== "string") throw new ReleaseRecordError(`Pulumi.${stack}.yaml: ${project}:registryServer is not a string`);
    if (server === undefined && typeof domain !== "string") throw new ReleaseRecordError(`Pulumi.${stack}.yaml sets no ${project}:domain (as a string)`);
    return registryHosts(String(domain), server);
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
