import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawn } from "child_process";
import { parse as parseYaml } from "yaml";
import { BACKUP_METRIC, BACKUP_SERVICE, PRE_MIGRATION_BACKUP_SERVICE, TEXTFILE_DIRECTORY } from "../components/backups/postgres-backup";
import { named, plainInputs, requireTool, run, synth } from "./helpers";

const DRILL_KEY = "drill-access-key";
const BUCKET = "archon-backups-drill";
const PG_BIN = "/usr/lib/postgresql/15/bin";

const CREDENTIALS = { backupAccessKeyId: DRILL_KEY, backupSecretAccessKey: DRILL_KEY };

/** KEY=value lines of an env file. */
function parseEnvFile(text: string): Record<string, string> {
    return Object.fromEntries(text.split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
}

/** Supabase-like roles, as the supabase/postgres image creates them on first init. */
const SUPABASE_ROLES = `
CREATE ROLE supabase_admin LOGIN SUPERUSER CREATEDB CREATEROLE REPLICATION BYPASSRLS;
CREATE ROLE anon NOLOGIN NOINHERIT;
CREATE ROLE authenticated NOLOGIN NOINHERIT;
CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
CREATE ROLE authenticator LOGIN NOINHERIT;
CREATE ROLE supabase_auth_admin LOGIN NOINHERIT CREATEROLE;
GRANT anon, authenticated, service_role TO authenticator;
CREATE SCHEMA auth AUTHORIZATION supabase_auth_admin;
CREATE TABLE auth.users (id uuid PRIMARY KEY, email text);
ALTER TABLE auth.users OWNER TO supabase_auth_admin;
`;

/** A pgvector-free copy of a few of Archon's tables (migration/complete_setup.sql, tag v0.1.0), with rows. */
const ARCHON_DATA = `
CREATE TABLE archon_settings (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), key varchar(255) UNIQUE NOT NULL, value text, encrypted_value text, is_encrypted boolean DEFAULT false, category varchar(100), description text, created_at timestamptz DEFAULT now());
CREATE TABLE archon_sources (source_id text PRIMARY KEY, summary text, total_word_count integer DEFAULT 0, title text, metadata jsonb DEFAULT '{}', created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE archon_crawled_pages (id bigserial PRIMARY KEY, url varchar NOT NULL, chunk_number integer NOT NULL, content text NOT NULL, metadata jsonb NOT NULL DEFAULT '{}', source_id text NOT NULL REFERENCES archon_sources(source_id), created_at timestamptz NOT NULL DEFAULT now(), UNIQUE (url, chunk_number));
CREATE TABLE archon_projects (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), title text NOT NULL, description text DEFAULT '', docs jsonb DEFAULT '[]', features jsonb DEFAULT '[]', pinned boolean DEFAULT false, created_at timestamptz DEFAULT now());
CREATE TABLE archon_tasks (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), project_id uuid REFERENCES archon_projects(id) ON DELETE CASCADE, title text NOT NULL, status text DEFAULT 'todo' CHECK (status IN ('todo','doing','review','done')), task_order integer DEFAULT 0, archived boolean DEFAULT false);
CREATE INDEX idx_archon_crawled_pages_metadata ON archon_crawled_pages USING GIN (metadata);
ALTER TABLE archon_settings ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Allow service role full access" ON archon_settings FOR ALL USING (auth_role() = 'service_role');
GRANT ALL ON ALL TABLES IN SCHEMA public TO service_role;
GRANT SELECT ON archon_sources, archon_crawled_pages TO anon, authenticated;
INSERT INTO archon_settings (key, value, encrypted_value, is_encrypted, category) VALUES
  ('OPENAI_API_KEY', NULL, 'gAAAAAB-encrypted-drill-marker', true, 'api_keys'),
  ('LLM_PROVIDER', 'openai', NULL, false, 'rag_strategy'),
  ('USE_HYBRID_SEARCH', 'true', NULL, false, 'rag_strategy');
INSERT INTO archon_sources (source_id, summary, total_word_count, title, metadata)
  SELECT 'source-' || i, 'Summary ' || i, i * 100, 'Docs ' || i, jsonb_build_object('knowledge_type', 'technical', 'tags', jsonb_build_array('t' || i)) FROM generate_series(1, 5) i;
INSERT INTO archon_crawled_pages (url, chunk_number, content, metadata, source_id)
  SELECT 'https://docs.example.com/page-' || (i % 40), i / 40, 'Chunk ' || i || ' of drill content DRILL-PLAINTEXT-MARKER ' || repeat('lorem ', i % 17), jsonb_build_object('headers', 'h' || i), 'source-' || (1 + i % 5) FROM generate_series(1, 400) i;
INSERT INTO archon_projects (id, title, description, docs) VALUES
  ('00000000-0000-4000-8000-000000000001', 'Archon', 'Knowledge and tasks', '[{"id": "d1", "title": "PRD"}]'),
  ('00000000-0000-4000-8000-000000000002', 'Infra', 'Pulumi', '[]');
INSERT INTO archon_tasks (project_id, title, status, task_order)
  SELECT CASE WHEN i % 2 = 0 THEN '00000000-0000-4000-8000-000000000001'::uuid ELSE '00000000-0000-4000-8000-000000000002'::uuid END, 'Task ' || i, (ARRAY['todo','doing','review','done'])[1 + i % 4], i FROM generate_series(1, 30) i;
`;
const TABLES = ["archon_settings", "archon_sources", "archon_crawled_pages", "archon_projects", "archon_tasks"];
// Supabase defines auth_role(); the policy above needs one.
const AUTH_ROLE_FUNCTION = "CREATE FUNCTION public.auth_role() RETURNS text LANGUAGE sql STABLE AS $$ SELECT current_setting('request.jwt.claim.role', true) $$;";

/** A PostgreSQL 15 cluster run as the postgres user, on a unix socket in its own directory. */
class Cluster {
    readonly socketDir: string;
    private readonly data: string;
    constructor(private readonly root: string, name: string) {
        this.socketDir = path.join(root, name);
        this.data = path.join(this.socketDir, "data");
        fs.mkdirSync(this.socketDir, { mode: 0o777 });
        fs.chmodSync(this.socketDir, 0o777);
    }
    /** From the test's own directory: the postgres user cannot enter a checkout inside a 0700 directory. */
    asPostgres(cmd: string, args: string[], env: Record<string, string> = {}, input?: string): { status: number | null; output: string } {
        return run("runuser", ["-u", "postgres", "--", "env", "-i", ...Object.entries({ PATH: `${PG_BIN}:/usr/bin:/bin`, HOME: this.root, ...env }).map(([k, v]) => `${k}=${v}`), cmd, ...args], { input, timeout: 240_000, cwd: this.root });
    }
    /** As asPostgres, without blocking the event loop: s3rver answers restic from this process. */
    asPostgresAsync(cmd: string, args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; output: string }> {
        return new Promise((resolve) => {
            const child = spawn("runuser", ["-u", "postgres", "--", "env", "-i", ...Object.entries({ PATH: `${PG_BIN}:/usr/bin:/bin`, HOME: this.root, ...env }).map(([k, v]) => `${k}=${v}`), cmd, ...args], { cwd: this.root });
            let output = "";
            child.stdout.on("data", (d: Buffer) => { output += d.toString(); });
            child.stderr.on("data", (d: Buffer) => { output += d.toString(); });
            const timer = setTimeout(() => child.kill("SIGKILL"), 240_000);
            child.on("close", (status) => { clearTimeout(timer); resolve({ status, output }); });
        });
    }
    start(): void {
        const init = this.asPostgres(`${PG_BIN}/initdb`, ["-D", this.data, "-A", "trust", "-U", "postgres"]);
        assert.equal(init.status, 0, init.output);
        const started = this.asPostgres(`${PG_BIN}/pg_ctl`, ["-D", this.data, "-w", "-o", `-k ${this.socketDir} -h ''`, "-l", path.join(this.socketDir, "log"), "start"]);
        assert.equal(started.status, 0, started.output);
    }
    stop(): void {
        this.asPostgres(`${PG_BIN}/pg_ctl`, ["-D", this.data, "-m", "immediate", "stop"]);
    }
    sql(text: string, database = "postgres"): string {
        const result = this.asPostgres(`${PG_BIN}/psql`, ["-X", "-v", "ON_ERROR_STOP=1", "-A", "-t", "-q", "-h", this.socketDir, "-U", "postgres", "-d", database], {}, text);
        assert.equal(result.status, 0, result.output);
        return result.output.trim();
    }
    /** Row count and an md5 over every row's text, per table. */
    fingerprint(database = "postgres"): Record<string, string> {
        return Object.fromEntries(TABLES.map((t) => [t, this.sql(`SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') FROM public.${t} x;`, database)]));
    }
}

describe("Postgres backups: restore drill (real PostgreSQL 15, restic)", function () {
    this.timeout(600_000);
    let root: string;
    let repository: string;
    const clusters: Cluster[] = [];

    before(async () => {
        requireTool(`${PG_BIN}/initdb`, "postgresql");
        requireTool("restic", "restic");
        requireTool("runuser", "util-linux");
        root = fs.mkdtempSync(path.join(os.tmpdir(), "archon-backup-drill-"));
        fs.chmodSync(root, 0o777);
        // restic's local repository type: the same repository format, encryption and retention as on S3.
        repository = path.join(root, "repository");
    });
    after(async () => {
        for (const cluster of clusters) cluster.stop();
        if (root) fs.rmSync(root, { recursive: true, force: true });
    });

    it("backs up with the stack's own scripts, keeps what the retention says, and restores the same rows", async () => {
        const result = await synth("staging", { ...CREDENTIALS, backupBucket: BUCKET, backupKeepDaily: 2, backupKeepWeekly: 1 });
        const compose = parseYaml(result.files["project/docker-compose.yml"]) as { services: Record<string, { environment: Record<string, string>; volumes: string[] }> };
        const service = compose.services[BACKUP_SERVICE];
        const secretEnv = parseEnvFile(result.files[`project/env/${BACKUP_SERVICE}.env`]);
        // The scripts exactly as the synth renders them for the host, staged where the postgres user can read them.
        const scripts = path.join(root, "scripts");
        fs.mkdirSync(scripts, { mode: 0o755 });
        for (const name of ["postgres-backup.sh", "postgres-restore.sh"]) {
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
        const env = (cluster: Cluster): Record<string, string> => {
            const rendered = { ...service.environment, ...secretEnv };
            delete rendered.SSL_CERT_FILE;
            return { ...rendered, PGHOST: cluster.socketDir, RESTIC_REPOSITORY: repository, RESTIC: "restic", BACKUP_WORK_DIR: work, METRICS_TEXTFILE_DIR: metrics };
        };
        assert.equal(service.environment.RESTIC_REPOSITORY, `s3:https://fsn1.your-objectstorage.com/${BUCKET}/staging`);
        assert.equal(service.environment.PGUSER, "supabase_admin");

        const source = new Cluster(root, "source");
        clusters.push(source);
        source.start();
        source.sql(SUPABASE_ROLES + AUTH_ROLE_FUNCTION + ARCHON_DATA);
        const backup = async (tag?: string) => {
            const outcome = await source.asPostgresAsync("sh", [path.join(scripts, "postgres-backup.sh")], { ...env(source), ...(tag ? { BACKUP_TAG: tag } : {}) });
            assert.equal(outcome.status, 0, outcome.output);
            return outcome.output;
        };
        await backup();
        source.sql("INSERT INTO archon_tasks (project_id, title) VALUES ('00000000-0000-4000-8000-000000000001', 'added after the first backup');");
        await backup();
        source.sql("UPDATE archon_settings SET value = 'anthropic' WHERE key = 'LLM_PROVIDER';");
        const third = await backup();
        await backup("pre-migration");
        const expected = source.fingerprint();

        // Retention by restic: three scheduled backups on one day, 2 daily + 1 weekly kept = the newest;
        // the pre-migration snapshot is kept in its own group.
        assert.match(third, /remove 1 snapshots/, "restic forget removed the older same-day snapshot");
        const listed = await source.asPostgresAsync("restic", ["snapshots", "--json", "--host", "staging"], env(source));
        assert.equal(listed.status, 0, listed.output);
        const snapshots = JSON.parse(listed.output) as { tags: string[]; paths: string[] }[];
        assert.deepEqual(snapshots.map((s) => [...s.tags].sort().join(",")).sort(), ["postgres,pre-migration", "postgres,scheduled"]);

        // Encrypted before upload: the repository holds none of the rows' text.
        const stored = run("grep", ["-rl", "-e", "DRILL-PLAINTEXT-MARKER", "-e", "gAAAAAB-encrypted-drill-marker", repository]);
        assert.equal(stored.status, 1, `plaintext found in the repository: ${stored.output}`);
        assert.ok(fs.readdirSync(path.join(repository, "data")).length > 0, "the repository holds data");

        // The textfile metric for node-exporter.
        const metric = fs.readFileSync(path.join(metrics, "postgres_backup.prom"), "utf8");
        const stamp = new RegExp(`^${BACKUP_METRIC} (\\d+)$`, "m").exec(metric);
        assert.ok(stamp && Math.abs(Number(stamp[1]) - Date.now() / 1000) < 600, metric);

        // A fresh cluster with the image's roles: restore the latest scheduled snapshot into its database.
        const fresh = new Cluster(root, "fresh");
        clusters.push(fresh);
        fresh.start();
        fresh.sql(SUPABASE_ROLES + AUTH_ROLE_FUNCTION);
        const restore = await fresh.asPostgresAsync("sh", [path.join(scripts, "postgres-restore.sh"), "latest"], env(fresh));
        assert.equal(restore.status, 0, restore.output);
        assert.deepEqual(fresh.fingerprint(), expected);
        assert.equal(fresh.sql("SELECT value FROM archon_settings WHERE key = 'LLM_PROVIDER'"), "anthropic", "the newest backup was restored");
        assert.equal(fresh.sql("SELECT relrowsecurity FROM pg_class WHERE relname = 'archon_settings'"), "t", "row level security came back");
        assert.equal(fresh.sql("SELECT has_table_privilege('anon', 'archon_sources', 'SELECT')"), "t", "grants came back");

        // Restoring again over the running database replaces its rows, it does not add to them.
        fresh.sql("DELETE FROM archon_tasks WHERE task_order < 10; INSERT INTO archon_projects (title) VALUES ('stray');");
        const again = await fresh.asPostgresAsync("sh", [path.join(scripts, "postgres-restore.sh"), "latest"], env(fresh));
        assert.equal(again.status, 0, again.output);
        assert.deepEqual(fresh.fingerprint(), expected);

        // Into a new database, for inspection, by snapshot id.
        const id = JSON.parse((await fresh.asPostgresAsync("restic", ["snapshots", "--json", "--host", "staging", "--tag", "postgres,scheduled"], env(fresh))).output)[0].short_id as string;
        const inspect = await fresh.asPostgresAsync("sh", [path.join(scripts, "postgres-restore.sh"), id, "archon_inspect"], env(fresh));
        assert.equal(inspect.status, 0, inspect.output);
        assert.deepEqual(fresh.fingerprint("archon_inspect"), expected);
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
            for (const k of ["RESTIC_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PGPASSWORD"]) assert.equal(svc.environment[k], undefined, `${name}: ${k} is not a plain setting`);
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
            retention: { keepDaily: 7, keepWeekly: 4 },
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
        for (const k of ["RESTIC_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PGPASSWORD"]) assert.equal(config[k], undefined, `${k} is not in the ConfigMap`);
        const secret = named(result, "kubernetes:core/v1:Secret", "postgres-backup-secrets");
        assert.ok("$secret" in (secret.inputs.stringData as object), "the Secret's data is a Pulumi secret");
        assert.deepEqual(Object.keys(plainInputs(secret).stringData).sort(), ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PGPASSWORD", "RESTIC_PASSWORD"]);

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
