import { ResourceValidationPolicy } from "@pulumi/policy";
import { parse as parseYaml } from "yaml";
import { PolicyArgs, list, record, settings } from "../lib/context";
import { archivedTextFiles, isComposeFile } from "../lib/files";
import { DANGEROUS_CAPABILITIES } from "./container-security-context";

/** Paths whose bind mount hands a container the Docker socket (root on the host): the socket or a directory above it. */
const DOCKER_SOCKET_PATHS = ["/var/run/docker.sock", "/run/docker.sock", "/var/run", "/run", "/var", "/"];

/**
 * Compose services allowed to see the Docker socket, and why. Both mount it read-only, which does
 * not stop API calls over a socket: the exception is a conscious one.
 * - cadvisor: reads container names and labels from the Docker API; upstream runs it with
 *   `/var/run:/var/run:ro` and `/:/rootfs:ro` (google/cadvisor README, "Quick Start").
 * - node-exporter: reads the host's filesystems through `/:/host/root:ro`, as upstream documents
 *   (prometheus/node_exporter README, "Docker"); it never talks to Docker.
 */
const DEFAULT_DOCKER_SOCKET_ALLOWED = ["cadvisor", "node-exporter"];
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
/** The only ports a Compose service may publish on every host address: the proxy's HTTP and HTTPS. */
const DEFAULT_PUBLIC_PORTS = [80, 443];
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|\[?::1\]?|localhost)$/;

interface PublishedPort {
    hostIp?: string;
    published?: string;
    target: string;
}

/** A `ports:` entry in short (`[ip:]host:container[/proto]`) or long (`{host_ip, published, target}`) syntax. */
function parsePort(entry: unknown): PublishedPort {
    if (typeof entry === "object" && entry !== null) {
        const long = record(entry);
        return { hostIp: long.host_ip === undefined ? undefined : String(long.host_ip), published: long.published === undefined ? undefined : String(long.published), target: String(long.target ?? "") };
    }
    const text = String(entry).replace(/\/(tcp|udp|sctp)$/, "");
    const ipv6 = /^\[([^\]]+)\]:(.*)$/.exec(text);
    const [hostIp, rest] = ipv6 ? [ipv6[1], ipv6[2]] : [undefined, text];
    const parts = rest.split(":");
    if (parts.length === 1) return { hostIp, target: parts[0] };
    if (parts.length === 2) return { hostIp, published: parts[0], target: parts[1] };
    return { hostIp: parts.slice(0, -2).join(":"), published: parts[parts.length - 2], target: parts[parts.length - 1] };
}

/** The host side of a volume entry that is a bind mount (`/src:/dst[:ro]` or `{type: bind, source}`), else undefined. */
function bindSource(entry: unknown): string | undefined {
    if (typeof entry === "object" && entry !== null) {
        const long = record(entry);
        return long.type === "bind" ? String(long.source ?? "") : undefined;
    }
    const source = String(entry).split(":")[0];
    return source.startsWith("/") ? source : undefined;
}

function normalize(p: string): string {
    const trimmed = p.replace(/\/+$/, "");
    return trimmed === "" ? "/" : trimmed;
}

/**
 * The Compose project this program renders (any compose file inside a resource's asset archive, as
 * the CopyToRemote of the project carries it): no privileged service, no host network or PID
 * namespace, no dangerous added capability (except the justified `capabilityExceptions`), no port published on every host address except
 * 80/443, no Docker socket except for the justified `dockerSocketAllowed` services.
 */
export const composeHardening: ResourceValidationPolicy = {
    name: "compose-hardening",
    description: "Compose services are not privileged, share no host network/PID namespace, add no dangerous capability, publish only 80/443 on all addresses (others on 127.0.0.1) and mount the Docker socket only where allowed.",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            publicPorts: { type: "array", items: { type: "integer" }, description: "Host ports a service may publish on every address." },
            dockerSocketAllowed: { type: "array", items: { type: "string" }, description: "Compose services that may bind-mount the Docker socket or a directory holding it." },
            capabilityExceptions: {
                type: "object",
                additionalProperties: { type: "array", items: { type: "string" } },
                description: "Dangerous capabilities a named Compose service may add (service -> capabilities), each a justified exception.",
            },
        },
    },
    validateResource: async (args: PolicyArgs, reportViolation) => {
        const { publicPorts, dockerSocketAllowed, capabilityExceptions } = settings(args, {
            publicPorts: DEFAULT_PUBLIC_PORTS,
            dockerSocketAllowed: DEFAULT_DOCKER_SOCKET_ALLOWED,
            capabilityExceptions: DEFAULT_CAPABILITY_EXCEPTIONS,
        });
        for (const [file, text] of Object.entries(await archivedTextFiles(args.props))) {
            if (!isComposeFile(file)) continue;
            for (const [service, definition] of Object.entries(record(record(parseYaml(text)).services))) {
                const spec = record(definition);
                const where = `${file} service ${service}`;
                if (spec.privileged === true) reportViolation(`${where} runs privileged (root on the host); add the one capability it needs instead`);
                for (const field of ["network_mode", "pid", "ipc", "userns_mode"] as const) {
                    if (String(spec[field] ?? "") === "host") reportViolation(`${where} sets ${field}: host; keep the container's own namespace`);
                }
                const added = list(spec.cap_add).map((c) => String(c).toUpperCase().replace(/^CAP_/, ""));
                const excused = list(capabilityExceptions[service]).map((c) => String(c).toUpperCase().replace(/^CAP_/, ""));
                const dangerous = added.filter((c) => DANGEROUS_CAPABILITIES.includes(c) && !excused.includes(c));
                if (dangerous.length > 0) reportViolation(`${where} adds capabilities ${dangerous.join(", ")}`);
                for (const entry of list(spec.ports)) {
                    const port = parsePort(entry);
                    if (port.hostIp !== undefined && LOOPBACK.test(port.hostIp)) continue;
                    const published = port.published === undefined || port.published === "" ? undefined : Number(port.published);
                    if (published !== undefined && publicPorts.includes(published) && port.published === String(published)) continue;
                    reportViolation(`${where} publishes ${JSON.stringify(entry)} on ${port.hostIp ?? "every host address (0.0.0.0, ::)"}; only ${publicPorts.join(", ")} face the world, bind the rest to 127.0.0.1`);
                }
                if (!dockerSocketAllowed.includes(service)) {
                    for (const source of list(spec.volumes).map(bindSource)) {
                        if (source !== undefined && DOCKER_SOCKET_PATHS.includes(normalize(source))) {
                            reportViolation(`${where} mounts ${source}, which holds the Docker socket (root on the host, read-only or not)`);
                        }
                    }
                }
            }
        }
    },
};
