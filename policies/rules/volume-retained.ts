import { ResourceValidationPolicy } from "@pulumi/policy";
import { HCLOUD, PolicyArgs } from "../lib/context";

export const volumeRetained: ResourceValidationPolicy = {
    name: "volume-retained",
    description: "Hetzner volumes hold state: deleteProtection: true on the volume and the resource option protect: true, in every stack.",
    enforcementLevel: "mandatory",
    validateResource: (args: PolicyArgs, reportViolation) => {
        if (args.type !== HCLOUD.volume) return;
        if (args.props.deleteProtection !== true) reportViolation("volume needs deleteProtection: true");
        if (args.opts.protect !== true) reportViolation("volume needs the resource option protect: true");
    },
};
