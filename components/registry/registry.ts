/**
 * Where the Archon images live: a private registry at `registry.<domain>` deployed with the stack
 * (as a catalog service, so both renderers run it), or an external registry when the stack names one.
 */
import * as pulumi from "@pulumi/pulumi";
import { stringify as toYaml } from "yaml";
import { ConfigError } from "../../config";
import { ServiceSpec } from "../services/catalog";

/** The upstream registry image (CNCF distribution 2.8), pinned. */
export const REGISTRY_IMAGE = "registry:2.8.3"; // confirmed: public pins incl. digest registry:2.8.3@sha256:a3d8aaa6... (search 2026)
/** The user the private registry accepts (htpasswd). */
export const REGISTRY_USER = "archon";
/** Container port of the registry's API. */
export const REGISTRY_PORT = 5000;
/** Container port of the registry's debug server (Prometheus metrics at /metrics). */
export const REGISTRY_METRICS_PORT = 5001;
export const REGISTRY_CONFIG_PATH = "/etc/docker/registry/config.yml";
export const REGISTRY_HTPASSWD_PATH = "/auth/htpasswd";
export const REGISTRY_DATA_PATH = "/var/lib/registry";

/** Credentials for pushing and pulling: the docker.Image `registry`, an imagePullSecret, a compose-host login. */
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
    /** The generated registry password (Secrets.registryPassword). */
    password: pulumi.Output<string>;
    /** Its bcrypt hash (Secrets.registryPasswordBcrypt), the only form the registry stores. */
    passwordBcrypt: pulumi.Output<string>;
    /**
     * An external registry (`registryServer`, `registryUsername`, `registryPasswordSecret`; config
     * requires all three or none). When set, images live there and no private registry is deployed.
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

/** One htpasswd line with the bcrypt hash (the only hash format distribution accepts). */
export function htpasswdLine(user: string, bcryptHash: string): string {
    return `${user}:${bcryptHash}\n`;
}

/** The private registry as a catalog service: stateful, protected storage, one public route. */
export function registryService(publicHost: string, storageGb: number, passwordBcrypt: pulumi.Output<string>): ServiceSpec {
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
            { path: REGISTRY_HTPASSWD_PATH, content: pulumi.secret(passwordBcrypt.apply((hash) => htpasswdLine(REGISTRY_USER, hash))), secret: true },
        ],
        // `/` answers 200 without credentials once the registry serves; /v2/ would answer 401.
        health: { http: { path: "/", port: REGISTRY_PORT }, startupSeconds: 20 },
        resources: { cpu: "50m", memory: "64Mi", cpuLimit: "500m", memoryLimit: "512Mi" },
        storage: [{ name: "data", mountPath: REGISTRY_DATA_PATH, sizeGb: storageGb }],
        // The image declares no USER; distribution needs no root, only its data directory.
        security: { runAsNonRoot: true, runAsUser: 1000, readOnlyRootFilesystem: true, writablePaths: ["/tmp"] },
        // Layers are pushed in one request each: allow large bodies through the proxy.
        routes: [{ host: publicHost, path: "/", port: REGISTRY_PORT, maxBodyMb: 4096 }],
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
    /** {@link server}, {@link username} and {@link password} together. */
    public readonly credentials: RegistryCredentials;

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
        } else {
            this.server = `registry.${args.domain}`;
            this.username = REGISTRY_USER;
            this.password = pulumi.secret(args.password);
            this.services = [registryService(this.server, args.storageGb, args.passwordBcrypt)];
        }
        this.credentials = { server: this.server, username: this.username, password: this.password };
        const files = Object.fromEntries((this.services[0]?.files ?? []).map((f) => [f.path, f.content]));
        this.registerOutputs({ server: this.server, username: this.username, external: this.services.length === 0, files });
    }
}
