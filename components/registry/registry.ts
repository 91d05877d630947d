/**
 * Where the Archon images live: a private registry at `registry.<domain>` deployed with the stack
 * (as a catalog service, so both renderers run it), or an external registry when the stack names one.
 */
import * as pulumi from "@pulumi/pulumi";
import { stringify as toYaml } from "yaml";
import { ConfigError } from "../../config";
import { ServiceSpec } from "../services/catalog";
import { loginHash } from "../secrets/secrets";

/** The upstream registry image (CNCF distribution 2.8), pinned. */
export const REGISTRY_IMAGE = "registry:2.8.3"; // confirmed: public pins incl. digest registry:2.8.3@sha256:a3d8aaa6... (search 2026)
/** The private registry's PULL user (hosts, nodes, imagePullSecrets): reads only. */
export const REGISTRY_USER = "archon";
/** The private registry's PUSH user: the only one the ingress lets write; given to the image build alone. */
export const REGISTRY_PUSH_USER = "archon-push";
/** Names of the ingress credential sets (nginx `/etc/nginx/auth/<name>`, Kubernetes Secret `<name>-htpasswd`). */
export const REGISTRY_READ_AUTH = "registry-pull";
export const REGISTRY_WRITE_AUTH = "registry-push";
/** Container port of the registry's API. */
export const REGISTRY_PORT = 5000;
/** Container port of the registry's debug server (Prometheus metrics at /metrics). */
export const REGISTRY_METRICS_PORT = 5001;
export const REGISTRY_CONFIG_PATH = "/etc/docker/registry/config.yml";
export const REGISTRY_HTPASSWD_PATH = "/auth/htpasswd";
export const REGISTRY_DATA_PATH = "/var/lib/registry";

/** One registry login: the pull one (imagePullSecret, compose-host login) or the push one (docker.Image). */
export interface RegistryCredentials {
    /** Registry host (no scheme), e.g. `registry.archon.example.com` or `ghcr.io`. */
    server: pulumi.Input<string>;
    username: pulumi.Input<string>;
    /** Secret. */
    password: pulumi.Input<string>;
}

export interface RegistryArgs {
    /** The stack's DNS name; the private registry answers at `registry.<domain>`. */
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
 * The registry's config.yml (distribution 2.8). Plain HTTP inside the cluster or compose network:
 * TLS ends at the ingress/proxy in front of `registry.<domain>`, so `http.host` names the public
 * https URL the registry puts into its Location headers. Deletes stay disabled: tags are never
 * removed, so a rollback always finds its images.
 */
export function registryConfigYaml(publicHost: string): string {
    return toYaml({
        version: 0.1,
        log: { level: "info", formatter: "json", fields: { service: "registry" } },
        storage: {
            filesystem: { rootdirectory: REGISTRY_DATA_PATH },
            delete: { enabled: false },
            cache: { blobdescriptor: "inmemory" },
            maintenance: { uploadpurging: { enabled: true, age: "168h", interval: "24h", dryrun: false } },
        },
        http: {
            addr: `:${REGISTRY_PORT}`,
            host: `https://${publicHost}`,
            headers: { "X-Content-Type-Options": ["nosniff"] },
            debug: { addr: `:${REGISTRY_METRICS_PORT}`, prometheus: { enabled: true, path: "/metrics" } },
        },
        auth: { htpasswd: { realm: `${publicHost} registry`, path: REGISTRY_HTPASSWD_PATH } },
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
 * The private registry as a catalog service: stateful, protected storage, one public route.
 *
 * distribution's htpasswd auth has no per-user permissions (any valid user may push), so the
 * pull-only user is enforced at the ingress: reads (GET, HEAD) admit either user, every other
 * method only the push user (route `writeAuth`). The registry itself keeps htpasswd with both
 * users as a second line: a container that reaches it past the proxy still needs a credential
 * (none of them holds one: the pull login lives in the host's Docker config / the kubelet's pull
 * Secret).
 */
export function registryService(publicHost: string, storageGb: number, hashes: RegistryHashes): ServiceSpec {
    const pullLine = pulumi.output(hashes.pull).apply((hash) => htpasswdLine(REGISTRY_USER, hash));
    const pushLine = pulumi.output(hashes.push).apply((hash) => htpasswdLine(REGISTRY_PUSH_USER, hash));
    const bothUsers = pulumi.secret(pulumi.all([pullLine, pushLine]).apply(([pull, push]) => pull + push));
    const pullLogin = pulumi.output(hashes.pullLogin).apply((hash) => htpasswdLine(REGISTRY_USER, hash));
    const pushLogin = pulumi.output(hashes.pushLogin).apply((hash) => htpasswdLine(REGISTRY_PUSH_USER, hash));
    const bothLogins = pulumi.secret(pulumi.all([pullLogin, pushLogin]).apply(([pull, push]) => pull + push));
    const realm = `${publicHost} registry`;
    return {
        name: "registry",
        group: "registry",
        image: REGISTRY_IMAGE,
        kind: "stateful",
        ports: [
            { name: "http", port: REGISTRY_PORT },
            { name: "metrics", port: REGISTRY_METRICS_PORT },
        ],
        files: [
            { path: REGISTRY_CONFIG_PATH, content: registryConfigYaml(publicHost) },
            { path: REGISTRY_HTPASSWD_PATH, content: bothUsers, secret: true },
        ],
        // `/` answers 200 without credentials once the registry serves; /v2/ would answer 401.
        health: { http: { path: "/", port: REGISTRY_PORT }, startupSeconds: 20 },
        resources: { cpu: "50m", memory: "64Mi", cpuLimit: "500m", memoryLimit: "512Mi" },
        storage: [{ name: "data", mountPath: REGISTRY_DATA_PATH, sizeGb: storageGb }],
        // The image declares no USER; distribution needs no root, only its data directory.
        security: { runAsNonRoot: true, runAsUser: 1000, readOnlyRootFilesystem: true, writablePaths: ["/tmp"] },
        // Layers are pushed in one request each: allow large bodies through the proxy.
        routes: [{
            host: publicHost,
            path: "/",
            port: REGISTRY_PORT,
            maxBodyMb: 4096,
            // A layer of archon-server's image is several hundred MB: never through the proxy's memory.
            streamBodies: true,
            // The registry checks the login again itself: the ingress forwards it.
            basicAuth: { name: REGISTRY_READ_AUTH, realm, htpasswd: bothLogins, forwardAuthorization: true },
            writeAuth: { name: REGISTRY_WRITE_AUTH, realm, htpasswd: pulumi.secret(pushLogin), forwardAuthorization: true },
        }],
    };
}

/**
 * The registry the stack pushes to and pulls from. Declares no cloud resource itself: the private
 * registry is a {@link ServiceSpec} the Kubernetes and Compose renderers deploy with the other
 * services (storage protected / PVC retained by them).
 */
export class Registry extends pulumi.ComponentResource {
    /** Registry host, e.g. `registry.archon.example.com`. */
    public readonly server: string;
    public readonly username: string;
    /** Secret. */
    public readonly password: pulumi.Output<string>;
    /** Catalog entries to deploy: the private registry, or none for an external one. */
    public readonly services: ServiceSpec[];
    /** {@link server}, {@link username} and {@link password} together: the PULL login. */
    public readonly credentials: RegistryCredentials;
    /** The PUSH login, for the image build only (the same login as {@link credentials} for an external registry). */
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
            this.pushCredentials = { server: this.server, username: this.username, password: this.password };
        } else {
            this.server = `registry.${args.domain}`;
            this.username = REGISTRY_USER;
            this.password = pulumi.secret(args.password);
            const login = (password: pulumi.Output<string>, bcrypt: pulumi.Output<string>) => pulumi.secret(pulumi.all([password, bcrypt]).apply(([p, b]) => loginHash(p, b)));
            this.services = [registryService(this.server, args.storageGb, {
                pull: args.passwordBcrypt,
                push: args.pushPasswordBcrypt,
                pullLogin: login(args.password, args.passwordBcrypt),
                pushLogin: login(args.pushPassword, args.pushPasswordBcrypt),
            })];
            this.pushCredentials = { server: this.server, username: REGISTRY_PUSH_USER, password: pulumi.secret(args.pushPassword) };
        }
        this.credentials = { server: this.server, username: this.username, password: this.password };
        const files = Object.fromEntries((this.services[0]?.files ?? []).map((f) => [f.path, f.content]));
        this.registerOutputs({ server: this.server, username: this.username, pushUsername: this.pushCredentials.username, external: this.services.length === 0, files });
    }
}
