/**
 * The audit trail of a deploy: which tag, which image references, from which source commit, with
 * which Supabase component versions. Exported as the `release` stack output, so every entry of
 * `pulumi stack history` records what ran.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";

/** A source checkout's commit, when the directory is the top of a git work tree. */
export interface SourceRevision {
    /** Full commit id of HEAD. */
    commit: string;
    /** True when tracked files differ from HEAD (the images would not match the commit). */
    dirty: boolean;
}

/**
 * Reads the commit of `dir` with git. Undefined when git is missing, `dir` is no git work tree, or
 * `dir` only sits inside one (e.g. an exported tarball unpacked into another repository).
 */
export function readSourceRevision(dir: string): SourceRevision | undefined {
    const git = (...args: string[]) => execFileSync("git", ["-C", dir, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    try {
        const top = git("rev-parse", "--show-toplevel");
        if (fs.realpathSync(top) !== fs.realpathSync(path.resolve(dir))) return undefined;
        return { commit: git("rev-parse", "HEAD"), dirty: git("status", "--porcelain", "--untracked-files=no") !== "" };
    } catch {
        return undefined;
    }
}

/** The immutable tag of a commit: `sha-` and the first 7 hex digits. */
export function shaTag(commit: string): string {
    return `sha-${commit.slice(0, 7)}`;
}

/** True when a `sha-<hex>` tag names `commit` (any prefix length of 7 to 40). */
export function tagMatchesCommit(tag: string, commit: string): boolean {
    const match = /^sha-([0-9a-f]{7,40})$/.exec(tag);
    return match === null || commit.startsWith(match[1]);
}

/** Supabase component versions as the workloads pin them (image tags by component, e.g. `postgres: "15.8.1.060"`). */
export type SupabaseVersions = Record<string, string>;

export interface ReleaseArgs {
    stack: string;
    target: string;
    imageTag: string;
    /** Image reference by name, as the workloads use them (digest when built here). */
    images: Record<string, pulumi.Input<string>>;
    /** Registry host the images come from. */
    registry: string;
    /** True when this deploy built and pushed the images. */
    built: boolean;
    /** Commit of the source the images were built from, when known. */
    source?: SourceRevision;
    /** Supabase component versions; wired from the workloads' pins. */
    supabaseVersions?: SupabaseVersions;
}

/** The `release` stack output. Holds no secret. */
export interface ReleaseRecord {
    stack: string;
    target: string;
    imageTag: string;
    registry: string;
    built: boolean;
    images: Record<string, string>;
    sourceCommit?: string;
    sourceDirty?: boolean;
    supabase?: SupabaseVersions;
}

/** Assembles the `release` output. */
export function releaseRecord(args: ReleaseArgs): pulumi.Output<ReleaseRecord> {
    return pulumi.all(args.images).apply((images): ReleaseRecord => ({
        stack: args.stack,
        target: args.target,
        imageTag: args.imageTag,
        registry: args.registry,
        built: args.built,
        images,
        ...(args.source ? { sourceCommit: args.source.commit, sourceDirty: args.source.dirty } : {}),
        ...(args.supabaseVersions ? { supabase: args.supabaseVersions } : {}),
    }));
}

/** Default place of the image workflow's release records: `releases/` of the project (the program's working directory). */
export const DEFAULT_RELEASES_DIR = "releases";

/** What the release record of a tag says about its images (config `releaseRecord`). */
export type { RecordedRelease as RecordedDigests } from "../../scripts/lib/release-record";

/** `repo:tag@sha256:...`: the tag stays readable, the digest decides what runs (Docker and containerd pull by digest). */
export function digestReference(repository: string, tag: string, digest: string): string {
    return `${repository}:${tag}@${digest}`;
}
