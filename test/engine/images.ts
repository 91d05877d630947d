/**
 * The images of the system test (test/compose-engine.spec.ts), built with `docker import` from
 * root filesystems assembled here, once per test run:
 *
 * - the real program, from Debian's binaries with their shared libraries, where Debian ships it:
 *   nginx (the proxy with the rendered nginx.conf, and the Archon UI with images/archon-ui/nginx.conf),
 *   docker-registry, PostgreSQL 15 (db and the backup services), prometheus, alertmanager,
 *   blackbox-exporter, node-exporter, restic, busybox (data-permissions), python3 with cryptography
 *   (certbot's bootstrap-cert.py);
 * - test/engine/standin.sh for everything else, under the names the service's command and health
 *   check call, listening on the ports the rendered files connect to.
 * Each image keeps the upstream image's entrypoint contract (ENTRYPOINT/CMD, the binaries a health
 * check calls); users, read-only roots, tmpfs, capabilities and memory limits come from the rendered
 * Compose file, untouched.
 */
import * as fs from "fs";
import * as path from "path";
import { Engine, baseRoot, copyTree, copyWithLibraries, importImage } from "./engine";

const STANDIN = path.join(__dirname, "standin.sh");
const UI_DIR = path.join(__dirname, "..", "..", "images", "archon-ui");
const PATH_ENV = "ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** What a stand-in image answers to. */
export interface StandinSpec {
    /** Ports it listens on. */
    ports: number[];
    /** Command names installed as the stand-in (the service's command, its health check's), or absolute paths in the image. */
    commands: string[];
    /** URL paths answered with 200. */
    paths: string[];
    /** A one-shot: wait for these host:port targets, then exit with `exitCode`. */
    oneshot?: { connect: string[]; exitCode: number };
}

function write(root: string, file: string, text: string, mode = 0o644): void {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), text);
    fs.chmodSync(path.join(root, file), mode);
}

function symlink(root: string, target: string, link: string): void {
    fs.mkdirSync(path.dirname(path.join(root, link)), { recursive: true });
    fs.rmSync(path.join(root, link), { recursive: true, force: true });
    fs.symlinkSync(target, path.join(root, link));
}

/** A stand-in image (test/engine/standin.sh). */
export function buildStandin(engine: Engine, tag: string, spec: StandinSpec): void {
    const root = baseRoot();
    // Alloy's health check runs bash's /dev/tcp: the real bash, installed before the stand-in's
    // command names so that `bash` stays bash (a stand-in named bash would serve, never exit).
    copyWithLibraries(root, "/bin/bash");
    write(root, "standin/serve", fs.readFileSync(STANDIN, "utf8"), 0o755);
    for (const command of new Set(["python", "python3", "node", "postgrest", "kong", "uvicorn", "certbot", ...spec.commands])) {
        if (command.startsWith("/")) symlink(root, "/standin/serve", command.slice(1));
        else if (!fs.existsSync(path.join(root, "bin", command))) symlink(root, "/standin/serve", `usr/local/bin/${command}`);
    }
    for (const urlPath of new Set(["/", "/health", "/ready", "/live", "/healthz", "/status", "/metrics", "/-/ready", "/-/healthy", ...spec.paths])) {
        write(root, path.posix.join("standin/www", urlPath === "/" ? "index.html" : urlPath), urlPath === "/metrics" ? "standin_up 1\n" : "ok\n");
    }
    const env = [`ENV STANDIN_PORTS="${spec.ports.join(" ")}"`];
    if (spec.oneshot) env.push("ENV STANDIN_ONESHOT=1", `ENV STANDIN_CONNECT="${spec.oneshot.connect.join(" ")}"`, `ENV STANDIN_EXIT=${spec.oneshot.exitCode}`);
    importImage(engine, root, tag, [PATH_ENV, ...env, 'ENTRYPOINT ["/standin/serve"]']);
}

/** busybox itself (the data-permissions one-shot runs `/bin/sh -ec`). */
export function buildBusybox(engine: Engine, tag: string): void {
    importImage(engine, baseRoot(), tag, [PATH_ENV, 'CMD ["sh"]']);
}

/** A Go program of the Prometheus family at `as`, run as the image's ENTRYPOINT with `workdir`. */
export function buildPrometheusFamily(engine: Engine, tag: string, binary: string, as: string, workdir?: string, trees: string[] = []): void {
    const root = baseRoot();
    copyWithLibraries(root, binary, as);
    for (const tree of trees) copyTree(root, tree);
    if (workdir) fs.mkdirSync(path.join(root, workdir), { recursive: true });
    importImage(engine, root, tag, [PATH_ENV, `ENTRYPOINT ["${as}"]`, ...(workdir ? [`WORKDIR ${workdir}`] : [])]);
}

/**
 * The registry: Debian's docker-registry (distribution 2.8) as /bin/registry, with the upstream
 * image's entrypoint contract (distribution/distribution-library-image entrypoint.sh: a config file
 * argument becomes `registry serve <file>`; CMD is the config path).
 */
export function buildRegistry(engine: Engine, tag: string): void {
    const root = baseRoot();
    copyWithLibraries(root, "/usr/bin/docker-registry", "/bin/registry");
    write(root, "entrypoint.sh", '#!/bin/sh\nset -e\ncase "$1" in *.yaml|*.yml) set -- registry serve "$@" ;; serve|garbage-collect|help|-*) set -- registry "$@" ;; esac\nexec "$@"\n', 0o755);
    importImage(engine, root, tag, [PATH_ENV, 'ENTRYPOINT ["/entrypoint.sh"]', 'CMD ["/etc/docker/registry/config.yml"]']);
}

/** restic (the official image's ENTRYPOINT) with the CA bundle at Alpine's path. */
export function buildRestic(engine: Engine, tag: string): void {
    const root = baseRoot();
    copyWithLibraries(root, "/usr/bin/restic");
    write(root, "etc/ssl/certs/ca-certificates.crt", fs.readFileSync("/etc/ssl/certs/ca-certificates.crt", "utf8"));
    importImage(engine, root, tag, [PATH_ENV, 'ENTRYPOINT ["/usr/bin/restic"]']);
}

/** Debian's nginx laid out as the official image's paths are (temp files under /var/cache/nginx, pid in /var/run, logs to stdout/stderr). */
function nginxRoot(workerUid: number): string {
    const root = baseRoot({ nginx: workerUid, nobody: workerUid });
    // Debian's nginx runs its workers as `nobody:nogroup` when the config names no user.
    fs.appendFileSync(path.join(root, "etc/group"), `nogroup:x:${workerUid}:\n`);
    copyWithLibraries(root, "/usr/sbin/nginx");
    write(root, "etc/nginx/mime.types", fs.readFileSync("/etc/nginx/mime.types", "utf8"));
    // Debian's compiled-in temp paths (/var/lib/nginx/*) land where the official image's are
    // (/var/cache/nginx/*_temp), on the tmpfs the rendered service mounts there.
    symlink(root, "/var/cache/nginx", "var/lib/nginx");
    fs.mkdirSync(path.join(root, "var/cache/nginx"), { recursive: true });
    symlink(root, "/dev/stdout", "var/log/nginx/access.log");
    symlink(root, "/dev/stderr", "var/log/nginx/error.log");
    symlink(root, "var/run", "run");
    fs.rmSync(path.join(root, "run"), { force: true });
    fs.symlinkSync("var/run", path.join(root, "run"));
    return root;
}

/**
 * The proxy: nginx:*-alpine's contract with Debian's nginx. Its compiled-in worker user is
 * `nobody` (no --user at build), the official image's `nginx`, uid 101 (NGINX_WORKER_UID): here
 * both names are uid 101, so the workers read the 0440 htpasswd files as they do on the host.
 */
export function buildProxyNginx(engine: Engine, tag: string): void {
    importImage(engine, nginxRoot(101), tag, [PATH_ENV, 'CMD ["nginx", "-g", "daemon off;"]']);
}

/** The Archon UI image: images/archon-ui/nginx.conf over a one-page bundle, as uid 101. */
export function buildArchonUi(engine: Engine, tag: string): void {
    const root = nginxRoot(101);
    write(root, "etc/nginx/nginx.conf", fs.readFileSync(path.join(UI_DIR, "nginx.conf"), "utf8"));
    write(root, "usr/share/nginx/html/index.html", "<!doctype html><title>Archon</title>archon-ui-index\n");
    importImage(engine, root, tag, [PATH_ENV, "USER 101:101", 'CMD ["nginx", "-g", "daemon off;"]']);
}

/**
 * supabase/postgres's contract with Debian's PostgreSQL 15: docker-entrypoint.sh initialises
 * PGDATA as root with supabase_admin as the bootstrap superuser, creates what the image's own init
 * scripts create (Supabase's roles and schemas, test/fixtures/supabase/init.sql, so that the
 * db-role-passwords one-shot's ALTER USER authenticator/supabase_auth_admin finds them), sets the
 * superusers' password (supabase_admin and postgres, POSTGRES_PASSWORD), then runs the CMD as
 * `postgres` (uid 101, as in the image); the client binaries the backups and the health checks
 * call are on PATH. The mounted 99-archon-infra.sql is not run: nothing here logs in as its roles.
 */
export function buildPostgres(engine: Engine, tag: string): void {
    const root = baseRoot({ postgres: 101 });
    const bin = "/usr/lib/postgresql/15/bin";
    for (const tool of ["postgres", "initdb", "pg_ctl", "pg_isready", "psql", "pg_dump", "pg_restore"]) {
        copyWithLibraries(root, `${bin}/${tool}`);
        symlink(root, `${bin}/${tool}`, `usr/local/bin/${tool}`);
    }
    copyTree(root, "/usr/lib/postgresql/15/lib");
    // The shared libraries of the extensions Supabase's init creates (uuid-ossp links libuuid).
    for (const extension of ["uuid-ossp", "pgcrypto"]) copyWithLibraries(root, `/usr/lib/postgresql/15/lib/${extension}.so`);
    copyTree(root, "/usr/share/postgresql/15");
    copyTree(root, "/usr/share/zoneinfo");
    write(root, "etc/postgresql/postgresql.conf", "listen_addresses = '*'\nunix_socket_directories = '/var/run/postgresql'\nhba_file = '/etc/postgresql/pg_hba.conf'\n");
    write(root, "etc/postgresql/pg_hba.conf", "local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all 0.0.0.0/0 scram-sha-256\n");
    write(root, "usr/local/bin/docker-entrypoint.sh", [
        "#!/bin/sh",
        "set -e",
        'if [ "$1" = postgres ]; then',
        '    : "${PGDATA:?}" "${POSTGRES_PASSWORD:?}"',
        '    mkdir -p "$PGDATA" /var/run/postgresql',
        '    chown postgres:postgres "$PGDATA" /var/run/postgresql',
        '    chmod 700 "$PGDATA"',
        '    if [ ! -s "$PGDATA/PG_VERSION" ]; then',
        "        umask 077",
        '        printf "%s\\n" "$POSTGRES_PASSWORD" >/tmp/pwfile && chown postgres /tmp/pwfile',
        '        su -s /bin/sh postgres -c "initdb -D \'$PGDATA\' -U supabase_admin --pwfile=/tmp/pwfile --auth-host=scram-sha-256 --locale=C -E UTF8 >/dev/null"',
        "        rm -f /tmp/pwfile",
        // The image's init scripts, as postgres, on a server that listens on its socket only.
        '        su -s /bin/sh postgres -c "PGDATA=\'$PGDATA\' sh /usr/local/bin/supabase-image-init.sh"',
        "    fi",
        // The arguments carry no spaces (postgres -c key=value ...): one command line for su.
        '    exec su -s /bin/sh postgres -c "exec $*"',
        "fi",
        'exec "$@"',
        "",
    ].join("\n"), 0o755);
    write(root, "usr/local/bin/supabase-image-init.sh", [
        "#!/bin/sh",
        "set -e",
        'pg_ctl -D "$PGDATA" -w -s -o "-c listen_addresses= -c unix_socket_directories=/var/run/postgresql" start',
        "psql -X -q -h /var/run/postgresql -U supabase_admin -d postgres -v ON_ERROR_STOP=1 -f /supabase-image-init.sql",
        // psql interpolates :'pw' in what it reads, not in -c.
        "echo \"ALTER ROLE postgres PASSWORD :'pw';\" | psql -X -q -h /var/run/postgresql -U supabase_admin -d postgres -v ON_ERROR_STOP=1 -v pw=\"$POSTGRES_PASSWORD\"",
        'pg_ctl -D "$PGDATA" -w -s stop',
        "",
    ].join("\n"), 0o755);
    write(root, "supabase-image-init.sql", fs.readFileSync(path.join(__dirname, "..", "fixtures", "supabase", "init.sql"), "utf8"));
    importImage(engine, root, tag, [PATH_ENV, "ENV TZ=UTC", 'ENTRYPOINT ["docker-entrypoint.sh"]', 'CMD ["postgres"]']);
}

/**
 * certbot/certbot's contract for what the rendered loop calls: the real python3 with the
 * `cryptography` package (bootstrap-cert.py), busybox's wget, and a stand-in `certbot` that fails
 * as certbot does without a reachable ACME server.
 */
export function buildCertbot(engine: Engine, tag: string): void {
    const root = baseRoot();
    copyWithLibraries(root, "/usr/bin/python3.11");
    symlink(root, "/usr/bin/python3.11", "usr/local/bin/python3");
    copyTree(root, "/usr/lib/python3.11");
    for (const dir of ["test", "idlelib", "tkinter", "ensurepip", "lib2to3", "turtledemo", "pydoc_data"]) fs.rmSync(path.join(root, "usr/lib/python3.11", dir), { recursive: true, force: true });
    for (const item of fs.readdirSync("/usr/lib/python3/dist-packages").filter((n) => /^(cryptography|_cffi_backend|cffi)/.test(n))) copyTree(root, path.join("/usr/lib/python3/dist-packages", item));
    for (const file of walk(path.join(root, "usr/lib/python3/dist-packages")).filter((f) => f.endsWith(".so"))) copyWithLibraries(root, file.slice(root.length), file.slice(root.length));
    // OpenSSL 3 loads its providers from here (cryptography asks for the legacy one).
    copyTree(root, "/usr/lib/x86_64-linux-gnu/ossl-modules");
    copyTree(root, "/usr/lib/ssl");
    write(root, "standin/serve", fs.readFileSync(STANDIN, "utf8"), 0o755);
    symlink(root, "/standin/serve", "usr/local/bin/certbot");
    importImage(engine, root, tag, [PATH_ENV, 'ENTRYPOINT ["certbot"]']);
}

function walk(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}
