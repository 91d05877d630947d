/**
 * A private network and mount namespace for tests that talk to registries by their real host
 * names: only loopback exists in it (nothing can leave the machine, no DNS query is sent), and
 * /etc/hosts is the test's own, so `registry.archon.example.com` is a loopback address where the
 * test's docker-registry listens on port 80. Commands run inside with nsenter (entering the mount namespace
 * starts them in `/`, so `cwd` becomes nsenter's --wd). Needs root, as the other namespace tests (.ci/run runs the
 * suite as root).
 */
import { ChildProcess, spawn, spawnSync, SpawnSyncOptions } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { requireTool } from "./helpers";

export class TestNamespace {
    private constructor(private readonly holder: ChildProcess, private readonly dir: string) {}

    /**
     * Starts the namespace; `hosts` maps host names to loopback addresses (127.x.y.z), `binds` mounts
     * the test's directories over system ones inside it only (e.g. its own /etc/containers).
     */
    static async start(hosts: Record<string, string>, binds: Record<string, string> = {}): Promise<TestNamespace> {
        requireTool("unshare", "util-linux");
        requireTool("nsenter", "util-linux");
        requireTool("ip", "iproute2");
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "archon-netns-"));
        const hostsFile = path.join(dir, "hosts");
        fs.writeFileSync(hostsFile, ["127.0.0.1 localhost", ...Object.entries(hosts).map(([name, address]) => `${address} ${name}`)].join("\n") + "\n");
        const mounts = [[hostsFile, "/etc/hosts"], ...Object.entries(binds).map(([target, source]) => [source, target])].map(([source, target]) => `mount --bind '${source}' '${target}'`).join(" && ");
        const holder = spawn("unshare", ["-n", "-m", "--propagation", "private", "sh", "-c", `ip link set lo up && ${mounts} && echo ready && exec sleep 86400`], { stdio: ["ignore", "pipe", "pipe"] });
        let output = "";
        await new Promise<void>((resolve, reject) => {
            holder.stdout!.on("data", (chunk) => {
                output += chunk;
                if (output.includes("ready")) resolve();
            });
            holder.stderr!.on("data", (chunk) => (output += chunk));
            holder.on("exit", (code) => reject(new Error(`the test namespace did not start (${code}): ${output}`)));
        });
        return new TestNamespace(holder, dir);
    }

    private argv(command: string, args: string[], cwd?: string): string[] {
        return ["-t", String(this.holder.pid), "-n", "-m", ...(cwd ? [`--wd=${cwd}`] : []), command, ...args];
    }

    /** Runs a command inside; returns status and combined output. */
    run(command: string, args: string[], options: SpawnSyncOptions = {}): { status: number | null; output: string } {
        const result = spawnSync("nsenter", this.argv(command, args, options.cwd?.toString()), { encoding: "utf8", timeout: 300_000, ...options });
        return { status: result.status, output: `${result.stdout ?? ""}${result.stderr ?? ""}${result.error ? String(result.error) : ""}` };
    }

    /**
     * Starts a long-running command inside (a registry), its output appended to `logFile`: a file,
     * not a pipe, since {@link run} blocks Node's event loop and a full pipe would stall the server.
     */
    spawn(command: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): ChildProcess {
        const fd = fs.openSync(logFile, "a");
        const child = spawn("nsenter", this.argv(command, args), { env, stdio: ["ignore", fd, fd] });
        fs.closeSync(fd);
        return child;
    }

    /** Stops the namespace's holder; processes started inside are stopped by their owners. */
    stop(): void {
        if (this.holder.exitCode === null) this.holder.kill("SIGKILL");
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}
