/**
 * Records what Archon's real migration SQL does when the real runner applies it, as facts the suite
 * checks (test/archon-schema.spec.ts). Run by a developer with an Archon checkout (CI has none, and
 * none of Archon's SQL is committed: only the facts below are):
 *
 *   npm run record-archon-schema -- --archon <Archon git directory> --ref <the ref the program builds> --from <an older ref>
 *
 * Against PostgreSQL with a real pgvector (test/pglite-server.ts) and the Supabase prelude, it runs
 * migrations/archon-migrate.sh on `--ref`'s migration/ twice (fresh, then again: nothing to do), and
 * on a database `--from`'s migration/ set up (the upgrade), and writes
 * test/fixtures/archon-schema/archon-schema.json: the commits, the sha256 of every SQL file, the
 * runner's output lines, the schema inventory (test/pgvector.ts SchemaInventory) and the files that
 * carry their own transaction control.
 */
import { createHash } from "crypto";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { UsageError, parseCli, runCli } from "./lib/cli";
import { SUPABASE_PRELUDE, archonMigrate, psql, schemaInventory, startPglite } from "../test/pgvector";

function unpack(gitDir: string, ref: string, into: string): { commit: string; dir: string } {
    fs.mkdirSync(into, { recursive: true });
    const tar = execFileSync("git", ["--git-dir", gitDir, "archive", ref, "--", "migration"], { maxBuffer: 64 * 1024 * 1024 });
    execFileSync("tar", ["x", "-C", into], { input: tar });
    const commit = execFileSync("git", ["--git-dir", gitDir, "rev-parse", `${ref}^{commit}`]).toString().trim();
    return { commit, dir: path.join(into, "migration") };
}

function sqlFiles(dir: string): Record<string, string> {
    const files: Record<string, string> = {};
    const walk = (d: string) => {
        for (const entry of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
            const file = path.join(d, entry.name);
            if (entry.isDirectory()) walk(file);
            else if (entry.name.endsWith(".sql")) files[path.relative(dir, file)] = createHash("sha256").update(fs.readFileSync(file)).digest("hex");
        }
    };
    walk(dir);
    return files;
}

/** The runner's own lines and psql's warnings, without the NOTICEs of the SQL itself. */
const runnerLines = (output: string) => output.split("\n").filter((l) => /^(archon-migrate:|WARNING:|ERROR:|psql:.*ERROR)/.test(l));

async function main(): Promise<void> {
    const { values } = parseCli({
        options: {
            archon: { type: "string", help: "an Archon git directory; required" },
            ref: { type: "string", help: "the ref the program builds (the pinned commit); required" },
            from: { type: "string", help: "an older ref, for the upgrade run; required" },
        },
        help: {
            summary: "Records what Archon's real migration SQL does when the real runner applies it (test/fixtures/archon-schema/), against PostgreSQL with a real pgvector; for a developer with an Archon checkout.",
            usage: "npm run record-archon-schema -- --archon <git dir> --ref <ref> --from <older ref>",
            examples: ["npm run record-archon-schema -- --archon ../Archon/.git --ref ecaece460c1924e9a81a409aebee692146f8a301 --from 3ff3f7f2d"],
        },
    });
    const { archon: gitDir, ref, from } = values;
    if (!gitDir || !ref || !from) throw new UsageError("--archon <Archon git directory>, --ref <the ref the program builds> and --from <an older ref> are required");
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "archon-schema-"));
    const target = unpack(gitDir, ref, path.join(work, "target"));
    const older = unpack(gitDir, from, path.join(work, "older"));
    const withOwnTransaction = Object.keys(sqlFiles(target.dir)).filter((f) => /^\s*(BEGIN|COMMIT)\s*;/im.test(fs.readFileSync(path.join(target.dir, f), "utf8")));

    /** A fresh PGlite with the Supabase prelude, `body` run against it, then stopped. */
    const withDatabase = async <T>(body: (env: Record<string, string>) => T): Promise<{ result: T; version: string }> => {
        const server = await startPglite();
        try {
            const prelude = psql(server.env, ["-f", SUPABASE_PRELUDE]);
            if (prelude.status !== 0) throw new Error(prelude.output);
            return { result: body(server.env), version: server.version };
        } finally {
            await server.stop();
        }
    };
    const migrate = (env: Record<string, string>, dir: string, what: string) => {
        const result = archonMigrate(env, dir);
        if (result.status !== 0) throw new Error(`${what} failed: ${result.output}`);
        return runnerLines(result.output);
    };
    const fresh = await withDatabase((env) => ({
        firstRun: migrate(env, target.dir, "the fresh run"),
        secondRun: migrate(env, target.dir, "the second run"),
        inventory: schemaInventory(env),
    }));
    const freshFacts = fresh.result;
    const upgradeFacts = (await withDatabase((env) => {
        migrate(env, older.dir, `${from}'s setup`);
        const recordedBefore = schemaInventory(env).migrations;
        const run = migrate(env, target.dir, "the upgrade");
        return { from, fromCommit: older.commit, recordedBefore, run, inventory: schemaInventory(env) };
    })).result;

    const fixture = {
        repository: "coleam00/Archon",
        ref,
        commit: target.commit,
        recordedWith: `migrations/archon-migrate.sh and psql against ${fresh.version}, pgvector from @electric-sql/pglite-pgvector, after test/fixtures/archon-schema/supabase-prelude.sql`,
        sqlFiles: sqlFiles(target.dir),
        filesWithOwnTransaction: withOwnTransaction,
        fresh: freshFacts,
        upgrade: upgradeFacts,
    };
    const out = path.join(__dirname, "..", "test", "fixtures", "archon-schema", "archon-schema.json");
    fs.writeFileSync(out, JSON.stringify(fixture, null, 1) + "\n");
    fs.rmSync(work, { recursive: true, force: true });
    console.log(`${out}: ${Object.keys(fixture.sqlFiles).length} SQL files; fresh: ${freshFacts.inventory.migrations.length} migrations recorded; upgrade from ${from}: ${upgradeFacts.run.filter((l) => l.includes("applying")).length} applied`);
}

runCli(main);
