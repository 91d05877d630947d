import { StackValidationPolicy } from "@pulumi/policy";
import { list, objectRef, record } from "../lib/context";

const RBAC = /^kubernetes:rbac\.authorization\.k8s\.io\/v1:(Role|ClusterRole|RoleBinding|ClusterRoleBinding)$/;
/** Built-in roles that grant (nearly) everything: cluster-admin everywhere, admin/edit in a namespace (Secrets included). */
const BROAD_ROLES = ["cluster-admin", "admin", "edit"];
/** Groups that are cluster-admin by membership (system:masters bypasses RBAC entirely). */
const BROAD_GROUPS = ["system:masters"];

function wildcard(rule: Record<string, unknown>): string | undefined {
    for (const field of ["verbs", "resources", "apiGroups", "nonResourceURLs"]) {
        if (list(rule[field]).map(String).includes("*")) return field;
    }
    return undefined;
}

/**
 * RBAC grants of the stack stay narrow: no Role or ClusterRole with `*` in verbs, resources,
 * apiGroups or nonResourceURLs, no binding to cluster-admin/admin/edit or to such a wildcard role
 * of the stack, no binding of the system:masters group. A stack policy: a binding and the role it
 * names are different resources.
 */
export const rbacLeastPrivilege: StackValidationPolicy = {
    name: "rbac-least-privilege",
    description: "No wildcard Role/ClusterRole (verbs, resources, apiGroups), no (Cluster)RoleBinding to cluster-admin, admin, edit, a wildcard role of the stack or the system:masters group.",
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
        const rbac = args.resources.map((r) => ({ resource: r, kind: RBAC.exec(r.type)?.[1] })).filter((r) => r.kind !== undefined);
        const wildcardRoles = new Set<string>();
        for (const { resource, kind } of rbac.filter((r) => r.kind === "Role" || r.kind === "ClusterRole")) {
            const { namespace, name } = objectRef(resource.props, resource.name);
            for (const rule of list(resource.props.rules).map(record)) {
                const field = wildcard(rule);
                if (field === undefined) continue;
                wildcardRoles.add(kind === "ClusterRole" ? `ClusterRole/${name}` : `Role/${namespace}/${name}`);
                reportViolation(`${kind} ${kind === "Role" ? `${namespace}/` : ""}${name} grants ${field}: ["*"]; list the verbs and resources it needs`, resource.urn);
            }
        }
        for (const { resource, kind } of rbac.filter((r) => r.kind === "RoleBinding" || r.kind === "ClusterRoleBinding")) {
            const { namespace, name } = objectRef(resource.props, resource.name);
            const roleRef = record(resource.props.roleRef);
            const roleName = String(roleRef.name ?? "");
            const key = roleRef.kind === "ClusterRole" ? `ClusterRole/${roleName}` : `Role/${namespace}/${roleName}`;
            const where = `${kind} ${kind === "RoleBinding" ? `${namespace}/` : ""}${name}`;
            if (roleRef.kind === "ClusterRole" && BROAD_ROLES.includes(roleName)) reportViolation(`${where} grants the built-in ${roleName}: bind a role with the permissions needed`, resource.urn);
            else if (wildcardRoles.has(key)) reportViolation(`${where} grants ${key}, a wildcard role`, resource.urn);
            for (const subject of list(resource.props.subjects).map(record)) {
                if (subject.kind === "Group" && BROAD_GROUPS.includes(String(subject.name))) reportViolation(`${where} binds the group ${String(subject.name)}, which bypasses RBAC`, resource.urn);
            }
        }
    },
};
