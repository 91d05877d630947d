import { ResourceValidationPolicy } from "@pulumi/policy";
import { HETZNER_SERVER_TYPES, PRODUCTION_DENIED_SERVER_TYPES } from "../../components/hetzner/server-types";
import { HCLOUD, PolicyArgs, isProduction, settings } from "../lib/context";

/** Defaults from the one server-type table config validation reads too (components/hetzner/server-types.ts). */
const DEFAULTS = { allowedServerTypes: Object.keys(HETZNER_SERVER_TYPES), productionDeniedServerTypes: [...PRODUCTION_DENIED_SERVER_TYPES] };

export const hetznerServerTypes: ResourceValidationPolicy = {
    name: "hetzner-server-types",
    description: "Hetzner servers use a current (orderable) server type; production refuses types of 4 GB or less (they cannot hold Supabase and Archon together).",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            allowedServerTypes: { type: "array", items: { type: "string" } },
            productionDeniedServerTypes: { type: "array", items: { type: "string" } },
        },
    },
    validateResource: (args: PolicyArgs, reportViolation) => {
        if (args.type !== HCLOUD.server) return;
        const config = settings(args, DEFAULTS);
        const serverType = String(args.props.serverType ?? "");
        if (!config.allowedServerTypes.includes(serverType)) {
            reportViolation(`server type ${serverType || "(none)"} is not allowed; use one of ${config.allowedServerTypes.join(", ")}`);
        } else if (isProduction(args) && config.productionDeniedServerTypes.includes(serverType)) {
            reportViolation(`server type ${serverType} is too small for production; use cpx32/cax21 or larger`);
        }
    },
};
