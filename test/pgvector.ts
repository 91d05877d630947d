/**
 * PostgreSQL with a real pgvector for the Archon schema tests (test/pglite-server.ts), the Supabase
 * roles and auth functions Archon's SQL expects of the database it runs on, the real
 * migrations/archon-migrate.sh run through the real psql, and what a schema holds that matters for
 * pgvector and Supabase (extensions, vector dimensions, index methods, policy roles and functions).
 */
import { ChildProcess, spawn } from "child_process";
import * as path from "path";
import { freePort, requireTool, run } from "./helpers";

const PROJECT_DIR = path.resolve(__dirname, "..");
export const ARCHON_MIGRATE = path.join(PROJECT_DIR, "migrations", "archon-migrate.sh");
/** What the supabase/postgres image creates before any application SQL (test/fixtures/archon-schema/supabase-prelude.sql). */
export const SUPABASE_PRELUDE = path.join(__dirname, "fixtures", "archon-schema", "supabase-prelude.sql");

export interface PgliteServer {
    /** libpq environment that reaches it. */
    env: Record<string, string>;
    /** `SELECT version()`. */
    version: string;
    stop(): Promise<void>;
}

/** Starts test/pglite-server.ts on a free loopback port and waits until it accepts connections. */
export async function startPglite(): Promise<PgliteServer> {
    requireTool("psql", "postgresql");
    const port = await freePort();
    const child: ChildProcess = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(__dirname, "pglite-server.ts"), String(port)],
        { cwd: PROJECT_DIR, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const version = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`PGlite did not start within 180 s: ${output}`)), 180_000);
        child.stdout!.on("data", (chunk: Buffer) => {
            output += chunk.toString();
            const ready = /^ready (.*)$/m.exec(output);
            if (ready) {
                clearTimeout(timer);
                resolve(ready[1]);
            }
        });
        child.stderr!.on("data", (chunk: Buffer) => { output += chunk.toString(); });
        child.once("exit", (code) => {
            clearTimeout(timer);
            reject(new Error(`PGlite exited with ${code}: ${output}`));
        });
    });
    const env = { PGHOST: "127.0.0.1", PGPORT: String(port), PGUSER: "postgres", PGDATABASE: "postgres", PGPASSWORD: "pglite", PGCONNECT_TIMEOUT: "30" };
    return {
        env,
        version,
        stop: () => new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once("exit", () => resolve());
            child.kill("SIGTERM");
            setTimeout(() => child.kill("SIGKILL"), 10_000).unref();
        }),
    };
}

/** psql as archon-migrate.sh runs it (stops at the first error), unaligned, tuples only. */
export function psql(env: Record<string, string>, args: string[]): { status: number | null; output: string } {
    return run("psql", ["-X", "-v", "ON_ERROR_STOP=1", "-A", "-t", "-q", ...args], { env: { ...process.env, ...env } });
}

/** One query's single value, or a failure naming the query. */
export function scalar(env: Record<string, string>, query: string): string {
    const result = psql(env, ["-c", query]);
    if (result.status !== 0) throw new Error(`${query}: ${result.output}`);
    return result.output.trim();
}

/** The real migrations/archon-migrate.sh with `migrationDir` as the image's /migrations. */
export function archonMigrate(env: Record<string, string>, migrationDir: string): { status: number | null; output: string } {
    requireTool("sh", "dash");
    return run("sh", [ARCHON_MIGRATE], { env: { ...process.env, ...env, MIGRATIONS_DIR: migrationDir } });
}

/** What a schema holds that its database must support: each list sorted. */
export interface SchemaInventory {
    /** Installed extensions (plpgsql aside). */
    extensions: string[];
    /** Dimensions of the vector columns of public tables. */
    vectorDimensions: number[];
    /** Non-btree indexes of public tables as "<access method> <operator class>". */
    indexMethods: string[];
    /** Roles the row-level security policies name ("public" for none). */
    policyRoles: string[];
    /** Functions of the auth schema the policies call. */
    policyFunctions: string[];
    /** Types of stored generated columns of public tables. */
    generatedColumnTypes: string[];
    /** Public functions that take a vector argument. */
    vectorFunctions: number;
    /** archon_migrations, as "<version>/<name>". */
    migrations: string[];
}

const list = (text: string): string[] => (text === "" ? [] : text.split(",").sort());

export function schemaInventory(env: Record<string, string>): SchemaInventory {
    const q = (query: string) => scalar(env, query);
    return {
        extensions: list(q("SELECT coalesce(string_agg(extname, ','), '') FROM pg_extension WHERE extname <> 'plpgsql'")),
        vectorDimensions: list(q(`SELECT coalesce(string_agg(DISTINCT a.atttypmod::text, ','), '') FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            JOIN pg_type t ON t.oid = a.atttypid WHERE t.typname = 'vector' AND c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped`)).map(Number).sort((x, y) => x - y),
        indexMethods: list(q(`SELECT coalesce(string_agg(DISTINCT am.amname || ' ' || opc.opcname, ','), '') FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            JOIN pg_am am ON am.oid = c.relam JOIN pg_opclass opc ON opc.oid = ANY (i.indclass::oid[]) WHERE c.relnamespace = 'public'::regnamespace AND am.amname <> 'btree'`)),
        policyRoles: list(q("SELECT coalesce(string_agg(DISTINCT CASE WHEN r = 0 THEN 'public' ELSE r::regrole::text END, ','), '') FROM pg_policy p, unnest(p.polroles) r")),
        policyFunctions: list(q(`SELECT coalesce(string_agg(DISTINCT m[1], ','), '') FROM pg_policy p,
            regexp_matches(coalesce(pg_get_expr(p.polqual, p.polrelid), '') || ' ' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), ''), '(auth\\.\\w+)\\(', 'g') m`)),
        generatedColumnTypes: list(q(`SELECT coalesce(string_agg(DISTINCT format_type(a.atttypid, a.atttypmod), ','), '') FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            WHERE a.attgenerated = 's' AND c.relnamespace = 'public'::regnamespace`)),
        vectorFunctions: Number(q("SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace AND 'vector'::regtype::oid = ANY (proargtypes::oid[])")),
        migrations: list(q("SELECT coalesce(string_agg(version || '/' || migration_name, ','), '') FROM archon_migrations")),
    };
}
