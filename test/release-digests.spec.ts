/**
 * The stacks reference the Archon images by the digests the image workflow recorded
 * (releases/<tag>.json, scripts/lib/release-record.ts), never by invented ones (issue 12 item 7c),
 * and only at a registry host the record names (issue 24 item 1): the build's registry, or one the
 * promotion copied the images to and read them back from. The fixture records' digests are test
 * values, not real images; the release → promotion → rollback sequence against real registries is
 * test/delivery.spec.ts.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { reveal, SynthConfigError } from "../scripts/lib/synthesize";
import { PROJECT_DIR } from "../scripts/lib/stack-config";
import { recordedDigests, releaseRecordSchema } from "../scripts/lib/release-record";
import { run, synth } from "./helpers";

const FIXTURE = { imageTag: "sha-abcdef1", releasesDir: "test/fixtures/releases" };
const record = releaseRecordSchema.parse(JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures", "releases", "sha-abcdef1.json"), "utf8")));
const digests = recordedDigests(record);

describe("release-record digests of the Archon images", () => {
    it("production references every deployed Archon image as <its registry>/<image>:<tag>@<recorded digest>", async () => {
        const result = await synth("production", FIXTURE);
        const outputs = reveal(result.outputs) as { imageRefs: Record<string, string>; release: { images: Record<string, string> } };
        assert.strictEqual(Object.keys(outputs.release.images).length, 5);
        for (const image of Object.keys(outputs.release.images)) {
            assert.strictEqual(outputs.imageRefs[image], `registry.archon.example.com/${image}:sha-abcdef1@${digests[image]}`);
        }
        // ... and so do the workloads.
        const images = Object.entries(result.files).filter(([file]) => file.startsWith("kubernetes/"))
            .flatMap(([, text]) => JSON.stringify(parseYaml(text)).match(/"image":"[^"]*archon-server[^"]*"/g) ?? []);
        assert.ok(images.length > 0, "no workload runs archon-server");
        for (const image of images) assert.strictEqual(image, `"image":"registry.archon.example.com/archon-server:sha-abcdef1@${digests["archon-server"]}"`);
    });

    it("staging references the same digests at its own registry", async () => {
        const outputs = reveal((await synth("staging", FIXTURE)).outputs) as { imageRefs: Record<string, string> };
        assert.strictEqual(outputs.imageRefs["archon-ui"], `registry.staging.archon.example.com/archon-ui:sha-abcdef1@${digests["archon-ui"]}`);
    });

    it("without a record, references the tag (the committed example stack still deploys)", async () => {
        const outputs = reveal((await synth("production")).outputs) as { imageRefs: Record<string, string> };
        assert.strictEqual(outputs.imageRefs["archon-server"], "registry.archon.example.com/archon-server:sha-1a2b3c4");
    });

    it("refuses a record that names another tag", async () => {
        await assert.rejects(synth("production", { ...FIXTURE, releasesDir: "test/fixtures/releases-broken" }), /imageTag = "sha-abcdef1": .*records tag sha-1234567/);
    });

    it("refuses a digest for a registry the record does not name: one line, exit 2, before any resource exists", async () => {
        await assert.rejects(synth("production", { ...FIXTURE, releasesDir: "test/fixtures/releases-staging-only" }), (err: unknown) => {
            assert.ok(err instanceof SynthConfigError, String(err));
            assert.strictEqual(err.resourcesRegistered, 0);
            return true;
        });
        // The record of a tag that went to staging only (never copied to production's registry).
        const result = run(process.execPath, ["--require", "ts-node/register/transpile-only", "scripts/synth.ts", "--stack", "production",
            "--config", "imageTag=sha-abcdef1", "--config", "releasesDir=test/fixtures/releases-staging-only", "--out", fs.mkdtempSync(path.join(os.tmpdir(), "synth-"))], { cwd: PROJECT_DIR });
        assert.strictEqual(result.status, 2, result.output);
        assert.strictEqual(result.output.trim().split("\n").length, 1, result.output);
        assert.match(result.output.trim(), /^error: archon-infra:imageTag = "sha-abcdef1": test\/fixtures\/releases-staging-only\/sha-abcdef1\.json records its digests in ghcr\.io\/example, registry\.staging\.archon\.example\.com, not in this stack's registry registry\.archon\.example\.com; copy the images there by digest and commit the record \(npm run release -- copy --tag sha-abcdef1 --stack production, which the promote workflow runs\)$/);
    });
});
