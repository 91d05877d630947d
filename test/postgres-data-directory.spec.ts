/**
 * The db container's data directory, proven with the real PostgreSQL 15 (issue 19.1).
 *
 * supabase/postgres's postgresql.conf (ansible/files/postgresql_config/postgresql.conf.j2, FILE
 * LOCATIONS) hard-codes `data_directory = '/var/lib/postgresql/data'`, which overrides PGDATA and
 * -D. The test starts PostgreSQL exactly as the image's docker-entrypoint.sh would with what each
 * stack renders (the db's args and PGDATA, read back from the synth output), at the very container
 * paths (a private mount namespace binds temp directories over /var/lib/postgresql and
 * /etc/postgresql), on a volume-like directory whose root holds lost+found, with a config file
 * carrying the image's FILE LOCATIONS lines. It runs initdb into PGDATA as the entrypoint does, then
 * the rendered command, and sees the server accept connections in PGDATA. The same start without
 * the rendered `data_directory` fails as supabase/postgres #1611/#1612 report: the check can fail.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { requireTool, run, synth } from "./helpers";

const BIN = "/usr/lib/postgresql/15/bin";

/** The image's FILE LOCATIONS lines, plus what keeps the test off TCP and inside its own sockets. */
function supabaseStyleConfig(socketDir: string): string {
    return [
        "# As supabase/postgres postgresql.conf.j2: FILE LOCATIONS",
        "data_directory = '/var/lib/postgresql/data'",
        "hba_file = '/etc/postgresql/pg_hba.conf'",
        "ident_file = '/etc/postgresql/pg_ident.conf'",
        // The test's own: no TCP port (parallel runs never collide), a socket in its temp directory.
        "listen_addresses = ''",
        `unix_socket_directories = '${socketDir}'`,
        "",
    ].join("\n");
}

interface RenderedDb {
    args: string[];
    pgdata: string;
}

/** Starts the rendered command in a private mount namespace; returns what the server said. */
function startRendered(db: RenderedDb, root: string, variant: "rendered" | "without-data-directory"): { status: number | null; output: string } {
    const varLib = path.join(root, "var-lib-postgresql");
    const etc = path.join(root, "etc-postgresql");
    const run_ = path.join(root, "run");
    for (const dir of [varLib, etc, run_]) fs.mkdirSync(dir, { recursive: true });
    // The volume: its root is a file system's root, with lost+found (as ext4 on a Hetzner volume).
    const volume = path.join(varLib, "data");
    // Traversable like the real ones (Compose: data-permissions' mkdir; Kubernetes: fsGroup).
    fs.mkdirSync(volume, { mode: 0o755 });
    fs.mkdirSync(path.join(volume, "lost+found"), { mode: 0o700 });
    fs.writeFileSync(path.join(etc, "postgresql.conf"), supabaseStyleConfig(run_));
    fs.writeFileSync(path.join(etc, "pg_hba.conf"), "local all all trust\n");
    fs.writeFileSync(path.join(etc, "pg_ident.conf"), "");
    fs.chmodSync(root, 0o755);
    run("chown", ["-R", "postgres:postgres", run_, etc]);

    let serverArgs = db.args[0] === "postgres" ? db.args.slice(1) : db.args;
    if (variant === "without-data-directory") {
        const i = serverArgs.findIndex((a) => a.startsWith("data_directory="));
        serverArgs = serverArgs.filter((_, j) => j !== i && j !== i - 1);
    }
    const quoted = (a: string) => `'${a.replace(/'/g, `'"'"'`)}'`;
    const script = [
        "set -eu",
        `mount --bind ${quoted(varLib)} /var/lib/postgresql`,
        `mount --bind ${quoted(etc)} /etc/postgresql`,
        // docker-entrypoint.sh (docker_create_db_directories): mkdir PGDATA, owned by postgres, 0700.
        `mkdir -p "$PGDATA" && chown postgres:postgres "$PGDATA" && chmod 700 "$PGDATA"`,
        // docker_init_database_dir: initdb into PGDATA.
        `runuser -u postgres -- env PGDATA="$PGDATA" ${BIN}/initdb --username=supabase_admin --auth=trust >/dev/null`,
        // The final `exec "$@"`: the rendered command, PGDATA in the environment.
        // setpriv execs (runuser would fork and keep the server from our signals).
        `setpriv --reuid=postgres --regid=postgres --init-groups env PGDATA="$PGDATA" ${BIN}/postgres ${serverArgs.map(quoted).join(" ")} >${quoted(path.join(root, "server.log"))} 2>&1 &`,
        "server=$!",
        "ok=1",
        `for _ in $(seq 1 60); do if ${BIN}/pg_isready -q -h ${quoted(run_)}; then ok=0; break; fi; if ! kill -0 "$server" 2>/dev/null; then break; fi; sleep 0.5; done`,
        `if [ "$ok" = 0 ]; then runuser -u postgres -- ${BIN}/psql -XAt -h ${quoted(run_)} -U supabase_admin -d postgres -c 'SHOW data_directory'; fi`,
        `kill -INT "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true`,
        `cat ${quoted(path.join(root, "server.log"))}`,
        `exit "$ok"`,
    ].join("\n");
    // From the test's own directory: the postgres user cannot enter a checkout inside a 0700 directory.
    return run("unshare", ["-m", "--propagation", "private", "env", `PGDATA=${db.pgdata}`, "sh", "-c", script], { cwd: root });
}

async function renderedDb(stack: "staging" | "production"): Promise<RenderedDb> {
    const result = await synth(stack);
    if (stack === "staging") {
        const db = parseYaml(result.files["project/docker-compose.yml"]).services.db;
        return { args: db.command, pgdata: db.environment.PGDATA };
    }
    const statefulSet = parseYaml(result.files["kubernetes/archon/StatefulSet-db.yaml"]);
    const env = parseYaml(result.files["kubernetes/archon/ConfigMap-db-env.yaml"]);
    return { args: statefulSet.spec.template.spec.containers[0].args, pgdata: env.data.PGDATA };
}

describe("Postgres data directory (real PostgreSQL 15, rendered args and PGDATA, volume with lost+found)", function () {
    this.timeout(120_000);
    for (const stack of ["staging", "production"] as const) {
        it(`${stack}: the server starts in the rendered PGDATA and accepts connections`, async () => {
            requireTool(`${BIN}/postgres`, "postgresql");
            requireTool("unshare", "util-linux");
            const db = await renderedDb(stack);
            assert.ok(db.pgdata && db.pgdata !== "/var/lib/postgresql/data", `PGDATA ${db.pgdata} must be below the volume root (lost+found)`);
            const root = fs.mkdtempSync(path.join(os.tmpdir(), "archon-pgdata-"));
            try {
                const started = startRendered(db, root, "rendered");
                assert.strictEqual(started.status, 0, started.output);
                assert.match(started.output, new RegExp(`^${db.pgdata}$`, "m"), "SHOW data_directory is PGDATA");
            } finally {
                fs.rmSync(root, { recursive: true, force: true });
            }
        });
    }

    it("without the rendered data_directory, the image's postgresql.conf sends the server to the volume root, which fails", async () => {
        const db = await renderedDb("staging");
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "archon-pgdata-"));
        try {
            const started = startRendered(db, root, "without-data-directory");
            assert.notStrictEqual(started.status, 0, started.output);
            // The volume root is not the server's (root-owned: data-permissions / the PVC), and holds
            // no cluster: either way the server stops on it, as in supabase/postgres #1611/#1612.
            assert.match(started.output, /FATAL: +data directory "\/var\/lib\/postgresql\/data" (has wrong ownership|is not a valid data directory)|"\/var\/lib\/postgresql\/data" is not a valid data directory/);
        } finally {
            fs.rmSync(root, { recursive: true, force: true });
        }
    });
});
