/**
 * Issue 12.3: an admin allowlist that together opens too much of the internet is refused by the
 * config (sshAllowedCidrs, which also guards the k3s API) and by the policy pack
 * (firewall-admin-ports), whether it is written as /0, as two /1 halves or as a /1 with host bits.
 */
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, loadConfig } from "../config";
import { coveredAddresses, hostBitsProblem, wideCidrProblem } from "../components/hetzner/cidr-coverage";
import { checkResources } from "../scripts/lib/policy-check";
import { ResourceRecord } from "../scripts/lib/synthesize";
import { stackConfig } from "../scripts/lib/stack-config";
import { ofType, synth } from "./helpers";

const FIREWALL = "hcloud:index/firewall:Firewall";

function refusal(stack: string, overrides: Record<string, unknown>): string | undefined {
    const config = stackConfig(stack, overrides);
    pulumi.runtime.setAllConfig(config.values, config.secretKeys);
    try {
        loadConfig();
        return undefined;
    } catch (err) {
        assert.ok(err instanceof ConfigError, String(err));
        return err.message;
    }
}

function firewall(stack: string, rules: { port: string; sourceIps: string[] }[]): ResourceRecord {
    return {
        urn: `urn:pulumi:${stack}::archon-infra::${FIREWALL}::subject`,
        type: FIREWALL,
        name: "subject",
        parent: "",
        custom: true,
        inputs: { name: "archon", rules: rules.map((r) => ({ direction: "in", protocol: "tcp", ...r })) },
        options: {},
    };
}

async function adminPortViolations(rules: { port: string; sourceIps: string[] }[], settings: Record<string, unknown> = {}): Promise<string[]> {
    const violations = await checkResources([firewall("production", rules)], {
        environment: "production",
        policyConfig: { "firewall-admin-ports": { enforcementLevel: "mandatory", ...settings } },
    });
    return violations.filter((v) => v.policy === "firewall-admin-ports").map((v) => v.message);
}

const WIDE: [string, string[]][] = [
    ["the two IPv4 halves", ["0.0.0.0/1", "128.0.0.0/1"]],
    ["a /1 written with host bits", ["203.0.113.7/1"]],
    ["the IPv6 world in two halves", ["::/1", "8000::/1"]],
    ["a /15", ["198.50.0.0/15"]],
    ["three /16s", ["10.0.0.0/16", "10.1.0.0/16", "10.2.0.0/16"]],
    ["an IPv6 /47", ["2001:db8::/47"]],
    ["the IPv4 world as IPv4-mapped IPv6", ["::ffff:0.0.0.0/96"]],
];
const NARROW: [string, string[]][] = [
    ["one address", ["203.0.113.7/32"]],
    ["one /16 and an IPv6 /48", ["10.20.0.0/16", "2001:db8:1::/48"]],
    ["overlapping blocks inside one /16", ["10.20.0.0/16", "10.20.3.0/24", "10.20.3.7/32"]],
];

describe("admin CIDR allowlists (issue 12.3)", () => {
    it("counts the union of blocks once, per family", () => {
        assert.equal(coveredAddresses(["0.0.0.0/1", "128.0.0.0/1"]).ipv4, 2n ** 32n);
        assert.equal(coveredAddresses(["10.0.0.0/24", "10.0.0.0/25", "10.0.1.0/24"]).ipv4, 512n);
        assert.equal(coveredAddresses(["2001:db8::/48", "10.0.0.0/32"]).ipv6, 2n ** 80n);
        assert.match(wideCidrProblem(["0.0.0.0/1", "128.0.0.0/1"]) ?? "", /IPv4 blocks together cover all of the address space/);
    });

    for (const [what, cidrs] of WIDE) {
        it(`config refuses ${what} (${cidrs.join(", ")}) on both targets`, () => {
            // Host bits are refused first (config names the network); the width is then judged on what the
            // firewall would open, which the policy below does for a resource written that way.
            const expected = cidrs.some((c) => hostBitsProblem(c) !== undefined)
                ? /sshAllowedCidrs = .*has host bits set: write the network 128\.0\.0\.0\/1/
                : /sshAllowedCidrs = .*opens SSH.* to too much of the internet.*allowWideAdminCidrs: true/;
            for (const stack of ["staging", "production"]) {
                const message = refusal(stack, { sshAllowedCidrs: cidrs });
                assert.match(message ?? "accepted", expected, stack);
            }
            if (cidrs.every((c) => hostBitsProblem(c) === undefined)) assert.match(refusal("production", { sshAllowedCidrs: cidrs }) ?? "", /SSH and the Kubernetes API/);
        });

        it(`policy firewall-admin-ports catches ${what} on 22 and 6443`, async () => {
            const found = await adminPortViolations([{ port: "22", sourceIps: cidrs }, { port: "6443", sourceIps: cidrs }]);
            assert.ok(found.some((m) => /opens SSH \(22\)/.test(m)), JSON.stringify(found));
            assert.ok(found.some((m) => /opens the Kubernetes API \(6443\)/.test(m)), JSON.stringify(found));
        });
    }

    for (const [what, cidrs] of NARROW) {
        it(`accepts ${what} in config and policy`, async () => {
            assert.equal(refusal("production", { sshAllowedCidrs: cidrs }), undefined);
            assert.deepEqual(await adminPortViolations([{ port: "22", sourceIps: cidrs }]), []);
        });
    }

    it("sums the sources of every rule that reaches the port, not one rule at a time", async () => {
        const found = await adminPortViolations([{ port: "22", sourceIps: ["0.0.0.0/1"] }, { port: "20-30", sourceIps: ["128.0.0.0/1"] }]);
        assert.match(found.join("\n"), /rule 0 \(tcp 22\), rule 1 \(tcp 20-30\) opens SSH \(22\)/);
    });

    it("takes the explicit override in config and in the policy settings, never for kubelet or etcd", async () => {
        assert.equal(refusal("production", { sshAllowedCidrs: ["0.0.0.0/0"], allowWideAdminCidrs: true }), undefined);
        assert.deepEqual(await adminPortViolations([{ port: "22", sourceIps: ["0.0.0.0/0"] }], { allowWideAdminCidrs: true }), []);
        const kubelet = await adminPortViolations([{ port: "10250", sourceIps: ["0.0.0.0/0"] }, { port: "2379-2380", sourceIps: ["::/0"] }], { allowWideAdminCidrs: true });
        assert.equal(kubelet.length, 3, JSON.stringify(kubelet));
    });

    it("the config override alone does not pass the policy: the synth's firewall is still caught", async () => {
        const result = await synth("production", { sshAllowedCidrs: ["0.0.0.0/1", "128.0.0.0/1"], allowWideAdminCidrs: true });
        assert.ok(ofType(result, FIREWALL).length > 0);
        const violations = await checkResources(result.resources, { environment: "production" });
        assert.ok(violations.some((v) => v.policy === "firewall-admin-ports" && /SSH \(22\)/.test(v.message)), JSON.stringify(violations));
    });
});
