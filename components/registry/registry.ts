/**
 * Where the Archon images live: a private registry deployed with the stack (as a catalog service,
 * so both renderers run it), pulled from at `registry.<domain>` and pushed to at
 * `registry-push.<domain>`, or an external registry when the stack names one.
 */
import * as pulumi from "@pulumi/pulumi";
import { stringify as toYaml } from "yaml";
import { ConfigError } from "../../config";
import { ServiceSpec } from "../services/catalog";
import { IMAGES } from "../services/versions";
import { loginHash } from "../secrets/secrets";
import { registryHosts } from "./hosts";

/** The upstream registry image (CNCF distribution 2.8), pinned with the other third-party images. */
export const REGISTRY_IMAGE = IMAGES.registry;
/** The private registry's PULL user (hosts, nodes, imagePullSecrets): the read-only instance only. */
export const REGISTRY_USER = "archon";
/** The private registry's PUSH user: the only user of the instance that writes; given to the image build alone. */
export const REGISTRY_PUSH_USER = "archon-push";
/** Names of the ingress credential sets (nginx `/etc/nginx/auth/<name>`, Kubernetes Secret `<name>-htpasswd`). */
export const REGISTRY_READ_AUTH = "registry-pull";
export const REGISTRY_WRITE_AUTH = "registry-push";
/** Container port of the read-only instance (pulls, `registry.<domain>`). */
export const REGISTRY_PORT = 5000;
/** Container port of the read-only instance's debug server (Prometheus metrics at /metrics). */
export const REGISTRY_METRICS_PORT = 5001;
/** Container port of the read-write instance (pushes, `registry-push.<domain>`). */
export const REGISTRY_PUSH_PORT = 5002;
/** The read-only instance's config (the image's default config path). */
export const REGISTRY_CONFIG_PATH = "/etc/docker/registry/config.yml";
export const REGISTRY_PUSH_CONFIG_PATH = "/etc/docker/registry/config-push.yml";
/** Starts both instances (the container's entrypoint). */
export const REGISTRY_SERVE_PATH = "/etc/docker/registry/serve.sh";
/** htpasswd of the read-only instance: the pull and the push user (the build reads too). */
export const REGISTRY_HTPASSWD_PATH = "/auth/htpasswd";
/** htpasswd of the read-write instance: the push user alone. */
export const REGISTRY_PUSH_HTPASSWD_PATH = "/auth/htpasswd-push";
export const REGISTRY_DATA_PATH = "/var/lib/registry";

/**
 * Runs the two instances in one container, over the one data directory they share (a volume can
 * be mounted by one pod only: one container keeps both on it), and ends the container when either
 * ends, so Docker / the kubelet restarts both. The image's /bin/sh is BusyBox ash; `registry` is
 * the image's binary (/bin/registry, registry:2.8.3's Dockerfile), what its entrypoint.sh runs.
 */
export const REGISTRY_SERVE_SCRIPT = `#!/bin/sh
set -u
registry serve ${REGISTRY_PUSH_CONFIG_PATH} & push=$!
registry serve ${REGISTRY_CONFIG_PATH} & read=$!
stopping=0
trap 'stopping=1; kill -TERM "$push" "$read" 2>/dev/null' TERM INT
while [ "$stopping" = 0 ] && kill -0 "$push" 2>/dev/null && kill -0 "$read" 2>/dev/null; do sleep 1; done
kill -TERM "$push" "$read" 2>/dev/null
wait
[ "$stopping" = 1 ] || { echo "registry: an instance ended; stopping the container so both restart" >&2; exit 1; }
`;

/** One registry login: the pull one (imagePullSecret, compose-host login) or the push one (docker.Image). */
export interface RegistryCredentials {
    /** Registry host (no scheme), e.g. `registry.archon.example.com` or `ghcr.io`. */
    server: pulumi.Input<string>;
    username: pulumi.Input<string>;
    /** Secret. */
    password: pulumi.Input<string>;
}

export interface RegistryArgs {
    /** The stack's DNS name; the private registry answers at `registry.<domain>` (pulls) and `registry-push.<domain>` (pushes). */
    domain: string;
    /** Size in GB of the private registry's protected storage (`registryStorageGb`, default 20). */
    storageGb: number;
    /** The generated pull password (Secrets.registryPassword). */
    password: pulumi.Output<string>;
    /** Its bcrypt hash (Secrets.registryPasswordBcrypt), the only form the registry stores. */
    passwordBcrypt: pulumi.Output<string>;
    /** The generated push password (Secrets.registryPushPassword). */
    pushPassword: pulumi.Output<string>;
    /** Its bcrypt hash (Secrets.registryPushPasswordBcrypt). */
    pushPasswordBcrypt: pulumi.Output<string>;
    /**
     * An external registry (`registryServer`, `registryUsername`, `registryPasswordSecret`; config
     * requires all three or none). When set, images live there and no private registry is deployed;
     * that one login both pulls and pushes (scope it at the external registry).
     */
    externalServer?: string;
    externalUsername?: string;
    /** Secret. */
    externalPassword?: pulumi.Output<string>;
}

/**
 * The config of one of the two registry instances (distribution 2.8). Plain HTTP inside the cluster
 * or compose network: TLS ends at the ingress/proxy in front of `registry[-push].<domain>`, so
 * `http.host` names the public https URL the registry puts into its Location headers. Deletes stay
 * disabled: tags are never removed, so a rollback always finds its images.
 *
 * `read`: `storage.maintenance.readonly` refuses every write with 405 whoever asks (distribution
 * registry/handlers/app.go, `readOnly`; verified with the real docker-registry), so the pull login
 * cannot push at the registry itself, whatever the ingress admits; it purges no upload (a write).
 * `push`: the only instance that writes; its htpasswd holds the push user alone.
 */
export function registryConfigYaml(publicHost: string, mode: "read" | "push" = "read"): string {
    const read = mode === "read";
    return toYaml({
        version: 0.1,
        log: { level: "info", formatter: "json", fields: { service: read ? "registry" : "registry-push" } },
        storage: {
            filesystem: { rootdirectory: REGISTRY_DATA_PATH },
            delete: { enabled: false },
            cache: { blobdescriptor: "inmemory" },
            maintenance: read
                ? { uploadpurging: { enabled: false }, readonly: { enabled: true } }
                : { uploadpurging: { enabled: true, age: "168h", interval: "24h", dryrun: false } },
        },
        http: {
            addr: `:${read ? REGISTRY_PORT : REGISTRY_PUSH_PORT}`,
            host: `https://${publicHost}`,
            headers: { "X-Content-Type-Options": ["nosniff"] },
            ...(read ? { debug: { addr: `:${REGISTRY_METRICS_PORT}`, prometheus: { enabled: true, path: "/metrics" } } } : {}),
        },
        auth: { htpasswd: { realm: `${publicHost} registry`, path: read ? REGISTRY_HTPASSWD_PATH : REGISTRY_PUSH_HTPASSWD_PATH } },
        health: { storagedriver: { enabled: true, interval: "10s", threshold: 3 } },
    });
}

/** One htpasswd line (`user:hash`). */
export function htpasswdLine(user: string, hash: string): string {
    return `${user}:${hash}\n`;
}

/**
 * The hashes of the two registry users: bcrypt for the registry's own htpasswd (distribution 2.8
 * accepts nothing else: registry/auth/htpasswd/htpasswd.go, "Only bcrypt hash entries are
 * supported"), the fast login hash for the ingress, which checks every request (see
 * components/secrets `loginHash`). Wrong passwords stop at the ingress and never cost the
 * registry a bcrypt check.
 */
export interface RegistryHashes {
    pull: pulumi.Input<string>;
    push: pulumi.Input<string>;
    /** `loginHash` of the pull password. */
    pullLogin: pulumi.Input<string>;
    /** `loginHash` of the push password. */
    pushLogin: pulumi.Input<string>;
}

/**
 * The private registry as a catalog service: stateful, protected storage, two public routes.
 *
 * distribution's htpasswd auth has no per-user permissions (any valid user may push), so pulls and
 * pushes are two instances over the same storage: `registry.<domain>` reaches the read-only one
 * (pull and push user), `registry-push.<domain>` the read-write one (push user only). The pull
 * login cannot write anywhere: the read-only instance refuses every write itself, and the
 * read-write instance does not know the pull user. The ingress checks the same sets first.
 */
export function registryService(hosts: { pull: string; push: string }, storageGb: number, hashes: RegistryHashes): ServiceSpec {
    const pullLine = pulumi.output(hashes.pull).apply((hash) => htpasswdLine(REGISTRY_USER, hash));
    const pushLine = pulumi.secret(pulumi.output(hashes.push).apply((hash) => htpasswdLine(REGISTRY_PUSH_USER, hash)));
    const bothUsers = pulumi.secret(pulumi.all([pullLine, pushLine]).apply(([pull, push]) => pull + push));
    // The ingress checks its own cheap hashes (`loginHash`, APR1); the registry keeps bcrypt, the only hash distribution accepts.
    const pullLogin = pulumi.output(hashes.pullLogin).apply((hash) => htpasswdLine(REGISTRY_USER, hash));
    const pushLogin = pulumi.secret(pulumi.output(hashes.pushLogin).apply((hash) => htpasswdLine(REGISTRY_PUSH_USER, hash)));
    const bothLogins = pulumi.secret(pulumi.all([pullLogin, pushLogin]).apply(([pull, push]) => pull + push));
    return {
        name: "registry",
        group: "registry",
        image: REGISTRY_IMAGE,
        kind: "stateful",
        command: ["/bin/sh", REGISTRY_SERVE_PATH],
        ports: [
            { name: "http", port: REGISTRY_PORT },
            { name: "metrics", port: REGISTRY_METRICS_PORT },
            { name: "push", port: REGISTRY_PUSH_PORT, routedOnly: true },
        ],
        files: [
            { path: REGISTRY_SERVE_PATH, content: REGISTRY_SERVE_SCRIPT },
            { path: REGISTRY_CONFIG_PATH, content: registryConfigYaml(hosts.pull, "read") },
            { path: REGISTRY_PUSH_CONFIG_PATH, content: registryConfigYaml(hosts.push, "push") },
            { path: REGISTRY_HTPASSWD_PATH, content: bothUsers, secret: true },
            { path: REGISTRY_PUSH_HTPASSWD_PATH, content: pushLine, secret: true },
        ],
        // `/` answers 200 without credentials once the instance serves; /v2/ would answer 401.
        health: { http: { path: "/", port: REGISTRY_PORT }, startupSeconds: 20 },
        resources: { cpu: "50m", memory: "64Mi", cpuLimit: "500m", memoryLimit: "512Mi" },
        storage: [{ name: "data", mountPath: REGISTRY_DATA_PATH, sizeGb: storageGb }],
        // The image declares no USER; distribution needs no root, only its data directory.
        security: { runAsNonRoot: true, runAsUser: 1000, readOnlyRootFilesystem: true, writablePaths: ["/tmp"] },
        routes: [
            // The registry checks the login again itself: the ingress forwards it.
            // A layer of archon-server's image is several hundred MB: never through the proxy's memory,
            // neither pulled (responses) nor pushed (requests, one layer per request).
            { host: hosts.pull, path: "/", port: REGISTRY_PORT, streamBodies: true, basicAuth: { name: REGISTRY_READ_AUTH, realm: `${hosts.pull} registry`, htpasswd: bothLogins, forwardAuthorization: true } },
            { host: hosts.push, path: "/", port: REGISTRY_PUSH_PORT, maxBodyMb: 4096, streamBodies: true, basicAuth: { name: REGISTRY_WRITE_AUTH, realm: `${hosts.push} registry`, htpasswd: pushLogin, forwardAuthorization: true } },
        ],
    };
}

/**
 * The registry the stack pushes to and pulls from. Declares no cloud resource itself: the private
 * registry is a {@link ServiceSpec} the Kubernetes and Compose renderers deploy with the other
 * services (storage protected / PVC retained by them).
 */
export class Registry extends pulumi.ComponentResource {
    /** Host the workloads pull from, e.g. `registry.archon.example.com`: every image reference names it. */
    public readonly server: string;
    /** Host the image build pushes to (`registry-push.<domain>`; {@link server} for an external registry). */
    public readonly pushServer: string;
    public readonly username: string;
    /** Secret. */
    public readonly password: pulumi.Output<string>;
    /** Catalog entries to deploy: the private registry, or none for an external one. */
    public readonly services: ServiceSpec[];
    /** {@link server}, {@link username} and {@link password} together: the PULL login. */
    public readonly credentials: RegistryCredentials;
    /** The PUSH host and login (`registry-push.<domain>`), for the image build only (the same as {@link credentials} for an external registry). */
    public readonly pushCredentials: RegistryCredentials;

    constructor(name: string, args: RegistryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:Registry", name, {}, opts);
        if (args.externalServer !== undefined) {
            if (!args.externalUsername || !args.externalPassword) {
                throw new ConfigError("archon-infra:registryServer: an external registry needs registryUsername and registryPassword (--secret) too");
            }
            this.server = args.externalServer;
            this.username = args.externalUsername;
            this.password = pulumi.secret(args.externalPassword);
            this.services = [];
            this.pushServer = this.server;
            this.pushCredentials = { server: this.server, username: this.username, password: this.password };
        } else {
            const hosts = registryHosts(args.domain);
            this.server = hosts.pull;
            this.username = REGISTRY_USER;
            this.password = pulumi.secret(args.password);
            const login = (password: pulumi.Output<string>, bcrypt: pulumi.Output<string>) => pulumi.secret(pulumi.all([password, bcrypt]).apply(([p, b]) => loginHash(p, b)));
            this.services = [registryService(hosts, args.storageGb, {
                pull: args.passwordBcrypt,
                push: args.pushPasswordBcrypt,
                pullLogin: login(args.password, args.passwordBcrypt),
                pushLogin: login(args.pushPassword, args.pushPasswordBcrypt),
            })];
            this.pushServer = hosts.push;
            this.pushCredentials = { server: hosts.push, username: REGISTRY_PUSH_USER, password: pulumi.secret(args.pushPassword) };
        }
        this.credentials = { server: this.server, username: this.username, password: this.password };
        const files = Object.fromEntries((this.services[0]?.files ?? []).map((f) => [f.path, f.content]));
        this.registerOutputs({ server: this.server, pushServer: this.pushCredentials.server, username: this.username, pushUsername: this.pushCredentials.username, external: this.services.length === 0, files });
    }
}
