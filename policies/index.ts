/**
 * The CrossGuard pack: `pulumi preview --policy-pack policies [--policy-pack-config policies/config/<env>.json]`.
 * The ONLY place a PolicyPack is constructed: constructing one starts a gRPC server, and a second one
 * in the same process exits it. Tests and the offline check import ./all instead.
 */
import { PolicyPack } from "@pulumi/policy";
import { POLICY_PACK_NAME, policies } from "./all";

new PolicyPack(POLICY_PACK_NAME, {
    description: "archon-infra guardrails: pinned images, hardened containers, closed firewalls, protected state, TLS everywhere.",
    enforcementLevel: "mandatory",
    policies,
});
