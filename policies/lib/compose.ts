/**
 * A Compose project as Docker Compose v2 will run it, for the rules to judge: values interpolated,
 * booleans and volume paths normalized the way compose-go v2 does before anything is created (the
 * loader of the docker-compose-plugin 2.32 the hosts install; the code cited below is the same at
 * compose-go v2.4.7 and v2.13.0),
 * so that a spelling the engine accepts (`privileged: "yes"`, `//var/run/./docker.sock`, a named
 * volume bound to `/`) is judged by what it does, not by how it is written.
 *
 * - Interpolation: `$$` is a literal `$`; `${VAR:-default}` / `${VAR-default}` take the default,
 *   `${VAR:?err}` / `${VAR}` / `$VAR` the project's `.env` value or nothing (compose-go
 *   template/template.go; an unset variable becomes "" with a warning).
 * - Booleans: compose-go casts the interpolated strings of `privileged`, `read_only` and
 *   `volumes[].read_only` with `toBoolean`: "true"/"yes"/"y"/"on" (any case) are true
 *   (loader/interpolate.go, `interpolateTypeCastMapping`).
 * - Short volume syntax (format/volume.go `ParseVolume`): `source:target[:options]`; a source that
 *   starts with `.`, `/` or `~` is a bind mount (`isFilePath`), anything else a named volume; the
 *   option list is comma-separated and only an exact `ro` makes it read-only (`RO`, `readonly` are
 *   ignored).
 * - Paths (paths/resolve.go, paths/unix.go): relative sources are joined to the project directory
 *   (`filepath.Join`, which cleans `..`), `~` is the user's home, and a named volume of driver
 *   `local` with `driver_opts.o: bind` is a bind of `driver_opts.device`. Absolute sources are
 *   passed as written; the kernel resolves `//`, `.` and `..` the way `path.posix.normalize` does.
 *   `/var/run` is a symlink to `/run` on the Ubuntu hosts (and every systemd distribution), so both
 *   spellings are one path here.
 * - `volumes_from: [service[:ro|:rw]]` gives a service the other's mounts (read-only with `:ro`);
 *   `container:<name>` names a container outside the project.
 */
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { Props, list, record } from "./context";

/** Where the project runs when the resource does not say (CopyToRemote `remotePath` does). */
export const DEFAULT_PROJECT_DIR = "/opt/project";
/** The home directory `~` stands for: unknown to the check, so a path under /home. */
const HOME = "/home/deploy";

export interface Mount {
    /** Normalized absolute host path of a bind mount, or undefined for a Docker-managed volume. */
    hostPath?: string;
    /** The named volume (Docker-managed, under /var/lib/docker/volumes) when not a bind. */
    volume?: string;
    readOnly: boolean;
    /** How the service got it: the entry as written (and the service it came from). */
    via: string;
    /** Why the check cannot know the host path (external volume, container:...). */
    unknown?: string;
}

export interface PublishedPort {
    hostIp?: string;
    published?: string;
    target: string;
    entry: string;
}

export interface ComposeService {
    name: string;
    spec: Props;
    image: string;
    privileged: boolean;
    mounts: Mount[];
    ports: PublishedPort[];
    environment: Record<string, string>;
    devices: string[];
    securityOpt: string[];
    capAdd: string[];
}

/** compose-go's `toBoolean` (loader/interpolate.go): YAML 1.1 spellings too. */
export function composeBoolean(value: unknown): boolean {
    if (typeof value === "boolean") return value;
    if (typeof value === "number") return value !== 0;
    return ["true", "yes", "y", "on"].includes(String(value ?? "").trim().toLowerCase());
}

/** A host path as the kernel resolves it: `//`, `.`, `..` and trailing slashes gone; `/var/run` is `/run`. */
export function hostPath(p: string): string {
    let normalized = path.posix.normalize(p.startsWith("/") ? p : `/${p}`).replace(/\/+$/, "") || "/";
    if (normalized === "/var/run" || normalized.startsWith("/var/run/")) normalized = normalized.slice("/var".length);
    return normalized;
}

/** True when `inner` is `outer` or lies below it. */
export function isWithin(inner: string, outer: string): boolean {
    return outer === "/" || inner === outer || inner.startsWith(`${outer}/`);
}

/** Values of a dotenv file (`KEY=value`, `export KEY=value`, quotes stripped, `#` comments). */
export function parseDotenv(text: string): Record<string, string> {
    const values: Record<string, string> = {};
    for (const line of text.split("\n")) {
        const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*?)\s*$/.exec(line);
        if (!match || line.trim().startsWith("#")) continue;
        values[match[1]] = match[2].replace(/^(['"])(.*)\1$/, "$2");
    }
    return values;
}

/** Compose interpolation of one string (see the module comment). */
export function interpolate(text: string, variables: Record<string, string>): string {
    return text.replace(/\$(\$|\{([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g, (_, token: string, braced?: string, bare?: string) => {
        if (token === "$") return "$";
        if (bare !== undefined) return variables[bare] ?? "";
        const match = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?+])(.*))?$/s.exec(braced ?? "");
        if (!match) return "";
        const [, name, colon, operator, word] = match;
        const value = variables[name];
        const unset = value === undefined || (colon === ":" && value === "");
        if (operator === "-") return unset ? word : value;
        if (operator === "+") return unset ? "" : word;
        return value ?? "";
    });
}

/** Interpolates every string in a parsed YAML value. */
function interpolateAll(value: unknown, variables: Record<string, string>): unknown {
    if (typeof value === "string") return interpolate(value, variables);
    if (Array.isArray(value)) return value.map((v) => interpolateAll(v, variables));
    if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateAll(v, variables)]));
    return value;
}

/** compose-go's `ParseVolume` split: on `:` outside `${...}`. */
function splitVolumeSpec(spec: string): string[] {
    const parts: string[] = [];
    let depth = 0;
    let current = "";
    for (let i = 0; i < spec.length; i++) {
        const char = spec[i];
        if (char === "$" && spec[i + 1] === "{") depth++;
        if (char === "}" && depth > 0) depth--;
        if (char === ":" && depth === 0) {
            parts.push(current);
            current = "";
        } else current += char;
    }
    parts.push(current);
    return parts;
}

function isFilePath(source: string): boolean {
    return source.startsWith(".") || source.startsWith("/") || source.startsWith("~");
}

/** A bind source as compose-go resolves it: project-relative joined, `~` expanded, then as the kernel sees it. */
function resolveSource(source: string, projectDir: string): string {
    const expanded = source === "~" || source.startsWith("~/") ? `${HOME}${source.slice(1)}` : source;
    return hostPath(expanded.startsWith("/") ? expanded : path.posix.join(projectDir, expanded));
}

interface TopLevelVolume {
    hostPath?: string;
    unknown?: string;
}

/** Top-level named volumes that are really host paths (local driver, `o: bind`) or unknown (`external`). */
function namedVolumes(doc: Props, projectDir: string): Map<string, TopLevelVolume> {
    const volumes = new Map<string, TopLevelVolume>();
    for (const [name, definition] of Object.entries(record(doc.volumes))) {
        const spec = record(definition);
        if (composeBoolean(spec.external) || record(spec.external).name !== undefined) {
            volumes.set(name, { unknown: `external volume ${name} is made outside the project: the check cannot see what it holds` });
            continue;
        }
        const driver = String(spec.driver ?? "local");
        const options = record(spec.driver_opts);
        // Docker's local driver hands `o` to mount(2): bind and rbind make `device` a host path.
        const bind = String(options.o ?? "").split(",").map((o) => o.trim()).some((o) => o === "bind" || o === "rbind");
        if (driver === "local" && bind && typeof options.device === "string") volumes.set(name, { hostPath: resolveSource(options.device, projectDir) });
        else if (driver !== "local") volumes.set(name, { unknown: `volume ${name} uses the driver ${driver}: the check cannot see what it mounts` });
    }
    return volumes;
}

function mountOf(entry: unknown, projectDir: string, volumes: Map<string, TopLevelVolume>): Mount | undefined {
    const via = typeof entry === "string" ? entry : JSON.stringify(entry);
    let type: string;
    let source: string;
    let readOnly: boolean;
    if (typeof entry === "object" && entry !== null) {
        const long = record(entry);
        type = String(long.type ?? "volume");
        source = String(long.source ?? "");
        readOnly = composeBoolean(long.read_only);
    } else {
        const parts = splitVolumeSpec(String(entry));
        if (parts.length === 1) return undefined; // an anonymous volume: Docker-managed
        source = parts[0];
        type = isFilePath(source) ? "bind" : "volume";
        readOnly = (parts[2] ?? "").split(",").includes("ro");
    }
    if (type === "bind") return { hostPath: resolveSource(source, projectDir), readOnly, via };
    if (type !== "volume" || source === "") return undefined; // tmpfs, npipe, image, anonymous
    const named = volumes.get(source);
    return { hostPath: named?.hostPath, volume: source, readOnly, via, unknown: named?.unknown };
}

function environmentOf(value: unknown): Record<string, string> {
    if (Array.isArray(value)) {
        return Object.fromEntries(value.map(String).map((entry) => {
            const at = entry.indexOf("=");
            return at < 0 ? [entry, ""] : [entry.slice(0, at), entry.slice(at + 1)];
        }));
    }
    return Object.fromEntries(Object.entries(record(value)).map(([k, v]) => [k, v === null || v === undefined ? "" : String(v)]));
}

/** A `ports:` entry in short (`[ip:]host:container[/proto]`) or long (`{host_ip, published, target}`) syntax. */
function parsePort(entry: unknown): PublishedPort {
    const text = JSON.stringify(entry);
    if (typeof entry === "object" && entry !== null) {
        const long = record(entry);
        return { hostIp: long.host_ip === undefined ? undefined : String(long.host_ip), published: long.published === undefined ? undefined : String(long.published), target: String(long.target ?? ""), entry: text };
    }
    const spec = String(entry).replace(/\/(tcp|udp|sctp)$/, "");
    const ipv6 = /^\[([^\]]+)\]:(.*)$/.exec(spec);
    const [hostIp, rest] = ipv6 ? [ipv6[1], ipv6[2]] : [undefined, spec];
    const parts = rest.split(":");
    if (parts.length === 1) return { hostIp, target: parts[0], entry: text };
    if (parts.length === 2) return { hostIp, published: parts[0], target: parts[1], entry: text };
    return { hostIp: parts.slice(0, -2).join(":"), published: parts[parts.length - 2], target: parts[parts.length - 1], entry: text };
}

/** The services of one Compose file, normalized (see the module comment). */
export function composeServices(text: string, options: { projectDir?: string; dotenv?: string } = {}): ComposeService[] {
    const projectDir = options.projectDir ?? DEFAULT_PROJECT_DIR;
    const doc = record(interpolateAll(parseYaml(text), parseDotenv(options.dotenv ?? "")));
    const volumes = namedVolumes(doc, projectDir);
    const specs = record(doc.services);
    const ownMounts = (name: string): Mount[] => list(record(specs[name]).volumes).map((v) => mountOf(v, projectDir, volumes)).filter((m): m is Mount => m !== undefined);
    const mountsOf = (name: string, seen: Set<string>): Mount[] => {
        const found = ownMounts(name);
        for (const entry of list(record(specs[name]).volumes_from).map(String)) {
            const [first, mode] = entry.split(":");
            if (first === "container") {
                found.push({ readOnly: false, via: `volumes_from ${entry}`, unknown: `volumes_from ${entry} takes the mounts of a container outside the project` });
                continue;
            }
            if (seen.has(first)) continue;
            for (const mount of mountsOf(first, new Set([...seen, first]))) {
                found.push({ ...mount, readOnly: mode === "ro" ? true : mount.readOnly, via: `volumes_from ${entry} (${mount.via})` });
            }
        }
        return found;
    };
    return Object.entries(specs).map(([name, definition]) => {
        const spec = record(definition);
        return {
            name,
            spec,
            image: String(spec.image ?? ""),
            privileged: composeBoolean(spec.privileged),
            mounts: mountsOf(name, new Set([name])),
            ports: list(spec.ports).map(parsePort),
            environment: environmentOf(spec.environment),
            devices: list(spec.devices).map((d) => (typeof d === "object" && d !== null ? String(record(d).source ?? "") : String(d).split(":")[0])),
            securityOpt: list(spec.security_opt).map(String),
            capAdd: list(spec.cap_add).map((c) => String(c).toUpperCase().replace(/^CAP_/, "")),
        };
    });
}
