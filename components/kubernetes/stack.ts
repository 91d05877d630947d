/**
 * The whole stack on a Kubernetes cluster: the catalog's workloads, monitoring, and the ingress with
 * TLS for every public host.
 */
import * as kubernetes from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ServiceSpec } from "../services/catalog";
import { AlertProfile, AlertReceiversInput, IngressSignals, KUBERNETES_BACKUP_SIGNAL, ingressNginxSignals, traefikIngressSignals } from "../services/alert-rules";
import { BLACKBOX_MODULES, blackboxExporterService, internalProbeTargets, postgresExporterService } from "../services/exporters";
import { publicHosts } from "../services/workload-catalog";
import { IngressController, KubernetesIngress, renderIngresses } from "./ingress";
import { KubernetesMonitoring, traefikRouterPrefix } from "./monitoring";
import { ArchonWorkloadsOrder, KubernetesWorkloads } from "./workloads";
import { RegistryCredentials } from "../registry/registry";

/** Kubernetes namespace of the workloads. */
export const WORKLOADS_NAMESPACE = "archon";

export interface KubernetesStackArgs {
    provider: kubernetes.Provider;
    /** The catalog: Supabase, Archon, the registry. */
    services: ServiceSpec[];
    domain: string;
    acmeEmail: string;
    ingressController: IngressController;
    /** Credentials the pods pull images with (an imagePullSecret). */
    registry?: RegistryCredentials;
    /** Size in GB of each stateful service's volumes, by service name (e.g. `{ db: 50 }`). */
    storageSizesGb?: Record<string, number>;
    /** StorageClass of every claim, the workloads' and the Helm charts' (`Platform.storageClassName`); unset = the cluster's default. */
    storageClassName?: string;
    /** Traefik is the one k3s bundles (kube-system, configured through a HelmChartConfig). Default false. */
    bundledTraefik?: boolean;
    /**
     * Cluster add-ons every object here waits for (`Platform.clusterAddons`: on k3s the Hetzner CCM,
     * without which no node is schedulable, and the CSI driver with the StorageClass). Default none.
     */
    clusterAddons?: pulumi.Resource[];
    /**
     * The ingress controller receives PROXY protocol from these CIDRs (`Platform.proxyProtocol`,
     * k3s behind the Hetzner load balancer); unset = clients connect directly, no PROXY protocol.
     */
    proxyProtocolTrustedCidrs?: string[];
    /**
     * The nodes' kubelets (`<ip>:10250`, `Platform.kubeletEndpoints`, k3s only): blackbox probes their
     * certificates, which k3s renews only when it restarts, so CertificateExpiringSoon covers them.
     */
    kubeletEndpoints?: string[];
    /** Password of the `postgres` role, for postgres-exporter (a Kubernetes Secret). */
    postgresPassword: pulumi.Input<string>;
    grafanaPassword: pulumi.Input<string>;
    /** Where Alertmanager sends alerts (config `alert*`); none = the null receiver. */
    alerting?: AlertReceiversInput;
    /** Prometheus retention in days. */
    metricsRetentionDays: number;
    /** Loki retention in days. */
    logsRetentionDays: number;
    /** The DNS preflight (known later): the Ingresses, from which cert-manager requests certificates, wait for it. */
    certificatesDependOn?: Promise<pulumi.Resource[]>;
    /** The Archon workloads' order and await (KubernetesWorkloadsArgs.archon). */
    archon?: ArchonWorkloadsOrder;
}

export class KubernetesStack extends pulumi.ComponentResource {
    /** Public hosts with an Ingress. */
    public readonly hosts: string[];
    /** The private registry's StatefulSet, Service and Ingress (empty without one): the pushes wait until it serves. */
    public readonly registryServing: pulumi.Resource[];

    constructor(name: string, args: KubernetesStackArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:KubernetesStack", name, {}, opts);
        const db = args.services.find((s) => s.name === "db");
        // The Postgres alerts need pg_* metrics: the exporter runs beside db, in its group's namespace.
        const exporters = db ? [postgresExporterService({ host: db.name, port: db.ports[0].port, user: "postgres", password: args.postgresPassword, target: "kubernetes", group: db.group })] : [];
        // blackbox-exporter runs beside the workloads it probes (their NetworkPolicies admit the stack's own pods).
        const kubelets = (args.kubeletEndpoints ?? []).map((endpoint) => {
            const [host, port] = endpoint.split(":");
            return { host, port: Number(port) };
        });
        // It also reaches the nodes' kubelets (their certificates), and nothing else of the nodes.
        const blackbox = { ...blackboxExporterService({ target: "kubernetes", group: "archon" }), egressTo: kubelets.length > 0 ? kubelets : undefined };
        exporters.push(blackbox);
        const workloads = new KubernetesWorkloads("workloads", {
            services: [...args.services, ...exporters],
            namespace: WORKLOADS_NAMESPACE,
            provider: args.provider,
            imagePullSecret: args.registry,
            storageSizesGb: args.storageSizesGb,
            storageClassName: args.storageClassName,
            clusterAddons: args.clusterAddons,
            archon: args.archon,
        }, { parent: this });
        const monitoring = new KubernetesMonitoring("monitoring", {
            provider: args.provider,
            domain: args.domain,
            services: [...args.services, ...exporters],
            grafanaPassword: args.grafanaPassword,
            alerting: args.alerting,
            metricsRetentionDays: args.metricsRetentionDays,
            logsRetentionDays: args.logsRetentionDays,
            storageClassName: args.storageClassName,
            metricsServices: exporters.map((e) => e.name),
            alertProfile: kubernetesAlertProfile(args),
            blackbox: {
                service: blackbox.name,
                namespace: WORKLOADS_NAMESPACE,
                probes: [...internalProbeTargets(args.services), ...(args.kubeletEndpoints ?? []).map((target) => ({ module: BLACKBOX_MODULES.tls, target, service: "kubelet" }))],
            },
            traefikMetrics: args.ingressController === "traefik" && (args.bundledTraefik ?? false),
            clusterAddons: args.clusterAddons,
            // The workloads' namespace, not every workload: the registry's Ingress must not wait for
            // the Archon workloads, which wait for the image push, which waits for that Ingress.
        }, { parent: this, dependsOn: [workloads.namespaceResource] });
        const ingress = new KubernetesIngress("ingress", {
            provider: args.provider,
            controller: args.ingressController,
            bundledTraefik: args.bundledTraefik,
            acmeEmail: args.acmeEmail,
            services: [...args.services, ...monitoring.routedServices],
            // cert-manager's ServiceMonitor (certificate expiry) needs the Prometheus Operator CRDs of the monitoring stack.
            certManagerServiceMonitor: true,
            monitoringCrds: monitoring.crds,
            clusterAddons: args.clusterAddons,
            proxyProtocolTrustedCidrs: args.proxyProtocolTrustedCidrs,
            certificatesDependOn: args.certificatesDependOn,
            // The namespaces, not the monitoring stack: Traefik's HelmChartConfig (PROXY protocol,
            // redirect) must land with the ingress, or behind the load balancer Traefik serves nothing
            // until kube-prometheus-stack, Loki and Alloy are installed. What needs the Prometheus
            // Operator CRDs (cert-manager's and ingress-nginx's ServiceMonitors) waits for them itself.
        }, { parent: this, dependsOn: [workloads.namespaceResource, monitoring.namespaceResource] });
        this.hosts = ingress.hosts;
        this.registryServing = [...(workloads.byService.get("registry") ?? []), ...(ingress.byService.get("registry") ?? [])];
        this.registerOutputs({ hosts: this.hosts });
    }
}

/**
 * What the rules read on a Kubernetes target: the ingress's request metrics where the stack enables
 * them (k3s's bundled Traefik through its HelmChartConfig, or the ingress-nginx release; a Traefik
 * someone else installed on target kubernetes exports nothing we can rely on, so no request alerts
 * there), the backup CronJob through kube-state-metrics, cert-manager's certificate metric.
 */
export function kubernetesAlertProfile(args: Pick<KubernetesStackArgs, "services" | "domain" | "ingressController" | "bundledTraefik">): AlertProfile {
    const supabaseHost = publicHosts(args.domain).supabase;
    let ingress: IngressSignals | undefined;
    if (args.ingressController === "ingress-nginx") {
        ingress = ingressNginxSignals(supabaseHost);
    } else if (args.bundledTraefik) {
        const supabaseIngress = renderIngresses(args.services, { controller: "traefik" })
            .find((m) => m.kind === "Ingress" && JSON.stringify(m.spec.rules).includes(`"host":"${supabaseHost}"`));
        if (supabaseIngress) ingress = traefikIngressSignals(traefikRouterPrefix(supabaseIngress, supabaseHost));
    }
    return { ingress, backup: KUBERNETES_BACKUP_SIGNAL, certManager: true };
}
