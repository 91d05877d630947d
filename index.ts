/**
 * archon-infra: reads the stack's configuration and wires the components. No logic of its own:
 * each concern lives in one component under components/.
 */
import * as pulumi from "@pulumi/pulumi";
import { loadConfig } from "./config";
import { Platform } from "./components/hetzner";
import { ArchonImages, Registry, RegistryLogin, releaseRecord } from "./components/registry";
import { ARCHON_MCP_USER, ARCHON_UI_USER, Secrets, basicAuthorization } from "./components/secrets";
import { Workloads } from "./components/services";
import { backupRecord } from "./components/backups/postgres-backup";

const config = loadConfig();

const secrets = new Secrets("secrets", { secretsVersion: config.secretsVersion });
const platform = new Platform("platform", { config, secrets });
const registry = new Registry("registry", {
    domain: config.domain,
    storageGb: config.registryStorageGb,
    password: secrets.registryPassword,
    passwordBcrypt: secrets.registryPasswordBcrypt,
    externalServer: config.registryServer,
    externalUsername: config.registryUsername,
    externalPassword: config.registryPasswordSecret,
});
// Pull credentials on the Compose host (nothing on Kubernetes targets).
const registryLogin = new RegistryLogin("registry-login", { host: platform.composeHost, registry: registry.credentials });
const images = new ArchonImages("images", {
    registry: registry.credentials,
    imageTag: config.imageTag,
    enableAgents: config.enableAgents,
    build: config.buildImages,
    sourceDir: config.archonSourceDir,
    architecture: config.architecture,
    cacheFromTag: config.previousImageTag,
});
const workloads = new Workloads("workloads", {
    config,
    platform,
    secrets,
    imageRefs: images.refs,
    registry: registry.credentials,
    extraServices: registry.services,
    composeDependsOn: registryLogin.resources,
});

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

/** restic's repository password: without it no backup can be read. Secret output. */
export const backupEncryptionKey = secrets.backupEncryptionKey;
/** Where, when and how Postgres is backed up (components/backups); README "Backups and restore". */
export const backups = backupRecord({ target: config.target, stack: config.stack, settings: config.backup, credentialsSet: config.backupAccessKeyIdSecret !== undefined });
/**
 * The logins the ingress requires in front of Archon (v0.1.0 has none of its own): the UI's basic
 * auth, and the MCP endpoint's credential with the ready-made `Authorization` header MCP clients send.
 * Secret output: `pulumi stack output --show-secrets archonAccess`.
 */
export const archonAccess = pulumi.secret({
    ui: { url: workloads.urls.archon, user: ARCHON_UI_USER, password: secrets.archonUiPassword },
    mcp: {
        url: `${workloads.urls.mcp}/mcp`,
        user: ARCHON_MCP_USER,
        password: secrets.archonMcpPassword,
        authorizationHeader: secrets.archonMcpPassword.apply((password) => basicAuthorization(ARCHON_MCP_USER, password)),
    },
});

// `null` where the target has none (Compose has no cluster, k3s no Compose host): an undefined stack
// output makes Pulumi print "Undefined value (...) will not show as a stack output" on every run.
export const kubeconfig = platform.kubeconfig ?? null;
export const hosts = platform.hosts;
export const sshCommands = platform.sshCommands;
export const sshPrivateKey = platform.sshPrivateKey;
export const ingressIpv4 = platform.ingressIpv4;
/** Pinned software of the Compose host (Docker Engine, containerd, Compose plugin), by package. */
export const hostSoftware = platform.hostSoftware ?? null;
/** The Archon images this stack runs (no archon-agents while enableAgents is false). */
export const imageRefs = images.deployedRefs;
export const registryServer = registry.server;

/** What runs: the audit trail `pulumi stack history` keeps and `npm run releases` prints. */
export const release = releaseRecord({
    stack: config.stack,
    target: config.target,
    imageTag: config.imageTag,
    registry: registry.server,
    built: config.buildImages,
    images: images.deployedRefs,
    source: images.source,
    supabaseVersions: workloads.componentVersions,
});
export const urls = workloads.urls;
export const supabaseUrl = workloads.urls.supabase;
export const componentVersions = workloads.componentVersions;
export const publicHosts = workloads.hosts;
