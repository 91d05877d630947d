/**
 * The Supabase and Archon workloads on the stack's target: builds the catalog from config, secrets
 * and image references, and renders it as a Compose project delivered to the Compose host, or as
 * Kubernetes objects in the `archon` namespace.
 */
import * as pulumi from "@pulumi/pulumi";
import { ArchonConfig, isOfflineSynth } from "../../config";
import { ServiceSpec } from "./catalog";
import { ComposeStack } from "../compose/stack";
import { ArchonImageName } from "../registry/images";
import { KubernetesStack } from "../kubernetes/stack";
import { Platform } from "../hetzner/platform";
import { RegistryCredentials } from "../registry/registry";
import { Secrets } from "../secrets/secrets";
import { componentVersions } from "./versions";
import { publicHosts, workloadCatalog } from "./workload-catalog";
import { withPostgresBackups } from "../backups/postgres-backup";

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
}

export class Workloads extends pulumi.ComponentResource {
    /** Every service of the target (the catalog plus extraServices): ingress and monitoring read it. */
    public readonly services: ServiceSpec[];
    public readonly urls: { archon: string; mcp: string; supabase: string };
    /** Versions of the Supabase components. */
    public readonly componentVersions: Record<string, string>;
    /** Public hosts served with TLS. */
    public readonly hosts: string[];

    constructor(name: string, args: WorkloadsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:Workloads", name, {}, opts);
        const { config, platform } = args;
        const compose = config.target === "compose";
        const catalog = workloadCatalog({
            domain: config.domain,
            target: compose ? "compose" : "kubernetes",
            highAvailability: !compose && config.isProduction,
            enableAgents: config.enableAgents,
            archonImages: args.imageRefs,
            secrets: args.secrets,
        });
        const backupCredentials = config.backupAccessKeyIdSecret !== undefined && config.backupSecretAccessKeySecret !== undefined;
        if (!backupCredentials && !isOfflineSynth()) {
            pulumi.log.warn("backupAccessKeyId and backupSecretAccessKey are unset: the Postgres backups fail (and PostgresBackupStale fires) until they are set, and migrations run without a backup first. Set both with pulumi config set --secret.", this);
        }
        const withBackups = withPostgresBackups(catalog, {
            target: compose ? "compose" : "kubernetes",
            stack: config.stack,
            settings: config.backup,
            encryptionKey: args.secrets.backupEncryptionKey,
            accessKeyId: config.backupAccessKeyIdSecret,
            secretAccessKey: config.backupSecretAccessKeySecret,
            postgresPassword: args.secrets.postgresPassword,
            preMigration: backupCredentials,
        });
        this.services = [...withBackups, ...(args.extraServices ?? [])];
        const hosts = publicHosts(config.domain);
        this.urls = { archon: `https://${hosts.archon}`, mcp: `https://${hosts.mcp}`, supabase: `https://${hosts.supabase}` };
        this.componentVersions = componentVersions();

        if (compose) {
            const host = platform.composeHost;
            if (!host) throw new pulumi.RunError("target compose: the platform did not provide a Compose host");
            const stack = new ComposeStack("compose", {
                host,
                server: { type: config.serverType, location: config.location },
                services: this.services,
                domain: config.domain,
                acmeEmail: config.acmeEmail,
                grafanaPassword: args.secrets.grafanaPassword,
                postgresPassword: args.secrets.postgresPassword,
                alertWebhookUrl: config.alertWebhookUrl,
                metricsRetentionDays: config.metricsRetentionDays,
                logsRetentionDays: config.logsRetentionDays,
                deliveryDependsOn: args.composeDependsOn,
            }, { parent: this });
            this.hosts = stack.hosts;
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
                postgresPassword: args.secrets.postgresPassword,
                grafanaPassword: args.secrets.grafanaPassword,
                alertWebhookUrl: config.alertWebhookUrl,
                metricsRetentionDays: config.metricsRetentionDays,
                logsRetentionDays: config.logsRetentionDays,
            }, { parent: this });
            this.hosts = stack.hosts;
        }
        this.registerOutputs({ urls: this.urls, componentVersions: this.componentVersions, hosts: this.hosts });
    }
}
