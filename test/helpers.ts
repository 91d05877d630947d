/**
 * Shared test helpers: the synth of a stack (cached per stack + overrides, since the program is
 * deterministic), lookups over its resources, and running the real validators installed by .ci/run.
 */
import { spawnSync, SpawnSyncOptions } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { PROJECT_DIR } from "../scripts/lib/stack-config";
import { ResourceRecord, SynthConfigError, SynthResult, reveal, synthesize } from "../scripts/lib/synthesize";
import { SYNTH_CACHE_ENV } from "./synth-cache-dir";

const cache = new Map<string, Promise<SynthResult>>();
/** Runs share Pulumi's process-wide runtime state, so they queue one after another. */
let queue: Promise<unknown> = Promise.resolve();

function enqueue<T>(run: () => Promise<T>): Promise<T> {
    const next = queue.catch(() => undefined).then(run);
    queue = next;
    return next;
}

/** What the run-wide cache holds for one synth: its result, or the one-line refusal of its config. */
type CachedSynth = { result: SynthResult } | { refused: { message: string; resourcesRegistered: number } };

function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (err) {
        return (err as NodeJS.ErrnoException).code === "EPERM";
    }
}

/**
 * One synth per distinct stack + overrides for the whole test run, also across mocha's parallel
 * workers: the first process to ask takes `<key>.lock` and writes `<key>.json`; the others wait for
 * the file. The directory is the run's own (test/synth-cache-dir.ts), so nothing outlives the run.
 * A refusal of the config is cached like a result; any other failure is not (each asker sees it).
 */
async function synthOnce(stack: string, overrides: Record<string, unknown>, dir: string): Promise<SynthResult> {
    // HCLOUD_TOKEN is the one environment variable the program reads (config.ts); a run may also
    // test another copy of the checkout (test/private-checkout.spec.ts).
    const digest = crypto.createHash("sha256").update(JSON.stringify([PROJECT_DIR, stack, overrides, process.env.HCLOUD_TOKEN ?? null])).digest("hex").slice(0, 32);
    const file = path.join(dir, `${digest}.json`);
    const lock = `${file}.lock`;
    for (;;) {
        if (fs.existsSync(file)) {
            const cached = JSON.parse(fs.readFileSync(file, "utf8")) as CachedSynth;
            if ("refused" in cached) throw new SynthConfigError(cached.refused.message, cached.refused.resourcesRegistered);
            return cached.result;
        }
        let taken = false;
        try {
            fs.writeFileSync(lock, String(process.pid), { flag: "wx" });
            taken = true;
        } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        }
        if (taken) {
            let cached: CachedSynth;
            try {
                cached = { result: await enqueue(() => synthesize(stack, overrides)) };
            } catch (err) {
                if (!(err instanceof SynthConfigError)) {
                    fs.rmSync(lock, { force: true });
                    throw err;
                }
                cached = { refused: { message: err.message, resourcesRegistered: err.resourcesRegistered } };
            }
            fs.writeFileSync(`${file}.${process.pid}`, JSON.stringify(cached));
            fs.renameSync(`${file}.${process.pid}`, file);
            // Read back like every other process does, so all see the same plain JSON.
            continue;
        }
        // Another process synthesizes it: wait for its file, or take over if that process died.
        let holder = 0;
        try {
            holder = Number(fs.readFileSync(lock, "utf8"));
        } catch (err) {
            if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
            throw err;
        }
        if (holder > 0 && !alive(holder) && !fs.existsSync(file)) fs.rmSync(lock, { force: true });
        else await sleep(100);
    }
}

/** The synth of `stack` with `overrides` (cached for the run: runs are deterministic, and each starts Pulumi's runner). */
export function synth(stack: string, overrides: Record<string, unknown> = {}): Promise<SynthResult> {
    const key = JSON.stringify([stack, overrides]);
    if (!cache.has(key)) {
        const dir = process.env[SYNTH_CACHE_ENV];
        cache.set(key, dir ? synthOnce(stack, overrides, dir) : enqueue(() => synthesize(stack, overrides)));
    }
    return cache.get(key)!;
}

/** A fresh, uncached synth (for determinism checks). */
export function synthAgain(stack: string, overrides: Record<string, unknown> = {}): Promise<SynthResult> {
    return enqueue(() => synthesize(stack, overrides));
}

/**
 * Runs `body` as the Pulumi program of `stack` (under the same mocks as the synth) and returns what
 * it returns, so a test can inspect component outputs in place, e.g. with `pulumi.isSecret`.
 */
export function inProgram<T>(stack: string, overrides: Record<string, unknown>, body: () => Promise<T>): Promise<T> {
    return enqueue(async () => {
        let value: T | undefined;
        await synthesize(stack, overrides, async () => {
            value = await body();
        });
        return value as T;
    });
}

/** Resources of one type token. */
export function ofType(result: SynthResult, type: string): ResourceRecord[] {
    return result.resources.filter((r) => r.type === type);
}

/** The one resource of `type` named `name`; fails with the names that exist otherwise. */
export function named(result: SynthResult, type: string, name: string): ResourceRecord {
    const all = ofType(result, type);
    const found = all.find((r) => r.name === name);
    if (!found) throw new Error(`no ${type} named ${name}; there are: ${all.map((r) => r.name).join(", ") || "none"}`);
    return found;
}

/** A resource's inputs with secrets unwrapped, as the provider receives them. */
export function plainInputs(resource: ResourceRecord): Record<string, any> {
    return reveal(resource.inputs) as Record<string, any>;
}

/** Fails the test when a validator that .ci/run installs is missing: a validator is never skipped. */
export function requireTool(command: string, debianPackage: string): string {
    const found = spawnSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" });
    if (found.status !== 0) throw new Error(`${command} is not installed: apt-get install -y ${debianPackage} (.ci/run does)`);
    return found.stdout.trim();
}

/** Runs a command; returns status and combined output. */
export function run(command: string, args: string[], options: SpawnSyncOptions = {}): { status: number | null; output: string } {
    const result = spawnSync(command, args, { encoding: "utf8", timeout: 120_000, ...options });
    return { status: result.status, output: `${result.stdout ?? ""}${result.stderr ?? ""}${result.error ? String(result.error) : ""}` };
}

/** A fresh temporary directory holding `files` (relative path -> text). */
export function writeTempFiles(files: Record<string, string>, prefix = "archon-test-"): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    for (const [file, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
        fs.writeFileSync(path.join(dir, file), text);
    }
    return dir;
}

/** A minimal kubeconfig for config `kubeconfig` (target kubernetes). */
export const KUBECONFIG = [
    "apiVersion: v1",
    "kind: Config",
    "clusters: [{name: c, cluster: {server: 'https://203.0.113.10:6443'}}]",
    "users: [{name: u, user: {token: abc}}]",
    "contexts: [{name: x, context: {cluster: c, user: u}}]",
    "current-context: x",
].join("\n");

/**
 * Every secret value the stack generated (passwords, JWT secret, API keys), from its secret outputs,
 * for leak checks. Fails when the outputs hold none, so a leak check can never pass vacuously.
 */
export function generatedSecretValues(result: SynthResult): string[] {
    const found: string[] = [];
    const walk = (value: unknown, inSecret: boolean): void => {
        if (typeof value === "string" && inSecret) found.push(value);
        else if (Array.isArray(value)) value.forEach((v) => walk(v, inSecret));
        else if (value !== null && typeof value === "object") {
            for (const [key, v] of Object.entries(value)) walk(v, inSecret || key === "$secret");
        }
    };
    walk(result.outputs.passwords, false);
    walk(result.outputs.supabase, false);
    if (found.length === 0 || found.some((v) => v.length < 20)) throw new Error("the synth's secret outputs are missing or not generated values");
    return found;
}

/** A loopback TCP port nothing listens on right now, for a server a test starts. */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

/**
 * Runs a synth's rendered `compose-up` script for real in bash, against a fake `docker` that logs
 * its arguments (and fails `pull` with `pullStatus`) and a fake `cloud-init`; returns the result and
 * the docker calls in order.
 */
export function runComposeUp(result: SynthResult, pullStatus = 0): { status: number | null; output: string; calls: string[] } {
    requireTool("bash", "bash");
    const create = plainInputs(named(result, "command:remote:Command", "compose-up")).create as string;
    const dir = writeTempFiles({
        "bin/docker": `#!/bin/sh\necho "$*" >>"$LOG"\ncase "$2" in pull) echo "manifest unknown" >&2; exit ${pullStatus};; esac\n`,
        "bin/cloud-init": "#!/bin/sh\nexit 0\n",
        "project/.keep": "",
    });
    for (const tool of ["docker", "cloud-init"]) fs.chmodSync(path.join(dir, "bin", tool), 0o755);
    const script = create.replace(/^export PROJECT_DIR=.*$/m, `export PROJECT_DIR='${dir}/project'`);
    const log = path.join(dir, "docker.log");
    const ran = run("bash", ["-c", script], { env: { ...process.env, PATH: `${dir}/bin:${process.env.PATH}`, LOG: log } });
    const calls = fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : [];
    fs.rmSync(dir, { recursive: true, force: true });
    return { ...ran, calls };
}
