/**
 * The service catalog's vocabulary: every service of the stack described once, as data. Two
 * renderers turn a catalog into Kubernetes objects or into a Docker Compose project, so adding a
 * service is one entry, not two hand-written copies.
 */
import * as pulumi from "@pulumi/pulumi";

/** The parts of the stack; they select labels, namespaces and network policies. */
export type ServiceGroup = "supabase" | "archon" | "registry" | "monitoring" | "ingress";

/** Where a service runs: both targets unless said otherwise. */
export type RenderTarget = "compose" | "kubernetes";

export interface PortSpec {
    /** IANA-style port name (<= 15 chars), e.g. `http`, `postgres`. */
    name: string;
    /** Container port. */
    port: number;
    /**
     * Kubernetes: reached through the ingress controller alone, never from another pod of the stack
     * (the registry's push instance: pushes come from CI and the deploy through registry-push.<domain>,
     * so a pod of the namespace, the crawler's archon-server among them, gets no path to it). Default false.
     */
    routedOnly?: boolean;
}

export interface FileSpec {
    /** Absolute path inside the container; mounted read-only. */
    path: string;
    content: pulumi.Input<string>;
    /** Secret files go to a Kubernetes Secret / a 0600 file, never a ConfigMap or the compose file. */
    secret?: boolean;
    /**
     * Who reads a secret file inside the container. Default `service`: on Compose the host file is
     * owned by the service's `runAsUser` (and its fsGroup) with mode 0440, so the container's uid
     * reads it whoever delivered it; on Kubernetes the Secret volume is 0440 with the pod's fsGroup.
     * `any`: mode 0444, for a file an image reads as a user whose uid the image does not pin (the
     * Postgres image's `postgres`); the Compose host keeps it in the 0700 secrets directory.
     */
    readableBy?: "service" | "any";
    /**
     * Compose only: the uid that reads the secret file when it is not the service's `runAsUser`
     * (nginx's master runs as root, its workers as 101 read auth_basic_user_file): the host file is
     * owned by this uid with mode 0440. Default: the service's uid (see `readableBy`).
     */
    ownerUid?: number;
    /**
     * Compose only, secret files only: bind-mount the file itself instead of its container
     * directory. A secret file is replaced by `mv` on delivery (a new inode, which a running
     * container's single-file mount never sees), so its directory is mounted by default; that
     * would hide whatever the image keeps in the directory. Set it only for a file whose content
     * never changes once written (a rewrite with the same bytes leaves the mounted inode right)
     * in a directory holding the image's own files: the pgsodium root key beside supautils.conf in
     * /etc/postgresql-custom. Default false.
     */
    mountAsFile?: boolean;
}

/** One check: exactly one of its fields. */
export interface CheckSpec {
    /** HTTP GET that answers 2xx. */
    http?: { path: string; port: number };
    /** TCP connect. */
    tcp?: { port: number };
    /** A command inside the container that exits 0. */
    exec?: string[];
}

/**
 * Readiness ("can it serve now": the Compose healthcheck that `depends_on` waits for, the
 * Kubernetes readinessProbe) and liveness ("is this process stuck": the livenessProbe, which
 * restarts the container). A readiness check that depends on another service (the database, the
 * schema) must not be the liveness check, or an outage elsewhere restarts a healthy process.
 */
export interface HealthSpec {
    /** HTTP GET that answers 2xx when the service is ready. */
    http?: { path: string; port: number };
    /** TCP connect when the service has no HTTP endpoint. */
    tcp?: { port: number };
    /** A command inside the container that exits 0 when ready. */
    exec?: string[];
    /**
     * Seconds the service may take to start before liveness failures count. Default 30. Kubernetes:
     * a startupProbe (the liveness check every 10 s) holds liveness off for that long plus three
     * failures; Compose: the healthcheck's start_period.
     */
    startupSeconds?: number;
    /**
     * The liveness check, when readiness depends on something outside the process. Unset: the
     * readiness check above is also the liveness check (right only when it tests the process alone).
     */
    live?: CheckSpec;
}

export interface ResourceSpec {
    /** CPU request, Kubernetes quantity (e.g. `250m`). */
    cpu: string;
    /** Memory request, Kubernetes quantity (e.g. `256Mi`). */
    memory: string;
    /** CPU limit, Kubernetes quantity (e.g. `1`): every container has one, so no service starves its neighbours. */
    cpuLimit: string;
    /** Memory limit, Kubernetes quantity. */
    memoryLimit: string;
}

export interface StorageSpec {
    /** Volume name, unique within the service (within the project when `shared`). */
    name: string;
    mountPath: string;
    /** Size in GB (a PVC on Kubernetes; a directory on the data volume on Compose). */
    sizeGb: number;
    /**
     * One directory for every service declaring this name: on Compose `<dataDir>/shared/<name>`
     * instead of `<dataDir>/<service>/<name>` (e.g. nginx and certbot both read and write the
     * certificates and the ACME webroot). Services sharing a name must run as the same user.
     * Compose only: the Kubernetes renderer refuses it (one ReadWriteOnce PVC cannot serve several
     * pods, and the services sharing storage today, the Compose proxy pair, never run there).
     * Default false.
     */
    shared?: boolean;
}

export interface RouteSpec {
    /** Public host name, e.g. `archon.example.com`. */
    host: string;
    /** URL path prefix, e.g. `/` or `/api`. */
    path: string;
    /** Container port the route reaches. */
    port: number;
    /** The route carries websockets (Upgrade headers, long timeouts). */
    websockets?: boolean;
    /** Maximum request body size in MB. Default 10. */
    maxBodyMb?: number;
    /**
     * Stream request and response bodies between client and service instead of buffering them at
     * the ingress (the registry's blob uploads and downloads, hundreds of MB each). Compose nginx:
     * `proxy_request_buffering off` and `proxy_buffering off`, because nginx otherwise writes each
     * upload to its temp path first, a tmpfs whose pages count against the proxy's memory limit.
     * Default false.
     */
    streamBodies?: boolean;
    /** Require a login at the ingress (nginx auth_basic; Traefik basicAuth Middleware; ingress-nginx auth annotations). */
    basicAuth?: BasicAuthSpec;
    /**
     * Requests other than GET and HEAD need THIS credential set instead of {@link basicAuth}
     * (which then admits reads only): e.g. the registry's pull user reads, only its push user writes.
     * Requires `basicAuth`. Compose nginx: `limit_except GET HEAD { auth_basic ... }`; Traefik: the
     * Ingress requires it and a higher-priority GET/HEAD IngressRoute requires `basicAuth`;
     * ingress-nginx cannot split by method without snippet annotations (see kubernetes/ingress.ts).
     */
    writeAuth?: BasicAuthSpec;
    /**
     * Require a login checked by another service of the stack instead (oauth2-proxy's OIDC login:
     * nginx auth_request; Traefik forwardAuth; ingress-nginx auth-url). Exclusive with `basicAuth`.
     */
    forwardAuth?: ForwardAuthSpec;
}

/**
 * Authentication delegated to a service that answers a subrequest: 2xx lets the request through,
 * 401 sends a browser to `signInPath` (oauth2-proxy's documented nginx / Traefik / ingress-nginx
 * integrations, docs/docs/configuration/integrations/ at v7.15.3). That service routes
 * `pathPrefix` on the same host itself (sign-in, callback).
 */
export interface ForwardAuthSpec {
    /** The service answering the checks (a catalog service name, e.g. `oauth2-proxy`). */
    service: string;
    port: number;
    /** Path of the check: 202 when the request carries a valid session, 401 otherwise. */
    authPath: string;
    /** Where a browser without a session is sent (a page with the provider's sign-in button). */
    signInPath: string;
    /** Path that starts the provider's login directly (ingress-nginx's auth-signin). */
    startPath: string;
    /** Headers the check answers with that the app receives (the signed-in user). */
    responseHeaders: string[];
}

/** Basic authentication at the ingress, from an htpasswd file with fast salted hashes (components/secrets `loginHash`). */
export interface BasicAuthSpec {
    /** Name of the credential set: the nginx file `/etc/nginx/auth/<name>`, the Kubernetes Secret `<name>-htpasswd`. */
    name: string;
    /** The realm browsers show. */
    realm: string;
    /** htpasswd lines (`user:$apr1$...`), secret. */
    htpasswd: pulumi.Input<string>;
    /**
     * The backend checks the same credentials itself (the registry's own htpasswd), so the
     * ingress passes the `Authorization` header on (Traefik `removeHeader: false`; nginx always
     * does). Default false: Traefik removes it, the backend never sees the login.
     */
    forwardAuthorization?: boolean;
}

export interface SecuritySpec {
    runAsNonRoot: boolean;
    /**
     * UID the container runs as (Compose `user`, Kubernetes `runAsUser`); it also owns the
     * service's storage (the Compose project creates and chowns the data directories before the
     * services start). Required for a service with storage and `runAsNonRoot`. Unset with
     * `runAsNonRoot: false`: the image starts as root, its data directories are root's (an
     * entrypoint that steps down, like Postgres', hands its data over itself).
     */
    runAsUser?: number;
    /** Primary GID (Kubernetes `runAsGroup`). Default: the image's group for the user. */
    runAsGroup?: number;
    readOnlyRootFilesystem: boolean;
    /** Writable scratch paths (emptyDir / tmpfs) for a read-only root filesystem. */
    writablePaths?: string[];
    /**
     * Capabilities added back after dropping ALL, for images whose entrypoint starts as root and
     * steps down (e.g. Postgres: CHOWN, SETUID, SETGID). Empty by default.
     */
    addCapabilities?: string[];
    /**
     * Group that owns mounted volumes (Kubernetes `fsGroup`; the group of the Compose data
     * directories). Default for a service with storage: `runAsGroup`, else `runAsUser`.
     */
    fsGroup?: number;
}

/**
 * A container that runs to completion before the service's own, in the same pod (Kubernetes
 * only: the Compose renderer ignores it; model the step there as a `oneshot` service the
 * service `dependsOn`). E.g. the migration Job's backup before it applies new SQL.
 */
export interface InitContainerSpec {
    /** Container name, unique in the pod. */
    name: string;
    image: pulumi.Input<string>;
    /** Replaces the image's ENTRYPOINT. */
    command: string[];
    /**
     * The service whose settings the container gets (its env ConfigMap and Secret, and its files
     * at their paths), instead of the pod's own: e.g. the backup service's S3 credentials reach the
     * migration pod's backup step without becoming the migration container's. That service must
     * render on Kubernetes too. Default: the pod's own service.
     */
    settingsFrom?: ServiceSpec;
    /** Writable scratch paths (emptyDirs shared by path with the pod's other containers). */
    writablePaths?: string[];
    resources: ResourceSpec;
    /** Default: the service's own. */
    security?: SecuritySpec;
}

/** Horizontal autoscaling on Kubernetes (an HPA on CPU). Compose runs one container. */
export interface AutoscaleSpec {
    minReplicas: number;
    maxReplicas: number;
    /** Target average CPU utilisation, percent of the request. */
    cpuUtilization: number;
}

export interface ServiceSpec {
    /** Service name: the Compose service, the Kubernetes Deployment and Service, the DNS name. */
    name: string;
    group: ServiceGroup;
    /** Full image reference: `repo:tag` or `repo@sha256:...`. */
    image: pulumi.Input<string>;
    /** `service` runs continuously; `stateful` keeps data (StatefulSet); `oneshot` runs to completion (migration Job). */
    kind: "service" | "stateful" | "oneshot";
    /**
     * Replaces the image's ENTRYPOINT (Kubernetes `command`, Compose `entrypoint`). Set it only to
     * run something else than the image's entrypoint (a mounted script); an image whose entrypoint
     * prepares the container (Postgres' initdb and init scripts, nginx's templates) loses that.
     */
    command?: string[];
    /**
     * Replaces the image's CMD, the arguments of its ENTRYPOINT (Kubernetes `args`, Compose
     * `command`): e.g. `postgres -c ...` for docker-entrypoint.sh, flags for /bin/prometheus.
     */
    args?: string[];
    ports: PortSpec[];
    /** Plain settings. Never a secret value. */
    env?: Record<string, pulumi.Input<string>>;
    /** Secret settings: a Kubernetes Secret / the 0600 env file. */
    secretEnv?: Record<string, pulumi.Input<string>>;
    files?: FileSpec[];
    health?: HealthSpec;
    resources: ResourceSpec;
    storage?: StorageSpec[];
    security: SecuritySpec;
    /** Services that must be healthy (or, for oneshot, completed) before this one starts. */
    dependsOn?: string[];
    /** Public routes through the ingress. */
    routes?: RouteSpec[];
    /**
     * Kubernetes only, `oneshot` only: run the job on this cron schedule (a CronJob, UTC) instead
     * of once per deploy.
     */
    schedule?: string;
    /** Kubernetes only: containers that run to completion first, in order. */
    initContainers?: InitContainerSpec[];
    /** Replicas on Kubernetes. Default 1. */
    replicas?: number;
    /**
     * How a Deployment replaces its pods on Kubernetes. `RollingUpdate` (default) starts a new pod
     * before stopping an old one (maxSurge 1, maxUnavailable 0); `Recreate` stops the old pods
     * first, for a service of which two must never run at once (state in process memory).
     */
    updateStrategy?: "RollingUpdate" | "Recreate";
    /** Host ports published on the Compose host (the proxy's 80/443 only). */
    publish?: { host: number; container: number }[];
    /** Targets this service renders to. Default both. */
    targets?: RenderTarget[];
    /**
     * Extra DNS names of this service inside the stack (a Compose network alias; on Kubernetes a
     * `hostAliases` entry with the Service's cluster IP in every pod of the namespace).
     */
    aliases?: string[];
    /**
     * Services whose pods may connect to this one. Unset: any pod of the stack may. The ingress
     * controller and monitoring reach routed ports regardless.
     */
    allowFrom?: string[];
    /**
     * Kubernetes: pods of the monitoring namespace may reach the service's scraped and health
     * ports. Default true. False where no monitor there needs it and the port also serves something
     * sensitive (archon-server's /internal/credentials/agents): its probes then come from
     * blackbox-exporter beside it, which `allowFrom` names.
     */
    monitoringIngress?: boolean;
    /**
     * Services this one connects to that neither `dependsOn` nor its env or files name: the
     * targets blackbox-exporter probes, which Prometheus hands it per request. Read by the Compose
     * network plan (components/compose/networks.ts).
     */
    connectsTo?: string[];
    /**
     * Services its non-secret files name that another service connects to, not this one:
     * Prometheus' config lists blackbox-exporter's probe targets as `target` parameters, and
     * blackbox-exporter (its `connectsTo`) opens those connections. The Compose network plan
     * leaves them out of this service's connections, so Prometheus shares no network with them.
     */
    namesWithoutConnecting?: string[];
    /**
     * The service makes outbound connections to the internet (LLM APIs, crawling). Default false.
     * Kubernetes allows TCP 80 and 443 to public addresses only (INTERNET_EGRESS_PORTS); Compose's
     * `egress` bridge allows any port and address (README "Network segmentation").
     */
    egressInternet?: boolean;
    /**
     * Exact outside destinations the service connects to (TCP), when it needs no more than these,
     * e.g. GoTrue's SMTP server (`smtpHost:smtpPort`). Kubernetes: an egress NetworkPolicy admits
     * exactly these ports (to the address when `host` is an IPv4 address, else to public addresses: a
     * NetworkPolicy cannot name a host). Compose: the service gets its own egress bridge
     * (components/compose/networks.ts; Docker has no port filter). Default none (see
     * `egressInternet` for the open internet).
     */
    egressTo?: { host: string; port: number }[];
    autoscale?: AutoscaleSpec;
    /**
     * Host directories mounted read-only (Compose only): the host agents node-exporter, cAdvisor
     * and the log shipper read the host's /proc, /sys, Docker state and container logs. The
     * Kubernetes renderer refuses a service with hostPaths (a hostPath volume breaks the baseline
     * Pod Security level and pins the pod to a node); those services are `targets: ["compose"]`.
     */
    hostPaths?: { hostPath: string; mountPath: string }[];
    /**
     * Host devices passed into the container (Compose `devices`, Compose only, like hostPaths):
     * e.g. cAdvisor reads OOM events from /dev/kmsg.
     */
    devices?: string[];
}

/** The services of one target, by name. */
export function forTarget(services: ServiceSpec[], target: RenderTarget): ServiceSpec[] {
    return services.filter((s) => !s.targets || s.targets.includes(target));
}

/** UID and GID that own a service's storage. */
export interface StorageOwner {
    uid: number;
    gid: number;
}

/**
 * Who owns `service`'s storage: `security.runAsUser` (root for an image that starts as root),
 * group `fsGroup`, else `runAsGroup`, else the uid. Refuses a non-root service with storage and no
 * runAsUser: its data directory would stay root's and the service could not write it.
 */
export function storageOwner(service: ServiceSpec): StorageOwner {
    const sec = service.security;
    if (sec.runAsUser === undefined && sec.runAsNonRoot && (service.storage ?? []).length > 0) {
        throw new Error(`service ${service.name}: has storage but no security.runAsUser; set the image's uid so its data directories can be owned by it`);
    }
    const uid = sec.runAsUser ?? 0;
    return { uid, gid: sec.fsGroup ?? sec.runAsGroup ?? uid };
}
