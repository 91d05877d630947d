/**
 * The suite from a checkout other users cannot enter (issue 10.1): root's home directory or a
 * `mktemp -d` directory is 0700, so whatever a test runs as another OS user (postgres, nobody) must
 * be staged in the test's own world-traversable temp directory, and run from there. This copies the
 * checkout into a 0700 directory and runs, from there, the specs that run something as postgres.
 */
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PROJECT_DIR } from "../scripts/lib/stack-config";
import { requireTool, run } from "./helpers";

/** A copy of the checkout's files (tracked and new, as they are now) inside a fresh 0700 directory. */
function privateCheckout(): { outer: string; checkout: string } {
    const outer = fs.mkdtempSync(path.join(os.tmpdir(), "archon-private-checkout-"));
    fs.chmodSync(outer, 0o700);
    const checkout = path.join(outer, "archon-infra");
    const listed = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: PROJECT_DIR, encoding: "utf8" });
    for (const file of listed.split("\0").filter((f) => f && fs.existsSync(path.join(PROJECT_DIR, f)))) {
        fs.mkdirSync(path.dirname(path.join(checkout, file)), { recursive: true });
        fs.copyFileSync(path.join(PROJECT_DIR, file), path.join(checkout, file));
    }
    // The dependencies are reached through the private directory too, as after npm ci there.
    fs.symlinkSync(fs.realpathSync(path.join(PROJECT_DIR, "node_modules")), path.join(checkout, "node_modules"));
    return { outer, checkout };
}

describe("the suite from a checkout inside a 0700 directory", function () {
    this.timeout(600_000);

    it("runs the migration guard, the restore drill and the Postgres specs as the postgres user", () => {
        requireTool("runuser", "util-linux");
        requireTool("/usr/lib/postgresql/15/bin/initdb", "postgresql");
        const { outer, checkout } = privateCheckout();
        try {
            const denied = run("runuser", ["-u", "postgres", "--", "test", "-x", checkout], { cwd: "/" });
            assert.notEqual(denied.status, 0, "the postgres user cannot enter the checkout (the premise of this test)");
            const result = run(process.execPath, [
                path.join(checkout, "node_modules", "mocha", "bin", "mocha.js"),
                "--no-config", "--require", "ts-node/register/transpile-only", "--extension", "ts", "--timeout", "300000", "--reporter", "dot",
                "--grep", "the guard against the real PostgreSQL|restore drill|Supabase roles and JWTs|Postgres data directory",
                "test/archon-runtime.spec.ts", "test/backups.spec.ts", "test/supabase-roles-jwt.spec.ts", "test/postgres-data-directory.spec.ts",
            ], { cwd: checkout, timeout: 590_000 });
            assert.equal(result.status, 0, result.output);
            assert.match(result.output, /\d+ passing/);
            assert.doesNotMatch(result.output, /Permission denied|could not change directory/, result.output);
        } finally {
            fs.rmSync(outer, { recursive: true, force: true });
        }
    });
});
