/**
 * Rotation of every secret class as a procedure the program carries out (issue 25.6): raising
 * `secretsVersion` (synths of staging at versions 1, 2, 3) and running what the stack runs, with
 * the real restic and PostgreSQL 15:
 * - the backup repository's key is replaced by the next backup (restic key passwd), never left
 *   unopenable, and a skipped step says how to recover;
 * - the database's role passwords and JWT setting follow (the one-shot db-role-passwords, logged in
 *   with the previous superuser password), on a cluster that authenticates by password;
 * - Grafana's admin password is set from the rotated Secret before Grafana starts.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { alternatingSlots } from "../components/secrets/secrets";
import { PG_BIN, PostgresCluster } from "./fixtures/postgres-cluster";
import { named, plainInputs, requireTool, run, synth } from "./helpers";
import { SynthResult } from "../scripts/lib/synthesize";

const CREDENTIALS = { backupAccessKeyId: "drill-access-key", backupSecretAccessKey: "drill-secret-key" };
const SUPABASE = path.join(__dirname, "fixtures", "supabase");

function envFile(text: string): Record<string, string> {
    return Object.fromEntries(text.split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
}

/** A Compose service's environment as the container gets it: its plain settings and its 0600 env file. */
function serviceEnv(result: SynthResult, service: string): Record<string, string> {
    const compose = parseYaml(result.files["project/docker-compose.yml"]) as { services: Record<string, { environment?: Record<string, string> }> };
    return { ...compose.services[service].environment, ...envFile(result.files[`project/env/${service}.env`]) };
}

describe("secret rotation: secretsVersion raised, the stack follows (issue 25.6)", function () {
    this.timeout(600_000);
    let root: string;
    const versions: Record<number, SynthResult> = {};
    const clusters: PostgresCluster[] = [];

    before(async () => {
        requireTool(`${PG_BIN}/initdb`, "postgresql");
        requireTool("restic", "restic");
        requireTool("runuser", "util-linux");
        root = fs.mkdtempSync(path.join(os.tmpdir(), "archon-rotation-"));
        fs.chmodSync(root, 0o777);
        for (const version of [1, 2, 3, 4]) versions[version] = await synth("staging", { ...CREDENTIALS, secretsVersion: version });
    });
    after(() => {
        for (const cluster of clusters) cluster.stop();
        if (root) fs.rmSync(root, { recursive: true, force: true });
    });

    it("keeps each rotated secret in two alternating slots: version 1 keeps today's value, each raise renews one slot", () => {
        assert.deepEqual([1, 2, 3, 4].map(alternatingSlots), [
            { a: "1", b: "0", current: "a" }, { a: "1", b: "2", current: "b" }, { a: "3", b: "2", current: "a" }, { a: "3", b: "4", current: "b" },
        ]);
        const key = (v: number) => serviceEnv(versions[v], "postgres-backup");
        for (const v of [2, 3, 4]) {
            assert.equal(key(v).RESTIC_PASSWORD_PREVIOUS, key(v - 1).RESTIC_PASSWORD, `version ${v} knows version ${v - 1}'s backup key`);
            assert.notEqual(key(v).RESTIC_PASSWORD, key(v - 1).RESTIC_PASSWORD);
            const roles = serviceEnv(versions[v], "db-role-passwords");
            assert.equal(roles.PGPASSWORD_PREVIOUS, serviceEnv(versions[v - 1], "db-role-passwords").PGPASSWORD);
        }
        // The resource that held the one key before keeps its name and, at version 1, its keepers.
        const slotA = plainInputs(named(versions[1], "random:index/randomPassword:RandomPassword", "backup-encryption-key"));
        assert.deepEqual(slotA.keepers, { secretsVersion: "1" });
        assert.equal((versions[1].outputs.backupEncryptionKey as { $secret: string }).$secret, key(1).RESTIC_PASSWORD);
    });

    it("restic: the first backup after a raise replaces the repository's key; the old key no longer opens it; a skipped step says what to do", async () => {
        const db = new PostgresCluster(root, "restic-db", "supabase_admin");
        clusters.push(db);
        db.start();
        db.sql(fs.readFileSync(path.join(SUPABASE, "init.sql"), "utf8"));
        db.sql(fs.readFileSync(path.join(SUPABASE, "archon-data.sql"), "utf8"));
        const scripts = path.join(root, "backup-scripts");
        fs.mkdirSync(scripts, { mode: 0o755 });
        for (const name of ["backup-common.sh", "postgres-backup.sh", "postgres-restore.sh"]) fs.writeFileSync(path.join(scripts, name), versions[1].files[`project/config/postgres-backup/backup_${name}`]);
        const work = path.join(root, "backup-work");
        fs.mkdirSync(work, { mode: 0o777 });
        fs.chmodSync(work, 0o777);
        const env = (v: number, repository: string) => {
            const e = serviceEnv(versions[v], "postgres-backup");
            delete e.SSL_CERT_FILE;
            return { ...e, PGHOST: db.socketDir, RESTIC_REPOSITORY: repository, RESTIC: "restic", BACKUP_WORK_DIR: work, METRICS_TEXTFILE_DIR: "", RESTIC_CACHE_DIR: path.join(work, "cache") };
        };
        const backup = (v: number, repository: string) => db.asPostgresAsync("sh", [path.join(scripts, "postgres-backup.sh")], env(v, repository));
        const opens = async (v: number, repository: string) => (await db.asPostgresAsync("restic", ["cat", "config"], env(v, repository))).status === 0;
        const keys = async (v: number, repository: string) => (await db.asPostgresAsync("restic", ["key", "list", "--json"], env(v, repository))).output;

        const repository = path.join(root, "repository");
        assert.equal((await backup(1, repository)).status, 0);
        const rotated = await backup(2, repository);
        assert.equal(rotated.status, 0, rotated.output);
        assert.match(rotated.output, /opens with the previous backup key only .*replacing that key with the current one/);
        assert.ok(await opens(2, repository));
        assert.ok(!(await opens(1, repository)), "the old key was removed");
        assert.equal((JSON.parse(await keys(2, repository)) as unknown[]).length, 1, "one key: the stack's current");
        // Nothing to do on the next run; the next raise rotates again.
        const again = await backup(2, repository);
        assert.doesNotMatch(again.output, /replacing that key/);
        assert.equal((await backup(3, repository)).status, 0);
        assert.ok(await opens(3, repository) && !(await opens(2, repository)));
        // A restore between a raise and the next backup rotates the key too, then reads the snapshot.
        const restored = await db.asPostgresAsync("sh", [path.join(scripts, "postgres-restore.sh"), "--list", "--allow-empty", "latest"], env(4, repository));
        assert.equal(restored.status, 0, restored.output);
        assert.match(restored.output, /replacing that key/);

        // Raised twice with no backup in between: neither key the stack knows opens it.
        const skipped = path.join(root, "repository-skipped");
        assert.equal((await backup(1, skipped)).status, 0);
        const refused = await backup(3, skipped);
        assert.notEqual(refused.status, 0);
        assert.match(refused.output, /neither the current nor the previous backup key opens .*restic key add/);
        assert.ok(await opens(1, skipped), "the repository is untouched");
    });

    it("database: db-role-passwords logs in with the previous superuser password and sets every role's to the current values", async () => {
        const db = new PostgresCluster(root, "roles-db", "supabase_admin");
        clusters.push(db);
        const first = serviceEnv(versions[1], "db-role-passwords");
        db.start({ password: first.POSTGRES_PASSWORD });
        db.sql(fs.readFileSync(path.join(SUPABASE, "init.sql"), "utf8"));
        // What the image's first init did with version 1's values (migrations/supabase-init.sql).
        const scripts = path.join(root, "role-scripts");
        fs.mkdirSync(scripts, { mode: 0o755 });
        fs.writeFileSync(path.join(scripts, "sync-db-roles.sh"), versions[1].files["project/config/db-role-passwords/db-roles_sync-db-roles.sh"]);
        fs.writeFileSync(path.join(scripts, "supabase-init.sql"), versions[1].files["project/config/db-role-passwords/db-roles_supabase-init.sql"]);
        assert.equal(versions[1].files["project/config/db-role-passwords/db-roles_supabase-init.sql"], fs.readFileSync(path.join(__dirname, "..", "migrations", "supabase-init.sql"), "utf8"), "the same SQL as the image's first init");
        const sync = (v: number) => db.asPostgresAsync("sh", [path.join(scripts, "sync-db-roles.sh")], { ...serviceEnv(versions[v], "db-role-passwords"), PGHOST: db.socketDir });
        const init = await db.asPostgresAsync(`${PG_BIN}/psql`, ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", path.join(scripts, "supabase-init.sql")], { ...first, PGHOST: db.socketDir });
        assert.equal(init.status, 0, init.output);
        const login = (user: string, password: string) => run(`${PG_BIN}/psql`, ["-XAtw", "-h", db.socketDir, "-U", user, "-d", "postgres", "-c", "SELECT current_setting('app.settings.jwt_secret')"], { env: { PGPASSWORD: password, PATH: "/usr/bin:/bin" } });
        const passwordsOf = (v: number) => {
            const e = serviceEnv(versions[v], "db-role-passwords");
            return { supabase_admin: e.POSTGRES_PASSWORD, postgres: e.POSTGRES_PASSWORD, authenticator: e.AUTHENTICATOR_PASSWORD, supabase_auth_admin: e.SUPABASE_AUTH_ADMIN_PASSWORD, jwt: e.JWT_SECRET };
        };
        const v1 = passwordsOf(1);
        const v2 = passwordsOf(2);
        assert.equal(login("authenticator", v1.authenticator).status, 0, "version 1's passwords work before the raise");

        const rotated = await sync(2);
        assert.equal(rotated.status, 0, rotated.output);
        assert.match(rotated.output, /still has the password from before secretsVersion was raised/);
        for (const role of ["supabase_admin", "postgres", "authenticator", "supabase_auth_admin"] as const) {
            const now = login(role, v2[role]);
            assert.equal(now.status, 0, `${role} logs in with version 2's password: ${now.output}`);
            assert.equal(now.output.trim(), v2.jwt, "app.settings.jwt_secret is version 2's");
            assert.notEqual(login(role, v1[role]).status, 0, `${role}'s version 1 password is gone`);
        }
        db.password = v2.supabase_admin;
        const again = await sync(2);
        assert.equal(again.status, 0, again.output);
        assert.doesNotMatch(again.output, /from before secretsVersion/);

        // Raised twice without a deploy in between: it says so and changes nothing.
        const skipped = await sync(4);
        assert.equal(skipped.status, 1, skipped.output);
        assert.match(skipped.output, /neither the current nor the previous password of supabase_admin is accepted/);
        assert.equal(login("authenticator", v2.authenticator).status, 0);
    });

    it("every service that logs in waits for db-role-passwords (Compose: completed; Kubernetes: the Job)", async () => {
        const compose = parseYaml(versions[2].files["project/docker-compose.yml"]) as { services: Record<string, { depends_on?: Record<string, { condition: string }>; environment?: Record<string, string> }> };
        for (const service of ["rest", "auth", "meta", "archon-migrate", "postgres-backup", "postgres-backup-pre-migration"]) {
            assert.deepEqual(compose.services[service].depends_on?.["db-role-passwords"], { condition: "service_completed_successfully" }, service);
        }
        const production = await synth("production", { secretsVersion: 2 });
        const job = plainInputs(named(production, "kubernetes:batch/v1:Job", "db-role-passwords"));
        assert.deepEqual(job.spec.template.spec.containers[0].command, ["sh", "/db-roles/sync-db-roles.sh"]);
        // Its pod template carries the settings' checksum: a raise changes it, so Pulumi replaces the Job and it runs again.
        const before = plainInputs(named(await synth("production"), "kubernetes:batch/v1:Job", "db-role-passwords"));
        assert.notEqual(job.spec.template.metadata.annotations["archon.infra/config-checksum"], before.spec.template.metadata.annotations["archon.infra/config-checksum"]);
    });

    it("Grafana: the rotated password is set with Grafana's CLI before Grafana starts (Compose entrypoint, Kubernetes init container), and the pod rolls", async () => {
        const compose = parseYaml(versions[2].files["project/docker-compose.yml"]) as { services: Record<string, { entrypoint?: string[]; volumes?: string[]; image: string }> };
        const grafana = compose.services.grafana;
        assert.deepEqual(grafana.entrypoint, ["sh", "/etc/grafana-archon/grafana-admin-password.sh", "/run.sh"]);
        const script = versions[2].files["project/config/grafana/etc_grafana-archon_grafana-admin-password.sh"];
        assert.match(script.replace(/\\\n\s*/g, ""), /^ +printf '%s\\n' "\$GF_SECURITY_ADMIN_PASSWORD" \|\s+grafana cli --homepath \S+ --config \S+ admin reset-admin-password --password-from-stdin/m);
        assert.equal(run("shellcheck", ["-s", "sh", "-"], { input: script }).status, 0);
        assert.equal(envFile(versions[2].files["project/env/grafana.env"]).GF_SECURITY_ADMIN_PASSWORD, (versions[2].outputs.passwords as { $secret: { grafana: string } }).$secret.grafana, "the output is what Grafana is set to");

        const values = async (version: number) => plainInputs(named(await synth("production", { secretsVersion: version }), "kubernetes:helm.sh/v3:Release", "kube-prometheus-stack")).values.grafana;
        const [one, two] = [await values(1), await values(2)];
        const init = two.extraInitContainers[0];
        assert.equal(init.image, `docker.io/grafana/grafana:${two.image.tag}`, "the init container runs the server's own Grafana");
        assert.deepEqual(init.volumeMounts, [{ name: "storage", mountPath: "/var/lib/grafana" }]);
        assert.deepEqual(init.env[0].valueFrom, { secretKeyRef: { name: "grafana-admin", key: "admin-password" } });
        assert.notEqual(one.podAnnotations["archon.infra/admin-password-sha256"], two.podAnnotations["archon.infra/admin-password-sha256"], "a new password rolls the pod");
    });
});
