/**
 * Rollback = `pulumi config set imageTag <earlier>` + `pulumi up`. Written over every resource the
 * program declares, so it stays meaningful as components are added: two tags must yield the same
 * resources, differing only in image references and the content hashes derived from them.
 */
import * as assert from "assert";
import { filesAtPath } from "../policies/lib/files";
import { ResourceRecord, SynthResult } from "../scripts/lib/synthesize";
import { synth } from "./helpers";

const OLD = "sha-1111111";
const NEW = "sha-2222222";

/** Resource types that must not differ at all between two tags (hosts, secrets, storage). */
const UNTOUCHABLE = [/^hcloud:/, /^random:/, /^tls:/, /^time:/, /^kubernetes:core\/v1:(Secret|PersistentVolumeClaim|PersistentVolume)$/, /^docker:/];
/** A path segment that holds a hash derived from other content (pod template checksums, triggers). */
const DERIVED_HASH = /checksum|hash|trigger/i;

/** Leaf paths where `a` and `b` differ. */
function differences(a: unknown, b: unknown, at = ""): string[] {
    if (a === b) return [];
    if (a && b && typeof a === "object" && typeof b === "object" && Array.isArray(a) === Array.isArray(b)) {
        const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
        return [...keys].flatMap((k) => differences((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${at}/${k}`));
    }
    return [at || "/"];
}

/**
 * Inputs with each path-based archive (the Compose project CopyToRemote delivers, a directory named
 * by its content hash) replaced by the files in it, so the comparison sees their content, not the path.
 */
function expandArchives(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(expandArchives);
    if (value === null || typeof value !== "object") return value;
    const record = value as Record<string, unknown>;
    const location = (record.$archive as { path?: unknown } | undefined)?.path;
    if (typeof location === "string") return { $archive: filesAtPath(location) };
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, expandArchives(v)]));
}

/** The record with the new tag written back to the old one, in every string (image refs, rendered files). */
function withTag(value: unknown, from: string, to: string): unknown {
    return JSON.parse(JSON.stringify(value).split(from).join(to));
}

function byUrn(result: SynthResult): Map<string, ResourceRecord> {
    return new Map(result.resources.map((r) => [r.urn, r]));
}

for (const stack of ["staging", "production"]) {
    describe(`rollback on ${stack}`, () => {
        let older: SynthResult;
        let newer: SynthResult;
        before(async () => {
            older = await synth(stack, { imageTag: OLD });
            newer = await synth(stack, { imageTag: NEW });
        });

        it("declares the same resources with the same options for either tag (nothing created, deleted or replaced)", () => {
            assert.deepStrictEqual([...byUrn(newer).keys()], [...byUrn(older).keys()]);
            const olderByUrn = byUrn(older);
            for (const resource of newer.resources) assert.deepStrictEqual(resource.options, olderByUrn.get(resource.urn)?.options, resource.urn);
        });

        it("changes nothing but image references and hashes derived from them", () => {
            const olderByUrn = byUrn(older);
            for (const resource of newer.resources) {
                const before = olderByUrn.get(resource.urn)!;
                const raw = differences(before.inputs, resource.inputs);
                if (raw.length === 0) continue;
                assert.ok(!UNTOUCHABLE.some((type) => type.test(resource.type)), `${resource.urn} changes with the image tag: ${raw.join(", ")}`);
                const beyondTag = differences(expandArchives(before.inputs), withTag(expandArchives(resource.inputs), NEW, OLD)).filter((p) => !DERIVED_HASH.test(p));
                assert.deepStrictEqual(beyondTag, [], `${resource.urn} changes more than image references`);
            }
        });

        it("changes no stack output but image references (no host, URL or secret output moves)", () => {
            assert.deepStrictEqual(differences(older.outputs, withTag(newer.outputs, NEW, OLD)), []);
            const componentChanges = differences(older.componentOutputs, withTag(newer.componentOutputs, NEW, OLD)).filter((p) => !DERIVED_HASH.test(p));
            assert.deepStrictEqual(componentChanges, []);
        });

        it("points every image reference at the older tag", () => {
            const refs = (o: SynthResult) => (o.outputs.imageRefs ?? {}) as Record<string, string>;
            assert.ok(Object.keys(refs(older)).length >= 3);
            for (const [name, ref] of Object.entries(refs(older))) {
                assert.strictEqual(ref, `registry.${stack === "staging" ? "staging.archon.example.com" : "archon.example.com"}/${name}:${OLD}`);
                assert.strictEqual(refs(newer)[name], ref.replace(OLD, NEW));
            }
            assert.strictEqual((older.outputs.release as { imageTag: string }).imageTag, OLD);
        });
    });
}
