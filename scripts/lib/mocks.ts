/**
 * Deterministic stand-ins for what a cloud would compute (IDs, IPs, random results, keys), derived
 * from each resource's URN, so the offline synth writes the same files on every run.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import type { MockCallArgs, MockCallResult, MockResourceArgs, MockResourceResult, Mocks } from "@pulumi/pulumi/runtime/mocks";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import * as bcrypt from "bcryptjs";

/** What a state function receives: the resource's URN, name and inputs (secrets already unwrapped). */
export interface MockContext {
    urn: string;
    type: string;
    name: string;
    inputs: Record<string, unknown>;
}

type ComputedState = (ctx: MockContext) => Record<string, unknown>;

/** A fixed point in time for everything that records "now": 2026-01-01T00:00:00Z. */
export const MOCK_NOW_UNIX = 1767225600;

const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const SPECIAL = "!@#$%&*()-_=+[]{}<>:?";
const BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** Deterministic bytes for a seed. */
export function seededBytes(seed: string, count: number): Buffer {
    const chunks: Buffer[] = [];
    for (let i = 0; chunks.length * 32 < count; i++) {
        chunks.push(crypto.createHash("sha256").update(`${seed}#${i}`).digest());
    }
    return Buffer.concat(chunks).subarray(0, count);
}

function seededString(seed: string, length: number, alphabet: string): string {
    return [...seededBytes(seed, length)].map((b) => alphabet[b % alphabet.length]).join("");
}

function seededNumber(seed: string, modulo: number): number {
    return seededBytes(seed, 4).readUInt32BE(0) % modulo;
}

const MOCK_RSA_PEM = fs.readFileSync(path.join(__dirname, "fixtures", "mock-rsa-2048.pem"), "utf8");

function sshString(data: Buffer): Buffer {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    return Buffer.concat([length, data]);
}

function sshMpint(base64url: string): Buffer {
    let bytes = Buffer.from(base64url, "base64url");
    if (bytes[0] & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
    return sshString(bytes);
}

function privateKeyState(ctx: MockContext): Record<string, unknown> {
    const algorithm = String(ctx.inputs.algorithm ?? "RSA");
    const key = algorithm === "ED25519"
        ? crypto.createPrivateKey({
            // PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410).
            key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seededBytes(`${ctx.urn}\n${JSON.stringify(ctx.inputs)}`, 32)]),
            format: "der",
            type: "pkcs8",
        })
        : crypto.createPrivateKey(MOCK_RSA_PEM);
    const publicKey = crypto.createPublicKey(key);
    const jwk = publicKey.export({ format: "jwk" });
    const opensshBlob = algorithm === "ED25519"
        ? Buffer.concat([sshString(Buffer.from("ssh-ed25519")), sshString(Buffer.from(jwk.x ?? "", "base64url"))])
        : Buffer.concat([sshString(Buffer.from("ssh-rsa")), sshMpint(jwk.e ?? ""), sshMpint(jwk.n ?? "")]);
    const publicKeyOpenssh = `${algorithm === "ED25519" ? "ssh-ed25519" : "ssh-rsa"} ${opensshBlob.toString("base64")}\n`;
    const pkcs8 = key.export({ format: "pem", type: "pkcs8" }).toString();
    return {
        algorithm,
        privateKeyPem: algorithm === "ED25519" ? pkcs8 : MOCK_RSA_PEM,
        privateKeyPemPkcs8: pkcs8,
        // The OpenSSH container format is not produced offline; the PKCS#8 PEM stands in for it.
        privateKeyOpenssh: pkcs8,
        publicKeyPem: publicKey.export({ format: "pem", type: "spki" }).toString(),
        publicKeyOpenssh,
        publicKeyFingerprintSha256: `SHA256:${crypto.createHash("sha256").update(opensshBlob).digest("base64").replace(/=+$/, "")}`,
        publicKeyFingerprintMd5: crypto.createHash("md5").update(opensshBlob).digest("hex").replace(/(..)(?!$)/g, "$1:"),
    };
}

function passwordState(ctx: MockContext): Record<string, unknown> {
    const length = Number(ctx.inputs.length ?? 16);
    const alphabet = ctx.inputs.special === false ? ALPHANUMERIC : ALPHANUMERIC + String(ctx.inputs.overrideSpecial ?? SPECIAL);
    // Seeded by the inputs too: a change of keepers yields a new value, as the provider's replacement would.
    const result = seededString(`${ctx.urn}\n${JSON.stringify(ctx.inputs)}`, length, alphabet);
    // Cost 4 keeps the synth fast; the hash is a real bcrypt hash the registry's htpasswd accepts.
    const salt = `$2y$04$${seededString(`${ctx.urn}/salt`, 22, BCRYPT_ALPHABET)}`;
    return { result, bcryptHash: bcrypt.hashSync(result, salt) };
}

function ipv4(seed: string): string {
    return `198.51.100.${10 + seededNumber(seed, 240)}`;
}

function ipv6Network(seed: string): string {
    return `2001:db8:${seededNumber(seed, 0xffff).toString(16)}::/64`;
}

function numericId(seed: string): string {
    return String(10_000_000 + seededNumber(seed, 89_999_999));
}

/**
 * What `sudo cat /etc/rancher/k3s/k3s.yaml` prints on a k3s server: the admin kubeconfig pointing at
 * the loopback address (the program re-points it). Placeholder credentials, valid YAML.
 */
export const MOCK_K3S_KUBECONFIG = [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "  - name: default",
    "    cluster:",
    "      server: https://127.0.0.1:6443",
    `      certificate-authority-data: ${Buffer.from("mock cluster CA").toString("base64")}`,
    "contexts:",
    "  - name: default",
    "    context:",
    "      cluster: default",
    "      user: default",
    "current-context: default",
    "preferences: {}",
    "users:",
    "  - name: default",
    "    user:",
    `      client-certificate-data: ${Buffer.from("mock client certificate").toString("base64")}`,
    `      client-key-data: ${Buffer.from("mock client key").toString("base64")}`,
    "",
].join("\n");

/**
 * Computed outputs per resource type, keyed by Pulumi type token. Inputs are echoed for every type;
 * these add what the provider would compute. Add an entry when a component reads a computed output.
 */
export const COMPUTED_STATE: Record<string, ComputedState> = {
    "random:index/randomPassword:RandomPassword": passwordState,
    "random:index/randomString:RandomString": (ctx) => ({ result: passwordState(ctx).result }),
    "random:index/randomId:RandomId": (ctx) => ({ hex: seededBytes(ctx.urn, Number(ctx.inputs.byteLength ?? 8)).toString("hex") }),
    "tls:index/privateKey:PrivateKey": privateKeyState,
    "time:index/static:Static": () => ({ unix: MOCK_NOW_UNIX, rfc3339: new Date(MOCK_NOW_UNIX * 1000).toISOString().replace(".000", "") }),
    "hcloud:index/server:Server": (ctx) => ({
        ipv4Address: ipv4(ctx.urn),
        ipv6Network: ipv6Network(ctx.urn),
        ipv6Address: ipv6Network(ctx.urn).replace("::/64", "::1"),
        status: "running",
    }),
    "hcloud:index/volume:Volume": (ctx) => ({ linuxDevice: `/dev/disk/by-id/scsi-0HC_Volume_${numericId(ctx.urn)}` }),
    "hcloud:index/loadBalancer:LoadBalancer": (ctx) => ({ ipv4: ipv4(ctx.urn), ipv6: ipv6Network(ctx.urn).replace("::/64", "::1") }),
    "hcloud:index/primaryIp:PrimaryIp": (ctx) => ({ ipAddress: ipv4(ctx.urn) }),
    "hcloud:index/sshKey:SshKey": (ctx) => ({ fingerprint: crypto.createHash("md5").update(String(ctx.inputs.publicKey)).digest("hex").replace(/(..)(?!$)/g, "$1:") }),
    // Kubernetes assigns a Service its cluster IP (k3s: from 10.43.0.0/16).
    "kubernetes:core/v1:Service": (ctx) => ({
        spec: { ...(ctx.inputs.spec as Record<string, unknown>), clusterIP: `10.43.${seededNumber(ctx.urn, 256)}.${1 + seededNumber(`${ctx.urn}/ip`, 254)}` },
    }),
    // Remote commands print nothing offline, except the k3s kubeconfig fetch (components/k3s-cluster.ts).
    "command:remote:Command": (ctx) => ({ stdout: ctx.name === "kubeconfig" ? MOCK_K3S_KUBECONFIG : "", stderr: "" }),
    // Local steps print nothing offline; the image check reports the images present (the usual
    // case: workloads keep Pulumi's await), components/registry/bootstrap.ts.
    "command:local:Command": (ctx) => ({ stdout: ctx.name === "archon-images-present" ? "present" : "", stderr: "" }),
    "docker:index/image:Image": (ctx) => {
        const imageName = String(ctx.inputs.imageName ?? ctx.name);
        const repository = imageName.replace(/:[^:/]+$/, "");
        const digest = crypto.createHash("sha256").update(`${ctx.urn}\n${JSON.stringify(ctx.inputs)}`).digest("hex");
        return { repoDigest: `${repository}@sha256:${digest}`, baseImageName: imageName };
    },
};

/** IDs for resources whose provider uses numeric IDs (Hetzner); others get `<name>-<hash>`. */
function mockId(ctx: MockContext): string {
    if (ctx.type.startsWith("hcloud:")) return numericId(ctx.urn);
    return `${ctx.name}-${crypto.createHash("sha256").update(ctx.urn).digest("hex").slice(0, 8)}`;
}

/** Replaces Pulumi's secret wrappers by their values (for the state functions, which want plain data). */
export function unwrapSecrets(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(unwrapSecrets);
    if (value !== null && typeof value === "object") {
        const record = value as Record<string, unknown>;
        if (record[specialSigKey] === specialSecretSig) return unwrapSecrets(record.value);
        return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, unwrapSecrets(v)]));
    }
    return value;
}

/**
 * Pulumi mocks whose `newResource` needs the URN of the resource being registered. The synth tells
 * it through {@link SynthMocks.urnOfNextRegistration} just before the mock monitor calls in.
 */
export class SynthMocks implements Mocks {
    public urnOfNextRegistration = "";
    /** Outputs the engine would mark secret for the resource being registered (`additionalSecretOutputs`). */
    public secretOutputsOfNextRegistration: string[] = [];

    newResource(args: MockResourceArgs): MockResourceResult {
        const inputs = unwrapSecrets(args.inputs) as Record<string, unknown>;
        const ctx: MockContext = { urn: this.urnOfNextRegistration, type: args.type, name: args.name, inputs };
        const computed = COMPUTED_STATE[args.type]?.(ctx) ?? {};
        if (args.type.startsWith("kubernetes:") && args.custom !== false) {
            const metadata = (inputs.metadata ?? {}) as Record<string, unknown>;
            if (metadata.name === undefined) {
                computed.metadata = { ...metadata, name: `${args.name}-${mockId(ctx).slice(-8)}` };
            }
        }
        const state: Record<string, unknown> = { ...args.inputs, ...computed };
        for (const key of this.secretOutputsOfNextRegistration) {
            if (key in state) state[key] = { [specialSigKey]: specialSecretSig, value: unwrapSecrets(state[key]) };
        }
        return { id: args.custom === false ? undefined : mockId(ctx), state };
    }

    call(args: MockCallArgs): MockCallResult {
        return unwrapSecrets(args.inputs) as Record<string, unknown>;
    }
}
