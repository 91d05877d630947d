/**
 * A release is a commit: the image workflow records what it built and scanned, promotion refuses a
 * tag without a passed scan, and the bump of a stack file changes its imageTag line and nothing else.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { ReleaseRecordFile, bumpImageTag, recordCopy, recordedRegistries, stackImageTag, stackRegistryHosts, verifiedRecord, writeRecord } from "../scripts/lib/release-record";
import { loadArchonSource } from "../components/registry/archon-source";
import { run, writeTempFiles } from "./helpers";

const PROJECT_DIR = path.resolve(__dirname, "..");
const COMMIT = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d";
const digest = (image: string) => `registry.example.com/${image}@sha256:${"ab".repeat(32)}`;

function record(overrides: Partial<ReleaseRecordFile> = {}): ReleaseRecordFile {
    return {
        tag: "sha-1a2b3c4",
        archonCommit: COMMIT,
        archonRef: "v0.1.0",
        images: { "archon-server": digest("archon-server"), "archon-ui": digest("archon-ui") },
        scan: { tool: "trivy v0.70.0", policy: "no fixable CRITICAL vulnerability", result: "passed" },
        run: "https://github.com/example/archon-infra/actions/runs/1",
        ...overrides,
    };
}

describe("release records", () => {
    it("a recorded tag whose scan passed verifies; a missing, failed or malformed record does not", () => {
        const dir = writeTempFiles({});
        writeRecord(dir, record());
        assert.strictEqual(verifiedRecord(dir, "sha-1a2b3c4").archonCommit, COMMIT);
        assert.throws(() => verifiedRecord(dir, "sha-9999999"), /releases\/sha-9999999.json does not exist: sha-9999999 was not built and scanned/);
        assert.throws(() => verifiedRecord(dir, "v0.1.0"), /is not sha-<commit>/);
        writeRecord(dir, record({ tag: "sha-badbad0", scan: { tool: "trivy", policy: "p", result: "failed" } }));
        assert.throws(() => verifiedRecord(dir, "sha-badbad0"), /sha-badbad0's image scan failed .*cannot be promoted/);
        fs.writeFileSync(path.join(dir, "releases", "sha-0000000.json"), JSON.stringify({ ...record({ tag: "sha-0000000" }), images: { "archon-ui": "registry/archon-ui:latest" } }));
        assert.throws(() => verifiedRecord(dir, "sha-0000000"), /is not a release record: images.archon-ui/);
        assert.throws(() => writeRecord(dir, record({ archonCommit: "abc" })));
    });

    it("a digest counts only for the registries the record names: the build's, then each copy's", () => {
        const dir = writeTempFiles({});
        const built = record();
        writeRecord(dir, built);
        assert.deepStrictEqual(recordedRegistries(built), ["registry.example.com"]);
        assert.throws(() => verifiedRecord(dir, "sha-1a2b3c4", "registry.archon.example.com"),
            /^Error: releases\/sha-1a2b3c4.json records sha-1a2b3c4 in registry.example.com, not in registry.archon.example.com: copy it there by digest first \(npm run release -- copy --tag sha-1a2b3c4 --stack <stack>\)$/);
        const copied = recordCopy(dir, built, "registry.archon.example.com", "https://github.com/example/archon-infra/actions/runs/2");
        assert.deepStrictEqual(recordedRegistries(copied), ["registry.example.com", "registry.archon.example.com"]);
        assert.strictEqual(recordCopy(dir, copied, "registry.archon.example.com", "https://x.example/again"), copied, "a second copy to the same host records nothing new");
        assert.strictEqual(verifiedRecord(dir, "sha-1a2b3c4", "registry.archon.example.com").copies?.length, 1);
        // One build pushes to one registry; a reference must end in the image's own name.
        assert.throws(() => writeRecord(dir, record({ images: { "archon-ui": digest("archon-ui"), "archon-mcp": `ghcr.io/x/archon-mcp@sha256:${"cd".repeat(32)}` } })), /the build pushes to one registry/);
        assert.throws(() => writeRecord(dir, record({ images: { "archon-ui": digest("archon-server") } })), /<registry>\/<image name>@sha256/);
    });

    it("reads a stack's registry hosts from its stack file: pulls at registry.<domain>, pushes at registry-push.<domain>", () => {
        assert.deepStrictEqual(stackRegistryHosts(PROJECT_DIR, "production", "archon-infra"), { pull: "registry.archon.example.com", push: "registry-push.archon.example.com", external: false });
        const external = fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.staging.yaml"), "utf8") + "  archon-infra:registryServer: ghcr.io\n";
        assert.deepStrictEqual(stackRegistryHosts(writeTempFiles({ "Pulumi.staging.yaml": external }), "staging", "archon-infra"), { pull: "ghcr.io", push: "ghcr.io", external: true });
    });

    it("bumping a stack's imageTag changes that line only, comments included", () => {
        const original = fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.production.yaml"), "utf8");
        const dir = writeTempFiles({ "Pulumi.production.yaml": original });
        assert.strictEqual(bumpImageTag(dir, "production", "archon-infra", "sha-5d6e7f8"), stackImageTag(PROJECT_DIR, "production", "archon-infra"));
        const bumped = fs.readFileSync(path.join(dir, "Pulumi.production.yaml"), "utf8");
        const changed = bumped.split("\n").filter((line, i) => line !== original.split("\n")[i]);
        assert.deepStrictEqual(changed, ["  archon-infra:imageTag: sha-5d6e7f8"]);
        assert.strictEqual(stackImageTag(dir, "production", "archon-infra"), "sha-5d6e7f8");
    });

    it("records the pinned commit's lock digests and the Python packages each image holds, and refuses another commit", () => {
        const pin = loadArchonSource();
        const tag = `sha-${pin.commit.slice(0, 12)}`;
        const file = path.join(PROJECT_DIR, "releases", `${tag}.json`);
        assert.ok(!fs.existsSync(file), `${file} exists already`);
        const dir = writeTempFiles({
            "digests/archon-server": digest("archon-server"),
            "digests/archon-ui": digest("archon-ui"),
            // As the image workflow reads them from the built image (importlib.metadata).
            "packages/archon-server.json": JSON.stringify({ "pydantic-ai": "0.0.55", uvicorn: "0.38.0" }),
        });
        const cli = (commit: string) => run(process.execPath, ["--require", "ts-node/register/transpile-only", "scripts/release.ts", "record", "--tag", tag,
            "--archon-commit", commit, "--archon-ref", pin.ref, "--digests", path.join(dir, "digests"), "--packages", path.join(dir, "packages"),
            "--scan", "passed", "--tool", "trivy v0.70.0", "--run", "https://github.com/example/archon-infra/actions/runs/2"], { cwd: PROJECT_DIR });
        try {
            const refused = cli(COMMIT);
            assert.strictEqual(refused.status, 2, refused.output);
            assert.strictEqual(refused.output, `error: --archon-commit ${COMMIT} is not the pinned Archon commit ${pin.commit} (images/archon-source.json)\n`);
            assert.ok(!fs.existsSync(file));
            const recorded = cli(pin.commit);
            assert.strictEqual(recorded.status, 0, recorded.output);
            const written = verifiedRecord(PROJECT_DIR, tag);
            assert.deepStrictEqual(written.locks, pin.files);
            assert.ok(written.locks?.["python/uv.lock"]?.startsWith("sha256:"));
            assert.deepStrictEqual(written.packages, { "archon-server": { "pydantic-ai": "0.0.55", uvicorn: "0.38.0" } });
        } finally {
            fs.rmSync(file, { force: true });
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("the CLI refuses the committed example tag, which no workflow built, in one line with exit 2", () => {
        const result = run(process.execPath, ["--require", "ts-node/register/transpile-only", "scripts/release.ts", "verify", "--stack", "production"], { cwd: PROJECT_DIR });
        assert.strictEqual(result.status, 2, result.output);
        assert.match(result.output, /^error: releases\/sha-[0-9a-f]+\.json does not exist: sha-[0-9a-f]+ was not built and scanned by the image workflow\n$/);
    });
});
