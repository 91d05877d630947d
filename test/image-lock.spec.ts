/**
 * The third-party image digest lock (issue 24 item 7): its format, one entry for every image the
 * stacks pin (measured on what both stacks deploy, not only on versions.ts), the program referring
 * to `image:tag@sha256:...` from it, and `npm run image-lock -- resolve` asking real registries: the
 * REAL skopeo against the REAL docker-registry, in a private network namespace where docker.io,
 * gcr.io and quay.io are that registry (containers-registries.conf rewrites; nothing leaves the
 * machine). The digests the test writes are those of images it pushed, never invented ones.
 */
import * as assert from "assert";
import { ChildProcess } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { ARCHON_IMAGES } from "../components/registry/build-context";
import { IMAGE_LOCK_FILE, imageLockSchema, lockProblems, lockedRef, readImageLock, withoutDigest } from "../components/services/image-lock";
import { PINNED_IMAGES } from "../components/services/versions";
import { planOf } from "../scripts/lib/plan";
import { ProjectCopy, copyProject } from "./project-copy";
import { TestNamespace } from "./netns";
import { writeOciImage } from "./oci-image";
import { requireTool, run, synth, writeTempFiles } from "./helpers";

const committed = readImageLock();

/** The repository of an image reference, without registry defaults: `nginx` for `nginx:1.28.0-alpine@sha256:...`. */
const isArchon = (image: string) => ARCHON_IMAGES.some((name) => withoutDigest(image).split(":")[0].endsWith(`/${name}`));

describe("the third-party image digest lock", () => {
    it("is well-formed: sorted image:tag keys, sha256 digests or null, nothing else", () => {
        const raw = JSON.parse(fs.readFileSync(IMAGE_LOCK_FILE, "utf8")) as { images: Record<string, unknown> };
        assert.ok(imageLockSchema.safeParse(raw).success);
        assert.deepStrictEqual(lockProblems([...PINNED_IMAGES], committed), []);
        for (const bad of [{ ...raw, images: { "nginx:1.28.0-alpine": "sha256:abc" } }, { ...raw, images: { ["nginx@sha256:" + "a".repeat(64)]: null } }, { ...raw, extra: 1 }]) {
            assert.ok(!imageLockSchema.safeParse(bad).success, JSON.stringify(bad).slice(0, 120));
        }
        assert.deepStrictEqual(lockProblems(["new/image:1.0", ...PINNED_IMAGES], committed), ["new/image:1.0 has no entry"], "a new pin without an entry is caught");
    });

    it("has an entry for every third-party image both stacks deploy, and each is referred to through it", async () => {
        for (const stack of ["staging", "production"]) {
            const images = planOf(await synth(stack)).images.filter((image) => !isArchon(image));
            assert.ok(images.length >= 8, `${stack}: ${images.join(", ")}`);
            for (const image of images) {
                const pin = withoutDigest(image);
                assert.ok(pin in committed.images, `${stack} runs ${image}, which image-digests.lock.json has no entry for`);
                assert.strictEqual(image, lockedRef(pin, committed), `${stack} runs ${image} instead of the lock's reference`);
            }
        }
    });

    it("check refuses a lock that misses a pin or is not resolved when production needs it: one line, exit 2", () => {
        const project = copyProject("archon-lock-");
        try {
            const check = (...args: string[]) => run("npm", ["run", "-s", "image-lock", "--", "check", ...args], { cwd: project.dir, env: { ...process.env, npm_config_update_notifier: "false" } });
            const pending = Object.values(committed.images).filter((d) => d === null).length;
            const ok = check();
            assert.strictEqual(ok.status, 0, ok.output);
            if (pending > 0) {
                const refused = check("--resolved");
                assert.strictEqual(refused.status, 2, refused.output);
                assert.match(refused.output.trim(), /^error: image-digests\.lock\.json has no digest yet for .*: merge the image-lock workflow's pull request \(or run it\) before deploying production$/);
            }
            const lock = JSON.parse(fs.readFileSync(path.join(project.dir, "image-digests.lock.json"), "utf8")) as { images: Record<string, string | null> };
            delete lock.images["busybox:1.37.0"];
            fs.writeFileSync(path.join(project.dir, "image-digests.lock.json"), JSON.stringify(lock));
            const missing = check();
            assert.strictEqual(missing.status, 2, missing.output);
            assert.match(missing.output.trim(), /^error: image-digests\.lock\.json: busybox:1\.37\.0 has no entry: run npm run image-lock -- resolve/);
        } finally {
            project.remove();
        }
    });

    describe("resolve, against real registries", () => {
        let project: ProjectCopy;
        let namespace: TestNamespace;
        let registry: ChildProcess;
        let logFile = "";
        const registryLog = () => (logFile && fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : "");
        let env: NodeJS.ProcessEnv;
        const pushed = new Map<string, string>();

        /** `library/nginx:1.28.0-alpine` for `nginx:1.28.0-alpine`, as Docker Hub names it; other registries' paths as they are. */
        const repositoryPath = (ref: string) => {
            const [name, tag] = [ref.slice(0, ref.lastIndexOf(":")), ref.slice(ref.lastIndexOf(":") + 1)];
            const first = name.split("/")[0];
            const hosted = first.includes(".") || first.includes(":");
            const pathPart = hosted ? name.split("/").slice(1).join("/") : name.includes("/") ? name : `library/${name}`;
            return { pathPart, tag };
        };

        const push = (ref: string, content: string) => {
            const { pathPart, tag } = repositoryPath(ref);
            const dir = writeTempFiles({}, "archon-oci-");
            const digest = writeOciImage(dir, tag, content);
            const copied = namespace.run("skopeo", ["--registries-conf", String(env.CONTAINERS_REGISTRIES_CONF), "copy", "--all", "--preserve-digests", `oci:${dir}:${tag}`, `docker://127.0.0.1:5000/${pathPart}:${tag}`], { env });
            assert.strictEqual(copied.status, 0, copied.output + registryLog());
            fs.rmSync(dir, { recursive: true, force: true });
            pushed.set(ref, digest);
        };

        before(async function () {
            this.timeout(600_000);
            requireTool("skopeo", "skopeo");
            const binary = requireTool("docker-registry", "docker-registry");
            project = copyProject("archon-lock-resolve-");
            namespace = await TestNamespace.start({});
            const dir = writeTempFiles({
                "registry.yml": "version: 0.1\nstorage:\n  filesystem: {rootdirectory: DATA}\nhttp: {addr: \"127.0.0.1:5000\"}\n",
                // Every registry the pins name is the test's registry, over plain HTTP (inside the namespace only).
                "registries.conf": ["docker.io", "gcr.io", "quay.io"].map((prefix) => `[[registry]]\nprefix = "${prefix}"\nlocation = "127.0.0.1:5000"\ninsecure = true\n`).join("\n")
                    + "\n[[registry]]\nlocation = \"127.0.0.1:5000\"\ninsecure = true\n",
            }, "archon-lock-registry-");
            fs.writeFileSync(path.join(dir, "registry.yml"), fs.readFileSync(path.join(dir, "registry.yml"), "utf8").replace("DATA", path.join(dir, "data")));
            env = { ...process.env, CONTAINERS_REGISTRIES_CONF: path.join(dir, "registries.conf"), REGISTRY_AUTH_FILE: path.join(dir, "auth.json"), npm_config_update_notifier: "false" };
            logFile = path.join(dir, "registry.log");
            registry = namespace.spawn(binary, ["serve", path.join(dir, "registry.yml")], logFile);
            for (let i = 0; i < 100 && !/listening on/.test(registryLog()); i++) await new Promise((r) => setTimeout(r, 100));
            assert.match(registryLog(), /listening on/);
            for (const ref of PINNED_IMAGES) push(ref, `${ref} as built upstream`);
        });

        after(() => {
            if (registry?.exitCode === null) registry.kill("SIGTERM");
            namespace?.stop();
            project?.remove();
        });

        it("writes the digest each tag names, and a tag moved upstream shows as a change in the lock", () => {
            const resolve = () => namespace.run("npm", ["run", "-s", "image-lock", "--", "resolve", "--run", "https://github.com/example/archon-infra/actions/runs/42"], { cwd: project.dir, env });
            const first = resolve();
            assert.strictEqual(first.status, 0, first.output);
            const lock = JSON.parse(fs.readFileSync(path.join(project.dir, "image-digests.lock.json"), "utf8")) as { images: Record<string, string>; resolved: { run: string } };
            assert.deepStrictEqual(lock.images, Object.fromEntries([...pushed].sort(([a], [b]) => a.localeCompare(b))));
            assert.strictEqual(lock.resolved.run, "https://github.com/example/archon-infra/actions/runs/42");
            const resolved = namespace.run("npm", ["run", "-s", "image-lock", "--", "check", "--resolved"], { cwd: project.dir, env });
            assert.strictEqual(resolved.status, 0, resolved.output);

            project.git("commit", "-q", "-am", "image-lock: resolve");

            // Upstream moves a tag: the next run proposes exactly that entry's change.
            const before = pushed.get("nginx:1.28.0-alpine");
            push("nginx:1.28.0-alpine", "rebuilt upstream");
            const second = resolve();
            assert.strictEqual(second.status, 0, second.output);
            assert.match(second.output, new RegExp(`nginx:1\\.28\\.0-alpine: ${before} -> ${pushed.get("nginx:1.28.0-alpine")} \\(the tag moved upstream\\)`));
            const changed = project.git("diff", "-U0", "--", "image-digests.lock.json").split("\n").filter((line) => /^[+-](?![+-])/.test(line));
            assert.strictEqual(changed.length, 4, changed.join("\n"));
            assert.ok(changed.every((line) => /^[+-] +"(at|nginx:1\.28\.0-alpine)":/.test(line)), changed.join("\n"));
        });

        it("the program then refers to every third-party image as image:tag@sha256 from the lock", () => {
            const out = path.join(project.dir, "out", "staging");
            const synthRun = namespace.run("npm", ["run", "-s", "synth", "--", "--stack", "staging", "--out", out], { cwd: project.dir, env });
            assert.strictEqual(synthRun.status, 0, synthRun.output);
            const compose = parseYaml(fs.readFileSync(path.join(out, "files", "project", "docker-compose.yml"), "utf8")) as { services: Record<string, { image: string }> };
            const thirdParty = Object.values(compose.services).map((s) => s.image).filter((image) => !isArchon(image));
            assert.ok(thirdParty.length >= 10);
            for (const image of thirdParty) assert.strictEqual(image, `${withoutDigest(image)}@${pushed.get(withoutDigest(image))}`);
        });

        it("refuses a pin its registry does not have, naming it (one line, exit 2)", () => {
            const versions = path.join(project.dir, "components", "services", "versions.ts");
            fs.writeFileSync(versions, fs.readFileSync(versions, "utf8").replace('"busybox:1.37.0"', '"busybox:9.9.9"'));
            const refused = namespace.run("npm", ["run", "-s", "image-lock", "--", "resolve", "--run", "https://github.com/example/archon-infra/actions/runs/43"], { cwd: project.dir, env });
            assert.strictEqual(refused.status, 2, refused.output);
            assert.match(refused.output.trim(), /^error: busybox:9\.9\.9 does not exist in its registry \(.*\): fix the pin in components\/services\/versions\.ts$/);
        });
    });
});
