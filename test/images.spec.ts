/**
 * Image builds and pinned tags: what is built for which config, for which platform, how workloads
 * reference the result, and that a sha- tag is never built from another commit.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { SynthConfigError, reveal } from "../scripts/lib/synthesize";
import { ofType, plainInputs, run, synth, writeTempFiles } from "./helpers";

const IMAGE = "docker:index/image:Image";
const CHECKOUT = path.resolve(__dirname, "fixtures", "archon-checkout");
const BUILD = { buildImages: true, archonSourceDir: CHECKOUT };

interface Release {
    imageTag: string;
    built: boolean;
    images: Record<string, string>;
    sourceCommit?: string;
}

function outputsOf(outputs: Record<string, unknown>): { imageRefs: Record<string, string>; release: Release } {
    return reveal(outputs) as { imageRefs: Record<string, string>; release: Release };
}

/** A git checkout of the fixture with one commit; returns its directory and commit id. */
function gitCheckout(): { dir: string; commit: string } {
    const files = Object.fromEntries(
        ["python/Dockerfile.server", "python/Dockerfile.mcp", "python/Dockerfile.agents", "archon-ui-main/Dockerfile", "migration/complete_setup.sql"]
            .map((file) => [file, fs.readFileSync(path.join(CHECKOUT, file), "utf8")]),
    );
    const dir = writeTempFiles(files, "archon-checkout-");
    const git = (...args: string[]) => {
        const result = run("git", ["-C", dir, "-c", "user.name=Test", "-c", "user.email=test@example.com", ...args]);
        assert.strictEqual(result.status, 0, result.output);
        return result.output.trim();
    };
    git("init", "-q");
    git("add", "-A");
    git("commit", "-q", "-m", "fixture");
    return { dir, commit: git("rev-parse", "HEAD") };
}

describe("images", () => {
    it("builds and pushes the five images from the checkout when asked", async () => {
        const result = await synth("production", BUILD);
        const images = ofType(result, IMAGE);
        assert.deepStrictEqual(images.map((i) => i.name).sort(), ["archon-agents", "archon-mcp", "archon-migrate", "archon-server", "archon-ui"]);
        const byName = Object.fromEntries(images.map((i) => [i.name, plainInputs(i)]));
        // Pushed at the read-write instance's host (components/registry/hosts.ts).
        assert.strictEqual(byName["archon-server"].imageName, "registry-push.archon.example.com/archon-server:sha-1a2b3c4");
        // The Python services build from this repository's Dockerfile, one target each, in a staged
        // copy of the checkout's python/ (uv sync --locked from its uv.lock: images/archon-python/).
        for (const name of ["archon-server", "archon-mcp", "archon-agents"]) {
            assert.strictEqual(byName[name].build.dockerfile, path.resolve(__dirname, "..", "images", "archon-python", "Dockerfile"));
            assert.strictEqual(byName[name].build.target, name);
            assert.ok(fs.existsSync(path.join(byName[name].build.context, "Dockerfile.server")), "python/ is the staged context's root");
        }
        // The UI and the migration image build from this repository's Dockerfiles, in a staged copy
        // of the checkout's directory (test/archon-runtime.spec.ts).
        assert.ok(fs.existsSync(path.join(byName["archon-ui"].build.context, "Dockerfile")), "archon-ui-main is the staged context's root");
        assert.strictEqual(byName["archon-ui"].build.dockerfile, path.resolve(__dirname, "..", "images", "archon-ui", "Dockerfile"));
        for (const inputs of Object.values(byName)) {
            assert.strictEqual(inputs.build.platform, "linux/amd64");
            assert.deepStrictEqual({ server: inputs.registry.server, username: inputs.registry.username }, { server: "registry-push.archon.example.com", username: "archon-push" }); // the push login and host (issue 12.7b, 27.7)
            for (const file of [inputs.build.dockerfile]) assert.ok(fs.existsSync(file), `${file} is missing from the checkout`);
        }
        const password = images.map((i) => (i.inputs.registry as { password: unknown }).password);
        assert.ok(password.every((p) => typeof p === "object" && p !== null && "$secret" in p), "the push password must stay secret");
    });

    it("references the pushed digests at the pull host when built, and the tag otherwise", async () => {
        const built = outputsOf((await synth("production", BUILD)).outputs);
        for (const name of ["archon-server", "archon-mcp", "archon-ui", "archon-agents", "archon-migrate"]) {
            // Pushed to registry-push.<domain>, pulled from registry.<domain>: one storage, one digest.
            assert.match(built.imageRefs[name], new RegExp(`^registry\\.archon\\.example\\.com/${name}:sha-1a2b3c4@sha256:[0-9a-f]{64}$`));
            assert.strictEqual(built.release.images[name], built.imageRefs[name]);
        }
        const referenced = outputsOf((await synth("production")).outputs);
        assert.strictEqual(referenced.imageRefs["archon-ui"], "registry.archon.example.com/archon-ui:sha-1a2b3c4");
        assert.deepStrictEqual(ofType(await synth("production"), IMAGE), [], "buildImages=false declares no docker resource");
    });

    it("builds four images when the agents are off, and lists four in the release", async () => {
        const result = await synth("staging", BUILD);
        assert.deepStrictEqual(ofType(result, IMAGE).map((i) => i.name).sort(), ["archon-mcp", "archon-migrate", "archon-server", "archon-ui"]);
        assert.deepStrictEqual(Object.keys(outputsOf(result.outputs).release.images).sort(), ["archon-mcp", "archon-migrate", "archon-server", "archon-ui"]);
    });

    it("builds for linux/arm64 on cax servers", async () => {
        const result = await synth("production", { ...BUILD, serverType: "cax31", agentServerType: "cax41" });
        const platforms = ofType(result, IMAGE).map((i) => plainInputs(i).build.platform);
        assert.deepStrictEqual([...new Set(platforms)], ["linux/arm64"]);
    });

    it("seeds the build cache from previousImageTag", async () => {
        const result = await synth("production", { ...BUILD, previousImageTag: "sha-0000000" });
        const server = ofType(result, IMAGE).find((i) => i.name === "archon-server");
        assert.ok(server);
        assert.deepStrictEqual(plainInputs(server).build.cacheFrom.images, ["registry-push.archon.example.com/archon-server:sha-0000000"]);
    });

    it("records the source commit of a git checkout whose commit the sha- tag names", async () => {
        const { dir, commit } = gitCheckout();
        const result = await synth("production", { buildImages: true, archonSourceDir: dir, imageTag: `sha-${commit.slice(0, 7)}` });
        const release = outputsOf(result.outputs).release;
        assert.strictEqual(release.sourceCommit, commit);
        assert.strictEqual(release.built, true);
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("refuses to build a sha- tag from another commit, before any resource", async () => {
        const { dir, commit } = gitCheckout();
        await assert.rejects(synth("production", { buildImages: true, archonSourceDir: dir, imageTag: "sha-1111111" }), (err: Error) => {
            assert.ok(err instanceof SynthConfigError, String(err));
            assert.match(err.message, /archon-infra:imageTag/);
            assert.ok(err.message.includes(`sha-${commit.slice(0, 7)}`), err.message);
            assert.equal(err.resourcesRegistered, 0, "refused by the config, before any resource");
            return true;
        });
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("builds a release-version tag from any commit", async () => {
        const { dir, commit } = gitCheckout();
        const result = await synth("staging", { buildImages: true, archonSourceDir: dir, imageTag: "v0.1.0" });
        assert.strictEqual(outputsOf(result.outputs).release.sourceCommit, commit);
        fs.rmSync(dir, { recursive: true, force: true });
    });
});
