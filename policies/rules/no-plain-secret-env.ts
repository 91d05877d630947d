import { ResourceValidationPolicy } from "@pulumi/policy";
import { PolicyArgs, containersOf, list, record } from "../lib/context";

/** Environment variable names that carry credentials (POSTGRES_PASSWORD, JWT_SECRET, SERVICE_ROLE_KEY, API tokens). */
const SECRET_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE|(^|_)KEY$|(^|_)KEY_|CREDENTIAL|DATABASE_URL|DB_URI)/i;

export const noPlainSecretEnv: ResourceValidationPolicy = {
    name: "no-plain-secret-env",
    description: "Containers take credentials from Secrets (env valueFrom.secretKeyRef or envFrom), never as a plain env value in the pod template.",
    enforcementLevel: "mandatory",
    validateResource: (args: PolicyArgs, reportViolation) => {
        for (const container of containersOf(args.type, args.props)) {
            for (const variable of list(container.spec.env).map(record)) {
                const name = String(variable.name ?? "");
                if (SECRET_NAME.test(name) && variable.value !== undefined && variable.value !== "") {
                    reportViolation(`${container.kind} ${container.name} sets ${name} as a plain value; use valueFrom.secretKeyRef`);
                }
            }
        }
    },
};
