/**
 * The rendered NetworkPolicies evaluated as Kubernetes defines them (test/routing/network-policy.ts),
 * over every flow the catalog declares: each service reaches what it depends on and is reached by
 * what it allows, nothing else gets in; and GoTrue reaches exactly its SMTP server when `smtpHost`
 * is set (issue 26 item 6, the k3s half).
 */
import { strict as assert } from "assert";
import { connectionAllowed, Pod } from "./routing/network-policy";
import { KubeObject, renderedObjects } from "./routing/traefik";
import { synth } from "./helpers";

/** The pod of a rendered workload, with its template labels. */
function podOf(objects: KubeObject[], name: string): Pod {
    const workload = objects.find((o) => ["Deployment", "StatefulSet"].includes(o.kind) && o.metadata.name === name);
    assert.ok(workload, `no workload ${name}`);
    return { namespace: workload.metadata.namespace!, labels: workload.spec!.template.metadata.labels };
}

const PUBLIC_SMTP = "198.51.100.25";

describe("NetworkPolicy flows (production synth)", () => {
    it("every declared flow passes and an undeclared one does not: each service's allowFrom reaches its ports", async () => {
        const objects = renderedObjects((await synth("production")).files);
        const services = objects.filter((o) => o.kind === "Service" && o.metadata.namespace === "archon");
        let checked = 0;
        for (const policy of objects.filter((o) => o.kind === "NetworkPolicy" && o.metadata.name.startsWith("allow-") && o.spec?.podSelector?.matchLabels?.["app.kubernetes.io/name"])) {
            const target = policy.spec!.podSelector.matchLabels["app.kubernetes.io/name"];
            if (!services.some((s) => s.metadata.name === target)) continue;
            const to = podOf(objects, target);
            const rule = (policy.spec!.ingress ?? [])[0];
            for (const peer of rule?.from ?? []) {
                const from = peer.podSelector?.matchLabels?.["app.kubernetes.io/name"];
                if (!from || !objects.some((o) => ["Deployment", "StatefulSet"].includes(o.kind) && o.metadata.name === from)) continue;
                for (const { port } of rule.ports) {
                    assert.ok(connectionAllowed(objects, podOf(objects, from), { pod: to }, port), `${from} -> ${target}:${port}`);
                    checked++;
                }
            }
        }
        assert.ok(checked >= 5, `only ${checked} flows`);
        // Undeclared: archon-server may not open the database.
        assert.equal(connectionAllowed(objects, podOf(objects, "archon-server"), { pod: podOf(objects, "db") }, 5432), false);
        // Nor reach the internet on the SMTP port without smtpHost.
        assert.equal(connectionAllowed(objects, podOf(objects, "auth"), { ip: PUBLIC_SMTP }, 587), false);
    });

    it("with smtpHost (a host name): auth reaches public addresses on smtpPort only; no other pod does", async () => {
        const objects = renderedObjects((await synth("production", { smtpHost: "smtp.example.com", smtpPort: 587, smtpAdminEmail: "noreply@example.com" })).files);
        const auth = podOf(objects, "auth");
        assert.equal(connectionAllowed(objects, auth, { ip: PUBLIC_SMTP }, 587), true);
        assert.equal(connectionAllowed(objects, auth, { ip: PUBLIC_SMTP }, 25), false, "only smtpPort");
        assert.equal(connectionAllowed(objects, auth, { ip: "10.0.1.11" }, 587), false, "never the private network");
        assert.equal(connectionAllowed(objects, auth, { ip: "169.254.169.254" }, 587), false, "never the metadata service");
        for (const other of ["rest", "kong", "archon-server", "studio"]) {
            if (!objects.some((o) => o.kind === "Deployment" && o.metadata.name === other)) continue;
            assert.equal(connectionAllowed(objects, podOf(objects, other), { ip: PUBLIC_SMTP }, 587), false, other);
        }
        // The other flows of auth still pass (it still reaches db).
        assert.equal(connectionAllowed(objects, auth, { pod: podOf(objects, "db") }, 5432), true);
    });

    it("with smtpHost an IPv4 address: that address only", async () => {
        const objects = renderedObjects((await synth("production", { smtpHost: "203.0.113.7", smtpPort: 465, smtpAdminEmail: "noreply@example.com" })).files);
        const auth = podOf(objects, "auth");
        assert.equal(connectionAllowed(objects, auth, { ip: "203.0.113.7" }, 465), true);
        assert.equal(connectionAllowed(objects, auth, { ip: PUBLIC_SMTP }, 465), false);
    });
});
