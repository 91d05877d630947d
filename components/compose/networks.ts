/**
 * Network segmentation of the Compose project. Every service used to share one flat network, so
 * the web-crawling archon-server could reach postgres-meta (SQL as supabase_admin), Studio without
 * Kong's auth, the database, Prometheus' lifecycle API and cAdvisor. Here each service joins only
 * the networks of the connections it needs, derived from the catalog:
 *
 * - who connects to whom: `dependsOn` (a long-running dependency is a server it calls), `allowFrom`
 *   (the reverse), `connectsTo` (blackbox-exporter's probe targets), `routes` (the proxy connects
 *   to each routed service), host names in plain env
 *   values (`http://meta:8080`, `db`, `db:5432/...`, Kong's alias `kong.localhost`) and in non-secret
 *   config files (`alertmanager:9093` in prometheus.yml, `http://loki:3100` in Grafana's datasources);
 * - each connection then lands on one zone network: `edge-<service>` (the proxy and ONE service
 *   it routes to, or certbot: one network per routed service, so routed services never share one:
 *   a single `edge` let archon-mcp reach Grafana and the registry, test/compose-engine.spec.ts),
 *   `data` (db and its direct clients), `supabase` (Kong and the services behind it), `api` (Kong
 *   and the services that call it from outside Supabase), `monitoring` (Prometheus, exporters, Loki,
 *   Grafana, Alertmanager), `<group>` (calls inside one group, e.g. archon-mcp to archon-server) or
 *   `<server>-clients` otherwise.
 *
 * All zone networks are `internal: true` (no route off the host). Services that need the internet
 * (`egressInternet`: Archon's crawler and LLM calls, ACME, the certificate probes, the webhook;
 * `egress`: GoTrue's SMTP server) and the proxy (whose published ports need a routed bridge) each
 * get an egress bridge of their OWN, `egress-<service>`: a way out, never a way across. One shared
 * egress bridge, even with inter-container traffic off, breaks names: Docker's embedded DNS answers
 * a peer's name with its address on the first network of the asking container's sandbox, and the
 * sandbox sorts networks with a gateway (non-internal) first (moby libnetwork sandbox.go, endpoint
 * ordering; moby/moby#46162, open), so two services sharing `egress` and an internal zone got the
 * peer's egress address and timed out (certbot -> proxy, proxy -> archon-mcp, archon-mcp ->
 * archon-server, blackbox -> archon-*: reproduced on a real dockerd in test/compose-engine.spec.ts).
 * With one member per egress bridge, the only networks two containers share are internal ones.
 * The proxy's bridge also carries IPv6 (a fixed ULA /64): with the daemon's `userland-proxy: false`
 * and `ip6tables` (components/hetzner/docker-daemon.ts), an IPv6 client reaches nginx with its own
 * address instead of the bridge gateway's.
 * Pure: tests compute reachability from the same rendered file.
 */
import * as pulumi from "@pulumi/pulumi";
import { ServiceSpec } from "../services/catalog";

/** Prefix of the per-service networks with a route to the internet: `egress-<service>`. */
export const EGRESS_NETWORK = "egress";
/** The egress bridge of one service (its only member). */
export function egressNetwork(service: string): string {
    return `${EGRESS_NETWORK}-${service}`;
}
/** True for an `egress-<service>` network. */
export function isEgressNetwork(network: string): boolean {
    return network.startsWith(`${EGRESS_NETWORK}-`);
}
/**
 * The IPv6 subnet of the proxy's egress bridge (a ULA /64, RFC 4193; fixed so the network's
 * definition never changes between deploys). Only the proxy publishes ports, so only its bridge
 * needs IPv6 for clients to arrive over IPv6 with their own address.
 */
export const PROXY_IPV6_SUBNET = "fd4a:7c1e:5a11:80::/64";
/** The zone networks by role (`edge` is the prefix of the per-service `edge-<service>` networks). */
export const ZONES = { edge: "edge", data: "data", supabase: "supabase", api: "api", monitoring: "monitoring" } as const;
/** The network between the proxy and one service it talks to (a routed service, or certbot). */
export function edgeNetwork(service: string): string {
    return `${ZONES.edge}-${service}`;
}
/** The database service: its clients share `data`. */
const DATABASE_SERVICE = "db";
/** The API gateway: its upstreams share `supabase`, its other clients `api`. */
const GATEWAY_SERVICE = "kong";

/** One connection a service opens: `client` connects to `server`. */
export interface Connection {
    client: string;
    server: string;
    /** Where the catalog says so (dependsOn, allowFrom, route, env KEY, file path). */
    reason: string;
}

/** The Compose `networks:` of one service and the top-level network definitions. */
export interface NetworkPlan {
    /** Service name -> network names (sorted). */
    membership: Map<string, string[]>;
    /** Top-level `networks:` block. */
    definitions: Record<string, Record<string, unknown>>;
    /** The connections the plan serves (for review and tests). */
    connections: Connection[];
}

function escapeRegExp(text: string): string {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Host names of `services` that `text` addresses: the whole value (`db`), a URL authority
 * (`http://meta:8080`, `postgres://user@db`) or `host:<port>` (`alertmanager:9093`). A bare word
 * elsewhere (a path `/auth/`, a job label, `access: proxy`) is not an address.
 */
function mentionedHosts(text: string, hosts: Map<string, string>): string[] {
    const found = new Set<string>();
    for (const [host, service] of hosts) {
        const h = escapeRegExp(host);
        const whole = new RegExp(`^${h}$`);
        const url = new RegExp(`(//|//[^/@\\s]*@)${h}(:\\d+)?([/"'\\s,\\]]|$)`, "m");
        const hostPort = new RegExp(`(^|[\\s"'\\[,=@])${h}:\\d+([/"'\\s,\\]]|$)`, "m");
        if (whole.test(text.trim()) || url.test(text) || hostPort.test(text)) found.add(service);
    }
    return [...found];
}

/** Plain (non-Output) string of an Input, else undefined: secret values are never scanned. */
function plain(value: pulumi.Input<string> | undefined): string | undefined {
    return typeof value === "string" ? value : undefined;
}

/** Every connection the services need, derived from the catalog (see the module comment). */
export function serviceConnections(services: ServiceSpec[]): Connection[] {
    const byName = new Map(services.map((s) => [s.name, s]));
    const hosts = new Map<string, string>();
    for (const s of services) {
        hosts.set(s.name, s.name);
        for (const alias of s.aliases ?? []) hosts.set(alias, s.name);
    }
    const connections = new Map<string, Connection>();
    const add = (client: string, server: string, reason: string) => {
        if (client === server || !byName.has(client) || !byName.has(server)) return;
        // A one-shot dependency is awaited, not called; a service without ports accepts nothing.
        if (byName.get(server)!.kind === "oneshot" || byName.get(server)!.ports.length === 0) return;
        const key = `${client}->${server}`;
        if (!connections.has(key)) connections.set(key, { client, server, reason });
    };
    for (const s of services) {
        for (const dependency of s.dependsOn ?? []) add(s.name, dependency, "dependsOn");
        for (const client of s.allowFrom ?? []) add(client, s.name, "allowFrom");
        for (const server of s.connectsTo ?? []) add(s.name, server, "connectsTo");
        if ((s.routes ?? []).length > 0) {
            for (const proxy of services.filter((p) => (p.publish ?? []).length > 0)) add(proxy.name, s.name, "route");
        }
        for (const [key, value] of Object.entries(s.env ?? {})) {
            const text = plain(value);
            if (text) for (const server of mentionedHosts(text, hosts)) add(s.name, server, `env ${key}`);
        }
        for (const file of s.files ?? []) {
            const text = file.secret ? undefined : plain(file.content as pulumi.Input<string>);
            if (!text) continue;
            // Prometheus names the probe targets, blackbox-exporter connects to them.
            for (const server of mentionedHosts(text, hosts)) {
                if (!(s.namesWithoutConnecting ?? []).includes(server)) add(s.name, server, `file ${file.path}`);
            }
        }
    }
    return [...connections.values()].sort((a, b) => `${a.client}->${a.server}`.localeCompare(`${b.client}->${b.server}`));
}

/** The zone network a connection uses. */
function zoneOf(connection: Connection, byName: Map<string, ServiceSpec>, gatewayUpstreams: Set<string>): string {
    const client = byName.get(connection.client)!;
    const server = byName.get(connection.server)!;
    if ((client.publish ?? []).length > 0) return edgeNetwork(server.name);
    if ((server.publish ?? []).length > 0) return edgeNetwork(client.name);
    if (server.name === DATABASE_SERVICE) return ZONES.data;
    if (client.name === GATEWAY_SERVICE) return ZONES.supabase;
    // Studio calls Kong too: over the network it already shares with it, not over `api`.
    if (server.name === GATEWAY_SERVICE) return gatewayUpstreams.has(client.name) ? ZONES.supabase : ZONES.api;
    if (client.group === "monitoring" && server.group === "monitoring") return ZONES.monitoring;
    if (client.group === server.group) return client.group;
    return `${server.name}-clients`;
}

/** Which networks each service joins, and the network definitions. */
export function planNetworks(services: ServiceSpec[]): NetworkPlan {
    const byName = new Map(services.map((s) => [s.name, s]));
    const connections = serviceConnections(services);
    const gatewayUpstreams = new Set(connections.filter((c) => c.client === GATEWAY_SERVICE).map((c) => c.server));
    const membership = new Map<string, Set<string>>(services.map((s) => [s.name, new Set<string>()]));
    for (const connection of connections) {
        const zone = zoneOf(connection, byName, gatewayUpstreams);
        membership.get(connection.client)!.add(zone);
        membership.get(connection.server)!.add(zone);
    }
    const publishers = new Set(services.filter((s) => (s.publish ?? []).length > 0).map((s) => s.name));
    for (const s of services) {
        if (s.egressInternet || (s.egressTo ?? []).length > 0 || publishers.has(s.name)) membership.get(s.name)!.add(egressNetwork(s.name));
    }
    const names = new Set([...membership.values()].flatMap((set) => [...set]));
    const definitions: Record<string, Record<string, unknown>> = {};
    for (const name of [...names].sort()) {
        if (!isEgressNetwork(name)) {
            definitions[name] = { driver: "bridge", internal: true };
            continue;
        }
        // A routed bridge for one service's way out; inter-container traffic stays off should a
        // second member ever join.
        const definition: Record<string, unknown> = { driver: "bridge", driver_opts: { "com.docker.network.bridge.enable_icc": "false" } };
        if (publishers.has(name.slice(EGRESS_NETWORK.length + 1))) {
            definition.enable_ipv6 = true;
            definition.ipam = { config: [{ subnet: PROXY_IPV6_SUBNET }] };
        }
        definitions[name] = definition;
    }
    return {
        membership: new Map([...membership.entries()].map(([name, set]) => [name, [...set].sort()])),
        definitions,
        connections,
    };
}
