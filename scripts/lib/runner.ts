/**
 * Runs the program as `pulumi up` does: starts `@pulumi/pulumi/cmd/run` in a child node process with
 * the argv and environment the Node.js language host builds (pulumi/pulumi
 * sdk/nodejs/cmd/pulumi-language-nodejs/main.go: `execRuntime`, `constructArguments`,
 * `constructConfig`, `constructConfigSecretKeys`, `parseOptions`), and serves it the engine's two
 * gRPC endpoints: a resource monitor (Pulumi's own mock monitor, with the synth's mocks) and an
 * engine that receives its log messages. The child is the unmodified runner: no preload, no flags
 * of ours, so what loads here loads under the CLI.
 */
import { spawn } from "child_process";
import { EventEmitter } from "events";
import * as path from "path";
import * as grpc from "@grpc/grpc-js";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import * as engineRpc from "@pulumi/pulumi/proto/engine_grpc_pb";
import * as engineProto from "@pulumi/pulumi/proto/engine_pb";
import * as resourceRpc from "@pulumi/pulumi/proto/resource_grpc_pb";
import * as resourceProto from "@pulumi/pulumi/proto/resource_pb";
import { ProjectFile, StackConfig } from "./stack-config";

/** The runtime options the language host reads from Pulumi.yaml (`parseOptions`). */
export interface NodeRuntimeOptions {
    typescript: boolean;
    tsconfig?: string;
    nodeargs: string;
}

export function runtimeOptions(project: ProjectFile): NodeRuntimeOptions {
    const options = typeof project.runtime === "string" ? {} : project.runtime.options ?? {};
    // parseOptions: typescript defaults to true.
    return {
        typescript: options.typescript === undefined ? true : options.typescript === true,
        tsconfig: typeof options.tsconfig === "string" ? options.tsconfig : undefined,
        nodeargs: typeof options.nodeargs === "string" ? options.nodeargs : "",
    };
}

/** shlex.Split as the language host applies it to `nodeargs`: words, with '...' and "..." quoting. */
export function splitArgs(text: string): string[] {
    const words: string[] = [];
    for (const match of text.matchAll(/"((?:\\.|[^"\\])*)"|'([^']*)'|(\S+)/g)) words.push(match[1] ?? match[2] ?? match[3]);
    return words;
}

/** The command line the language host starts: node, nodeargs, the runner and its flags, the entry point. */
export function runnerCommand(project: ProjectFile, stack: string, programDir: string, monitor: string, engine: string): string[] {
    const runPath = require.resolve("@pulumi/pulumi/cmd/run", { paths: [programDir] });
    return [
        ...splitArgs(runtimeOptions(project).nodeargs),
        runPath,
        "--monitor", monitor,
        "--engine", engine,
        "--project", project.name,
        "--root-directory", programDir,
        "--stack", stack,
        "--pwd", programDir,
        "--parallel", "16",
        // The engine passes Pulumi.yaml's `main`, or "." (package.json's main) when it has none.
        project.main ?? ".",
    ];
}

/** The environment the language host adds: config (keys as `<ns>:config:<name>`), secret keys, TypeScript options. */
export function runnerEnvironment(project: ProjectFile, config: StackConfig, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(base)) {
        // A parent's own Pulumi runtime settings must not leak into the child's.
        if (!/^PULUMI_(CONFIG|NODEJS_)/.test(key)) env[key] = value;
    }
    const transformed = Object.fromEntries(Object.entries(config.values).map(([key, value]) => {
        const colon = key.indexOf(":");
        return [`${key.slice(0, colon)}:config:${key.slice(colon + 1)}`, value];
    }));
    env.PULUMI_CONFIG = JSON.stringify(transformed);
    env.PULUMI_CONFIG_SECRET_KEYS = JSON.stringify(config.secretKeys);
    const options = runtimeOptions(project);
    if (options.typescript) env.PULUMI_NODEJS_TYPESCRIPT = "true";
    if (options.tsconfig) env.PULUMI_NODEJS_TSCONFIG_PATH = options.tsconfig;
    return env;
}

type Callback<T> = (err: unknown, response: T | undefined) => void;

/** The mock monitor's methods the runner calls, as `@pulumi/pulumi/runtime/mocks` implements them. */
export interface MonitorLike {
    supportsFeature(req: resourceProto.SupportsFeatureRequest, callback: Callback<{ getHassupport(): boolean }>): void;
    invoke(req: resourceProto.ResourceInvokeRequest, callback: Callback<resourceProto.ResourceInvokeResponse>): void;
    readResource(req: resourceProto.ReadResourceRequest, callback: Callback<resourceProto.ReadResourceResponse>): void;
    registerResource(req: resourceProto.RegisterResourceRequest, callback: Callback<resourceProto.RegisterResourceResponse>): void;
    registerResourceOutputs(req: resourceProto.RegisterResourceOutputsRequest, callback: Callback<unknown>): void;
    registerPackage(req: resourceProto.RegisterPackageRequest, callback: Callback<resourceProto.RegisterPackageResponse>): void;
}

/**
 * When the runner child ran, in milliseconds since it was spawned: what the program itself adds to
 * a `pulumi preview` (loading the SDK, the providers and the program, then registering every
 * resource), measured by `npm run bench`.
 */
export interface RunnerTiming {
    pid: number;
    /** When this process spawned the child, in milliseconds since this process started. */
    spawnedAtUptimeMs: number;
    /** Resources the child registered (components included). */
    registrations: number;
    firstRegistrationMs: number;
    lastRegistrationMs: number;
    exitMs: number;
}

/** Emits `spawn` (the child's pid) and `exit` (its {@link RunnerTiming}) for every run, for the benchmark. */
export const runnerEvents = new EventEmitter();

/** What the runner reported: its exit code, the errors it logged, and its stderr. */
export interface RunnerOutcome {
    status: number | null;
    errors: string[];
    output: string;
}

function grpcError(err: unknown): grpc.ServiceError {
    const error = err instanceof Error ? err : new Error(String(err));
    return Object.assign(error, { code: grpc.status.UNKNOWN, details: error.message, metadata: new grpc.Metadata() });
}

function unary<Req, Res>(handler: (req: Req, callback: Callback<Res>) => void): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => handler(call.request, (err, response) => (err ? callback(grpcError(err)) : callback(null, response)));
}

/** Runs the program under the runner against `monitor`; resolves once the child has exited. */
export async function runUnderRunner(project: ProjectFile, stack: string, config: StackConfig, programDir: string, monitor: MonitorLike): Promise<RunnerOutcome> {
    const errors: string[] = [];
    let rootUrn = "";
    let spawned = process.hrtime.bigint();
    const sinceSpawn = () => Number(process.hrtime.bigint() - spawned) / 1e6;
    const timing: RunnerTiming = { pid: 0, spawnedAtUptimeMs: 0, registrations: 0, firstRegistrationMs: 0, lastRegistrationMs: 0, exitMs: 0 };
    const registered = (): void => {
        const at = sinceSpawn();
        if (timing.registrations++ === 0) timing.firstRegistrationMs = at;
        timing.lastRegistrationMs = at;
    };
    const server = new grpc.Server();
    const monitorImpl: Partial<resourceRpc.IResourceMonitorServer> = {
        supportsFeature: unary((req: resourceProto.SupportsFeatureRequest, callback: Callback<resourceProto.SupportsFeatureResponse>) =>
            monitor.supportsFeature(req, (err, res) => callback(err, res && new resourceProto.SupportsFeatureResponse().setHassupport(res.getHassupport())))),
        invoke: unary(monitor.invoke.bind(monitor)),
        readResource: unary(monitor.readResource.bind(monitor)),
        registerResource: unary((req: resourceProto.RegisterResourceRequest, callback: Callback<resourceProto.RegisterResourceResponse>) => {
            registered();
            monitor.registerResource(req, callback);
        }),
        registerResourceOutputs: unary((req: resourceProto.RegisterResourceOutputsRequest, callback: Callback<Empty>) =>
            monitor.registerResourceOutputs(req, (err) => callback(err, new Empty()))),
        registerPackage: unary(monitor.registerPackage.bind(monitor)),
        // The engine's monitor answers once the deployment is done; the mock one has nothing to wait for.
        signalAndWaitForShutdown: (_call, callback) => callback(null, new Empty()),
    };
    const engineImpl: Partial<engineRpc.IEngineServer> = {
        log: (call, callback) => {
            const message = call.request.getMessage();
            const severity = call.request.getSeverity();
            // Printed as the SDK prints them when no engine listens (@pulumi/pulumi log/index.js).
            if (severity === engineProto.LogSeverity.ERROR) errors.push(message);
            else if (severity === engineProto.LogSeverity.WARNING) console.warn(`warning: [runtime] ${message}`);
            else if (severity === engineProto.LogSeverity.INFO) console.log(`info: [runtime] ${message}`);
            callback(null, new Empty());
        },
        getRootResource: (_call, callback) => callback(null, new engineProto.GetRootResourceResponse().setUrn(rootUrn)),
        setRootResource: (call, callback) => {
            rootUrn = call.request.getUrn();
            callback(null, new engineProto.SetRootResourceResponse());
        },
    };
    server.addService(resourceRpc.ResourceMonitorService, monitorImpl as resourceRpc.IResourceMonitorServer);
    server.addService(engineRpc.EngineService, engineImpl as engineRpc.IEngineServer);
    const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))));
    const address = `127.0.0.1:${port}`;
    try {
        const env = runnerEnvironment(project, config);
        spawned = process.hrtime.bigint();
        timing.spawnedAtUptimeMs = process.uptime() * 1000;
        const child = spawn(process.execPath, runnerCommand(project, stack, programDir, address, address), { cwd: programDir, env, stdio: ["ignore", "pipe", "pipe"] });
        timing.pid = child.pid ?? 0;
        runnerEvents.emit("spawn", timing.pid);
        let output = "";
        child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
        child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
        const status = await new Promise<number | null>((resolve, reject) => {
            child.on("error", reject);
            child.on("close", (code) => resolve(code));
        });
        timing.exitMs = sinceSpawn();
        runnerEvents.emit("exit", timing);
        return { status, errors, output };
    } finally {
        server.forceShutdown();
    }
}

export const RUNNER_PROGRAM_DIR = path.resolve(__dirname, "..", "..");
