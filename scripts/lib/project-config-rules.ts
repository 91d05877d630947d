/**
 * The Pulumi CLI's rules for project-declared configuration (Pulumi.yaml `config:`), as the CLI
 * applies them before it starts the program. Read in pulumi/pulumi:
 * - `Project.Validate` (sdk/go/common/workspace/project.go): an array needs `items`; a default must
 *   have the declared type; `default` and `value` exclude each other.
 * - `mergeConfig` / `ValidateStackConfigAndApplyProjectConfig` (pkg/workspace/config.go): every key
 *   of the project's namespace declared without `default` or `value` is required ("Stack 'x' is
 *   missing configuration value 'k'", all missing keys in one error, sorted); defaults fill what the
 *   stack leaves out; then, key by key in sorted order, `validateStackConfigValue`: a key declared
 *   `secret: true` must hold an encrypted (`secure:`) value, and a typed key's value must pass
 *   `ValidateConfigValue` (project.go).
 * The offline synth applies exactly these, so a stack the synth accepts is one the CLI accepts.
 */

/** `items:` of an array key (ProjectConfigItemsType). */
export interface ConfigItemsType {
    type: string;
    items?: ConfigItemsType;
}

/** One key under Pulumi.yaml `config:` (ProjectConfigType). */
export interface DeclaredKey {
    type?: string;
    items?: ConfigItemsType;
    default?: unknown;
    value?: unknown;
    secret?: boolean;
    description?: string;
}

/**
 * A stack config value as the CLI holds it (config.Value): its text (JSON text for a list or map,
 * the scalar's text otherwise), whether it is such an object, and whether it is encrypted.
 */
export interface StackValue {
    text: string;
    object: boolean;
    secure: boolean;
}

/** A configuration the CLI refuses, in the CLI's own words. */
export class ProjectConfigError extends Error {}

/** The value a stack file's YAML holds, as config.Value: `{secure: ...}` encrypted, maps and lists as JSON. */
export function stackValueOf(yamlValue: unknown): StackValue {
    if (isRecord(yamlValue) && Object.keys(yamlValue).length === 1 && typeof yamlValue.secure === "string") {
        return { text: yamlValue.secure, object: false, secure: true };
    }
    if (yamlValue !== null && typeof yamlValue === "object") return { text: JSON.stringify(yamlValue), object: true, secure: false };
    return { text: String(yamlValue), object: false, secure: false };
}

/**
 * createConfigValue (pkg/workspace/config.go): strings, integers and booleans become plain text
 * (`fmt.Sprintf("%v")`); anything else (lists, maps, fractional numbers) JSON text marked object.
 */
export function defaultValueOf(raw: unknown): StackValue {
    if (typeof raw === "string" || typeof raw === "boolean" || (typeof raw === "number" && Number.isInteger(raw))) {
        return { text: String(raw), object: false, secure: false };
    }
    return { text: JSON.stringify(raw), object: true, secure: false };
}

/** ValidateConfigValue (sdk/go/common/workspace/project.go). `value` is a string unless the stack value is an object. */
export function validateConfigValue(type: string, items: ConfigItemsType | undefined, value: unknown): boolean {
    switch (type) {
        case "string":
            return typeof value === "string";
        case "integer":
            // Go: an int, a whole float64 (YAML and JSON numbers), or text strconv.Atoi accepts.
            if (typeof value === "number") return Number.isInteger(value);
            return typeof value === "string" && /^[+-]?[0-9]+$/.test(value);
        case "boolean":
            return value === true || value === false || value === "true" || value === "false";
        case "object":
            return isRecord(value);
    }
    if (!Array.isArray(value) || items === undefined) return false;
    return value.every((item) => validateConfigValue(items.type, items.items, item));
}

/** InferFullTypeName (project.go): `array<string>` for a list of strings. */
export function fullTypeName(type: string, items: ConfigItemsType | undefined): string {
    return items !== undefined ? `array<${fullTypeName(items.type, items.items)}>` : type;
}

/** `Project.Validate` for keys in the project's namespace (the only kind this project declares). */
export function validateProject(declared: Record<string, DeclaredKey>): void {
    for (const [key, decl] of Object.entries(declared)) {
        if (decl.default !== undefined && decl.value !== undefined) {
            throw new ProjectConfigError(`project config '${key}' cannot have both a 'default' and 'value' attribute`);
        }
        if (decl.type === "array" && decl.items === undefined) {
            throw new ProjectConfigError(`The configuration key '${key}' declares an array but does not specify the underlying type via the 'items' attribute`);
        }
        if (decl.type !== undefined && decl.default !== undefined && !validateConfigValue(decl.type, decl.items, decl.default)) {
            throw new ProjectConfigError(`The default value specified for configuration key '${key}' is not of the expected type '${fullTypeName(decl.type, decl.items)}'`);
        }
    }
}

/** formatMissingKeys (pkg/workspace/config.go): 'a', 'a' and 'b', 'a', 'b' and 'c'. */
function formatMissingKeys(keys: string[]): string {
    const quoted = [...keys].sort().map((k) => `'${k}'`);
    return quoted.length === 1 ? quoted[0] : `${quoted.slice(0, -1).join(", ")} and ${quoted[quoted.length - 1]}`;
}

/**
 * ValidateStackConfigAndApplyProjectConfig: returns the stack's values (fully qualified keys) with
 * the project's defaults applied, or throws the CLI's error. `stackValues` are keyed
 * `<namespace>:<name>`. The value of an encrypted key cannot be type-checked offline (the CLI checks
 * the decrypted text), so only its being encrypted is.
 */
export function applyProjectConfig(stack: string, project: string, declared: Record<string, DeclaredKey>, stackValues: Record<string, StackValue>): Record<string, StackValue> {
    validateProject(declared);
    const merged: Record<string, StackValue> = { ...stackValues };
    const qualify = (key: string) => (key.includes(":") ? key : `${project}:${key}`);
    const keys = Object.keys(declared).sort();
    const missing: string[] = [];
    for (const key of keys) {
        const decl = declared[key];
        const full = qualify(key);
        if (full in merged) continue;
        const fallback = decl.default ?? decl.value;
        if (fallback === undefined) {
            if (full.startsWith(`${project}:`)) missing.push(key);
            continue;
        }
        merged[full] = defaultValueOf(fallback);
    }
    if (missing.length > 0) {
        throw new ProjectConfigError(`Stack '${stack}' is missing configuration ${missing.length > 1 ? "values" : "value"} ${formatMissingKeys(missing)}`);
    }
    for (const key of keys) {
        const decl = declared[key];
        const value = merged[qualify(key)];
        if (decl.type === undefined || value === undefined) continue;
        if (decl.secret && !value.secure) {
            throw new ProjectConfigError(`Stack '${stack}' with configuration key '${key}' must be encrypted as it's secret`);
        }
        if (value.secure) continue;
        const content: unknown = value.object ? JSON.parse(value.text) : value.text;
        if (!validateConfigValue(decl.type, decl.items, content)) {
            throw new ProjectConfigError(`Stack '${stack}' with configuration key '${key}' must be of type '${fullTypeName(decl.type, decl.items)}'`);
        }
    }
    return merged;
}

function isRecord(value: unknown): value is Record<string, unknown> {
    return value !== null && typeof value === "object" && !Array.isArray(value);
}
