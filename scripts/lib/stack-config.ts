/**
 * The configuration the Pulumi CLI would hand the program for a stack: Pulumi.<stack>.yaml, then
 * `--config key=value` overrides, then Pulumi.yaml's defaults and checks, applied by the CLI's own
 * rules (./project-config-rules.ts). Encrypted values, which only the CLI can decrypt, become
 * labelled, deterministic stand-ins, marked secret.
 */
import * as fs from "fs";
import * as path from "path";
import { isMap, isScalar, isSeq, parseDocument } from "yaml";
import { SECRET_KEYS, configSchema, unknownKeyProblem } from "../../config";
import { MOCK_K3S_KUBECONFIG } from "./mocks";
import { CliError } from "./cli";
import { DeclaredKey, ProjectConfigError, StackValue, applyProjectConfig, stackValueOf } from "./project-config-rules";

export const PROJECT_DIR = path.resolve(__dirname, "..", "..");

/** The parts of Pulumi.yaml the synth reads. */
export interface ProjectFile {
    name: string;
    main?: string;
    runtime: string | { name: string; options?: Record<string, unknown> };
    config?: Record<string, DeclaredKey>;
}

/** Config as the program receives it: namespaced keys, string values (JSON for structured ones). */
export interface StackConfig {
    project: string;
    values: Record<string, string>;
    /** Keys whose values are secret (PULUMI_CONFIG_SECRET_KEYS): the encrypted ones. */
    secretKeys: string[];
    /** Keys encrypted in the stack file that got a stand-in, with the file they came from. */
    standIns: Record<string, string>;
}

export class StackConfigError extends CliError {}

export function readProject(dir = PROJECT_DIR): ProjectFile {
    return readYamlFile(path.join(dir, "Pulumi.yaml")).toJS() as ProjectFile;
}

/** A YAML file as a document, or one line naming the file, the line and what is wrong. */
function readYamlFile(file: string): ReturnType<typeof parseDocument> {
    const name = path.basename(file);
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (err) {
        throw new StackConfigError(`${name}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    const doc = parseDocument(text, { prettyErrors: false });
    const error = doc.errors[0];
    if (error !== undefined) {
        const line = text.slice(0, error.pos[0]).split("\n").length;
        throw new StackConfigError(`${name}${line ? ` line ${line}` : ""} is not valid YAML: ${error.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "")}; fix the file (a stack file is a config: map of key: value)`);
    }
    return doc;
}

/** Text keys of config.ts: a YAML number or boolean given for one of them is not what was written. */
function textKeys(): Set<string> {
    return new Set(Object.entries(configSchema.shape).filter(([, schema]) => {
        let def = schema._zod.def as { type: string; innerType?: { _zod: { def: unknown } } };
        while ((def.type === "optional" || def.type === "default") && def.innerType) def = def.innerType._zod.def as typeof def;
        return def.type === "string";
    }).map(([key]) => key));
}

/**
 * What the stack file says that the Pulumi CLI would pass on without complaint, but wrongly: a key
 * unknown to the project (a misspelling), a secret key in plain text, and a text key (imageTag)
 * written as a YAML number, which the CLI hands the program as the number's text (`1.10` -> "1.1",
 * `0x1F` -> "31"). The raw scalar is only visible here, in the file.
 */
function stackFileProblem(doc: ReturnType<typeof parseDocument>, fileName: string, project: string, declared: readonly string[]): string | undefined {
    const config = doc.get("config", true);
    if (config === undefined || config === null) return undefined;
    if (!isMap(config)) return `${fileName}: config is not a map of key: value`;
    const text = textKeys();
    const keys: string[] = [];
    for (const pair of config.items) {
        const key = String(isScalar(pair.key) ? pair.key.value : pair.key);
        const full = key.includes(":") ? key : `${project}:${key}`;
        keys.push(full);
        if (!full.startsWith(`${project}:`)) continue;
        const name = full.slice(project.length + 1);
        const value = pair.value;
        const secure = isMap(value) && value.items.length === 1 && isScalar(value.items[0].key) && value.items[0].key.value === "secure";
        if ((SECRET_KEYS as readonly string[]).includes(name) && !secure && value !== null) {
            return `${full} in ${fileName} is in plain text; it is a secret: pulumi config set --secret ${name} <value> (this encrypts it in the stack file)`;
        }
        if (text.has(name) && isScalar(value) && typeof value.value !== "string" && value.value !== null) {
            const written = value.source ?? String(value.value);
            return `${full} in ${fileName} is written ${written}, which YAML reads as the ${typeof value.value} ${String(value.value)} (the program would get "${String(value.value)}"); quote it: ${name}: "${written}"`;
        }
    }
    return unknownKeyProblem(keys, fileName, declared);
}

/** Parses `key=value`: the value as JSON when it parses, else as a string. */
export function parseOverride(text: string): [string, unknown] {
    const eq = text.indexOf("=");
    if (eq <= 0) throw new StackConfigError(`--config ${JSON.stringify(text)}: write it as key=value`);
    const raw = text.slice(eq + 1);
    try {
        return [text.slice(0, eq), JSON.parse(raw)];
    } catch {
        return [text.slice(0, eq), raw];
    }
}

/** The label a stand-in carries: which key, from which file. */
export function standInLabel(key: string, file: string): string {
    return `<secret ${key} from ${file}>`;
}

/**
 * A deterministic stand-in for an encrypted value: the label itself, or, where config.ts wants a
 * shape (a URL, a kubeconfig), the label inside that shape, so the program's own checks pass.
 */
export function standIn(key: string, file: string, project: string): string {
    const label = standInLabel(key, file);
    const name = key.startsWith(`${project}:`) ? key.slice(project.length + 1) : undefined;
    const schema = name === undefined ? undefined : configSchema.shape[name as keyof typeof configSchema.shape];
    if (schema === undefined) return label;
    const candidates = [
        label,
        `https://stand-in.invalid/${encodeURIComponent(label)}`,
        `# ${label}\n${MOCK_K3S_KUBECONFIG}`,
    ];
    return candidates.find((candidate) => schema.safeParse(candidate).success) ?? label;
}

/** An override as `pulumi config set` would store it; keys config.ts keeps secret count as set with --secret. */
function overrideValue(project: string, key: string, value: unknown): StackValue {
    const secret = (SECRET_KEYS as readonly string[]).some((k) => `${project}:${k}` === key);
    const plain = typeof value === "string" ? { text: value, object: false } : value !== null && typeof value === "object" ? { text: JSON.stringify(value), object: true } : { text: String(value), object: false };
    return { ...plain, secure: secret };
}

export function stackConfig(stack: string, overrides: Record<string, unknown> = {}, dir = PROJECT_DIR): StackConfig {
    const project = readProject(dir);
    const qualify = (key: string) => (key.includes(":") ? key : `${project.name}:${key}`);
    const fileName = `Pulumi.${stack}.yaml`;
    const stackFile = path.join(dir, fileName);
    if (!fs.existsSync(stackFile)) {
        throw new StackConfigError(`no stack file ${fileName}; the stacks are ${listStacks(dir).join(", ")}`);
    }
    const doc = readYamlFile(stackFile);
    if (doc.contents !== null && !isMap(doc.contents)) {
        throw new StackConfigError(`${fileName} is a YAML ${isSeq(doc.contents) ? "list" : "scalar"}, not a map: a stack file is a map whose config: holds one key: value line per setting (as in Pulumi.staging.yaml)`);
    }
    // Pulumi.yaml's declared keys count as known too (they and config.ts's schema are kept in step).
    const declared = Object.keys(project.config ?? {});
    const problem = stackFileProblem(doc, fileName, project.name, declared);
    if (problem !== undefined) throw new StackConfigError(problem);
    const stackValues = (doc.toJS() as { config?: Record<string, unknown> } | null)?.config ?? {};
    const given: Record<string, StackValue> = {};
    const standIns: Record<string, string> = {};
    const plaintext: Record<string, string> = {};
    for (const [key, raw] of Object.entries(stackValues)) {
        const full = qualify(key);
        const value = stackValueOf(raw);
        given[full] = value;
        if (value.secure) {
            standIns[full] = fileName;
            plaintext[full] = standIn(full, fileName, project.name);
        }
    }
    const unknownOverride = unknownKeyProblem(Object.keys(overrides).map(qualify), "--config", declared);
    if (unknownOverride !== undefined) throw new StackConfigError(unknownOverride);
    for (const [key, raw] of Object.entries(overrides)) {
        const full = qualify(key);
        delete standIns[full];
        delete plaintext[full];
        if (raw === null || raw === undefined) {
            delete given[full];
            continue;
        }
        given[full] = overrideValue(project.name, full, raw);
    }

    let merged: Record<string, StackValue>;
    try {
        merged = applyProjectConfig(stack, project.name, project.config ?? {}, given);
    } catch (err) {
        if (err instanceof ProjectConfigError) throw new StackConfigError(`${err.message} (Pulumi.yaml; ${fixFor(err.message, stack, overrideOf(err.message, overrides, qualify))})`);
        throw err;
    }
    const values = Object.fromEntries(Object.entries(merged).map(([k, v]) => [k, plaintext[k] ?? v.text]));
    const secretKeys = Object.entries(merged).filter(([, v]) => v.secure).map(([k]) => k).sort();
    return { project: project.name, values, secretKeys, standIns };
}

/** The `--config key=value` argument behind the key a CLI refusal names, when the value came from there. */
function overrideOf(message: string, overrides: Record<string, unknown>, qualify: (key: string) => string): string | undefined {
    const key = /configuration key '([^']+)'/.exec(message)?.[1];
    if (key === undefined) return undefined;
    const given = Object.keys(overrides).find((k) => qualify(k) === qualify(key));
    if (given === undefined) return undefined;
    const value = overrides[given];
    return `--config ${given}=${typeof value === "string" ? value : JSON.stringify(value)}`;
}

/** The fix for each of the CLI's refusals, in this project's one-line style. */
function fixFor(message: string, stack: string, fromOverride?: string): string {
    if (message.includes("is missing configuration")) return `set it: pulumi config set --stack ${stack} <key> <value> (the synth also takes --config <key>=<value>)`;
    if (message.includes("must be encrypted")) return `set it with: pulumi config set --stack ${stack} --secret <key> <value>`;
    if (message.includes("must be of type") && fromOverride !== undefined) return `the value comes from ${fromOverride}: fix that argument`;
    if (message.includes("must be of type")) return `fix the value in Pulumi.${stack}.yaml`;
    return "fix the declaration in Pulumi.yaml";
}

export function listStacks(dir = PROJECT_DIR): string[] {
    return fs.readdirSync(dir).map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1]).filter((s): s is string => !!s).sort();
}
