/**
 * `npm run dr-drill` (issue 25.7): the dry run prints, offline and in order, what the drill does to
 * a throwaway copy of each committed stack (stack init from the stack's config, up, the restore of
 * the stack's own backups into it, the smoke test, destroy); the real run refuses, before creating
 * anything, a stack whose copy could get no DNS records; the measured RTO/RPO reporting and the
 * destroy-after-failure order are checked on the procedure itself with a shell that records.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { drill, drillPlan } from "../scripts/dr-drill";
import { Shell } from "../scripts/lib/restore";
import { Drill, drillRoot } from "./fixtures/drill";

describe("npm run dr-drill (issue 25.7)", function () {
    this.timeout(300_000);
    let root: string;
    let world: Drill;
    before(() => {
        root = drillRoot("archon-dr-drill-");
        world = new Drill(root, "dr");
    });
    after(() => { if (root) fs.rmSync(root, { recursive: true, force: true }); });

    for (const [stack, first, restoreStep] of [
        ["staging", "compose", /^ssh -i ~\/\.ssh\/<drill key> deploy@<drill host> 'cd \/opt\/archon && docker compose run --rm --no-deps -T --entrypoint .* -e .*RESTIC_REPOSITORY=<backups\.repository of staging>.* -e BACKUP_HOST=staging -e RESTORE_KEY_FROM_STDIN=1 postgres-backup sh \/backup\/postgres-restore\.sh --list latest'$/],
        ["production", "k3s", /^kubectl -n archon create secret generic postgres-restore-key-\S+ --from-file=RESTIC_PASSWORD=\/dev\/stdin/],
    ] as const) {
        it(`dry run of ${stack} (${first}): offline, every step in order, nothing run`, async () => {
            const run = await world.script("dr-drill", ["--stack", stack, "--dry-run"]);
            assert.equal(run.status, 0, run.output);
            const steps = run.output.split("\n").filter((l) => l.startsWith("$ ")).map((l) => l.slice(2).replace(/\s+# stdin:.*$/, ""));
            const drillStack = /^pulumi stack init (\S+) --copy-config-from /.exec(steps[0])?.[1];
            assert.match(drillStack ?? "", new RegExp(`^${stack}-dr-\\d{8}t\\d{4}$`));
            const order = [
                `pulumi stack init ${drillStack} --copy-config-from ${stack}`,
                `pulumi config set --stack ${drillStack} domain`,
                `pulumi config set --stack ${drillStack} buildImages false`,
                `pulumi up --stack ${drillStack} --yes --skip-preview`,
                "restore",
                `npm run smoke -- --stack ${drillStack}`,
                `pulumi state unprotect --all --yes --stack ${drillStack}`,
                `pulumi destroy --stack ${drillStack} --yes --skip-preview`,
                `pulumi stack rm ${drillStack} --yes`,
            ];
            const restoreSteps = steps.slice(4, steps.length - 4);
            assert.deepEqual([...steps.slice(0, 4).map((s, i) => (s.startsWith(order[i]) ? order[i] : s)), "restore", ...steps.slice(-4)], order);
            assert.match(restoreSteps[0], restoreStep);
            assert.ok(restoreSteps.some((s) => /archon-migrate/.test(s)), "the restore runs archon-migrate");
            if (stack === "staging") assert.ok(!restoreSteps.some((s) => s.includes("archon-agents")), "staging runs no archon-agents");
            assert.match(run.output, /has no dnsZone/);
            assert.ok(!fs.existsSync(`${world.config.state}.pulumi-history`), "no pulumi command ran");
        });
    }

    it("answers bad input in one line, exit 2", async () => {
        for (const [args, pattern] of [
            [["--stack", "staging", "--no-such-flag"], /^error: unknown option --no-such-flag; the options are /],
            [["--dry-run"], /^error: --stack is required/],
            [["--stack", "nosuch", "--dry-run"], /^error: .*nosuch/],
            [["--stack", "staging", "--drill-stack", "staging", "--dry-run"], /^error: --drill-stack staging: that is the stack itself/],
        ] as const) {
            const run = await world.script("dr-drill", [...args]);
            assert.equal(run.status, 2, run.output);
            assert.equal(run.output.trim().split("\n").length, 1, run.output);
            assert.match(run.output.trim(), pattern);
        }
    });

    it("the real run refuses a stack whose copy could get no DNS records, before creating anything", async () => {
        const run = await world.script("dr-drill", ["--stack", "staging"]);
        assert.equal(run.status, 1, run.output);
        assert.match(run.output, /dr-drill: stack staging has no dnsZone: .* Set dnsZone/);
        assert.ok(!fs.existsSync(`${world.config.state}.pulumi-history`), "no pulumi command ran");
    });

    it("measures RTO and RPO, and destroys the copy after a failed smoke test too", async () => {
        const plan = { ...drillPlan("staging", new Date("2026-03-01T10:00:00Z")), dnsZone: "example.com" };
        const lines: string[] = [];
        let now = 1_000_000;
        const smokeFails = (line: string) => line.startsWith("npm run smoke");
        const recording = (failSmoke: boolean): Shell => ({
            run: async (line, options = {}) => {
                lines.push(line);
                now += line.startsWith("pulumi up") ? 600 : 30;
                if (failSmoke && smokeFails(line)) return { status: 1, stdout: "" };
                // The copy's outputs, and the snapshot the list step picks (taken 5 hours before the restore).
                if (line.startsWith("pulumi stack output")) return { status: 0, stdout: "" };
                const stdout = options.capture && line.includes("--list") ? `snapshot 1a2b3c4d ${new Date((now - 5 * 3600) * 1000).toISOString().slice(0, 19)}\n` : "";
                return { status: 0, stdout };
            },
            sleep: async () => undefined,
            log: () => undefined,
        });
        // The copy's and the source's outputs come from `pulumi stack output`: the stand-in answers for both.
        world.config.pulumi.stacks[plan.drill] = path.join(root, "drill-outputs.json");
        world.config.pulumi.stacks.staging = path.join(root, "staging-outputs.json");
        const outputs = { stack: { target: "compose" }, sshCommands: { host: "ssh -i ~/.ssh/k deploy@192.0.2.10" }, backups: { repository: "s3:https://fsn1.your-objectstorage.com/b/staging", writers: ["archon-ui", "kong"] }, backupEncryptionKey: "k" };
        fs.writeFileSync(world.config.pulumi.stacks[plan.drill], JSON.stringify(outputs));
        fs.writeFileSync(world.config.pulumi.stacks.staging, JSON.stringify(outputs));
        world.save();
        const saved = { ...process.env };
        Object.assign(process.env, world.env());
        try {
            const ok = await drill(plan, { dryRun: false, keep: false, smokeOptions: ["--retries", "0"] }, recording(false), () => now);
            assert.ok(ok.ok, ok.message);
            assert.match(ok.message, /^recovered staging into staging-dr-20260301t1000: RTO 13m 0s \(up 10m 0s, restore 2m 30s, smoke 30s\); RPO 4h 59m \(snapshot 1a2b3c4d of 1970-01-12T08:58:40 UTC\)$/);
            assert.ok(ok.rpoSeconds! > 4.9 * 3600 && ok.rpoSeconds! < 5.1 * 3600, String(ok.rpoSeconds));
            assert.ok(ok.destroyed);
            lines.length = 0;
            const failed = await drill(plan, { dryRun: false, keep: false, smokeOptions: [] }, recording(true), () => now);
            assert.equal(failed.ok, false);
            assert.match(failed.message, /the smoke test failed/);
            assert.deepEqual(lines.slice(-3).map((l) => l.split(" ").slice(0, 2).join(" ")), ["pulumi state", "pulumi destroy", "pulumi stack"], "destroyed after the failure");
        } finally {
            process.env = saved;
        }
    });
});
