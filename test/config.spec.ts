import { strict as assert } from "assert";
import { execFile } from "child_process";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import { ArchonConfig, ConfigError, configSchema, loadConfig } from "../config";
import { PROJECT_DIR, StackConfigError, stackConfig } from "../scripts/lib/stack-config";
import { SynthConfigError } from "../scripts/lib/synthesize";
import { composeMemoryReservations } from "../components/compose/memory-budget";
import { KUBECONFIG, requireTool, run, synth, writeTempFiles } from "./helpers";
import { AlertReceivers, renderAlertmanagerConfig } from "../components/services/alert-rules";


/** The validated config of a stack with overrides, as the program sees it. */
function configOf(stack: string, overrides: Record<string, unknown> = {}): ArchonConfig {
    const config = stackConfig(stack, overrides);
    pulumi.runtime.setAllConfig(config.values, config.secretKeys);
    return loadConfig();
}

/** The one-line message a bad config produces. */
function refusal(stack: string, overrides: Record<string, unknown>): string {
    try {
        configOf(stack, overrides);
    } catch (err) {
        assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
        assert.ok(!err.message.includes("\n"), "the message is one line");
        return err.message;
    }
    assert.fail(`config ${JSON.stringify(overrides)} was accepted`);
}

function archonCheckout(withDockerfile: boolean, withMigrations = true, withUi = true): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "archon-checkout-"));
    fs.mkdirSync(path.join(dir, "python"));
    fs.mkdirSync(path.join(dir, "migration"));
    if (withUi) fs.mkdirSync(path.join(dir, "archon-ui-main"));
    if (withDockerfile) fs.writeFileSync(path.join(dir, "python", "Dockerfile.server"), "FROM python:3.12-slim\n");
    if (withMigrations) fs.writeFileSync(path.join(dir, "migration", "complete_setup.sql"), "SELECT 1;\n");
    return dir;
}

describe("config", () => {
    it("accepts both stacks as committed", () => {
        const staging = configOf("staging");
        assert.equal(staging.target, "compose");
        assert.equal(staging.environment, "staging");
        assert.equal(staging.isProduction, false);
        const production = configOf("production");
        assert.equal(production.target, "k3s");
        assert.equal(production.controlPlaneNodes, 3);
        assert.ok(production.agentNodes >= 1);
        assert.equal(production.isProduction, true);
    });

    it("applies Pulumi.yaml defaults for keys the stack file leaves out", () => {
        const staging = configOf("staging");
        assert.equal(staging.secretsVersion, 1);
        assert.equal(staging.ingressController, "traefik");
        assert.equal(staging.controlPlaneNodes, 1);
    });

    it("declares in Pulumi.yaml only keys the schema validates, with matching types, and documents the rest in README", () => {
        const declared = (parseYaml(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), "utf8")) as { config: Record<string, { type: string; default?: unknown }> }).config;
        const schemaKeys = Object.keys(configSchema.shape);
        assert.deepEqual(Object.keys(declared).filter((k) => !schemaKeys.includes(k)), [], "declared keys the schema does not know");
        const accepted: Record<string, unknown> = { string: "x", integer: 3, boolean: true, array: ["x"] };
        for (const [key, decl] of Object.entries(declared)) {
            const schema = configSchema.shape[key as keyof typeof configSchema.shape];
            const wrongType = decl.type === "string" ? 3 : "text";
            assert.equal(schema.safeParse(wrongType).success, false, `${key}: declared ${decl.type} but the schema accepts ${JSON.stringify(wrongType)}`);
            assert.ok(accepted[decl.type] !== undefined, `${key}: unknown declared type ${decl.type}`);
        }
        // A declared key without a default is one the CLI requires: exactly the four every stack sets.
        assert.deepEqual(Object.keys(declared).filter((k) => declared[k].default === undefined).sort(), ["acmeEmail", "domain", "imageTag", "sshAllowedCidrs"]);
        const readme = fs.readFileSync(path.join(PROJECT_DIR, "README.md"), "utf8");
        for (const key of schemaKeys.filter((k) => !(k in declared))) {
            assert.match(readme, new RegExp(`^\\|[^\\n]*\`${key}\`[^\\n]*\\|`, "m"), `optional key ${key} is in README's configuration table`);
        }
    });

    it("derives the architecture from the server type", () => {
        assert.equal(configOf("staging").architecture, "amd64");
        assert.equal(configOf("staging", { serverType: "cax21" }).architecture, "arm64");
    });

    const refused: [string, string, Record<string, unknown>, RegExp][] = [
        ["environment outside staging|production", "staging", { environment: "prod" }, /environment = "prod": must be staging or production/],
        ["an unknown target", "staging", { target: "swarm" }, /target = "swarm": must be compose .*k3s.*kubernetes/],
        ["a domain that is not a DNS name", "staging", { domain: "Not A Domain" }, /domain = "Not A Domain": must be a DNS name/],
        ["a malformed e-mail", "staging", { acmeEmail: "ops-at-example" }, /acmeEmail = "ops-at-example": must be an e-mail/],
        ["an unknown location", "staging", { location: "us-east" }, /location = "us-east": must be a Hetzner location: fsn1, nbg1, hel1, ash, hil, sin/],
        ["an unknown server type", "staging", { serverType: "cx99" }, /serverType = "cx99": not a known Hetzner server type; use one of .*cpx22/],
        ["an unknown agent server type", "production", { agentServerType: "m5.large" }, /agentServerType = "m5.large": not a known Hetzner server type/],
        ["an arm type where Hetzner has none", "staging", { location: "ash", serverType: "cax11" }, /serverType = "cax11": cax11 is offered in fsn1, nbg1, hel1 only/],
        ["an even control-plane count", "production", { controlPlaneNodes: 2 }, /controlPlaneNodes = 2: must be 1, 3 or 5/],
        ["zero control-plane nodes", "production", { controlPlaneNodes: 0 }, /controlPlaneNodes = 0: must be 1, 3 or 5/],
        ["negative agents", "production", { agentNodes: -1 }, /agentNodes = -1: must be a whole number of agent servers, 0 or more/],
        ["an empty SSH allow-list", "staging", { sshAllowedCidrs: [] }, /sshAllowedCidrs = \[\]: must list at least one CIDR/],
        ["a bad CIDR", "staging", { sshAllowedCidrs: ["10.0.0.0/33"] }, /sshAllowedCidrs = \["10.0.0.0\/33"\]: not a CIDR block/],
        ["a malformed SSH public key", "staging", { sshPublicKey: "AAAAC3Nza" }, /sshPublicKey = "AAAAC3Nza": must be an OpenSSH public key line/],
        ["an unpinned k3s version", "production", { k3sVersion: "latest" }, /k3sVersion = "latest": must be a pinned k3s release/],
        ["an empty image tag", "staging", { imageTag: "" }, /imageTag = "": is empty; set a pinned tag/],
        ["the latest tag", "staging", { imageTag: "latest" }, /imageTag = "latest": is a moving tag; pin it to sha-<commit>/],
        ["another moving tag, in any case", "staging", { imageTag: "Main" }, /imageTag = "Main": is a moving tag/],
        ["a tag docker cannot hold", "staging", { imageTag: "rel ease" }, /imageTag = "rel ease": is not a valid image tag/],
        ["a mutable-looking tag in production", "production", { imageTag: "release-candidate" }, /imageTag = "release-candidate": is not a pinned tag/],
        ["a release version in production (promote its sha- tag)", "production", { imageTag: "v0.1.0" }, /imageTag = "v0.1.0": production needs the immutable tag of one Archon commit: sha-<commit>/],
        ["buildImages without a checkout", "staging", { buildImages: true }, /archonSourceDir = \(not set\): buildImages is true, so set archonSourceDir/],
        ["secretsVersion 0", "staging", { secretsVersion: 0 }, /secretsVersion = 0: must be 1 or more/],
        ["target kubernetes without a kubeconfig", "staging", { target: "kubernetes" }, /kubeconfig = \(not set\): target kubernetes needs the cluster's kubeconfig/],
        ["a storage class on k3s (it always uses the retained Hetzner class)", "production", { storageClassName: "fast" }, /storageClassName = "fast": is for target kubernetes only; k3s volumes use the retained class hcloud-volumes-retain/],
        ["a kubeconfig that is not one", "staging", { target: "kubernetes", kubeconfig: "hello: world" }, /kubeconfig = \[secret\]: not a kubeconfig/],
        ["half an external registry", "staging", { registryServer: "ghcr.io" }, /registryUsername = \(not set\): an external registry needs registryServer, registryUsername and registryPassword/],
        ["a webhook that is not a URL", "staging", { alertWebhookUrl: "hooks" }, /alertWebhookUrl = \[secret\]: must be an http\(s\) URL/],
        ["a data volume under 10 GB", "staging", { dataVolumeSizeGb: 5 }, /dataVolumeSizeGb = 5: must be a whole number of GB from 10 to 10240/],
        ["an unknown ingress controller", "production", { ingressController: "haproxy" }, /ingressController = "haproxy": must be traefik .* or ingress-nginx/],
        // Issue 28.2: what used to be accepted silently.
        ["an admin CIDR with host bits set (the hcloud provider refuses it only at preview)", "staging", { sshAllowedCidrs: ["203.0.113.7/24"] }, /sshAllowedCidrs = \["203.0.113.7\/24"\]: 203.0.113.7\/24 has host bits set: write the network 203.0.113.0\/24, or 203.0.113.7\/32 for that one address/],
        ["an IPv6 admin CIDR with host bits set", "staging", { sshAllowedCidrs: ["2001:db8::1/48"] }, /sshAllowedCidrs = \["2001:db8::1\/48"\]: 2001:db8::1\/48 has host bits set: write the network 2001:db8::\/48, or 2001:db8::1\/128/],
        ["a major-version tag (it moves with every v1.x release)", "staging", { imageTag: "v1" }, /imageTag = "v1": is not a pinned tag: use sha-<commit> .* or a full release version vMAJOR.MINOR.PATCH/],
        ["a minor-version tag", "staging", { imageTag: "v1.2" }, /imageTag = "v1.2": is not a pinned tag/],
        ["a word that names no build", "staging", { imageTag: "release" }, /imageTag = "release": is not a pinned tag/],
        ["a free-form tag (CI builds sha-<commit>, releases are vX.Y.Z)", "staging", { imageTag: "pr-42.3" }, /imageTag = "pr-42.3": is not a pinned tag/],
        ["a backup endpoint over plain http", "staging", { backupEndpoint: "http://fsn1.your-objectstorage.com" }, /backupEndpoint = "http:\/\/fsn1.your-objectstorage.com": must be the https URL/],
        ["a bucket name with adjacent periods", "staging", { backupBucket: "archon..backups" }, /backupBucket = "archon..backups": has two adjacent periods, which S3 refuses/],
        ["a bucket name that is an IP address", "staging", { backupBucket: "192.168.5.4" }, /backupBucket = "192.168.5.4": is formatted as an IP address/],
        ["a bucket name with a reserved prefix", "staging", { backupBucket: "xn--archon" }, /backupBucket = "xn--archon": starts with xn--, a prefix S3 reserves/],
        ["a bucket name in upper case", "staging", { backupBucket: "Archon-Backups" }, /backupBucket = "Archon-Backups": may hold only lower-case letters/],
        ["a backup schedule out of range on Compose", "staging", { backupSchedule: "99 99 * * *" }, /backupSchedule = "99 99 \* \* \*": is not a cron schedule the Kubernetes API accepts: minute 99 is outside 0-59/],
        ["a backup schedule the Kubernetes API refuses", "production", { backupSchedule: "0 3 * * 7" }, /backupSchedule = "0 3 \* \* 7": is not a cron schedule the Kubernetes API accepts: day of week 7 is outside 0-6/],
        ["a backup schedule with a time zone", "production", { backupSchedule: "CRON_TZ=Europe/Berlin 0 3 * * *" }, /backupSchedule = .*carries a time zone, which the Kubernetes API refuses/],
        ["a backup schedule of four fields", "production", { backupSchedule: "0 3 * *" }, /backupSchedule = "0 3 \* \*": .*has 4 fields; a cron schedule has five/],
        ["a weekly backup schedule on Compose (it runs daily only)", "staging", { backupSchedule: "0 3 * * 1" }, /backupSchedule = "0 3 \* \* 1": Compose runs backups once a day/],
    ];
    for (const [what, stack, overrides, expected] of refused) {
        it(`refuses ${what}, naming the key`, () => {
            const message = refusal(stack, overrides);
            assert.match(message, new RegExp(`^archon-infra:${expected.source}`));
        });
    }

    // What Pulumi.yaml declares, the CLI checks before the program runs; the synth refuses it the same way.
    const refusedByTheCli: [string, string, Record<string, unknown>, string][] = [
        ["an unset domain", "staging", { domain: null }, "Stack 'staging' is missing configuration value 'domain'"],
        ["fractional agents", "production", { agentNodes: 1.5 }, "Stack 'production' with configuration key 'agentNodes' must be of type 'integer'"],
        ["agents as text", "production", { agentNodes: "three" }, "Stack 'production' with configuration key 'agentNodes' must be of type 'integer'"],
        ["a CIDR list that is a bare string", "staging", { sshAllowedCidrs: "10.0.0.0/8" }, "Stack 'staging' with configuration key 'sshAllowedCidrs' must be of type 'array<string>'"],
        ["an unset image tag", "staging", { imageTag: null }, "Stack 'staging' is missing configuration value 'imageTag'"],
        ["buildImages as text", "staging", { buildImages: "yes" }, "Stack 'staging' with configuration key 'buildImages' must be of type 'boolean'"],
    ];
    for (const [what, stack, overrides, expected] of refusedByTheCli) {
        it(`refuses ${what} before the program runs, in the Pulumi CLI's words`, () => {
            assert.throws(() => configOf(stack, overrides), (err: unknown) => {
                assert.ok(err instanceof StackConfigError, String(err));
                assert.ok(err.message.startsWith(`${expected} (Pulumi.yaml; `), err.message);
                return true;
            });
        });
    }

    it("refuses an archonSourceDir that is not an Archon v1 checkout", () => {
        const message = refusal("staging", { buildImages: true, archonSourceDir: archonCheckout(false) });
        assert.match(message, /archonSourceDir = ".*": is not an Archon v1 checkout \(python\/Dockerfile.server is missing\)/);
    });

    const accepted: [string, string, Record<string, unknown>][] = [
        ["a release version in staging", "staging", { imageTag: "v0.1.0" }],
        ["a full commit sha in production", "production", { imageTag: `sha-${"a".repeat(40)}` }],
        ["a pre-release version in staging", "staging", { imageTag: "v0.2.0-rc.1" }],
        ["5 control-plane nodes and no agents", "production", { controlPlaneNodes: 5, agentNodes: 0 }],
        ["IPv6 CIDRs", "staging", { sshAllowedCidrs: ["2001:db8::/48", "198.51.100.7/32"] }],
        ["an arm server in an EU location", "staging", { serverType: "cax21", location: "hel1" }],
        ["an x86 server in Singapore", "staging", { serverType: "cpx32", location: "sin" }],
        ["an external registry given whole", "staging", { registryServer: "ghcr.io", registryUsername: "ci", registryPassword: "tok" }],
        ["target kubernetes with a kubeconfig", "staging", { target: "kubernetes", kubeconfig: KUBECONFIG }],
        ["an OpenSSH public key", "staging", { sshPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH0Ew6Iu1s1bkXcI2c2W4mJ0P7m0nqv1rj0dC1v8xYzP ops@example" }],
    ];
    for (const [what, stack, overrides] of accepted) {
        it(`accepts ${what}`, () => {
            const config = configOf(stack, overrides);
            for (const [key, value] of Object.entries(overrides)) {
                if (key === "kubeconfig" || key === "registryPassword") {
                    assert.equal(key in config, false, `${key} is only available as a Pulumi secret`);
                    assert.ok(config[`${key}Secret` as keyof ArchonConfig]);
                } else {
                    assert.deepEqual(config[key as keyof ArchonConfig], value);
                }
            }
        });
    }

    it("refuses an archonSourceDir without Archon's migrations", () => {
        const message = refusal("staging", { archonSourceDir: archonCheckout(true, false) });
        assert.match(message, /archonSourceDir = ".*": has no migration\/complete_setup.sql; point it at a checkout of the pinned Archon commit \(images\/archon-source.json\)/);
    });

    it("accepts buildImages with an Archon checkout", () => {
        const dir = archonCheckout(true);
        assert.equal(configOf("staging", { buildImages: true, archonSourceDir: dir }).archonSourceDir, dir);
    });

    it("keeps the kubeconfig a Pulumi secret", async () => {
        const config = configOf("staging", { target: "kubernetes", kubeconfig: KUBECONFIG });
        assert.ok(config.kubeconfigSecret);
        assert.equal(await pulumi.isSecret(config.kubeconfigSecret), true);
    });

    it("reports every bad key in the one line, once per key", () => {
        const message = refusal("production", { imageTag: "latest", location: "mars" });
        assert.match(message, /archon-infra:location = "mars"/);
        assert.match(message, /archon-infra:imageTag = "latest"/);
        assert.equal(message.match(/imageTag/g)?.length, 1);
    });

    it("fails the program before any resource is registered", async () => {
        await assert.rejects(synth("production", { controlPlaneNodes: 4 }), (err: unknown) => {
            assert.ok(err instanceof SynthConfigError);
            assert.match(err.message, /controlPlaneNodes = 4/);
            assert.equal(err.resourcesRegistered, 0);
            return true;
        });
    });

    it("makes the synth exit 2 with one line and no stack trace", () => {
        const result = run("node", ["--require", "ts-node/register/transpile-only", "scripts/synth.ts", "--stack", "staging", "--config", "imageTag=latest", "--out", fs.mkdtempSync(path.join(os.tmpdir(), "synth-"))], { cwd: PROJECT_DIR });
        assert.equal(result.status, 2);
        assert.equal(result.output.trim(), 'error: archon-infra:imageTag = "latest": is a moving tag; pin it to sha-<commit> or a release version such as v0.1.0');
    });

    it("accepts every schedule form the Kubernetes API takes on k3s (steps, names, ?, descriptors)", () => {
        for (const schedule of ["*/30 2 ? * MON-FRI", "0 3 1,15 jan-jun *", "@daily", "@every 12h"]) {
            assert.equal(configOf("production", { backupSchedule: schedule }).backup.schedule, schedule);
        }
    });

    it("refuses a key in another project's namespace, naming this project's key, in --config and in the program", () => {
        assert.throws(() => configOf("staging", { "archon:imageTag": "latest" }), /^Error: archon:imageTag in --config is in namespace "archon", which no project or provider of this program reads .*did you mean archon-infra:imageTag\?/);
        // What `pulumi config set archon:imageTag latest` leaves in a stack: the program refuses it itself.
        const config = stackConfig("staging");
        pulumi.runtime.setAllConfig({ ...config.values, "archon:imageTag": "latest" }, config.secretKeys);
        assert.throws(() => loadConfig(), (err: unknown) => {
            assert.ok(err instanceof ConfigError, String(err));
            assert.match(err.message, /^archon:imageTag in the stack's config is in namespace "archon", .*did you mean archon-infra:imageTag\? Fix it: pulumi config rm archon:imageTag, then pulumi config set imageTag <value>$/);
            return true;
        });
        // Providers' namespaces are theirs: hcloud:* is read by the hcloud provider.
        assert.doesNotThrow(() => configOf("staging", { "hcloud:pollInterval": "1s" }));
    });

    it("names --config, not the stack file, when an override has the wrong type", () => {
        assert.throws(() => configOf("production", { agentNodes: "three" }), (err: unknown) => {
            assert.ok(err instanceof StackConfigError, String(err));
            assert.equal(err.message, "Stack 'production' with configuration key 'agentNodes' must be of type 'integer' (Pulumi.yaml; the value comes from --config agentNodes=three: fix that argument)");
            return true;
        });
    });

    it("says a stack file that is a YAML list is not a map", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stack-list-"));
        fs.copyFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
        fs.writeFileSync(path.join(dir, "Pulumi.listy.yaml"), "- config:\n    archon-infra:domain: archon.example.com\n");
        assert.throws(() => stackConfig("listy", {}, dir), /^Error: Pulumi\.listy\.yaml is a YAML list, not a map: a stack file is a map whose config: holds one key: value line per setting/);
    });

    it("names an unknown stack and the ones that exist", () => {
        assert.throws(() => stackConfig("prod"), /no stack file Pulumi.prod.yaml; the stacks are production, staging/);
    });
});

describe("config: the cluster's own Hetzner token (issue 24.2, 27.7)", () => {
    it("k3s refuses to run without hcloudTokenForCluster, naming the key and the fix", () => {
        assert.match(refusal("production", { hcloudTokenForCluster: null }), /^archon-infra:hcloudTokenForCluster = \(not set\): k3s needs the cluster's own Hetzner token for its CCM and CSI driver, separate from the deploy's HCLOUD_TOKEN: create one in the Hetzner Console and pulumi config set --secret hcloudTokenForCluster <token>$/);
    });

    it("refuses the deploy's own HCLOUD_TOKEN as the cluster's", () => {
        const saved = process.env.HCLOUD_TOKEN;
        process.env.HCLOUD_TOKEN = "deploy-token-0123456789";
        try {
            assert.match(refusal("production", { hcloudTokenForCluster: "deploy-token-0123456789" }), /^archon-infra:hcloudTokenForCluster = \[secret\]: is the deploy's own HCLOUD_TOKEN; give the cluster a token of its own/);
            assert.doesNotThrow(() => configOf("production", { hcloudTokenForCluster: "cluster-token-9876543210" }));
        } finally {
            if (saved === undefined) delete process.env.HCLOUD_TOKEN;
            else process.env.HCLOUD_TOKEN = saved;
        }
    });

    it("compose needs none", () => {
        assert.strictEqual(configOf("staging").hcloudTokenForClusterSecret, undefined);
    });
});


describe("config: bad input refused before any resource, through the real synth (issue 28.1, 28.3)", () => {
    /** `npm run synth` as an operator runs it: status and everything it printed. */
    function synthCli(stack: string, overrides: Record<string, unknown>): { status: number | null; output: string } {
        const args = Object.entries(overrides).flatMap(([key, value]) => ["--config", `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`]);
        return run("npm", ["run", "--silent", "synth", "--", "--stack", stack, "--out", fs.mkdtempSync(path.join(os.tmpdir(), "synth-refused-")), ...args], { cwd: PROJECT_DIR });
    }
    const OIDC = { oidcIssuerUrl: "https://accounts.google.com", oidcClientId: "archon", oidcClientSecret: "s3cret", oidcAllowedEmailDomains: ["example.com"] };
    const BACKUP_KEYS = { backupAccessKeyId: "AKIAEXAMPLE", backupSecretAccessKey: "secret" };
    const partialCheckout = archonCheckout(true, true, false);
    const refused: [string, string, Record<string, unknown>, string, RegExp][] = [
        ["a server type too small for the Compose services' memory", "staging", { serverType: "cx23" }, "serverType",
            /^archon-infra:serverType = "cx23": cx23 \(4 GB\) leaves 2457 MiB for containers, but the Compose services reserve \d+ MiB \(largest: [^)]*\); use cx33 \(or cpx32, ccx13\): pulumi config set serverType cx33$/],
        ["a backup schedule out of range on Compose", "staging", { backupSchedule: "99 99 * * *" }, "backupSchedule", /minute 99 is outside 0-59; e\.g\. "17 3 \* \* \*" \(UTC\)$/],
        ["a line break in backupAccessKeyId (the S3 Authorization header)", "staging", { ...BACKUP_KEYS, backupAccessKeyId: "AKIA\nEXAMPLE" }, "backupAccessKeyId", /= \[secret\]: contains a line break .*Authorization header.*pulumi config set --secret backupAccessKeyId <value>$/],
        ["a line break in hcloudTokenForCluster (a Bearer header)", "production", { hcloudTokenForCluster: "cluster-token\n" }, "hcloudTokenForCluster", /= \[secret\]: contains a line break .*Authorization: Bearer.*pulumi config set --secret hcloudTokenForCluster <value>$/],
        ["a line break in alertWebhookUrl (Alertmanager's URL)", "staging", { alertWebhookUrl: "https://hooks.example.com/a\nb" }, "alertWebhookUrl", /= \[secret\]: contains a line break .*Alertmanager refuses in a URL.*pulumi config set --secret alertWebhookUrl <url>$/],
        ["a carriage return in alertSlackWebhookUrl", "staging", { alertSlackWebhookUrl: "https://hooks.slack.com/services/T0/B0/X\r" }, "alertSlackWebhookUrl", /Alertmanager refuses in a URL/],
        ["a control character in alertDeadMansSwitchUrl", "staging", { alertDeadMansSwitchUrl: "https://hc-ping.com/\u0001x" }, "alertDeadMansSwitchUrl", /Alertmanager refuses in a URL/],
        ["a line break in backupEndpoint (restic's repository URL)", "staging", { backupEndpoint: "https://fsn1.your-objectstorage.com\n" }, "backupEndpoint", /= "https:\/\/fsn1\.your-objectstorage\.com\\n": contains a line break .*restic refuses in a URL/],
        ["a line break in oidcIssuerUrl", "staging", { ...OIDC, oidcIssuerUrl: "https://accounts.google.com\n" }, "oidcIssuerUrl", /oauth2-proxy refuses in a URL/],
        ["a tab in dockerHubMirror", "staging", { dockerHubMirror: "https://mirror.gcr.io\t" }, "dockerHubMirror", /dockerd refuses in a URL/],
        ["a line break in smtpSenderName (a From: header)", "staging", { smtpHost: "smtp.example.com", smtpSenderName: "Archon\nBcc: all@example.com" }, "smtpSenderName", /From: header .*set it again on one line/],
        ["a control character in oidcClientId (an argument)", "staging", { ...OIDC, oidcClientId: "archon\u0001" }, "oidcClientId", /no spaces or control characters/],
        ["a colon in registryUsername (user:password in one auth)", "staging", { registryServer: "ghcr.io", registryUsername: "ci:bot", registryPassword: "tok" }, "registryUsername", /= "ci:bot": contains ':', which a registry login cannot carry/],
        ["agentServerType on a Compose stack (it sizes k3s agents only)", "staging", { agentServerType: "cpx42" }, "agentServerType", /= "cpx42": sizes k3s agent nodes, and target compose has none; remove it \(pulumi config rm agentServerType\), or size the Compose host with serverType$/],
        ["an Archon checkout without the UI's build context", "staging", { buildImages: true, archonSourceDir: partialCheckout }, "archonSourceDir", /has no archon-ui-main \(the build context of archon-ui\); point it at a full checkout/],
    ];
    for (const [what, stack, overrides, key, expected] of refused) {
        it(`refuses ${what}: exit 2, one line naming ${key}, no resource`, async () => {
            const cli = synthCli(stack, overrides);
            assert.equal(cli.status, 2, cli.output);
            const lines = cli.output.trimEnd().split("\n");
            assert.equal(lines.length, 1, cli.output);
            assert.ok(lines[0].startsWith(`error: archon-infra:${key} = `), lines[0]);
            assert.match(lines[0].slice("error: ".length), expected);
            await assert.rejects(synth(stack, overrides), (err: unknown) => {
                assert.ok(err instanceof SynthConfigError, String(err));
                assert.equal(err.resourcesRegistered, 0, "no resource registered before the refusal");
                return true;
            });
        });
    }

    it("checks the memory of exactly the services the Compose project deploys (agents, OIDC, backups, external registry)", async () => {
        for (const overrides of [{}, { enableAgents: true, ...OIDC, ...BACKUP_KEYS }, { registryServer: "ghcr.io", registryUsername: "ci", registryPassword: "tok" }]) {
            const result = await synth("staging", overrides);
            const deployed = Object.entries(result.componentOutputs).find(([urn]) => urn.endsWith("archon:infra:ComposeStack::compose"))?.[1].reservedMemoryMib;
            const checked = composeMemoryReservations(configOf("staging", overrides)).reduce((sum, r) => sum + r.mib, 0);
            assert.equal(checked, deployed, JSON.stringify(overrides));
        }
    });

    it("Alertmanager refuses a control character in a URL as the program renders it, and takes one in the SMTP password (why only URLs are refused)", () => {
        requireTool("amtool", "prometheus-alertmanager");
        const check = (receivers: AlertReceivers) => run("amtool", ["check-config", path.join(writeTempFiles({ "alertmanager.yml": renderAlertmanagerConfig(receivers) }), "alertmanager.yml")]);
        const refused = check({ webhookUrl: "https://hooks.example.com/a\u0001b" });
        assert.notEqual(refused.status, 0, refused.output);
        assert.match(refused.output, /net\/url: invalid control character in URL/);
        const email = { to: ["oncall@example.com"], from: "alerts@example.com", smarthost: "smtp.example.com:587", username: "archon", password: "pa\nss" };
        const carried = check({ email });
        assert.equal(carried.status, 0, carried.output);
    });

    it("restic cannot send a line break in the access key ID, and does send one in the secret key (why only the ID is refused)", async () => {
        requireTool("restic", "restic");
        const requests: string[] = [];
        const server = http.createServer((req, res) => {
            requests.push(req.url ?? "");
            res.writeHead(404).end();
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const { port } = server.address() as AddressInfo;
        const restic = (accessKeyId: string, secretAccessKey: string) => new Promise<string>((resolve) => {
            execFile("restic", ["--no-cache", "-r", `s3:http://127.0.0.1:${port}/bucket/staging`, "snapshots"], { env: { ...process.env, AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, RESTIC_PASSWORD: "x" }, timeout: 60_000 },
                (_error, stdout, stderr) => resolve(stdout + stderr));
        });
        try {
            assert.match(await restic("AKIA\nEXAMPLE", "secret"), /net\/http: invalid header field value for "Authorization"/);
            assert.equal(requests.length, 0, "nothing was sent");
            const output = await restic("AKIAEXAMPLE", "sec\nret");
            assert.ok(requests.length > 0, output);
        } finally {
            server.close();
        }
    });

    it("carries a line break in the secrets whose destinations take one (GoTrue's, oauth2-proxy's, restic's env)", async () => {
        // compose-go's dotenv reads "\n" inside double quotes as a line break (components/compose/env-file.ts,
        // test/fixtures/compose-go-dotenv.json); SMTP AUTH, the OAuth token request and SigV4's HMAC carry any byte.
        const result = await synth("staging", { smtpHost: "smtp.example.com", smtpUser: "archon", smtpPassword: "pa\nss", ...OIDC, oidcClientSecret: "cli\nent", ...BACKUP_KEYS, backupSecretAccessKey: "sec\nret" });
        const envFiles = Object.entries(result.files).filter(([file]) => /\/env\/[^/]+\.env$/.test(file)).map(([, text]) => text).join("");
        assert.match(envFiles, /^GOTRUE_SMTP_PASS="pa\\nss"$/m);
        assert.match(envFiles, /^OAUTH2_PROXY_CLIENT_SECRET="cli\\nent"$/m);
        assert.match(envFiles, /^AWS_SECRET_ACCESS_KEY="sec\\nret"$/m);
    });
});
