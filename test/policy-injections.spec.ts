/**
 * Issue 27 (items 1-4) and 30.1: every class of violation a careless change or a malicious pull
 * request could add, injected into the REAL synth output of a stack (test/policy-injection-cases.ts),
 * is refused by the pack through the offline check (the functions `pulumi preview --policy-pack`
 * runs), by the policy the class belongs to; the unmodified synths of both targets pass.
 */
import { strict as assert } from "assert";
import { checkResources } from "../scripts/lib/policy-check";
import { SynthResult } from "../scripts/lib/synthesize";
import { synth } from "./helpers";
import { INJECTIONS, Target, removeInjectedProjects } from "./policy-injection-cases";

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
const stackOf = (target: Target) => (target === "staging" ? "staging" : "production");
const key = (v: { policy: string; urn: string; message: string }) => `${v.policy} ${v.urn} ${v.message}`;

describe("policy pack against injected violations (issues 27.1-27.4, 30.1)", function () {
    const synths = {} as Record<Target, SynthResult>;
    const baseline = {} as Record<Target, Set<string>>;
    before(async () => {
        synths.staging = await synth("staging");
        synths.production = await synth("production");
        synths["production-nginx"] = await synth("production", { ingressController: "ingress-nginx" });
        for (const target of Object.keys(synths) as Target[]) {
            baseline[target] = new Set((await checkResources(synths[target].resources, { environment: stackOf(target) })).map(key));
        }
    });
    after(removeInjectedProjects);

    it("passes the unmodified synth of every target (Compose, k3s with Traefik, k3s with ingress-nginx)", async () => {
        for (const target of Object.keys(synths) as Target[]) {
            const found = (await checkResources(synths[target].resources, { environment: stackOf(target) })).filter((v) => v.enforcementLevel === "mandatory");
            assert.deepEqual(found, [], `${target}: ${JSON.stringify(found, null, 1)}`);
        }
    });

    for (const injection of INJECTIONS) {
        it(`${injection.item} ${injection.target}: refuses ${injection.what} (${injection.policy})`, async () => {
            const resources = injection.mutate(clone(synths[injection.target].resources));
            const found = (await checkResources(resources, { environment: stackOf(injection.target) })).filter((v) => !baseline[injection.target].has(key(v)));
            const caught = found.filter((v) => v.policy === injection.policy && v.enforcementLevel === "mandatory" && injection.expected.test(v.message));
            assert.ok(caught.length > 0, `expected [${injection.policy}] ${injection.expected}; the pack reported ${JSON.stringify(found.map((v) => `[${v.policy}] ${v.message}`), null, 1)}`);
        });
    }
});
