/**
 * A renamed or re-parented resource is a replaced resource. Every URN the stacks had when the
 * baseline was recorded must still be there: a move of files, a new component type or a new parent
 * needs `aliases`, or this fails before `pulumi up` would replace a server, a volume or a secret.
 * When a resource is removed on purpose, remove its line from test/fixtures/urn-baseline/<stack>.txt
 * in the same commit, so the review sees it.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { synthesize } from "../scripts/lib/synthesize";
import { synth } from "./helpers";

const BASELINE_DIR = path.join(__dirname, "fixtures", "urn-baseline");

function baseline(stack: string): string[] {
    return fs.readFileSync(path.join(BASELINE_DIR, `${stack}.txt`), "utf8").split("\n").filter((line) => line.length > 0);
}

describe("URNs stay stable (no accidental replacement)", () => {
    for (const stack of ["staging", "production"]) {
        it(`${stack}: every baseline URN is still registered, or aliased from its new URN`, async () => {
            const result = await synth(stack);
            const present = new Set<string>();
            for (const resource of result.resources) {
                present.add(resource.urn);
                for (const alias of resource.options.aliases ?? []) present.add(alias);
            }
            const expected = baseline(stack);
            assert.ok(expected.length > 30, `the ${stack} baseline is too small to guard anything`);
            const missing = expected.filter((urn) => !present.has(urn));
            assert.deepStrictEqual(missing, [], `${missing.length} resource(s) would be replaced: give them aliases or update the baseline on purpose`);
        });
    }
});

describe("the synth resolves aliases as the engine does", () => {
    it("a component given a new type and parent keeps its own URN and its children's through aliases", async () => {
        const pulumi = await import("@pulumi/pulumi");
        const random = await import("@pulumi/random");
        const result = await synthesize("staging", {}, async () => {
            const outer = new pulumi.ComponentResource("archon:test:Outer", "outer", {});
            const moved = new pulumi.ComponentResource("archon:test:NewName", "moved", {}, {
                parent: outer,
                aliases: [{ type: "archon:test:OldName", parent: pulumi.rootStackResource }],
            });
            new random.RandomPassword("moved-password", { length: 20 }, { parent: moved });
            return {};
        });
        const password = result.resources.find((r) => r.name === "moved-password");
        assert.ok(password, "the child was registered");
        assert.deepStrictEqual(password.options.aliases, ["urn:pulumi:staging::archon-infra::archon:test:OldName$random:index/randomPassword:RandomPassword::moved-password"]);
        const component = result.resources.find((r) => r.name === "moved");
        assert.deepStrictEqual(component?.options.aliases, ["urn:pulumi:staging::archon-infra::archon:test:OldName::moved"]);
    });
});
