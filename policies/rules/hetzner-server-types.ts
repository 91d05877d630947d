import { ResourceValidationPolicy } from "@pulumi/policy";
import { HETZNER_SERVER_TYPES } from "../../config";
import { HCLOUD, PolicyArgs, isProduction, settings } from "../lib/context";

export const hetznerServerTypes: ResourceValidationPolicy = {
    name: "hetzner-server-types",
    description: "Hetzner servers use an allowed server type; production refuses the smallest types (2 GB of memory cannot hold Supabase and Archon together).",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            allowedServerTypes: { type: "array", items: { type: "string" } },
            productionDeniedServerTypes: { type: "array", items: { type: "string" } },
        },
    },
    validateResource: (args: PolicyArgs, reportViolation) => {
        if (args.type !== HCLOUD.server) return;
        const config = settings(args, { allowedServerTypes: Object.keys(HETZNER_SERVER_TYPES), productionDeniedServerTypes: ["cx11", "cpx11", "cax11", "cx22", "cx23", "cpx12"] });
        const serverType = String(args.props.serverType ?? "");
        if (!config.allowedServerTypes.includes(serverType)) {
            reportViolation(`server type ${serverType || "(none)"} is not allowed; use one of ${config.allowedServerTypes.join(", ")}`);
        } else if (isProduction(args) && config.productionDeniedServerTypes.includes(serverType)) {
            reportViolation(`server type ${serverType} is too small for production; use cpx21/cax21 or larger`);
        }
    },
};
