/**
 * Docker Hub pulls of the Compose host (issue 22 item 8): what a first deploy pulls from Docker
 * Hub, and the two ways around its anonymous limit the stack offers: a Docker Hub login in the
 * deploy user's client config (`dockerHubUsername`, `dockerHubToken`) and a pull-through cache in
 * the daemon's `registry-mirrors` (`dockerHubMirror`). Neither changes the server's user-data.
 * test/compose-engine.spec.ts shows both on a real dockerd: a pull through a cache that admits
 * only the rendered login.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import { ConfigError, loadConfig } from "../config";
import { DOCKER_HUB_AUTH_KEY } from "../components/registry/login";
import { stackConfig } from "../scripts/lib/stack-config";
import { SynthResult } from "../scripts/lib/synthesize";
import { named, plainInputs, synth } from "./helpers";

const HUB = { dockerHubUsername: "archonstaging", dockerHubToken: "dckr_pat_Example-1" };
const MIRROR = "https://mirror.gcr.io";

/** The one-line refusal of `overrides` on `stack`. */
function refusal(stack: string, overrides: Record<string, unknown>): string {
    const config = stackConfig(stack, overrides);
    pulumi.runtime.setAllConfig(config.values, config.secretKeys);
    try {
        loadConfig();
    } catch (err) {
        assert.ok(err instanceof ConfigError, String(err));
        assert.ok(!err.message.includes("\n"), err.message);
        return err.message;
    }
    assert.fail(`${JSON.stringify(overrides)} was accepted on ${stack}`);
}

/** Image references of the staging project that Docker Hub serves (no registry host in the name). */
function dockerHubImages(result: SynthResult): string[] {
    const services = parseYaml(result.files["project/docker-compose.yml"]).services as Record<string, { image: string }>;
    // A first path segment with a dot or a port, or `localhost`, is a registry host (docker/distribution reference rules).
    const fromHub = (image: string) => !image.includes("/") || !/[.:]|^localhost$/.test(image.split("/")[0]);
    return [...new Set(Object.values(services).map((s) => s.image).filter(fromHub))].sort();
}

const clientConfig = (result: SynthResult) => JSON.parse(plainInputs(named(result, "command:remote:Command", "docker-login")).stdin) as { auths: Record<string, { auth: string }> };
const daemonConfigStep = (result: SynthResult) => plainInputs(named(result, "command:remote:Command", "docker-daemon-config")).create as string;
const userData = (result: SynthResult) => JSON.stringify(result.resources.filter((r) => r.type === "hcloud:index/server:Server").map((r) => r.inputs.userData));

describe("Docker Hub pulls of the Compose host (issue 22 item 8)", () => {
    it("README states how many Docker Hub images a first deploy pulls", async () => {
        const images = dockerHubImages(await synth("staging"));
        assert.ok(images.includes("busybox:1.37.0") && images.some((i) => i.startsWith("supabase/postgres:")), images.join(", "));
        assert.ok(!images.some((i) => i.startsWith("gcr.io/") || i.startsWith("quay.io/")), "other registries are not Docker Hub");
        const readme = fs.readFileSync(path.join(__dirname, "..", "README.md"), "utf8");
        assert.match(readme, new RegExp(`pulls ${images.length} images from Docker Hub`), `README names ${images.length}: ${images.join(", ")}`);
    });

    it("writes the Docker Hub login into the deploy user's client config, as a secret, beside the registry's pull login", async () => {
        const plain = await synth("staging");
        const withHub = await synth("staging", HUB);
        assert.deepEqual(Object.keys(clientConfig(plain).auths).length, 1, "anonymous Docker Hub pulls without the keys");
        const auths = clientConfig(withHub).auths;
        assert.equal(Buffer.from(auths[DOCKER_HUB_AUTH_KEY].auth, "base64").toString(), `${HUB.dockerHubUsername}:${HUB.dockerHubToken}`);
        assert.deepEqual(auths[Object.keys(clientConfig(plain).auths)[0]], Object.values(clientConfig(plain).auths)[0], "the registry's pull login unchanged");
        const stdin = named(withHub, "command:remote:Command", "docker-login").inputs.stdin as { $secret?: string };
        assert.ok(stdin.$secret, "the client config travels as a secret");
        assert.ok(!JSON.stringify(withHub.resources.map((r) => r.type === "command:remote:Command" && r.name === "docker-login" ? {} : r.inputs)).includes(HUB.dockerHubToken), "the token is nowhere else");
        assert.ok(!JSON.stringify(withHub.outputs).replace(/\{"\$secret":[^}]*\}/g, "").includes(HUB.dockerHubToken), "no output shows it");
    });

    it("puts the pull-through cache into daemon.json; neither setting touches the server's user-data (no replacement)", async () => {
        const plain = await synth("staging");
        const withBoth = await synth("staging", { ...HUB, dockerHubMirror: MIRROR });
        assert.doesNotMatch(daemonConfigStep(plain), /registry-mirrors/);
        assert.match(daemonConfigStep(withBoth), /"registry-mirrors": \[\s*"https:\/\/mirror\.gcr\.io"\s*\]/);
        assert.equal(userData(withBoth), userData(plain));
        // What changes: the login and the daemon.json step (and what waits on them re-runs by its own triggers only).
        const before = new Map(plain.resources.map((r) => [r.urn, JSON.stringify(r.inputs)]));
        const changed = withBoth.resources.filter((r) => before.get(r.urn) !== JSON.stringify(r.inputs)).map((r) => r.name).sort();
        assert.deepEqual(changed, ["docker-daemon-config", "docker-login"]);
    });

    it("refuses half a login, a cache URL dockerd would not take, and the keys on targets whose nodes pull through containerd", () => {
        assert.match(refusal("staging", { dockerHubUsername: HUB.dockerHubUsername }), /dockerHubToken.*together/);
        assert.match(refusal("staging", { dockerHubToken: HUB.dockerHubToken }), /dockerHubUsername.*together/);
        assert.match(refusal("staging", { ...HUB, dockerHubUsername: "Archon_Staging" }), /dockerHubUsername.*Docker ID/);
        assert.match(refusal("staging", { dockerHubMirror: "http://mirror.example.com" }), /dockerHubMirror.*https/);
        assert.match(refusal("staging", { dockerHubMirror: "https://mirror.example.com/v2/library" }), /dockerHubMirror.*without a path/);
        assert.match(refusal("production", { dockerHubMirror: MIRROR }), /dockerHubMirror.*target compose only/);
        assert.match(refusal("production", HUB), /dockerHub(Username|Token).*target compose only/);
    });
});
