/**
 * Image references: what is pinned, what floats. A reference is `[registry/]repository[:tag][@digest]`.
 */
import { FLOATING_TAGS } from "../../config";

export interface ImageRef {
    repository: string;
    tag?: string;
    digest?: string;
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;
/** The immutable build tag production accepts for the project's own images. */
const SHA_TAG = /^sha-[0-9a-f]{7,40}$/;
/** A third-party tag that names a release down to at least major.minor (postgres:15.8, v2.170.0). */
const VERSION_TAG = /\d+\.\d+/;

export function parseImage(reference: string): ImageRef {
    const at = reference.indexOf("@");
    const digest = at >= 0 ? reference.slice(at + 1) : undefined;
    const name = at >= 0 ? reference.slice(0, at) : reference;
    const colon = name.lastIndexOf(":");
    const tagged = colon > name.lastIndexOf("/");
    return { repository: tagged ? name.slice(0, colon) : name, tag: tagged ? name.slice(colon + 1) : undefined, digest };
}

export interface PinningRules {
    production: boolean;
    /** Repository names (last path segment) built by this project: production wants a digest or a sha- tag for them. */
    ownImages: readonly string[];
}

/** Why `reference` is not pinned under `rules`, or undefined when it is. */
export function pinningProblem(reference: string, rules: PinningRules): string | undefined {
    const image = parseImage(reference.trim());
    if (image.repository === "") return `image reference ${JSON.stringify(reference)} is empty`;
    if (image.digest !== undefined) {
        return DIGEST.test(image.digest) ? undefined : `image ${reference} has a malformed digest; use @sha256:<64 hex digits>`;
    }
    if (image.tag === undefined || image.tag === "") return `image ${reference} has no tag (Docker pulls latest); pin a version or a digest`;
    if (FLOATING_TAGS.includes(image.tag.toLowerCase())) return `image ${reference} uses the moving tag "${image.tag}"; pin a version or a digest`;
    if (!rules.production) return undefined;
    const own = rules.ownImages.includes(image.repository.split("/").pop() ?? "");
    if (own && !SHA_TAG.test(image.tag)) {
        return `production image ${reference} must be referenced by digest or an immutable sha-<commit> tag`;
    }
    if (!own && !VERSION_TAG.test(image.tag)) {
        return `production image ${reference} must be referenced by digest or a full release tag (major.minor at least), not "${image.tag}"`;
    }
    return undefined;
}
