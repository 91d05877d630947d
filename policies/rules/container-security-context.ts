import { ResourceValidationPolicy } from "@pulumi/policy";
import { PolicyArgs, containersOf, isProduction, list, record, settings } from "../lib/context";

/** Capabilities a database or web server may add back after dropping ALL (chown its data, switch user, bind :80). */
/**
 * Capabilities refused in every environment: each is root on the node in practice (load kernel
 * modules, reconfigure the network, mount, trace other processes, raw devices and packets).
 */
export const DANGEROUS_CAPABILITIES: readonly string[] = [
    "ALL", "SYS_ADMIN", "SYS_MODULE", "NET_ADMIN", "SYS_PTRACE", "SYS_RAWIO", "SYS_BOOT", "SYS_TIME",
    "DAC_READ_SEARCH", "BPF", "PERFMON", "MAC_ADMIN", "MAC_OVERRIDE", "NET_RAW", "SYSLOG", "LINUX_IMMUTABLE",
];

const DEFAULT_ALLOWED_CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID", "NET_BIND_SERVICE", "KILL"];

export const containerSecurityContext: ResourceValidationPolicy = {
    name: "container-security-context",
    description: "Every container sets allowPrivilegeEscalation: false, drops ALL capabilities and is not privileged; it never adds a dangerous capability (SYS_ADMIN, SYS_MODULE, NET_ADMIN, ...); in production it adds back only capabilities from an allow-list.",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            allowedCapabilities: { type: "array", items: { type: "string" }, description: "Capabilities production containers may add after dropping ALL." },
        },
    },
    validateResource: (args: PolicyArgs, reportViolation) => {
        const { allowedCapabilities } = settings(args, { allowedCapabilities: DEFAULT_ALLOWED_CAPABILITIES });
        const production = isProduction(args);
        for (const container of containersOf(args.type, args.props)) {
            const where = `${container.kind} ${container.name}`;
            const context = record(container.spec.securityContext);
            const capabilities = record(context.capabilities);
            if (context.privileged === true) reportViolation(`${where} runs privileged`);
            if (context.allowPrivilegeEscalation !== false) reportViolation(`${where} must set securityContext.allowPrivilegeEscalation: false`);
            if (!list(capabilities.drop).map(String).map((c) => c.toUpperCase()).includes("ALL")) {
                reportViolation(`${where} must drop ALL capabilities (securityContext.capabilities.drop: [ALL])`);
            }
            const added = list(capabilities.add).map((c) => String(c).toUpperCase().replace(/^CAP_/, ""));
            const refused = added.filter((c) => DANGEROUS_CAPABILITIES.includes(c) || (production && !allowedCapabilities.includes(c)));
            if (refused.length > 0) reportViolation(`${where} adds capabilities ${refused.join(", ")}; allowed: ${allowedCapabilities.join(", ")}`);
        }
    },
};
