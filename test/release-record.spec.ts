/**
 * A release is a commit: the image workflow records what it built and scanned, promotion refuses a
 * tag without a passed scan, and the bump of a stack file changes its imageTag line and nothing else.
 */
import * as assert from "assert";
import { execFile } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { ReleaseRecordFile, bumpImageTag, recordCopy, recordedRegistries, stackImageTag, stackRegistryHosts, verifiedRecord, writeRecord } from "../scripts/lib/release-record";
import { loadArchonSource } from "../components/registry/archon-source";
import { ARCHON_IMAGES } from "../components/registry/build-context";
import { run, writeTempFiles } from "./helpers";
import { ProjectCopy, copyProject } from "./project-copy";

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
            ...Object.fromEntries(ARCHON_IMAGES.map((image) => [`digests/${image}`, digest(image)])),
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

describe("npm run release refuses bad input in one line, exit 2, and writes nothing (issue 28.1, 28.2)", function () {
    this.timeout(120_000);
    let project: ProjectCopy;
    const pin = loadArchonSource();
    const pinTag = `sha-${pin.commit.slice(0, 7)}`;
    const refusal = /^error: [^\n]+\n$/;

    before(() => {
        project = copyProject("archon-release-cli-");
    });
    after(() => project.remove());

    /** The release script of the copy, as the workflows run it; several at a time. */
    function release(args: string[]): Promise<{ status: number; output: string }> {
        return new Promise((resolve) => {
            execFile(process.execPath, ["--require", "ts-node/register/transpile-only", "scripts/release.ts", ...args], { cwd: project.dir, encoding: "utf8" }, (err, stdout, stderr) =>
                resolve({ status: err ? (typeof err.code === "number" ? err.code : -1) : 0, output: `${stdout}${stderr}` }));
        });
    }

    it("record: a missing, non-directory or empty --digests, and a tag that is not the commit's, are named with the fix", async () => {
        const dir = writeTempFiles({
            ...Object.fromEntries(ARCHON_IMAGES.map((image) => [`digests/${image}`, digest(image)])), "partial/archon-server": digest("archon-server"), "empty/.keep-out/x": "", "not-a-dir": "",
            "short/archon-server": "sha256:abc\n", "packages/archon-server.json": "{\"uvicorn\": ",
        });
        const record = (tag: string, digests: string, more: string[] = []) => release(["record", "--tag", tag, "--archon-commit", pin.commit, "--archon-ref", pin.ref, "--digests", digests,
            "--scan", "passed", "--tool", "trivy v0.70.0", "--run", "https://github.com/example/archon-infra/actions/runs/3", ...more]);
        const holds = "one file per image, named after it, holding <registry>/<image>@sha256:<digest> (the build jobs' digest-* artifacts)";
        const cases: [Promise<{ status: number; output: string }>, string][] = [
            [record(pinTag, path.join(dir, "missing")), `--digests ${path.join(dir, "missing")} does not exist: give it the directory with ${holds}`],
            [record(pinTag, path.join(dir, "not-a-dir")), `--digests ${path.join(dir, "not-a-dir")} is not a directory: give it the directory with ${holds}`],
            [record(pinTag, path.join(dir, "empty")), `--digests ${path.join(dir, "empty")} is empty: it must hold ${holds}`],
            // The image workflow tags a build of commit c sha-<c's first 7 digits>: another commit's tag would name other bytes.
            [record("sha-1a2b3c4", path.join(dir, "digests")), `--tag sha-1a2b3c4 does not name commit ${pin.commit}: a build of it is tagged ${pinTag}`],
            [record(`sha-${pin.commit.slice(1, 9)}`, path.join(dir, "digests")), `--tag sha-${pin.commit.slice(1, 9)} does not name commit ${pin.commit}: a build of it is tagged ${pinTag}`],
            [record("v0.1.0", path.join(dir, "digests")), "--tag v0.1.0 is not sha-<commit> (7-40 lower-case hex digits), as the image workflow tags a build"],
            [record(pinTag, path.join(dir, "short")), `--digests ${path.join(dir, "short", "archon-server")} holds "sha256:abc", not <registry>/archon-server@sha256:<64 hex digits>: it must hold the reference the build pushed (its digest-archon-server artifact)`],
            // A build job that failed: its image would be deployed by tag.
            [record(pinTag, path.join(dir, "partial")), `--digests ${path.join(dir, "partial")} has no digest of ${ARCHON_IMAGES.filter((i) => i !== "archon-server").join(", ")}: every image the workflow builds must be recorded (the digest-<image> artifact of each build job); rerun the failed build jobs`],
            // (The parser's own words in the parentheses vary with the Node version.)
            [record(pinTag, path.join(dir, "digests"), ["--packages", path.join(dir, "packages")]), `--packages ${path.join(dir, "packages", "archon-server.json")} is not JSON (*): it must hold {"name": "version"} as the image holds them`],
        ];
        try {
            for (const [result, message] of cases) {
                const { status, output } = await result;
                assert.strictEqual(status, 2, output);
                assert.match(output, refusal);
                const [head, tail] = message.split("(*)");
                if (tail === undefined) assert.strictEqual(output, `error: ${message}\n`);
                else assert.ok(output.startsWith(`error: ${head}(`) && output.endsWith(`)${tail}\n`), output);
            }
            assert.deepStrictEqual(fs.readdirSync(path.join(project.dir, "releases")), ["README.md"], "nothing recorded");
            // The same inputs with the commit's own tag, longer or not, are recorded.
            const recorded = await record(`sha-${pin.commit.slice(0, 12)}`, path.join(dir, "digests"));
            assert.strictEqual(recorded.status, 0, recorded.output);
            assert.strictEqual(verifiedRecord(project.dir, `sha-${pin.commit.slice(0, 12)}`).images["archon-server"], digest("archon-server"));
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("bump: a tag config would refuse (moving, unpinned, a bare number; production's non-sha) is refused with config's own words", async () => {
        const files = ["staging", "production"].map((stack) => path.join(project.dir, `Pulumi.${stack}.yaml`));
        const before = files.map((file) => fs.readFileSync(file, "utf8"));
        const bump = (stack: string, tag: string) => release(["bump", "--stack", stack, "--tag", tag]);
        const cases: [Promise<{ status: number; output: string }>, string][] = [
            [bump("staging", "latest"), "--tag latest: is a moving tag; pin it to sha-<commit> or a release version such as v0.1.0; Pulumi.staging.yaml is left as it was"],
            [bump("production", "Stable"), "--tag Stable: is a moving tag; pin it to sha-<commit> or a release version such as v0.1.0; Pulumi.production.yaml is left as it was"],
            [bump("staging", "v1"), "--tag v1: is not a pinned tag: use sha-<commit> (as CI tags each build) or a full release version vMAJOR.MINOR.PATCH such as v0.1.0 (tags like v1 or v1.2 move with each release); Pulumi.staging.yaml is left as it was"],
            [bump("staging", "1.10"), "--tag 1.10: is a bare number, which a stack file turns into a YAML number (1.10 becomes 1.1, 0x1F becomes 31); use sha-<commit> or a release version such as v0.1.0; Pulumi.staging.yaml is left as it was"],
            [bump("production", "v0.2.0"), "--tag v0.2.0: production needs the immutable tag of one Archon commit: sha-<commit> (7-40 hex digits), as built and run on staging; Pulumi.production.yaml is left as it was"],
        ];
        for (const [result, message] of cases) {
            const { status, output } = await result;
            assert.strictEqual(status, 2, output);
            assert.strictEqual(output, `error: ${message}\n`);
        }
        assert.deepStrictEqual(files.map((file) => fs.readFileSync(file, "utf8")), before, "no stack file changed");
        // What config takes, bump writes: a release version on staging.
        const accepted = await bump("staging", "v0.2.0");
        assert.strictEqual(accepted.status, 0, accepted.output);
        assert.strictEqual(stackImageTag(project.dir, "staging", "archon-infra"), "v0.2.0");
    });
});
