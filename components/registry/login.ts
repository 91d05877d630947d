/**
 * Pull credentials on the Compose host: the registry's auth entry in the deploy user's Docker
 * client config, written over SSH before the Compose project is delivered.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { ComposeHostAccess } from "../hetzner/platform";
import { RegistryCredentials } from "./registry";

export interface RegistryLoginArgs {
    /**
     * The Compose host (Platform.composeHost). Undefined on Kubernetes targets, which pull with an
     * imagePullSecret instead: then the login declares nothing.
     */
    host?: ComposeHostAccess;
    /** Registry to log in to (Registry.credentials). */
    registry: RegistryCredentials;
    /**
     * Docker Hub credentials (config `dockerHubUsername`, `dockerHubToken`): the host's pulls of
     * Docker Hub images count against that account's limit instead of the anonymous one of its IP
     * address (README "What a first deploy pulls"). Unset: anonymous pulls.
     */
    dockerHub?: { username: pulumi.Input<string>; token: pulumi.Input<string> };
}

/**
 * The key `docker login` stores Docker Hub's credentials under, and the one the Docker CLI and
 * Compose look up for every docker.io image (docker/cli registry.IndexServer).
 */
export const DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/";

/**
 * Reads a Docker client config on stdin and installs it as ~/.docker/config.json (mode 0600).
 * The credentials travel on stdin only: never in user-data, never on a command line.
 */
export const INSTALL_DOCKER_CONFIG = `set -eu
umask 077
mkdir -p "$HOME/.docker"
cat > "$HOME/.docker/config.json.new"
mv "$HOME/.docker/config.json.new" "$HOME/.docker/config.json"
`;

/** Drops the stored credentials when the login is deleted. */
export const REMOVE_DOCKER_CONFIG = `rm -f "$HOME/.docker/config.json"\n`;

/**
 * The Docker client config that `docker login` would write: an `auths` entry of
 * base64(user:password) for `server`, and for each of `more` (server -> credentials).
 */
export function dockerClientConfig(server: string, username: string, password: string, more: Record<string, { username: string; password: string }> = {}): string {
    const auth = (user: string, secret: string) => ({ auth: Buffer.from(`${user}:${secret}`).toString("base64") });
    const auths = { [server]: auth(username, password), ...Object.fromEntries(Object.entries(more).map(([s, c]) => [s, auth(c.username, c.password)])) };
    return JSON.stringify({ auths }, null, 2) + "\n";
}

/**
 * Writes what `docker login` stores instead of calling it: `docker login` checks the credentials
 * against the registry, and on the compose target the private registry only starts with the
 * Compose project this login must precede. The first pull verifies the credentials instead.
 * Pulumi owns the deploy user's ~/.docker/config.json on that host.
 */
export class RegistryLogin extends pulumi.ComponentResource {
    /** Pass as `dependsOn` to the Compose delivery, so pulls find the credentials. Empty without a Compose host. */
    public readonly resources: pulumi.Resource[];

    constructor(name: string, args: RegistryLoginArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:RegistryLogin", name, {}, opts);
        this.resources = [];
        if (!args.host) {
            this.registerOutputs({});
            return;
        }
        const { server, username, password } = args.registry;
        const clientConfig = pulumi.secret(pulumi.all([server, username, password, args.dockerHub?.username, args.dockerHub?.token])
            .apply(([s, u, p, hubUser, hubToken]) => dockerClientConfig(s, u, p, hubUser !== undefined && hubToken !== undefined ? { [DOCKER_HUB_AUTH_KEY]: { username: hubUser, password: hubToken } } : {})));
        const login = new command.remote.Command("docker-login", {
            connection: args.host.connection,
            create: INSTALL_DOCKER_CONFIG,
            delete: REMOVE_DOCKER_CONFIG,
            // Without an update command, a changed input (a new password) runs create again.
            stdin: clientConfig,
            // A replaced server has no login: write it again there.
            triggers: [args.host.serverId],
        }, { parent: this, additionalSecretOutputs: ["stdin"] });
        this.resources.push(login);
        this.registerOutputs({});
    }
}
