/**
 * Renders a service catalog into Kubernetes objects: namespace, Secrets (the only place secret
 * values go), ConfigMaps, Deployments / a StatefulSet / migration Jobs, Services, retained PVCs,
 * PodDisruptionBudgets, HPAs and NetworkPolicies. Routes (`ServiceSpec.routes`) are left to the
 * ingress component.
 */
import { metricsPort } from "../compose/monitoring";
import * as crypto from "crypto";
import { isIPv4 } from "net";
import * as kubernetes from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { FileSpec, ServiceSpec, forTarget, storageOwner } from "../services/catalog";

type Input<T> = pulumi.Input<T>;
type PodSpec = kubernetes.types.input.core.v1.PodSpec;
type Container = kubernetes.types.input.core.v1.Container;
type Probe = kubernetes.types.input.core.v1.Probe;

/** Private and link-local ranges an internet egress rule leaves out (the cluster, the Hetzner network, metadata). */
const PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"] as const;

/** Label cert-manager puts on its HTTP-01 solver pods (v1.18.2 pkg/apis/acme/v1/types.go). */
export const ACME_SOLVER_LABEL = "acme.cert-manager.io/http01-solver";
/** The solver's listen port (v1.18.2 pkg/issuer/acme/http/http.go). */
export const ACME_SOLVER_PORT = 8089;

export interface KubernetesWorkloadsArgs {
    /** The services to run; those whose `targets` exclude kubernetes are skipped. */
    services: ServiceSpec[];
    /** Namespace created for the workloads, e.g. `archon`. */
    namespace: string;
    provider: kubernetes.Provider;
    /** Credentials of a private registry: a dockerconfigjson Secret every pod references. */
    imagePullSecret?: { server: Input<string>; username: Input<string>; password: Input<string> };
    /**
     * Storage class of the PersistentVolumeClaims (k3s: `hcloud-volumes-retain`). Unset: the
     * cluster's default class. The claims are protected and kept on delete either way; a class with
     * reclaimPolicy Retain also keeps the volume when someone deletes a claim by hand.
     */
    storageClassName?: string;
    /** Size in GB of each service's volumes, overriding the catalog's `sizeGb`, by service name. */
    storageSizesGb?: Record<string, number>;
    /** Namespaces of the ingress controllers that reach routed ports. Default kube-system, traefik, ingress-nginx. */
    ingressNamespaces?: string[];
    /** Namespace of the monitoring stack that scrapes every port. Default `monitoring`. */
    monitoringNamespace?: string;
    /** Cluster add-ons every object waits for (CCM: schedulable nodes; CSI: the StorageClass). Default none. */
    clusterAddons?: pulumi.Resource[];
    /** Order and await of the workloads that run Archon images (README "First deploy"). Default: like the others. */
    archon?: ArchonWorkloadsOrder;
}

/** How the workloads running Archon images are created (components/registry/bootstrap.ts). */
export interface ArchonWorkloadsOrder {
    /** Their service names (the five Archon images). */
    services: string[];
    /** They wait for these: the image pushes (docker.Image) or the image check. */
    dependsOn: pulumi.Resource[];
    /**
     * True when their images were missing from the registry at the check: `pulumi.com/skipAwait`,
     * so the first deploy does not time out on pods in ImagePullBackOff (kubelet keeps pulling
     * and they start once the images are pushed). False or unset: Pulumi awaits them as usual.
     */
    skipAwait?: pulumi.Output<boolean>;
}

/** pulumi-kubernetes's annotation that creates or updates an object without waiting for it to become ready. */
export const SKIP_AWAIT_ANNOTATION = "pulumi.com/skipAwait";

/** A ConfigMap / Secret key for a file path (keys allow only [-._a-zA-Z0-9]). */
export function fileKey(file: FileSpec): string {
    return file.path.replace(/^\/+/, "").replace(/[^-._a-zA-Z0-9]+/g, "_");
}

/** What egressInternet allows on Kubernetes: TCP to these ports of public addresses (Compose allows any). */
export const INTERNET_EGRESS_PORTS = [443, 80];

function probeFor(service: ServiceSpec, kind: "readiness" | "liveness" | "startup"): Probe | undefined {
    const health = service.health;
    if (!health) return undefined;
    // The startup probe runs the liveness check until it first passes; liveness starts only then,
    // so a slow start (archon-agents waits up to ten minutes for its credentials) is never killed.
    const timing = {
        readiness: { periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
        startup: { periodSeconds: 10, timeoutSeconds: 5, failureThreshold: startupFailureThreshold(service) },
        liveness: { periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 3 },
    }[kind];
    // Liveness asks "is this process stuck"; readiness "can it serve now" (see HealthSpec.live).
    const check = kind !== "readiness" && health.live ? health.live : health;
    if (check.http) return { httpGet: { path: check.http.path, port: check.http.port }, ...timing };
    if (check.tcp) return { tcpSocket: { port: check.tcp.port }, ...timing };
    if (check.exec) return { exec: { command: check.exec }, ...timing };
    return undefined;
}

/** The shortest start window of a stateful service: ten minutes (checked every 10 s). */
export const STARTUP_PROBE = { periodSeconds: 10, failureThreshold: 60 } as const;

/**
 * Failures (every 10 s) the startup probe tolerates: the catalog's `startupSeconds` plus three, and
 * for a stateful service never less than ten minutes, so a first boot that runs longer than its
 * usual start (the Postgres image initializes its data directory and runs Supabase's init SQL
 * before it accepts connections) is not killed half-way into a data directory it can no longer
 * initialize. The longer of the two wins.
 */
function startupFailureThreshold(service: ServiceSpec): number {
    const fromCatalog = Math.ceil((service.health?.startupSeconds ?? 30) / 10) + 3;
    return service.kind === "stateful" ? Math.max(fromCatalog, STARTUP_PROBE.failureThreshold) : fromCatalog;
}

/**
 * The services that render on Kubernetes: those targeting it, refusing what only Compose can run
 * (host directories: a hostPath volume breaks the namespace's baseline Pod Security level and ties
 * the pod to one node; shared storage: one ReadWriteOnce PVC cannot serve several pods).
 */
export function kubernetesServices(services: ServiceSpec[]): ServiceSpec[] {
    const selected = forTarget(services, "kubernetes");
    for (const service of selected) {
        if ((service.hostPaths ?? []).length > 0 || (service.devices ?? []).length > 0) {
            throw new Error(`service ${service.name}: hostPaths are Compose only (a hostPath volume breaks the baseline Pod Security level); set targets: ["compose"]`);
        }
        const shared = (service.storage ?? []).filter((s) => s.shared).map((s) => s.name);
        if (shared.length > 0) {
            throw new Error(`service ${service.name}: shared storage (${shared.join(", ")}) is Compose only (a ReadWriteOnce PVC serves one pod); set targets: ["compose"]`);
        }
    }
    return selected;
}

/** The pod's fsGroup: given, or for a pod with storage its owner's group, so the volume is writable. */
function podFsGroup(service: ServiceSpec): number | undefined {
    if (service.security.fsGroup !== undefined || (service.storage ?? []).length === 0) return service.security.fsGroup;
    const gid = storageOwner(service).gid;
    return gid === 0 ? undefined : gid;
}

/** The env ConfigMap and Secret the renderer makes for `service` (`<name>-env`, `<name>-secrets`), as envFrom. */
function settingsEnvFrom(service: ServiceSpec): kubernetes.types.input.core.v1.EnvFromSource[] {
    return [
        ...(Object.keys(service.env ?? {}).length > 0 ? [{ configMapRef: { name: `${service.name}-env` } }] : []),
        ...(Object.keys(service.secretEnv ?? {}).length > 0 ? [{ secretRef: { name: `${service.name}-secrets` } }] : []),
    ];
}

function sha256(text: string): string {
    return crypto.createHash("sha256").update(text).digest("hex");
}

export class KubernetesWorkloads extends pulumi.ComponentResource {
    public readonly namespace: pulumi.Output<string>;
    /** The Namespace object: what objects elsewhere in it wait for. */
    public readonly namespaceResource: kubernetes.core.v1.Namespace;
    /** Each service's workload (Deployment, StatefulSet, Job or CronJob) and its Service, by service name. */
    public readonly byService = new Map<string, pulumi.Resource[]>();

    constructor(name: string, args: KubernetesWorkloadsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:KubernetesWorkloads", name, {}, opts);
        const services = kubernetesServices(args.services);
        const ns = args.namespace;
        const childOpts: pulumi.CustomResourceOptions = { parent: this, provider: args.provider };
        const addons = args.clusterAddons ?? [];
        const namespace = new kubernetes.core.v1.Namespace(ns, {
            metadata: { name: ns, labels: { "app.kubernetes.io/part-of": "archon", "pod-security.kubernetes.io/enforce": "baseline" } },
        }, { ...childOpts, dependsOn: addons });
        this.namespace = namespace.metadata.name;
        this.namespaceResource = namespace;
        // Pods need nodes the CCM initialized, claims the CSI driver's StorageClass: no racing them.
        const opt: pulumi.CustomResourceOptions = { ...childOpts, dependsOn: [namespace, ...addons] };
        const labels = (service: ServiceSpec) => ({ "app.kubernetes.io/name": service.name, "app.kubernetes.io/component": service.group, "app.kubernetes.io/part-of": "archon" });
        const selector = (serviceName: string) => ({ "app.kubernetes.io/name": serviceName });

        const pullSecrets: { name: string }[] = [];
        if (args.imagePullSecret) {
            const pull = args.imagePullSecret;
            const dockerConfig = pulumi.all([pull.server, pull.username, pull.password]).apply(([server, username, password]) =>
                JSON.stringify({ auths: { [server]: { username, password, auth: Buffer.from(`${username}:${password}`).toString("base64") } } }));
            new kubernetes.core.v1.Secret("registry-credentials", {
                metadata: { name: "registry-credentials", namespace: ns },
                type: "kubernetes.io/dockerconfigjson",
                stringData: { ".dockerconfigjson": pulumi.secret(dockerConfig) },
            }, opt);
            pullSecrets.push({ name: "registry-credentials" });
        }

        // Kubernetes Services first: aliases need their cluster IPs.
        const clusterServices = new Map<string, kubernetes.core.v1.Service>();
        for (const service of services.filter((s) => s.kind !== "oneshot" && s.ports.length > 0)) {
            clusterServices.set(service.name, new kubernetes.core.v1.Service(service.name, {
                metadata: { name: service.name, namespace: ns, labels: labels(service) },
                spec: { selector: selector(service.name), ports: service.ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.port })) },
            }, opt));
        }
        const hostAliases = services.flatMap((service) => (service.aliases ?? []).map((alias) => ({
            ip: clusterServices.get(service.name)!.spec.clusterIP,
            hostnames: [alias],
        })));

        this.renderNetworkPolicies(services, ns, args, opt);

        // Migration Jobs first: a service that depends on one starts only after it completed.
        const jobs = new Map<string, pulumi.Resource>();
        const archon = new Set(args.archon?.services ?? []);
        const archonWaitsFor = (service: ServiceSpec) => (archon.has(service.name) ? args.archon?.dependsOn ?? [] : []);
        const record = (service: ServiceSpec, workload: pulumi.Resource) =>
            this.byService.set(service.name, [workload, ...(clusterServices.has(service.name) ? [clusterServices.get(service.name)!] : [])]);
        // A one-shot waits for the long-running services it depends on to be ready (Pulumi awaits a
        // StatefulSet's readiness): archon-migrate runs once db answers, as Compose's
        // `service_healthy` orders it, instead of failing into its Job's retries on a first deploy.
        const neededByJobs = new Set(services.filter((s) => s.kind === "oneshot").flatMap((s) => s.dependsOn ?? []));
        const workloads = new Map<string, pulumi.Resource>();
        const renderService = (service: ServiceSpec, waitFor: pulumi.Resource[]) => {
            const workload = this.renderWorkload(service, ns, args, opt, pullSecrets, hostAliases, labels(service), waitFor);
            workloads.set(service.name, workload);
            record(service, workload);
            return workload;
        };
        const jobWaits = (service: ServiceSpec) => [...(service.dependsOn ?? []).flatMap((d) => jobs.get(d) ?? []), ...archonWaitsFor(service)];
        const early = services.filter((s) => s.kind !== "oneshot" && neededByJobs.has(s.name) && !(s.dependsOn ?? []).some((d) => services.some((o) => o.name === d && o.kind === "oneshot")));
        for (const service of early) renderService(service, jobWaits(service));
        for (const service of services.filter((s) => s.kind === "oneshot")) {
            const dependencies = (service.dependsOn ?? []).flatMap((d) => workloads.get(d) ?? []);
            jobs.set(service.name, renderService(service, [...dependencies, ...archonWaitsFor(service)]));
        }
        for (const service of services.filter((s) => s.kind !== "oneshot" && !early.includes(s))) renderService(service, jobWaits(service));
        this.registerOutputs({ namespace: this.namespace });
    }

    private renderWorkload(
        service: ServiceSpec,
        ns: string,
        args: KubernetesWorkloadsArgs,
        opt: pulumi.CustomResourceOptions,
        pullSecrets: { name: string }[],
        hostAliases: { ip: Input<string>; hostnames: string[] }[],
        labels: Record<string, string>,
        waitFor: pulumi.Resource[],
    ): pulumi.Resource {
        const meta = (suffix: string) => ({ name: `${service.name}${suffix}`, namespace: ns, labels });
        // The workload itself (not its ConfigMaps, Secrets, PDB): skip the await when its Archon image was missing.
        const skipAwait = args.archon?.services.includes(service.name) ? args.archon.skipAwait : undefined;
        const workloadMeta = () => (skipAwait === undefined
            ? meta("")
            // No annotations at all when awaited: an empty map would show as a change on every existing workload.
            : { ...meta(""), annotations: skipAwait.apply((skip): Record<string, string> | undefined => (skip ? { [SKIP_AWAIT_ANNOTATION]: "true" } : undefined)) as pulumi.Input<Record<string, string>> });
        const plainFiles = (service.files ?? []).filter((f) => !f.secret);
        const secretFiles = (service.files ?? []).filter((f) => f.secret);
        const configData: Record<string, Input<string>> = { ...(service.env ?? {}) };
        const fileData: Record<string, Input<string>> = Object.fromEntries(plainFiles.map((f) => [fileKey(f), f.content]));
        const secretData: Record<string, Input<string>> = { ...(service.secretEnv ?? {}), ...Object.fromEntries(secretFiles.map((f) => [fileKey(f), f.content])) };

        const volumes: kubernetes.types.input.core.v1.Volume[] = [];
        const mounts: kubernetes.types.input.core.v1.VolumeMount[] = [];
        const envFrom: kubernetes.types.input.core.v1.EnvFromSource[] = [];

        if (Object.keys(configData).length > 0) {
            const env = new kubernetes.core.v1.ConfigMap(`${service.name}-env`, { metadata: meta("-env"), data: configData }, opt);
            envFrom.push({ configMapRef: { name: env.metadata.name } });
        }
        if (plainFiles.length > 0) {
            new kubernetes.core.v1.ConfigMap(`${service.name}-files`, { metadata: meta("-files"), data: fileData }, opt);
            volumes.push({ name: "files", configMap: { name: `${service.name}-files`, defaultMode: 0o444 } });
            for (const f of plainFiles) mounts.push({ name: "files", mountPath: f.path, subPath: fileKey(f), readOnly: true });
        }
        if (Object.keys(secretData).length > 0) {
            new kubernetes.core.v1.Secret(`${service.name}-secrets`, { metadata: meta("-secrets"), type: "Opaque", stringData: pulumi.secret(secretData) }, opt);
            if (Object.keys(service.secretEnv ?? {}).length > 0) envFrom.push({ secretRef: { name: `${service.name}-secrets` } });
            if (secretFiles.length > 0) {
                // 0440 with the pod's fsGroup; 0444 for a file the image reads as a uid it does not pin.
                volumes.push({ name: "secret-files", secret: { secretName: `${service.name}-secrets`, defaultMode: 0o440, items: secretFiles.map((f) => ({ key: fileKey(f), path: fileKey(f), mode: f.readableBy === "any" ? 0o444 : undefined })) } });
                for (const f of secretFiles) mounts.push({ name: "secret-files", mountPath: f.path, subPath: fileKey(f), readOnly: true });
            }
        }
        // Pods roll when their settings change: the ConfigMaps and Secrets keep their names.
        const checksum = pulumi.all([configData, fileData, secretData]).apply((data) => sha256(JSON.stringify(data)));

        // Scratch emptyDirs, one per path, shared by the pod's containers that list the same path.
        const scratchPaths = [...new Set([...(service.security.writablePaths ?? []), ...(service.initContainers ?? []).flatMap((c) => c.writablePaths ?? [])])];
        const scratchMounts = (paths: string[]) => paths.map((p) => ({ name: `scratch-${scratchPaths.indexOf(p)}`, mountPath: p }));
        scratchPaths.forEach((_, i) => volumes.push({ name: `scratch-${i}`, emptyDir: {} }));
        mounts.push(...scratchMounts(service.security.writablePaths ?? []));
        for (const storage of service.storage ?? []) {
            const claimName = `${service.name}-${storage.name}`;
            const size = args.storageSizesGb?.[service.name] ?? storage.sizeGb;
            new kubernetes.core.v1.PersistentVolumeClaim(claimName, {
                metadata: meta(`-${storage.name}`),
                spec: { accessModes: ["ReadWriteOnce"], storageClassName: args.storageClassName, resources: { requests: { storage: `${size}Gi` } } },
            }, { ...opt, protect: true, retainOnDelete: true });
            volumes.push({ name: `data-${storage.name}`, persistentVolumeClaim: { claimName } });
            mounts.push({ name: `data-${storage.name}`, mountPath: storage.mountPath });
        }

        const sec = service.security;
        const fsGroup = podFsGroup(service);
        const containerSecurity = (security: ServiceSpec["security"]) => ({
            allowPrivilegeEscalation: false,
            privileged: false,
            readOnlyRootFilesystem: security.readOnlyRootFilesystem,
            runAsNonRoot: security.runAsNonRoot,
            runAsUser: security.runAsUser,
            runAsGroup: security.runAsGroup,
            capabilities: { drop: ["ALL"], add: security.addCapabilities },
        });
        const initContainers: Container[] = (service.initContainers ?? []).map((init) => {
            // Settings of another service: its ConfigMap and Secret (rendered with that service) and its files.
            const from = init.settingsFrom;
            const initEnvFrom = from ? settingsEnvFrom(from) : envFrom;
            const initMounts = from ? [] : mounts.filter((m) => !String(m.name).startsWith("scratch-"));
            if (from) {
                const files = from.files ?? [];
                if (files.some((f) => !f.secret)) {
                    volumes.push({ name: `${init.name}-files`, configMap: { name: `${from.name}-files`, defaultMode: 0o444 } });
                    for (const f of files.filter((f) => !f.secret)) initMounts.push({ name: `${init.name}-files`, mountPath: f.path, subPath: fileKey(f), readOnly: true });
                }
                if (files.some((f) => f.secret)) {
                    volumes.push({ name: `${init.name}-secret-files`, secret: { secretName: `${from.name}-secrets`, defaultMode: 0o440, items: files.filter((f) => f.secret).map((f) => ({ key: fileKey(f), path: fileKey(f) })) } });
                    for (const f of files.filter((f) => f.secret)) initMounts.push({ name: `${init.name}-secret-files`, mountPath: f.path, subPath: fileKey(f), readOnly: true });
                }
            }
            return {
                name: init.name,
                image: init.image,
                command: init.command,
                envFrom: initEnvFrom,
                volumeMounts: [...initMounts, ...scratchMounts(init.writablePaths ?? [])],
                resources: {
                    requests: { cpu: init.resources.cpu, memory: init.resources.memory },
                    limits: { cpu: init.resources.cpuLimit, memory: init.resources.memoryLimit },
                },
                securityContext: containerSecurity(init.security ?? sec),
            };
        });
        const container: Container = {
            name: service.name,
            image: service.image,
            command: service.command,
            args: service.args,
            ports: service.ports.map((p) => ({ name: p.name, containerPort: p.port })),
            envFrom,
            volumeMounts: mounts,
            readinessProbe: service.kind === "oneshot" ? undefined : probeFor(service, "readiness"),
            livenessProbe: service.kind === "oneshot" ? undefined : probeFor(service, "liveness"),
            startupProbe: service.kind === "oneshot" ? undefined : probeFor(service, "startup"),
            resources: {
                requests: { cpu: service.resources.cpu, memory: service.resources.memory },
                limits: { cpu: service.resources.cpuLimit, memory: service.resources.memoryLimit },
            },
            securityContext: containerSecurity(sec),
        };
        const podSpec: PodSpec = {
            initContainers: initContainers.length > 0 ? initContainers : undefined,
            containers: [container],
            volumes,
            imagePullSecrets: pullSecrets,
            hostAliases,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: {
                runAsNonRoot: sec.runAsNonRoot,
                fsGroup,
                // Only the volume's root when it is not already the group's: a large registry is not re-walked on every start.
                fsGroupChangePolicy: fsGroup !== undefined ? "OnRootMismatch" : undefined,
                seccompProfile: { type: "RuntimeDefault" },
            },
            restartPolicy: service.kind === "oneshot" ? "OnFailure" : undefined,
        };
        const template = { metadata: { labels, annotations: { "archon.infra/config-checksum": checksum } }, spec: podSpec };
        const workloadOpt = { ...opt, dependsOn: [...(opt.dependsOn as pulumi.Resource[]), ...waitFor] };

        return this.renderController(service, template, workloadMeta, meta, labels, opt, workloadOpt);
    }

    /**
     * The controller that runs `template`: a CronJob or Job for one-shots, else a Deployment or
     * StatefulSet with a PodDisruptionBudget that never blocks a drain, and an HPA when autoscaled.
     */
    private renderController(
        service: ServiceSpec,
        template: kubernetes.types.input.core.v1.PodTemplateSpec,
        workloadMeta: () => kubernetes.types.input.meta.v1.ObjectMeta,
        meta: (suffix: string) => kubernetes.types.input.meta.v1.ObjectMeta,
        labels: Record<string, string>,
        opt: pulumi.CustomResourceOptions,
        workloadOpt: pulumi.CustomResourceOptions,
    ): pulumi.Resource {
        if (service.kind === "oneshot" && service.schedule !== undefined) {
            // A failed run is retried twice, never overlaps the next, and its pods stay for `kubectl logs`;
            // kube-state-metrics exports kube_cronjob_status_last_successful_time from its status.
            return new kubernetes.batch.v1.CronJob(service.name, {
                metadata: workloadMeta(),
                spec: {
                    schedule: service.schedule,
                    timeZone: "Etc/UTC",
                    concurrencyPolicy: "Forbid",
                    startingDeadlineSeconds: 3600,
                    successfulJobsHistoryLimit: 3,
                    failedJobsHistoryLimit: 3,
                    jobTemplate: { metadata: { labels }, spec: { backoffLimit: 2, template } },
                },
            }, workloadOpt);
        }
        if (service.kind === "oneshot") {
            const job = new kubernetes.batch.v1.Job(service.name, {
                metadata: workloadMeta(),
                spec: { backoffLimit: 6, template },
            }, { ...workloadOpt, deleteBeforeReplace: true });
            return job;
        }
        const replicas = service.autoscale ? service.autoscale.minReplicas : service.replicas ?? 1;
        if (service.updateStrategy === "Recreate" && (service.autoscale || replicas !== 1)) {
            throw new Error(`service ${service.name}: updateStrategy Recreate is for a single replica; it has ${service.autoscale ? "an autoscaler" : `${replicas} replicas`}`);
        }
        let workload: pulumi.Resource;
        if (service.kind === "stateful") {
            workload = new kubernetes.apps.v1.StatefulSet(service.name, {
                metadata: workloadMeta(),
                spec: { serviceName: service.name, replicas, selector: { matchLabels: { "app.kubernetes.io/name": service.name } }, template, updateStrategy: { type: "RollingUpdate" } },
            }, workloadOpt);
        } else {
            workload = new kubernetes.apps.v1.Deployment(service.name, {
                metadata: workloadMeta(),
                spec: {
                    replicas,
                    selector: { matchLabels: { "app.kubernetes.io/name": service.name } },
                    template,
                    strategy: service.updateStrategy === "Recreate"
                        ? { type: "Recreate" }
                        : { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
                },
            }, workloadOpt);
        }
        new kubernetes.policy.v1.PodDisruptionBudget(service.name, {
            metadata: meta(""),
            spec: {
                selector: { matchLabels: { "app.kubernetes.io/name": service.name } },
                // One replica: allow the drain (a PDB of minAvailable 1 would block node upgrades forever).
                ...(replicas > 1 ? { minAvailable: replicas - 1 } : { maxUnavailable: 1 }),
            },
        }, opt);
        if (service.autoscale) {
            new kubernetes.autoscaling.v2.HorizontalPodAutoscaler(service.name, {
                metadata: meta(""),
                spec: {
                    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: service.name },
                    minReplicas: service.autoscale.minReplicas,
                    maxReplicas: service.autoscale.maxReplicas,
                    metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: service.autoscale.cpuUtilization } } }],
                },
            }, opt);
        }
        return workload;
    }

    /**
     * Default deny in the namespace, then: DNS egress for every pod; each service reachable from the
     * services it allows (`allowFrom`, else every pod of the stack); routed ports from the ingress
     * controllers; every port from monitoring; internet egress where `egressInternet`.
     */
    private renderNetworkPolicies(services: ServiceSpec[], ns: string, args: KubernetesWorkloadsArgs, opt: pulumi.CustomResourceOptions): void {
        const namespaces = (names: string[]) => ({ namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: names }] } });
        const ingressNamespaces = args.ingressNamespaces ?? ["kube-system", "traefik", "ingress-nginx"];
        new kubernetes.networking.v1.NetworkPolicy("default-deny", {
            metadata: { name: "default-deny", namespace: ns },
            spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
        }, opt);
        new kubernetes.networking.v1.NetworkPolicy("allow-dns-and-stack-egress", {
            metadata: { name: "allow-dns-and-stack-egress", namespace: ns },
            spec: {
                podSelector: {},
                policyTypes: ["Egress"],
                egress: [
                    { to: [namespaces(["kube-system"])], ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }] },
                    // Peers inside the namespace; each peer's ingress policy decides who gets in.
                    { to: [{ podSelector: {} }] },
                ],
            },
        }, opt);
        // cert-manager's HTTP-01 solver pods run in the namespace of the Certificate (here) and listen
        // on 8089 (cert-manager v1.18.2 pkg/issuer/acme/http/http.go acmeSolverListenPort, label
        // acme.cert-manager.io/http01-solver from pkg/apis/acme/v1/types.go): the ingress
        // controller must reach them, or no certificate is ever issued under default-deny.
        new kubernetes.networking.v1.NetworkPolicy("allow-acme-http01-solver", {
            metadata: { name: "allow-acme-http01-solver", namespace: ns },
            spec: {
                podSelector: { matchLabels: { [ACME_SOLVER_LABEL]: "true" } },
                policyTypes: ["Ingress"],
                ingress: [{ from: [namespaces(ingressNamespaces)], ports: [{ protocol: "TCP", port: ACME_SOLVER_PORT }] }],
            },
        }, opt);
        for (const service of services) {
            const name = `allow-${service.name}`;
            const ingress: kubernetes.types.input.networking.v1.NetworkPolicyIngressRule[] = [];
            if (service.ports.length > 0) {
                const peers = service.allowFrom
                    ? service.allowFrom.map((from) => ({ podSelector: { matchLabels: { "app.kubernetes.io/name": from } } }))
                    : [{ podSelector: {} }];
                const reachable = service.ports.filter((p) => !p.routedOnly);
                if (reachable.length > 0) ingress.push({ from: peers, ports: reachable.map((p) => ({ protocol: "TCP", port: p.port })) });
                // Monitoring reaches only the port it scrapes and the port its probes use, not every API.
                // (A port named metrics or http, as metricsPort picks for the ServiceMonitor; never a
                // database port: db's metrics come from postgres-exporter.)
                const scraped = service.ports.some((p) => p.name === "metrics" || p.name === "http") ? [metricsPort(service).port] : [];
                const observed = [...new Set([...scraped, ...(service.health?.http ? [service.health.http.port] : [])])];
                if (observed.length > 0 && service.monitoringIngress !== false) ingress.push({ from: [namespaces([args.monitoringNamespace ?? "monitoring"])], ports: observed.map((port) => ({ protocol: "TCP", port })) });
            }
            const routed = [...new Set((service.routes ?? []).map((r) => r.port))];
            if (routed.length > 0) ingress.push({ from: [namespaces(ingressNamespaces)], ports: routed.map((port) => ({ protocol: "TCP", port })) });
            const publicInternet = { ipBlock: { cidr: "0.0.0.0/0", except: [...PRIVATE_RANGES] } };
            const egress = [
                ...(service.egressInternet ? [{ to: [publicInternet], ports: INTERNET_EGRESS_PORTS.map((port) => ({ protocol: "TCP", port })) }] : []),
                // Exact destinations (GoTrue's SMTP server): that port only, to that address when known.
                ...(service.egressTo ?? []).map((d) => ({ to: [isIPv4(d.host) ? { ipBlock: { cidr: `${d.host}/32` } } : publicInternet], ports: [{ protocol: "TCP", port: d.port }] })),
            ];
            if (ingress.length === 0 && egress.length === 0) continue;
            new kubernetes.networking.v1.NetworkPolicy(name, {
                metadata: { name, namespace: ns },
                spec: {
                    podSelector: { matchLabels: { "app.kubernetes.io/name": service.name } },
                    policyTypes: egress.length > 0 ? ["Ingress", "Egress"] : ["Ingress"],
                    ingress,
                    egress: egress.length > 0 ? egress : undefined,
                },
            }, opt);
        }
    }
}
