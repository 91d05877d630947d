/**
 * The digest lock of the third-party images (image-digests.lock.json at the project's root): for
 * every `image:tag` versions.ts pins, the sha256 digest that tag named when the image-lock
 * workflow last resolved it (`npm run image-lock -- resolve`, which reads the manifest bytes with
 * skopeo and hashes them), proposed as a pull request like a release record. The program refers to
 * `image:tag@sha256:...` from it: the tag stays readable, the digest decides what runs, so a tag
 * moved upstream changes nothing until its new digest is reviewed and merged.
 *
 * An entry that is `null` is not resolved yet (no registry is reachable where the pin was
 * written, and a digest is never invented): the program refers to `image:tag` alone, plan.md lists
 * it, and a production deploy refuses (`npm run image-lock -- check --resolved` in deploy.yml)
 * until the workflow's pull request is merged.
 */
import * as fs from "fs";
import * as path from "path";
import { z } from "zod";

/** The committed lock. */
export const IMAGE_LOCK_FILE = path.join(__dirname, "..", "..", "image-digests.lock.json");

/** `name:tag` as versions.ts writes it: no digest, a tag present. */
const PINNED_REF = /^[a-z0-9][a-z0-9._/-]*(?::\d+\/[a-z0-9._/-]+)?:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

export const imageLockSchema = z.object({
    comment: z.string(),
    /** The workflow run that last resolved the lock; null before the first one. */
    resolved: z.object({ at: z.string().datetime(), run: z.string().url() }).nullable(),
    /** `image:tag` -> `sha256:...`, or null while not resolved. Sorted by key. */
    images: z.record(z.string().regex(PINNED_REF, { message: "must be image:tag, without a digest" }), z.string().regex(DIGEST).nullable()),
}).strict();
export type ImageLock = z.infer<typeof imageLockSchema>;

export class ImageLockError extends Error {}

/** The lock at `file`, refusing one that is not well-formed (one line naming the entry). */
export function readImageLock(file = IMAGE_LOCK_FILE): ImageLock {
    let json: unknown;
    try {
        json = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (error) {
        throw new ImageLockError(`${path.basename(file)} is missing or not JSON (${(error as Error).message}); restore it from git`);
    }
    const parsed = imageLockSchema.safeParse(json);
    if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new ImageLockError(`${path.basename(file)} is not an image lock: ${issue.path.join(".")} ${issue.message}`);
    }
    return parsed.data;
}

/** `ref@digest` when the lock has a digest for `ref`, else `ref` (not resolved yet, or not in the lock). */
export function lockedRef(ref: string, lock: ImageLock): string {
    const digest = lock.images[ref];
    return digest ? `${ref}@${digest}` : ref;
}

/** Every value of `pins` referred to through the lock. */
export function lockImages<T extends Record<string, string>>(pins: T, lock: ImageLock): { [K in keyof T]: string } {
    return Object.fromEntries(Object.entries(pins).map(([name, ref]) => [name, lockedRef(ref, lock)])) as { [K in keyof T]: string };
}

/** `image:tag` of a reference that may carry a digest. */
export function withoutDigest(ref: string): string {
    const at = ref.indexOf("@");
    return at < 0 ? ref : ref.slice(0, at);
}

/** The tag of `image:tag[@digest]`. */
export function tagOf(ref: string): string {
    const plain = withoutDigest(ref);
    return plain.slice(plain.lastIndexOf(":") + 1);
}

/** A lock for `pinned`: the digests `lock` has for them kept, new pins null, unpinned entries gone. */
export function lockFor(pinned: string[], lock: ImageLock | undefined, comment: string): ImageLock {
    const images = Object.fromEntries([...new Set(pinned)].sort().map((ref) => [ref, lock?.images[ref] ?? null]));
    return { comment, resolved: lock?.resolved ?? null, images };
}

/** What is wrong with `lock` for `pinned`: a pin without an entry, an entry nothing pins. */
export function lockProblems(pinned: string[], lock: ImageLock): string[] {
    const problems: string[] = [];
    for (const ref of pinned) if (!(ref in lock.images)) problems.push(`${ref} has no entry`);
    for (const ref of Object.keys(lock.images)) if (!pinned.includes(ref)) problems.push(`${ref} is locked but pinned nowhere`);
    const keys = Object.keys(lock.images);
    if (keys.join("\n") !== [...keys].sort().join("\n")) problems.push("entries are not sorted by image");
    return problems;
}
