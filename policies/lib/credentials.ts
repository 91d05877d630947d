/**
 * Credentials recognized by what they look like, whatever the key or variable they sit under: a
 * neutral name (`APP_OPTIONS`, `data.value`) must not hide a password. What the program itself
 * generated is recognized by value too (rule secret-values-not-plain).
 */

/** Names that say "credential" (the env names no-plain-secret-env refuses as plain values). */
export const SECRET_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE|(^|_)KEY$|(^|_)KEY_|CREDENTIAL|DATABASE_URL|DB_URI)/i;

/**
 * Credentials inside text: `password: x` (YAML), `password = x` (ini, env), `"password": "x"`
 * (JSON), a URI with a password, a JWT, a private key, well-known API token formats. Not a
 * reference to one: `${VAR}`, `{{ ... }}`, a file path, or psql's `PASSWORD :'var'`.
 */
const SECRET_IN_TEXT: readonly [RegExp, string][] = [
    [/(^|[\s{,"'])(password|passwd|secret|token|api[_-]?key|secret[_-]?key)(?:["']?\s*=\s*|\s*:\s+|["']\s*:\s*)["']?(?![\s"']*($|\$\{|\$\$|\{\{|\/|file:|env:))[^\s"',}]{4,}/im, "a password-like assignment"],
    [/[a-z][a-z0-9+.-]*:\/\/[^\s/:@]+:[^\s/@$]{3,}@/i, "a URI with a password"],
    [/eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/, "a JWT"],
    [/-----BEGIN ([A-Z]+ )?PRIVATE KEY-----/, "a private key"],
    [/\b(AKIA[0-9A-Z]{16}|sk-[A-Za-z0-9_-]{20,}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|glpat-[A-Za-z0-9_-]{20,}|xox[abpr]-[A-Za-z0-9-]{10,})\b/, "an API token"],
];

/**
 * A whole value shaped like a generated password or token: 20+ characters without spaces, dots or
 * colons (not a host, a version, a URL or a path), mixing upper case, lower case and digits. No
 * value the program renders in plain text has that shape (test/policy-injections.spec.ts passes
 * the unmodified synth of both stacks).
 */
export function passwordShaped(value: string): boolean {
    const v = value.trim();
    return v.length >= 20 && !/[\s.:]/.test(v) && !v.startsWith("/") && /[A-Z]/.test(v) && /[a-z]/.test(v) && /[0-9]/.test(v);
}

/** What kind of credential `value` holds by its shape, or undefined. */
export function credentialShape(value: string): string | undefined {
    for (const [pattern, what] of SECRET_IN_TEXT) if (pattern.test(value)) return what;
    return passwordShaped(value) ? "a password-shaped value" : undefined;
}

/** Why `value` under `key` looks like a credential (its name or its shape), or undefined. */
export function secretLikeValue(key: string, value: string): string | undefined {
    if (SECRET_NAME.test(key) && value.trim() !== "") return `key ${key} names a credential`;
    const shape = credentialShape(value);
    return shape === undefined ? undefined : `key ${key} holds ${shape}`;
}
