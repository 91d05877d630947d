/**
 * What the Supabase (and monitoring) images need to start, checked on both stacks' synth output,
 * each with the upstream line it follows (issue 19.2-19.6, 11.5).
 */
import * as assert from "assert";
import { parse as parseYaml } from "yaml";
import { renderHostScript } from "../components/hetzner/host-scripts";
import { run, synth } from "./helpers";

const compose = async () => parseYaml((await synth("staging")).files["project/docker-compose.yml"]).services;
const manifest = async (kind: string, name: string) => parseYaml((await synth("production")).files[`kubernetes/archon/${kind}-${name}.yaml`]);
const container = async (kind: string, name: string) => (await manifest(kind, name)).spec.template.spec.containers[0];

describe("Supabase containers start the way their images require", () => {
    it("PostgREST: `postgrest --ready` has a concrete admin host (v14.5 Client.hs refuses the special default \"!4\")", async () => {
        const rest = (await compose()).rest;
        assert.deepStrictEqual(rest.healthcheck.test, ["CMD", "postgrest", "--ready"]);
        const host = rest.environment.PGRST_ADMIN_SERVER_HOST;
        // Network.hs isSpecialHostName: "*", "*4", "!4", "*6", "!6".
        assert.ok(host && !["*", "*4", "!4", "*6", "!6"].includes(host), `PGRST_ADMIN_SERVER_HOST ${host}`);
        assert.strictEqual(rest.environment.PGRST_DB_MAX_ROWS, "1000", "upstream docker-compose.yml PGRST_DB_MAX_ROWS:-1000");
        const env = await manifest("ConfigMap", "rest-env");
        assert.strictEqual(env.data.PGRST_ADMIN_SERVER_HOST, host);
    });

    it("liveness asks whether the process is stuck, readiness whether it can serve (PostgREST Admin.hs /live vs /ready; Archon main.py / vs /health)", async () => {
        const rest = await container("Deployment", "rest");
        assert.strictEqual(rest.readinessProbe.httpGet.path, "/ready");
        assert.strictEqual(rest.livenessProbe.httpGet.path, "/live");
        const server = await container("Deployment", "archon-server");
        assert.strictEqual(server.readinessProbe.httpGet.path, "/health");
        assert.strictEqual(server.livenessProbe.httpGet.path, "/");
        // Every other probe tests its own process only, so liveness and readiness may be one check;
        // none of them is a readiness check that depends on the database.
        const result = await synth("production");
        for (const [file, text] of Object.entries(result.files)) {
            if (!/^kubernetes\/archon\/(Deployment|StatefulSet)-/.test(file)) continue;
            for (const c of parseYaml(text).spec.template.spec.containers) {
                if (!c.livenessProbe) continue;
                const live = JSON.stringify(c.livenessProbe.httpGet ?? c.livenessProbe.tcpSocket ?? c.livenessProbe.exec);
                assert.ok(!/"\/ready"|"\/health"/.test(live) || !["rest", "archon-server"].includes(c.name), `${c.name} liveness ${live}`);
            }
        }
    });

    it("Studio writes .next/cache on a scratch volume, as uid 1000, read-only root (apps/studio/Dockerfile: root-owned WORKDIR /app)", async () => {
        const studio = (await compose()).studio;
        assert.strictEqual(studio.user, "1000");
        assert.strictEqual(studio.read_only, true);
        assert.ok(studio.tmpfs.includes("/app/apps/studio/.next/cache"), JSON.stringify(studio.tmpfs));
        const k8s = await container("Deployment", "studio");
        assert.ok(k8s.volumeMounts.some((m: { mountPath: string }) => m.mountPath === "/app/apps/studio/.next/cache"));
    });

    it("the registry's htpasswd is owned by the registry container's uid on the Compose host", async () => {
        const registry = (await compose()).registry;
        assert.strictEqual(registry.user, "1000");
        const result = await synth("staging");
        const write = result.resources.find((r) => r.type === "command:remote:Command" && r.name === "secret-secrets-registry-auth-htpasswd");
        assert.ok(write, "the htpasswd is written by its own command");
        const script = JSON.stringify(write!.inputs);
        assert.match(script, /SECRET_FILE_OWNER='1000:1000'/);
        assert.match(script, /SECRET_FILE_MODE='0440'/);
        // The env files the Compose CLI reads stay the deploy user's, 0600.
        const envWrite = result.resources.find((r) => r.type === "command:remote:Command" && r.name === "secret-env-rest.env");
        assert.doesNotMatch(JSON.stringify(envWrite!.inputs), /export SECRET_FILE_OWNER=/);
        const rendered = renderHostScript(["write-secret-file"], { PROJECT_DIR: "/opt/archon", SECRET_FILE: "secrets/registry/x", SECRET_FILE_OWNER: "1000:1000", SECRET_FILE_MODE: "0440" });
        const check = run("shellcheck", ["-s", "bash", "-"], { input: rendered });
        assert.strictEqual(check.status, 0, check.output);
    });

    it("cAdvisor gets /dev/kmsg and /dev/disk (read-only) as google/cadvisor docs/running.md lists", async () => {
        const cadvisor = (await compose()).cadvisor;
        assert.ok(cadvisor.volumes.includes("/dev/disk:/dev/disk:ro"), JSON.stringify(cadvisor.volumes));
        assert.deepStrictEqual(cadvisor.devices, ["/dev/kmsg:/dev/kmsg:r"]);
        assert.ok(cadvisor.cap_add.includes("SYSLOG"), "reading /dev/kmsg with dmesg_restrict=1 needs CAP_SYSLOG");
        assert.notStrictEqual(cadvisor.privileged, true);
    });

    it("the pgsodium root key is provided at /etc/postgresql-custom/pgsodium_root.key from state, on both stacks", async () => {
        const db = (await compose()).db;
        // The file itself: a mount of /etc/postgresql-custom would hide the image's supautils.conf
        // (which postgresql.conf includes), wal-g.conf and extension-custom-scripts (supabase/postgres
        // Dockerfile-15), and the image's getkey script reads this fixed path.
        assert.ok(db.volumes.includes("./secrets/db/etc_postgresql-custom_pgsodium_root.key:/etc/postgresql-custom/pgsodium_root.key:ro"), JSON.stringify(db.volumes));
        assert.ok(!db.volumes.some((v: string) => v.split(":")[1] === "/etc/postgresql-custom"), JSON.stringify(db.volumes));
        const result = await synth("staging");
        assert.match(result.files["project/secrets/db/etc_postgresql-custom_pgsodium_root.key"], /^[0-9a-f]{64}$/);
        const key = result.resources.find((r) => r.type === "random:index/randomId:RandomId" && r.name === "pgsodium-root-key");
        assert.ok(key, "a RandomId");
        // Never replaced, hence the single-file mount above is never stale.
        assert.ok(!("keepers" in key!.inputs), "secretsVersion does not rotate it (a new key loses Vault's secrets)");
        assert.equal(key!.options.protect, true, "protected");
        const k8s = await container("StatefulSet", "db");
        assert.ok(k8s.volumeMounts.some((m: { mountPath: string }) => m.mountPath === "/etc/postgresql-custom/pgsodium_root.key"));
    });

    it("GoTrue: RS256 keys, mailer URL paths through Kong's /auth/v1 (upstream .env.example MAILER_URLPATHS_*)", async () => {
        const auth = (await compose()).auth;
        for (const kind of ["INVITE", "CONFIRMATION", "RECOVERY", "EMAIL_CHANGE"]) {
            assert.strictEqual(auth.environment[`GOTRUE_MAILER_URLPATHS_${kind}`], "/auth/v1/verify");
        }
        const env = (await synth("staging")).files["project/env/auth.env"];
        assert.match(env, /^GOTRUE_JWT_KEYS=\[/m);
    });
});
