/**
 * The Supabase and Archon workloads: valid, hardened Kubernetes objects (production), a Compose
 * project docker-compose accepts (staging), Kong wired to the generated keys, no secret outside a
 * secret (the migration guard is tested in archon-runtime.spec.ts).
 */
import * as assert from "assert";
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import { renderComposeProject } from "../components/compose/project";
import { workloadCatalog } from "../components/services/workload-catalog";
import { SynthResult } from "../scripts/lib/synthesize";
import { generatedSecretValues, named, ofType, plainInputs, requireTool, run, synth, writeTempFiles } from "./helpers";

const NS = "archon";

function manifests(result: SynthResult): { file: string; doc: any }[] {
    return Object.entries(result.files)
        .filter(([file]) => file.startsWith(`kubernetes/${NS}/`) || file === `kubernetes/_cluster/Namespace-${NS}.yaml`)
        .map(([file, text]) => ({ file, doc: parseYaml(text) }));
}


function podTemplates(result: SynthResult): { kind: string; name: string; spec: any }[] {
    return manifests(result)
        .filter(({ doc }) => ["Deployment", "StatefulSet", "Job"].includes(doc.kind))
        .map(({ doc }) => ({ kind: doc.kind, name: doc.metadata.name, spec: doc.spec.template.spec }));
}

describe("workloads on Kubernetes (production)", () => {
    it("validates every rendered object against the Kubernetes schemas (kubernetes-models)", async () => {
        const result = await synth("production");
        const docs = manifests(result);
        assert.ok(docs.length > 50, `only ${docs.length} objects rendered`);
        // Custom resources of the add-ons (cert-manager, Traefik, the Prometheus operator) are not in
        // kubernetes-models' built-in schemas; the alert rules inside PrometheusRule pass promtool instead.
        const customResources = new Set(["cert-manager.io", "traefik.io", "monitoring.coreos.com"]);
        for (const { file, doc } of docs) {
            if (customResources.has(doc.apiVersion.split("/")[0])) continue;
            const [group, version] = doc.apiVersion.includes("/") ? doc.apiVersion.split("/") : [undefined, doc.apiVersion];
            const modelPath = group ? `kubernetes-models/${group}/${version}/${doc.kind}` : `kubernetes-models/${version}/${doc.kind}`;
            const Model = require(modelPath)[doc.kind];
            assert.doesNotThrow(() => new Model(doc).validate(), `${file} is not a valid ${doc.kind}`);
        }
    });

    it("renders every Supabase and Archon service, Postgres as a StatefulSet on a retained PVC, and a migration Job", async () => {
        const result = await synth("production");
        const kinds = new Map(podTemplates(result).map((t) => [t.name, t.kind]));
        for (const name of ["rest", "auth", "kong", "meta", "studio", "archon-server", "archon-mcp", "archon-agents", "archon-ui"]) {
            assert.strictEqual(kinds.get(name), "Deployment", name);
        }
        assert.strictEqual(kinds.get("db"), "StatefulSet");
        assert.strictEqual(kinds.get("archon-migrate"), "Job");
        const pvc = named(result, "kubernetes:core/v1:PersistentVolumeClaim", "db-data");
        assert.deepStrictEqual([pvc.options.protect, pvc.options.retainOnDelete], [true, true]);
        assert.strictEqual(plainInputs(pvc).spec.resources.requests.storage, "50Gi", "postgresStorageGb sizes the volume");
        const job = named(result, "kubernetes:batch/v1:Job", "archon-migrate");
        for (const app of ["archon-server", "archon-agents"]) {
            assert.ok(named(result, "kubernetes:apps/v1:Deployment", app).options.dependsOn?.includes(job.urn), `${app} waits for the migration Job`);
        }
        const server = named(result, "kubernetes:core/v1:Service", "archon-server");
        assert.strictEqual(plainInputs(server).metadata.name, "archon-server");
        // archon-server runs exactly one replica, never autoscaled (test/archon-runtime.spec.ts).
        assert.ok(!ofType(result, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler").some((h) => h.name === "archon-server"));
    });

    it("hardens every container and rolls pods on config changes", async () => {
        const result = await synth("production");
        for (const { kind, name, spec } of podTemplates(result)) {
            for (const c of spec.containers) {
                const where = `${kind} ${name}`;
                assert.strictEqual(c.securityContext.allowPrivilegeEscalation, false, where);
                assert.deepStrictEqual(c.securityContext.capabilities.drop, ["ALL"], where);
                assert.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory, `${where} has requests and limits`);
                if (name.startsWith("archon-")) assert.strictEqual(c.securityContext.runAsNonRoot, true, where);
                if (kind !== "Job") assert.ok(c.readinessProbe && c.livenessProbe, `${where} has probes`);
            }
        }
        for (const { doc } of manifests(result).filter(({ doc }) => doc.kind === "Deployment")) {
            // archon-server alone is Recreate: two of it must never run at once.
            if (doc.metadata.name === "archon-server") assert.strictEqual(doc.spec.strategy.type, "Recreate");
            else assert.strictEqual(doc.spec.strategy.rollingUpdate.maxUnavailable, 0, doc.metadata.name);
            assert.match(doc.spec.template.metadata.annotations["archon.infra/config-checksum"], /^[0-9a-f]{64}$/);
        }
        const changed = await synth("production", { domain: "other.example.com" });
        const checksum = (r: SynthResult, app: string) => parseYaml(r.files[`kubernetes/${NS}/Deployment-${app}.yaml`]).spec.template.metadata.annotations["archon.infra/config-checksum"];
        assert.notStrictEqual(checksum(changed, "auth"), checksum(result, "auth"), "new settings roll the pods that read them");
        assert.strictEqual(checksum(changed, "rest"), checksum(result, "rest"), "and only those");
    });

    it("denies by default and lets only its clients reach Postgres", async () => {
        const result = await synth("production");
        const policy = (n: string) => parseYaml(result.files[`kubernetes/${NS}/NetworkPolicy-${n}.yaml`]);
        assert.deepStrictEqual(policy("default-deny").spec.policyTypes, ["Ingress", "Egress"]);
        const clients = policy("allow-db").spec.ingress[0].from.map((p: any) => p.podSelector.matchLabels["app.kubernetes.io/name"]).sort();
        assert.deepStrictEqual(clients, ["archon-migrate", "auth", "db-role-passwords", "meta", "postgres-backup", "postgres-exporter", "rest", "studio"]);
    });

    it("points Archon at Kong through kong.localhost, with the service_role key", async () => {
        const result = await synth("production");
        const env = parseYaml(result.files[`kubernetes/${NS}/ConfigMap-archon-server-env.yaml`]).data;
        assert.strictEqual(env.SUPABASE_URL, "http://kong.localhost:8000");
        assert.strictEqual(env.DOCKER_CONTAINER, "true");
        for (const key of ["ARCHON_SERVER_PORT", "ARCHON_MCP_PORT", "ARCHON_AGENTS_PORT"]) assert.ok(env[key], key);
        const secret = plainInputs(named(result, "kubernetes:core/v1:Secret", "archon-server-secrets")).stringData;
        assert.strictEqual(secret.SUPABASE_SERVICE_KEY, (result.outputs as any).supabase.serviceRoleKey.$secret);
        const aliases = parseYaml(result.files[`kubernetes/${NS}/Deployment-archon-server.yaml`]).spec.template.spec.hostAliases;
        assert.deepStrictEqual(aliases[0].hostnames, ["kong.localhost"]);
        assert.match(aliases[0].ip, /^10\.43\./);
    });

    it("routes Kong with the generated keys", async () => {
        const result = await synth("production");
        const out = result.outputs as any;
        const secret = plainInputs(named(result, "kubernetes:core/v1:Secret", "kong-secrets")).stringData;
        const kong = parseYaml(secret.KONG_DECLARATIVE_CONFIG_STRING);
        const keyOf = (user: string) => kong.consumers.find((c: any) => c.username === user).keyauth_credentials[0].key;
        assert.strictEqual(keyOf("anon"), out.supabase.anonKey.$secret);
        assert.strictEqual(keyOf("service_role"), out.supabase.serviceRoleKey.$secret);
        assert.strictEqual(kong.basicauth_credentials[0].password, out.passwords.$secret?.dashboard ?? out.passwords.dashboard);
        const route = (p: string) => kong.services.find((s: any) => s.routes[0].paths.includes(p));
        for (const p of ["/rest/v1/", "/auth/v1/", "/graphql/v1"]) assert.deepStrictEqual(route(p).plugins.find((x: any) => x.name === "acl").config.allow, ["admin", "anon"], p);
        assert.deepStrictEqual(route("/pg/").plugins.find((x: any) => x.name === "acl").config.allow, ["admin"]);
        assert.ok(route("/").plugins.some((x: any) => x.name === "basic-auth"), "Studio sits behind basic auth");
    });

    it("keeps every secret value out of ConfigMaps, plain env values and non-secret outputs", async () => {
        const result = await synth("production");
        const secrets = generatedSecretValues(result);
        for (const { file, doc } of manifests(result)) {
            if (doc.kind === "Secret") continue;
            const text = JSON.stringify(doc);
            for (const s of secrets) assert.ok(!text.includes(s), `${file} holds a secret value`);
        }
        const plainOutputs = JSON.stringify(result.outputs, (_k, v) => (v && typeof v === "object" && "$secret" in v ? "[secret]" : v));
        for (const s of secrets) assert.ok(!plainOutputs.includes(s), "a non-secret output holds a secret value");
    });
});

describe("workloads on Docker Compose (staging)", () => {
    it("keeps every secret value out of the compose file and config files", async () => {
        const result = await synth("staging");
        const secrets = generatedSecretValues(result);
        const isSecretFile = (f: string) => f.startsWith("project/env/") || f.startsWith("project/secrets/");
        const projectFiles = Object.entries(result.files).filter(([f]) => (f.startsWith("project/") || f.startsWith("cloud-init/")) && !isSecretFile(f));
        assert.ok(projectFiles.some(([f]) => f === "project/docker-compose.yml"));
        for (const [file, text] of projectFiles) for (const s of secrets) assert.ok(!text.includes(s), `${file} holds a secret value`);
        const secretFiles = Object.entries(result.files).filter(([f]) => isSecretFile(f));
        assert.ok(secretFiles.some(([, text]) => secrets.some((s) => text.includes(s))), "the secrets travel in the 0600 env and secret files");
    });

    it("renders a project docker-compose 1.29 accepts, with secrets from the 0600 env files", async () => {
        requireTool("docker-compose", "docker-compose");
        const result = await synth("staging");
        const out = result.outputs as any;
        const secrets = {
            postgresPassword: "pg-Password-1", jwtSecret: "j".repeat(64), anonKey: out.supabase.anonKey.$secret,
            serviceRoleKey: out.supabase.serviceRoleKey.$secret, dashboardPassword: "dash$board", pgMetaCryptoKey: "m".repeat(32), archonUiHtpasswd: "archon:$2y$05$x\n", archonMcpHtpasswd: "mcp:$2y$05$y\n",
            authenticatorPassword: "authenticator-Password-2", authAdminPassword: "auth-admin-Password-3", pgsodiumRootKey: "a".repeat(64),
            gotrueJwtKeys: "[]", postgrestJwks: "{\"keys\":[]}",
        };
        const refs = { "archon-server": "r/archon-server:v1", "archon-mcp": "r/archon-mcp:v1", "archon-ui": "r/archon-ui:v1", "archon-agents": "r/archon-agents:v1", "archon-migrate": "r/archon-migrate:v1" };
        const project = renderComposeProject({
            services: workloadCatalog({ domain: "example.com", target: "compose", enableAgents: true, archonImages: refs, secrets }),
            dataDir: "/mnt/data",
        });
        const resolve = async (files: Record<string, pulumi.Output<string>>) =>
            Object.fromEntries(await Promise.all(Object.entries(files).map(async ([f, o]) => [f, await (o as any).promise()] as const)));
        const files = await resolve(project.files);
        const secretFiles = await resolve(project.secretFiles);
        assert.ok(!("archon-agents" in parseYaml(result.files["project/docker-compose.yml"]).services), "staging (enableAgents false) runs without the agents");
        assert.ok("archon-agents" in parseYaml(files["docker-compose.yml"]).services, "enableAgents adds the agents");
        const dir = writeTempFiles({ ...files, ...secretFiles });
        const check = run("docker-compose", ["config", "-q"], { cwd: dir });
        assert.strictEqual(check.status, 0, check.output);
        const resolved = parseYaml(run("docker-compose", ["config"], { cwd: dir }).output);
        assert.strictEqual(resolved.services["archon-server"].environment.SUPABASE_SERVICE_KEY, secrets.serviceRoleKey);
        // `docker-compose config` prints a literal $ escaped as $$.
        const kong = parseYaml(resolved.services.kong.environment.KONG_DECLARATIVE_CONFIG_STRING.replace(/\$\$/g, "$"));
        assert.strictEqual(kong.basicauth_credentials[0].password, secrets.dashboardPassword, "a $ in a secret survives the env file");
        assert.strictEqual(resolved.services["archon-server"].depends_on["archon-migrate"].condition, "service_completed_successfully");
        for (const [name, svc] of Object.entries<any>(resolved.services)) {
            for (const port of svc.ports ?? []) {
                const hostIp = typeof port === "string" ? port.split(":")[0] : port.host_ip;
                assert.strictEqual(hostIp, "127.0.0.1", `${name} publishes ${JSON.stringify(port)} beyond loopback`);
            }
            assert.deepStrictEqual(svc.cap_drop, ["ALL"], name);
        }
        fs.rmSync(dir, { recursive: true, force: true });
    });
});
