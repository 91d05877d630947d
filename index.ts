/**
 * archon-infra: reads the stack's configuration and wires the components. No logic of its own:
 * each concern lives in one component under components/.
 */
import * as pulumi from "@pulumi/pulumi";
import { loadConfig } from "./config";
import { ArchonImages } from "./components/images";
import { Platform } from "./components/platform";
import { Secrets } from "./components/secrets";
import { ComposeMonitoring } from "./components/compose-monitoring";
import { ComposeProxy } from "./components/compose-proxy";
import { KubernetesIngress } from "./components/kubernetes-ingress";
import { KubernetesMonitoring } from "./components/kubernetes-monitoring";

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
export const imageRefs = images.refs;

// Ingress and monitoring (issue #6). The catalog's services join these lists once the workloads exist.
const composeMonitoring = config.target === "compose"
    ? new ComposeMonitoring("monitoring", {
        services: [],
        domain: config.domain,
        grafanaPassword: secrets.grafanaPassword,
        alertWebhookUrl: config.alertWebhookUrl,
        metricsRetentionDays: config.metricsRetentionDays,
        logsRetentionDays: config.logsRetentionDays,
    })
    : undefined;
const composeProxy = composeMonitoring
    ? new ComposeProxy("proxy", { services: composeMonitoring.services, acmeEmail: config.acmeEmail })
    : undefined;
const kubernetesMonitoring = platform.kubernetesProvider
    ? new KubernetesMonitoring("monitoring", {
        provider: platform.kubernetesProvider,
        domain: config.domain,
        services: [],
        grafanaPassword: secrets.grafanaPassword,
        alertWebhookUrl: config.alertWebhookUrl,
        metricsRetentionDays: config.metricsRetentionDays,
        logsRetentionDays: config.logsRetentionDays,
    })
    : undefined;
const kubernetesIngress = platform.kubernetesProvider && kubernetesMonitoring
    ? new KubernetesIngress("ingress", {
        provider: platform.kubernetesProvider,
        controller: config.ingressController,
        acmeEmail: config.acmeEmail,
        services: kubernetesMonitoring.routedServices,
    })
    : undefined;

export const composeServices = { proxy: composeProxy?.serviceNames, monitoring: composeMonitoring?.serviceNames };
export const publicHosts = composeProxy?.hosts ?? kubernetesIngress?.hosts;
