/** The synth wraps secret values as `{"$secret": value}`; this drops the wrappers, giving the value as the host, cluster or `pulumi stack output --show-secrets` has it. */
export function reveal(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(reveal);
    if (value === null || typeof value !== "object") return value;
    const record = value as Record<string, unknown>;
    if ("$secret" in record && Object.keys(record).length === 1) return reveal(record.$secret);
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, reveal(v)]));
}
