/**
 * A real Docker engine for the system test (test/compose-engine.spec.ts): Debian's dockerd 20.10 in
 * a private network and mount namespace, so its bridges, iptables rules and mounts never touch the
 * machine; images built with `docker import` from root filesystems assembled here (the real
 * program with its shared libraries where Debian ships it, test/engine/standin.sh elsewhere).
 *
 * Inside the namespaces the engine sees the Compose host's paths: the data volume at
 * /mnt/archon-data, its data root at /var/lib/docker (Alloy and cAdvisor read it), a resolver of
 * its own (dnsmasq on the host's "public" interface, 203.0.113.1 and 2001:db8::1, documentation
 * ranges on the loopback of this namespace only) naming the stack's public hosts
 * and the SMTP server, and the daemon configuration the program renders
 * (components/hetzner/docker-daemon.ts).
 */
import { ChildProcess, execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** The simulated host's public addresses and the SMTP server's, inside the engine's namespace. */
export const PUBLIC_IPV4 = "203.0.113.1";
export const PUBLIC_IPV6 = "2001:db8::1";
export const SMTP_IPV4 = "203.0.113.25";

export interface EngineOptions {
    /** daemon.json as rendered. */
    daemonConfig: string;
    /** Public host names the resolver answers with the host's public addresses. */
    publicHosts: string[];
    /** Further names and their IPv4 address (the SMTP server). */
    otherHosts: Record<string, string>;
    /** Registries the engine may reach over TLS without verifying the certificate (the bootstrap one). */
    insecureRegistries: string[];
}

export class Engine {
    readonly dir: string;
    readonly socket: string;
    readonly env: NodeJS.ProcessEnv;
    /** The namespace holder's PID: dockerd itself (bash execs it). */
    pid = 0;
    private process?: ChildProcess;

    constructor(prefix = "archon-engine-") {
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
        this.socket = path.join(this.dir, "docker.sock");
        this.env = { ...process.env, DOCKER_HOST: `unix://${this.socket}`, DOCKER_CONFIG: path.join(this.dir, "client") };
    }

    /** Starts dockerd; throws (never skips) when it does not answer within a minute. */
    async start(options: EngineOptions): Promise<void> {
        const d = this.dir;
        fs.mkdirSync(path.join(d, "volume"));
        fs.mkdirSync(path.join(d, "data"));
        fs.writeFileSync(path.join(d, "daemon.json"), options.daemonConfig);
        fs.writeFileSync(path.join(d, "resolv.conf"), `nameserver ${PUBLIC_IPV4}\n`);
        const addresses = [
            ...options.publicHosts.flatMap((host) => [`--address=/${host}/${PUBLIC_IPV4}`, `--address=/${host}/${PUBLIC_IPV6}`]),
            ...Object.entries(options.otherHosts).map(([host, ip]) => `--address=/${host}/${ip}`),
        ];
        const setup = [
            "set -e",
            "ip link set lo up",
            // The host's public addresses (and the SMTP server's) on the namespace's loopback.
            `ip addr add ${PUBLIC_IPV4}/32 dev lo`,
            ...Object.values(options.otherHosts).map((ip) => `ip addr add ${ip}/32 dev lo`),
            `ip -6 addr add ${PUBLIC_IPV6}/128 dev lo`,
            // The host's paths, private to this mount namespace.
            "mount -t tmpfs tmpfs /mnt",
            `mkdir /mnt/archon-data && mount --bind ${d}/volume /mnt/archon-data`,
            "mount -t tmpfs tmpfs /var/lib",
            `mkdir /var/lib/docker && mount --bind ${d}/data /var/lib/docker`,
            `mount --bind ${d}/resolv.conf /etc/resolv.conf`,
            `dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces --listen-address=${PUBLIC_IPV4} --user=root --pid-file=${d}/dnsmasq.pid ${addresses.join(" ")} &`,
            `echo $! > ${d}/dnsmasq.bg`,
            `exec dockerd --config-file ${d}/daemon.json --data-root /var/lib/docker --exec-root ${d}/exec --pidfile ${d}/dockerd.pid`
                + ` -H unix://${this.socket} --storage-driver vfs --experimental`
                + options.insecureRegistries.map((r) => ` --insecure-registry ${r}`).join(""),
        ].join("\n");
        fs.writeFileSync(path.join(d, "setup.sh"), setup);
        const log = fs.openSync(path.join(d, "dockerd.log"), "a");
        this.process = spawn("unshare", ["-n", "-m", "--propagation", "private", "bash", path.join(d, "setup.sh")], { stdio: ["ignore", log, log], detached: true });
        this.pid = this.process.pid!;
        for (let i = 0; i < 120; i++) {
            if (this.process.exitCode !== null) break;
            if (fs.existsSync(this.socket) && spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], { env: this.env }).status === 0) return;
            await new Promise((resolve) => setTimeout(resolve, 500));
        }
        throw new Error(`dockerd did not start: ${fs.readFileSync(path.join(d, "dockerd.log"), "utf8").slice(-3000)}`);
    }

    /** The docker CLI against this engine; throws with its output when it fails. */
    docker(args: string[], options: { input?: string | Buffer; cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
        const result = spawnSync("docker", args, { env: { ...this.env, ...options.env }, cwd: options.cwd, input: options.input, encoding: "utf8", maxBuffer: 64 << 20 });
        if (result.status !== 0) throw new Error(`docker ${args.join(" ")}: ${result.stdout}${result.stderr}`);
        return result.stdout;
    }

    /** Runs `command` in the engine's network namespace (the host's side of the published ports). */
    inHostNetwork(command: string[], input?: string): { status: number | null; output: string } {
        const result = spawnSync("nsenter", ["-t", String(this.pid), "-n", ...command], { input, encoding: "utf8", timeout: 300_000 });
        return { status: result.status, output: `${result.stdout ?? ""}${result.stderr ?? ""}` };
    }

    /** The command names of dockerd's child processes (from /proc: no procps needed). */
    children(): string[] {
        return fs.readdirSync("/proc").filter((entry) => /^\d+$/.test(entry)).flatMap((pid) => {
            try {
                const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
                // pid (comm) state ppid ...: comm may hold spaces, so split after its closing parenthesis.
                const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
                return ppid === this.pid ? [stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"))] : [];
            } catch {
                return [];
            }
        });
    }

    /** Stops every container and dockerd (by PID), then removes the temporary directory. */
    async stop(): Promise<void> {
        if (this.process && this.process.exitCode === null) {
            spawnSync("sh", ["-c", "ids=$(docker ps -aq); [ -z \"$ids\" ] || docker rm -f $ids"], { env: this.env, timeout: 120_000 });
            const dnsmasq = path.join(this.dir, "dnsmasq.bg");
            if (fs.existsSync(dnsmasq)) killQuietly(Number(fs.readFileSync(dnsmasq, "utf8").trim()));
            process.kill(this.pid, "SIGTERM");
            for (let i = 0; i < 60 && this.process.exitCode === null && this.process.signalCode === null; i++) await new Promise((resolve) => setTimeout(resolve, 500));
            if (this.process.exitCode === null && this.process.signalCode === null) process.kill(this.pid, "SIGKILL");
        }
        spawnSync("rm", ["-rf", this.dir]);
    }
}

/** Copies `file` (resolved) and every shared library `ldd` names for it into `root` at the same paths. */
export function copyWithLibraries(root: string, file: string, as = file): void {
    const target = path.join(root, as);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.copyFileSync(fs.realpathSync(file), target);
    fs.chmodSync(target, fs.statSync(file).mode);
    const ldd = spawnSync("ldd", [file], { encoding: "utf8" });
    for (const line of (ldd.stdout ?? "").split("\n")) {
        const match = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
        if (!match) continue;
        const library = match[1];
        const destination = path.join(root, library);
        if (fs.existsSync(destination)) continue;
        fs.mkdirSync(path.dirname(destination), { recursive: true });
        fs.copyFileSync(fs.realpathSync(library), destination);
    }
}

/** Copies a directory tree (files and symlinks) from the host into `root` at the same path. */
export function copyTree(root: string, directory: string): void {
    execFileSync("sh", ["-c", `tar -C / -ch "${directory.replace(/^\//, "")}" | tar -C "${root}" -x`]);
}

/** A root filesystem with static busybox (/bin/busybox and its applets) and an /etc/passwd. */
export function baseRoot(users: Record<string, number> = {}): string {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "archon-rootfs-"));
    // The image's / : mkdtemp makes it 0700, which no container user but root could traverse.
    fs.chmodSync(root, 0o755);
    for (const dir of ["bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin", "etc", "tmp", "var/run", "proc", "sys", "dev"]) fs.mkdirSync(path.join(root, dir), { recursive: true });
    fs.chmodSync(path.join(root, "tmp"), 0o1777);
    fs.copyFileSync(fs.realpathSync("/bin/busybox"), path.join(root, "bin/busybox"));
    fs.chmodSync(path.join(root, "bin/busybox"), 0o755);
    const applets = spawnSync("/bin/busybox", ["--list"], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
    for (const applet of applets) {
        if (!fs.existsSync(path.join(root, "bin", applet))) fs.symlinkSync("busybox", path.join(root, "bin", applet));
    }
    const all = { root: 0, nobody: 65534, ...users };
    fs.writeFileSync(path.join(root, "etc/passwd"), Object.entries(all).map(([name, uid]) => `${name}:x:${uid}:${uid}:${name}:/tmp:/bin/sh\n`).join(""));
    fs.writeFileSync(path.join(root, "etc/group"), Object.entries(all).map(([name, uid]) => `${name}:x:${uid}:\n`).join(""));
    fs.writeFileSync(path.join(root, "etc/nsswitch.conf"), "passwd: files\ngroup: files\nhosts: files dns\n");
    return root;
}

/** `docker import` of `root` as `tag` with Dockerfile-style `changes`; removes `root`. */
export function importImage(engine: Engine, root: string, tag: string, changes: string[]): void {
    const tar = spawnSync("tar", ["-C", root, "-c", "."], { maxBuffer: 2 * 1024 ** 3 });
    if (tar.status !== 0) throw new Error(`tar ${root}: ${tar.stderr}`);
    engine.docker(["import", ...changes.flatMap((c) => ["--change", c]), "-", tag], { input: tar.stdout });
    fs.rmSync(root, { recursive: true, force: true });
}

/** Sends SIGTERM to `pid` when it still runs. */
export function killQuietly(pid: number): void {
    try {
        process.kill(pid);
    } catch {
        // already gone
    }
}
