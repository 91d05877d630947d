/**
 * A Docker Hub pull-through cache for the system test (test/compose-engine.spec.ts): the real
 * docker-registry (distribution 2.8, Debian's) inside the engine's network namespace, on the
 * address the engine's resolver gives the cache's host name, serving TLS with a self-signed
 * certificate (the engine lists the host among its insecure registries) and htpasswd auth with
 * the stack's Docker Hub credentials, so a pull succeeds only when the daemon hands the cache the
 * credentials the client sent. A real cache proxies Docker Hub (`proxy.remoteurl`); none is
 * reachable here, so the test pushes the images it serves into it first.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Engine } from "./engine";

const BOOTSTRAP_CERT = path.join(__dirname, "..", "..", "components", "compose", "nginx", "bootstrap-cert.py");

export class RegistryMirror {
    private process?: ChildProcess;
    readonly hostname: string;
    readonly port: string;
    readonly dir: string;
    readonly log: string;

    /** `host` is the cache's `name:port`, as image references and dockerd's insecure registries name it. */
    constructor(private readonly engine: Engine, readonly host: string, readonly address: string) {
        [this.hostname, this.port] = host.split(":");
        this.dir = path.join(engine.dir, "mirror");
        this.log = path.join(this.dir, "registry.log");
    }

    /** Starts the cache, admitting `username`/`password`; throws when it does not answer in 30 s. */
    async start(username: string, password: string): Promise<void> {
        fs.mkdirSync(path.join(this.dir, "data"), { recursive: true });
        const cert = spawnSync("python3", [BOOTSTRAP_CERT, this.hostname, path.join(this.dir, "tls")], { encoding: "utf8" });
        if (cert.status !== 0) throw new Error(`bootstrap-cert.py: ${cert.stderr}`);
        const htpasswd = spawnSync("htpasswd", ["-Bbn", username, password], { encoding: "utf8" });
        if (htpasswd.status !== 0) throw new Error(`htpasswd: ${htpasswd.stderr}`);
        fs.writeFileSync(path.join(this.dir, "htpasswd"), htpasswd.stdout);
        fs.writeFileSync(path.join(this.dir, "config.yml"), [
            "version: 0.1",
            "log:",
            "  level: info",
            "storage:",
            "  filesystem:",
            `    rootdirectory: ${this.dir}/data`,
            "http:",
            `  addr: ${this.address}:${this.port}`,
            "  tls:",
            `    certificate: ${this.dir}/tls/fullchain.pem`,
            `    key: ${this.dir}/tls/privkey.pem`,
            "auth:",
            "  htpasswd:",
            "    realm: docker-hub-mirror",
            `    path: ${this.dir}/htpasswd`,
            "",
        ].join("\n"));
        const log = fs.openSync(this.log, "a");
        this.process = spawn("nsenter", ["-t", String(this.engine.pid), "-n", "docker-registry", "serve", path.join(this.dir, "config.yml")], { stdio: ["ignore", log, log] });
        fs.closeSync(log);
        for (let i = 0; i < 60; i++) {
            if (this.process.exitCode !== null) break;
            const probe = this.engine.inHostNetwork(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", "--resolve", `${this.host}:${this.address}`, `https://${this.host}/v2/`]);
            if (probe.output === "401") return;
            await new Promise((resolve) => setTimeout(resolve, 500));
        }
        throw new Error(`the registry mirror did not start: ${fs.readFileSync(this.log, "utf8").slice(-2000)}`);
    }

    /** What the cache logged (its access log names the authenticated user of each request). */
    logs(): string {
        return fs.readFileSync(this.log, "utf8");
    }

    stop(): void {
        if (this.process && this.process.exitCode === null) this.process.kill("SIGTERM");
    }
}
