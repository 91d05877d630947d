/**
 * Supply chain (issue 12 item 7): the k3s installer runs only after its sha256 matched the row of
 * the pinned release, the installer's own binary check stays on, and a k3sVersion without a
 * verified row is refused in config (one line, exit 2).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DEFAULT_K3S_VERSION, K3S_INSTALLERS } from "../components/hetzner/k3s-installers";
import { PROJECT_DIR } from "../scripts/lib/stack-config";
import { plainInputs, requireTool, run, synth, writeTempFiles } from "./helpers";

describe("supply chain: the k3s installer", () => {
    it("has a verified installer row for the production stack's k3sVersion", () => {
        const production = fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.production.yaml"), "utf8");
        const version = /k3sVersion:\s*(\S+)/.exec(production)![1];
        assert.ok(K3S_INSTALLERS[version], version);
        for (const row of Object.values(K3S_INSTALLERS)) {
            assert.match(row.commit, /^[0-9a-f]{40}$/);
            assert.match(row.sha256, /^[0-9a-f]{64}$/);
        }
    });

    it("downloads install.sh from the release commit, checks its sha256 before running it and never skips the binary check", async () => {
        const result = await synth("production");
        const installs = result.resources.filter((r) => r.type === "command:remote:Command" && /install-/.test(r.name));
        assert.ok(installs.length > 0);
        const { commit, sha256 } = K3S_INSTALLERS[DEFAULT_K3S_VERSION];
        for (const install of installs) {
            const script = String(plainInputs(install).create);
            assert.ok(script.includes(commit) && script.includes(sha256), install.name);
            const check = script.indexOf("sha256sum -c");
            const runInstaller = script.indexOf('sh "$installer"');
            assert.ok(check > 0 && runInstaller > check, "the checksum is checked before the installer runs");
            assert.ok(!/INSTALL_K3S_SKIP_DOWNLOAD=/.test(script), "the installer's verify_binary stays on");
            assert.ok(!/get\.k3s\.io|curl[^\n]*\|\s*(sudo\s+)?(ba)?sh\b/.test(script), "no curl | sh");
        }
    });

    it("refuses a tampered installer (the rendered check, run by the real sha256sum)", () => {
        requireTool("sha256sum", "coreutils");
        const dir = writeTempFiles({ "install.sh": "#!/bin/sh\necho tampered\n" });
        const { sha256 } = K3S_INSTALLERS[DEFAULT_K3S_VERSION];
        const check = run("bash", ["-c", `echo "${sha256}  ${dir}/install.sh" | sha256sum -c --status -`]);
        assert.notEqual(check.status, 0);
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("refuses a k3sVersion without a verified installer: one line naming key and fix, exit 2", () => {
        const result = run("node", ["--require", "ts-node/register/transpile-only", "scripts/synth.ts", "--stack", "production", "--config", "k3sVersion=v1.31.5+k3s1", "--out", fs.mkdtempSync(path.join(os.tmpdir(), "synth-"))], { cwd: PROJECT_DIR });
        assert.equal(result.status, 2, result.output);
        assert.equal(result.output.trim().split("\n").length, 1, result.output);
        assert.match(result.output, /archon-infra:k3sVersion = "v1\.31\.5\+k3s1": has no verified installer checksum; use v1\.36\.3\+k3s1, v1\.31\.4\+k3s1, or add its commit and install\.sh sha256 to components\/hetzner\/k3s-installers\.ts/);
    });
});
