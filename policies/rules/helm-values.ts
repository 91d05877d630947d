import { ResourceValidationPolicy } from "@pulumi/policy";
import { PolicyArgs, settings } from "../lib/context";
import { credentialShape } from "../lib/credentials";
import { helmValues } from "../lib/helm";

/**
 * The ingress controllers' own Services: the one public path (service-exposure allows their
 * Services too). `<chart>:<values path of the service>`.
 */
const DEFAULT_EXPOSED_SERVICES = ["traefik:service", "ingress-nginx:controller.service"];

/** Every leaf of a values tree with its dotted path. */
function leaves(value: unknown, at: string, found: [string, unknown][] = []): [string, unknown][] {
    if (Array.isArray(value)) value.forEach((v, i) => leaves(v, `${at}[${i}]`, found));
    else if (value !== null && typeof value === "object") for (const [k, v] of Object.entries(value)) leaves(v, at === "" ? k : `${at}.${k}`, found);
    else found.push([at, value]);
    return found;
}

const isTrue = (v: unknown) => v === true || String(v).toLowerCase() === "true";

/** What a values leaf opens, by its path and value; undefined when nothing. */
function leafProblem(path: string, value: unknown, chart: string, exposed: string[]): string | undefined {
    const key = path.split(".").pop()!.replace(/\[\d+\]$/, "");
    const parent = path.split(".").slice(0, -1).join(".");
    if (key === "type" && (value === "LoadBalancer" || value === "NodePort") && /(^|\.)service$/i.test(parent)) {
        return exposed.includes(`${chart}:${parent}`) ? undefined : `${path}: ${String(value)} exposes the chart's Service on every node or a cloud balancer; keep it ClusterIP behind the ingress`;
    }
    if (key === "hostNetwork" && isTrue(value)) return `${path}: true puts the chart's pods in the node's network namespace`;
    if ((key === "enabled" && /(^|\.)hostPort$/.test(parent) && isTrue(value)) || (key === "hostPort" && Number(value) > 0)) return `${path}: ${String(value)} binds a port on every node`;
    if (key === "enabled" && /(^|\.)ingress$/.test(parent) && isTrue(value)) return `${path}: true makes the chart render its own Ingress, without the program's login, TLS and rate limit; route it through the program's ingress`;
    if (key === "enableAdminAPI" && isTrue(value)) return `${path}: true opens Prometheus' admin API (delete series, snapshots) to whatever reaches it`;
    if (key === "enabled" && /(^|\.)(auth|authentication)$/.test(parent) && value === false) return `${path}: false turns the chart's authentication off`;
    // Traefik chart 27 (k3s v1.31): `ports.<entry point>.expose: true`; chart 28+: `ports.<entry point>.expose.default: true`.
    // Only web and websecure face the world; `traefik` is the dashboard and API.
    const entryPoint = /(^|\.)ports\.([\w-]+)(\.expose)?$/.exec(parent);
    if (chart === "traefik" && entryPoint && ((key === "expose" && entryPoint[3] === undefined) || (key === "default" && entryPoint[3] !== undefined)) && isTrue(value) && !["web", "websecure"].includes(entryPoint[2])) {
        return `${path}: true exposes Traefik's ${entryPoint[2] === "traefik" ? "dashboard and API" : `entry point ${entryPoint[2]}`} on its public Service; only web and websecure face the world`;
    }
    if (typeof value === "string" && /^--api\.insecure(=true)?$/.test(value.trim())) return `${path}: ${value} serves Traefik's dashboard and API without authentication`;
    if (typeof value === "string") {
        const shape = credentialShape(value);
        if (shape !== undefined) return `${path} holds ${shape}: Helm keeps values in plain release records; pass a Secret's name (existingSecret)`;
    }
    return undefined;
}

/**
 * The values the program passes to every Helm chart (helm.v3.Release, k3s HelmChart and
 * HelmChartConfig): no Service of type LoadBalancer/NodePort but the ingress controllers'
 * (Prometheus, Alertmanager, Grafana, ... stay ClusterIP), no hostNetwork/hostPort, no chart-made
 * Ingress (it would bypass the program's login, TLS and rate limit), no Prometheus admin API, no
 * `auth.enabled: false`, no insecure or exposed Traefik dashboard, no literal credential. Grafana's
 * login settings: rule grafana-login. Loki's `auth_enabled: false` is not flagged: it is Loki's
 * multi-tenancy switch (the X-Scope-OrgID header), not authentication, and Loki is reached only
 * inside the cluster (its NetworkPolicy).
 */
export const helmValuesExposure: ResourceValidationPolicy = {
    name: "helm-values",
    description: "Helm values expose nothing and switch no login off: no LoadBalancer/NodePort Service but the ingress controller's, no hostNetwork/hostPort, no chart-made Ingress, no Prometheus admin API, no auth.enabled: false, no insecure/exposed Traefik dashboard, no literal credential.",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            exposedServices: { type: "array", items: { type: "string" }, description: "`<chart>:<values path>` of Services that may be LoadBalancer/NodePort (the ingress controllers')." },
        },
    },
    validateResource: (args: PolicyArgs, reportViolation) => {
        const { exposedServices } = settings(args, { exposedServices: DEFAULT_EXPOSED_SERVICES });
        for (const release of helmValues(args)) {
            for (const [path, value] of leaves(release.values, "")) {
                const problem = leafProblem(path, value, release.chart, exposedServices);
                if (problem) reportViolation(`Helm values of ${release.name} (${release.chart}): ${problem}`);
            }
        }
    },
};
