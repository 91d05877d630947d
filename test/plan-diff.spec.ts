/**
 * The plan diff a pull request gets instead of a `pulumi preview` (issue 24 item 2): from two
 * offline synths, what is added, replaced, updated and deleted, which protected resources are
 * touched, which images, charts and rendered files change. Replacement follows the providers'
 * force-new inputs (scripts/lib/plan-diff.ts): a server's SSH keys or user-data, a Job's template.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { PlanDiff, changedPaths, losesProtected, planDiff, readSynthDir } from "../scripts/lib/plan-diff";
import { SynthResult } from "../scripts/lib/synthesize";
import { PROJECT_DIR } from "../scripts/lib/stack-config";
import { COMMITTED_PRICES } from "../components/hetzner/prices";
import { run, synth, writeTempFiles } from "./helpers";

/** Writes a synth result as `npm run synth -- --out` does (resources.json, outputs.json, files/). */
function writeSynthDir(result: SynthResult): string {
    return writeTempFiles({
        "resources.json": JSON.stringify(result.resources),
        "outputs.json": JSON.stringify(result.outputs),
        ...Object.fromEntries(Object.entries(result.files).map(([file, text]) => [`files/${file}`, text])),
    }, "archon-synth-");
}

const names = (list: { name: string }[]) => list.map((r) => r.name).sort();
const SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvUpfQCxTkL0c5ZJ2lIqM1zRb9dZQeKJXjJ9H8x8t3d ops@example.com";

describe("plan diff (offline, against the base branch's synth)", () => {
    let production: SynthResult;
    before(async () => {
        production = await synth("production");
    });

    it("a promotion (another imageTag) updates the Archon workloads' images, re-runs their checks, and touches nothing protected", async () => {
        const diff = planDiff(production, await synth("production", { imageTag: "sha-5d6e7f8" }));
        assert.deepStrictEqual([diff.added, diff.deleted], [[], []]);
        assert.deepStrictEqual(names(diff.updated), ["archon-agents", "archon-mcp", "archon-server", "archon-ui"]);
        for (const change of diff.updated) assert.deepStrictEqual(change.changed, ["spec.template.spec.containers.0.image"]);
        // A Job's template cannot change in place (pulumi-kubernetes diff.go), the presence check's triggers replace it.
        assert.deepStrictEqual(diff.replaced.map((c) => [c.name, c.replacing]), [["archon-images-present", ["triggers.1"]], ["archon-migrate", ["spec.template.spec.containers.0.image"]]]);
        assert.deepStrictEqual(diff.protectedTouched, []);
        assert.deepStrictEqual(diff.images.removed.map((i) => i.split("/").pop()), ["archon-agents:sha-1a2b3c4", "archon-mcp:sha-1a2b3c4", "archon-migrate:sha-1a2b3c4", "archon-server:sha-1a2b3c4", "archon-ui:sha-1a2b3c4"]);
        assert.strictEqual(diff.images.added.length, 5);
        assert.deepStrictEqual(diff.charts, { added: [], removed: [] });
        assert.ok(!losesProtected(diff));
    });

    it("a new SSH key replaces every delete-protected server: named, and --fail-on-protected fails the check", async () => {
        const changed = await synth("production", { sshPublicKey: SSH_KEY });
        const diff = planDiff(production, changed);
        const servers = diff.replaced.filter((c) => c.type === "hcloud:index/server:Server");
        assert.ok(servers.length >= 4, names(diff.replaced).join(", "));
        // The key reaches the servers through cloud-init's user-data (and, for real, the new SshKey's ID).
        for (const server of servers) assert.ok(server.replacing.some((p) => /^(sshKeys|userData)/.test(p)), server.replacing.join(", "));
        assert.ok(diff.protectedTouched.some((t) => t.type === "hcloud:index/server:Server" && /^REPLACED \(.*\); deleteProtection$/.test(t.how)), JSON.stringify(diff.protectedTouched));
        assert.ok(losesProtected(diff));

        const [base, head] = [writeSynthDir(production), writeSynthDir(changed)];
        const cli = run(process.execPath, ["--require", "ts-node/register/transpile-only", "scripts/plan-diff.ts", "--base", base, "--head", head, "--fail-on-protected"], { cwd: PROJECT_DIR });
        assert.strictEqual(cli.status, 1, cli.output);
        assert.match(cli.output, /^\*\*Protected resources touched\*\*$/m);
        assert.match(cli.output, /^- `hcloud:index\/server:Server` \S+: REPLACED \(userData\); deleteProtection$/m);
        assert.match(cli.output, /a protected resource would be deleted or replaced/);
        const same = run(process.execPath, ["--require", "ts-node/register/transpile-only", "scripts/plan-diff.ts", "--base", base, "--head", base, "--fail-on-protected"], { cwd: PROJECT_DIR });
        assert.strictEqual(same.status, 0, same.output);
        assert.match(same.output, /^No change\.$/m);
        for (const dir of [base, head]) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("a resource renamed without an alias is deleted and added; a removed protected one is named DELETED", () => {
        const volume = production.resources.find((r) => r.type === "kubernetes:core/v1:PersistentVolumeClaim" && r.name === "db-data");
        assert.ok(volume?.options.protect, "production's database volume claim is protected");
        const renamed: SynthResult = { ...production, resources: production.resources.map((r) => (r === volume ? { ...r, urn: `${r.urn}-renamed`, name: `${r.name}-renamed` } : r)) };
        const diff: PlanDiff = planDiff(production, renamed);
        assert.deepStrictEqual(names(diff.deleted), [volume.name]);
        assert.deepStrictEqual(names(diff.added), [`${volume.name}-renamed`]);
        assert.deepStrictEqual(diff.protectedTouched, [{ type: volume.type, name: volume.name, how: "DELETED; protect+retainOnDelete" }]);
        // With the alias the engine would take, it is the same resource.
        const aliased: SynthResult = { ...production, resources: production.resources.map((r) => (r === volume ? { ...r, urn: `${r.urn}-renamed`, options: { ...r.options, aliases: [r.urn] } } : r)) };
        assert.deepStrictEqual(planDiff(production, aliased).deleted, []);
    });

    it("names a chart whose version changed, and a protection switched off", () => {
        const release = production.resources.find((r) => r.type === "kubernetes:helm.sh/v3:Release");
        assert.ok(release);
        const bumped: SynthResult = {
            ...production,
            resources: production.resources.map((r) => (r === release ? { ...r, inputs: { ...r.inputs, version: "99.0.0" } } : r.options.protect ? { ...r, options: { ...r.options, protect: false } } : r)),
        };
        const diff = planDiff(production, bumped);
        assert.deepStrictEqual(diff.charts.added, [`${String(release.inputs.chart)}@99.0.0`]);
        assert.deepStrictEqual(diff.updated.map((c) => [c.name, c.changed]), [[release.name, ["version"]]]);
        // Every resource `protect` held is named, with what still holds it (retainOnDelete, Hetzner's delete protection).
        const held = production.resources.filter((r) => r.options.protect).map((r) => r.name).sort();
        assert.ok(held.includes("db-data") && held.includes("pgsodium-root-key"), held.join(", "));
        assert.deepStrictEqual(diff.protectedTouched.map((t) => t.name).sort(), held);
        for (const touched of diff.protectedTouched) assert.match(touched.how, /^protection protect(\+\w+)* -> (?!.*protect\b)/, `${touched.name}: ${touched.how}`);
        assert.ok(diff.protectedTouched.some((t) => t.name === "db-data" && t.how === "protection protect+retainOnDelete -> retainOnDelete"));
    });

    it("compares secret inputs without their $secret wrapping, and reads a synth's output directory back", () => {
        assert.deepStrictEqual(changedPaths({ a: { $secret: { b: 1 } } }, { a: { $secret: { b: 2 } } }), ["a.b"]);
        const dir = writeSynthDir(production);
        const read = readSynthDir(dir);
        assert.strictEqual(read.stack, "production");
        assert.deepStrictEqual(planDiff(production, read).updated, []);
        fs.rmSync(dir, { recursive: true, force: true });
        assert.throws(() => readSynthDir(path.join(PROJECT_DIR, "components")), /holds no resources\.json/);
    });

    it("shows the monthly cost change: a larger serverType on staging, priced from the committed table, by item; unpriced items named", async () => {
        const [base, head] = [await synth("staging"), await synth("staging", { serverType: "cpx42" })];
        const diff = planDiff(base, head);
        const price = (type: string) => COMMITTED_PRICES.serverTypes[type].monthly;
        const delta = price("cpx42") - price("cx33");
        assert.strictEqual(Math.round((diff.cost.after.total - diff.cost.before.total) * 100) / 100, Math.round(delta * 100) / 100);
        assert.deepStrictEqual(diff.cost.items.map((i) => [i.kind, i.name, i.before?.monthly, i.after?.monthly]), [["server", "compose", price("cx33"), price("cpx42")]]);
        const [baseDir, headDir] = [writeSynthDir(base), writeSynthDir(head)];
        const cli = run(process.execPath, ["--require", "ts-node/register/transpile-only", "scripts/plan-diff.ts", "--base", baseDir, "--head", headDir], { cwd: PROJECT_DIR });
        assert.strictEqual(cli.status, 0, cli.output);
        const [before, after] = [diff.cost.before.total, diff.cost.after.total].map((n) => n.toFixed(2));
        assert.ok(cli.output.includes(`**Monthly cost**: +EUR ${delta.toFixed(2)} per month (${before} -> ${after}, net), committed table (components/hetzner/prices.ts); unpriced, so not in the totals: primary IPv4 compose\n`), cli.output);
        assert.match(cli.output, new RegExp(`^\\| server \\| compose \\| cx33, fsn1 \\| cpx42, fsn1 \\| ${price("cx33").toFixed(2)} \\| ${price("cpx42").toFixed(2)} \\| \\+${delta.toFixed(2)} \\|$`, "m"));
        const same = run(process.execPath, ["--require", "ts-node/register/transpile-only", "scripts/plan-diff.ts", "--base", baseDir, "--head", baseDir], { cwd: PROJECT_DIR });
        assert.match(same.output, new RegExp(`^\\*\\*Monthly cost\\*\\*: no change, EUR ${before} per month \\(net\\)`, "m"));
        for (const dir of [baseDir, headDir]) fs.rmSync(dir, { recursive: true, force: true });
    });
});
