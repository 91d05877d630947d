/**
 * What every rule shares: how strict to be (production or not), the policy's settings, and where
 * the pod templates and containers sit in each workload type. Rules read only `type`, `props`,
 * `opts`, `urn`, `stackTags` and `getConfig`, so the same functions run under the Pulumi CLI and in
 * the offline check (scripts/policy.ts).
 */
import { ResourceValidationArgs } from "@pulumi/policy";

/**
 * The offline check knows more than the CLI hands a policy: which input paths were Pulumi secrets
 * (the policy SDK unwraps secrets before `validateResource`) and `retainOnDelete` (not part of
 * `PolicyResourceOptions`). Rules use these when present.
 */
export interface OfflineKnowledge {
    /** Dotted input paths whose value, or an ancestor's, was a Pulumi secret (`data`, `stringData.key`). */
    secretPaths: ReadonlySet<string>;
    retainOnDelete: boolean;
}

export type PolicyArgs = ResourceValidationArgs & Partial<OfflineKnowledge>;

/** The stack tag that selects production strictness; the offline check sets it from config `environment`. */
export const ENVIRONMENT_TAG = "environment";
export const PRODUCTION = "production";

/** The stack name inside a URN: `urn:pulumi:<stack>::<project>::<type>::<name>`. */
export function stackOfUrn(urn: string): string {
    return urn.split("::")[0].split(":").slice(2).join(":");
}

/**
 * Production strictness: the stack tag `environment` when set (`pulumi stack tag set environment
 * production`), else the stack's name being `production`.
 */
export function isProduction(args: Pick<ResourceValidationArgs, "urn" | "stackTags">): boolean {
    const tag = args.stackTags?.get(ENVIRONMENT_TAG);
    if (tag !== undefined && tag !== "") return tag === PRODUCTION;
    return stackOfUrn(args.urn) === PRODUCTION;
}

/** The policy's settings: its defaults, overridden by the policy pack config (`--policy-pack-config`). */
export function settings<T extends object>(args: Pick<ResourceValidationArgs, "getConfig">, defaults: T): T {
    return { ...defaults, ...(args.getConfig<Partial<T>>() ?? {}) };
}

export type Props = Record<string, unknown>;

export function record(value: unknown): Props {
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Props) : {};
}

export function list(value: unknown): unknown[] {
    return Array.isArray(value) ? value : [];
}

export const KUBERNETES = {
    deployment: "kubernetes:apps/v1:Deployment",
    statefulSet: "kubernetes:apps/v1:StatefulSet",
    daemonSet: "kubernetes:apps/v1:DaemonSet",
    replicaSet: "kubernetes:apps/v1:ReplicaSet",
    job: "kubernetes:batch/v1:Job",
    cronJob: "kubernetes:batch/v1:CronJob",
    pod: "kubernetes:core/v1:Pod",
    service: "kubernetes:core/v1:Service",
    secret: "kubernetes:core/v1:Secret",
    pvc: "kubernetes:core/v1:PersistentVolumeClaim",
    ingress: "kubernetes:networking.k8s.io/v1:Ingress",
    storageClass: "kubernetes:storage.k8s.io/v1:StorageClass",
} as const;

export const HCLOUD = {
    server: "hcloud:index/server:Server",
    firewall: "hcloud:index/firewall:Firewall",
    volume: "hcloud:index/volume:Volume",
} as const;

/** Workloads whose pods run continuously (probes apply); Jobs and CronJobs run to completion. */
const LONG_RUNNING = new Set<string>([KUBERNETES.deployment, KUBERNETES.statefulSet, KUBERNETES.daemonSet, KUBERNETES.replicaSet, KUBERNETES.pod]);

/** The pod spec of a workload, or undefined when the type carries none. */
export function podSpec(type: string, props: Props): Props | undefined {
    const spec = record(props.spec);
    switch (type) {
        case KUBERNETES.pod:
            return spec;
        case KUBERNETES.deployment:
        case KUBERNETES.statefulSet:
        case KUBERNETES.daemonSet:
        case KUBERNETES.replicaSet:
        case KUBERNETES.job:
            return record(record(spec.template).spec);
        case KUBERNETES.cronJob:
            return record(record(record(record(spec.jobTemplate).spec).template).spec);
        default:
            return undefined;
    }
}

export function isLongRunning(type: string): boolean {
    return LONG_RUNNING.has(type);
}

export interface Container {
    /** `containers` or `initContainers`. */
    kind: "containers" | "initContainers";
    name: string;
    spec: Props;
}

/** Every container of a workload's pod template (init containers included). */
export function containersOf(type: string, props: Props): Container[] {
    const pod = podSpec(type, props);
    if (!pod) return [];
    return (["initContainers", "containers"] as const).flatMap((kind) =>
        list(pod[kind]).map((c, i) => ({ kind, name: String(record(c).name ?? `#${i}`), spec: record(c) })),
    );
}

/** `namespace/name` of a Kubernetes object (namespace `default` when unset, name from the resource when unset). */
export function objectRef(props: Props, resourceName: string): { namespace: string; name: string } {
    const metadata = record(props.metadata);
    return { namespace: String(metadata.namespace ?? "default"), name: String(metadata.name ?? resourceName) };
}
