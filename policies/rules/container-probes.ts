import { ResourceValidationPolicy } from "@pulumi/policy";
import { PolicyArgs, containersOf, isLongRunning } from "../lib/context";

export const containerProbes: ResourceValidationPolicy = {
    name: "container-probes",
    description: "Every container of a long-running workload (Deployment, StatefulSet, DaemonSet) has a readiness and a liveness probe, so it takes traffic only when ready and restarts when stuck.",
    enforcementLevel: "mandatory",
    validateResource: (args: PolicyArgs, reportViolation) => {
        if (!isLongRunning(args.type)) return;
        for (const container of containersOf(args.type, args.props)) {
            if (container.kind !== "containers") continue;
            const missing = ["readinessProbe", "livenessProbe"].filter((probe) => container.spec[probe] === undefined);
            if (missing.length > 0) reportViolation(`container ${container.name} has no ${missing.join(" and no ")}`);
        }
    },
};
