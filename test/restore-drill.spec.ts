/**
 * The restore drills of issue 25 (items 1-5) and issue 30.2: `npm run restore` run as an operator
 * runs it, end to end, on each target: the real script with real bash, jq 1.6, restic and
 * PostgreSQL 15 (Supabase's roles and schemas, test/fixtures/supabase/init.sql), the backup and
 * restore scripts exactly as the synth renders them, and strict stand-ins only for ssh, docker
 * compose, kubectl and pulumi (test/fixtures/stand-ins/: an unknown service, resource or flag is
 * refused as the real CLI refuses it).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { Drill, drillRoot, writeSynthFiles } from "./fixtures/drill";
import { requireTool, synth } from "./helpers";

const CREDENTIALS = { backupAccessKeyId: "drill-access-key", backupSecretAccessKey: "drill-secret-key" };
// Crawled pages by the columns the dump has: archon-migrate adds one after the restore.
const ARCHON_TABLES = ["public.archon_settings", "public.archon_sources", "(SELECT id, url, chunk_number, content, metadata, source_id, created_at FROM public.archon_crawled_pages)", "public.archon_projects", "public.archon_tasks", "public.archon_prompts"];
const AUTH_TABLES = ["auth.users", "auth.identities", "auth.sessions"];
const EVERY_TABLE = [...ARCHON_TABLES, ...AUTH_TABLES];

interface ComposeState { running: string[]; log: string[] }
interface KubeState { objects: Record<string, Record<string, Record<string, { spec: { replicas?: number }; status?: { conditions?: { type: string; status: string }[] } }>>> }

function requireDrillTools(): void {
    requireTool("/usr/lib/postgresql/15/bin/initdb", "postgresql");
    requireTool("restic", "restic");
    requireTool("jq", "jq");
    requireTool("runuser", "util-linux");
    requireTool("unshare", "util-linux");
}

/** The snapshot lines postgres-restore.sh --list printed: id -> data-rows. */
/**
 * [snapshot id, rows] in the order first listed (the restore lists them again before it restores),
 * as an array: an id of decimal digits would sort first as an object key.
 */
function listedSnapshots(output: string): Array<[string, string]> {
    const rows = new Map<string, string>();
    for (const m of output.matchAll(/^([0-9a-f]{8}) +\S+ +(\S+) +(\S+) +(\S+) +(\S+)$/gm)) if (!rows.has(m[1])) rows.set(m[1], m[3]);
    return [...rows];
}

describe("restore drill on Compose: npm run restore over ssh and docker compose (staging, no archon-agents)", function () {
    this.timeout(900_000);
    let root: string;
    let drill: Drill;
    let project: string;
    let good: Record<string, string>;
    let goodId: string;
    let emptyId: string;
    const compose = (line: string) => drill.bash(`docker compose ${line}`, {}, project);

    before(async () => {
        requireDrillTools();
        root = drillRoot("archon-restore-compose-");
        drill = new Drill(root, "compose");
        const result = await synth("staging", CREDENTIALS);
        project = path.join(root, "project");
        writeSynthFiles(result, "project/", project);
        drill.config.hostPaths = { "/mnt/archon-data/data/": `${path.join(root, "data")}/` };
        drill.config.ssh = { destination: "deploy@198.51.100.128", identity: path.join(drill.home, ".ssh", "archon-staging"), projectDir: "/opt/archon", projectCopy: project };
        drill.addStack("staging", result);
        drill.startDatabase();
        drill.addUserData();
        // As a deploy leaves the host: restic copied onto the tools volume.
        const tools = await compose("run --rm --no-deps -T postgres-backup-tools");
        assert.equal(tools.status, 0, tools.output);

        const backup = await compose("run --rm --no-deps -T --entrypoint '' postgres-backup sh /backup/postgres-backup.sh");
        assert.equal(backup.status, 0, backup.output);
        good = drill.cluster.fingerprint(EVERY_TABLE);
        // A stack that lost its data and backed up the empty database (a replacement's first backup):
        // the newest snapshot, pre-migration tag, holds none of the users' data.
        drill.cluster.sql("TRUNCATE archon_crawled_pages, archon_sources, archon_tasks, archon_projects; DELETE FROM archon_settings WHERE is_encrypted; TRUNCATE auth.users CASCADE;");
        const empty = await compose("run --rm --no-deps -T postgres-backup-pre-migration");
        assert.equal(empty.status, 0, empty.output);
        assert.match(empty.output, /holds 0 rows of Archon data/);
        // The two snapshots, oldest first, as restic lists them (each test may run alone).
        const key = (result.outputs.backupEncryptionKey as { $secret: string }).$secret;
        const listed = await drill.bash(`restic -r ${path.join(drill.repositories, "staging")} snapshots --json`, { RESTIC_PASSWORD: key, RESTIC_CACHE_DIR: path.join(root, "restic-cache") });
        assert.equal(listed.status, 0, listed.output);
        [goodId, emptyId] = (JSON.parse(listed.stdout) as { short_id: string; time: string }[]).sort((a, b) => a.time.localeCompare(b.time)).map((s) => s.short_id);
    });
    after(() => {
        drill?.cluster.stop();
        if (root) fs.rmSync(root, { recursive: true, force: true });
    });

    it("lists the snapshots with their rows and sizes, passes over the empty newest one, and restores the last good one in place", async () => {
        const before = drill.state<ComposeState>().log.length;
        const run = await drill.script("restore", ["--stack", "staging", "--backup", "latest"]);
        assert.equal(run.status, 0, run.output);
        const snapshots = listedSnapshots(run.output);
        const listed = Object.fromEntries(snapshots);
        assert.deepEqual(snapshots.map(([id]) => id), [goodId, emptyId], run.output);
        assert.notEqual(listed[goodId], "0");
        assert.equal(listed[emptyId], "0", "the newest snapshot's dump holds no Archon data");
        assert.match(run.output, new RegExp(`restored snapshot ${goodId} into the running database`));
        assert.deepEqual(drill.cluster.fingerprint(EVERY_TABLE), good, "Archon's tables and GoTrue's users are as at the good backup");
        // Only services the project defines were stopped and started (no archon-agents on staging), in order.
        const calls = drill.state<ComposeState>().log.slice(before).filter((c) => /^compose (stop|up)|^run archon-migrate/.test(c));
        assert.deepEqual(calls, [
            "compose stop archon-ui archon-mcp archon-server kong studio meta auth rest",
            "run archon-migrate: (the image's entrypoint)",
            "compose up -d --wait rest auth meta studio kong archon-server archon-mcp archon-ui",
        ]);
        assert.ok(["archon-ui", "archon-server", "kong", "rest", "auth"].every((s) => drill.state<ComposeState>().running.includes(s)));
        // archon-migrate ran after the restore: the migration the dump predates is applied.
        assert.equal(drill.cluster.sql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'archon_crawled_pages' AND column_name = 'content_search_vector'"), "1");
        assert.equal(drill.cluster.sql("SELECT count(*) FROM archon_migrations WHERE migration_name = '002_add_hybrid_search_tsvector'"), "1");
    });

    it("refuses the empty snapshot by id, and stops nothing", async () => {
        const before = drill.state<ComposeState>().log.length;
        const run = await drill.script("restore", ["--stack", "staging", "--backup", emptyId]);
        assert.equal(run.status, 1, run.output);
        assert.match(run.output, /holds no Archon data.*--allow-empty/);
        assert.match(run.output, /nothing was stopped or changed/);
        assert.ok(!drill.state<ComposeState>().log.slice(before).some((c) => c.startsWith("compose stop")), "nothing was stopped");
    });

    it("stops at the first error: a conflicting object fails the restore, the rows stay as they were and the writers run again (issue 30.2)", async () => {
        drill.cluster.sql("CREATE SCHEMA reports; CREATE VIEW reports.sources AS SELECT source_id FROM public.archon_sources; DELETE FROM archon_tasks WHERE task_order < 5; INSERT INTO auth.users (id, email) VALUES ('00000000-0000-4000-8000-0000000000c3', 'late@example.com');");
        const changed = drill.cluster.fingerprint(EVERY_TABLE);
        const run = await drill.script("restore", ["--stack", "staging", "--backup", goodId]);
        assert.equal(run.status, 1, run.output);
        assert.match(run.output, /cannot drop table public\.archon_sources because other objects depend on it/);
        assert.match(run.output, /failed .* and changed nothing \(one transaction\); the writers run again as before/);
        assert.deepEqual(drill.cluster.fingerprint(EVERY_TABLE), changed, "not one row changed: GoTrue's users were not truncated, no table was dropped");
        const state = drill.state<ComposeState>();
        assert.equal(state.log.filter((c) => c.startsWith("compose up")).slice(-1)[0], "compose up -d --wait rest auth meta studio kong archon-server archon-mcp archon-ui");
        assert.ok(!state.log.slice(-3).some((c) => c.startsWith("run archon-migrate")), "no migration after a failed restore");
        drill.cluster.sql("DROP SCHEMA reports CASCADE;");
    });

    it("restores into a new database beside the stack's: Supabase's auth schema comes along, Archon's policies work", async () => {
        const before = drill.state<ComposeState>().log.length;
        const run = await drill.script("restore", ["--stack", "staging", "--backup", "latest", "--into", "archon_inspect"]);
        assert.equal(run.status, 0, run.output);
        assert.deepEqual(drill.cluster.fingerprint(EVERY_TABLE, "archon_inspect"), good);
        assert.ok(!drill.state<ComposeState>().log.slice(before).some((c) => c.startsWith("compose stop")), "nothing stopped for --into");
        // Archon's RLS policies call auth.role(): as PostgREST would, with the service key's role.
        const asService = drill.cluster.sql("SET ROLE service_role; SET request.jwt.claim.role = 'service_role'; SELECT count(*) FROM archon_projects;", "archon_inspect");
        assert.equal(asService, "2");
        const asAnon = drill.cluster.sql("SET ROLE anon; SET request.jwt.claim.role = 'anon'; SELECT count(*) FROM archon_sources;", "archon_inspect");
        assert.equal(asAnon, "5");
        // A second --into the same name is refused before anything is restored; the first copy stays.
        const again = await drill.script("restore", ["--stack", "staging", "--backup", "latest", "--into", "archon_inspect"]);
        assert.equal(again.status, 1, again.output);
        assert.match(again.output, /database "archon_inspect" already exists/);
        assert.deepEqual(drill.cluster.fingerprint(EVERY_TABLE, "archon_inspect"), good);
    });

    it("--from-stack: a replacement stack restores the lost stack's backups, its key on stdin, never on a command line", async () => {
        // The replacement: a stack of its own (its own repository and key) on the same host here.
        const source = JSON.parse(fs.readFileSync(drill.config.pulumi.stacks.staging, "utf8")) as Record<string, any>;
        const replacement = { ...source, stack: { ...source.stack, name: "staging-new" }, backupEncryptionKey: { $secret: "a-key-of-the-replacement-stack-0123456789abcdef" },
            backups: { ...source.backups, repository: source.backups.repository.replace(/staging$/, "staging-new") } };
        const file = path.join(root, "staging-new-outputs.json");
        fs.writeFileSync(file, JSON.stringify(replacement));
        drill.config.pulumi.stacks["staging-new"] = file;
        drill.save();
        drill.cluster.sql("TRUNCATE archon_tasks;");
        const before = drill.state<ComposeState>().log.length;
        const run = await drill.script("restore", ["--stack", "staging-new", "--from-stack", "staging", "--backup", "latest"]);
        assert.equal(run.status, 0, run.output);
        assert.match(run.output, new RegExp(`restored snapshot ${goodId} into the running database of staging-new`));
        assert.deepEqual(drill.cluster.fingerprint(EVERY_TABLE), good);
        const key = source.backupEncryptionKey.$secret as string;
        const calls = drill.state<ComposeState>().log.slice(before);
        assert.ok(calls.some((c) => c.includes("RESTIC_REPOSITORY=s3:https://fsn1.your-objectstorage.com/archon-backups-staging/staging") && c.includes("BACKUP_HOST=staging")), calls.join("\n"));
        assert.ok(!calls.some((c) => c.includes(key)) && !run.output.includes(key), "the key is never on a command line");
    });

    it("the stand-ins refuse as the real CLIs do: an unknown service, an unknown flag, another host", async () => {
        const stop = await compose("stop archon-agents");
        assert.equal(stop.status, 1);
        assert.match(stop.output, /^no such service: archon-agents$/m);
        const flag = await compose("up -d --wiat");
        assert.notEqual(flag.status, 0);
        assert.match(flag.output, /unknown flag: --wiat/);
        const ssh = await drill.bash("ssh -i ~/.ssh/archon-staging deploy@198.51.100.129 true");
        assert.equal(ssh.status, 255);
        const option = await drill.bash("ssh -Z deploy@198.51.100.128 true");
        assert.equal(option.status, 255);
        assert.match(option.output, /^unknown option -- Z$/m);
        const pulumi = await drill.bash("pulumi stack output --json --show-secrets --stack nosuch");
        assert.equal(pulumi.status, 255);
        assert.match(pulumi.output, /^error: no stack named 'nosuch' found$/m);
    });

    it("--dry-run prints the steps over ssh in order and runs none", async () => {
        const before = drill.state<ComposeState>().log.length;
        const run = await drill.script("restore", ["--stack", "staging", "--backup", "latest", "--dry-run"]);
        assert.equal(run.status, 0, run.output);
        const steps = run.output.split("\n").filter((l) => l.startsWith("$ "));
        assert.equal(steps.length, 5, run.output);
        assert.ok(steps.every((s) => s.startsWith("$ ssh -i ~/.ssh/archon-staging deploy@198.51.100.128 'cd /opt/archon && docker compose ")), run.output);
        assert.match(steps[0], /postgres-restore\.sh --list latest'$/);
        assert.match(steps[1], /docker compose stop archon-ui archon-mcp archon-server kong studio meta auth rest'$/);
        assert.match(steps[3], /docker compose run --rm --no-deps -T archon-migrate'$/);
        assert.equal(drill.state<ComposeState>().log.length, before, "nothing ran");
    });
});

describe("restore drill on k3s: npm run restore with kubectl and jq (production without archon-agents)", function () {
    this.timeout(900_000);
    let root: string;
    let drill: Drill;
    let good: Record<string, string>;
    const kubectl = (line: string) => drill.bash(`kubectl -n archon ${line}`);
    const replicas = () => Object.fromEntries(Object.entries(drill.state<KubeState>().objects.archon.Deployment).map(([name, d]) => [name, d.spec.replicas]));
    const jobs = () => drill.state<KubeState>().objects.archon.Job;
    const condition = (name: string) => (jobs()[name].status?.conditions ?? []).filter((c) => c.status === "True").map((c) => c.type).pop();

    before(async () => {
        requireDrillTools();
        root = drillRoot("archon-restore-k3s-");
        drill = new Drill(root, "k3s");
        const result = await synth("production", { ...CREDENTIALS, enableAgents: false });
        const manifests = path.join(root, "kubernetes");
        writeSynthFiles(result, "kubernetes/", manifests);
        drill.config.manifests = manifests;
        drill.addStack("production", result);
        drill.startDatabase();
        drill.addUserData();
        // The CronJob's backup, as `kubectl create job --from=cronjob` runs it by hand.
        const backup = await kubectl("create job backup-by-hand --from=cronjob/postgres-backup --dry-run=client -o json | kubectl -n archon create -f -");
        assert.equal(backup.status, 0, backup.output);
        assert.equal(condition("backup-by-hand"), "Complete", (await kubectl("logs job/backup-by-hand --all-containers")).output);
        good = drill.cluster.fingerprint(EVERY_TABLE);
        drill.cluster.sql("TRUNCATE archon_crawled_pages, archon_sources, archon_tasks, archon_projects; TRUNCATE auth.users CASCADE;");
        const empty = await kubectl(`create job empty-backup --from=cronjob/postgres-backup --dry-run=client -o json | jq '.spec.template.spec.containers[0].command = ["sh", "-c", "BACKUP_TAG=pre-migration exec sh /backup/postgres-backup.sh"]' | kubectl -n archon create -f -`);
        assert.equal(empty.status, 0, empty.output);
        assert.equal(condition("empty-backup"), "Complete");
    });
    after(() => {
        drill?.cluster.stop();
        if (root) fs.rmSync(root, { recursive: true, force: true });
    });

    it("restores the last good snapshot, runs archon-migrate, and brings every Deployment back at its own replica count", async () => {
        const before = replicas();
        assert.deepEqual([before["archon-ui"], before.kong, before.rest, before.auth, before["archon-server"]], [2, 2, 2, 2, 1], "production's replica counts, as rendered");
        const run = await drill.script("restore", ["--stack", "production", "--backup", "latest"]);
        assert.equal(run.status, 0, run.output);
        const rows = listedSnapshots(run.output).map(([, count]) => count);
        assert.equal(rows.length, 2, run.output);
        assert.notEqual(rows[0], "0", "the older snapshot holds the good data");
        assert.equal(rows[1], "0", "the newest snapshot's dump holds no Archon data");
        assert.deepEqual(drill.cluster.fingerprint(EVERY_TABLE), good);
        assert.deepEqual(replicas(), before, "every Deployment at its count from before the restore");
        const history = drill.kubectlCalls();
        const scaled = history.filter((c) => c.includes("scale deployment"));
        assert.deepEqual(scaled.slice(0, 1), ["-n archon scale deployment archon-ui archon-mcp archon-server kong studio meta auth rest --replicas=0"], "archon-agents, which this stack does not run, is not named");
        const created = Object.keys(jobs());
        const migration = created.find((j) => j.startsWith("archon-migrate-after-restore-"));
        assert.ok(migration && condition(migration) === "Complete", created.join(", "));
        assert.ok(created.some((j) => j.startsWith("postgres-restore-restore-") && condition(j) === "Complete"));
        assert.equal(drill.cluster.sql("SELECT count(*) FROM archon_migrations WHERE migration_name = '002_add_hybrid_search_tsvector'"), "1", "archon-migrate applied what the dump predates");
    });

    it("a failed restore Job ends the run at once: nothing changed, the Deployments back at their counts, exit 1", async () => {
        drill.cluster.sql("CREATE SCHEMA reports; CREATE VIEW reports.tasks AS SELECT id FROM public.archon_tasks; DELETE FROM archon_sources WHERE source_id = 'source-1' AND false;");
        const changed = drill.cluster.fingerprint(EVERY_TABLE);
        const before = replicas();
        const started = Date.now();
        const run = await drill.script("restore", ["--stack", "production", "--backup", "latest"]);
        assert.equal(run.status, 1, run.output);
        assert.ok(Date.now() - started < 120_000, "no waiting for a timeout");
        assert.match(run.output, /cannot drop table public\.archon_tasks because other objects depend on it/);
        assert.match(run.output, /changed nothing \(one transaction\); the writers run again as before/);
        assert.deepEqual(drill.cluster.fingerprint(EVERY_TABLE), changed);
        assert.deepEqual(replicas(), before);
        const failed = Object.keys(jobs()).filter((j) => j.startsWith("postgres-restore-restore-") && condition(j) === "Failed");
        assert.equal(failed.length, 1);
        drill.cluster.sql("DROP SCHEMA reports CASCADE;");
    });

    it("the kubectl stand-in refuses as kubectl does: a missing Deployment (after scaling the others), an unknown flag, a Job the API server would reject", async () => {
        const scaled = await kubectl("scale deployment studio archon-agents --replicas=1");
        assert.equal(scaled.status, 1);
        assert.match(scaled.output, /^deployment\.apps\/studio scaled$/m);
        assert.match(scaled.output, /^Error from server \(NotFound\): deployments\.apps "archon-agents" not found$/m);
        const flag = await kubectl("scale deployment studio --replica=1");
        assert.equal(flag.status, 1);
        assert.match(flag.output, /^error: unknown flag: --replica\nSee 'kubectl scale --help' for usage\.$/m);
        // The migration Job as the API server returns it, created again without removing its generated selector.
        const copy = await kubectl(`get job archon-migrate -o json | jq '.metadata = {name: "copy"}' | kubectl -n archon create -f -`);
        assert.equal(copy.status, 1);
        assert.match(copy.output, /spec\.selector: Invalid value: .*`selector` not auto-generated/);
    });

    it("--dry-run prints each kubectl and jq step without running one; the printed pipelines parse in bash", async () => {
        const before = drill.kubectlCalls().length;
        const run = await drill.script("restore", ["--stack", "production", "--backup", "latest:scheduled", "--dry-run"]);
        assert.equal(run.status, 0, run.output);
        assert.equal(drill.kubectlCalls().length, before, "nothing ran");
        const steps = run.output.split("\n").filter((l) => l.startsWith("$ ")).map((l) => l.slice(2));
        assert.match(steps[0], /^kubectl -n archon create job postgres-restore-list-\S+ --from=cronjob\/postgres-backup --dry-run=client -o json \| jq --argjson command '\["sh","\/backup\/postgres-restore.sh","--list","latest:scheduled"\]' /);
        assert.ok(steps.some((s) => s === "kubectl -n archon scale deployment archon-ui archon-mcp archon-server kong studio meta auth rest --replicas=0"));
        for (const step of steps) assert.equal((await drill.bash(`bash -n -c ${JSON.stringify(step)}`)).status, 0, step);
    });
});
