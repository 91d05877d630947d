/**
 * archon-infra: reads the stack's configuration and wires the components. No logic of its own:
 * each concern lives in one component under components/.
 */
import * as pulumi from "@pulumi/pulumi";
import { loadConfig } from "./config";
import { ArchonImages } from "./components/images";
import { Platform } from "./components/platform";
import { Secrets } from "./components/secrets";

const config = loadConfig();

const secrets = new Secrets("secrets", { secretsVersion: config.secretsVersion });
const platform = new Platform("platform", { config, secrets });
const images = new ArchonImages("images", { registry: `registry.${config.domain}`, imageTag: config.imageTag });

export const stack = { name: config.stack, environment: config.environment, target: config.target };

/** The Supabase credentials every consumer shares. Secret outputs, except the public JWKS. */
export const supabase = {
    jwtSecret: secrets.jwtSecret,
    anonKey: secrets.anonKey,
    serviceRoleKey: secrets.serviceRoleKey,
    jwks: secrets.jwks,
};

export const passwords = pulumi.secret({
    postgres: secrets.postgresPassword,
    dashboard: secrets.dashboardPassword,
    grafana: secrets.grafanaPassword,
    registry: secrets.registryPassword,
});

export const kubeconfig = platform.kubeconfig;
export const hosts = platform.hosts;
export const sshCommands = platform.sshCommands;
export const sshPrivateKey = platform.sshPrivateKey;
export const ingressIpv4 = platform.ingressIpv4;
export const imageRefs = images.refs;
