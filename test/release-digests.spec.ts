/**
 * Production references the Archon images by the digests the image workflow recorded
 * (releases/<tag>.json, scripts/lib/release-record.ts), never by invented ones (issue 12 item 7c).
 * The fixture record's digests are test values, not real images.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { reveal } from "../scripts/lib/synthesize";
import { releaseRecordSchema } from "../scripts/lib/release-record";
import { synth } from "./helpers";

const FIXTURE = { imageTag: "sha-abcdef1", releasesDir: "test/fixtures/releases" };
const record = releaseRecordSchema.parse(JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures", "releases", "sha-abcdef1.json"), "utf8")));
const digestOf = (image: string) => record.images[image].slice(record.images[image].indexOf("@") + 1);

describe("release-record digests of the Archon images", () => {
    it("production references every deployed Archon image as <registry>/<image>:<tag>@<recorded digest>", async () => {
        const result = await synth("production", FIXTURE);
        const outputs = reveal(result.outputs) as { imageRefs: Record<string, string>; release: { images: Record<string, string> } };
        for (const image of Object.keys(outputs.release.images)) {
            assert.strictEqual(outputs.imageRefs[image], `registry.archon.example.com/${image}:sha-abcdef1@${digestOf(image)}`);
        }
        // ... and so do the workloads.
        const images = Object.entries(result.files).filter(([file]) => file.startsWith("kubernetes/"))
            .flatMap(([, text]) => JSON.stringify(parseYaml(text)).match(/"image":"[^"]*archon-server[^"]*"/g) ?? []);
        assert.ok(images.length > 0, "no workload runs archon-server");
        for (const image of images) assert.strictEqual(image, `"image":"registry.archon.example.com/archon-server:sha-abcdef1@${digestOf("archon-server")}"`);
    });

    it("staging uses the record too when its tag has one", async () => {
        const outputs = reveal((await synth("staging", FIXTURE)).outputs) as { imageRefs: Record<string, string> };
        assert.strictEqual(outputs.imageRefs["archon-ui"], `registry.staging.archon.example.com/archon-ui:sha-abcdef1@${digestOf("archon-ui")}`);
    });

    it("without a record, references the tag (the committed example stack still deploys)", async () => {
        const outputs = reveal((await synth("production")).outputs) as { imageRefs: Record<string, string> };
        assert.strictEqual(outputs.imageRefs["archon-server"], "registry.archon.example.com/archon-server:sha-1a2b3c4");
    });

    it("refuses a record that names another tag", async () => {
        await assert.rejects(synth("production", { ...FIXTURE, releasesDir: "test/fixtures/releases-broken" }), /imageTag = "sha-abcdef1": .*records tag sha-1234567/);
    });
});
