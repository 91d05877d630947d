import { ResourceValidationPolicy } from "@pulumi/policy";
import { HETZNER_LOCATIONS } from "../../config";
import { HCLOUD, PolicyArgs, isProduction, settings } from "../lib/context";

/** Types placed in a location (`location`, or a datacenter such as fsn1-dc14). */
const LOCATED = new Set<string>([HCLOUD.server, HCLOUD.volume, "hcloud:index/primaryIp:PrimaryIp", "hcloud:index/loadBalancer:LoadBalancer"]);

export const hetznerLocations: ResourceValidationPolicy = {
    name: "hetzner-locations",
    description: "Hetzner resources are placed only in allowed locations; production only in the EU locations (fsn1, nbg1, hel1) by default, where its data may live.",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            allowedLocations: { type: "array", items: { type: "string" } },
            productionLocations: { type: "array", items: { type: "string" } },
        },
    },
    validateResource: (args: PolicyArgs, reportViolation) => {
        if (!LOCATED.has(args.type)) return;
        const config = settings(args, { allowedLocations: [...HETZNER_LOCATIONS] as string[], productionLocations: ["fsn1", "nbg1", "hel1"] });
        const allowed = isProduction(args) ? config.productionLocations : config.allowedLocations;
        const datacenter = args.props.datacenter;
        const location = args.props.location ?? (typeof datacenter === "string" ? datacenter.split("-")[0] : undefined);
        if (location === undefined) return reportViolation(`no location; set location to one of ${allowed.join(", ")}`);
        if (!allowed.includes(String(location))) reportViolation(`location ${String(location)} is not allowed here; use one of ${allowed.join(", ")}`);
    },
};
