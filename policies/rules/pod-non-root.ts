import { ResourceValidationPolicy } from "@pulumi/policy";
import { PolicyArgs, containersOf, objectRef, podSpec, record, settings } from "../lib/context";

/**
 * Workloads that run as root, and why (`namespace/name`). archon/db: supabase/postgres's entrypoint
 * starts as root, takes ownership of the data directory, then steps down to `postgres` (the
 * docker-library postgres entrypoint it builds on: `gosu postgres`); components/services/
 * workload-catalog.ts says so where it sets `runAsNonRoot: false`.
 */
const DEFAULT_ROOT_ALLOWED = ["archon/db"];

/**
 * Pods run as a non-root user: every container's effective securityContext (its own, else the
 * pod's) sets `runAsNonRoot: true` or a non-zero `runAsUser`, and none sets `runAsUser: 0`. Without
 * either, the image's USER decides, and most images are root: the kubelet refuses to start a root
 * container only under runAsNonRoot. Exceptions (`rootAllowed`) are workloads whose image must
 * start as root.
 */
export const podNonRoot: ResourceValidationPolicy = {
    name: "pod-non-root",
    description: "Containers never run as uid 0: effective runAsNonRoot: true or a non-zero runAsUser, never runAsUser: 0 (exceptions: rootAllowed, namespace/name).",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            rootAllowed: { type: "array", items: { type: "string" }, description: "namespace/name of workloads whose image must start as root." },
        },
    },
    validateResource: (args: PolicyArgs, reportViolation) => {
        const pod = podSpec(args.type, args.props);
        if (!pod) return;
        const { rootAllowed } = settings(args, { rootAllowed: DEFAULT_ROOT_ALLOWED });
        const { namespace, name } = objectRef(args.props, args.name);
        if (rootAllowed.includes(`${namespace}/${name}`)) return;
        const podContext = record(pod.securityContext);
        for (const container of containersOf(args.type, args.props)) {
            const context = record(container.spec.securityContext);
            const user = context.runAsUser ?? podContext.runAsUser;
            const nonRoot = context.runAsNonRoot ?? podContext.runAsNonRoot;
            const where = `${namespace}/${name} ${container.kind} ${container.name}`;
            if (user !== undefined && user !== null && Number(user) === 0) reportViolation(`${where} sets runAsUser: 0 (root)`);
            else if (nonRoot !== true && (user === undefined || user === null)) reportViolation(`${where} sets neither runAsNonRoot: true nor a runAsUser: the image's user (root for most) runs it`);
        }
    },
};
