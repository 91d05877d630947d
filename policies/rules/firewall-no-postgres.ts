import { ResourceValidationPolicy } from "@pulumi/policy";
import { HCLOUD, PolicyArgs } from "../lib/context";
import { coversPort, inboundRules } from "../lib/firewall";

/** Postgres and Supavisor's transaction pooler. Services reach them over the private network, which Hetzner firewalls do not filter. */
const POSTGRES_PORTS = [5432, 6543];

export const firewallNoPostgres: ResourceValidationPolicy = {
    name: "firewall-no-postgres",
    description: "Hetzner firewalls never open Postgres (5432) or the pooler (6543) from any source: the database is reached over the private network or an SSH tunnel only.",
    enforcementLevel: "mandatory",
    validateResource: (args: PolicyArgs, reportViolation) => {
        if (args.type !== HCLOUD.firewall) return;
        for (const rule of inboundRules(args.props)) {
            for (const port of POSTGRES_PORTS.filter((p) => coversPort(rule, p))) {
                reportViolation(`rule ${rule.index} (${rule.protocol} ${rule.port}) exposes Postgres port ${port} to ${rule.sourceIps.join(", ") || "no source"}; remove it and use the private network or an SSH tunnel`);
            }
        }
    },
};
