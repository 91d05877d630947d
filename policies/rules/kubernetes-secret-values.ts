import { ResourceValidationPolicy } from "@pulumi/policy";
import { KUBERNETES, PolicyArgs, record } from "../lib/context";

/** Values that are someone's placeholder, never a generated secret. */
const PLACEHOLDERS = ["changeme", "change-me", "password", "secret", "example", "todo", "xxx", "your-super-secret-and-long-postgres-password"];

function isSecretPath(secretPaths: ReadonlySet<string>, path: string): boolean {
    const parts = path.split(".");
    return parts.some((_, i) => secretPaths.has(parts.slice(0, i + 1).join(".")));
}

function decoded(field: string, value: unknown): string {
    const text = String(value);
    return field === "data" ? Buffer.from(text, "base64").toString("utf8") : text;
}

export const kubernetesSecretValues: ResourceValidationPolicy = {
    name: "kubernetes-secret-values",
    description: "Kubernetes Secrets are built from Pulumi secrets: every data/stringData value is a secret (the offline check sees each value's secret marker; under the CLI, which unwraps secrets before policies run, the fields must be additionalSecretOutputs) and none is a placeholder.",
    enforcementLevel: "mandatory",
    validateResource: (args: PolicyArgs, reportViolation) => {
        if (args.type !== KUBERNETES.secret) return;
        for (const field of ["data", "stringData"] as const) {
            const values = record(args.props[field]);
            const keys = Object.keys(values);
            if (keys.length === 0) continue;
            if (args.secretPaths !== undefined) {
                const plain = keys.filter((key) => !isSecretPath(args.secretPaths!, `${field}.${key}`));
                if (plain.length > 0) reportViolation(`${field} keys ${plain.join(", ")} are plain values; build them from Pulumi secrets (pulumi.secret / random.RandomPassword)`);
            } else if (!args.opts.additionalSecretOutputs.includes(field)) {
                reportViolation(`${field} is not a secret output; create the Secret with kubernetes.core.v1.Secret from Pulumi secrets`);
            }
            const weak = keys.filter((key) => PLACEHOLDERS.includes(decoded(field, values[key]).trim().toLowerCase()));
            if (weak.length > 0) reportViolation(`${field} keys ${weak.join(", ")} hold a placeholder value; generate them (random.RandomPassword)`);
        }
    },
};
