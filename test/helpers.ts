/**
 * Shared test helpers: the synth of a stack (cached per stack + overrides, since the program is
 * deterministic), lookups over its resources, and running the real validators installed by .ci/run.
 */
import { spawnSync, SpawnSyncOptions } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { ResourceRecord, SynthResult, reveal, synthesize } from "../scripts/lib/synthesize";

const cache = new Map<string, Promise<SynthResult>>();
/** Runs share Pulumi's process-wide runtime state, so they queue one after another. */
let queue: Promise<unknown> = Promise.resolve();

function enqueue<T>(run: () => Promise<T>): Promise<T> {
    const next = queue.catch(() => undefined).then(run);
    queue = next;
    return next;
}

/** The synth of `stack` with `overrides` (cached: runs are deterministic, and each costs ~0.5 s). */
export function synth(stack: string, overrides: Record<string, unknown> = {}): Promise<SynthResult> {
    const key = JSON.stringify([stack, overrides]);
    if (!cache.has(key)) cache.set(key, enqueue(() => synthesize(stack, overrides)));
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
