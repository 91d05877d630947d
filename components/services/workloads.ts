/**
 * The Supabase and Archon workloads on the stack's target: builds the catalog from config, secrets
 * and image references, and renders it as a Compose project delivered to the Compose host, or as
 * Kubernetes objects in the `archon` namespace.
 */
import * as pulumi from "@pulumi/pulumi";
import { ArchonConfig, isOfflineSynth } from "../../config";
import { ForwardAuthSpec, ServiceSpec } from "./catalog";
import { ComposeStack } from "../compose/stack";
import { ARCHON_IMAGES, ArchonImageName } from "../registry/images";
import { KubernetesStack } from "../kubernetes/stack";
import { Platform } from "../hetzner/platform";
import { RegistryCredentials } from "../registry/registry";
import { Secrets } from "../secrets/secrets";
import { componentVersions } from "./versions";
import { WorkloadSecrets, publicHosts, workloadCatalog } from "./workload-catalog";
import { withPostgresBackups } from "../backups/postgres-backup";
import { OidcLogin } from "./oauth2-proxy";
import { alertingGaps } from "./alert-rules";
import { withRolePasswordSync } from "../secrets/role-passwords";

export interface WorkloadsArgs {
    config: ArchonConfig;
    platform: Platform;
    secrets: Secrets;
    /** Image reference of each Archon image (ArchonImages.refs), archon-migrate included. */
    imageRefs: Record<ArchonImageName, pulumi.Input<string>>;
    /**
     * Services of other components (registry, proxy, monitoring) that run beside these: on Compose
     * they join the same project; on Kubernetes they render into the same namespace.
     */
    extraServices?: ServiceSpec[];
    /** Credentials the cluster pulls the Archon images with (Registry.credentials); an imagePullSecret on Kubernetes. */
    registry?: RegistryCredentials;
    /** What the Compose delivery waits for (RegistryLogin.resources: pulls need the credentials first). */
    composeDependsOn?: pulumi.Resource[];
    /** The first-deploy order around the registry and DNS (README "First deploy"). */
    bootstrap?: WorkloadsBootstrap;
}

/** What the first deploy waits for, and where (components/registry/bootstrap.ts). */
export interface WorkloadsBootstrap {
    /** The DNS preflight (PublicDns.preflight, known later): every step that obtains a certificate waits for it. */
    certificatesDependOn?: Promise<pulumi.Resource[]>;
    /** What the Archon workloads wait for: the image pushes (ArchonImages.builds) or the image check. */
    archonDependsOn: pulumi.Resource[];
    /** This program pushes the Archon images (`buildImages`). */
    imagesPushedHere: boolean;
    /** The tag the Archon workloads run. */
    imageTag: string;
    /**
     * Compose, when this program pushes to the stack's own registry: references of the Archon images
     * that do not wait on the push (registry/name:tag), for the project that starts proxy, certbot
     * and registry first.
     */
    prePushImageRefs?: Record<ArchonImageName, pulumi.Input<string>>;
    /**
     * Kubernetes: true when the image check found an Archon image missing; the Archon workloads
     * then skip Pulumi's await (their pods pull by themselves once the images exist).
     */
    archonSkipAwait?: pulumi.Output<boolean>;
}

/** What {@link targetServices} builds the catalog from, besides the config. */
export interface TargetServicesInputs {
    /** The generated secrets (Secrets): only their values are read. */
    secrets: WorkloadSecrets & { backupEncryptionKey: pulumi.Input<string>; previousBackupEncryptionKey: pulumi.Input<string>; previousPostgresPassword: pulumi.Input<string> };
    imageRefs: Record<ArchonImageName, pulumi.Input<string>>;
    /** oauth2-proxy (OidcLogin.service) when config `oidc*` is set. */
    oidcService?: ServiceSpec;
    uiForwardAuth?: ForwardAuthSpec;
    /** Services of other components that run beside these (the private registry). */
    extraServices?: ServiceSpec[];
}

function hasBackupCredentials(config: ArchonConfig): boolean {
    return config.backupAccessKeyIdSecret !== undefined && config.backupSecretAccessKeySecret !== undefined;
}

/**
 * Every service of the stack's target before the renderer adds its own (Compose: monitoring and the
 * proxy): the catalog, oauth2-proxy, the Postgres backups, the role-password sync, `extraServices`.
 * Pure: {@link Workloads} deploys exactly this list, and the Compose memory check
 * (components/compose/memory-budget.ts) sums it before any resource exists.
 */
export function targetServices(config: ArchonConfig, inputs: TargetServicesInputs): ServiceSpec[] {
    const compose = config.target === "compose";
    const catalog = workloadCatalog({
        domain: config.domain,
        target: compose ? "compose" : "kubernetes",
        highAvailability: !compose && config.isProduction,
        enableAgents: config.enableAgents,
        archonImages: inputs.imageRefs,
        secrets: inputs.secrets,
        smtp: config.smtp,
        uiForwardAuth: inputs.uiForwardAuth,
    });
    const backupCredentials = hasBackupCredentials(config);
    const withBackups = withPostgresBackups([...catalog, ...(inputs.oidcService ? [inputs.oidcService] : [])], {
        target: compose ? "compose" : "kubernetes",
        stack: config.stack,
        settings: config.backup,
        encryptionKey: inputs.secrets.backupEncryptionKey,
        previousEncryptionKey: inputs.secrets.previousBackupEncryptionKey,
        accessKeyId: config.backupAccessKeyIdSecret,
        secretAccessKey: config.backupSecretAccessKeySecret,
        postgresPassword: inputs.secrets.postgresPassword,
        preMigration: backupCredentials,
    });
    // Every deploy sets the database's role passwords to the current secrets before anything logs in.
    const withRoles = withRolePasswordSync(withBackups, {
        postgresPassword: inputs.secrets.postgresPassword,
        previousPostgresPassword: inputs.secrets.previousPostgresPassword,
        authenticatorPassword: inputs.secrets.authenticatorPassword,
        authAdminPassword: inputs.secrets.authAdminPassword,
        jwtSecret: inputs.secrets.jwtSecret,
    });
    return [...withRoles, ...(inputs.extraServices ?? [])];
}

export class Workloads extends pulumi.ComponentResource {
    /** Every service of the target (the catalog plus extraServices): ingress and monitoring read it. */
    public readonly services: ServiceSpec[];
    public readonly urls: { archon: string; mcp: string; supabase: string };
    /** Versions of the Supabase components. */
    public readonly componentVersions: Record<string, string>;
    /** Public hosts served with TLS. */
    public readonly hosts: string[];
    /**
     * What makes the stack's own registry reachable at https://registry.<domain>: the Compose step
     * that starts proxy, certbot and registry before the pushes, or the registry's StatefulSet,
     * Service and Ingress. Empty without a private registry (or on Compose without pushes here).
     */
    public readonly registryServing: pulumi.Resource[];

    constructor(name: string, args: WorkloadsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:Workloads", name, {}, opts);
        const { config, platform, bootstrap } = args;
        const compose = config.target === "compose";
        // Optional OIDC login of the UI (config oidc*): oauth2-proxy joins the catalog and the UI's route is checked by it.
        const oidcLogin = config.oidc === undefined ? undefined : new OidcLogin("oidc-login", {
            oidc: config.oidc,
            archonHost: publicHosts(config.domain).archon,
            secretsVersion: config.secretsVersion,
            highAvailability: !compose && config.isProduction,
        }, { parent: this });
        if (!hasBackupCredentials(config) && !isOfflineSynth()) {
            pulumi.log.warn("backupAccessKeyId and backupSecretAccessKey are unset: the Postgres backups fail (and PostgresBackupStale fires) until they are set, and migrations run without a backup first. Set both with pulumi config set --secret.", this);
        }
        // What is committed for production is said in the synth too; a staging stack hears it at deploy.
        const gaps = alertingGaps(config.alerting);
        if (gaps.length > 0 && config.isProduction) {
            pulumi.log.warn(`PRODUCTION ALERTS REACH NOBODY: ${gaps.join("; ")}. Set them with pulumi config set --secret (README "Alerting").`, this);
        } else if (gaps.length > 0 && !isOfflineSynth()) {
            pulumi.log.warn(`alerts reach nobody: ${gaps.join("; ")} (README "Alerting")`, this);
        }
        this.services = targetServices(config, {
            secrets: args.secrets,
            imageRefs: args.imageRefs,
            oidcService: oidcLogin?.service,
            uiForwardAuth: oidcLogin?.forwardAuth,
            extraServices: args.extraServices,
        });
        const hosts = publicHosts(config.domain);
        this.urls = { archon: `https://${hosts.archon}`, mcp: `https://${hosts.mcp}`, supabase: `https://${hosts.supabase}` };
        this.componentVersions = componentVersions();

        if (compose) {
            const host = platform.composeHost;
            if (!host) throw new pulumi.RunError("target compose: the platform did not provide a Compose host");
            const stack = new ComposeStack("compose", {
                host,
                services: this.services,
                domain: config.domain,
                acmeEmail: config.acmeEmail,
                grafanaPassword: args.secrets.grafanaPassword,
                postgresPassword: args.secrets.postgresPassword,
                alerting: config.alerting,
                metricsRetentionDays: config.metricsRetentionDays,
                logsRetentionDays: config.logsRetentionDays,
                deliveryDependsOn: args.composeDependsOn,
                startup: bootstrap && {
                    archonServices: [...ARCHON_IMAGES],
                    archonImagesRequired: bootstrap.imagesPushedHere,
                    imageTag: bootstrap.imageTag,
                    certificatesDependOn: bootstrap.certificatesDependOn,
                    upDependsOn: bootstrap.archonDependsOn,
                    prePushImages: bootstrap.prePushImageRefs,
                },
            }, { parent: this });
            this.hosts = stack.hosts;
            this.registryServing = stack.edgeUp ? [stack.edgeUp] : [];
        } else {
            const provider = platform.kubernetesProvider;
            if (!provider) throw new pulumi.RunError(`target ${config.target}: the platform did not provide a Kubernetes provider`);
            const stack = new KubernetesStack("kubernetes", {
                provider,
                services: this.services,
                domain: config.domain,
                acmeEmail: config.acmeEmail,
                ingressController: config.ingressController,
                registry: args.registry,
                storageSizesGb: { db: config.postgresStorageGb, registry: config.registryStorageGb },
                storageClassName: platform.storageClassName,
                bundledTraefik: config.target === "k3s",
                clusterAddons: platform.clusterAddons,
                proxyProtocolTrustedCidrs: platform.proxyProtocol?.trustedCidrs,
                kubeletEndpoints: platform.kubeletEndpoints,
                postgresPassword: args.secrets.postgresPassword,
                grafanaPassword: args.secrets.grafanaPassword,
                alerting: config.alerting,
                metricsRetentionDays: config.metricsRetentionDays,
                logsRetentionDays: config.logsRetentionDays,
                certificatesDependOn: bootstrap?.certificatesDependOn,
                archon: bootstrap && { services: [...ARCHON_IMAGES], dependsOn: bootstrap.archonDependsOn, skipAwait: bootstrap.archonSkipAwait },
            }, { parent: this });
            this.hosts = stack.hosts;
            this.registryServing = stack.registryServing;
        }
        this.registerOutputs({ urls: this.urls, componentVersions: this.componentVersions, hosts: this.hosts });
    }
}
