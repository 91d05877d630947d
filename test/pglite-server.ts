/**
 * A PostgreSQL server with a real pgvector, for the Archon schema tests: PGlite (PostgreSQL compiled
 * to WebAssembly, npm @electric-sql/pglite) with pgvector (@electric-sql/pglite-pgvector, pgvector's
 * own C source built for PGlite), pgcrypto and pg_trgm, served over the PostgreSQL wire protocol on
 * loopback by @electric-sql/pglite-socket, so the real psql and archon-migrate.sh talk to it as to
 * any server. Debian 12 packages no pgvector; this is the one real pgvector installable here.
 *
 * Run as its own process (`node -r ts-node/register/transpile-only test/pglite-server.ts <port>`):
 * the tests drive psql synchronously, which would starve a server in their own event loop. Prints
 * `ready <version>` once it accepts connections; stops on SIGTERM.
 */
import { Extension, PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite-pgvector";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { pgcrypto } = require("@electric-sql/pglite/contrib/pgcrypto") as { pgcrypto: Extension };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { pg_trgm } = require("@electric-sql/pglite/contrib/pg_trgm") as { pg_trgm: Extension };

async function main(): Promise<void> {
    const port = Number(process.argv[2]);
    if (!Number.isInteger(port) || port <= 0) throw new Error("usage: pglite-server.ts <port>");
    const db = await PGlite.create({ extensions: { vector, pgcrypto, pg_trgm } });
    const server = new PGLiteSocketServer({ db, port, host: "127.0.0.1" });
    await server.start();
    const version = (await db.query<{ version: string }>("SELECT version()")).rows[0].version;
    process.stdout.write(`ready ${version}\n`);
    process.on("SIGTERM", () => {
        void server.stop().then(() => db.close()).finally(() => process.exit(0));
    });
}

main().catch((err) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
});
