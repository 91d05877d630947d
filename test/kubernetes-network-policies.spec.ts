/**
 * Kubernetes segmentation (issue 12 item 5): under default-deny, cert-manager's HTTP-01 solver pods
 * are admitted from the ingress controller on 8089, and the monitoring namespace reaches only the
 * metrics and probe ports of the workloads. Objects validated by kubernetes-models.
 */
import { strict as assert } from "assert";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { plainInputs, synth } from "./helpers";

type Policy = { metadata: { name: string; namespace: string }; spec: { podSelector: { matchLabels?: Record<string, string> }; ingress?: { from: { namespaceSelector?: { matchExpressions: { values: string[] }[] } }[]; ports: { port: number }[] }[] } };

async function policies(): Promise<Policy[]> {
    const result = await synth("production");
    return result.resources.filter((r) => r.type === "kubernetes:networking.k8s.io/v1:NetworkPolicy").map((r) => plainInputs(r) as Policy);
}

const fromNamespaces = (rule: { from: { namespaceSelector?: { matchExpressions: { values: string[] }[] } }[] }) =>
    rule.from.flatMap((peer) => peer.namespaceSelector?.matchExpressions.flatMap((e) => e.values) ?? []);

describe("kubernetes network policies (production)", () => {
    it("admits cert-manager's HTTP-01 solver pods from the ingress controller on 8089, beside default-deny", async () => {
        const all = await policies();
        const solver = all.find((p) => p.metadata.name === "allow-acme-http01-solver");
        assert.ok(solver, "a policy for the solver");
        assert.ok(all.some((p) => p.metadata.name === "default-deny" && p.metadata.namespace === solver.metadata.namespace));
        assert.doesNotThrow(() => new NetworkPolicy(solver as never).validate());
        assert.deepEqual(solver.spec.podSelector.matchLabels, { "acme.cert-manager.io/http01-solver": "true" });
        assert.deepEqual(solver.spec.ingress?.[0].ports, [{ protocol: "TCP", port: 8089 }]);
        // Traefik runs in kube-system on k3s; ingress-nginx in its own namespace.
        assert.ok(fromNamespaces(solver.spec.ingress![0]).includes("kube-system"));
        assert.ok(fromNamespaces(solver.spec.ingress![0]).includes("ingress-nginx"));
    });

    it("lets the monitoring namespace reach only metrics and probe ports", async () => {
        const all = await policies();
        const monitoringPorts = (service: string) => all.find((p) => p.metadata.name === `allow-${service}`)?.spec.ingress
            ?.filter((rule) => fromNamespaces(rule).includes("monitoring")).flatMap((rule) => rule.ports.map((p) => p.port)) ?? [];
        assert.deepEqual(monitoringPorts("db"), [], "no database port for monitoring (postgres-exporter reads it)");
        assert.deepEqual(monitoringPorts("kong").sort(), [8000, 8100]);
        assert.deepEqual(monitoringPorts("rest").sort(), [3000, 3001]);
        // archon-server's only port also serves its credentials endpoint: blackbox-exporter, beside
        // it in the workloads' namespace, probes it; nothing in monitoring needs it (no metrics).
        assert.deepEqual(monitoringPorts("archon-server"), []);
        assert.deepEqual(monitoringPorts("archon-ui"), [3737]);
        for (const policy of all) assert.doesNotThrow(() => new NetworkPolicy(policy as never).validate(), policy.metadata.name);
    });
});
