import { ResourceValidationPolicy } from "@pulumi/policy";
import { PolicyArgs, containersOf, list, record } from "../lib/context";
import { composeServices } from "../lib/compose";
import { SECRET_NAME, credentialShape } from "../lib/credentials";
import { composeProjects } from "../lib/files";

/** Why a plain env value is a credential (its name, or its shape under any name), or undefined. */
function plainCredential(name: string, value: string): string | undefined {
    if (value === "") return undefined;
    if (SECRET_NAME.test(name)) return `sets ${name} as a plain value`;
    const shape = credentialShape(value);
    return shape === undefined ? undefined : `sets ${name} to ${shape} in plain text`;
}

export const noPlainSecretEnv: ResourceValidationPolicy = {
    name: "no-plain-secret-env",
    description: "Containers take credentials from Secrets (env valueFrom.secretKeyRef or envFrom; Compose env_file), never as a plain env value in a pod template or a Compose file: refused by name (PASSWORD, SECRET, TOKEN, *_KEY, ...) and, under any name, by shape (JWT, private key, URI with a password, API token, password-shaped value).",
    enforcementLevel: "mandatory",
    validateResource: async (args: PolicyArgs, reportViolation) => {
        for (const container of containersOf(args.type, args.props)) {
            for (const variable of list(container.spec.env).map(record)) {
                const problem = plainCredential(String(variable.name ?? ""), typeof variable.value === "string" ? variable.value : "");
                if (problem) reportViolation(`${container.kind} ${container.name} ${problem}; use valueFrom.secretKeyRef`);
            }
        }
        for (const project of await composeProjects(args.props)) {
            for (const service of composeServices(project.composeText, project)) {
                for (const [name, value] of Object.entries(service.environment)) {
                    const problem = plainCredential(name, value);
                    if (problem) reportViolation(`${project.file} service ${service.name} ${problem}; put it in the service's env_file (delivered 0600)`);
                }
            }
        }
    },
};
