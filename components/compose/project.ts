/**
 * Renders a service catalog as a Docker Compose project: docker-compose.yml (healthchecks, start
 * order, restart policies, hardening), one env file per service holding its secrets (delivered
 * 0600, referenced by `env_file`), config files as read-only bind mounts, host directories
 * (`hostPaths`) read-only, and data under the host's data directory, created and owned by each
 * service's user by a one-shot `data-permissions` service before anything that stores data
 * starts. Other components add services simply by adding ServiceSpecs.
 */
import * as crypto from "crypto";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import { ServiceSpec, StorageOwner, StorageSpec, forTarget, storageOwner } from "../services/catalog";
import { IMAGES } from "../services/versions";
import { planNetworks } from "./networks";
import { COMPOSE_SERVICE_LABEL } from "./logs";
import { envFileLine } from "./env-file";

export interface ComposeProjectArgs {
    /** Every service of the project; those whose `targets` exclude compose are skipped. */
    services: ServiceSpec[];
    /**
     * Host directory on the protected data volume (ComposeHostAccess.dataDir):
     * `<dataDir>/<service>/<volume>`, or `<dataDir>/shared/<volume>` for shared storage.
     */
    dataDir: string;
}

/**
 * The one-shot service that creates every storage directory and hands it to its service's user
 * (Docker would create a missing bind-mount source as root, which a non-root service cannot write).
 */
export const DATA_PERMISSIONS_SERVICE = "data-permissions";
/** The directory under `dataDir` holding shared storage. */
export const SHARED_STORAGE_DIR = "shared";
/**
 * Restart policy of a one-shot. `no`: a one-shot that fails must stay `exited` with its code, so
 * that `service_completed_successfully` and `docker compose up --wait` fail with its name. With
 * `on-failure` the engine restarts it (moby container/state.go SetRestarting): it is `restarting`
 * or `running`, never `exited`, and the deploy waits forever (test/compose-engine.spec.ts).
 */
export const ONESHOT_RESTART = "no";
/** Where data-permissions sees the data directory. */
const DATA_MOUNT = "/data";

/** What ComposeDelivery takes: paths relative to the project directory. */
export interface ComposeProjectFiles {
    /** docker-compose.yml and the non-secret config files (config/<service>/<file>). */
    files: Record<string, pulumi.Output<string>>;
    /** env/<service>.env and secret config files (secrets/<service>/<file>): mode 0600 on the host. */
    secretFiles: Record<string, pulumi.Output<string>>;
    /**
     * Owner and mode of the secret files a container reads (secrets/<service>/<file>); env files,
     * which the Compose CLI reads as the deploy user, are absent (0600, the deploy user's).
     */
    secretFileAccess: Record<string, SecretFileAccess>;
}

/**
 * The first line of docker-compose.yml. The modes are the delivery's (components/compose/delivery.ts,
 * components/hetzner/scripts/write-secret-file.sh); test/newcomer.spec.ts holds them to it.
 */
export const COMPOSE_HEADER = "# Rendered by archon-infra (components/compose/project.ts). Secrets live in env/*.env (mode 0600, the deploy user's) and secrets/ (mode 0440, owned by the uid of the container that reads them; 0444 where an image reads as several users).\n";

/** How a delivered secret file is owned on the Compose host. */
export interface SecretFileAccess {
    /** `uid:gid` the file is chowned to; unset = the deploy user keeps it. */
    owner?: string;
    /** Octal file mode, e.g. `0440`. */
    mode: string;
}

/** Compose interpolates `$`; a literal dollar is written `$$`. */
function literal(text: string): string {
    return text.replace(/\$/g, "$$$$");
}

/** Kubernetes quantities to Compose's: `512Mi` -> `512m`, `2Gi` -> `2g`; CPU `500m` -> 0.5. */
function memory(quantity: string): string {
    const match = /^(\d+)(Mi|Gi)$/.exec(quantity);
    if (!match) throw new Error(`memory ${quantity}: write it in Mi or Gi`);
    return `${match[1]}${match[2] === "Gi" ? "g" : "m"}`;
}
/** A Kubernetes memory quantity in MiB (`512Mi` -> 512, `2Gi` -> 2048). */
export function memoryMib(quantity: string): number {
    const match = /^(\d+)(Mi|Gi)$/.exec(quantity);
    if (!match) throw new Error(`memory ${quantity}: write it in Mi or Gi`);
    return Number(match[1]) * (match[2] === "Gi" ? 1024 : 1);
}
/** What the Compose services of `services` reserve together (`mem_reservation`), in MiB. */
export function composeReservedMemoryMib(services: ServiceSpec[]): number {
    return forTarget(services, "compose").reduce((sum, service) => sum + memoryMib(service.resources.memory), 0);
}
function cpus(quantity: string): number {
    return quantity.endsWith("m") ? Number(quantity.slice(0, -1)) / 1000 : Number(quantity);
}

/** A container path as one file or directory name: `/etc/nginx/nginx.conf` -> `etc_nginx_nginx.conf`. */
function flatName(containerPath: string): string {
    return containerPath.replace(/^\/+/, "").replace(/[^-._a-zA-Z0-9]+/g, "_");
}

/**
 * Label in each service's definition holding the SHA-256 of the files mounted into it (config and
 * secret files, path and content). Compose recreates a container when its service's definition
 * changes (its config hash), never when only a bind-mounted file changes: with this label a changed
 * file recreates exactly the services that mount it. Env files need no label: Compose reads them
 * into `environment`, which is part of the definition already.
 */
export const FILES_HASH_LABEL = "org.archon-infra.files-sha256";

/** SHA-256 over a service's mounted files, in container-path order. */
function mountedFilesHash(files: { path: string; content: string }[]): string {
    const hash = crypto.createHash("sha256");
    for (const file of [...files].sort((a, b) => a.path.localeCompare(b.path))) hash.update(`${file.path}\0${file.content}\0`);
    return hash.digest("hex");
}

function healthcheck(service: ServiceSpec): Record<string, unknown> | undefined {
    const health = service.health;
    if (!health || service.kind === "oneshot") return undefined;
    let test: string[];
    if (health.exec) test = ["CMD", ...health.exec.map(literal)];
    else if (health.http) test = ["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${health.http.port}${health.http.path}`];
    else throw new Error(`service ${service.name}: Compose needs health.exec or health.http (a TCP check has no command)`);
    return { test, interval: "10s", timeout: "5s", retries: 5, start_period: `${health.startupSeconds ?? 30}s` };
}

/** One env file line per variable, quoted for Compose v2's dotenv parser where needed (env-file.ts). */
function envFile(service: ServiceSpec, values: Record<string, string>): string {
    return Object.entries(values).map(([key, value]) => {
        try {
            return envFileLine(key, value);
        } catch (error) {
            throw new Error(`service ${service.name}: ${(error as Error).message}`);
        }
    }).join("");
}

/** A storage directory relative to `dataDir`. */
export function storageDirectory(service: ServiceSpec, storage: StorageSpec): string {
    return storage.shared ? `${SHARED_STORAGE_DIR}/${storage.name}` : `${service.name}/${storage.name}`;
}

/** Every storage directory of `services` (relative to dataDir) with its owner; shared ones once. */
export function storageDirectories(services: ServiceSpec[]): Map<string, StorageOwner & { services: string[] }> {
    const directories = new Map<string, StorageOwner & { services: string[] }>();
    for (const service of services) {
        for (const storage of service.storage ?? []) {
            if (!/^[a-z0-9][a-z0-9._-]*$/.test(storage.name)) throw new Error(`service ${service.name}: storage name ${storage.name} must be lower-case letters, digits, . _ -`);
            const directory = storageDirectory(service, storage);
            const owner = storageOwner(service);
            const known = directories.get(directory);
            if (!known) {
                directories.set(directory, { ...owner, services: [service.name] });
            } else if (!storage.shared) {
                throw new Error(`service ${service.name}: storage ${storage.name} is declared twice`);
            } else if (known.uid !== owner.uid || known.gid !== owner.gid) {
                throw new Error(`shared storage ${storage.name}: ${known.services.join(", ")} run as ${known.uid}:${known.gid} but ${service.name} as ${owner.uid}:${owner.gid}; services sharing storage must run as the same user`);
            } else {
                known.services.push(service.name);
            }
        }
    }
    return directories;
}

/**
 * The data-permissions service: root with only CHOWN, DAC_OVERRIDE and FOWNER, no network, a
 * read-only root filesystem; creates each storage directory and chowns it (the directory itself,
 * not its contents: an existing tree keeps its owners, and a registry of many GB is not walked
 * on every deploy).
 */
function dataPermissionsService(dataDir: string, directories: Map<string, StorageOwner>): Record<string, unknown> {
    const steps = [...directories.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([directory, owner]) =>
        `mkdir -p ${DATA_MOUNT}/${directory} && chown ${owner.uid}:${owner.gid} ${DATA_MOUNT}/${directory}`);
    return {
        image: IMAGES.dataPermissions,
        entrypoint: ["/bin/sh", "-ec", steps.join("\n")],
        restart: ONESHOT_RESTART,
        volumes: [`${dataDir}:${DATA_MOUNT}`],
        network_mode: "none",
        read_only: true,
        user: "0",
        cap_drop: ["ALL"],
        cap_add: ["CHOWN", "DAC_OVERRIDE", "FOWNER"],
        security_opt: ["no-new-privileges:true"],
        mem_limit: "32m",
        logging: { driver: "json-file", options: { "max-size": "10m", "max-file": "3" } },
    };
}

/** The Compose project of `args.services`. */
export function renderComposeProject(args: ComposeProjectArgs): ComposeProjectFiles {
    const services = forTarget(args.services, "compose");
    const names = new Set(services.map((s) => s.name));
    for (const reserved of [DATA_PERMISSIONS_SERVICE, SHARED_STORAGE_DIR]) {
        if (names.has(reserved)) throw new Error(`service name ${reserved} is reserved by the Compose renderer`);
    }
    const directories = storageDirectories(services);
    const files: Record<string, pulumi.Output<string>> = {};
    const secretFiles: Record<string, pulumi.Output<string>> = {};
    const secretFileAccess: Record<string, SecretFileAccess> = {};
    const composeServices: Record<string, pulumi.Output<Record<string, unknown>>> = {};
    // Each service joins only the networks of the connections it needs (networks.ts).
    const networkPlan = planNetworks(services);

    for (const service of services) {
        const volumes: string[] = [];
        const secretDirectories = new Set<string>();
        for (const file of service.files ?? []) {
            if (!file.secret) {
                // Copied over SFTP, which rewrites the file in place (same inode): a file mount sees it.
                const relative = `config/${service.name}/${flatName(file.path)}`;
                files[relative] = pulumi.output(file.content);
                volumes.push(`./${relative}:${file.path}:ro`);
                continue;
            }
            // Secret files are replaced by `mv` (write-secret-file.sh): a new inode, which a
            // single-file bind mount never sees. Their container directory is mounted instead,
            // unless the file never changes and its directory holds the image's own files
            // (FileSpec.mountAsFile).
            const directory = path.posix.dirname(file.path);
            const relativeDirectory = `secrets/${service.name}/${flatName(directory)}`;
            const relative = file.mountAsFile ? `secrets/${service.name}/${flatName(file.path)}` : `${relativeDirectory}/${path.posix.basename(file.path)}`;
            secretFiles[relative] = pulumi.output(file.content);
            // The container's uid reads the file, not the deploy user who wrote it (e.g. the
            // registry runs as 1000 and refuses to start without its htpasswd). A file read by
            // a uid the image does not pin is 0444 inside the 0700 secrets directory.
            const owner = storageOwner(service);
            secretFileAccess[relative] = file.readableBy === "any" ? { mode: "0444" }
                : file.ownerUid !== undefined ? { owner: `${file.ownerUid}:${file.ownerUid}`, mode: "0440" }
                : { owner: `${owner.uid}:${owner.gid}`, mode: "0440" };
            if (file.mountAsFile) {
                volumes.push(`./${relative}:${file.path}:ro`);
                continue;
            }
            if (!secretDirectories.has(directory)) volumes.push(`./${relativeDirectory}:${directory}:ro`);
            secretDirectories.add(directory);
        }
        const clashes = (service.files ?? []).filter((f) => !f.secret && secretDirectories.has(path.posix.dirname(f.path)));
        if (clashes.length > 0) throw new Error(`service ${service.name}: ${clashes[0].path} shares its directory with a secret file, which is mounted as a whole directory; move one of them`);
        const filesHash = (service.files ?? []).length === 0 ? undefined
            // A hash of the contents, not the contents: the secret files' text stays out of the compose file.
            : pulumi.unsecret(pulumi.all((service.files ?? []).map((f) => pulumi.all([f.path, f.content])))
                .apply((pairs) => mountedFilesHash(pairs.map(([p, content]) => ({ path: p, content })))));
        for (const storage of service.storage ?? []) volumes.push(`${args.dataDir}/${storageDirectory(service, storage)}:${storage.mountPath}`);
        for (const host of service.hostPaths ?? []) volumes.push(`${host.hostPath}:${host.mountPath}:ro`);

        const envFiles: string[] = [];
        if (service.secretEnv && Object.keys(service.secretEnv).length > 0) {
            const relative = `env/${service.name}.env`;
            secretFiles[relative] = pulumi.output(service.secretEnv).apply((values) => envFile(service, values as Record<string, string>));
            envFiles.push(`./${relative}`);
        }

        const dependsOn: Record<string, { condition: string }> = {};
        // Also a host path on the data volume (node-exporter reads the backups' metric directory): created and owned first.
        const onDataVolume = (service.hostPaths ?? []).some((h) => h.hostPath.startsWith(`${args.dataDir}/`));
        if ((service.storage ?? []).length > 0 || onDataVolume) dependsOn[DATA_PERMISSIONS_SERVICE] = { condition: "service_completed_successfully" };
        for (const dependency of service.dependsOn ?? []) {
            if (!names.has(dependency)) continue;
            const oneshot = services.find((s) => s.name === dependency)?.kind === "oneshot";
            dependsOn[dependency] = { condition: oneshot ? "service_completed_successfully" : "service_healthy" };
        }

        const sec = service.security;
        const serviceNetworks = networkPlan.membership.get(service.name) ?? [];
        const definition = pulumi.all([service.image, service.env ?? {}, filesHash]).apply(([image, env, mountedHash]) => {
            const plainEnv = Object.fromEntries(Object.entries(env as Record<string, string>).map(([k, v]) => [k, literal(v)]));
            const entry: Record<string, unknown> = {
                image,
                entrypoint: service.command?.map(literal),
                command: service.args?.map(literal),
                restart: service.kind === "oneshot" ? ONESHOT_RESTART : "unless-stopped",
                environment: Object.keys(plainEnv).length > 0 ? plainEnv : undefined,
                env_file: envFiles.length > 0 ? envFiles : undefined,
                depends_on: Object.keys(dependsOn).length > 0 ? dependsOn : undefined,
                healthcheck: healthcheck(service),
                volumes: volumes.length > 0 ? volumes : undefined,
                devices: service.devices && service.devices.length > 0 ? service.devices : undefined,
                tmpfs: sec.readOnlyRootFilesystem && (sec.writablePaths ?? []).length > 0 ? sec.writablePaths : undefined,
                read_only: sec.readOnlyRootFilesystem,
                user: sec.runAsUser !== undefined ? String(sec.runAsUser) : undefined,
                cap_drop: ["ALL"],
                cap_add: sec.addCapabilities && sec.addCapabilities.length > 0 ? sec.addCapabilities : undefined,
                security_opt: ["no-new-privileges:true"],
                mem_limit: memory(service.resources.memoryLimit),
                mem_reservation: memory(service.resources.memory),
                cpus: cpus(service.resources.cpuLimit),
                // Only the proxy publishes ports. Routed services are not published on the host's
                // loopback either: that would bypass the proxy's login, and Docker publishes nothing
                // for a container on internal networks only.
                ports: (service.publish ?? []).map((p) => `${p.host}:${p.container}`),
                labels: mountedHash ? { [FILES_HASH_LABEL]: mountedHash } : undefined,
                // No connection needed: no network at all.
                network_mode: serviceNetworks.length === 0 ? "none" : undefined,
                networks: serviceNetworks.length === 0 ? undefined : Object.fromEntries(serviceNetworks.map((network) =>
                    [network, service.aliases && service.aliases.length > 0 ? { aliases: service.aliases } : null])),
                // `labels` copies the Compose service label into each log line's attrs: Alloy labels the line with it (logs.ts).
                logging: { driver: "json-file", options: { "max-size": "10m", "max-file": "3", labels: COMPOSE_SERVICE_LABEL } },
            };
            if ((entry.ports as string[]).length === 0) delete entry.ports;
            return Object.fromEntries(Object.entries(entry).filter(([, v]) => v !== undefined));
        });
        composeServices[service.name] = definition;
    }

    files["docker-compose.yml"] = pulumi.all(composeServices).apply((definitions) => {
        const all = directories.size > 0 ? { [DATA_PERMISSIONS_SERVICE]: dataPermissionsService(args.dataDir, directories), ...definitions } : definitions;
        return COMPOSE_HEADER +
            // docker-compose reads YAML 1.1, where a bare off/no/yes is a boolean: quote them as 1.1 does.
            stringify({ services: all, networks: networkPlan.definitions }, { lineWidth: 0, version: "1.1" });
    });
    return { files, secretFiles, secretFileAccess };
}
