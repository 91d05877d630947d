import { ResourceValidationPolicy } from "@pulumi/policy";
import { KUBERNETES, PolicyArgs } from "../lib/context";

export const pvcRetained: ResourceValidationPolicy = {
    name: "pvc-retained",
    description: "PersistentVolumeClaims outlive a destroy or a replace: the resource option protect: true or retainOnDelete: true (the Pulumi CLI shows policies protect only, so set protect).",
    enforcementLevel: "mandatory",
    validateResource: (args: PolicyArgs, reportViolation) => {
        if (args.type !== KUBERNETES.pvc) return;
        if (args.opts.protect !== true && args.retainOnDelete !== true) {
            reportViolation("PersistentVolumeClaim needs the resource option protect: true (and retainOnDelete: true)");
        }
    },
};
