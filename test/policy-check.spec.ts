/**
 * The offline policy check over the real synth of both stacks, and its CLI (scripts/policy.ts):
 * output names the policy and the URN, the exit code fails on mandatory violations only.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { checkResources, committedPolicyConfig, unwrapSecrets } from "../scripts/lib/policy-check";
import { ResourceRecord } from "../scripts/lib/synthesize";
import { ofType, run, synth, writeTempFiles } from "./helpers";

const ROOT = path.resolve(__dirname, "..");
const FIREWALL = "hcloud:index/firewall:Firewall";

function policyCli(...args: string[]): { status: number | null; output: string } {
    return run(process.execPath, ["--require", "ts-node/register/transpile-only", "scripts/policy.ts", ...args], { cwd: ROOT });
}

/** A firewall as the hosts component registers one, with SSH from `sshSources`. */
function firewallRecord(stack: string, sshSources: string[]): ResourceRecord {
    return {
        urn: `urn:pulumi:${stack}::archon-infra::hcloud:index/firewall:Firewall::test-firewall`,
        type: FIREWALL,
        name: "test-firewall",
        parent: `urn:pulumi:${stack}::archon-infra::pulumi:pulumi:Stack::archon-infra-${stack}`,
        custom: true,
        inputs: {
            name: "archon",
            rules: [
                { direction: "in", protocol: "tcp", port: "22", sourceIps: sshSources },
                { direction: "in", protocol: "tcp", port: "443", sourceIps: ["0.0.0.0/0", "::/0"] },
            ],
        },
        options: {},
    };
}

/** A staging docker.Image building `imageName`. */
function imageRecord(name: string, imageName: string): ResourceRecord {
    const type = "docker:index/image:Image";
    return { urn: `urn:pulumi:staging::archon-infra::${type}::${name}`, type, name, parent: "", custom: true, inputs: { imageName }, options: {} };
}

/** A directory holding a synth's resources.json (plus `extra` resources) and outputs.json. */
async function synthDir(stack: "staging" | "production", extra: ResourceRecord[] = []): Promise<string> {
    const result = await synth(stack);
    return writeTempFiles({
        "resources.json": JSON.stringify([...result.resources, ...extra]),
        "outputs.json": JSON.stringify(result.outputs),
    }, "archon-policy-");
}

describe("offline policy check", () => {
    for (const stack of ["staging", "production"] as const) {
        it(`passes the ${stack} stack as configured, without a mandatory violation`, async () => {
            const result = await synth(stack);
            const violations = await checkResources(result.resources, { environment: stack });
            assert.deepEqual(violations.filter((v) => v.enforcementLevel === "mandatory"), []);
        });
    }

    it("keeps the secretness of each input path while unwrapping it", () => {
        const { value, secretPaths } = unwrapSecrets({ stringData: { $secret: { password: "p" } }, data: { user: "u", token: { $secret: "t" } } });
        assert.deepEqual(value, { stringData: { password: "p" }, data: { user: "u", token: "t" } });
        assert.deepEqual([...secretPaths].sort(), ["data.token", "stringData"]);
    });

    it("reads enforcement levels from the committed pack config per environment", () => {
        assert.equal(committedPolicyConfig("staging")["container-probes"], "advisory");
        assert.equal(committedPolicyConfig("production")["container-probes"], "mandatory");
    });

    it("fails production on a firewall that opens SSH to the world when sshAllowedCidrs is 0.0.0.0/0", async () => {
        const result = await synth("production", { sshAllowedCidrs: ["0.0.0.0/0"], allowWideAdminCidrs: true });
        assert.ok(ofType(result, FIREWALL).length > 0, "the hosts component registers a firewall");
        const violations = await checkResources(result.resources, { environment: "production" });
        assert.ok(violations.some((v) => v.policy === "firewall-admin-ports" && v.enforcementLevel === "mandatory" && /SSH \(22\)/.test(v.message)), JSON.stringify(violations));
    });
});

describe("npm run policy (scripts/policy.ts)", () => {
    it("exits 0 on the production synth and says how many resources it checked", () => {
        const { status, output } = policyCli("--stack", "production");
        assert.equal(status, 0, output);
        assert.match(output, /policy production \(production\): \d+ resources, 0 mandatory/);
    });

    it("exits 1 naming the policy and the firewall when the production config opens SSH to the world", () => {
        const { status, output } = policyCli("--stack", "production", "--config", 'sshAllowedCidrs=["0.0.0.0/0"]', "--config", "allowWideAdminCidrs=true");
        assert.equal(status, 1, output);
        assert.match(output, /mandatory: \[firewall-admin-ports\] urn:pulumi:production::archon-infra::[^\n]*hcloud:index\/firewall:Firewall::/);
        assert.match(output, /opens SSH \(22\) to 0.0.0.0\/0/);
    });

    it("exits 1 naming the policy and the URN when a firewall opens SSH to the world", async () => {
        const dir = await synthDir("production", [firewallRecord("production", ["0.0.0.0/0", "::/0"])]);
        const { status, output } = policyCli("--stack", "production", "--from", dir);
        assert.equal(status, 1, output);
        assert.match(output, /mandatory: \[firewall-admin-ports\] urn:pulumi:production::archon-infra::hcloud:index\/firewall:Firewall::test-firewall/);
        assert.match(output, /opens SSH \(22\) to 0.0.0.0\/0, ::\/0/);
    });

    it("exits 1 on an unpinned image, and only warns when the pack config makes the policy advisory", async () => {
        const dir = await synthDir("staging", [imageRecord("archon-ui", "registry.staging.archon.example.com/archon-ui:latest")]);
        const strict = policyCli("--stack", "staging", "--from", dir);
        assert.equal(strict.status, 1, strict.output);
        assert.match(strict.output, /mandatory: \[images-pinned\] urn:pulumi:staging::archon-infra::docker:index\/image:Image::archon-ui\n.*moving tag "latest"/);

        const config = path.join(dir, "advisory.json");
        fs.writeFileSync(config, JSON.stringify({ "images-pinned": "advisory" }));
        const advisory = policyCli("--stack", "staging", "--from", dir, "--policy-config", config);
        assert.equal(advisory.status, 0, advisory.output);
        assert.match(advisory.output, /advisory: \[images-pinned\]/);
    });

    it("applies production strictness to a sha-less release tag only with --environment production", async () => {
        const dir = await synthDir("staging", [imageRecord("archon-server", "registry.example.com/archon-server:v0.1.0")]);
        assert.equal(policyCli("--stack", "staging", "--from", dir).status, 0);
        const production = policyCli("--stack", "staging", "--from", dir, "--environment", "production");
        assert.equal(production.status, 1, production.output);
        assert.match(production.output, /\[images-pinned\].*\n.*sha-<commit>/);
    });

    it("--from checks the Compose project the synth wrote beside resources.json, and fails closed when it is missing (issue 27.5)", async () => {
        const result = await synth("staging");
        // What `npm run synth -- --out <dir>` writes: resources.json, outputs.json and files/.
        const out = writeTempFiles({
            "resources.json": JSON.stringify(result.resources, null, 2),
            "outputs.json": JSON.stringify(result.outputs),
            ...Object.fromEntries(Object.entries(result.files).map(([file, text]) => [`files/${file}`, text])),
        }, "archon-policy-from-");
        try {
            // A privileged service injected into the synth's copy is what the check sees.
            const composeFile = path.join(out, "files", "project", "docker-compose.yml");
            const original = fs.readFileSync(composeFile, "utf8");
            fs.writeFileSync(composeFile, original.replace(/^  kong:\n/m, "  kong:\n    privileged: true\n"));
            const injected = policyCli("--stack", "staging", "--from", out);
            assert.equal(injected.status, 1, injected.output);
            assert.match(injected.output, /\[compose-hardening\][^\n]*CopyToRemote::project\n.*service kong runs privileged/);
            // Neither the synth's copy nor the directory resources.json names: an error, not a pass.
            fs.rmSync(path.join(out, "files", "project"), { recursive: true, force: true });
            const resourcesFile = path.join(out, "resources.json");
            fs.writeFileSync(resourcesFile, fs.readFileSync(resourcesFile, "utf8").replace(/"path": ?"[^"]*compose-project-/g, `"path": "${out}/gone/compose-project-`));
            const missing = policyCli("--stack", "staging", "--from", out);
            assert.equal(missing.status, 2, missing.output);
            assert.match(missing.output, /^error: the rendered files at .*files\/project .* of project are missing/m);
        } finally {
            fs.rmSync(out, { recursive: true, force: true });
        }
    });

    it("exits 2 with one line on bad configuration", () => {
        const { status, output } = policyCli("--stack", "production", "--config", "imageTag=latest");
        assert.equal(status, 2, output);
        assert.match(output, /^error: .*imageTag/m);
    });
});
