/**
 * skopeo (containers/skopeo, Debian's package in CI) for what needs a registry: copying images by
 * digest and reading the digest a tag names. Credentials come from skopeo's auth file (`skopeo
 * login`, or REGISTRY_AUTH_FILE); registries and their TLS from containers-registries.conf, or
 * the file CONTAINERS_REGISTRIES_CONF names (passed as `--registries-conf`: skopeo 1.9, Debian 12's,
 * does not read that variable itself). No digest is ever computed from anything but the bytes a
 * registry serves.
 */
import { spawnSync } from "child_process";
import * as crypto from "crypto";

/** skopeo is missing, or a registry answered what the caller cannot go on from: one line. */
export class SkopeoError extends Error {}

/** What a tag resolves to in a registry: its digest, or nothing when the registry has no such tag. */
export type Resolved = { digest: string } | { missing: string };

/** Runs skopeo; a missing binary is one line naming the package. */
export function skopeo(args: string[]): { status: number; stdout: Buffer; stderr: string } {
    const conf = process.env.CONTAINERS_REGISTRIES_CONF;
    const result = spawnSync("skopeo", [...(conf ? ["--registries-conf", conf] : []), ...args], { maxBuffer: 64 * 1024 * 1024, timeout: 30 * 60_000 });
    if (result.error) {
        const code = (result.error as NodeJS.ErrnoException).code;
        throw new SkopeoError(code === "ENOENT" ? "skopeo is not installed: apt-get install -y skopeo (the workflows do)" : `skopeo: ${result.error.message}`);
    }
    return { status: result.status ?? 1, stdout: result.stdout, stderr: result.stderr.toString() };
}

/** The last line skopeo wrote, without logrus' time and level prefix. */
export function skopeoMessage(stderr: string): string {
    const line = stderr.trim().split("\n").pop() ?? "";
    return /msg="((?:[^"\\]|\\.)*)"/.exec(line)?.[1].replace(/\\"/g, '"') ?? line;
}

/**
 * The digest `reference` (`host/name:tag`) resolves to: sha256 of the manifest bytes the registry
 * serves for it. A tag the registry does not have is `missing` (distribution answers
 * MANIFEST_UNKNOWN / NAME_UNKNOWN); any other failure throws.
 */
export function resolveDigest(reference: string): Resolved {
    const result = skopeo(["inspect", "--raw", "--retry-times", "3", `docker://${reference}`]);
    if (result.status === 0) return { digest: `sha256:${crypto.createHash("sha256").update(result.stdout).digest("hex")}` };
    const message = skopeoMessage(result.stderr);
    if (/manifest unknown|name unknown|not found/i.test(message)) return { missing: message };
    throw new SkopeoError(`cannot read ${reference}: ${message}`);
}

