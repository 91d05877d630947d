/**
 * The configuration the Pulumi CLI would hand the program for a stack: Pulumi.yaml's declared
 * defaults, then Pulumi.<stack>.yaml, then `--config key=value` overrides.
 */
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";

export const PROJECT_DIR = path.resolve(__dirname, "..", "..");

interface DeclaredKey {
    type?: string;
    default?: unknown;
    secret?: boolean;
    description?: string;
}

interface ProjectFile {
    name: string;
    config?: Record<string, DeclaredKey>;
}

/** Config as the program receives it: namespaced keys, string values (JSON for structured ones). */
export interface StackConfig {
    project: string;
    values: Record<string, string>;
    secretKeys: string[];
}

export class StackConfigError extends Error {}

export function readProject(dir = PROJECT_DIR): ProjectFile {
    return parseYaml(fs.readFileSync(path.join(dir, "Pulumi.yaml"), "utf8")) as ProjectFile;
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

export function stackConfig(stack: string, overrides: Record<string, unknown> = {}, dir = PROJECT_DIR): StackConfig {
    const project = readProject(dir);
    const qualify = (key: string) => (key.includes(":") ? key : `${project.name}:${key}`);
    const merged: Record<string, unknown> = {};
    const declared = project.config ?? {};
    for (const [key, decl] of Object.entries(declared)) {
        if (decl.default !== undefined) merged[qualify(key)] = decl.default;
    }
    const stackFile = path.join(dir, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(stackFile)) {
        throw new StackConfigError(`no stack file Pulumi.${stack}.yaml; the stacks are ${listStacks(dir).join(", ")}`);
    }
    const stackValues = (parseYaml(fs.readFileSync(stackFile, "utf8")) as { config?: Record<string, unknown> } | null)?.config ?? {};
    for (const [key, value] of Object.entries(stackValues)) {
        if (value !== null && typeof value === "object" && "secure" in value) {
            throw new StackConfigError(`${key} is encrypted in Pulumi.${stack}.yaml and the synth cannot decrypt it; pass a stand-in with --config ${key.replace(/^[^:]*:/, "")}=...`);
        }
        merged[qualify(key)] = value;
    }
    for (const [key, value] of Object.entries(overrides)) merged[qualify(key)] = value;

    const values = Object.fromEntries(
        Object.entries(merged)
            .filter(([, v]) => v !== null && v !== undefined)
            .map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
    );
    const secretKeys = Object.entries(declared).filter(([, d]) => d.secret).map(([k]) => qualify(k));
    return { project: project.name, values, secretKeys };
}

export function listStacks(dir = PROJECT_DIR): string[] {
    return fs.readdirSync(dir).map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1]).filter((s): s is string => !!s).sort();
}
