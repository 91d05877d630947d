/**
 * archon-infra: reads the stack's configuration and wires the components. No logic of its own:
 * each concern lives in one component under components/.
 */
import "./components/runtime/promise-stack-traces";
import * as pulumi from "@pulumi/pulumi";
import { loadConfig } from "./config";
import { checkComposeMemory } from "./components/compose/memory-budget";
import { Platform } from "./components/hetzner";
import { PublicDns } from "./components/hetzner/dns";
import { ArchonImages, ArchonImagesPresence, DEFAULT_RELEASES_DIR, DeferredResources, Registry, RegistryLogin, RegistryReady, releaseRecord } from "./components/registry";
import { ARCHON_MCP_USER, ARCHON_UI_USER, Secrets, basicAuthorization } from "./components/secrets";
import { Workloads, mcpClientConfig } from "./components/services";
import { backupRecord } from "./components/backups/postgres-backup";
import { alertingRecord } from "./components/services/alert-rules";

// The Compose host's memory budget needs the service catalog: checked here, before the first resource.
const config = checkComposeMemory(loadConfig());

const secrets = new Secrets("secrets", { secretsVersion: config.secretsVersion });
const platform = new Platform("platform", { config, secrets });
const registry = new Registry("registry", {
    domain: config.domain,
    storageGb: config.registryStorageGb,
    password: secrets.registryPassword,
    passwordBcrypt: secrets.registryPasswordBcrypt,
    pushPassword: secrets.registryPushPassword,
    pushPasswordBcrypt: secrets.registryPushPasswordBcrypt,
    externalServer: config.registryServer,
    externalUsername: config.registryUsername,
    externalPassword: config.registryPasswordSecret,
});
// PULL credentials on the Compose host (nothing on Kubernetes targets): hosts cannot push.
const registryLogin = new RegistryLogin("registry-login", { host: platform.composeHost, registry: registry.credentials, dockerHub: config.dockerHub });
// First deploy (README "First deploy"): DNS preflight -> registry serving over TLS -> image push ->
// Archon workloads. The DNS records need the workloads' hosts and the registry's serving steps are
// created with the workloads, so both reach the earlier steps as promises, resolved below.
const privateRegistry = registry.services.length > 0;
const compose = config.target === "compose";
const certificates = new DeferredResources();
const registryServing = new DeferredResources();
const registryReady = privateRegistry && (config.buildImages || !compose)
    ? new RegistryReady("registry-ready", {
        // What waits on it: the pushes (push host) when building, else the presence check (pull host).
        server: config.buildImages ? registry.pushServer : registry.server,
        dependsOn: Promise.all([registryServing.promise, certificates.promise]).then((lists) => lists.flat()),
    })
    : undefined;
// Only the image build gets the PUSH credentials.
const images = new ArchonImages("images", {
    registry: registry.pushCredentials,
    pullServer: registry.server,
    imageTag: config.imageTag,
    enableAgents: config.enableAgents,
    build: config.buildImages,
    sourceDir: config.archonSourceDir,
    architecture: config.architecture,
    cacheFromTag: config.previousImageTag,
    record: config.releaseRecord,
    releasesDir: config.releasesDir ?? DEFAULT_RELEASES_DIR,
    warnWithoutRecord: config.isProduction,
    pushAfter: registryReady ? [registryReady.ready] : [],
});
// Kubernetes, images pushed by CI: ask the registry whether they exist before the workloads wait on them.
const presence = !config.buildImages && !compose
    ? new ArchonImagesPresence("archon-images", {
        registry: registry.credentials,
        images: images.deployed,
        imageTag: config.imageTag,
        digests: images.record?.digests,
        dependsOn: registryReady ? [registryReady.ready] : [],
    })
    : undefined;
const workloads = new Workloads("workloads", {
    config,
    platform,
    secrets,
    imageRefs: images.refs,
    registry: registry.credentials,
    extraServices: registry.services,
    composeDependsOn: registryLogin.resources,
    bootstrap: {
        certificatesDependOn: certificates.promise,
        archonDependsOn: presence ? [presence.check] : images.builds,
        imagesPushedHere: config.buildImages,
        imageTag: config.imageTag,
        prePushImageRefs: config.buildImages && privateRegistry ? images.taggedRefs : undefined,
        archonSkipAwait: presence?.missing,
    },
});
const dns = platform.ingressIpv4
    ? new PublicDns("dns", {
        hosts: workloads.hosts,
        ipv4: platform.ingressIpv4,
        ipv6: platform.ingressIpv6,
        zone: config.dnsZone,
        waitSeconds: config.dnsWaitSeconds,
        labels: { project: "archon", stack: config.stack },
    })
    : undefined;
certificates.resolve(dns ? [dns.preflight] : []);
registryServing.resolve(workloads.registryServing);

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
/** Where alerts go (receivers, the dead man's switch) and what is missing; no URLs. README "Alerting". */
export const alerting = alertingRecord(config.alerting);
/** Where, when and how Postgres is backed up (components/backups); README "Backups and restore". */
export const backups = backupRecord({ target: config.target, stack: config.stack, settings: config.backup, credentialsSet: config.backupAccessKeyIdSecret !== undefined, services: workloads.services.map((s) => s.name) });
/**
 * The logins the ingress requires in front of Archon (v0.1.0 has none of its own): the UI's basic
 * auth (or, with config `oidc*`, the OIDC provider's login through oauth2-proxy), and the MCP endpoint's credential with the ready-made `Authorization` header MCP clients send.
 * Secret output: `pulumi stack output --show-secrets archonAccess`.
 */
export const archonAccess = pulumi.secret({
    // With config oidc*, the UI signs in through the OIDC provider (oauth2-proxy); no password applies.
    ui: config.oidc === undefined
        ? { url: workloads.urls.archon, user: ARCHON_UI_USER, password: secrets.archonUiPassword }
        : { url: workloads.urls.archon, login: "oidc", issuerUrl: config.oidc.issuerUrl, allowedEmailDomains: config.oidc.allowedEmailDomains, allowedEmails: config.oidc.allowedEmails },
    mcp: {
        url: `${workloads.urls.mcp}/mcp`,
        user: ARCHON_MCP_USER,
        password: secrets.archonMcpPassword,
        authorizationHeader: secrets.archonMcpPassword.apply((password) => basicAuthorization(ARCHON_MCP_USER, password)),
        // Ready to paste into an MCP client (Archon's own MCP page shows an http :8051 address without the credential).
        client: secrets.archonMcpPassword.apply((password) => mcpClientConfig(`${workloads.urls.mcp}/mcp`, basicAuthorization(ARCHON_MCP_USER, password))),
    },
});

// `null` where the target has none (Compose has no cluster, k3s no Compose host): an undefined stack
// output makes Pulumi print "Undefined value (...) will not show as a stack output" on every run.
export const kubeconfig = platform.kubeconfig ?? null;
export const hosts = platform.hosts;
export const sshCommands = platform.sshCommands;
export const sshPrivateKey = platform.sshPrivateKey;
export const ingressIpv4 = platform.ingressIpv4;
/**
 * The A/AAAA records every public host needs (README "First deploy"): managed in `dnsZone` when
 * set, else create them yourself; the DNS preflight waits for them before any certificate step.
 */
export const dnsRecords = dns?.records;
/** Pinned software of the Compose host (Docker Engine, containerd, Compose plugin), by package. */
export const hostSoftware = platform.hostSoftware ?? null;
/** The Archon images this stack runs (no archon-agents while enableAgents is false). */
export const imageRefs = images.deployedRefs;
export const registryServer = registry.server;
/**
 * The registry's PUSH login: the image build's only (CI: the `images` environment's
 * REGISTRY_PUSH_USERNAME / REGISTRY_PUSH_PASSWORD). Hosts and nodes get the pull login
 * (`passwords.registry`, user `archon`), which the ingress refuses for writes. Secret output.
 */
export const registryPush = pulumi.secret({
    server: registry.pushCredentials.server,
    username: registry.pushCredentials.username,
    password: registry.pushCredentials.password,
});

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
