/**
 * Release -> promotion -> rollback, driven through the workflows' own `run:` steps (read from
 * .github/workflows/*.yml and run by bash with the env GitHub would give them) and the real scripts,
 * in a temporary git repository (a copy of this project: each pull request the workflows open is a
 * commit merged into its main). The registries are real: the CI registry is Debian's
 * docker-registry; staging's and production's are the stacks' own rendered registry (serve.sh, both
 * instances, the rendered configs and htpasswd files, under BusyBox sh); skopeo pushes the build
 * (buildx's stand-in: an OCI image index with an attestation manifest, as `--sbom --provenance`
 * pushes one) and does the workflows' copies. All of it runs in a private network namespace where
 * the registries' real host names resolve to loopback addresses (nothing leaves the machine).
 * Each build first moves the Archon pin (images/archon-source.json) to its commit, as the pull
 * request that moves it would. Not run: the build itself (Docker BuildKit), the scan (Trivy), the
 * pin's source checks, `pulumi up` (the synth stands in for it: the same program, the committed
 * stack file's tag, the record in the repository).
 */
import { strict as assert } from "assert";
import { ChildProcess } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { reveal, SynthResult } from "../scripts/lib/synthesize";
import { ProjectCopy, copyProject } from "./project-copy";
import { TestNamespace } from "./netns";
import { writeOciImage } from "./oci-image";
import { stageRegistry } from "./registry-process";
import { requireTool, run, synth, writeTempFiles } from "./helpers";

const WORKFLOWS = path.resolve(__dirname, "..", ".github", "workflows");
const CI_REGISTRY = "ci.registry.test/example";
const HOSTS = {
    "ci.registry.test": "127.0.0.2",
    "registry.staging.archon.example.com": "127.0.0.3",
    "registry-push.staging.archon.example.com": "127.0.0.4",
    "registry.archon.example.com": "127.0.0.5",
    "registry-push.archon.example.com": "127.0.0.6",
};
const STACK_REGISTRY = { staging: "registry.staging.archon.example.com", production: "registry.archon.example.com" } as const;
type Stack = keyof typeof STACK_REGISTRY;

interface Step {
    name?: string;
    run?: string;
    env?: Record<string, string>;
}
interface Job {
    env?: Record<string, string>;
    steps?: Step[];
}
interface Workflow {
    env?: Record<string, string>;
    jobs: Record<string, Job>;
}

interface Logins {
    pull: { user: string; password: string };
    push: { user: string; password: string };
}

function logins(result: SynthResult): Logins {
    const outputs = reveal(result.outputs) as { passwords: { registry: string }; registryPush: { username: string; password: string } };
    return { pull: { user: "archon", password: outputs.passwords.registry }, push: { user: outputs.registryPush.username, password: outputs.registryPush.password } };
}

describe("delivery: release -> promotion -> rollback through the workflows' steps, against real registries", function () {
    this.timeout(900_000);
    let project: ProjectCopy;
    let namespace: TestNamespace;
    let work = "";
    const servers: ChildProcess[] = [];
    const stackLogins = {} as Record<Stack, Logins>;
    const ci = { user: "ci-push", password: "ci-push-password-0123456789" };
    let baseEnv: NodeJS.ProcessEnv;

    /** Runs one named `run:` step of a workflow job with the env GitHub would build; `values` answers its `${{ }}` expressions. */
    function runStep(file: string, jobName: string, stepName: string, values: Record<string, string>, cwd = project.dir): { output: string; outputs: Record<string, string> } {
        const w = parseYaml(fs.readFileSync(path.join(WORKFLOWS, file), "utf8")) as Workflow;
        const job = w.jobs[jobName];
        assert.ok(job, `${file} has no job ${jobName}`);
        const step = job.steps?.find((s) => s.name === stepName);
        assert.ok(step?.run, `${file} job ${jobName} has no run: step named "${stepName}"`);
        const evaluate = (env: Record<string, string> = {}) => Object.fromEntries(Object.entries(env).map(([key, value]) => [key, String(value).replace(/\$\{\{\s*(.+?)\s*\}\}/g, (_, expression: string) => {
            assert.ok(expression in values, `${file} ${jobName}: the test gives no value for \${{ ${expression} }}`);
            return values[expression];
        })]));
        const outputFile = path.join(work, `github-output-${Date.now()}`);
        fs.writeFileSync(outputFile, "");
        const env = { ...baseEnv, ...evaluate(w.env), ...evaluate(job.env), ...evaluate(step.env), GITHUB_OUTPUT: outputFile, GITHUB_STEP_SUMMARY: path.join(work, "summary.md") };
        const result = namespace.run("bash", ["-e", "-c", step.run], { cwd, env });
        assert.equal(result.status, 0, `${file} ${jobName} "${stepName}" failed:\n${result.output}`);
        const outputs = Object.fromEntries(fs.readFileSync(outputFile, "utf8").split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
        return { output: result.output, outputs };
    }

    /** peter-evans/create-pull-request with `addPaths`, and its merge: nothing else may have changed. */
    function openAndMerge(branch: string, addPaths: string[], title: string): void {
        const changed = [...project.git("diff", "--name-only").split("\n"), ...project.git("ls-files", "--others", "--exclude-standard").split("\n")].filter(Boolean).sort();
        assert.deepEqual(changed, [...addPaths].sort(), `the pull request ${title} would leave changes behind`);
        project.git("checkout", "-q", "-B", branch);
        project.git("add", ...addPaths);
        project.git("commit", "-q", "-m", title);
        project.git("checkout", "-q", "main");
        project.git("merge", "-q", "--no-ff", "-m", `Merge ${branch}`, branch);
    }

    /** The digest `reference` resolves to, read with `login` (skopeo inspect --raw, sha256 of the bytes). */
    function resolve(reference: string, login: { user: string; password: string }): string {
        const auth = path.join(work, `auth-${login.user}.json`);
        const host = reference.split("/")[0];
        const logged = namespace.run("sh", ["-c", `printf %s "$PASSWORD" | skopeo login --authfile '${auth}' --username '${login.user}' --password-stdin '${host}' >/dev/null && skopeo inspect --authfile '${auth}' --raw 'docker://${reference}' | sha256sum`], { env: { ...baseEnv, PASSWORD: login.password } });
        assert.equal(logged.status, 0, logged.output);
        return `sha256:${logged.output.trim().split(/\s/)[0]}`;
    }

    /** A build of Archon commit `commit`: every image pushed to the CI registry as buildx would, and the workflow's tag. */
    function build(commit: string): { tag: string; archonCommit: string; digests: Record<string, string> } {
        const archon = writeTempFiles({ "archon/README.md": commit }, "archon-src-");
        const git = (...args: string[]) => run("git", ["-C", path.join(archon, "archon"), ...args], { env: { ...process.env, GIT_AUTHOR_NAME: "a", GIT_AUTHOR_EMAIL: "a@example.com", GIT_COMMITTER_NAME: "a", GIT_COMMITTER_EMAIL: "a@example.com" } });
        git("init", "-q");
        git("add", "-A");
        assert.equal(git("commit", "-q", "-m", commit).status, 0);
        const ref = runStep("build-images.yml", "plan", "The image tag names the commit", { "inputs.archon_ref": commit }, archon);
        const { tag, commit: archonCommit } = ref.outputs;
        assert.match(tag, /^sha-[0-9a-f]{7}$/);
        // The image workflow builds the pinned Archon commit only: moving the pin is a pull request of its own.
        const pinFile = path.join(project.dir, "images", "archon-source.json");
        fs.writeFileSync(pinFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(pinFile, "utf8")), commit: archonCommit }, null, 2) + "\n");
        project.git("commit", "-q", "-am", `Pin Archon ${archonCommit}`);
        const digests: Record<string, string> = {};
        for (const dir of ["digests", "packages"]) fs.rmSync(path.join(project.dir, dir), { recursive: true, force: true });
        for (const image of ["archon-server", "archon-mcp", "archon-ui", "archon-agents", "archon-migrate"]) {
            const layout = writeTempFiles({}, "archon-oci-");
            const digest = writeOciImage(layout, tag, `${image} built from ${archonCommit}`);
            const pushed = namespace.run("skopeo", ["copy", "--all", "--preserve-digests", `oci:${layout}:${tag}`, `docker://${CI_REGISTRY}/${image}:${tag}`], { env: baseEnv });
            assert.equal(pushed.status, 0, pushed.output);
            digests[image] = digest;
            runStep("build-images.yml", "build", "Record the digest", {
                "matrix.image": image, "vars.IMAGE_REGISTRY": CI_REGISTRY, "needs.plan.outputs.tag": tag, "steps.push.outputs.digest": digest,
            });
            // The build job's packages artifact (what `docker run` reads from a Python image): test data here.
            if (["archon-server", "archon-mcp", "archon-agents"].includes(image)) {
                fs.mkdirSync(path.join(project.dir, "packages"), { recursive: true });
                fs.writeFileSync(path.join(project.dir, "packages", `${image}.json`), JSON.stringify({ "test-fixture": "0" }));
            }
        }
        return { tag, archonCommit, digests };
    }

    const secrets = () => ({
        "secrets.REGISTRY_PUSH_USERNAME": ci.user, "secrets.REGISTRY_PUSH_PASSWORD": ci.password,
        "secrets.STAGING_REGISTRY_PUSH_USERNAME": stackLogins.staging.push.user, "secrets.STAGING_REGISTRY_PUSH_PASSWORD": stackLogins.staging.push.password,
        "secrets.PRODUCTION_REGISTRY_PUSH_USERNAME": stackLogins.production.push.user, "secrets.PRODUCTION_REGISTRY_PUSH_PASSWORD": stackLogins.production.push.password,
        "vars.IMAGE_REGISTRY": CI_REGISTRY,
        "github.server_url": "https://github.com", "github.repository": "example/archon-infra", "github.run_id": "9001",
    });

    /** build-images.yml's propose job: record, log in, copy into staging, bump; then its pull request, merged. */
    function releaseToStaging(built: { tag: string; archonCommit: string }, archonRef: string): void {
        const values = { ...secrets(), "needs.plan.outputs.tag": built.tag, "needs.plan.outputs.commit": built.archonCommit, "inputs.archon_ref": archonRef };
        runStep("build-images.yml", "propose", "Record the release", values);
        runStep("build-images.yml", "propose", "Log in to the build registry and to staging's", values);
        runStep("build-images.yml", "propose", "Copy into staging's registry by digest, move staging to the tag", values);
        for (const dir of ["digests", "packages"]) fs.rmSync(path.join(project.dir, dir), { recursive: true, force: true });
        openAndMerge(`release/${built.tag}`, ["Pulumi.staging.yaml", `releases/${built.tag}.json`], `Release ${built.tag} to staging`);
    }

    /** promote-production.yml: verify, log in, copy into production, bump; then its pull request, merged. */
    function promote(tag: string, rollback = false): string {
        const values = { ...secrets(), "inputs.image_tag": tag };
        runStep("promote-production.yml", "propose", "Refuse a tag that was not built and scanned clean", values);
        runStep("promote-production.yml", "propose", "Log in to the build registry and to production's", values);
        const copied = runStep("promote-production.yml", "propose", "Copy into production's registry by digest (read back from where the nodes pull)", values);
        runStep("promote-production.yml", "propose", "Set imageTag in Pulumi.production.yaml", values);
        const record = `releases/${tag}.json`;
        const paths = project.git("status", "--porcelain").includes(record) ? ["Pulumi.production.yaml", record] : ["Pulumi.production.yaml"];
        openAndMerge(`promote/production-${tag}`, paths, `${rollback ? "Roll back production to" : "Promote to production:"} ${tag}`);
        return copied.output;
    }

    /** deploy.yml's check, then what `pulumi up` would run: the synth of the committed tag with the committed records. */
    async function deploy(stack: Stack): Promise<Record<string, string>> {
        runStep("deploy.yml", "up", "Refuse a tag whose scan did not pass or that is not in this stack's registry", {
            ...secrets(), "inputs.stack": stack, "vars.PULUMI_BACKEND_URL": "file:///nowhere", "secrets.PULUMI_ACCESS_TOKEN": "t", "secrets.PULUMI_CONFIG_PASSPHRASE": "p",
            "secrets.STATE_ACCESS_KEY_ID": "k", "secrets.STATE_SECRET_ACCESS_KEY": "s", "secrets.HCLOUD_TOKEN": "h",
        });
        const tag = namespace.run("npm", ["run", "-s", "release", "--", "show", "--stack", stack], { cwd: project.dir, env: baseEnv }).output.trim();
        const result = await synth(stack, { imageTag: tag, releasesDir: path.join(project.dir, "releases") });
        return (reveal(result.outputs) as { imageRefs: Record<string, string> }).imageRefs;
    }

    before(async () => {
        for (const [tool, pkg] of [["skopeo", "skopeo"], ["docker-registry", "docker-registry"], ["htpasswd", "apache2-utils"], ["git", "git"]]) requireTool(tool, pkg);
        const [staging, production] = [await synth("staging"), await synth("production")];
        stackLogins.staging = logins(staging);
        stackLogins.production = logins(production);
        project = copyProject("archon-delivery-");
        const hash = run("htpasswd", ["-Bbn", ci.user, ci.password]);
        assert.equal(hash.status, 0, hash.output);
        work = writeTempFiles({
            "ci/htpasswd": hash.output.trim() + "\n",
            // The namespace's own /etc/containers: the registries speak plain HTTP inside it only.
            "containers/policy.json": fs.readFileSync("/etc/containers/policy.json", "utf8"),
            "containers/registries.conf": Object.keys(HOSTS).map((host) => `[[registry]]\nlocation = "${host}"\ninsecure = true\n`).join("\n"),
        }, "archon-delivery-work-");
        fs.writeFileSync(path.join(work, "ci", "config.yml"), `version: 0.1\nstorage:\n  filesystem: {rootdirectory: ${path.join(work, "ci", "data")}}\n  delete: {enabled: false}\nhttp: {addr: "127.0.0.2:80"}\nauth: {htpasswd: {realm: ci, path: ${path.join(work, "ci", "htpasswd")}}}\n`);
        namespace = await TestNamespace.start(HOSTS, { "/etc/containers": path.join(work, "containers") });
        baseEnv = { ...process.env, REGISTRY_AUTH_FILE: path.join(work, "auth.json"), npm_config_update_notifier: "false" };
        servers.push(namespace.spawn(requireTool("docker-registry", "docker-registry"), ["serve", path.join(work, "ci", "config.yml")], path.join(work, "ci.log")));
        for (const [stack, result, pull, push] of [["staging", staging, "127.0.0.3:80", "127.0.0.4:80"], ["production", production, "127.0.0.5:80", "127.0.0.6:80"]] as const) {
            const staged = stageRegistry(result, path.join(work, stack), pull, push, true);
            servers.push(namespace.spawn(staged.command[0], staged.command.slice(1), path.join(work, `${stack}.log`), staged.env));
        }
        for (const host of Object.keys(HOSTS)) {
            let status: number | null = 1;
            for (let i = 0; i < 100 && status !== 0; i++) {
                status = namespace.run("bash", ["-c", `exec 3<>/dev/tcp/${HOSTS[host as keyof typeof HOSTS]}/80`]).status;
                if (status !== 0) await new Promise((r) => setTimeout(r, 100));
            }
            assert.equal(status, 0, `${host} does not answer: ${["ci", "staging", "production"].map((n) => fs.existsSync(path.join(work, `${n}.log`)) ? fs.readFileSync(path.join(work, `${n}.log`), "utf8") : "").join("\n")}`);
        }
        // The build job's docker/login-action.
        const login = namespace.run("sh", ["-c", `printf %s "$PASSWORD" | skopeo login --username '${ci.user}' --password-stdin ci.registry.test`], { env: { ...baseEnv, PASSWORD: ci.password } });
        assert.equal(login.status, 0, login.output);
    });

    after(() => {
        for (const server of servers) if (server.exitCode === null) server.kill("SIGTERM");
        namespace?.stop();
        project?.remove();
        if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    let first: { tag: string; archonCommit: string; digests: Record<string, string> };
    let second: { tag: string; archonCommit: string; digests: Record<string, string> };

    it("a release reaches staging by the digests CI pushed, from staging's own registry", async () => {
        first = build("first");
        releaseToStaging(first, "v0.1.0");
        const record = JSON.parse(fs.readFileSync(path.join(project.dir, "releases", `${first.tag}.json`), "utf8")) as { images: Record<string, string>; copies: { registry: string }[] };
        assert.deepEqual(record.copies.map((c) => c.registry), [STACK_REGISTRY.staging]);
        assert.equal(record.images["archon-ui"], `${CI_REGISTRY}/archon-ui@${first.digests["archon-ui"]}`);
        const refs = await deploy("staging");
        for (const image of ["archon-server", "archon-mcp", "archon-ui", "archon-migrate"]) {
            assert.equal(refs[image], `${STACK_REGISTRY.staging}/${image}:${first.tag}@${first.digests[image]}`);
            // What a node pulls with the stack's pull login is those bytes.
            assert.equal(resolve(`${STACK_REGISTRY.staging}/${image}:${first.tag}`, stackLogins.staging.pull), first.digests[image]);
        }
    });

    it("production refuses the tag until the promotion copied it into production's registry (one line)", () => {
        project.git("checkout", "-q", "-b", "unpromoted");
        const bumped = namespace.run("npm", ["run", "-s", "release", "--", "bump", "--stack", "production", "--tag", first.tag], { cwd: project.dir, env: baseEnv });
        assert.equal(bumped.status, 0, bumped.output);
        const verify = namespace.run("npm", ["run", "-s", "release", "--", "verify", "--stack", "production"], { cwd: project.dir, env: baseEnv });
        assert.equal(verify.status, 2, verify.output);
        assert.equal(verify.output.trim().split("\n").length, 1, verify.output);
        assert.match(verify.output, new RegExp(`^error: releases/${first.tag}\\.json records ${first.tag} in ${CI_REGISTRY}, ${STACK_REGISTRY.staging}, not in ${STACK_REGISTRY.production}: copy it there by digest first`));
        project.git("checkout", "-q", "--", ".");
        project.git("checkout", "-q", "main");
    });

    it("the promotion copies it by digest: the tag CI released resolves to the same digest on staging and production", async () => {
        const output = promote(first.tag);
        assert.match(output, new RegExp(`${STACK_REGISTRY.production}/archon-server:${first.tag}@${first.digests["archon-server"]}: copied from ${CI_REGISTRY}`));
        const refs = await deploy("production");
        for (const image of ["archon-server", "archon-mcp", "archon-ui", "archon-agents", "archon-migrate"]) {
            assert.equal(refs[image], `${STACK_REGISTRY.production}/${image}:${first.tag}@${first.digests[image]}`);
            const onProduction = resolve(`${STACK_REGISTRY.production}/${image}:${first.tag}`, stackLogins.production.pull);
            assert.equal(onProduction, first.digests[image]);
            if (image !== "archon-agents") assert.equal(onProduction, resolve(`${STACK_REGISTRY.staging}/${image}:${first.tag}`, stackLogins.staging.pull), `${image} differs between staging and production`);
        }
        // The whole index came along: the attestation manifest the build attached is there too.
        const index = namespace.run("sh", ["-c", `skopeo inspect --raw docker://${STACK_REGISTRY.production}/archon-ui:${first.tag}`], { env: baseEnv });
        assert.match(index.output, /"vnd\.docker\.reference\.type":"attestation-manifest"/);
        const online = namespace.run("npm", ["run", "-s", "release", "--", "verify", "--stack", "production", "--online"], { cwd: project.dir, env: baseEnv });
        assert.equal(online.status, 0, online.output);
        assert.match(online.output, /registry\.archon\.example\.com serves every recorded digest/);
    });

    it("a second release, promoted; then a rollback through the same pull request path, which the next push to main keeps", async () => {
        second = build("second");
        releaseToStaging(second, "main");
        promote(second.tag);
        assert.equal((await deploy("production"))["archon-server"], `${STACK_REGISTRY.production}/archon-server:${second.tag}@${second.digests["archon-server"]}`);

        // Roll back: the earlier tag's images are still in production's registry (deletes are off), nothing is copied.
        const output = promote(first.tag, true);
        assert.match(output, new RegExp(`archon-server:${first.tag}@${first.digests["archon-server"]}: already there`));
        assert.doesNotMatch(output, /copied from/);
        assert.match(project.git("log", "-1", "--format=%s", "HEAD^2"), new RegExp(`^Roll back production to ${first.tag}$`));
        assert.equal((await deploy("production"))["archon-server"], `${STACK_REGISTRY.production}/archon-server:${first.tag}@${first.digests["archon-server"]}`);
        // The next push to main (any change) deploys what main holds: still the rolled-back tag.
        fs.appendFileSync(path.join(project.dir, "README.md"), "\n");
        project.git("commit", "-q", "-am", "an unrelated change");
        assert.equal(namespace.run("npm", ["run", "-s", "release", "--", "show", "--stack", "production"], { cwd: project.dir, env: baseEnv }).output.trim(), first.tag);
    });

    it("a copy never moves a tag that names other bytes in the destination (tags are immutable)", () => {
        // Someone pushed other bytes under the next tag's name to production (with the push login).
        const third = build("third");
        const layout = writeTempFiles({}, "archon-oci-");
        writeOciImage(layout, "rogue", "not what CI built");
        const pushedOver = namespace.run("skopeo", ["copy", "--all", `oci:${layout}:rogue`, `docker://registry-push.archon.example.com/archon-mcp:${third.tag}`], { env: baseEnv });
        assert.equal(pushedOver.status, 0, pushedOver.output);
        releaseToStaging(third, "main");
        const values = { ...secrets(), "inputs.image_tag": third.tag };
        runStep("promote-production.yml", "propose", "Log in to the build registry and to production's", values);
        const copy = namespace.run("npm", ["run", "-s", "release", "--", "copy", "--tag", third.tag, "--stack", "production", "--run", "https://github.com/example/archon-infra/actions/runs/9002"], { cwd: project.dir, env: baseEnv });
        assert.equal(copy.status, 2, copy.output);
        assert.match(copy.output, new RegExp(`^error: ${STACK_REGISTRY.production}/archon-mcp:${third.tag} already names sha256:[0-9a-f]{64}, not the recorded ${third.digests["archon-mcp"]}: tags are immutable, so the copy stops`, "m"));
        assert.equal(project.git("status", "--porcelain"), "", "the record names no copy it did not make");
    });
});
