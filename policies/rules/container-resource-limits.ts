import { ResourceValidationPolicy } from "@pulumi/policy";
import { PolicyArgs, containersOf, record } from "../lib/context";

export const containerResourceLimits: ResourceValidationPolicy = {
    name: "container-resource-limits",
    description: "Every container (init containers too) sets CPU and memory limits and a memory request, so one service cannot starve the node.",
    enforcementLevel: "mandatory",
    validateResource: (args: PolicyArgs, reportViolation) => {
        for (const container of containersOf(args.type, args.props)) {
            const resources = record(container.spec.resources);
            const missing = [
                record(resources.limits).cpu === undefined ? "limits.cpu" : undefined,
                record(resources.limits).memory === undefined ? "limits.memory" : undefined,
                record(resources.requests).memory === undefined ? "requests.memory" : undefined,
            ].filter((m): m is string => m !== undefined);
            if (missing.length > 0) reportViolation(`${container.kind} ${container.name} has no resources.${missing.join(", resources.")}`);
        }
    },
};
