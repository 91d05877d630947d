/**
 * Archon's schema with a real pgvector (issue 30 item 7): the real migrations/archon-migrate.sh,
 * through the real psql, against PostgreSQL with pgvector (PGlite + @electric-sql/pglite-pgvector,
 * test/pglite-server.ts), after the roles and auth functions the Supabase image provides.
 *
 * What runs here, in CI: a fresh setup and an upgrade of a stand-in of Archon's migration/
 * (test/fixtures/archon-schema/standin, our own SQL) that uses every kind of object Archon's real SQL
 * creates, and the vector search it enables. What was run here during development and is recorded
 * (test/fixtures/archon-schema/archon-schema.json, scripts/record-archon-schema.ts): Archon's real
 * complete_setup.sql and migrations at the commit the program builds (images/archon-source.json),
 * fresh and upgraded from an older commit, through the same runner and server. CI checks the stand-in against that record (the same kinds of objects,
 * the same runner behaviour), not Archon's files themselves.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { PgliteServer, SUPABASE_PRELUDE, SchemaInventory, archonMigrate, psql, scalar, schemaInventory, startPglite } from "./pgvector";

const FIXTURES = path.join(__dirname, "fixtures", "archon-schema");
const STANDIN = { older: path.join(FIXTURES, "standin", "older"), current: path.join(FIXTURES, "standin", "current") };

interface RunFacts { firstRun: string[]; secondRun: string[]; inventory: SchemaInventory }
interface Recorded {
    repository: string;
    ref: string;
    commit: string;
    sqlFiles: Record<string, string>;
    filesWithOwnTransaction: string[];
    fresh: RunFacts;
    upgrade: { from: string; recordedBefore: string[]; run: string[]; inventory: SchemaInventory };
}

const RECORDED = JSON.parse(fs.readFileSync(path.join(FIXTURES, "archon-schema.json"), "utf8")) as Recorded;
/** The Archon commit the program builds its images (archon-migrate among them) from. */
const PINNED = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "images", "archon-source.json"), "utf8")) as { repository: string; commit: string };

/** The runner's own lines and psql's warnings (as the recorder keeps them). */
const runnerLines = (output: string) => output.split("\n").filter((l) => /^(archon-migrate:|WARNING:|ERROR:|psql:.*ERROR)/.test(l));
const applied = (lines: string[]) => lines.filter((l) => l.startsWith("archon-migrate: applying ")).map((l) => l.slice("archon-migrate: applying ".length));

function prepared(server: PgliteServer): Record<string, string> {
    const prelude = psql(server.env, ["-f", SUPABASE_PRELUDE]);
    assert.equal(prelude.status, 0, prelude.output);
    return server.env;
}

describe("Archon's schema with a real pgvector (PGlite), through archon-migrate.sh and psql", function () {
    this.timeout(300_000);
    let fresh: PgliteServer;
    let upgrade: PgliteServer;
    let freshInventory: SchemaInventory;

    before(async () => {
        [fresh, upgrade] = await Promise.all([startPglite(), startPglite()]);
    });

    after(async () => {
        await Promise.all([fresh?.stop(), upgrade?.stop()]);
    });

    it("sets up a fresh database with complete_setup.sql once; the next run applies nothing", () => {
        const env = prepared(fresh);
        const first = archonMigrate(env, STANDIN.current);
        assert.equal(first.status, 0, first.output);
        assert.deepEqual(runnerLines(first.output), ["archon-migrate: fresh database, applying complete_setup.sql", "archon-migrate: up to date"]);
        const second = archonMigrate(env, STANDIN.current);
        assert.equal(second.status, 0, second.output);
        assert.deepEqual(runnerLines(second.output), ["archon-migrate: up to date"]);
        freshInventory = schemaInventory(env);
        assert.deepEqual(freshInventory.migrations, ["0.1.0/001_add_pages", "0.1.0/002_add_search", "0.1.0/003_cascade_long_embeddings", "0.1.0/004_add_metadata"]);
        // Archon's real files behaved the same way here (recorded).
        assert.deepEqual(RECORDED.fresh.firstRun, ["archon-migrate: fresh database, applying complete_setup.sql", "archon-migrate: up to date"]);
        assert.deepEqual(RECORDED.fresh.secondRun, ["archon-migrate: up to date"]);
    });

    it("answers a vector similarity search on the schema it set up (pgvector's <=> through an ivfflat index)", () => {
        const env = fresh.env;
        const embedding = (hot: number) => `'[${Array.from({ length: 1536 }, (_, i) => (i === hot ? 1 : 0.01)).join(",")}]'`;
        const inserted = psql(env, ["-c", `INSERT INTO demo_pages (url, content, embedding_1536) VALUES
            ('https://a.example/', 'alpha page', ${embedding(0)}), ('https://b.example/', 'beta page', ${embedding(1)}), ('https://c.example/', 'gamma page', ${embedding(2)})`]);
        assert.equal(inserted.status, 0, inserted.output);
        // ivfflat searches the nearest list only by default (probes 1): with lists built on an empty
        // table that misses rows (pgvector's "low recall" notice, as on Archon's real setup).
        const nearest = (probes: number) => scalar(env, `SET ivfflat.probes = ${probes}; SELECT string_agg(url, ' ' ORDER BY similarity DESC) FROM match_demo_pages(${embedding(1)}::vector, 2)`);
        assert.equal(nearest(100), "https://b.example/ https://a.example/");
        assert.equal(scalar(env, `SET enable_seqscan = off; EXPLAIN (COSTS OFF) SELECT id FROM demo_pages ORDER BY embedding_1536 <=> ${embedding(1)}::vector LIMIT 2`).includes("demo_pages_embedding_1536"), true, "the search uses the ivfflat index");
        assert.equal(scalar(env, "SELECT count(*) FROM demo_pages WHERE content_search @@ to_tsquery('english', 'gamma')"), "1");
        assert.equal(scalar(env, "SELECT extversion <> '' FROM pg_extension WHERE extname = 'vector'"), "t");
    });

    it("uses every kind of object Archon's real schema creates (recorded at the ref the program builds)", () => {
        assert.ok(freshInventory, "the fresh setup ran");
        const real = RECORDED.fresh.inventory;
        const missing = (key: keyof SchemaInventory) => (real[key] as (string | number)[]).filter((v) => !(freshInventory[key] as (string | number)[]).includes(v));
        for (const key of ["extensions", "vectorDimensions", "indexMethods", "policyRoles", "policyFunctions", "generatedColumnTypes"] as const) {
            assert.deepEqual(missing(key), [], `the stand-in lacks ${key} that Archon ${RECORDED.ref} uses`);
        }
        assert.ok(real.vectorFunctions > 0 && freshInventory.vectorFunctions > 0);
        // The prelude provides what the real policies need of Supabase: its roles and auth functions.
        const prelude = fs.readFileSync(SUPABASE_PRELUDE, "utf8");
        for (const role of real.policyRoles.filter((r) => r !== "public")) assert.match(prelude, new RegExp(`CREATE ROLE ${role} `));
        for (const fn of real.policyFunctions) assert.match(prelude, new RegExp(`CREATE FUNCTION ${fn.replace(".", "\\.")}\\(`));
        assert.equal(RECORDED.repository, PINNED.repository);
        assert.equal(RECORDED.commit, PINNED.commit, "the schema facts are of another Archon commit than the one the program builds: record them again (npm run record-archon-schema)");
        assert.ok(RECORDED.sqlFiles["complete_setup.sql"]?.match(/^[0-9a-f]{64}$/));
    });

    it("upgrades a database an older release set up: applies only the newer migrations, in order, and ends with the fresh schema", () => {
        const env = prepared(upgrade);
        const setup = archonMigrate(env, STANDIN.older);
        assert.equal(setup.status, 0, setup.output);
        assert.deepEqual(schemaInventory(env).migrations, ["0.1.0/001_add_pages", "0.1.0/002_add_search"]);
        const run = archonMigrate(env, STANDIN.current);
        assert.equal(run.status, 0, run.output);
        assert.deepEqual(applied(runnerLines(run.output)), ["0.1.0/003_cascade_long_embeddings", "0.1.0/004_add_metadata"]);
        assert.deepEqual(schemaInventory(env), freshInventory, "upgraded and fresh databases hold the same schema");
        // 003 carries its own BEGIN/COMMIT lines, as Archon's 0.1.0/009 does: the runner applies it and
        // its record in one transaction, without psql's "no transaction in progress" warnings, as it
        // did on Archon's real files (recorded).
        assert.deepEqual(runnerLines(run.output).filter((l) => l.startsWith("WARNING:")), []);
        assert.deepEqual(RECORDED.upgrade.run.filter((l) => l.startsWith("WARNING:")), []);
        assert.ok(RECORDED.filesWithOwnTransaction.some((f) => applied(RECORDED.upgrade.run).includes(f.replace(/\.sql$/, ""))));
        assert.equal(scalar(env, "SELECT confdeltype FROM pg_constraint WHERE conname = 'demo_long_embeddings_page_id_fkey'"), "c", "003's cascade is in place");
    });

    it("the recorded real upgrade applied exactly what the older setup had not recorded, and converged on the fresh schema", () => {
        const shipped = Object.keys(RECORDED.sqlFiles).filter((f) => /^\d+\.\d+\.\d+\//.test(f)).map((f) => f.replace(/\.sql$/, "")).sort();
        assert.deepEqual(applied(RECORDED.upgrade.run), shipped.filter((m) => !RECORDED.upgrade.recordedBefore.includes(m)));
        assert.deepEqual(RECORDED.upgrade.inventory, RECORDED.fresh.inventory);
        assert.deepEqual(RECORDED.fresh.inventory.migrations, shipped);
    });
});
