/**
 * Promotion's copy: every image of a release, by digest, from a registry the record names into a
 * stack's registry, then read back from the host that stack pulls from. skopeo does the registry
 * work (`copy --all --preserve-digests`: the index, every platform manifest and the SBOM and
 * provenance attestations byte for byte, or it fails; `inspect --raw`: the manifest bytes a pull
 * by tag receives, whose sha256 is the digest: scripts/lib/skopeo.ts).
 */
import { RegistryHosts } from "../../components/registry/hosts";
import { ReleaseRecordError, ReleaseRecordFile, buildRegistry, recordedDigests, recordedRegistries } from "./release-record";
import { resolveDigest, skopeo, skopeoMessage } from "./skopeo";

export interface CopyStep {
    image: string;
    digest: string;
    /** `<source registry>/<image>@sha256:...` */
    from: string;
    /** `<push host>/<image>:<tag>` */
    to: string;
    /** `<pull host>/<image>:<tag>`: what the stack's workloads pull. */
    readBack: string;
    /** False when the pull host already serves the digest under the tag: nothing to copy. */
    copied: boolean;
}

/**
 * Copies every image of `record` into `hosts` (push host) from `source` (a recorded registry,
 * default the build's) and checks that the pull host serves the recorded digest under the tag.
 * Refuses a tag that already names other bytes there: tags are immutable, a copy never moves one.
 */
export function copyRelease(record: ReleaseRecordFile, hosts: RegistryHosts, source?: string, log: (line: string) => void = () => undefined): CopyStep[] {
    const from = source ?? buildRegistry(record);
    if (!recordedRegistries(record).includes(from)) {
        throw new ReleaseRecordError(`--from ${from}: the record of ${record.tag} names ${recordedRegistries(record).join(", ")}; copy from one of those`);
    }
    const steps: CopyStep[] = [];
    for (const [image, digest] of Object.entries(recordedDigests(record)).sort(([a], [b]) => a.localeCompare(b))) {
        const step: CopyStep = {
            image,
            digest,
            from: `${from}/${image}@${digest}`,
            to: `${hosts.push}/${image}:${record.tag}`,
            readBack: `${hosts.pull}/${image}:${record.tag}`,
            copied: false,
        };
        const before = resolveDigest(step.readBack);
        if ("digest" in before && before.digest !== digest) {
            throw new ReleaseRecordError(`${step.readBack} already names ${before.digest}, not the recorded ${digest}: tags are immutable, so the copy stops (find out who pushed it)`);
        }
        if ("missing" in before) {
            const copy = skopeo(["copy", "--all", "--preserve-digests", "--retry-times", "3", `docker://${step.from}`, `docker://${step.to}`]);
            if (copy.status !== 0) throw new ReleaseRecordError(`skopeo copy ${step.from} -> ${step.to} failed: ${skopeoMessage(copy.stderr)}`);
            step.copied = true;
            const after = resolveDigest(step.readBack);
            if (!("digest" in after) || after.digest !== digest) {
                throw new ReleaseRecordError(`${step.readBack} answers ${"digest" in after ? after.digest : after.missing} after the copy, not ${digest}: the stack would not pull what was scanned`);
            }
        }
        log(`${step.readBack}@${digest}: ${step.copied ? `copied from ${from}` : "already there"}`);
        steps.push(step);
    }
    return steps;
}

/** Reads every image of `record` back from `registry` by tag; the images whose digest differs or is missing. */
export function checkRegistry(record: ReleaseRecordFile, registry: string): string[] {
    return Object.entries(recordedDigests(record)).flatMap(([image, digest]) => {
        const found = resolveDigest(`${registry}/${image}:${record.tag}`);
        if ("digest" in found && found.digest === digest) return [];
        return [`${registry}/${image}:${record.tag} ${"digest" in found ? `is ${found.digest}` : "is missing"}, recorded ${digest}`];
    });
}
