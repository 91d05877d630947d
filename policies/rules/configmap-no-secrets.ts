import { ResourceValidationPolicy } from "@pulumi/policy";
import { PolicyArgs, Props, objectRef, record } from "../lib/context";

/** Keys that name a credential (the env names no-plain-secret-env refuses as plain values). */
const SECRET_KEY = /(PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE|(^|_)KEY$|(^|_)KEY_|CREDENTIAL|DATABASE_URL|DB_URI)/i;
/**
 * Credentials inside file contents: `password: x` (YAML), `password = x` (ini, env), `"password": "x"`
 * (JSON), a URI with a password, a JWT, a private key. Not a reference to one: `${VAR}`, `{{ ... }}`,
 * a file path, or psql's `PASSWORD :'var'` (a colon without a space is no YAML mapping).
 */
const SECRET_IN_TEXT: readonly [RegExp, string][] = [
    [/(^|[\s{,"'])(password|passwd|secret|token|api[_-]?key|secret[_-]?key)(?:["']?\s*=\s*|\s*:\s+|["']\s*:\s*)["']?(?![\s"']*($|\$\{|\$\$|\{\{|\/|file:|env:))[^\s"',}]{4,}/im, "a password-like assignment"],
    [/[a-z][a-z0-9+.-]*:\/\/[^\s/:@]+:[^\s/@$]{3,}@/i, "a URI with a password"],
    [/eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/, "a JWT"],
    [/-----BEGIN ([A-Z]+ )?PRIVATE KEY-----/, "a private key"],
];

/** Why `value` under `key` looks like a credential, or undefined. */
export function secretLikeValue(key: string, value: string): string | undefined {
    if (SECRET_KEY.test(key) && value.trim() !== "") return `key ${key} names a credential`;
    for (const [pattern, what] of SECRET_IN_TEXT) if (pattern.test(value)) return `key ${key} holds ${what}`;
    return undefined;
}

/**
 * ConfigMaps are readable by anyone who may read the namespace's configuration, shown in plain text
 * by `kubectl describe` and never encrypted at rest: credentials belong in Secrets.
 */
export const configMapNoSecrets: ResourceValidationPolicy = {
    name: "configmap-no-secrets",
    description: "ConfigMaps hold no credential: no key named like a password, secret, token or key, no password assignment, URI with a password, JWT or private key in a value.",
    enforcementLevel: "mandatory",
    validateResource: (args: PolicyArgs, reportViolation) => {
        if (args.type !== "kubernetes:core/v1:ConfigMap") return;
        const { namespace, name } = objectRef(args.props, args.name);
        const data: Props = record(args.props.data);
        for (const [key, value] of Object.entries(data)) {
            const problem = secretLikeValue(key, String(value ?? ""));
            if (problem) reportViolation(`ConfigMap ${namespace}/${name}: ${problem}; put it in a Secret`);
        }
    },
};
