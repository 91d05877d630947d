/**
 * The private registry: its rendered config.yml and htpasswd run in the real distribution server
 * (Debian's docker-registry) and accept exactly the generated credentials; the catalog entry is
 * stateful with protected storage and a route; an external registry deploys nothing; the Compose
 * host gets its pull credentials over stdin only.
 */
import * as assert from "assert";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { reveal } from "../scripts/lib/synthesize";
import { INSTALL_DOCKER_CONFIG } from "../components/registry/login";
import { freePort, named, plainInputs, requireTool, run, synth, writeTempFiles } from "./helpers";

const REGISTRY_URN = /archon:infra:Registry::registry$/;

interface RegistryOutputs {
    server: string;
    username: string;
    external: boolean;
    files: Record<string, string>;
}

async function registryOutputs(stack: string, overrides: Record<string, unknown> = {}): Promise<RegistryOutputs> {
    const result = await synth(stack, overrides);
    const entry = Object.entries(result.componentOutputs).find(([urn]) => REGISTRY_URN.test(urn));
    assert.ok(entry, "the program declares no Registry component");
    return reveal(entry[1]) as RegistryOutputs;
}


function get(port: number, urlPath: string, auth?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
    return new Promise((resolve, reject) => {
        const headers = auth ? { Authorization: `Basic ${Buffer.from(auth).toString("base64")}` } : undefined;
        const request = http.get({ host: "127.0.0.1", port, path: urlPath, headers }, (response) => {
            response.resume();
            response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers }));
        });
        request.on("error", reject);
    });
}

/** Polls until the server answers (at most 50 x 100 ms), or fails with its output. */
async function waitUntilServing(port: number, server: ChildProcess, output: () => string): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt++) {
        if (server.exitCode !== null) throw new Error(`docker-registry exited ${server.exitCode}:\n${output()}`);
        try {
            await get(port, "/");
            return;
        } catch {
            await new Promise((resolve) => setTimeout(resolve, 100));
        }
    }
    throw new Error(`docker-registry did not answer on 127.0.0.1:${port}:\n${output()}`);
}

describe("registry", () => {
    describe("in the real docker-registry server", () => {
        let server: ChildProcess | undefined;
        let port = 0;
        let username = "";
        let password = "";
        let output = "";
        let workDir = "";

        before(async () => {
            const binary = requireTool("docker-registry", "docker-registry");
            const rendered = await registryOutputs("staging");
            const outputs = reveal((await synth("staging")).outputs) as { passwords: { registry: string } };
            username = rendered.username;
            password = outputs.passwords.registry;
            const config = parseYaml(rendered.files["/etc/docker/registry/config.yml"]) as {
                http: { addr: string; debug: { addr: string } };
                storage: { filesystem: { rootdirectory: string } };
                auth: { htpasswd: { path: string } };
            };
            port = await freePort();
            workDir = writeTempFiles({ htpasswd: rendered.files["/auth/htpasswd"] }, "archon-registry-");
            // Only the listen addresses and the on-disk locations change; everything else is as rendered.
            config.http.addr = `127.0.0.1:${port}`;
            config.http.debug.addr = `127.0.0.1:${await freePort()}`;
            config.storage.filesystem.rootdirectory = path.join(workDir, "data");
            config.auth.htpasswd.path = path.join(workDir, "htpasswd");
            fs.writeFileSync(path.join(workDir, "config.yml"), toYaml(config));
            server = spawn(binary, ["serve", path.join(workDir, "config.yml")], { stdio: ["ignore", "pipe", "pipe"] });
            server.stdout?.on("data", (chunk) => (output += chunk));
            server.stderr?.on("data", (chunk) => (output += chunk));
            await waitUntilServing(port, server, () => output);
        });

        after(() => {
            server?.kill("SIGTERM");
            if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
        });

        it("answers the health check path without credentials", async () => {
            assert.strictEqual((await get(port, "/")).status, 200);
        });

        it("refuses the API without credentials, with a Basic challenge", async () => {
            const response = await get(port, "/v2/");
            assert.strictEqual(response.status, 401, output);
            assert.match(String(response.headers["www-authenticate"]), /^Basic realm=/);
        });

        it("accepts the generated user and password", async () => {
            assert.strictEqual((await get(port, "/v2/", `${username}:${password}`)).status, 200, output);
        });

        it("refuses a wrong password", async () => {
            assert.strictEqual((await get(port, "/v2/", `${username}:${password}x`)).status, 401);
        });

        it("refuses another user with the right password", async () => {
            assert.strictEqual((await get(port, "/v2/", `admin:${password}`)).status, 401);
        });
    });

    it("writes an htpasswd that apache's htpasswd verifies against the generated password", async () => {
        requireTool("htpasswd", "apache2-utils");
        const rendered = await registryOutputs("staging");
        const outputs = reveal((await synth("staging")).outputs) as { passwords: { registry: string } };
        const dir = writeTempFiles({ htpasswd: rendered.files["/auth/htpasswd"] });
        const file = path.join(dir, "htpasswd");
        assert.strictEqual(run("htpasswd", ["-vb", file, rendered.username, outputs.passwords.registry]).status, 0);
        assert.notStrictEqual(run("htpasswd", ["-vb", file, rendered.username, "not-the-password"]).status, 0);
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("serves at registry.<domain> and keeps the htpasswd secret", async () => {
        const result = await synth("production");
        const entry = Object.entries(result.componentOutputs).find(([urn]) => REGISTRY_URN.test(urn));
        assert.ok(entry);
        const files = entry[1].files as Record<string, unknown>;
        assert.ok(typeof files["/etc/docker/registry/config.yml"] === "string", "config.yml is not secret");
        assert.ok(typeof files["/auth/htpasswd"] === "object" && files["/auth/htpasswd"] !== null && "$secret" in files["/auth/htpasswd"], "htpasswd must be secret");
        assert.strictEqual(entry[1].server, "registry.archon.example.com");
        const config = parseYaml(String(files["/etc/docker/registry/config.yml"])) as { http: { host: string }; storage: { delete: { enabled: boolean } } };
        assert.strictEqual(config.http.host, "https://registry.archon.example.com");
        assert.strictEqual(config.storage.delete.enabled, false, "tags must not be deletable: rollbacks need the old images");
    });

    it("uses an external registry when one is configured, and deploys none", async () => {
        const overrides = { registryServer: "ghcr.example.com", registryUsername: "bot", registryPassword: "token-123" };
        const rendered = await registryOutputs("production", overrides);
        assert.strictEqual(rendered.server, "ghcr.example.com");
        assert.strictEqual(rendered.external, true);
        assert.deepStrictEqual(rendered.files, {});
        const result = await synth("production", overrides);
        assert.strictEqual((reveal(result.outputs) as { imageRefs: Record<string, string> }).imageRefs["archon-server"], "ghcr.example.com/archon-server:sha-1a2b3c4");
    });

    describe("pull credentials on the Compose host", () => {
        it("travel on stdin as a secret, never on the command line", async () => {
            const result = await synth("staging");
            const login = named(result, "command:remote:Command", "docker-login");
            assert.ok(typeof login.inputs.stdin === "object" && login.inputs.stdin !== null && "$secret" in login.inputs.stdin, "stdin must be secret");
            const inputs = plainInputs(login);
            const password = (reveal(result.outputs) as { passwords: { registry: string } }).passwords.registry;
            const auth = Buffer.from(`archon:${password}`).toString("base64");
            assert.strictEqual(JSON.parse(inputs.stdin).auths["registry.staging.archon.example.com"].auth, auth);
            for (const key of ["create", "delete"]) assert.ok(!String(inputs[key]).includes(password) && !String(inputs[key]).includes(auth));
        });

        it("installs the Docker client config with mode 0600 (script run by sh, checked by shellcheck)", async () => {
            requireTool("shellcheck", "shellcheck");
            const dir = writeTempFiles({ "install.sh": INSTALL_DOCKER_CONFIG });
            const check = run("shellcheck", ["--shell=sh", path.join(dir, "install.sh")]);
            assert.strictEqual(check.status, 0, check.output);
            const installed = run("sh", [path.join(dir, "install.sh")], { env: { ...process.env, HOME: dir }, input: '{"auths":{}}\n' });
            assert.strictEqual(installed.status, 0, installed.output);
            const configFile = path.join(dir, ".docker", "config.json");
            assert.strictEqual(fs.readFileSync(configFile, "utf8"), '{"auths":{}}\n');
            assert.strictEqual(fs.statSync(configFile).mode & 0o777, 0o600);
            fs.rmSync(dir, { recursive: true, force: true });
        });

        it("is not declared on Kubernetes targets", async () => {
            const result = await synth("production");
            assert.deepStrictEqual(result.resources.filter((r) => r.type === "command:remote:Command" && r.name === "docker-login"), []);
        });
    });
});
