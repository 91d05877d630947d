/**
 * Archon as it really runs (issue 11): the UI as a static bundle behind the real nginx, the
 * migration image's guard against the real PostgreSQL 15 (twice, across an older release, from a
 * checkout nobody else may enter), the five images and who runs them in both stacks, and
 * archon-server as exactly one replica.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { ARCHON_BUILDS, buildContext, dockerfilePath } from "../components/registry/build-context";
import { loadArchonSource } from "../components/registry/archon-source";
import { readSourceRevision } from "../components/registry/release";
import { PORTS, archonUiUpstream } from "../components/services/workload-catalog";
import { SynthResult, reveal } from "../scripts/lib/synthesize";
import { ofType, plainInputs, requireTool, run, synth, writeTempFiles } from "./helpers";

const INFRA = path.resolve(__dirname, "..");
const UI_DIR = path.join(INFRA, "images", "archon-ui");
const NGINX_CONF = fs.readFileSync(path.join(UI_DIR, "nginx.conf"), "utf8");
const CHECKOUT = path.resolve(__dirname, "fixtures", "archon-checkout");
const IMAGE = "docker:index/image:Image";

/** The bundle Vite would write to dist/: an index.html and one hashed asset. */
const DIST = {
    "index.html": "<!doctype html><html><body><div id=\"root\"></div><script src=\"/assets/app.js\"></script>archon-ui-index</body></html>\n",
    // Large enough for gzip (gzip_min_length), and as repetitive as a minified bundle.
    "assets/app.js": "console.log('archon-ui bundle');\n".repeat(1000),
};

/** Where the fixture directory appears inside the namespace once /tmp (which holds it) is covered. */
const FIXTURE_MOUNT = "/mnt";

/**
 * A private mount namespace where the image's paths hold what the Dockerfile puts there:
 * /etc/nginx a copy of Debian's with the UI's nginx.conf, /usr/share/nginx/html the bundle, /tmp
 * a private writable directory (the tmpfs / emptyDir), /etc/hosts naming archon-server. The
 * fixture directory itself is at {@link FIXTURE_MOUNT} for `body`.
 */
function uiNamespaceScript(dir: string, body: string): string {
    return [
        "set -e",
        `mount --bind "${dir}" ${FIXTURE_MOUNT}`,
        `mount --bind ${FIXTURE_MOUNT}/hosts /etc/hosts`,
        `mount --bind ${FIXTURE_MOUNT}/etc-nginx /etc/nginx`,
        `mount --bind ${FIXTURE_MOUNT}/html /usr/share/nginx/html`,
        `mount --bind ${FIXTURE_MOUNT}/tmp /tmp`,
        body,
    ].join("\n");
}

function uiFixture(hostsLine: string): string {
    const dir = writeTempFiles({
        "etc-nginx/nginx.conf": NGINX_CONF,
        "etc-nginx/mime.types": fs.readFileSync("/etc/nginx/mime.types", "utf8"),
        // The file the Kubernetes stack mounts (Compose's per-request variant: test/compose-engine.spec.ts).
        "etc-nginx/archon-ui/upstream.conf": archonUiUpstream("kubernetes"),
        hosts: `127.0.0.1 localhost\n${hostsLine}\n`,
        ...Object.fromEntries(Object.entries(DIST).map(([file, text]) => [`html/${file}`, text])),
    }, "archon-ui-");
    fs.mkdirSync(path.join(dir, "tmp"));
    fs.chmodSync(path.join(dir, "tmp"), 0o1777);
    return dir;
}

describe("Archon UI image (real nginx)", () => {
    before(() => {
        requireTool("nginx", "nginx-light");
        requireTool("unshare", "util-linux");
    });

    it("is built from Archon's archon-ui-main with this repository's Dockerfile and nginx.conf, run as uid 101", () => {
        const build = ARCHON_BUILDS["archon-ui"];
        assert.strictEqual(build.archonContext, "archon-ui-main");
        const dockerfile = fs.readFileSync(dockerfilePath(build, CHECKOUT), "utf8");
        assert.match(dockerfile, /^RUN npm ci\b/m);
        assert.match(dockerfile, /^RUN npx vite build$/m);
        assert.match(dockerfile, /^FROM nginxinc\/nginx-unprivileged:\d+\.\d+\.\d+-alpine$/m, "runtime pinned by tag");
        assert.match(dockerfile, /^COPY --chown=0:0 \.archon-infra\/nginx\.conf \/etc\/nginx\/nginx\.conf$/m);
        assert.match(dockerfile, /^COPY --chown=0:0 --from=build \/app\/dist \/usr\/share\/nginx\/html$/m);
        assert.match(dockerfile, /^USER 101:101$/m);
        assert.doesNotMatch(dockerfile, /npm run dev|npx vite\s*$/m);
        // The staged context is Archon's UI source plus the config the Dockerfile copies.
        const staged = buildContext("archon-ui", CHECKOUT, fs.mkdtempSync(path.join(os.tmpdir(), "archon-stage-")));
        assert.strictEqual(fs.readFileSync(path.join(staged, ".archon-infra", "nginx.conf"), "utf8"), NGINX_CONF);
        assert.ok(fs.existsSync(path.join(staged, "Dockerfile")), "archon-ui-main's files are the context root");
        fs.rmSync(path.dirname(staged), { recursive: true, force: true });
    });

    it("passes the real `nginx -t` with archon-server resolvable", () => {
        const dir = uiFixture("10.0.0.2 archon-server");
        try {
            const result = run("unshare", ["-m", "--propagation", "private", "sh", "-c",
                uiNamespaceScript(dir, `nginx -t -e stderr -c /etc/nginx/nginx.conf >${FIXTURE_MOUNT}/out.log 2>&1 || { cat ${FIXTURE_MOUNT}/out.log; exit 1; }; cat ${FIXTURE_MOUNT}/out.log`)]);
            assert.strictEqual(result.status, 0, result.output);
            assert.match(result.output, /test is successful/);
            // The check is real: without the upstream's name it fails.
            fs.writeFileSync(path.join(dir, "hosts"), "127.0.0.1 localhost\n");
            const broken = run("unshare", ["-m", "--propagation", "private", "sh", "-c",
                uiNamespaceScript(dir, `nginx -t -e stderr -c /etc/nginx/nginx.conf >${FIXTURE_MOUNT}/out.log 2>&1 || { cat ${FIXTURE_MOUNT}/out.log; exit 1; }`)]);
            assert.notStrictEqual(broken.status, 0);
            assert.match(broken.output, /host not found in upstream "archon-server/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("as an unprivileged user serves index.html for a deep link, forwards /api and /health (nothing else) to archon-server, and gzips the bundle", () => {
        requireTool("ip", "iproute2");
        requireTool("setpriv", "util-linux");
        const dir = uiFixture("127.0.0.1 archon-server");
        fs.copyFileSync(path.join(__dirname, "fixtures", "ui-proxy-probe.js"), path.join(dir, "probe.js"));
        const m = FIXTURE_MOUNT;
        try {
            // A private network namespace: its own loopback, so the catalog's fixed ports
            // (ui 3737, server 8181) never meet another test's. nginx runs as nobody, from the
            // config as the image holds it; only /tmp is writable for it.
            const body = [
                "ip link set lo up",
                // nginx reopens /dev/stdout (access_log) as nobody: the log file must let it.
                `: >${m}/nginx.log && chmod 666 ${m}/nginx.log`,
                `setpriv --reuid=nobody --regid=nogroup --clear-groups nginx -e stderr -c /etc/nginx/nginx.conf -g "daemon off;" >${m}/nginx.log 2>&1 &`,
                "nginx_pid=$!",
                `status=0; timeout 60 "${process.execPath}" ${m}/probe.js ${PORTS.server} ${PORTS.ui} >${m}/probe.json 2>${m}/probe.err || status=$?`,
                "kill $nginx_pid 2>/dev/null || echo 'nginx had exited' >&2",
                "wait $nginx_pid || true",
                `cat ${m}/probe.err ${m}/nginx.log >&2`,
                "exit $status",
            ].join("\n");
            const result = run("unshare", ["-m", "-n", "--propagation", "private", "sh", "-c", uiNamespaceScript(dir, body)]);
            assert.strictEqual(result.status, 0, result.output);
            const seen = JSON.parse(fs.readFileSync(path.join(dir, "probe.json"), "utf8"));

            assert.strictEqual(seen.deepLink.status, 200);
            assert.strictEqual(seen.deepLink.body, DIST["index.html"], "SPA fallback: a deep link gets index.html");
            assert.match(seen.deepLink.contentType, /text\/html/);
            assert.strictEqual(seen.asset.body, DIST["assets/app.js"]);
            assert.strictEqual(seen.missingAsset.status, 404, "a missing hashed asset is a 404, not index.html");

            assert.strictEqual(seen.api.status, 200);
            assert.deepStrictEqual(JSON.parse(seen.api.body), { stub: "archon-server", url: "/api/projects?include=tasks" });
            assert.deepStrictEqual(JSON.parse(seen.health.body), { stub: "archon-server", url: "/health" });

            // Archon's UI has no Socket.IO client: /socket.io is no route to archon-server.
            assert.deepStrictEqual(seen.seen.map((r: { url: string }) => r.url),
                ["/api/projects?include=tasks", "/health"], "static paths and /socket.io never reach archon-server");

            // The bundle goes out gzipped to a browser that accepts it, and as is to one that does not.
            assert.strictEqual(seen.gzippedAsset.encoding, "gzip");
            assert.strictEqual(seen.gzippedAsset.body, DIST["assets/app.js"]);
            assert.ok(seen.gzippedAsset.bytes * 10 < DIST["assets/app.js"].length, `${seen.gzippedAsset.bytes} bytes gzipped of ${DIST["assets/app.js"].length}`);
            assert.match(seen.gzippedAsset.vary ?? "", /Accept-Encoding/i);
            assert.strictEqual(seen.asset.encoding, null);
            assert.strictEqual(seen.gzippedIndex.body, DIST["index.html"], "index.html (below gzip_min_length) as is");
            // nginx's temp files went to /tmp, the one writable path of the image.
            assert.ok(fs.existsSync(path.join(dir, "tmp", "proxy_temp")), `not in /tmp: ${fs.readdirSync(path.join(dir, "tmp"))}`);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

/** One Archon release's migration/ directory: file (relative) -> SQL. */
type Release = Record<string, string>;

/** A table that exists once complete_setup ran, and archon_migrations as Archon v0.1.0 defines it. */
const SETUP_HEAD = [
    "CREATE TABLE archon_migrations (id serial PRIMARY KEY, version text NOT NULL, migration_name text NOT NULL, applied_at timestamptz DEFAULT now(), checksum text, UNIQUE (version, migration_name));",
    "CREATE TABLE archon_settings (key text PRIMARY KEY);",
].join("\n");

/** Release A (older): setup records 001; 002 comes later; 003 is a migration the newer release dropped. */
const RELEASE_A: Release = {
    "complete_setup.sql": `${SETUP_HEAD}\nALTER TABLE archon_settings ADD COLUMN value text;\nINSERT INTO archon_migrations (version, migration_name) VALUES ('0.1.0', '001_add_value');\n`,
    // Not idempotent: applying a migration twice fails.
    "0.1.0/001_add_value.sql": "ALTER TABLE archon_settings ADD COLUMN value text;\n",
    "0.1.0/002_add_category.sql": "ALTER TABLE archon_settings ADD COLUMN category text;\n",
    "0.1.0/003_legacy_cache.sql": "CREATE TABLE archon_legacy_cache (id int);\n",
    // Beside the migrations in Archon's migration/: never applied.
    "RESET_DB.sql": "DROP TABLE archon_settings;\n",
    "0.1.0/DB_UPGRADE_INSTRUCTIONS.md": "not SQL\n",
};

/** Release B (newer): A's 001 and 002, 003 replaced by 0.2.0/001; its setup records all of them. */
const RELEASE_B: Release = {
    "complete_setup.sql": `${SETUP_HEAD}\nALTER TABLE archon_settings ADD COLUMN value text, ADD COLUMN category text, ADD COLUMN scope text;\n`
        + "INSERT INTO archon_migrations (version, migration_name) VALUES ('0.1.0', '001_add_value'), ('0.1.0', '002_add_category'), ('0.2.0', '001_add_scope');\n",
    "0.1.0/001_add_value.sql": RELEASE_A["0.1.0/001_add_value.sql"],
    "0.1.0/002_add_category.sql": RELEASE_A["0.1.0/002_add_category.sql"],
    "0.2.0/001_add_scope.sql": "ALTER TABLE archon_settings ADD COLUMN scope text;\n",
    // Sorts before 0.2.0 as text: the guard orders versions numerically.
    "0.10.0/001_add_note.sql": "ALTER TABLE archon_settings ADD COLUMN note text; ALTER TABLE archon_settings ALTER COLUMN scope SET DEFAULT 'x';\n",
    "RESET_DB.sql": RELEASE_A["RESET_DB.sql"],
};

describe("archon-migrate image: the guard against the real PostgreSQL 15", () => {
    const bin = "/usr/lib/postgresql/15/bin";
    let root: string;
    let data: string;
    // From the test's own directory: runuser keeps the working directory, and the postgres user
    // cannot enter a checkout in a 0700 directory (psql and pg_ctl then fail to change into it).
    const asPostgres = (cmd: string, args: string[], env: Record<string, string> = {}) =>
        run("runuser", ["-u", "postgres", "--", "env", ...Object.entries(env).map(([k, v]) => `${k}=${v}`), cmd, ...args], { cwd: root });

    before(function () {
        requireTool(`${bin}/initdb`, "postgresql");
        requireTool("runuser", "util-linux");
        // Everything the postgres OS user runs or reads is staged in this test's own directory.
        root = fs.mkdtempSync(path.join(os.tmpdir(), "archon-migrate-"));
        fs.chmodSync(root, 0o755);
        fs.mkdirSync(path.join(root, "pg"));
        run("chown", ["postgres:postgres", path.join(root, "pg")]);
        data = path.join(root, "pg", "data");
        const init = asPostgres(`${bin}/initdb`, ["-D", data, "-A", "trust", "-U", "postgres"]);
        assert.strictEqual(init.status, 0, init.output);
        const started = asPostgres(`${bin}/pg_ctl`, ["-D", data, "-w", "-o", `-k ${path.join(root, "pg")} -h ''`, "-l", path.join(root, "pg", "log"), "start"]);
        assert.strictEqual(started.status, 0, started.output);
    });

    after(() => {
        if (data) asPostgres(`${bin}/pg_ctl`, ["-D", data, "-m", "immediate", "stop"]);
        if (root) fs.rmSync(root, { recursive: true, force: true });
    });

    /**
     * An Archon checkout of `release` inside a directory only root may enter (0700), staged the way
     * the image build stages it (buildContext), into this test's directory.
     */
    function stageRelease(name: string, release: Release): string {
        const privateDir = fs.mkdtempSync(path.join(os.tmpdir(), "archon-private-"));
        fs.chmodSync(privateDir, 0o700);
        try {
            for (const [file, sql] of Object.entries(release)) {
                const target = path.join(privateDir, "Archon", "migration", file);
                fs.mkdirSync(path.dirname(target), { recursive: true });
                fs.writeFileSync(target, sql);
            }
            const staged = buildContext("archon-migrate", path.join(privateDir, "Archon"), path.join(root, "stage", name));
            run("chmod", ["-R", "a+rX", path.join(root, "stage")]);
            return staged;
        } finally {
            fs.rmSync(privateDir, { recursive: true, force: true });
        }
    }

    function database(name: string): Record<string, string> {
        const env = { PGHOST: path.join(root, "pg"), PGUSER: "postgres", PGDATABASE: "postgres", PATH: `${bin}:/usr/bin:/bin` };
        const created = asPostgres(`${bin}/psql`, ["-XAtc", `CREATE DATABASE ${name}`], env);
        assert.strictEqual(created.status, 0, created.output);
        return { ...env, PGDATABASE: name };
    }

    /** Runs the guard as the image runs it: its entrypoint, MIGRATIONS_DIR as the Dockerfile sets it (COPY migration/ /migrations/). */
    function guard(staged: string, env: Record<string, string>): { status: number | null; output: string } {
        return asPostgres("sh", [path.join(staged, ".archon-infra", "archon-migrate.sh")], { ...env, MIGRATIONS_DIR: path.join(staged, "migration") });
    }

    function sql(env: Record<string, string>, query: string): string {
        const result = asPostgres(`${bin}/psql`, ["-XAtc", query], env);
        assert.strictEqual(result.status, 0, result.output);
        return result.output.trim();
    }

    const applied = (env: Record<string, string>) => sql(env, "SELECT string_agg(version || '/' || migration_name, ' ' ORDER BY version, migration_name) FROM archon_migrations");
    const columns = (env: Record<string, string>) => sql(env, "SELECT string_agg(column_name, ' ' ORDER BY column_name) FROM information_schema.columns WHERE table_name = 'archon_settings'");
    const hasTable = (env: Record<string, string>, table: string) => sql(env, `SELECT to_regclass('public.${table}') IS NOT NULL`) === "t";

    it("the image holds Archon's migration/ at the tag and runs the guard as its entrypoint", () => {
        const build = ARCHON_BUILDS["archon-migrate"];
        assert.strictEqual(build.archonContext, "migration");
        const dockerfile = fs.readFileSync(dockerfilePath(build, CHECKOUT), "utf8");
        assert.match(dockerfile, /^COPY --chown=0:0 migration\/ \/migrations\/$/m);
        assert.match(dockerfile, /^COPY --chown=0:0 --chmod=0555 \.archon-infra\/archon-migrate\.sh \/usr\/local\/bin\/archon-migrate$/m);
        assert.match(dockerfile, /^ENTRYPOINT \["\/usr\/local\/bin\/archon-migrate"\]$/m);
        assert.match(dockerfile, /^ENV MIGRATIONS_DIR=\/migrations$/m);
        assert.match(dockerfile, /^FROM postgres:15\.\d+-alpine[\d.]*$/m, "psql from a base pinned by tag");
        assert.match(dockerfile, /^USER 70:70$/m);
    });

    it("sets up a fresh database once, then applies each later migration once, in version order, run after run", () => {
        const env = database("fresh");
        const staged = stageRelease("fresh", RELEASE_B);
        for (const attempt of [1, 2]) {
            const result = guard(staged, env);
            assert.strictEqual(result.status, 0, `run ${attempt}: ${result.output}`);
            if (attempt === 1) assert.match(result.output, /fresh database, applying complete_setup.sql[\s\S]*applying 0.10.0\/001_add_note/);
            else assert.doesNotMatch(result.output, /applying/);
        }
        assert.strictEqual(applied(env), "0.1.0/001_add_value 0.1.0/002_add_category 0.10.0/001_add_note 0.2.0/001_add_scope");
        assert.strictEqual(columns(env), "category key note scope value", "RESET_DB.sql never ran");
    });

    it("upgrades A -> B, and a rollback to A runs A's guard, which re-applies and downgrades nothing", () => {
        const env = database("rollback");
        const releaseA = stageRelease("a", RELEASE_A);
        const releaseB = stageRelease("b", RELEASE_B);
        for (const attempt of [1, 2]) assert.strictEqual(guard(releaseA, env).status, 0, `A run ${attempt}`);
        assert.strictEqual(applied(env), "0.1.0/001_add_value 0.1.0/002_add_category 0.1.0/003_legacy_cache");
        for (const attempt of [1, 2]) assert.strictEqual(guard(releaseB, env).status, 0, `B run ${attempt}`);
        assert.strictEqual(applied(env), "0.1.0/001_add_value 0.1.0/002_add_category 0.1.0/003_legacy_cache 0.10.0/001_add_note 0.2.0/001_add_scope");
        const before = columns(env);
        for (const attempt of [1, 2]) {
            const rollback = guard(releaseA, env);
            assert.strictEqual(rollback.status, 0, `rollback run ${attempt}: ${rollback.output}`);
            assert.match(rollback.output, /a newer release migrated it, applying nothing/);
        }
        assert.strictEqual(columns(env), before);
        // Back to B: nothing left to do.
        const again = guard(releaseB, env);
        assert.strictEqual(again.status, 0, again.output);
        assert.doesNotMatch(again.output, /applying/);
    });

    it("a rollback to A on a database B set up never applies A's migration that B dropped", () => {
        const env = database("newer_setup");
        assert.strictEqual(guard(stageRelease("b2", RELEASE_B), env).status, 0);
        const rollback = guard(stageRelease("a2", RELEASE_A), env);
        assert.strictEqual(rollback.status, 0, rollback.output);
        assert.match(rollback.output, /after this release's last \(0.1.0\/003_legacy_cache\): 0.2.0\/001_add_scope, 0.10.0\/001_add_note; a newer release migrated it/);
        assert.ok(!hasTable(env, "archon_legacy_cache"), "A's 003 was applied to B's schema");
        assert.strictEqual(applied(env), "0.1.0/001_add_value 0.1.0/002_add_category 0.10.0/001_add_note 0.2.0/001_add_scope");
    });

    it("refuses, in one line and applying nothing, a database with Archon's tables but no archon_migrations (an install older than migration tracking)", () => {
        const env = database("pre_tracking");
        sql(env, "CREATE TABLE archon_settings (key text PRIMARY KEY); CREATE TABLE archon_sources (id int)");
        const result = guard(stageRelease("old_install", RELEASE_B), env);
        assert.strictEqual(result.status, 1, result.output);
        assert.deepStrictEqual(result.output.trim().split("\n"), [
            "archon-migrate: the database has Archon tables (archon_settings, archon_sources) but no archon_migrations: an Archon install older than migration tracking, which complete_setup.sql cannot set up; bring it to Archon 0.1.0 by hand (Archon's migration/0.1.0/*.sql in order, see its DB_UPGRADE_INSTRUCTIONS.md) or restore into an empty database; applying nothing",
        ]);
        assert.ok(!hasTable(env, "archon_migrations"));
        assert.strictEqual(columns(env), "key", "complete_setup.sql never ran");
    });

    it("runs a file with its own BEGIN;/COMMIT; lines in one transaction with its record: a failure after its COMMIT leaves nothing applied", () => {
        const env = database("own_transaction");
        const failing: Release = {
            "complete_setup.sql": RELEASE_A["complete_setup.sql"],
            // As Archon's 0.1.0/003: a statement, BEGIN; ... COMMIT;, then more statements. PL/pgSQL's
            // BEGIN (no semicolon) is left alone.
            "0.1.0/002_with_own_transaction.sql": "SET maintenance_work_mem = '64MB';\nBEGIN;\nALTER TABLE archon_settings ADD COLUMN flag text;\n  commit ;\n"
                + "CREATE FUNCTION archon_one() RETURNS int LANGUAGE plpgsql AS $$\nBEGIN\n  RETURN 1;\nEND;\n$$;\nSELECT 1 / 0;\n",
        };
        const first = guard(stageRelease("own_tx_failing", failing), env);
        assert.notStrictEqual(first.status, 0, first.output);
        assert.match(first.output, /division by zero/);
        assert.strictEqual(columns(env), "key value", "the ALTER before the file's COMMIT line was rolled back with the rest");
        assert.strictEqual(applied(env), "0.1.0/001_add_value", "no record of the failed file");

        const fixed = { ...failing, "0.1.0/002_with_own_transaction.sql": failing["0.1.0/002_with_own_transaction.sql"].replace("SELECT 1 / 0;", "SELECT archon_one();") };
        for (const attempt of [1, 2]) {
            const result = guard(stageRelease(`own_tx_fixed_${attempt}`, fixed), env);
            assert.strictEqual(result.status, 0, `run ${attempt}: ${result.output}`);
            assert.doesNotMatch(result.output, /WARNING/, "no nested BEGIN / stray COMMIT");
        }
        assert.strictEqual(columns(env), "flag key value");
        assert.strictEqual(applied(env), "0.1.0/001_add_value 0.1.0/002_with_own_transaction");
    });

    it("fails, and says why, on a fresh database without complete_setup.sql", () => {
        const env = database("no_setup");
        const result = guard(stageRelease("empty", { "0.1.0/001_add_value.sql": RELEASE_A["0.1.0/001_add_value.sql"] }), env);
        assert.notStrictEqual(result.status, 0);
        assert.match(result.output, /complete_setup.sql is missing/);
    });
});

/** The Kubernetes object `kind/name` of the workloads namespace, as rendered. */
function manifest(result: SynthResult, kind: string, name: string): any {
    const text = result.files[`kubernetes/archon/${kind}-${name}.yaml`];
    assert.ok(text, `no ${kind} ${name}`);
    return parseYaml(text);
}

describe("Archon images and who runs them, in both stacks", () => {
    it("gives CI the program's own build definitions and staged contexts (npm run image-builds)", () => {
        const script = path.join(INFRA, "scripts", "image-builds.ts");
        const node = (...args: string[]) => run(process.execPath, ["--require", "ts-node/register/transpile-only", script, ...args], { cwd: INFRA });
        const listed = node();
        assert.strictEqual(listed.status, 0, listed.output);
        assert.deepStrictEqual(JSON.parse(listed.output), JSON.parse(JSON.stringify(ARCHON_BUILDS)));
        const stage = fs.mkdtempSync(path.join(os.tmpdir(), "archon-ci-stage-"));
        // The fixture checkout as a git work tree, and a record of its commit (the real record pins
        // Archon's commit, which image-builds demands: test/archon-source.spec.ts).
        const checkout = fs.mkdtempSync(path.join(os.tmpdir(), "archon-ci-checkout-"));
        try {
            fs.cpSync(CHECKOUT, checkout, { recursive: true });
            const git = (...args: string[]) => run("git", ["-C", checkout, "-c", "user.name=t", "-c", "user.email=t@example.com", ...args]);
            git("init", "-q");
            git("add", ".");
            git("commit", "-qm", "fixture");
            const record = { ...loadArchonSource(), commit: readSourceRevision(checkout)!.commit, files: {} };
            fs.writeFileSync(path.join(stage, "..", `${path.basename(stage)}.json`), JSON.stringify(record));
            const staged = node("--source", checkout, "--stage", stage, "--record", path.join(stage, "..", `${path.basename(stage)}.json`), "--image", "archon-migrate", "--image", "archon-ui");
            assert.strictEqual(staged.status, 0, staged.output);
            const lines = staged.output.trim().split("\n").map((line) => JSON.parse(line));
            assert.deepStrictEqual(lines.map((l) => l.image), ["archon-migrate", "archon-ui"]);
            assert.strictEqual(lines[0].context, buildContext("archon-migrate", checkout, stage), "the same content-addressed context as the program's");
            assert.strictEqual(lines[0].dockerfile, path.join(INFRA, "images", "archon-migrate", "Dockerfile"));
            assert.strictEqual(lines[1].context, buildContext("archon-ui", checkout, stage));
            assert.strictEqual(node("--image", "archon-nope").status, 2);
            // Not a git checkout: nothing says it is the pinned commit.
            assert.strictEqual(node("--source", CHECKOUT, "--stage", stage).status, 2);
        } finally {
            for (const dir of [stage, checkout, `${stage}.json`]) fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("builds five images on production and four on staging (agents off), migrate and UI from this repository's Dockerfiles", async () => {
        for (const [stack, expected] of [["production", ["archon-agents", "archon-mcp", "archon-migrate", "archon-server", "archon-ui"]], ["staging", ["archon-mcp", "archon-migrate", "archon-server", "archon-ui"]]] as const) {
            const result = await synth(stack, { buildImages: true, archonSourceDir: CHECKOUT });
            const images = Object.fromEntries(ofType(result, IMAGE).map((i) => [i.name, plainInputs(i)]));
            assert.deepStrictEqual(Object.keys(images).sort(), expected, stack);
            assert.strictEqual(images["archon-ui"].build.dockerfile, path.join(INFRA, "images", "archon-ui", "Dockerfile"));
            assert.strictEqual(images["archon-migrate"].build.dockerfile, path.join(INFRA, "images", "archon-migrate", "Dockerfile"));
            assert.ok(fs.existsSync(path.join(images["archon-migrate"].build.context, "migration", "complete_setup.sql")), "the staged context carries migration/");
            assert.ok(fs.existsSync(path.join(images["archon-migrate"].build.context, ".archon-infra", "archon-migrate.sh")));
            assert.match(images["archon-migrate"].imageName, /\/archon-migrate:sha-[0-9a-f]+$/);
            const release = (reveal(result.outputs) as { release: { images: Record<string, string> } }).release;
            assert.deepStrictEqual(Object.keys(release.images).sort(), expected, `${stack}: the release record lists every image`);
        }
    });

    it("runs the migration Job and the Compose one-shot from the archon-migrate image, with no Archon checkout", async () => {
        const production = await synth("production");
        const refs = (reveal(production.outputs) as { imageRefs: Record<string, string> }).imageRefs;
        const job = manifest(production, "Job", "archon-migrate").spec.template.spec.containers[0];
        assert.strictEqual(job.image, refs["archon-migrate"]);
        assert.match(job.image, /\/archon-migrate:sha-[0-9a-f]+$/);
        assert.strictEqual(job.command, undefined, "the image's entrypoint is the guard");
        assert.ok(!Object.keys(production.files).some((f) => /ConfigMap-archon-migrate-files/.test(f)), "no SQL shipped beside the image");

        const staging = await synth("staging");
        const migrate = parseYaml(staging.files["project/docker-compose.yml"]).services["archon-migrate"];
        assert.strictEqual(migrate.image, (reveal(staging.outputs) as { imageRefs: Record<string, string> }).imageRefs["archon-migrate"]);
        assert.strictEqual(migrate.entrypoint, undefined);
        assert.strictEqual(migrate.volumes, undefined, "nothing mounted from the deploy");
        assert.strictEqual(migrate.user, "70");
    });

    it("runs the UI as the static bundle: nginx as uid 101 on a read-only root with /tmp writable, on both targets", async () => {
        const production = await synth("production");
        const deployment = manifest(production, "Deployment", "archon-ui").spec.template.spec;
        const container = deployment.containers[0];
        assert.strictEqual(container.securityContext.runAsUser, 101);
        assert.strictEqual(container.securityContext.readOnlyRootFilesystem, true);
        const tmp = container.volumeMounts.find((m: { mountPath: string }) => m.mountPath === "/tmp");
        assert.ok(deployment.volumes.find((v: { name: string; emptyDir?: object }) => v.name === tmp?.name && v.emptyDir), "/tmp is an emptyDir");
        assert.deepStrictEqual(container.ports.map((p: { containerPort: number }) => p.containerPort), [PORTS.ui]);
        assert.match(NGINX_CONF, new RegExp(`listen ${PORTS.ui};`), "nginx listens on the catalog's UI port");
        // The server's address comes from the upstream file the stack mounts for its target.
        assert.match(NGINX_CONF, /include \/etc\/nginx\/archon-ui\/upstream\.conf;/);
        assert.match(archonUiUpstream("kubernetes"), new RegExp(`server archon-server:${PORTS.server};`), "nginx proxies to the catalog's server port (Kubernetes)");
        assert.match(archonUiUpstream("compose"), new RegExp(`default archon-server:${PORTS.server};`), "nginx proxies to the catalog's server port (Compose)");
        assert.ok(!production.files["kubernetes/archon/ConfigMap-archon-ui-env.yaml"]?.includes("VITE"), "no dev-server settings");

        const staging = await synth("staging");
        const ui = parseYaml(staging.files["project/docker-compose.yml"]).services["archon-ui"];
        assert.strictEqual(ui.user, "101");
        assert.strictEqual(ui.read_only, true);
        assert.deepStrictEqual(ui.tmpfs, ["/tmp"]);
    });

    it("tells Archon's MCP page the public MCP host (ARCHON_HOST) on both targets", async () => {
        const production = await synth("production");
        assert.strictEqual(manifest(production, "ConfigMap", "archon-server-env").data.ARCHON_HOST, "mcp.archon.example.com");
        const staging = await synth("staging");
        const server = parseYaml(staging.files["project/docker-compose.yml"]).services["archon-server"];
        assert.strictEqual(server.environment.ARCHON_HOST, "mcp.staging.archon.example.com");
    });
});

describe("archon-server: exactly one replica (production)", () => {
    it("runs one replica with Recreate, no HPA, and a PDB that lets a node drain", async () => {
        const result = await synth("production");
        const deployment = manifest(result, "Deployment", "archon-server");
        assert.strictEqual(deployment.spec.replicas, 1);
        assert.deepStrictEqual(deployment.spec.strategy, { type: "Recreate" });
        assert.ok(!Object.keys(result.files).some((f) => f.startsWith("kubernetes/archon/HorizontalPodAutoscaler-archon-server")), "no autoscaler");
        assert.ok(!ofType(result, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler").some((r) => r.name === "archon-server"));
        const pdbFile = result.files["kubernetes/archon/PodDisruptionBudget-archon-server.yaml"];
        if (pdbFile) {
            const pdb = parseYaml(pdbFile).spec;
            // An eviction of the one pod must be allowed: maxUnavailable >= 1, or minAvailable 0.
            assert.ok(pdb.maxUnavailable >= 1 || pdb.minAvailable === 0, `the PDB blocks node drains: ${JSON.stringify(pdb)}`);
        }
    });
});
