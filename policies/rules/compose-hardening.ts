import { ResourceValidationPolicy } from "@pulumi/policy";
import { PolicyArgs, settings } from "../lib/context";
import { ComposeService, Mount, composeServices, hostPath, isWithin } from "../lib/compose";
import { composeProjects } from "../lib/files";
import { DANGEROUS_CAPABILITIES } from "./container-security-context";

/**
 * Host sockets that give a container the container engine, which is root on the host: Docker's,
 * containerd's (Docker's own and k3s's), CRI-O's and Podman's. A bind of the socket or of any
 * directory above it hands it over, read-only or not (a read-only bind still lets a client connect).
 */
const ENGINE_SOCKETS = [
    "/run/docker.sock", "/run/containerd/containerd.sock", "/run/k3s/containerd/containerd.sock",
    "/run/crio/crio.sock", "/run/podman/podman.sock", "/run/docker/containerd/containerd.sock",
];

/**
 * Host paths whose contents are the host itself: its configuration and credentials (/etc, /root,
 * /home), binaries (/usr, /bin, ...), the engines' state (every container's filesystem and
 * volumes), runtime sockets (/run) and the kernel's views (/proc, /sys, /dev). Never writable in a
 * container; read-only only for the services listed in `hostPathExceptions`.
 */
const SYSTEM_PATHS = [
    "/", "/etc", "/root", "/home", "/boot", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/opt/containerd",
    "/var/lib/docker", "/var/lib/containerd", "/var/lib/kubelet", "/var/lib/rancher", "/var/log", "/run", "/proc", "/sys", "/dev",
];

/**
 * Read-only host paths a named Compose service may mount, and why (exact paths; anything else of
 * the host stays refused, and no exception makes a bind writable).
 * - cadvisor reads container names and labels over the Docker socket and every container's
 *   filesystem and cgroup statistics: upstream runs it with `/:/rootfs:ro`, `/var/run:/var/run:ro`,
 *   `/sys:/sys:ro`, `/var/lib/docker/:/var/lib/docker:ro`, `/dev/disk/:/dev/disk:ro`
 *   (google/cadvisor README, "Quick Start"). Its Docker socket access is a conscious exception.
 * - node-exporter reads the host's filesystems, processes and devices through `/:/host/root:ro`,
 *   `/proc`, `/sys` (prometheus/node_exporter README, "Docker"); it never talks to Docker.
 * - alloy tails every container's JSON log under /var/lib/docker/containers (components/compose/logs.ts).
 */
const DEFAULT_HOST_PATH_EXCEPTIONS: Record<string, string[]> = {
    cadvisor: ["/", "/run", "/sys", "/var/lib/docker", "/dev/disk"],
    "node-exporter": ["/", "/proc", "/sys"],
    alloy: ["/var/lib/docker/containers"],
};
/**
 * Devices a named service may see, and why. cadvisor: /dev/kmsg, the kernel log it counts OOM kills
 * from (see DEFAULT_CAPABILITY_EXCEPTIONS; upstream runs it with `--device=/dev/kmsg`).
 */
const DEFAULT_DEVICE_EXCEPTIONS: Record<string, string[]> = { cadvisor: ["/dev/kmsg"] };
/**
 * Dangerous capabilities (DANGEROUS_CAPABILITIES) a named Compose service may add, and why. Only the
 * capabilities listed for the service are excused; any other dangerous one is still a violation.
 * - cadvisor: SYSLOG. cAdvisor counts OOM kills (`container_oom_events_total`) from the kernel log
 *   it reads at /dev/kmsg (utils/oomparser/oomparser.go, go-kmsg-parser; manager/manager.go
 *   `watchForNewOoms` disables OOM events when it cannot open it). Upstream runs it with
 *   `--privileged --device=/dev/kmsg` (google/cadvisor README.md at v0.52.1, "Quick Start"). The
 *   kernel opens /dev/kmsg only with CAP_SYSLOG when kernel.dmesg_restrict=1 (devkmsg_open ->
 *   check_syslog_permissions, kernel/printk/printk.c), Ubuntu's default and so the compose host's
 *   (ubuntu-24.04); SYSLOG is the one capability of `--privileged` that the device needs. It adds
 *   little to a container which already reads the Docker API over /var/run (see above).
 */
const DEFAULT_CAPABILITY_EXCEPTIONS: Record<string, string[]> = { cadvisor: ["SYSLOG"] };
/** The only service that publishes on every host address (the proxy), and its only ports: HTTP and HTTPS. */
const DEFAULT_PUBLIC_PORT_SERVICES = ["proxy"];
const DEFAULT_PUBLIC_PORTS = [80, 443];
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|\[?::1\]?|localhost)$/;
/** Namespaces a service must not share with the host (or join from a container outside the project). */
const NAMESPACE_FIELDS = ["network_mode", "pid", "ipc", "uts", "cgroup", "userns_mode"] as const;
/** `security_opt` entries that switch a confinement off (Docker accepts `:` and `=`). */
const UNCONFINED = /^(seccomp|apparmor|systempaths)[:=]unconfined$|^label[:=]disable$/i;

function mountProblems(service: ComposeService, exceptions: string[]): string[] {
    const problems: string[] = [];
    const allowed = exceptions.map(hostPath);
    for (const mount of service.mounts) {
        if (mount.unknown !== undefined) {
            problems.push(`${mount.unknown} (${mount.via}); bind a path of the project or the data volume instead`);
            continue;
        }
        if (mount.hostPath !== undefined) problems.push(...hostPathProblems(mount, mount.hostPath, allowed));
    }
    return problems;
}

function hostPathProblems(mount: Mount, source: string, allowed: string[]): string[] {
    const named = mount.volume !== undefined ? ` (volume ${mount.volume})` : "";
    const socket = ENGINE_SOCKETS.find((s) => isWithin(s, source));
    // Inside a system path, or above one (a bind of /var holds /var/lib/docker); `/` only as itself.
    const system = SYSTEM_PATHS.find((p) => (p === "/" ? source === "/" : isWithin(source, p)) || isWithin(p, source));
    if (system === undefined && socket === undefined) return [];
    if (!mount.readOnly) {
        return [`mounts the host's ${source}${named} writable (${mount.via}): ${socket ? `it holds the engine socket ${socket}, root on the host` : `${system} is the host's own`}; mount it read-only only where an exception is justified`];
    }
    if (allowed.includes(source)) return [];
    return [socket
        ? `mounts ${source}${named} (${mount.via}), which holds ${socket}: root on the host, read-only or not`
        : `mounts the host's ${source}${named} (${mount.via}); host system paths are for the services in hostPathExceptions only`];
}

/**
 * The Compose project this program renders (any compose file inside a resource's asset archive, as
 * the CopyToRemote of the project carries it), judged as Compose will run it (policies/lib/compose.ts:
 * interpolated, booleans cast, paths cleaned, named volumes and volumes_from resolved): nothing
 * privileged, no host namespace, no unconfined profile, no device, no dangerous capability, no
 * engine socket or host system path (read-only exceptions per service), and only the proxy
 * publishing, only 80/443, on every host address.
 */
export const composeHardening: ResourceValidationPolicy = {
    name: "compose-hardening",
    description: "Compose services are not privileged, share no host namespace, keep seccomp/AppArmor, see no device, add no dangerous capability, mount no engine socket or host system path (read-only exceptions per service, never writable) and only the proxy publishes 80/443 on all addresses (others on 127.0.0.1).",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            publicPorts: { type: "array", items: { type: "integer" }, description: "Host ports the public services may publish on every address." },
            publicPortServices: { type: "array", items: { type: "string" }, description: "Compose services that may publish publicPorts on every address (the proxy)." },
            hostPathExceptions: {
                type: "object",
                additionalProperties: { type: "array", items: { type: "string" } },
                description: "Host system paths a named Compose service may bind read-only (service -> paths), each a justified exception.",
            },
            deviceExceptions: {
                type: "object",
                additionalProperties: { type: "array", items: { type: "string" } },
                description: "Host devices a named Compose service may see (service -> device paths).",
            },
            capabilityExceptions: {
                type: "object",
                additionalProperties: { type: "array", items: { type: "string" } },
                description: "Dangerous capabilities a named Compose service may add (service -> capabilities), each a justified exception.",
            },
        },
    },
    validateResource: async (args: PolicyArgs, reportViolation) => {
        const config = settings(args, {
            publicPorts: DEFAULT_PUBLIC_PORTS,
            publicPortServices: DEFAULT_PUBLIC_PORT_SERVICES,
            hostPathExceptions: DEFAULT_HOST_PATH_EXCEPTIONS,
            deviceExceptions: DEFAULT_DEVICE_EXCEPTIONS,
            capabilityExceptions: DEFAULT_CAPABILITY_EXCEPTIONS,
        });
        for (const project of await composeProjects(args.props)) {
            for (const service of composeServices(project.composeText, project)) {
                const where = `${project.file} service ${service.name}`;
                const report = (problem: string) => reportViolation(`${where} ${problem}`);
                if (service.privileged) report(`runs privileged (privileged: ${JSON.stringify(service.spec.privileged)}, root on the host); add the one capability it needs instead`);
                for (const field of NAMESPACE_FIELDS) {
                    const value = String(service.spec[field] ?? "");
                    if (value === "host") report(`sets ${field}: host; keep the container's own namespace`);
                    else if (value.startsWith("container:")) report(`sets ${field}: ${value}, joining a container outside the project`);
                }
                for (const option of service.securityOpt) if (UNCONFINED.test(option.trim())) report(`sets security_opt ${option}: the kernel confinement stays on`);
                if (!service.securityOpt.some((o) => /^no-new-privileges(:true|=true)?$/i.test(o.trim()))) report("does not set security_opt no-new-privileges:true (a setuid binary would regain privileges)");
                const excusedDevices = (config.deviceExceptions[service.name] ?? []).map(hostPath);
                for (const device of service.devices) if (!excusedDevices.includes(hostPath(device))) report(`sees the host device ${device}; devices are for the services in deviceExceptions only`);
                if (Array.isArray(service.spec.device_cgroup_rules) && service.spec.device_cgroup_rules.length > 0) report("sets device_cgroup_rules: devices are for the services in deviceExceptions only");
                const excused = (config.capabilityExceptions[service.name] ?? []).map((c) => c.toUpperCase().replace(/^CAP_/, ""));
                const dangerous = service.capAdd.filter((c) => DANGEROUS_CAPABILITIES.includes(c) && !excused.includes(c));
                if (dangerous.length > 0) report(`adds capabilities ${dangerous.join(", ")}`);
                const isPublic = config.publicPortServices.includes(service.name);
                for (const port of service.ports) {
                    if (port.hostIp !== undefined && LOOPBACK.test(port.hostIp)) continue;
                    const published = port.published === undefined || port.published === "" ? undefined : Number(port.published);
                    if (isPublic && published !== undefined && config.publicPorts.includes(published) && port.published === String(published)) continue;
                    report(`publishes ${port.entry} on ${port.hostIp ?? "every host address (0.0.0.0, ::)"}; only ${config.publicPortServices.join(", ")} face${config.publicPortServices.length === 1 ? "s" : ""} the world, on ${config.publicPorts.join(", ")}: bind the rest to 127.0.0.1`);
                }
                for (const problem of mountProblems(service, config.hostPathExceptions[service.name] ?? [])) report(problem);
            }
        }
    },
};
