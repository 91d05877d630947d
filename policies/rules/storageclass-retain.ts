import { ResourceValidationPolicy } from "@pulumi/policy";
import { KUBERNETES, PolicyArgs } from "../lib/context";

export const storageClassRetain: ResourceValidationPolicy = {
    name: "storageclass-retain",
    description: "StorageClasses keep the volume when its claim goes away: reclaimPolicy: Retain (Kubernetes defaults to Delete).",
    enforcementLevel: "mandatory",
    validateResource: (args: PolicyArgs, reportViolation) => {
        if (args.type !== KUBERNETES.storageClass) return;
        const policy = args.props.reclaimPolicy ?? "Delete (the default)";
        if (policy !== "Retain") reportViolation(`StorageClass reclaimPolicy is ${String(policy)}; set reclaimPolicy: Retain`);
    },
};
