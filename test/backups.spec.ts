import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { BACKUP_METRIC, BACKUP_SERVICE, PRE_MIGRATION_BACKUP_SERVICE, TEXTFILE_DIRECTORY } from "../components/backups/postgres-backup";
import { named, plainInputs, requireTool, run, synth } from "./helpers";
import { PG_BIN, PostgresCluster } from "./fixtures/postgres-cluster";

const BUCKET = "archon-backups-drill";
const CREDENTIALS = { backupAccessKeyId: "drill-access-key", backupSecretAccessKey: "drill-access-key" };
const SUPABASE = path.join(__dirname, "fixtures", "supabase");
const TABLES = ["public.archon_settings", "public.archon_sources", "public.archon_crawled_pages", "public.archon_projects", "public.archon_tasks", "auth.users", "auth.identities"];

/** KEY=value lines of an env file. */
function parseEnvFile(text: string): Record<string, string> {
    return Object.fromEntries(text.split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
}

/** A Supabase database as its image's first start leaves it (fixtures/supabase/init.sql), with Archon's tables; `users`: and users' data. */
function supabaseDatabase(cluster: PostgresCluster, users: boolean): void {
    cluster.start();
    cluster.sql(fs.readFileSync(path.join(SUPABASE, "init.sql"), "utf8"));
    cluster.sql(fs.readFileSync(path.join(SUPABASE, "archon-data.sql"), "utf8"));
    if (users) cluster.sql(fs.readFileSync(path.join(SUPABASE, "archon-user-data.sql"), "utf8"));
}

describe("Postgres backups: restore drill (real PostgreSQL 15, restic)", function () {
    this.timeout(600_000);
    let root: string;
    let repository: string;
    let scripts: string;
    let env: (cluster: PostgresCluster, extra?: Record<string, string>) => Record<string, string>;
    const clusters: PostgresCluster[] = [];

    before(async () => {
        requireTool(`${PG_BIN}/initdb`, "postgresql");
        requireTool("restic", "restic");
        requireTool("runuser", "util-linux");
        requireTool("shellcheck", "shellcheck");
        root = fs.mkdtempSync(path.join(os.tmpdir(), "archon-backup-drill-"));
        fs.chmodSync(root, 0o777);
        // restic's local repository type: the same repository format, encryption and retention as on S3.
        repository = path.join(root, "repository");
        const result = await synth("staging", { ...CREDENTIALS, backupBucket: BUCKET, backupKeepDaily: 2, backupKeepWeekly: 1 });
        const compose = parseYaml(result.files["project/docker-compose.yml"]) as { services: Record<string, { environment: Record<string, string>; volumes: string[] }> };
        const service = compose.services[BACKUP_SERVICE];
        const secretEnv = parseEnvFile(result.files[`project/env/${BACKUP_SERVICE}.env`]);
        // The scripts exactly as the synth renders them for the host, staged where the postgres user can read them.
        scripts = path.join(root, "scripts");
        fs.mkdirSync(scripts, { mode: 0o755 });
        for (const name of ["backup-common.sh", "postgres-backup.sh", "postgres-restore.sh"]) {
            const rendered = result.files[`project/config/${BACKUP_SERVICE}/backup_${name}`];
            assert.ok(rendered, `the synth renders ${name}`);
            assert.ok(service.volumes.some((v) => v.startsWith(`./config/${BACKUP_SERVICE}/backup_${name}:/backup/${name}:ro`)), `${name} is mounted into the service`);
            fs.writeFileSync(path.join(scripts, name), rendered, { mode: 0o755 });
        }
        const metrics = path.join(root, "metrics");
        const work = path.join(root, "work");
        for (const dir of [metrics, work]) {
            fs.mkdirSync(dir);
            fs.chmodSync(dir, 0o777);
        }
        // The service's environment as rendered; only what points into the container is pointed at the test's directories.
        env = (cluster, extra = {}) => {
            const rendered = { ...service.environment, ...secretEnv };
            delete rendered.SSL_CERT_FILE;
            return { ...rendered, PGHOST: cluster.socketDir, RESTIC_REPOSITORY: repository, RESTIC: "restic", BACKUP_WORK_DIR: work, METRICS_TEXTFILE_DIR: metrics, ...extra };
        };
        assert.equal(service.environment.RESTIC_REPOSITORY, `s3:https://fsn1.your-objectstorage.com/${BUCKET}/staging`);
        assert.equal(service.environment.PGUSER, "supabase_admin");
    });
    after(async () => {
        for (const cluster of clusters) cluster.stop();
        if (root) fs.rmSync(root, { recursive: true, force: true });
    });

    it("the backup and restore scripts pass shellcheck (POSIX sh, following the sourced backup-common.sh)", () => {
        const checked = run("shellcheck", ["-s", "sh", "-x", "postgres-backup.sh", "postgres-restore.sh", "backup-common.sh"], { cwd: scripts });
        assert.equal(checked.status, 0, checked.output);
    });

    it("backs up with the stack's own scripts, keeps what the retention says, and restores the same rows into a new Supabase database", async () => {
        const source = new PostgresCluster(root, "source", "supabase_admin");
        clusters.push(source);
        supabaseDatabase(source, true);
        const backup = async (tag?: string) => {
            const outcome = await source.asPostgresAsync("sh", [path.join(scripts, "postgres-backup.sh")], env(source, tag ? { BACKUP_TAG: tag } : {}));
            assert.equal(outcome.status, 0, outcome.output);
            return outcome.output;
        };
        await backup();
        source.sql("INSERT INTO archon_tasks (project_id, title) VALUES ('00000000-0000-4000-8000-000000000001', 'added after the first backup');");
        await backup();
        source.sql("UPDATE archon_settings SET value = 'ollama' WHERE key = 'LLM_PROVIDER';");
        const third = await backup();
        await backup("pre-migration");
        const expected = source.fingerprint(TABLES);

        // Retention by restic: three scheduled backups on one day, 2 daily + 1 weekly kept = the newest;
        // the pre-migration snapshot is kept in its own group.
        assert.match(third, /remove 1 snapshots/, "restic forget removed the older same-day snapshot");
        const listed = await source.asPostgresAsync("restic", ["snapshots", "--json", "--host", "staging"], env(source));
        assert.equal(listed.status, 0, listed.output);
        const snapshots = JSON.parse(listed.output) as { tags: string[]; paths: string[] }[];
        assert.deepEqual(snapshots.map((s) => s.tags.filter((t) => !t.includes("=")).sort().join(",")).sort(), ["postgres,pre-migration", "postgres,scheduled"]);
        // What each dump holds, as tags: Archon's rows beyond the seeds, GoTrue's users, the dump's size.
        assert.ok(snapshots.every((s) => s.tags.includes("data-rows=238") && s.tags.includes("auth-users=2") && s.tags.some((t) => /^dump-bytes=\d{5,}$/.test(t))), JSON.stringify(snapshots.map((s) => s.tags)));

        // Encrypted before upload: the repository holds none of the rows' text.
        const stored = run("grep", ["-rl", "-e", "DRILL-PLAINTEXT-MARKER", "-e", "gAAAAAB-encrypted-drill-marker", repository]);
        assert.equal(stored.status, 1, `plaintext found in the repository: ${stored.output}`);
        assert.ok(fs.readdirSync(path.join(repository, "data")).length > 0, "the repository holds data");

        // The textfile metric for node-exporter.
        const metric = fs.readFileSync(path.join(root, "metrics", "postgres_backup.prom"), "utf8");
        const stamp = new RegExp(`^${BACKUP_METRIC} (\\d+)$`, "m").exec(metric);
        assert.ok(stamp && Math.abs(Number(stamp[1]) - Date.now() / 1000) < 600, metric);

        // A replacement stack's database: Supabase's init and Archon's (empty) tables, no users. The
        // newest snapshot is restored in place: Archon's schema replaced, GoTrue's users loaded.
        const fresh = new PostgresCluster(root, "fresh", "supabase_admin");
        clusters.push(fresh);
        supabaseDatabase(fresh, false);
        const restore = await fresh.asPostgresAsync("sh", [path.join(scripts, "postgres-restore.sh"), "latest"], env(fresh));
        assert.equal(restore.status, 0, restore.output);
        assert.deepEqual(fresh.fingerprint(TABLES), expected);
        assert.equal(fresh.sql("SELECT value FROM archon_settings WHERE key = 'LLM_PROVIDER'"), "ollama", "the newest backup was restored");
        assert.equal(fresh.sql("SELECT relrowsecurity FROM pg_class WHERE relname = 'archon_settings'"), "t", "row level security came back");
        assert.equal(fresh.sql("SELECT has_table_privilege('anon', 'archon_sources', 'SELECT')"), "t", "grants came back");
        assert.equal(fresh.sql("SELECT count(*) FROM auth.schema_migrations"), "5", "GoTrue's own migration record is the target's, not the dump's");

        // Restoring again over the running database replaces its rows, it does not add to them.
        fresh.sql("DELETE FROM archon_tasks WHERE task_order < 10; INSERT INTO archon_projects (title) VALUES ('stray'); INSERT INTO auth.users (id, email) VALUES ('00000000-0000-4000-8000-0000000000f1', 'stray@example.com');");
        const again = await fresh.asPostgresAsync("sh", [path.join(scripts, "postgres-restore.sh"), "latest"], env(fresh));
        assert.equal(again.status, 0, again.output);
        assert.deepEqual(fresh.fingerprint(TABLES), expected);

        // Into a new database, for inspection, by snapshot id.
        const id = JSON.parse((await fresh.asPostgresAsync("restic", ["snapshots", "--json", "--host", "staging", "--tag", "postgres,scheduled"], env(fresh))).output)[0].short_id as string;
        const inspect = await fresh.asPostgresAsync("sh", [path.join(scripts, "postgres-restore.sh"), id, "archon_inspect"], env(fresh));
        assert.equal(inspect.status, 0, inspect.output);
        assert.deepEqual(fresh.fingerprint(TABLES, "archon_inspect"), expected);
    });

    it("keeps the pre-migration snapshot of a same-day deploy and rollback: the last pre-migration snapshots survive keep-daily", async () => {
        const stack = new PostgresCluster(root, "rollback", "supabase_admin");
        clusters.push(stack);
        supabaseDatabase(stack, true);
        // The rendered BACKUP_KEEP_PRE_MIGRATION (10); one daily snapshot only.
        const settings = { BACKUP_HOST: "rollback", BACKUP_TAG: "pre-migration", BACKUP_KEEP_DAILY: "1", BACKUP_KEEP_WEEKLY: "0" };
        const ids: string[] = [];
        // The deploy (its backup holds the good state before the migration), the migration, the rollback deploy: one day.
        for (const change of ["", "ALTER TABLE archon_tasks ADD COLUMN priority text; UPDATE archon_tasks SET priority = 'high';"]) {
            if (change) stack.sql(change);
            const outcome = await stack.asPostgresAsync("sh", [path.join(scripts, "postgres-backup.sh")], env(stack, settings));
            assert.equal(outcome.status, 0, outcome.output);
            const listed = JSON.parse((await stack.asPostgresAsync("restic", ["snapshots", "--json", "--host", "rollback"], env(stack))).output) as { short_id: string; time: string }[];
            ids.push(listed.sort((a, b) => a.time.localeCompare(b.time)).pop()!.short_id);
        }
        const kept = (JSON.parse((await stack.asPostgresAsync("restic", ["snapshots", "--json", "--host", "rollback"], env(stack))).output) as { short_id: string }[]).map((s) => s.short_id).sort();
        // keep-daily 1 alone would keep only the rollback's; the one before the migration is kept too.
        assert.equal(env(stack).BACKUP_KEEP_PRE_MIGRATION, "10");
        assert.deepEqual(kept, [...ids].sort());
    });
});

describe("Postgres backups: rendered workloads", () => {
    it("Compose: a scheduled service and a pre-migration one-shot, secrets only in the 0600 env file, limits and hardening", async () => {
        const result = await synth("staging", { ...CREDENTIALS, backupAccessKeyId: "AKIA-DRILL-ACCESS", backupSecretAccessKey: "drill-secret-key-value-1234" });
        const compose = parseYaml(result.files["project/docker-compose.yml"]) as { services: Record<string, Record<string, any>> };
        const text = result.files["project/docker-compose.yml"];
        const key = (result.outputs.backupEncryptionKey as { $secret: string }).$secret;
        assert.ok(key.length >= 64);
        for (const secret of [key, "AKIA-DRILL-ACCESS", "drill-secret-key-value-1234"]) assert.ok(!text.includes(secret), "no secret in docker-compose.yml");
        for (const name of [BACKUP_SERVICE, PRE_MIGRATION_BACKUP_SERVICE]) {
            const svc = compose.services[name];
            const envFile = parseEnvFile(result.files[`project/env/${name}.env`]);
            assert.equal(envFile.RESTIC_PASSWORD, key);
            assert.equal(envFile.AWS_ACCESS_KEY_ID, "AKIA-DRILL-ACCESS");
            assert.equal(envFile.AWS_SECRET_ACCESS_KEY, "drill-secret-key-value-1234");
            assert.deepEqual(svc.env_file, [`./env/${name}.env`]);
            for (const k of ["RESTIC_PASSWORD", "RESTIC_PASSWORD_PREVIOUS", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PGPASSWORD"]) assert.equal(svc.environment[k], undefined, `${name}: ${k} is not a plain setting`);
            assert.equal(svc.mem_limit, "1g");
            assert.equal(svc.cpus, 1);
            assert.equal(svc.read_only, true);
            assert.equal(svc.user, "101");
            assert.deepEqual(svc.cap_drop, ["ALL"]);
            assert.equal(svc.cap_add, undefined);
            assert.equal(svc.environment.RESTIC_REPOSITORY, "s3:https://fsn1.your-objectstorage.com/archon-backups-staging/staging");
            assert.equal(svc.environment.BACKUP_KEEP_DAILY, "7");
            assert.equal(svc.environment.BACKUP_KEEP_WEEKLY, "4");
            assert.equal(svc.environment.METRICS_TEXTFILE_DIR, TEXTFILE_DIRECTORY);
        }
        assert.equal(compose.services[BACKUP_SERVICE].environment.BACKUP_TIME, "03:17", "daily at the schedule's time");
        assert.deepEqual(compose.services[BACKUP_SERVICE].entrypoint, ["sh", "/backup/postgres-backup-schedule.sh"]);
        assert.equal(compose.services[BACKUP_SERVICE].restart, "unless-stopped");
        assert.deepEqual(compose.services["archon-migrate"].depends_on[PRE_MIGRATION_BACKUP_SERVICE], { condition: "service_completed_successfully" });
        // node-exporter reads the directory the backups write.
        const metricsMount = (compose.services[BACKUP_SERVICE].volumes as string[]).find((v) => v.endsWith(`:${TEXTFILE_DIRECTORY}`))!;
        const nodeExporter = compose.services["node-exporter"];
        assert.ok((nodeExporter.volumes as string[]).includes(`${metricsMount}:ro`), JSON.stringify(nodeExporter.volumes));
        assert.ok((nodeExporter.command as string[]).includes(`--collector.textfile.directory=${TEXTFILE_DIRECTORY}`));
        const schedule = await synth("staging", { backupSchedule: "30 1 * * *" });
        assert.equal((parseYaml(schedule.files["project/docker-compose.yml"]) as typeof compose).services[BACKUP_SERVICE].environment.BACKUP_TIME, "01:30");
        assert.deepEqual(result.outputs.backups, {
            ...(result.outputs.backups as object),
            bucket: "archon-backups-staging",
            endpoint: "https://fsn1.your-objectstorage.com",
            retention: { keepDaily: 7, keepWeekly: 4, keepPreMigration: 10 },
            projectDir: "/opt/archon",
            writers: ["archon-ui", "archon-mcp", "archon-server", "kong", "studio", "meta", "auth", "rest"],
            freshnessMetric: BACKUP_METRIC,
        });
    });

    it("Kubernetes: CronJob postgres-backup with its schedule, Secret-only credentials, limits, security context; the migration Job backs up first", async () => {
        const result = await synth("production", { ...CREDENTIALS, backupSchedule: "5 2 * * *" });
        const cron = plainInputs(named(result, "kubernetes:batch/v1:CronJob", BACKUP_SERVICE));
        assert.equal(cron.metadata.name, "postgres-backup");
        assert.equal(cron.spec.schedule, "5 2 * * *");
        assert.equal(cron.spec.concurrencyPolicy, "Forbid");
        const pod = cron.spec.jobTemplate.spec.template.spec;
        assert.equal(pod.securityContext.runAsNonRoot, true);
        assert.equal(pod.automountServiceAccountToken, false);
        for (const container of [...pod.initContainers, ...pod.containers]) {
            assert.ok(container.resources.limits.cpu && container.resources.limits.memory, `${container.name} has limits`);
            assert.equal(container.securityContext.readOnlyRootFilesystem, true, container.name);
            assert.equal(container.securityContext.allowPrivilegeEscalation, false, container.name);
            assert.equal(container.securityContext.runAsUser, 101, container.name);
            assert.deepEqual(container.securityContext.capabilities.drop, ["ALL"], container.name);
        }
        assert.deepEqual(pod.initContainers.map((c: { image: string }) => c.image), ["restic/restic:0.18.1"]);
        const main = pod.containers[0];
        assert.deepEqual(main.command, ["sh", "/backup/postgres-backup.sh"]);
        assert.deepEqual(main.envFrom, [{ configMapRef: { name: "postgres-backup-env" } }, { secretRef: { name: "postgres-backup-secrets" } }]);
        assert.equal(main.env, undefined, "no plain env values");
        const config = plainInputs(named(result, "kubernetes:core/v1:ConfigMap", "postgres-backup-env")).data;
        for (const k of ["RESTIC_PASSWORD", "RESTIC_PASSWORD_PREVIOUS", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PGPASSWORD"]) assert.equal(config[k], undefined, `${k} is not in the ConfigMap`);
        const secret = named(result, "kubernetes:core/v1:Secret", "postgres-backup-secrets");
        assert.ok("$secret" in (secret.inputs.stringData as object), "the Secret's data is a Pulumi secret");
        assert.deepEqual(Object.keys(plainInputs(secret).stringData).sort(), ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PGPASSWORD", "RESTIC_PASSWORD", "RESTIC_PASSWORD_PREVIOUS"]);

        const job = plainInputs(named(result, "kubernetes:batch/v1:Job", "archon-migrate")).spec.template.spec;
        assert.deepEqual(job.initContainers.map((c: { name: string }) => c.name), ["restic-binary", "pre-migration-backup"]);
        const preMigration = job.initContainers[1];
        assert.deepEqual(preMigration.envFrom, main.envFrom, "the backup step reads the CronJob's settings");
        assert.match(preMigration.command.join(" "), /BACKUP_TAG=pre-migration exec sh \/backup\/postgres-backup.sh/);
        assert.ok(job.containers[0].envFrom.every((e: { secretRef?: { name: string } }) => e.secretRef?.name !== "postgres-backup-secrets"), "the migration container itself gets no backup credentials");
        // Postgres admits the backup pods; the backup reaches object storage over HTTPS.
        const dbPolicy = plainInputs(named(result, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "allow-db"));
        const peers = dbPolicy.spec.ingress[0].from.map((p: { podSelector: { matchLabels: Record<string, string> } }) => p.podSelector.matchLabels["app.kubernetes.io/name"]);
        assert.ok(peers.includes(BACKUP_SERVICE));
        assert.ok(named(result, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "allow-postgres-backup"));
        assert.equal((result.outputs.backups as { freshnessMetric: string }).freshnessMetric, 'kube_cronjob_status_last_successful_time{cronjob="postgres-backup"}');
        assert.ok("$secret" in (result.outputs.backupEncryptionKey as object), "the encryption key is a secret output");
    });

    it("without credentials: no pre-migration step, the backups still render and fail loudly", async () => {
        const result = await synth("production");
        const job = plainInputs(named(result, "kubernetes:batch/v1:Job", "archon-migrate")).spec.template.spec;
        assert.equal(job.initContainers, undefined);
        assert.ok(named(result, "kubernetes:batch/v1:CronJob", BACKUP_SERVICE));
        assert.equal((result.outputs.backups as { credentialsSet: boolean }).credentialsSet, false);
    });
});
