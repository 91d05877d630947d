/**
 * Renders a server's `#cloud-config` user-data. Pure. Hetzner REPLACES a server when its user-data
 * changes, so this holds only stable bootstrap: packages, the deploy user, SSH hardening, automatic
 * security upgrades. Never secrets (they go over SSH), image tags, volume IDs or anything a release
 * changes; the tests prove a new image tag or a secret rotation leaves it untouched.
 */
import { stringify } from "yaml";

/** What the host is for: `compose` adds Docker Engine and the Compose plugin. */
export type HostRole = "compose" | "k3s-server" | "k3s-agent";

/** The user every remote step logs in as (root login is refused). */
export const DEPLOY_USER = "deploy";

export interface CloudInitArgs {
    role: HostRole;
    /** OpenSSH public key line authorized for {@link DEPLOY_USER}. */
    sshPublicKey: string;
}

const BASE_PACKAGES = ["ca-certificates", "curl", "unattended-upgrades", "fail2ban"];
/** Ubuntu's own Docker Engine and Compose v2 plugin packages (no third-party apt source to pin). */
const COMPOSE_PACKAGES = ["docker.io", "docker-compose-v2"];

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
        package_update: true,
        package_upgrade: true,
        packages: [...BASE_PACKAGES, ...(compose ? COMPOSE_PACKAGES : [])],
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
        ],
        runcmd: [
            ["systemctl", "restart", "ssh"],
            ["systemctl", "enable", "--now", "unattended-upgrades", "fail2ban"],
            // The docker group exists only once docker.io is installed, after users are created.
            ...(compose ? [["usermod", "-aG", "docker", DEPLOY_USER], ["systemctl", "enable", "--now", "docker"]] : []),
        ],
    };
    return `#cloud-config\n${stringify(config, { lineWidth: 0 })}`;
}
