/**
 * The stack's private registry as it runs in its container, for tests: the rendered serve.sh
 * (under BusyBox sh, the image's /bin/sh) starting the REAL docker-registry (Debian's distribution
 * 2.8) twice with the rendered configs and htpasswd files. Only listen addresses and on-disk
 * locations move into the test's directory.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import {
    REGISTRY_CONFIG_PATH, REGISTRY_DATA_PATH, REGISTRY_HTPASSWD_PATH, REGISTRY_PUSH_CONFIG_PATH, REGISTRY_PUSH_HTPASSWD_PATH, REGISTRY_SERVE_PATH,
} from "../components/registry/registry";
import { reveal, SynthResult } from "../scripts/lib/synthesize";
import { requireTool } from "./helpers";

/**
 * The registry container's file at `containerPath`: on Compose as the project renders it (one file
 * per mount), else as the Registry component registered it (what the Kubernetes ConfigMap and
 * Secret carry).
 */
export function registryFile(result: SynthResult, containerPath: string): string {
    const suffix = containerPath.startsWith("/auth/") ? `registry${containerPath}` : `registry/${containerPath.slice(1).replace(/\//g, "_")}`;
    const key = Object.keys(result.files).find((file) => file.startsWith("project/") && file.endsWith(suffix));
    if (key) return result.files[key];
    const registry = Object.entries(result.componentOutputs).find(([urn]) => /archon:infra:Registry::registry$/.test(urn))?.[1];
    const files = reveal(registry?.files ?? {}) as Record<string, string>;
    if (typeof files[containerPath] !== "string") throw new Error(`the synth has no registry file ${containerPath}; there are: ${Object.keys(files).join(", ")}`);
    return files[containerPath];
}

export interface StagedRegistry {
    /** argv of the container's command, with the staged paths. */
    command: string[];
    /** Environment: PATH finds `registry` (Debian's docker-registry) as the image's /bin/registry. */
    env: NodeJS.ProcessEnv;
    /** The shared data directory. */
    data: string;
}

/**
 * Writes the rendered registry files into `dir`, with the read-only instance listening on
 * `readAddr` and the read-write one on `pushAddr` (host:port); `data` may be shared with nothing else.
 * With `plainHttp`, the public URL each instance writes into its Location headers is http:// (no
 * TLS proxy in front in that test; the stack's ingress terminates TLS).
 */
export function stageRegistry(result: SynthResult, dir: string, readAddr: string, pushAddr: string, plainHttp = false): StagedRegistry {
    const registryBinary = requireTool("docker-registry", "docker-registry");
    const busybox = requireTool("busybox", "busybox-static");
    const at = (containerPath: string) => path.join(dir, containerPath.slice(1));
    const data = at(REGISTRY_DATA_PATH);
    fs.mkdirSync(data, { recursive: true });
    fs.mkdirSync(path.join(dir, "bin"), { recursive: true });
    fs.symlinkSync(registryBinary, path.join(dir, "bin", "registry"));
    for (const [configPath, addr] of [[REGISTRY_CONFIG_PATH, readAddr], [REGISTRY_PUSH_CONFIG_PATH, pushAddr]] as const) {
        const config = parseYaml(registryFile(result, configPath)) as {
            http: { addr: string; host: string; debug?: { addr: string } };
            storage: { filesystem: { rootdirectory: string } };
            auth: { htpasswd: { path: string } };
        };
        config.http.addr = addr;
        if (plainHttp) config.http.host = config.http.host.replace(/^https:/, "http:");
        if (config.http.debug) config.http.debug.addr = "127.0.0.1:0";
        config.storage.filesystem.rootdirectory = data;
        config.auth.htpasswd.path = at(config.auth.htpasswd.path);
        fs.mkdirSync(path.dirname(at(configPath)), { recursive: true });
        fs.writeFileSync(at(configPath), toYaml(config));
    }
    for (const file of [REGISTRY_HTPASSWD_PATH, REGISTRY_PUSH_HTPASSWD_PATH]) {
        fs.mkdirSync(path.dirname(at(file)), { recursive: true });
        fs.writeFileSync(at(file), registryFile(result, file));
    }
    const serve = registryFile(result, REGISTRY_SERVE_PATH).split(REGISTRY_PUSH_CONFIG_PATH).join(at(REGISTRY_PUSH_CONFIG_PATH)).split(REGISTRY_CONFIG_PATH).join(at(REGISTRY_CONFIG_PATH));
    fs.writeFileSync(at(REGISTRY_SERVE_PATH), serve);
    return { command: [busybox, "sh", at(REGISTRY_SERVE_PATH)], env: { ...process.env, PATH: `${path.join(dir, "bin")}:${process.env.PATH}` }, data };
}

/** Starts a staged registry; its output accumulates in `log`. */
export function startRegistry(staged: StagedRegistry, log: { text: string }): ChildProcess {
    const child = spawn(staged.command[0], staged.command.slice(1), { env: staged.env, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout?.on("data", (chunk) => (log.text += chunk));
    child.stderr?.on("data", (chunk) => (log.text += chunk));
    return child;
}
