/**
 * Kubernetes segmentation (issue 12 item 5, issue 30 item 1): under default-deny, every allow rule
 * of the stack's namespace, with its exact peers and ports, as the specification below states it;
 * the internet egress of the services that fetch from outside (Archon's crawler fetches arbitrary
 * URLs) excludes the private ranges the stack lives in and Hetzner's metadata service; every pod a
 * policy names exists. Objects validated by kubernetes-models.
 */
import { strict as assert } from "assert";
import * as ipaddr from "ipaddr.js";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { parse as parseYaml } from "yaml";
import { HOSTS_SUBNET, NETWORK_RANGE } from "../components/hetzner/network";
import { KUBELET_PORT } from "../components/hetzner/platform";
import { K3S_CLUSTER_CIDR, K3S_SERVICE_CIDR } from "../components/hetzner/pod-network";
import { named, ofType, plainInputs, synth } from "./helpers";
import { SynthResult } from "../scripts/lib/synthesize";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface Peer { podSelector?: { matchLabels?: Record<string, string> }; namespaceSelector?: unknown; ipBlock?: { cidr: string; except?: string[] } }
interface Rule { from?: Peer[]; to?: Peer[]; ports?: { protocol: string; port: number }[] }
interface Policy { metadata: { name: string; namespace: string }; spec: { podSelector: { matchLabels?: Record<string, string> }; policyTypes: string[]; ingress?: Rule[]; egress?: Rule[] } }

const NS = "archon";
/** An OIDC login in front of Archon's UI (as test/oidc-login.spec.ts sets it, so the synth is shared). */
const OIDC = {
    oidcIssuerUrl: "https://id.example.com/realms/archon",
    oidcClientId: "archon-ui",
    oidcClientSecret: "oidc-Client-Secret-4711",
    oidcAllowedEmailDomains: ["example.com"],
    oidcAllowedEmails: ["ada@example.org"],
};

// The specification: who may talk to whom, in the words of a NetworkPolicy.
const inNamespaces = (...names: string[]): Peer => ({ namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: names }] } });
const pods = (...names: string[]): Peer[] => names.map((name) => ({ podSelector: { matchLabels: { "app.kubernetes.io/name": name } } }));
const tcp = (...ports: number[]) => ports.map((port) => ({ protocol: "TCP", port }));
/** Every pod of the namespace (and only of it: a podSelector peer without namespaceSelector). */
const NAMESPACE_PODS: Peer = { podSelector: {} };
/** Traefik on k3s runs in kube-system; Traefik or ingress-nginx elsewhere in their own namespaces. */
const INGRESS_CONTROLLERS = inNamespaces("kube-system", "traefik", "ingress-nginx");
const MONITORING = inNamespaces("monitoring");
/**
 * The public internet on 80/443 and nothing private: RFC 1918 (the Hetzner network 10.0.0.0/16,
 * k3s's pod and Service ranges inside 172.16.0.0/12, any 192.168 net) and link-local 169.254/16,
 * where Hetzner's metadata service answers (169.254.169.254: user-data, hence secrets).
 */
const INTERNET_WEB: Rule = { to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"] } }], ports: tcp(443, 80) };
/** A service the namespace's pods reach on `ports`, monitoring on `observed`, the ingress on `routed`. */
const served = (ports: number[], observed: number[], routed: number[] = [], from: Peer[] = [NAMESPACE_PODS]): Rule[] => [
    { from, ports: tcp(...ports) },
    ...(observed.length > 0 ? [{ from: [MONITORING], ports: tcp(...observed) }] : []),
    ...(routed.length > 0 ? [{ from: [INGRESS_CONTROLLERS], ports: tcp(...routed) }] : []),
];
const allow = (app: string, ingress: Rule[], egress?: Rule[]): Policy["spec"] => ({
    podSelector: { matchLabels: { "app.kubernetes.io/name": app } },
    policyTypes: egress ? ["Ingress", "Egress"] : ["Ingress"],
    ingress,
    ...(egress ? { egress } : {}),
});

const EXPECTED: Record<string, Policy["spec"]> = {
    // Nothing in or out but what a rule below admits.
    "default-deny": { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
    // DNS from kube-system's CoreDNS; peers inside the namespace (each one's ingress rule decides).
    "allow-dns-and-stack-egress": {
        podSelector: {},
        policyTypes: ["Egress"],
        egress: [
            { to: [inNamespaces("kube-system")], ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }] },
            { to: [NAMESPACE_PODS] },
        ],
    },
    // cert-manager's HTTP-01 solver (v1.18.2 pkg/issuer/acme/http/http.go acmeSolverListenPort 8089).
    "allow-acme-http01-solver": {
        podSelector: { matchLabels: { "acme.cert-manager.io/http01-solver": "true" } },
        policyTypes: ["Ingress"],
        ingress: [{ from: [INGRESS_CONTROLLERS], ports: tcp(8089) }],
    },
    // Postgres: its clients only, and not monitoring (postgres-exporter reads it); db-role-passwords
    // sets the role passwords on every deploy (components/secrets/role-passwords.ts).
    "allow-db": allow("db", [{ from: pods("rest", "auth", "meta", "studio", "archon-migrate", "postgres-exporter", "postgres-backup", "db-role-passwords"), ports: tcp(5432) }]),
    "allow-rest": allow("rest", served([3000, 3001], [3000, 3001])),
    "allow-auth": allow("auth", served([9999], [9999])),
    "allow-meta": allow("meta", served([8080], [8080], [], pods("kong", "studio"))),
    "allow-studio": allow("studio", served([3000], [3000], [], pods("kong"))),
    "allow-kong": allow("kong", served([8000, 8100], [8000, 8100], [8000])),
    // Pulls (5000) from the nodes and pods; pushes (5002, the read-write instance) only through the
    // ingress at registry-push.<domain>: no pod of the stack reaches the instance that writes.
    "allow-registry": allow("registry", served([5000, 5001], [5000, 5001], [5000, 5002])),
    "allow-postgres-exporter": allow("postgres-exporter", served([9187], [9187])),
    // The backup writes to S3-compatible object storage on the internet; nothing connects to it.
    "allow-postgres-backup": allow("postgres-backup", [], [INTERNET_WEB]),
    // The blackbox exporter probes the public URLs (and, on k3s, each node's kubelet certificate:
    // KUBELET_RULES below).
    "allow-blackbox-exporter": allow("blackbox-exporter", served([9115], [9115]), [INTERNET_WEB]),
    // Archon's crawler and LLM calls go out; the UI and MCP are routed from the ingress.
    // archon-server's port also answers /internal/credentials/agents (decrypted provider keys): only
    // its callers and blackbox-exporter's /health probe, nothing from monitoring.
    "allow-archon-server": allow("archon-server", [{ from: pods("archon-ui", "archon-mcp", "archon-agents", "blackbox-exporter"), ports: tcp(8181) }], [INTERNET_WEB]),
    "allow-archon-mcp": allow("archon-mcp", served([8051], [8051], [8051], pods("archon-server", "archon-agents", "blackbox-exporter")), [INTERNET_WEB]),
    "allow-archon-agents": allow("archon-agents", served([8052], [8052]), [INTERNET_WEB]),
    "allow-archon-ui": allow("archon-ui", served([3737], [3737], [3737])),
};

/** The k3s nodes' private addresses, as the synth gives them to the Hetzner servers. */
function nodeAddresses(result: SynthResult): string[] {
    return ofType(result, "hcloud:index/server:Server").map((r) => plainInputs(r).networks[0].ip as string);
}

/** blackbox-exporter reaches each node's kubelet (its certificate's expiry), that address and port only. */
const KUBELET_RULES = (nodes: string[]): Rule[] => nodes.map((ip) => ({ to: [{ ipBlock: { cidr: `${ip}/32` } }], ports: tcp(KUBELET_PORT) }));

/** EXPECTED on a k3s cluster of these nodes. */
function expectedOn(nodes: string[]): Record<string, Policy["spec"]> {
    const blackbox = EXPECTED["allow-blackbox-exporter"];
    return { ...EXPECTED, "allow-blackbox-exporter": { ...blackbox, egress: [...blackbox.egress!, ...KUBELET_RULES(nodes)] } };
}

/** Every list in a NetworkPolicy is a set: order-free form for comparison. */
function canonical(value: Json): Json {
    if (Array.isArray(value)) return value.map(canonical).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, canonical(v)]));
    return value;
}

async function policies(overrides: Record<string, unknown> = {}): Promise<Policy[]> {
    const result = await synth("production", overrides);
    return policiesOf(result);
}

function policiesOf(result: SynthResult): Policy[] {
    return result.resources.filter((r) => r.type === "kubernetes:networking.k8s.io/v1:NetworkPolicy").map((r) => plainInputs(r) as Policy);
}

const contains = (cidr: string, inner: string): boolean => {
    const [range, bits] = ipaddr.parseCIDR(cidr);
    const [address, innerBits] = ipaddr.parseCIDR(inner);
    return innerBits >= bits && address.match(range, bits);
};

describe("kubernetes network policies (production)", () => {
    it("renders exactly the specified allow rules: every policy, peer and port", async () => {
        const result = await synth("production");
        const nodes = nodeAddresses(result);
        assert.ok(nodes.length >= 3, "the production cluster's nodes");
        const all = policiesOf(result);
        for (const policy of all) {
            assert.equal(policy.metadata.namespace, NS, policy.metadata.name);
            assert.doesNotThrow(() => new NetworkPolicy(policy as never).validate(), policy.metadata.name);
        }
        const rendered = Object.fromEntries(all.map((p) => [p.metadata.name, canonical(p.spec as unknown as Json)]));
        const expected = Object.fromEntries(Object.entries(expectedOn(nodes)).map(([name, spec]) => [name, canonical(spec as unknown as Json)]));
        assert.deepEqual(Object.keys(rendered).sort(), Object.keys(expected).sort());
        for (const name of Object.keys(expected)) assert.deepEqual(rendered[name], expected[name], name);
    });

    it("with an OIDC login, oauth2-proxy alone gains internet egress (the issuer), behind the same private-range exclusions", async () => {
        const result = await synth("production", OIDC);
        const all = policiesOf(result);
        const proxy = all.find((p) => p.metadata.name === "allow-oauth2-proxy");
        assert.ok(proxy, "a policy for oauth2-proxy");
        assert.deepEqual(canonical(proxy.spec.egress as unknown as Json), canonical([INTERNET_WEB] as unknown as Json));
        const others = Object.fromEntries(all.filter((p) => p.metadata.name !== "allow-oauth2-proxy").map((p) => [p.metadata.name, (p.spec.egress ?? []).length]));
        assert.deepEqual(others, Object.fromEntries(Object.entries(expectedOn(nodeAddresses(result))).map(([name, spec]) => [name, (spec.egress ?? []).length])));
    });

    it("keeps every internet egress away from the stack's own networks and the metadata service; the one private destination is blackbox-exporter -> each node's kubelet", async () => {
        const result = await synth("production");
        assert.equal(plainInputs(named(result, "hcloud:index/network:Network", "network")).ipRange, NETWORK_RANGE);
        const install = plainInputs(named(result, "command:remote:Command", "install-cp-1")).create as string;
        assert.ok(install.includes(K3S_CLUSTER_CIDR) && install.includes(K3S_SERVICE_CIDR), "the ranges k3s is installed with");
        const privateTargets = [NETWORK_RANGE, HOSTS_SUBNET, K3S_CLUSTER_CIDR, K3S_SERVICE_CIDR, "169.254.169.254/32", "192.168.0.0/16", "172.17.0.0/16"];
        const nodes = nodeAddresses(result);
        let blocks = 0;
        let kubelets = 0;
        for (const policy of [...await policies(), ...await policies(OIDC)]) {
            for (const rule of policy.spec.egress ?? []) {
                assert.ok((rule.to ?? []).length > 0, `${policy.metadata.name}: an egress rule without peers admits every destination`);
                for (const peer of rule.to!) {
                    assert.ok(peer.podSelector || peer.namespaceSelector || peer.ipBlock, `${policy.metadata.name}: an empty peer admits everything`);
                    if (peer.namespaceSelector) assert.deepEqual(rule.ports?.map((p) => p.port), [53, 53], `${policy.metadata.name}: other namespaces only for DNS`);
                    if (!peer.ipBlock) continue;
                    if (peer.ipBlock.cidr !== "0.0.0.0/0") {
                        // Exact addresses: only a node's kubelet, only from blackbox-exporter, only its port.
                        assert.equal(policy.metadata.name, "allow-blackbox-exporter", `${policy.metadata.name}: egress to ${peer.ipBlock.cidr}`);
                        assert.ok(nodes.map((ip) => `${ip}/32`).includes(peer.ipBlock.cidr), `${peer.ipBlock.cidr} is no node`);
                        assert.deepEqual(rule.ports, tcp(KUBELET_PORT), `${peer.ipBlock.cidr}: the kubelet port only`);
                        kubelets++;
                        continue;
                    }
                    blocks++;
                    for (const target of privateTargets) {
                        assert.ok((peer.ipBlock.except ?? []).some((except) => contains(except, target)), `${policy.metadata.name}: internet egress reaches ${target}`);
                    }
                    assert.deepEqual(rule.ports?.map((p) => p.port).sort(), [443, 80].sort(), `${policy.metadata.name}: web ports only`);
                }
            }
        }
        assert.ok(blocks >= 5, "the services that go out were checked");
        assert.equal(kubelets, 2 * nodes.length, "each node's kubelet, in both synths");
    });

    it("names only pods that exist: every selector matches a workload's pod template in the namespace", async () => {
        const result = await synth("production");
        const podLabels: Record<string, string>[] = [];
        for (const [file, text] of Object.entries(result.files)) {
            if (!file.startsWith(`kubernetes/${NS}/`)) continue;
            const doc = parseYaml(text) as { kind: string; spec?: { template?: { metadata?: { labels?: Record<string, string> } }; jobTemplate?: { spec: { template: { metadata?: { labels?: Record<string, string> } } } } } };
            const labels = doc.kind === "CronJob" ? doc.spec?.jobTemplate?.spec.template.metadata?.labels : doc.spec?.template?.metadata?.labels;
            if (labels) podLabels.push(labels);
        }
        assert.ok(podLabels.length >= 14);
        const selects = (selector: { matchLabels?: Record<string, string> }) => podLabels.some((labels) => Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v));
        for (const policy of await policies()) {
            if (policy.metadata.name === "allow-acme-http01-solver") continue; // cert-manager creates the solver pods
            assert.ok(selects(policy.spec.podSelector), `${policy.metadata.name} selects no pod`);
            for (const rule of [...policy.spec.ingress ?? [], ...policy.spec.egress ?? []]) {
                for (const peer of [...rule.from ?? [], ...rule.to ?? []]) {
                    if (peer.podSelector) assert.ok(selects(peer.podSelector), `${policy.metadata.name}: peer ${JSON.stringify(peer.podSelector)} is no pod`);
                }
            }
        }
    });
});
