/**
 * What a careless operator or a malicious pull request could add, as edits of a stack's REAL synth
 * output (Kubernetes objects, Helm values, the Compose project's files, nginx.conf, the secret files
 * a Compose host receives, Hetzner resources), each with the policy that must refuse it
 * (issue 27 items 1-4, issue 30.1). test/policy-injections.spec.ts runs them; policies/README.md
 * lists them by class.
 */
import * as fs from "fs";
import { parse as parseYaml, stringify } from "yaml";
import { filesAtPath } from "../policies/lib/files";
import { ResourceRecord } from "../scripts/lib/synthesize";
import { writeTempFiles } from "./helpers";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
export type Mutate = (resources: ResourceRecord[]) => ResourceRecord[];
/** The synths the cases edit: staging (Compose), production (k3s, Traefik), production with ingress-nginx. */
export type Target = "staging" | "production" | "production-nginx";

export interface Injection {
    /** The issue item (27.1 ... 27.4, 30.1). */
    item: string;
    what: string;
    target: Target;
    policy: string;
    expected: RegExp;
    mutate: Mutate;
}

/** Temporary project copies the Compose cases wrote; the spec removes them. */
export const injectedProjects: string[] = [];

const secretless = (value: unknown): Json => ((value as Json)?.$secret ?? value) as Json;

function find(resources: ResourceRecord[], type: string, name?: RegExp): ResourceRecord {
    const found = resources.find((r) => r.type === type && (name === undefined || name.test(r.name)));
    if (!found) throw new Error(`no ${type} ${name ?? ""} in the synth`);
    return found;
}

const inputs = (r: ResourceRecord): Json => r.inputs as Json;
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const INGRESS = "kubernetes:networking.k8s.io/v1:Ingress";
const SERVICE = "kubernetes:core/v1:Service";
const RELEASE = "kubernetes:helm.sh/v3:Release";
const FIREWALL = "hcloud:index/firewall:Firewall";
const SERVER = "hcloud:index/server:Server";
const podTemplate = (r: ResourceRecord): Json => inputs(r).spec.template.spec;
const server = (rs: ResourceRecord[]) => podTemplate(find(rs, DEPLOYMENT, /^archon-server$/));

/** A new resource of the stack (what a pull request would add). */
function added(rs: ResourceRecord[], type: string, name: string, props: Json): ResourceRecord[] {
    const stack = /^urn:pulumi:([^:]+)::/.exec(rs[0].urn)![1];
    return [...rs, { urn: `urn:pulumi:${stack}::archon-infra::${type}::${name}`, type, name, parent: "", custom: true, inputs: props, options: {} }];
}

/**
 * Edits the files of the Compose project's CopyToRemote. The project is a path-based archive
 * (`{"$archive": {"path": dir}}`), which the pack reads from disk: the rendered directory is copied
 * to a temporary one, edited there, and the archive points at the copy.
 */
function editProject(edit: (files: Record<string, string>) => void): Mutate {
    return (rs) => {
        const archive = inputs(find(rs, "command:remote:CopyToRemote", /^project$/)).source.$archive as Json;
        const files = filesAtPath(archive.path as string);
        edit(files);
        const dir = writeTempFiles(files, "archon-policy-inject-");
        injectedProjects.push(dir);
        archive.path = `${dir}/`;
        return rs;
    };
}

const editCompose = (edit: (services: Json, doc: Json) => void): Mutate => editProject((files) => {
    const doc = parseYaml(files["docker-compose.yml"]) as Json;
    edit(doc.services, doc);
    files["docker-compose.yml"] = stringify(doc);
});

const NGINX_CONF = "config/proxy/etc_nginx_nginx.conf";
const editNginx = (edit: (text: string) => string): Mutate => editProject((files) => {
    const before = files[NGINX_CONF];
    files[NGINX_CONF] = edit(before);
    if (files[NGINX_CONF] === before) throw new Error("the nginx.conf edit changed nothing");
});

/** Edits the text a Compose host receives as a secret file (a remote command's stdin). */
function editSecretFile(command: string, edit: (text: string) => string): Mutate {
    return (rs) => {
        const props = inputs(find(rs, "command:remote:Command", new RegExp(`^${command.replace(/\./g, "\\.")}$`)));
        props.stdin = { $secret: edit(String(secretless(props.stdin))) };
        return rs;
    };
}

/** Edits a Secret's stringData (kept a Pulumi secret). */
function editSecretData(name: RegExp, edit: (data: Json) => void): Mutate {
    return (rs) => {
        const props = inputs(find(rs, "kubernetes:core/v1:Secret", name));
        const data = secretless(props.stringData);
        edit(data);
        props.stringData = { $secret: data };
        return rs;
    };
}

/** Edits the values of a Helm release. */
const editValues = (release: RegExp, edit: (values: Json) => void): Mutate => (rs) => {
    edit(inputs(find(rs, RELEASE, release)).values);
    return rs;
};

const editKongConfig = (edit: (config: Json) => void) => (text: string): string => {
    const config = JSON.parse(text) as Json;
    edit(config);
    return JSON.stringify(config);
};
const kongService = (config: Json, name: string): Json => (config.services as Json[]).find((s) => s.name === name)!;

const RANDOM_PASSWORD = "Vq3ZxT9kLm2Np8RsWd4YcH7b";
const JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJlc2lnbmF0dXJlc2ln";

/** A Traefik IngressRoute to `service` on the registry's host, as a pull request would add it. */
function ingressRoute(group: "traefik.io" | "traefik.containo.us", name: string, service: string, extra: Json = {}): Mutate {
    return (rs) => added(rs, `kubernetes:${group}/v1alpha1:IngressRoute`, name, {
        apiVersion: `${group}/v1alpha1`,
        kind: "IngressRoute",
        metadata: { name, namespace: "archon" },
        spec: { entryPoints: ["websecure"], routes: [{ kind: "Rule", match: "Host(`archon.archon.example.com`) && PathPrefix(`/x`)", services: [{ name: service, port: 80 }], middlewares: [{ name: "rate-limit", namespace: "archon" }] }], tls: { secretName: "archon-archon-example-com-tls" }, ...extra },
    });
}

/** A copy of the Kong Ingress routing to `backend` on `path`. */
function ingressTo(backend: string, port: number, path = "/"): Mutate {
    return (rs) => {
        const ingress = JSON.parse(JSON.stringify(find(rs, INGRESS, /kong/))) as ResourceRecord;
        ingress.urn += `-${backend}`;
        ingress.name += `-${backend}`;
        const spec = inputs(ingress).spec;
        inputs(ingress).metadata.name += `-${backend}`;
        spec.rules[0].http.paths = [{ path, pathType: "Prefix", backend: { service: { name: backend, port: { number: port } } } }];
        return [...rs, ingress];
    };
}

const envOf = (value: string): Mutate => (rs) => {
    server(rs).containers[0].env = [...(server(rs).containers[0].env ?? []), { name: "APP_OPTIONS", value }];
    return rs;
};

export const INJECTIONS: Injection[] = [
    // 27.1 Kubernetes
    { item: "27.1", what: "a container with runAsUser: 0", target: "production", policy: "pod-non-root", expected: /archon-server containers archon-server sets runAsUser: 0/, mutate: (rs) => { server(rs).containers[0].securityContext.runAsUser = 0; return rs; } },
    { item: "27.1", what: "a pod with runAsUser: 0 and the container's runAsUser removed", target: "production", policy: "pod-non-root", expected: /sets runAsUser: 0/, mutate: (rs) => { const pod = server(rs); delete pod.containers[0].securityContext.runAsUser; pod.securityContext.runAsUser = 0; return rs; } },
    { item: "27.1", what: "no runAsNonRoot and no runAsUser (the image's root user)", target: "production", policy: "pod-non-root", expected: /sets neither runAsNonRoot: true nor a runAsUser/, mutate: (rs) => { const pod = server(rs); delete pod.securityContext.runAsNonRoot; delete pod.containers[0].securityContext.runAsNonRoot; delete pod.containers[0].securityContext.runAsUser; return rs; } },
    { item: "27.1", what: "automountServiceAccountToken re-enabled", target: "production", policy: "service-account-token", expected: /archon\/archon-server sets automountServiceAccountToken: true/, mutate: (rs) => { server(rs).automountServiceAccountToken = true; return rs; } },
    { item: "27.1", what: "automountServiceAccountToken removed (the default mounts it)", target: "production", policy: "service-account-token", expected: /does not set automountServiceAccountToken: false/, mutate: (rs) => { delete podTemplate(find(rs, DEPLOYMENT, /^kong$/)).automountServiceAccountToken; return rs; } },
    { item: "27.1", what: "a ClusterRoleBinding to cluster-admin", target: "production", policy: "rbac-least-privilege", expected: /ClusterRoleBinding archon-admin grants the built-in cluster-admin/, mutate: (rs) => added(rs, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", "archon-admin", { metadata: { name: "archon-admin" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" }, subjects: [{ kind: "ServiceAccount", name: "default", namespace: "archon" }] }) },
    { item: "27.1", what: "a RoleBinding to a wildcard Role", target: "production", policy: "rbac-least-privilege", expected: /RoleBinding archon\/all-binding grants Role\/archon\/all, a wildcard role/, mutate: (rs) => added(added(rs, "kubernetes:rbac.authorization.k8s.io/v1:Role", "all", { metadata: { name: "all", namespace: "archon" }, rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["*"] }] }), "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "all-binding", { metadata: { name: "all-binding", namespace: "archon" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "all" }, subjects: [{ kind: "ServiceAccount", name: "default", namespace: "archon" }] }) },
    { item: "27.1", what: "a ClusterRole with resources *", target: "production", policy: "rbac-least-privilege", expected: /ClusterRole reader grants resources: \["\*"\]/, mutate: (rs) => added(rs, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "reader", { metadata: { name: "reader" }, rules: [{ apiGroups: [""], resources: ["*"], verbs: ["get"] }] }) },
    { item: "27.1", what: "a Traefik IngressRoute to Archon's UI without a login", target: "production", policy: "ingress-authentication", expected: /IngressRoute archon\/ui-direct routes to archon-ui without a login/, mutate: ingressRoute("traefik.io", "ui-direct", "archon-ui") },
    { item: "27.1", what: "an IngressRoute of the older traefik.containo.us group to postgres-meta", target: "production", policy: "ingress-authentication", expected: /IngressRoute archon\/meta-direct routes to meta without a login/, mutate: ingressRoute("traefik.containo.us", "meta-direct", "meta") },
    { item: "27.1", what: "an IngressRoute without tls (served in plain HTTP)", target: "production", policy: "ingress-tls", expected: /IngressRoute archon\/plain has no tls section/, mutate: (rs) => { const out = ingressRoute("traefik.io", "plain", "kong")(rs); delete inputs(out[out.length - 1]).spec.tls; return out; } },
    { item: "27.1", what: "an IngressRouteTCP to Postgres", target: "production", policy: "ingress-authentication", expected: /IngressRouteTCP archon\/db-tcp routes to db: a IngressRouteTCP carries no login/, mutate: (rs) => added(rs, "kubernetes:traefik.io/v1alpha1:IngressRouteTCP", "db-tcp", { apiVersion: "traefik.io/v1alpha1", kind: "IngressRouteTCP", metadata: { name: "db-tcp", namespace: "archon" }, spec: { entryPoints: ["websecure"], routes: [{ match: "HostSNI(`*`)", services: [{ name: "db", port: 5432 }] }], tls: {} } }) },
    { item: "27.1", what: "the login Middleware dropped from the UI's Ingress", target: "production", policy: "ingress-authentication", expected: /Ingress archon\/archon-ui-archon routes to archon-ui without a login/, mutate: (rs) => { const a = inputs(find(rs, INGRESS, /archon-ui/)).metadata.annotations; a["traefik.ingress.kubernetes.io/router.middlewares"] = a["traefik.ingress.kubernetes.io/router.middlewares"].split(",").filter((m: string) => !m.includes("basic-auth")).join(","); return rs; } },
    { item: "27.1", what: "a basicAuth Middleware emptied (no users, no secret)", target: "production", policy: "ingress-authentication", expected: /routes to archon-mcp without a login/, mutate: (rs) => { inputs(find(rs, "kubernetes:traefik.io/v1alpha1:Middleware", /basic-auth-archon-mcp/)).spec.basicAuth = { realm: "x" }; return rs; } },
    { item: "27.1", what: "ingress-nginx auth-url: \"\" in place of the basic auth", target: "production-nginx", policy: "ingress-authentication", expected: /Ingress archon\/archon-ui-archon routes to archon-ui: auth-url "" is no login URL/, mutate: (rs) => { const a = inputs(find(rs, INGRESS, /archon-ui/)).metadata.annotations; delete a["nginx.ingress.kubernetes.io/auth-type"]; a["nginx.ingress.kubernetes.io/auth-url"] = ""; return rs; } },
    { item: "27.1", what: "ingress-nginx satisfy: any with an allowlist", target: "production-nginx", policy: "ingress-authentication", expected: /satisfy: any lets an allowlisted address skip the login/, mutate: (rs) => { const a = inputs(find(rs, INGRESS, /archon-mcp/)).metadata.annotations; a["nginx.ingress.kubernetes.io/satisfy"] = "any"; a["nginx.ingress.kubernetes.io/whitelist-source-range"] = "0.0.0.0/0"; return rs; } },
    { item: "27.1", what: "an Ingress straight to PostgREST", target: "production", policy: "ingress-authentication", expected: /routes to rest without a login/, mutate: ingressTo("rest", 3000, "/rest/") },
    { item: "27.1", what: "an Ingress straight to postgres-meta on /pg/", target: "production", policy: "ingress-authentication", expected: /routes to meta without a login/, mutate: ingressTo("meta", 8080, "/pg/") },
    { item: "27.1", what: "an Ingress straight to Studio", target: "production", policy: "ingress-authentication", expected: /routes to studio without a login/, mutate: ingressTo("studio", 3000) },
    { item: "27.1", what: "Kong's /pg/ route without key-auth", target: "production", policy: "kong-routes-authenticated", expected: /service meta \(\/pg\/\) has no authentication plugin/, mutate: editSecretData(/^kong-secrets$/, (data) => { data.KONG_DECLARATIVE_CONFIG_STRING = editKongConfig((c) => { kongService(c, "meta").plugins = []; })(data.KONG_DECLARATIVE_CONFIG_STRING); }) },
    { item: "27.1", what: "Kong's /pg/ route open to the anon key", target: "production", policy: "kong-routes-authenticated", expected: /service meta \(\/pg\/\) must take the service_role key only/, mutate: editSecretData(/^kong-secrets$/, (data) => { data.KONG_DECLARATIVE_CONFIG_STRING = editKongConfig((c) => { kongService(c, "meta").plugins.find((p: Json) => p.name === "acl").config.allow = ["admin", "anon"]; })(data.KONG_DECLARATIVE_CONFIG_STRING); }) },
    { item: "27.1", what: "Kong's Studio route without basic-auth", target: "production", policy: "kong-routes-authenticated", expected: /service dashboard \(\/\) has no authentication plugin/, mutate: editSecretData(/^kong-secrets$/, (data) => { data.KONG_DECLARATIVE_CONFIG_STRING = editKongConfig((c) => { kongService(c, "dashboard").plugins = [{ name: "cors" }]; })(data.KONG_DECLARATIVE_CONFIG_STRING); }) },
    { item: "27.1", what: "Kong's /pg/ route without key-auth in the Compose host's env file", target: "staging", policy: "kong-routes-authenticated", expected: /env file KONG_DECLARATIVE_CONFIG_STRING: service meta \(\/pg\/\) has no authentication plugin/, mutate: editSecretFile("secret-env-kong.env", (t) => t.replace(/^KONG_DECLARATIVE_CONFIG_STRING=(.*)$/m, (_, json: string) => `KONG_DECLARATIVE_CONFIG_STRING=${editKongConfig((c) => { kongService(c, "meta").plugins = []; })(json)}`)) },
    { item: "27.1", what: "a LoadBalancer Service for Grafana", target: "production", policy: "service-exposure", expected: /monitoring\/grafana-public is LoadBalancer/, mutate: (rs) => added(rs, SERVICE, "grafana-public", { metadata: { name: "grafana-public", namespace: "monitoring" }, spec: { type: "LoadBalancer", selector: { "app.kubernetes.io/name": "grafana" }, ports: [{ port: 80, targetPort: 3000 }] } }) },
    { item: "27.1", what: "a NodePort Service for the API server's 6443", target: "production", policy: "service-exposure", expected: /default\/kube-api is NodePort/, mutate: (rs) => added(rs, SERVICE, "kube-api", { metadata: { name: "kube-api", namespace: "default" }, spec: { type: "NodePort", ports: [{ port: 6443, targetPort: 6443, nodePort: 30443 }] } }) },
    { item: "27.1", what: "the ingress controller's Service with an extra port 6443", target: "production", policy: "service-exposure", expected: /kube-system\/traefik is LoadBalancer and exposes ports 6443/, mutate: (rs) => added(rs, SERVICE, "traefik", { metadata: { name: "traefik", namespace: "kube-system" }, spec: { type: "LoadBalancer", ports: [{ port: 443 }, { port: 6443, targetPort: 6443 }] } }) },
    { item: "27.1", what: "a JWT in env under a neutral name", target: "production", policy: "no-plain-secret-env", expected: /sets APP_OPTIONS to a JWT in plain text/, mutate: envOf(JWT) },
    { item: "27.1", what: "a password-shaped value in env under a neutral name", target: "production", policy: "no-plain-secret-env", expected: /sets APP_OPTIONS to a password-shaped value/, mutate: envOf(RANDOM_PASSWORD) },
    { item: "27.1", what: "a URI with a password in env under a neutral name", target: "production", policy: "no-plain-secret-env", expected: /sets APP_OPTIONS to a URI with a password/, mutate: envOf("postgres://app:s3cr3t-pass@db:5432/postgres") },
    { item: "27.1", what: "the stack's own pgsodium key (hex) in env under a neutral name", target: "production", policy: "secret-values-not-plain", expected: /Deployment archon-server holds a secret value of the stack in plain text at spec.template.spec.containers\[0\].env/, mutate: (rs) => envOf(String(secretless(inputs(find(rs, "kubernetes:core/v1:Secret", /^db-secrets$/)).stringData)["etc_postgresql-custom_pgsodium_root.key"]).trim())(rs) },
    { item: "27.1", what: "the stack's own service_role key in a ConfigMap under a neutral key", target: "production", policy: "secret-values-not-plain", expected: /ConfigMap archon-server-env holds a secret value of the stack/, mutate: (rs) => { inputs(find(rs, "kubernetes:core/v1:ConfigMap", /^archon-server-env$/)).data.APP_VALUE = String(secretless(inputs(find(rs, "kubernetes:core/v1:Secret", /^archon-server-secrets$/)).stringData).SUPABASE_SERVICE_KEY); return rs; } },
    { item: "27.1", what: "a password-shaped value in a ConfigMap under a neutral key", target: "production", policy: "configmap-no-secrets", expected: /key VALUE holds a password-shaped value/, mutate: (rs) => { inputs(find(rs, "kubernetes:core/v1:ConfigMap", /^meta-env$/)).data.VALUE = RANDOM_PASSWORD; return rs; } },
    { item: "27.1", what: "the rate limit after the login on the UI's router", target: "production", policy: "ingress-rate-limit", expected: /Ingress archon\/archon-ui-archon checks the login \(archon-basic-auth-archon-ui\) before the rate limit/, mutate: (rs) => { const a = inputs(find(rs, INGRESS, /archon-ui/)).metadata.annotations; const chain = a["traefik.ingress.kubernetes.io/router.middlewares"].split(",").filter((m: string) => !m.includes("rate-limit")); a["traefik.ingress.kubernetes.io/router.middlewares"] = [...chain, "archon-rate-limit@kubernetescrd"].join(","); return rs; } },
    { item: "27.1", what: "no rate limit on ingress-nginx's MCP Ingress", target: "production-nginx", policy: "ingress-rate-limit", expected: /Ingress archon\/archon-mcp-mcp has no per-client rate limit in front of its login/, mutate: (rs) => { delete inputs(find(rs, INGRESS, /archon-mcp/)).metadata.annotations["nginx.ingress.kubernetes.io/limit-rps"]; return rs; } },

    // 27.2 Helm values
    { item: "27.2", what: "Grafana anonymous access (grafana.ini section)", target: "production", policy: "grafana-login", expected: /grafana.ini \[auth.anonymous\] enabled turns on anonymous access/, mutate: editValues(/^kube-prometheus-stack$/, (v) => { v.grafana["grafana.ini"]["auth.anonymous"] = { enabled: true, org_role: "Admin" }; }) },
    { item: "27.2", what: "Grafana anonymous access (nested map form)", target: "production", policy: "grafana-login", expected: /\[auth.anonymous\] enabled/, mutate: editValues(/^kube-prometheus-stack$/, (v) => { v.grafana["grafana.ini"].auth = { anonymous: { enabled: "true" } }; }) },
    { item: "27.2", what: "Grafana sign-up", target: "production", policy: "grafana-login", expected: /\[users\] allow_sign_up turns on self sign-up/, mutate: editValues(/^kube-prometheus-stack$/, (v) => { v.grafana["grafana.ini"].users.allow_sign_up = true; }) },
    { item: "27.2", what: "Grafana anonymous access through the chart's env", target: "production", policy: "grafana-login", expected: /env GF_AUTH_ANONYMOUS_ENABLED=true/, mutate: editValues(/^kube-prometheus-stack$/, (v) => { v.grafana.env = { GF_AUTH_ANONYMOUS_ENABLED: "true" }; }) },
    { item: "27.2", what: "Grafana's admin password back to the chart default", target: "production", policy: "grafana-login", expected: /admin.existingSecret is not set: the admin password is the chart's default \(prom-operator\)/, mutate: editValues(/^kube-prometheus-stack$/, (v) => { delete v.grafana.admin; }) },
    { item: "27.2", what: "Grafana's Service as LoadBalancer", target: "production", policy: "helm-values", expected: /grafana.service.type: LoadBalancer exposes/, mutate: editValues(/^kube-prometheus-stack$/, (v) => { v.grafana.service = { type: "LoadBalancer" }; }) },
    { item: "27.2", what: "Prometheus' Service as NodePort", target: "production", policy: "helm-values", expected: /prometheus.service.type: NodePort exposes/, mutate: editValues(/^kube-prometheus-stack$/, (v) => { v.prometheus.service = { type: "NodePort" }; }) },
    { item: "27.2", what: "Alertmanager's Service as LoadBalancer", target: "production", policy: "helm-values", expected: /alertmanager.service.type: LoadBalancer exposes/, mutate: editValues(/^kube-prometheus-stack$/, (v) => { v.alertmanager.service = { type: "LoadBalancer" }; }) },
    { item: "27.2", what: "the chart's own Prometheus Ingress", target: "production", policy: "helm-values", expected: /prometheus.ingress.enabled: true makes the chart render its own Ingress/, mutate: editValues(/^kube-prometheus-stack$/, (v) => { v.prometheus.ingress = { enabled: true, hosts: ["prometheus.archon.example.com"] }; }) },
    { item: "27.2", what: "Prometheus' admin API", target: "production", policy: "helm-values", expected: /enableAdminAPI: true opens Prometheus' admin API/, mutate: editValues(/^kube-prometheus-stack$/, (v) => { v.prometheus.prometheusSpec.enableAdminAPI = true; }) },
    { item: "27.2", what: "a chart's auth turned off", target: "production", policy: "helm-values", expected: /loki.auth.enabled: false turns the chart's authentication off|auth.enabled: false turns/, mutate: editValues(/^loki$/, (v) => { v.loki.auth = { enabled: false }; }) },
    { item: "27.2", what: "a literal password in Helm values", target: "production", policy: "helm-values", expected: /grafana.adminPassword holds a password-shaped value/, mutate: editValues(/^kube-prometheus-stack$/, (v) => { v.grafana.adminPassword = RANDOM_PASSWORD; }) },
    { item: "27.2", what: "Traefik's dashboard insecure (HelmChartConfig)", target: "production", policy: "helm-values", expected: /--api.insecure=true serves Traefik's dashboard and API without authentication/, mutate: (rs) => { const spec = inputs(find(rs, "kubernetes:helm.cattle.io/v1:HelmChartConfig")).spec; spec.valuesContent = spec.valuesContent.replace("additionalArguments:\n", "additionalArguments:\n  - --api.insecure=true\n"); return rs; } },
    { item: "27.2", what: "Traefik exposing its dashboard entry point (HelmChartConfig)", target: "production", policy: "helm-values", expected: /ports.traefik.expose: true exposes Traefik's dashboard and API/, mutate: (rs) => { const spec = inputs(find(rs, "kubernetes:helm.cattle.io/v1:HelmChartConfig")).spec; spec.valuesContent += "ports:\n  traefik:\n    expose: true\n"; return rs; } },

    // 27.3 Compose
    { item: "27.3", what: "privileged: \"true\" as a string", target: "staging", policy: "compose-hardening", expected: /service kong runs privileged \(privileged: "true"/, mutate: editCompose((s) => { s.kong.privileged = "true"; }) },
    { item: "27.3", what: "privileged: \"yes\" (YAML 1.1 spelling compose-go accepts)", target: "staging", policy: "compose-hardening", expected: /service meta runs privileged/, mutate: editCompose((s) => { s.meta.privileged = "yes"; }) },
    { item: "27.3", what: "privileged through an interpolated default", target: "staging", policy: "compose-hardening", expected: /service rest runs privileged/, mutate: editCompose((s) => { s.rest.privileged = "${REST_PRIVILEGED:-true}"; }) },
    { item: "27.3", what: "a named volume bound to /", target: "staging", policy: "compose-hardening", expected: /service kong mounts \/ \(volume hostroot\) .*holds \/run\/docker.sock/, mutate: editCompose((s, doc) => { doc.volumes = { hostroot: { driver: "local", driver_opts: { type: "none", o: "bind", device: "/" } } }; s.kong.volumes = ["hostroot:/host:ro"]; }) },
    { item: "27.3", what: "a named volume bound to /var/run (the Docker socket's directory)", target: "staging", policy: "compose-hardening", expected: /service kong mounts \/run \(volume sockets\).*holds \/run\/docker.sock/, mutate: editCompose((s, doc) => { doc.volumes = { sockets: { driver_opts: { type: "none", o: "bind,ro", device: "/var/run" } } }; s.kong.volumes = ["sockets:/s:ro"]; }) },
    { item: "27.3", what: "volumes_from cAdvisor (its / and /var/run)", target: "staging", policy: "compose-hardening", expected: /service auth mounts \/run \(volumes_from cadvisor:ro/, mutate: editCompose((s) => { s.auth.volumes_from = ["cadvisor:ro"]; }) },
    { item: "27.3", what: "volumes_from a container outside the project", target: "staging", policy: "compose-hardening", expected: /volumes_from container:host-agent takes the mounts of a container outside the project/, mutate: editCompose((s) => { s.auth.volumes_from = ["container:host-agent"]; }) },
    { item: "27.3", what: "//var/run/docker.sock", target: "staging", policy: "compose-hardening", expected: /service archon-server mounts \/run\/docker.sock .*holds \/run\/docker.sock/, mutate: editCompose((s) => { s["archon-server"].volumes = ["//var/run/docker.sock:/var/run/docker.sock:ro"]; }) },
    { item: "27.3", what: "/var/run/./docker.sock", target: "staging", policy: "compose-hardening", expected: /service archon-server mounts \/run\/docker.sock/, mutate: editCompose((s) => { s["archon-server"].volumes = ["/var/run/./docker.sock:/d.sock:ro"]; }) },
    { item: "27.3", what: "/run/containerd/containerd.sock", target: "staging", policy: "compose-hardening", expected: /mounts the host's \/run\/containerd\/containerd.sock writable .*engine socket/, mutate: editCompose((s) => { s["archon-server"].volumes = ["/run/containerd/containerd.sock:/c.sock"]; }) },
    { item: "27.3", what: "a long-syntax bind of /var//run/../run/docker.sock", target: "staging", policy: "compose-hardening", expected: /mounts the host's \/run\/docker.sock writable/, mutate: editCompose((s) => { s["archon-server"].volumes = [{ type: "bind", source: "/var//run/../run/docker.sock", target: "/d.sock" }]; }) },
    { item: "27.3", what: "a relative bind that climbs to /", target: "staging", policy: "compose-hardening", expected: /service kong mounts \/ \(\.\/\.\.\/.*holds \/run\/docker.sock/, mutate: editCompose((s) => { s.kong.volumes = ["./../../../../../../:/host:ro"]; }) },
    { item: "27.3", what: "devices:", target: "staging", policy: "compose-hardening", expected: /service db sees the host device \/dev\/sda/, mutate: editCompose((s) => { s.db.devices = ["/dev/sda:/dev/sda"]; }) },
    { item: "27.3", what: "seccomp unconfined", target: "staging", policy: "compose-hardening", expected: /service kong sets security_opt seccomp:unconfined/, mutate: editCompose((s) => { s.kong.security_opt = [...s.kong.security_opt, "seccomp:unconfined"]; }) },
    { item: "27.3", what: "apparmor=unconfined", target: "staging", policy: "compose-hardening", expected: /service kong sets security_opt apparmor=unconfined/, mutate: editCompose((s) => { s.kong.security_opt = [...s.kong.security_opt, "apparmor=unconfined"]; }) },
    { item: "27.3", what: "no-new-privileges dropped", target: "staging", policy: "compose-hardening", expected: /service kong does not set security_opt no-new-privileges:true/, mutate: editCompose((s) => { s.kong.security_opt = []; }) },
    { item: "27.3", what: "uts: host", target: "staging", policy: "compose-hardening", expected: /service meta sets uts: host/, mutate: editCompose((s) => { s.meta.uts = "host"; }) },
    { item: "27.3", what: "cgroup: host", target: "staging", policy: "compose-hardening", expected: /service meta sets cgroup: host/, mutate: editCompose((s) => { s.meta.cgroup = "host"; }) },
    { item: "27.3", what: "a writable bind of /etc", target: "staging", policy: "compose-hardening", expected: /service auth mounts the host's \/etc writable/, mutate: editCompose((s) => { s.auth.volumes = ["/etc:/host-etc"]; }) },
    { item: "27.3", what: "a writable bind of /var/lib/docker", target: "staging", policy: "compose-hardening", expected: /service auth mounts the host's \/var\/lib\/docker writable/, mutate: editCompose((s) => { s.auth.volumes = ["/var/lib/docker:/d:rw"]; }) },
    { item: "27.3", what: "read_only: \"false\" on cAdvisor's /var/lib/docker (writable despite the exception)", target: "staging", policy: "compose-hardening", expected: /service cadvisor mounts the host's \/var\/lib\/docker writable/, mutate: editCompose((s) => { s.cadvisor.volumes = [...s.cadvisor.volumes.filter((v: string) => !v.startsWith("/var/lib/docker:")), { type: "bind", source: "/var/lib/docker", target: "/var/lib/docker", read_only: "false" }]; }) },
    { item: "27.3", what: "a mode RO (not ro: Compose ignores it) on /etc", target: "staging", policy: "compose-hardening", expected: /service auth mounts the host's \/etc writable/, mutate: editCompose((s) => { s.auth.volumes = ["/etc:/host-etc:RO"]; }) },
    { item: "27.3", what: "Kong publishing 443", target: "staging", policy: "compose-hardening", expected: /service kong publishes "443:8443" on every host address/, mutate: editCompose((s) => { s.kong.ports = ["443:8443"]; }) },
    { item: "27.3", what: "Grafana publishing 80 (long syntax)", target: "staging", policy: "compose-hardening", expected: /service grafana publishes .*"published":"80".* on every host address/, mutate: editCompose((s) => { s.grafana.ports = [{ target: 3000, published: "80" }]; }) },
    { item: "27.3", what: "Grafana anonymous admin (compose environment)", target: "staging", policy: "grafana-login", expected: /service grafana: GF_AUTH_ANONYMOUS_ENABLED=true turns on anonymous access/, mutate: editCompose((s) => { s.grafana.environment.GF_AUTH_ANONYMOUS_ENABLED = "true"; s.grafana.environment.GF_AUTH_ANONYMOUS_ORG_ROLE = "Admin"; }) },
    { item: "27.3", what: "Grafana sign-up in list-form environment", target: "staging", policy: "grafana-login", expected: /GF_USERS_ALLOW_SIGN_UP=yes turns on self sign-up/, mutate: editCompose((s) => { s.grafana.environment = Object.entries(s.grafana.environment).map(([k, v]) => `${k}=${k === "GF_USERS_ALLOW_SIGN_UP" ? "yes" : v}`); }) },
    { item: "27.3", what: "Grafana anonymous access in the env file the host receives", target: "staging", policy: "grafana-login", expected: /env file env\/grafana.env: GF_AUTH_ANONYMOUS_ENABLED=true/, mutate: editSecretFile("secret-env-grafana.env", (t) => `${t}GF_AUTH_ANONYMOUS_ENABLED=true\n`) },
    { item: "27.3", what: "the registry without auth", target: "staging", policy: "registry-auth", expected: /registry configuration config\/registry\/etc_docker_registry_config.yml has no auth section/, mutate: editProject((files) => { const key = "config/registry/etc_docker_registry_config.yml"; const doc = parseYaml(files[key]) as Json; delete doc.auth; files[key] = stringify(doc); }) },
    { item: "27.3", what: "the registry with auth.silly", target: "production", policy: "registry-auth", expected: /uses auth.silly/, mutate: (rs) => { const data = inputs(find(rs, "kubernetes:core/v1:ConfigMap", /^registry-files$/)).data; const key = Object.keys(data).find((k) => k.endsWith("config.yml"))!; const doc = parseYaml(data[key]) as Json; doc.auth = { silly: { realm: "x", service: "y" } }; data[key] = stringify(doc); return rs; } },
    { item: "27.3", what: "auth_basic dropped from Archon's UI in nginx.conf", target: "staging", policy: "proxy-authentication", expected: /server archon.staging.archon.example.com location \/ proxies to archon-ui without a login/, mutate: editNginx((t) => t.replace(/ {12}auth_basic "Archon";\n {12}auth_basic_user_file \/etc\/nginx\/auth\/archon-ui;\n/, "")) },
    { item: "27.3", what: "auth_basic off on the MCP endpoint", target: "staging", policy: "proxy-authentication", expected: /location \/ proxies to archon-mcp without a login/, mutate: editNginx((t) => t.replace('auth_basic "Archon MCP";', "auth_basic off;")) },
    { item: "27.3", what: "the registry's push login dropped (registry-push.<domain>)", target: "staging", policy: "proxy-authentication", expected: /server registry-push.staging.archon.example.com location \/ proxies to registry without a login/, mutate: editNginx((t) => t.replace(/auth_basic "registry-push\.[^"]*";\n\s+auth_basic_user_file \/etc\/nginx\/auth\/registry-push;/, "auth_basic off;")) },
    { item: "27.3", what: "a new location proxying to postgres-meta", target: "staging", policy: "proxy-authentication", expected: /location \/pg\/ proxies to meta without a login/, mutate: editNginx((t) => t.replace("        location / {\n            auth_basic \"Archon\";", "        location /pg/ {\n            proxy_pass http://meta:8080;\n        }\n        location / {\n            auth_basic \"Archon\";")) },
    { item: "27.3", what: "the rate limit dropped from the MCP server block", target: "staging", policy: "proxy-authentication", expected: /server mcp.staging.archon.example.com location \/ checks a login without a rate limit/, mutate: editNginx((t) => t.replace(/(server_name mcp\.[^;]*;[\s\S]*?)\n {8}limit_req zone=per_client burst=\d+ nodelay;/, "$1")) },
    { item: "27.3", what: "a JWT in a Compose service's environment under a neutral name", target: "staging", policy: "no-plain-secret-env", expected: /service archon-server sets APP_OPTIONS to a JWT in plain text/, mutate: editCompose((s) => { s["archon-server"].environment.APP_OPTIONS = JWT; }) },
    { item: "27.3", what: "the stack's own Postgres password in the compose file", target: "staging", policy: "secret-values-not-plain", expected: /CopyToRemote project holds a secret value of the stack in plain text at files docker-compose.yml/, mutate: (rs) => { const db = String(secretless(inputs(find(rs, "command:remote:Command", /^secret-env-db\.env$/)).stdin)); const password = /^POSTGRES_PASSWORD=(.*)$/m.exec(db)![1]; return editCompose((s) => { s.meta.labels = { note: password }; })(rs); } },

    // 27.4 Hetzner
    { item: "27.4", what: "the Compose host without a firewall", target: "staging", policy: "hetzner-server-firewall", expected: /server archon-staging-compose has no firewall/, mutate: (rs) => { inputs(find(rs, SERVER)).firewallIds = []; return rs; } },
    { item: "27.4", what: "a k3s node without a firewall", target: "production", policy: "hetzner-server-firewall", expected: /server archon-production-agent-1 has no firewall/, mutate: (rs) => { delete inputs(find(rs, SERVER, /agent-1/)).firewallIds; return rs; } },
    { item: "27.4", what: "a load-balancer service on 6443", target: "production", policy: "load-balancer-ports", expected: /listens on 6443; only 80, 443 face the internet/, mutate: (rs) => added(rs, "hcloud:index/loadBalancerService:LoadBalancerService", "tcp-6443", { loadBalancerId: "1", protocol: "tcp", listenPort: 6443, destinationPort: 6443 }) },
    { item: "27.4", what: "a load-balancer service on 443 forwarding to the API server", target: "production", policy: "load-balancer-ports", expected: /forwards to port 6443 on the nodes/, mutate: (rs) => { inputs(find(rs, "hcloud:index/loadBalancerService:LoadBalancerService", /tcp-443/)).destinationPort = 6443; return rs; } },
    { item: "27.4", what: "the NodePort range open to the world (k3s)", target: "production", policy: "firewall-admin-ports", expected: /opens the Kubernetes NodePort range \(30000-32767\) to 0.0.0.0\/0/, mutate: (rs) => { inputs(find(rs, FIREWALL, /^hosts$/)).rules.push({ direction: "in", protocol: "tcp", port: "30000-32767", sourceIps: ["0.0.0.0/0", "::/0"] }); return rs; } },
    { item: "27.4", what: "one NodePort open to the world (Compose host firewall)", target: "staging", policy: "firewall-admin-ports", expected: /opens the Kubernetes NodePort range \(30000-32767\) to ::\/0/, mutate: (rs) => { inputs(find(rs, FIREWALL, /^hosts$/)).rules.push({ direction: "in", protocol: "udp", port: "31000", sourceIps: ["::/0"] }); return rs; } },

    // 30.1 NetworkPolicy allow rules
    { item: "30.1", what: "the crawler's internet egress without except (private ranges, metadata)", target: "production", policy: "network-allow-rules", expected: /allow-archon-server egress\[0\]: ipBlock 0.0.0.0\/0 reaches 10.0.0.0\/8, 172.16.0.0\/12, 192.168.0.0\/16, 169.254.0.0\/16/, mutate: (rs) => { delete inputs(find(rs, "kubernetes:networking.k8s.io/v1:NetworkPolicy", /^allow-archon-server$/)).spec.egress[0].to[0].ipBlock.except; return rs; } },
    { item: "30.1", what: "169.254/16 dropped from except (metadata service)", target: "production", policy: "network-allow-rules", expected: /reaches 169.254.0.0\/16/, mutate: (rs) => { const block = inputs(find(rs, "kubernetes:networking.k8s.io/v1:NetworkPolicy", /^allow-archon-mcp$/)).spec.egress[0].to[0].ipBlock; block.except = block.except.filter((c: string) => !c.startsWith("169.254")); return rs; } },
    { item: "30.1", what: "the namespace-only egress peer turned into {} (anything, anywhere)", target: "production", policy: "network-allow-rules", expected: /allow-dns-and-stack-egress egress\[1\] has no to/, mutate: (rs) => { inputs(find(rs, "kubernetes:networking.k8s.io/v1:NetworkPolicy", /^allow-dns-and-stack-egress$/)).spec.egress[1] = {}; return rs; } },
    { item: "26", what: "blackbox's kubelet egress widened from one node to the hosts' subnet", target: "production", policy: "network-allow-rules", expected: /allow-blackbox-exporter egress\[1\]: ipBlock 10.0.1.0\/24 reaches 10.0.0.0\/8/, mutate: (rs) => { inputs(find(rs, "kubernetes:networking.k8s.io/v1:NetworkPolicy", /^allow-blackbox-exporter$/)).spec.egress[1].to[0].ipBlock.cidr = "10.0.1.0/24"; return rs; } },
    { item: "26", what: "an exact egress to the metadata service", target: "production", policy: "network-allow-rules", expected: /allow-blackbox-exporter egress\[1\]: ipBlock 169.254.169.254\/32 is link-local/, mutate: (rs) => { inputs(find(rs, "kubernetes:networking.k8s.io/v1:NetworkPolicy", /^allow-blackbox-exporter$/)).spec.egress[1].to[0].ipBlock.cidr = "169.254.169.254/32"; return rs; } },
    { item: "26", what: "an exact node egress on every port", target: "production", policy: "network-allow-rules", expected: /allow-blackbox-exporter egress\[1\]: ipBlock 10.0.1.11\/32 reaches 10.0.0.0\/8/, mutate: (rs) => { delete inputs(find(rs, "kubernetes:networking.k8s.io/v1:NetworkPolicy", /^allow-blackbox-exporter$/)).spec.egress[1].ports; return rs; } },
    { item: "30.1", what: "Postgres open to every namespace", target: "production", policy: "network-allow-rules", expected: /allow-db ingress\[0\]: namespaceSelector \{\} admits every namespace/, mutate: (rs) => { inputs(find(rs, "kubernetes:networking.k8s.io/v1:NetworkPolicy", /^allow-db$/)).spec.ingress[0].from.push({ namespaceSelector: {} }); return rs; } },
    { item: "30.1", what: "Postgres' ingress rule without ports", target: "production", policy: "network-allow-rules", expected: /allow-db ingress\[0\] has no ports/, mutate: (rs) => { delete inputs(find(rs, "kubernetes:networking.k8s.io/v1:NetworkPolicy", /^allow-db$/)).spec.ingress[0].ports; return rs; } },
    { item: "30.1", what: "an ingress rule from the internet", target: "production", policy: "network-allow-rules", expected: /allow-rest ingress\[0\]: ipBlock 0.0.0.0\/0 admits the internet/, mutate: (rs) => { inputs(find(rs, "kubernetes:networking.k8s.io/v1:NetworkPolicy", /^allow-rest$/)).spec.ingress[0].from.push({ ipBlock: { cidr: "0.0.0.0/0" } }); return rs; } },
];

/** Removes the project copies the cases wrote. */
export function removeInjectedProjects(): void {
    for (const dir of injectedProjects.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}
