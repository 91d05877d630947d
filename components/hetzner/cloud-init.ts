/**
 * Renders a server's `#cloud-config` user-data. Pure. Hetzner REPLACES a server when its user-data
 * changes, so this holds only stable bootstrap: packages, the deploy user, SSH hardening, automatic
 * security upgrades. Never secrets (they go over SSH), image tags, volume IDs or anything a release
 * changes; the tests prove a new image tag or a secret rotation leaves it untouched.
 */
import { stringify } from "yaml";

/** What the host is for: `compose` adds Docker Engine and the Compose plugin (pinned) and the data-mount drop-in. */
export type HostRole = "compose" | "k3s-server" | "k3s-agent";

/** The user every remote step logs in as (root login is refused). */
export const DEPLOY_USER = "deploy";

export interface CloudInitArgs {
    role: HostRole;
    /** OpenSSH public key line authorized for {@link DEPLOY_USER}. */
    sshPublicKey: string;
}

const BASE_PACKAGES = ["ca-certificates", "curl", "unattended-upgrades", "fail2ban"];

/**
 * Docker Engine and the Compose plugin of the Compose host, pinned: from Docker's apt repository
 * (download.docker.com, which keeps every released version, so a pin stays installable; Ubuntu's
 * archive keeps only the newest build of docker.io per pocket). Versions as Docker's noble
 * repository names them (`apt-cache madison docker-ce`); the stack output `hostSoftware` records
 * them. unattended-upgrades only takes Ubuntu's security origin, and the packages are held too, so
 * they change only when these pins do (which replaces the server: user-data changes).
 */
export const DOCKER_PACKAGES = {
    "docker-ce": "5:27.5.1-1~ubuntu.24.04~noble",
    "docker-ce-cli": "5:27.5.1-1~ubuntu.24.04~noble",
    "containerd.io": "1.7.29-1~ubuntu.24.04~noble",
    "docker-compose-plugin": "2.32.4-1~ubuntu.24.04~noble",
} as const;

/** Docker's release signing key (download.docker.com/linux/ubuntu/gpg), fetched by its fingerprint. */
const DOCKER_APT_KEY_FINGERPRINT = "9DC858229FC7DD38854AE2D88D81803C0EBFCD88";

/** Mount point of the Compose host's data volume (mounted by components/hetzner/scripts/mount-data-volume.sh). */
export const DATA_MOUNT = "/mnt/archon-data";

/**
 * systemd drop-in for docker.service: the data volume is mounted with `nofail` (a missing volume must
 * not stop the boot), so without it Docker could start first and the containers would write into the
 * empty mount point on the root disk. `RequiresMountsFor=` orders docker after the mount and fails
 * it when the mount fails (systemd.unit(5)); the unit exists once mount-data-volume.sh has written
 * the fstab line and reloaded systemd.
 */
export const DOCKER_DATA_MOUNT_DROP_IN = {
    path: "/etc/systemd/system/docker.service.d/10-archon-data-mount.conf",
    content: ["# archon-infra: never start containers before the data volume is mounted.", "[Unit]", `RequiresMountsFor=${DATA_MOUNT}`, ""].join("\n"),
};

const SSHD_HARDENING = [
    "# archon-infra: key-only SSH, no root login.",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "PermitRootLogin no",
    `AllowUsers ${DEPLOY_USER}`,
    "X11Forwarding no",
    "MaxAuthTries 3",
    "",
].join("\n");

const AUTO_UPGRADES = [
    'APT::Periodic::Update-Package-Lists "1";',
    'APT::Periodic::Unattended-Upgrade "1";',
    'APT::Periodic::AutocleanInterval "7";',
    "",
].join("\n");

export function renderCloudInit(args: CloudInitArgs): string {
    const compose = args.role === "compose";
    const config = {
        ...(compose ? {
            apt: {
                sources: {
                    docker: {
                        // $KEY_FILE and $RELEASE are cloud-init's: the key's file and the release codename.
                        source: "deb [signed-by=$KEY_FILE] https://download.docker.com/linux/ubuntu $RELEASE stable",
                        keyid: DOCKER_APT_KEY_FINGERPRINT,
                        keyserver: "keyserver.ubuntu.com",
                    },
                },
            },
        } : {}),
        package_update: true,
        package_upgrade: true,
        packages: [...BASE_PACKAGES, ...(compose ? Object.entries(DOCKER_PACKAGES).map(([name, version]) => [name, version]) : [])],
        ssh_pwauth: false,
        disable_root: true,
        users: [
            {
                name: DEPLOY_USER,
                shell: "/bin/bash",
                lock_passwd: true,
                // Remote steps (mounts, k3s install) need root; the account has no password at all.
                sudo: "ALL=(ALL) NOPASSWD:ALL",
                ssh_authorized_keys: [args.sshPublicKey.trim()],
            },
        ],
        write_files: [
            { path: "/etc/ssh/sshd_config.d/10-archon-hardening.conf", permissions: "0644", content: SSHD_HARDENING },
            { path: "/etc/apt/apt.conf.d/20auto-upgrades", permissions: "0644", content: AUTO_UPGRADES },
            ...(compose ? [{ ...DOCKER_DATA_MOUNT_DROP_IN, permissions: "0644" }] : []),
        ],
        runcmd: [
            ["systemctl", "restart", "ssh"],
            ["systemctl", "enable", "--now", "unattended-upgrades", "fail2ban"],
            // The docker group exists only once docker.io is installed, after users are created.
            ...(compose ? [
                ["apt-mark", "hold", ...Object.keys(DOCKER_PACKAGES)],
                ["usermod", "-aG", "docker", DEPLOY_USER],
                ["systemctl", "daemon-reload"],
                ["systemctl", "enable", "--now", "docker"],
            ] : []),
        ],
    };
    return `#cloud-config\n${stringify(config, { lineWidth: 0 })}`;
}
