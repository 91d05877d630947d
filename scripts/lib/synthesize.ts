/**
 * Runs the real program under Pulumi's mocks with a stack's configuration and returns what it
 * registered: every resource (with its inputs and resource options), the stack outputs, and every
 * rendered text artifact. The offline synth, the tests and the offline policy check all read this.
 */
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { stringify as toYaml } from "yaml";
import { filesAtPath } from "../../policies/lib/files";
import { aliasSpecsOf, resolveAliases } from "./aliases";
import { reveal } from "./reveal";

export { reveal };
import { SynthMocks } from "./mocks";
import { CliError } from "./cli";
import { OFFLINE_SYNTH_ENV } from "../../config";
import { MonitorLike, runUnderRunner } from "./runner";
import { PROJECT_DIR, StackConfig, readProject, stackConfig } from "./stack-config";

/** Resource options that matter to reviewers and policies; only those set are present. */
export interface ResourceOptionsRecord {
    protect?: boolean;
    retainOnDelete?: boolean;
    deleteBeforeReplace?: boolean;
    ignoreChanges?: string[];
    replaceOnChanges?: string[];
    additionalSecretOutputs?: string[];
    aliases?: string[];
    replacementTrigger?: unknown;
    provider?: string;
    dependsOn?: string[];
}

export interface ResourceRecord {
    urn: string;
    type: string;
    name: string;
    /** URN of the parent ("" for the stack itself). */
    parent: string;
    /** False for component resources. */
    custom: boolean;
    /** Inputs as the engine receives them; secrets as `{"$secret": value}`. */
    inputs: Record<string, unknown>;
    options: ResourceOptionsRecord;
}

export interface SynthResult {
    stack: string;
    resources: ResourceRecord[];
    outputs: Record<string, unknown>;
    /** Rendered text artifacts by relative path under `files/`. */
    files: Record<string, string>;
    /** Outputs each component registered (`registerOutputs`), by URN; secrets as `{"$secret": v}`. */
    componentOutputs: Record<string, Record<string, unknown>>;
}

/** The program failed on its configuration: one line naming the key and the fix. */
export class SynthConfigError extends CliError {
    /** Custom (non-component) resources registered before the program failed: 0 when config is checked first. */
    constructor(message: string, public readonly resourcesRegistered: number) {
        super(message);
    }
}

interface ProtoValue {
    toJavaScript(): unknown;
}
interface RegisterRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getCustom(): boolean;
    getObject(): ProtoValue | undefined;
    getProtect(): boolean | undefined;
    getRetainondelete(): boolean | undefined;
    getDeletebeforereplace(): boolean;
    getIgnorechangesList(): string[];
    getReplaceonchangesList(): string[];
    getAdditionalsecretoutputsList(): string[];
    getAliasurnsList(): string[];
    getAliasesList(): Parameters<typeof aliasSpecsOf>[0];
    getReplacementTrigger(): ProtoValue | undefined;
    getProvider(): string;
    getDependenciesList(): string[];
}
interface OutputsRequest {
    getUrn(): string;
    getOutputs(): ProtoValue | undefined;
}
type Callback = (err: unknown, response: { getUrn(): string } | undefined) => void;
interface MonitorHooks {
    registerResource(req: RegisterRequest, callback: Callback): Promise<void>;
    registerResourceOutputs(req: OutputsRequest, callback: (err: unknown, response: unknown) => void): void;
    newUrn(parent: string, type: string, name: string): string;
}

const SIG = pulumi.runtime.specialSigKey;
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Where a file or remote asset or archive is: its `path` or its `uri`, only the one it has (plain JSON, no undefined). */
function location(record: Record<string, unknown>): Record<string, unknown> {
    return Object.fromEntries(["path", "uri"].filter((key) => record[key] !== undefined).map((key) => [key, record[key]]));
}

/** Serialized engine values -> plain JSON: secrets `{"$secret"}`, assets `{"$asset"}`, archives `{"$archive"}`. */
export function normalize(value: unknown): unknown {
    if (value === UNKNOWN) return "$unknown";
    if (Array.isArray(value)) return value.map(normalize);
    if (value === null || typeof value !== "object") return value;
    const record = value as Record<string, unknown>;
    switch (record[SIG]) {
        case pulumi.runtime.specialSecretSig:
            return { $secret: normalize(record.value) };
        case pulumi.runtime.specialAssetSig:
            return { $asset: record.text !== undefined ? { text: record.text } : location(record) };
        case pulumi.runtime.specialArchiveSig:
            return { $archive: record.assets !== undefined ? normalize(record.assets) : location(record) };
        case pulumi.runtime.specialResourceSig:
            return { $resource: record.urn };
    }
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(record).sort()) sorted[key] = normalize(record[key]);
    return sorted;
}

/**
 * A program that fails on its configuration rejects the stack's output promise, which the synth
 * handles, and also Pulumi's internal copies of it, which nobody awaits. Those copies are dropped
 * here; every other unhandled rejection still fails the process.
 */
let droppingRunErrors = false;
function dropUnawaitedRunErrors(): void {
    if (droppingRunErrors) return;
    droppingRunErrors = true;
    process.on("unhandledRejection", (reason) => {
        if (pulumi.RunError.isInstance(reason)) return;
        console.error(reason);
        process.exitCode = 1;
    });
}

/**
 * Runs the program once for `stack` with `overrides` applied over its stack file (and Pulumi.yaml's
 * rules). Without `program`, the real program runs as `pulumi up` starts it: under Pulumi's Node
 * runner in a child process (./runner.ts), against the same mocks served over gRPC. Tests pass a
 * smaller `program` to inspect a component's outputs in place; that one runs in this process.
 */
export async function synthesize(stack: string, overrides: Record<string, unknown> = {}, program?: () => Promise<unknown>, dir = PROJECT_DIR): Promise<SynthResult> {
    const config = stackConfig(stack, overrides, dir);
    // Tells the program (here and in the runner's child, which inherits the environment) that no
    // real deploy follows, so it leaves out warnings only a deploy can act on.
    process.env[OFFLINE_SYNTH_ENV] = "1";
    pulumi.runtime.setAllConfig(config.values, config.secretKeys);
    const mocks = new SynthMocks();
    // Also for the runner: the mock monitor names URNs after this process's project and stack.
    await pulumi.runtime.setMocks(mocks, config.project, stack, false);

    const monitor = pulumi.runtime.getMonitor() as unknown as MonitorHooks;
    const resources: ResourceRecord[] = [];
    const aliasSpecs = new Map<string, ReturnType<typeof aliasSpecsOf>>();
    const componentOutputs = new Map<string, unknown>();
    const registerResource = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, callback) => {
        const urn = monitor.newUrn(req.getParent(), req.getType(), req.getName());
        mocks.urnOfNextRegistration = urn;
        mocks.secretOutputsOfNextRegistration = req.getAdditionalsecretoutputsList();
        resources.push(recordOf(urn, req));
        aliasSpecs.set(urn, [...req.getAliasurnsList().map((alias) => ({ urn: alias })), ...aliasSpecsOf(req.getAliasesList())]);
        return registerResource(req, callback);
    };
    const registerOutputs = monitor.registerResourceOutputs.bind(monitor);
    monitor.registerResourceOutputs = (req, callback) => {
        componentOutputs.set(req.getUrn(), normalize(req.getOutputs()?.toJavaScript() ?? {}));
        return registerOutputs(req, callback);
    };
    const customCount = () => resources.filter((r) => r.custom).length;

    if (program === undefined) {
        const outcome = await runUnderRunner(readProject(dir), stack, config, PROJECT_DIR, monitor as unknown as MonitorLike);
        if (outcome.status !== 0) {
            // A RunError reaches the engine as one logged error (run.js `uncaughtHandler`); anything else is a bug.
            if (outcome.errors.length === 1 && !outcome.errors[0].includes("\n")) throw new SynthConfigError(withStandInHint(outcome.errors[0], config), customCount());
            throw new Error(`the program failed under Pulumi's Node runner (exit ${outcome.status}):\n${outcome.errors.join("\n")}\n${outcome.output}`);
        }
    } else {
        forgetProgramModules();
        dropUnawaitedRunErrors();
        try {
            await pulumi.runtime.runInPulumiStack(program);
        } catch (err) {
            if (pulumi.RunError.isInstance(err)) throw new SynthConfigError(withStandInHint(err.message, config), customCount());
            throw err;
        } finally {
            // Drain every registration, also after a failure, so none lands in the next run's monitor.
            await pulumi.runtime.disconnect().catch(() => undefined);
        }
    }
    resources.sort((a, b) => (a.urn < b.urn ? -1 : a.urn > b.urn ? 1 : 0));
    const aliases = resolveAliases(resources.map((r) => ({ ...r, aliasSpecs: aliasSpecs.get(r.urn) ?? [] })));
    for (const resource of resources) {
        const list = aliases.get(resource.urn) ?? [];
        if (list.length > 0) resource.options.aliases = list;
    }
    const stackUrn = resources.find((r) => r.type === "pulumi:pulumi:Stack")?.urn ?? "";
    const outputs = (componentOutputs.get(stackUrn) ?? {}) as Record<string, unknown>;
    const components = Object.fromEntries([...componentOutputs].filter(([urn]) => urn !== stackUrn).sort(([a], [b]) => (a < b ? -1 : 1))) as SynthResult["componentOutputs"];
    return { stack, resources, outputs, files: renderedFiles(resources), componentOutputs: components };
}

/**
 * When the program refuses a stand-in for an encrypted value, the message says so and how to give
 * the synth a value of the right shape.
 */
export function withStandInHint(message: string, config: StackConfig): string {
    const hints = Object.entries(config.standIns)
        .filter(([key]) => message.includes(`${key} =`))
        .map(([key, file]) => `${key} is encrypted in ${file} and the synth cannot decrypt it: pass a stand-in with --config ${key.startsWith(`${config.project}:`) ? key.slice(config.project.length + 1) : key}=<value>`);
    return [message, ...hints].join("; ");
}

function recordOf(urn: string, req: RegisterRequest): ResourceRecord {
    const options: ResourceOptionsRecord = {};
    if (req.getProtect()) options.protect = true;
    if (req.getRetainondelete()) options.retainOnDelete = true;
    if (req.getDeletebeforereplace()) options.deleteBeforeReplace = true;
    const lists = {
        ignoreChanges: req.getIgnorechangesList(),
        replaceOnChanges: req.getReplaceonchangesList(),
        additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
        dependsOn: [...req.getDependenciesList()].sort(),
    };
    for (const [key, list] of Object.entries(lists)) {
        if (list.length > 0) options[key as keyof typeof lists] = list;
    }
    const trigger = req.getReplacementTrigger()?.toJavaScript();
    if (trigger !== undefined && trigger !== null) options.replacementTrigger = normalize(trigger);
    if (req.getProvider()) options.provider = req.getProvider().split("::").slice(0, 4).join("::");
    return {
        urn,
        type: req.getType(),
        name: req.getName(),
        parent: req.getParent(),
        custom: req.getCustom(),
        inputs: normalize(req.getObject()?.toJavaScript() ?? {}) as Record<string, unknown>,
        options,
    };
}

/** Re-running the program in one process needs a fresh copy of its modules (they register resources on load). */
function forgetProgramModules(): void {
    const keep = [path.join(PROJECT_DIR, "node_modules"), path.join(PROJECT_DIR, "scripts"), path.join(PROJECT_DIR, "test")];
    for (const file of Object.keys(require.cache)) {
        if (file.startsWith(PROJECT_DIR + path.sep) && !keep.some((dir) => file.startsWith(dir + path.sep))) {
            delete require.cache[file];
        }
    }
}

const KUBERNETES_HEAD = ["apiVersion", "kind", "metadata"];

function kubernetesManifest(inputs: Record<string, unknown>): Record<string, unknown> {
    const ordered: Record<string, unknown> = {};
    for (const key of KUBERNETES_HEAD) if (inputs[key] !== undefined) ordered[key] = inputs[key];
    for (const key of Object.keys(inputs)) if (!KUBERNETES_HEAD.includes(key)) ordered[key] = inputs[key];
    return ordered;
}

/** A resource name as a directory name under the synth's `files/`. */
export function safeName(text: string): string {
    return text.replace(/[^A-Za-z0-9._-]+/g, "_");
}

function collectArchives(value: unknown, found: Record<string, string>, prefix = ""): void {
    if (Array.isArray(value)) return value.forEach((v) => collectArchives(v, found, prefix));
    if (value === null || typeof value !== "object") return;
    const record = value as Record<string, unknown>;
    // A path-based archive or asset (FileArchive/FileAsset, what CopyToRemote requires): the program
    // wrote it before registering the resource, so its files are read from disk.
    const location = [record.$archive, record.$asset].map((v) => (v && typeof v === "object" ? (v as { path?: unknown }).path : undefined)).find((p) => typeof p === "string");
    if (typeof location === "string") {
        Object.assign(found, filesAtPath(location, prefix));
        return;
    }
    if (record.$archive && typeof record.$archive === "object") {
        for (const [entry, asset] of Object.entries(record.$archive as Record<string, unknown>)) {
            collectArchives(asset, found, prefix ? `${prefix}/${entry}` : entry);
        }
        return;
    }
    if (record.$asset && typeof record.$asset === "object") {
        const text = (record.$asset as { text?: unknown }).text;
        if (typeof text === "string") found[prefix || "asset"] = text;
        return;
    }
    for (const v of Object.values(record)) collectArchives(v, found, prefix);
}

/** How ComposeDelivery's remote commands name the secret file they write from stdin (components/hetzner/scripts/write-secret-file.sh). */
const SECRET_FILE_ASSIGNMENT = /^export SECRET_FILE='([^']+)'$/m;

/**
 * A secret file a remote command writes from stdin (env files, htpasswd): it belongs in the same
 * project directory as the files its sibling CopyToRemote delivers, so it lands beside them.
 */
function secretFileWrittenBy(resource: ResourceRecord, inputs: Record<string, unknown>, resources: ResourceRecord[]): { path: string; text: string } | undefined {
    if (resource.type !== "command:remote:Command" || typeof inputs.stdin !== "string" || typeof inputs.create !== "string") return undefined;
    const file = SECRET_FILE_ASSIGNMENT.exec(inputs.create)?.[1];
    const copy = resources.find((r) => r.parent === resource.parent && r.type === "command:remote:CopyToRemote");
    if (!file || !copy) return undefined;
    return { path: `${safeName(copy.name)}/${file}`, text: inputs.stdin };
}

/**
 * Every text artifact as the host or cluster receives it: cloud-init user-data, Kubernetes objects
 * (one YAML each), Helm release values, the files of every asset archive (compose projects,
 * proxy and monitoring configs) and the secret files written beside them (env files, mode 0600 on
 * the host; here with the synth's placeholder values).
 */
export function renderedFiles(resources: ResourceRecord[]): Record<string, string> {
    const files: Record<string, string> = {};
    const yamlOptions = { lineWidth: 0 } as const;
    for (const resource of resources) {
        if (!resource.custom) continue;
        const inputs = reveal(resource.inputs) as Record<string, unknown>;
        if (resource.type === "hcloud:index/server:Server" && typeof inputs.userData === "string") {
            files[`cloud-init/${safeName(resource.name)}.yaml`] = inputs.userData;
        } else if (resource.type === "kubernetes:helm.sh/v3:Release") {
            files[`helm/${safeName(resource.name)}.yaml`] = toYaml(inputs, yamlOptions);
        } else if (resource.type.startsWith("kubernetes:") && typeof inputs.kind === "string") {
            const metadata = (inputs.metadata ?? {}) as { name?: string; namespace?: string };
            const scope = metadata.namespace ?? "_cluster";
            files[`kubernetes/${safeName(scope)}/${inputs.kind}-${safeName(metadata.name ?? resource.name)}.yaml`] = toYaml(kubernetesManifest(inputs), yamlOptions);
        }
        const secretFile = secretFileWrittenBy(resource, inputs, resources);
        if (secretFile) files[secretFile.path] = secretFile.text;
        const archived: Record<string, string> = {};
        collectArchives(inputs, archived);
        for (const [entry, text] of Object.entries(archived)) files[`${safeName(resource.name)}/${entry}`] = text;
    }
    return Object.fromEntries(Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1)));
}
