import { ResourceValidationPolicy } from "@pulumi/policy";
import { HCLOUD, PolicyArgs, isProduction } from "../lib/context";

const REQUIRED = {
    deleteProtection: "deleteProtection: true (a stray destroy cannot delete it)",
    rebuildProtection: "rebuildProtection: true (an image rebuild cannot wipe it)",
    backups: "backups: true (Hetzner's daily backups)",
} as const;

export const serverProtection: ResourceValidationPolicy = {
    name: "server-protection",
    description: "Production Hetzner servers are delete- and rebuild-protected and have backups on. Staging servers are rebuilt freely.",
    enforcementLevel: "mandatory",
    validateResource: (args: PolicyArgs, reportViolation) => {
        if (args.type !== HCLOUD.server || !isProduction(args)) return;
        for (const [input, why] of Object.entries(REQUIRED)) {
            if (args.props[input] !== true) reportViolation(`production server needs ${why}`);
        }
    },
};
