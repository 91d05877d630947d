/**
 * The whole stack on the Compose host: the catalog's services plus monitoring and the TLS proxy,
 * rendered as one Compose project and delivered over SSH.
 */
import * as pulumi from "@pulumi/pulumi";
import { ServiceSpec } from "../services/catalog";
import { ComposeDelivery, LaterResources } from "./delivery";
import { ComposeMonitoring, ComposeMonitoringArgs, composeMonitoringServices } from "./monitoring";
import { AlertReceiversInput } from "../services/alert-rules";
import { SHARED_STORAGE_DIR, composeReservedMemoryMib, renderComposeProject } from "./project";
import { TEXTFILE_STORAGE } from "../backups/postgres-backup";
import { CERTBOT_SERVICE, ComposeProxy, PROXY_SERVICE, composeProxyServices } from "./proxy";
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
    /** Where Alertmanager sends alerts (config `alert*`); none = the null receiver. */
    alerting?: AlertReceiversInput;
    /** Prometheus retention in days. */
    metricsRetentionDays: number;
    /** Loki retention in days. */
    logsRetentionDays: number;
    /** What the delivery waits for (the registry login: pulls need the credentials first). */
    deliveryDependsOn?: pulumi.Resource[];
    /** The first-deploy order (README "First deploy"); unset = one `docker compose up` of everything. */
    startup?: ComposeStackStartup;
}

/** How the project starts around the Archon images (components/compose/delivery.ts ComposeStartup). */
export interface ComposeStackStartup {
    /** The services that run Archon images: started last, only once the images can be pulled. */
    archonServices: string[];
    /** This program pushes the Archon images (a missing one is then an error). */
    archonImagesRequired: boolean;
    imageTag: string;
    /** The DNS preflight: every `docker compose up` starts certbot, which needs DNS. */
    certificatesDependOn?: LaterResources;
    /** The image pushes: the full `docker compose up` waits for them. */
    upDependsOn?: LaterResources;
    /**
     * Set when this program pushes to the stack's own registry: the Archon services' image
     * references that do not wait on a push (registry/name:tag), by service. The proxy, certbot and
     * the registry are then started from a project rendered with these before the pushes, which
     * wait for that step ({@link ComposeStack.edgeUp}).
     */
    prePushImages?: Record<string, pulumi.Input<string>>;
}

/**
 * A one-shot that only services of `group` wait for (the pre-migration backup, for archon-migrate):
 * it starts with them. `docker compose up --wait` of the other services alone would count its
 * exit as a failure: Compose v2 waits for a one-shot's successful exit only when a service of the
 * same `up` depends on it with `service_completed_successfully`, and otherwise for it to be
 * running (docker/compose v2.32.4 pkg/compose/start.go getDependencyCondition,
 * convergence.go isServiceHealthy: "container ... exited (0)").
 */
function awaitedOnlyBy(services: ServiceSpec[], name: string, group: string[]): boolean {
    const service = services.find((s) => s.name === name);
    const dependents = services.filter((s) => (s.dependsOn ?? []).includes(name)).map((s) => s.name);
    return service?.kind === "oneshot" && dependents.length > 0 && dependents.every((d) => group.includes(d));
}

/** What the project's services are built from besides the catalog: the parts of {@link ComposeStackArgs} they read. */
export type ComposeProjectServicesArgs = Pick<ComposeStackArgs, "services" | "domain" | "acmeEmail" | "grafanaPassword" | "postgresPassword" | "alerting" | "metricsRetentionDays" | "logsRetentionDays">;

function monitoringArgs(args: ComposeProjectServicesArgs, dataDir: string): ComposeMonitoringArgs {
    return {
        services: args.services,
        domain: args.domain,
        grafanaPassword: args.grafanaPassword,
        alerting: args.alerting,
        metricsRetentionDays: args.metricsRetentionDays,
        logsRetentionDays: args.logsRetentionDays,
        postgres: { host: "db", port: 5432, user: "postgres", password: args.postgresPassword },
        backupTextfileDirectory: `${dataDir}/${SHARED_STORAGE_DIR}/${TEXTFILE_STORAGE}`,
    };
}

/**
 * Every service of the Compose project: the catalog, monitoring, then the proxy, as
 * {@link ComposeStack} deploys them. Pure, for the memory check that runs before any resource.
 */
export function composeProjectServices(args: ComposeProjectServicesArgs, dataDir: string): ServiceSpec[] {
    const routed = [...args.services, ...composeMonitoringServices(monitoringArgs(args, dataDir))];
    return [...routed, ...composeProxyServices({ services: routed, acmeEmail: args.acmeEmail })];
}

export class ComposeStack extends pulumi.ComponentResource {
    /** Every service of the project, by name. */
    public readonly serviceNames: string[];
    /** Public hosts the proxy serves. */
    public readonly hosts: string[];
    /** MiB of memory the services reserve together (`mem_reservation`). */
    public readonly reservedMemoryMib: number;
    /** The step that started proxy, certbot and registry before the image pushes (with `startup.prePushImages`). */
    public readonly edgeUp?: pulumi.Resource;

    constructor(name: string, args: ComposeStackArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:ComposeStack", name, {}, opts);
        const monitoring = new ComposeMonitoring("monitoring", monitoringArgs(args, args.host.dataDir), { parent: this });
        const routed = [...args.services, ...monitoring.services];
        const proxy = new ComposeProxy("proxy", { services: routed, acmeEmail: args.acmeEmail }, { parent: this });
        const services = [...routed, ...proxy.services];
        // Checked against serverType before any resource exists (./memory-budget.ts, from index.ts).
        this.reservedMemoryMib = composeReservedMemoryMib(services);
        const project = renderComposeProject({ services, dataDir: args.host.dataDir });
        const startup = args.startup;
        const names = services.map((s) => s.name);
        const prePush = startup?.prePushImages;
        const edgeServices = [PROXY_SERVICE, CERTBOT_SERVICE, "registry"].filter((n) => names.includes(n));
        const edgeFiles = prePush && names.includes("registry")
            ? renderComposeProject({ services: services.map((s) => (prePush[s.name] !== undefined ? { ...s, image: prePush[s.name] } : s)), dataDir: args.host.dataDir }).files
            : undefined;
        const delivery = new ComposeDelivery("compose-project", {
            host: args.host,
            files: project.files,
            secretFiles: project.secretFiles,
            secretFileAccess: project.secretFileAccess,
            startup: startup && {
                archonServices: startup.archonServices.filter((n) => names.includes(n)),
                otherServices: names.filter((n) => !startup.archonServices.includes(n) && !awaitedOnlyBy(services, n, startup.archonServices)),
                archonImagesRequired: startup.archonImagesRequired,
                imageTag: startup.imageTag,
                certificatesDependOn: startup.certificatesDependOn,
                upDependsOn: startup.upDependsOn,
                edge: edgeFiles ? { services: edgeServices, files: edgeFiles } : undefined,
            },
        }, {
            parent: this,
            dependsOn: args.deliveryDependsOn,
        });
        this.edgeUp = delivery.edgeUp;
        this.serviceNames = services.map((s) => s.name).sort();
        this.hosts = proxy.hosts;
        this.registerOutputs({ serviceNames: this.serviceNames, hosts: this.hosts, reservedMemoryMib: this.reservedMemoryMib });
    }
}
