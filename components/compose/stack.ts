/**
 * The whole stack on the Compose host: the catalog's services plus monitoring and the TLS proxy,
 * rendered as one Compose project and delivered over SSH.
 */
import * as pulumi from "@pulumi/pulumi";
import { ServiceSpec } from "../services/catalog";
import { ComposeDelivery } from "./delivery";
import { ComposeMonitoring } from "./monitoring";
import { SHARED_STORAGE_DIR, renderComposeProject } from "./project";
import { TEXTFILE_STORAGE } from "../backups/postgres-backup";
import { ComposeProxy, PROXY_SERVICE } from "./proxy";
import { ComposeHostAccess } from "../hetzner/platform";

export interface ComposeStackArgs {
    host: ComposeHostAccess;
    /** The catalog: Supabase, Archon, the registry. Monitoring and the proxy are added here. */
    services: ServiceSpec[];
    /** Public DNS name; monitoring probes its hosts' certificates. */
    domain: string;
    acmeEmail: string;
    grafanaPassword: pulumi.Input<string>;
    /** Password of the `postgres` role, for postgres-exporter. */
    postgresPassword: pulumi.Input<string>;
    /** Alertmanager webhook; unset = the null receiver. */
    alertWebhookUrl?: string;
    /** Prometheus retention in days. */
    metricsRetentionDays: number;
    /** Loki retention in days. */
    logsRetentionDays: number;
    /** What the delivery waits for (the registry login: pulls need the credentials first). */
    deliveryDependsOn?: pulumi.Resource[];
}

export class ComposeStack extends pulumi.ComponentResource {
    /** Every service of the project, by name. */
    public readonly serviceNames: string[];
    /** Public hosts the proxy serves. */
    public readonly hosts: string[];

    constructor(name: string, args: ComposeStackArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:ComposeStack", name, {}, opts);
        const monitoring = new ComposeMonitoring("monitoring", {
            services: args.services,
            domain: args.domain,
            grafanaPassword: args.grafanaPassword,
            alertWebhookUrl: args.alertWebhookUrl,
            metricsRetentionDays: args.metricsRetentionDays,
            logsRetentionDays: args.logsRetentionDays,
            postgres: { host: "db", port: 5432, user: "postgres", password: args.postgresPassword },
            backupTextfileDirectory: `${args.host.dataDir}/${SHARED_STORAGE_DIR}/${TEXTFILE_STORAGE}`,
        }, { parent: this });
        const routed = [...args.services, ...monitoring.services];
        const proxy = new ComposeProxy("proxy", { services: routed, acmeEmail: args.acmeEmail }, { parent: this });
        const services = [...routed, ...proxy.services];
        const project = renderComposeProject({ services, dataDir: args.host.dataDir });
        new ComposeDelivery("compose-project", { host: args.host, files: project.files, secretFiles: project.secretFiles, proxyService: PROXY_SERVICE }, {
            parent: this,
            dependsOn: args.deliveryDependsOn,
        });
        this.serviceNames = services.map((s) => s.name).sort();
        this.hosts = proxy.hosts;
        this.registerOutputs({ serviceNames: this.serviceNames, hosts: this.hosts });
    }
}
