import { strict as assert } from "assert";
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as jwt from "jsonwebtoken";
import { Secrets, publicJwks } from "../components/secrets/secrets";
import { MOCK_NOW_UNIX } from "../scripts/lib/mocks";
import { SynthResult } from "../scripts/lib/synthesize";
import { inProgram, named, ofType, requireTool, run, synth, synthAgain } from "./helpers";

const FIVE_YEARS = 5 * 365 * 24 * 60 * 60;

interface SupabaseOutputs {
    jwtSecret: { $secret: string };
    anonKey: { $secret: string };
    serviceRoleKey: { $secret: string };
    jwks: { keys: Record<string, string>[] };
}

function supabaseOf(result: SynthResult): SupabaseOutputs {
    return result.outputs.supabase as SupabaseOutputs;
}

const PASSWORDS: Record<string, number> = {
    "postgres-password": 40,
    // Rotated in two alternating slots (secrets.ts alternatingSlots): the previous value stays known.
    "postgres-password-alternate": 40,
    "jwt-secret": 64,
    "dashboard-password": 32,
    "grafana-password": 32,
    "registry-password": 32,
    "registry-push-password": 40,
    "k3s-token": 64,
    "secret-key-base": 64,
    "vault-enc-key": 32,
    "pg-meta-crypto-key": 32,
    // One password per database login role (issue 11.6), rotating with secretsVersion like the rest.
    "authenticator-password": 40,
    "supabase-auth-admin-password": 40,
    "archon-ui-password": 32,
    "archon-mcp-password": 48,
    // restic's repository password (components/backups): the next backup after a raise replaces the repository's key (test/rotation.spec.ts).
    "backup-encryption-key": 64,
    "backup-encryption-key-alternate": 64,
};
/** The second slot of a slotted secret: regenerated at even versions (version 1: keepers "0"). */
const ALTERNATE = /-alternate$/;

describe("secrets", () => {
    let staging: SynthResult;
    before(async () => {
        staging = await synth("staging");
    });

    it("generates every password with its length, alphanumeric, kept by secretsVersion", () => {
        const passwords = ofType(staging, "random:index/randomPassword:RandomPassword");
        assert.deepEqual(passwords.map((p) => p.name).sort(), Object.keys(PASSWORDS).sort());
        for (const password of passwords) {
            assert.equal(password.inputs.length, PASSWORDS[password.name], password.name);
            assert.equal(password.inputs.special, false, `${password.name} is URL- and env-file-safe`);
            assert.deepEqual(password.inputs.keepers, { secretsVersion: ALTERNATE.test(password.name) ? "0" : "1" }, password.name);
        }
        // The secret every consumer gets (the stack output PostgREST, Kong and GoTrue are configured from).
        const jwtSecret = supabaseOf(staging).jwtSecret.$secret;
        assert.ok(jwtSecret.length >= 40 && /^[A-Za-z0-9]+$/.test(jwtSecret), "Supabase needs a JWT secret of at least 40 characters");
    });

    it("records the keys' issue time with the secrets, rotating with them", () => {
        const issued = named(staging, "time:index/static:Static", "api-keys-issued-at");
        assert.deepEqual(issued.inputs.triggers, { secretsVersion: "1" });
    });

    it("makes an RSA signing key that is replaced only with secretsVersion", async () => {
        const key = named(staging, "tls:index/privateKey:PrivateKey", "jwt-signing-key");
        assert.equal(key.inputs.algorithm, "RSA");
        assert.equal(key.inputs.rsaBits, 2048);
        assert.equal(key.options.replacementTrigger, "1");
        const rotated = named(await synth("staging", { secretsVersion: 2 }), "tls:index/privateKey:PrivateKey", "jwt-signing-key");
        assert.equal(rotated.options.replacementTrigger, "2");
    });

    it("rotates every secret, and re-issues the keys, when secretsVersion changes", async () => {
        const rotated = await synth("staging", { secretsVersion: 2 });
        for (const password of ofType(rotated, "random:index/randomPassword:RandomPassword")) {
            // A slotted secret's first slot keeps version 1's value as the previous one; its second is the new current.
            assert.deepEqual(password.inputs.keepers, { secretsVersion: ["postgres-password", "backup-encryption-key"].includes(password.name) ? "1" : "2" }, password.name);
        }
        const current = (result: SynthResult) => (result.outputs.passwords as { $secret: { postgres: string } }).$secret.postgres;
        assert.notEqual(current(rotated), current(staging), "the superuser password rotates");
        assert.notEqual((rotated.outputs.backupEncryptionKey as { $secret: string }).$secret, (staging.outputs.backupEncryptionKey as { $secret: string }).$secret, "the backup key rotates");
        assert.deepEqual(named(rotated, "time:index/static:Static", "api-keys-issued-at").inputs.triggers, { secretsVersion: "2" });
        const before = supabaseOf(staging);
        const after = supabaseOf(rotated);
        assert.notEqual(after.jwtSecret.$secret, before.jwtSecret.$secret);
        assert.notEqual(after.anonKey.$secret, before.anonKey.$secret);
        jwt.verify(after.anonKey.$secret, after.jwtSecret.$secret, { algorithms: ["HS256"] });
    });

    it("changes nothing secret when only an unrelated key changes", async () => {
        const other = await synth("staging", { imageTag: "sha-0000000" });
        assert.deepEqual(supabaseOf(other), supabaseOf(staging));
        assert.deepEqual(other.outputs.passwords, staging.outputs.passwords);
    });

    it("keeps every secret a Pulumi secret (pulumi.isSecret), and the JWKS public", async () => {
        const secrecy = await inProgram("staging", {}, async () => {
            const secrets = new Secrets("secrets", { secretsVersion: 1 });
            const checks: Record<string, pulumi.Output<unknown>> = {
                postgresPassword: secrets.postgresPassword,
                jwtSecret: secrets.jwtSecret,
                anonKey: secrets.anonKey,
                serviceRoleKey: secrets.serviceRoleKey,
                dashboardPassword: secrets.dashboardPassword,
                grafanaPassword: secrets.grafanaPassword,
                registryPassword: secrets.registryPassword,
                registryPasswordBcrypt: secrets.registryPasswordBcrypt,
                k3sToken: secrets.k3sToken,
                secretKeyBase: secrets.secretKeyBase,
                vaultEncKey: secrets.vaultEncKey,
                pgMetaCryptoKey: secrets.pgMetaCryptoKey,
                signingKeyPem: secrets.signingKeyPem,
                jwks: secrets.jwks,
            };
            const result: Record<string, boolean> = {};
            for (const [name, output] of Object.entries(checks)) result[name] = await pulumi.isSecret(output);
            return result;
        });
        for (const [name, secret] of Object.entries(secrecy)) {
            assert.equal(secret, name !== "jwks", `${name} ${secret ? "is" : "is not"} a secret`);
        }
    });

    it("exports the Supabase credentials as secret outputs", () => {
        const supabase = supabaseOf(staging);
        for (const key of ["jwtSecret", "anonKey", "serviceRoleKey"] as const) {
            assert.equal(typeof supabase[key].$secret, "string", `${key} is a secret output`);
        }
        assert.ok(Array.isArray(supabase.jwks.keys), "the JWKS is a plain output");
        assert.ok("$secret" in (staging.outputs.passwords as object), "passwords are one secret output");
    });
});

describe("Supabase API keys", () => {
    let supabase: SupabaseOutputs;
    before(async () => {
        supabase = supabaseOf(await synth("staging"));
    });

    for (const role of ["anon", "service_role"] as const) {
        const keyOf = () => (role === "anon" ? supabase.anonKey.$secret : supabase.serviceRoleKey.$secret);

        it(`signs the ${role} key with the JWT secret (HS256), with Supabase's claims`, () => {
            const claims = jwt.verify(keyOf(), supabase.jwtSecret.$secret, { algorithms: ["HS256"] }) as jwt.JwtPayload;
            assert.equal(claims.role, role);
            assert.equal(claims.iss, "supabase");
            assert.equal(claims.iat, MOCK_NOW_UNIX, "iat comes from the recorded issue time, not the clock");
            assert.ok(claims.exp! - claims.iat! >= FIVE_YEARS, "the key lives at least 5 years");
            assert.deepEqual(Object.keys(claims).sort(), ["exp", "iat", "iss", "role"]);
        });

        it(`refuses the ${role} key under any other secret`, () => {
            assert.throws(() => jwt.verify(keyOf(), supabase.jwtSecret.$secret.slice(1) + "x", { algorithms: ["HS256"] }), /invalid signature/);
        });

        it(`signs the ${role} key over the secret string as-is (checked with openssl)`, () => {
            requireTool("openssl", "openssl");
            const [header, payload, signature] = keyOf().split(".");
            const digest = run("openssl", ["dgst", "-sha256", "-binary", "-hmac", supabase.jwtSecret.$secret], { input: `${header}.${payload}`, encoding: "latin1" });
            assert.equal(digest.status, 0, digest.output);
            assert.equal(Buffer.from(digest.output, "latin1").toString("base64url"), signature);
        });
    }

    it("issues identical keys on every run for the same secret", async () => {
        const again = supabaseOf(await synthAgain("staging"));
        assert.equal(again.anonKey.$secret, supabase.anonKey.$secret);
        assert.equal(again.serviceRoleKey.$secret, supabase.serviceRoleKey.$secret);
    });

    it("publishes the signing key's public JWKS with an RFC 7638 kid", () => {
        const [key] = supabase.jwks.keys;
        assert.equal(key.kty, "RSA");
        assert.equal(key.alg, "RS256");
        assert.equal(key.use, "sig");
        const expectedKid = crypto.createHash("sha256").update(JSON.stringify({ e: key.e, kty: "RSA", n: key.n })).digest("base64url");
        assert.equal(key.kid, expectedKid);
        assert.ok(!("d" in key), "no private part");
    });

    it("derives a JWKS that verifies what the private key signs", () => {
        const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
        const jwks = publicJwks(publicKey.export({ format: "pem", type: "spki" }).toString());
        const token = jwt.sign({ sub: "x" }, privateKey.export({ format: "pem", type: "pkcs8" }).toString(), { algorithm: "RS256" });
        const verifier = crypto.createPublicKey({ key: jwks.keys[0], format: "jwk" });
        assert.ok(jwt.verify(token, verifier.export({ format: "pem", type: "spki" }).toString(), { algorithms: ["RS256"] }));
    });
});
