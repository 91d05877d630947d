/**
 * The Compose host's Docker daemon configuration, /etc/docker/daemon.json. Delivered over SSH by a
 * remote step after the data volume is mounted (components/hetzner/scripts/docker-daemon-config.sh),
 * NOT through cloud-init: a changed user-data replaces the server, a changed daemon.json only
 * restarts Docker (and with it the containers, which come back by their restart policies).
 *
 * - `userland-proxy: false`: published ports are DNAT rules, so nginx sees each client's own
 *   address. With Docker's userland proxy every IPv6 client (and IPv4 ones on some paths) arrives
 *   from the bridge gateway: one shared rate-limit bucket, no client address in the logs
 *   (moby/moby#17666, #44408). `ip6tables: true` (Docker's default since 27.0, stated here) makes
 *   the daemon write those rules for IPv6 too, into the proxy's IPv6-enabled bridge
 *   (components/compose/networks.ts PROXY_IPV6_SUBNET). test/compose-engine.spec.ts connects over
 *   IPv6 from another network namespace and reads the address nginx logged.
 * - `default-address-pools`: one /24 per network from 172.20.0.0/14. Docker's built-in pools are
 *   15 /16s in 172.17-31 and then /20s in 192.168.0.0/16; the project has more networks than that
 *   (one egress bridge per service that needs the internet), and archon-agents' credentials endpoint
 *   on archon-server admits only 127.0.0.1 and 172.16.0.0/12 clients (Archon v0.1.0
 *   python/src/server/api_routes/internal_api.py): every network stays inside 172.16.0.0/12.
 * - `registry-mirrors` (config `dockerHubMirror`): the daemon asks that pull-through cache first
 *   for every Docker Hub image, and Docker Hub itself when the cache fails. It hands the cache the
 *   Docker Hub credentials the client sends (config `dockerHubUsername`/`dockerHubToken`,
 *   components/registry/login.ts): shown on a real dockerd in test/compose-engine.spec.ts, so a
 *   cache run by someone else learns the token.
 */

export interface DockerDaemonOptions {
    /** A Docker Hub pull-through cache, e.g. `https://mirror.gcr.io` (config `dockerHubMirror`). */
    registryMirror?: string;
}

/** Where the daemon reads its configuration (dockerd --config-file default on Linux). */
export const DOCKER_DAEMON_CONFIG_PATH = "/etc/docker/daemon.json";
/** The address pool every Compose network is cut from: inside 172.16.0.0/12, /24 each. */
export const DOCKER_ADDRESS_POOL = { base: "172.20.0.0/14", size: 24 } as const;

/** daemon.json as the host receives it. */
export function dockerDaemonConfig(options: DockerDaemonOptions = {}): string {
    const config: Record<string, unknown> = {
        "userland-proxy": false,
        "ip6tables": true,
        "default-address-pools": [DOCKER_ADDRESS_POOL],
        ...(options.registryMirror ? { "registry-mirrors": [options.registryMirror] } : {}),
    };
    return JSON.stringify(config, null, 2) + "\n";
}
