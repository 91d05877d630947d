import { StackValidationPolicy } from "@pulumi/policy";
import { list, objectRef, podSpec, record } from "../lib/context";

const NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy";

/** True when a NetworkPolicy selects every pod of its namespace and denies by default in `direction`. */
function deniesAll(props: Record<string, unknown>, direction: "Ingress" | "Egress"): boolean {
    const spec = record(props.spec);
    const selector = record(spec.podSelector);
    const selectsAll = Object.keys(record(selector.matchLabels)).length === 0 && list(selector.matchExpressions).length === 0;
    const types = list(spec.policyTypes).map(String);
    const rules = list(spec[direction === "Ingress" ? "ingress" : "egress"]);
    return selectsAll && types.includes(direction) && rules.length === 0;
}

/**
 * Every namespace where this stack runs a workload has a default-deny NetworkPolicy (all pods,
 * Ingress and Egress, no rule): without it, each `allow-*` policy still admits its peers, but a
 * pod no policy selects accepts traffic from anywhere. A stack policy, because the violation is an
 * absence across resources.
 */
export const networkDefaultDeny: StackValidationPolicy = {
    name: "network-default-deny",
    description: "Every namespace holding a workload of the stack has a NetworkPolicy that selects all pods and denies Ingress and Egress by default.",
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
        const denied = { Ingress: new Set<string>(), Egress: new Set<string>() };
        for (const resource of args.resources.filter((r) => r.type === NETWORK_POLICY)) {
            const { namespace } = objectRef(resource.props, resource.name);
            for (const direction of ["Ingress", "Egress"] as const) if (deniesAll(resource.props, direction)) denied[direction].add(namespace);
        }
        for (const resource of args.resources) {
            if (!podSpec(resource.type, resource.props)) continue;
            const { namespace, name } = objectRef(resource.props, resource.name);
            const missing = (["Ingress", "Egress"] as const).filter((d) => !denied[d].has(namespace));
            if (missing.length > 0) {
                reportViolation(`${resource.type.split(":").pop()} ${namespace}/${name} runs in a namespace without a default-deny NetworkPolicy for ${missing.join(" and ")} (podSelector: {}, policyTypes: [${missing.join(", ")}], no rules)`, resource.urn);
            }
        }
    },
};
