/**
 * The compose target's host: one Hetzner server (Docker Engine and the Compose plugin from
 * cloud-init) and a protected Hetzner volume for every stateful service's data, mounted by a
 * remote step that formats it only when it holds no filesystem.
 */
import * as command from "@pulumi/command";
import * as hcloud from "@pulumi/hcloud";
import * as pulumi from "@pulumi/pulumi";
import { privateIpFor } from "./network";
import { DATA_MOUNT, DEPLOY_USER } from "./cloud-init";
import { renderHostScript, renderHostScriptOutput } from "./host-scripts";
import { DOCKER_DAEMON_CONFIG_PATH, DockerDaemonOptions, dockerDaemonConfig } from "./docker-daemon";
import { HetznerServer, HostSummary, ServerPlacement } from "./server";

/** How to reach the Compose host over SSH, and where its persistent data lives. */
export interface ComposeHostAccess {
    /**
     * SSH connection of the deploy user. Its `host` resolves only once the data volume is mounted,
     * so every remote command using it runs after the mount.
     */
    connection: command.types.input.remote.ConnectionArgs;
    /** Directory on the protected data volume that holds every stateful service's data. */
    dataDir: string;
    /** Directory the Compose project is delivered to. */
    projectDir: string;
    /**
     * The Hetzner server's ID. Every step that leaves state on the host (the project copy, secret
     * files, the registry login, `docker compose up`) has it among its triggers: a replaced server
     * (a Docker version bump changes the user-data) starts empty, and pulumi-command 1.2.1 re-runs
     * a step only when its triggers change (CopyToRemote: only when the archive changes).
     */
    serverId: pulumi.Output<string>;
}

/** Mount point of the data volume (cloud-init orders docker.service after it). */
export { DATA_MOUNT };

/** Where the Compose project lives on the host (scripts/lib/restore.ts runs `docker compose` there over SSH). */
export const COMPOSE_PROJECT_DIR = "/opt/archon";

export interface ComposeHostArgs {
    placement: ServerPlacement;
    /** Hetzner server name, e.g. `archon-staging-compose`. */
    serverName: string;
    /** Hetzner server type (config `serverType`). */
    serverType: string;
    /** Size of the data volume in GB (config `dataVolumeSizeGb`); it can grow, never shrink. */
    dataVolumeSizeGb: number;
    /** Docker daemon settings (components/hetzner/docker-daemon.ts); default none beyond the fixed ones. */
    dockerDaemon?: DockerDaemonOptions;
}

export class ComposeHost extends pulumi.ComponentResource {
    public readonly access: ComposeHostAccess;
    public readonly summary: pulumi.Output<HostSummary>;
    public readonly publicIpv4: pulumi.Output<string>;

    constructor(name: string, args: ComposeHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:ComposeHost", name, {}, opts);
        const host = new HetznerServer(name, {
            placement: args.placement,
            serverName: args.serverName,
            serverType: args.serverType,
            role: "compose",
            privateIp: privateIpFor("server", 0),
        }, { parent: this });

        // Its own resource, not tied to the server: replacing the server keeps the volume and its data.
        const volume = new hcloud.Volume("data", {
            name: `${args.serverName}-data`,
            size: args.dataVolumeSizeGb,
            location: args.placement.location,
            format: "ext4",
            deleteProtection: true,
            labels: { ...args.placement.labels, role: "compose-data" },
        }, { parent: this, protect: true });
        const attachment = new hcloud.VolumeAttachment("data", {
            serverId: host.serverId,
            volumeId: volume.id.apply(Number),
            automount: false,
        }, { parent: this });

        const projectDir = COMPOSE_PROJECT_DIR;
        const dataDir = `${DATA_MOUNT}/data`;
        const mount = new command.remote.Command("mount-data", {
            connection: host.connection,
            create: renderHostScriptOutput(["mount-data-volume"], {
                VOLUME_DEVICE: volume.linuxDevice,
                DATA_DIR: DATA_MOUNT,
                PROJECT_DIR: projectDir,
                DEPLOY_USER,
            }),
            triggers: [host.serverId, attachment.id],
        }, { parent: this, dependsOn: [attachment] });

        // After the mount: docker.service waits for the data volume (cloud-init's drop-in).
        const daemonConfig = dockerDaemonConfig(args.dockerDaemon);
        const daemon = new command.remote.Command("docker-daemon-config", {
            connection: host.connection,
            create: renderHostScript(["docker-daemon-config"], { DAEMON_CONFIG: daemonConfig, DAEMON_CONFIG_PATH: DOCKER_DAEMON_CONFIG_PATH }),
            logging: "stdoutAndStderr",
            triggers: [host.serverId, daemonConfig],
        }, { parent: this, dependsOn: [mount] });

        this.access = {
            connection: { ...host.connection, host: pulumi.all([host.publicIpv4, mount.id, daemon.id]).apply(([ip]) => ip) },
            dataDir,
            projectDir,
            serverId: host.serverId.apply(String),
        };
        this.summary = host.summary;
        this.publicIpv4 = host.publicIpv4;
        this.registerOutputs({ summary: this.summary });
    }
}
