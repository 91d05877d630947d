import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import * as time from "@pulumiverse/time";
import * as jwt from "jsonwebtoken";
// apache-md5 ships no types: one function (password, "$apr1$<salt>$") -> "$apr1$<salt>$<hash>".
const apr1: (password: string, salt: string) => string = require("apache-md5");

/** Arguments of {@link Secrets}. Both stacks use the same set; only the values differ. */
export interface SecretsArgs {
    /**
     * The `keepers` of every generated secret. Raising it (1 -> 2) replaces every secret on the next
     * `pulumi up`; nothing else ever rotates them. See README, "Rotating secrets", for what that costs.
     */
    secretsVersion: number;
    /** Lifetime of the anon and service_role keys, in years. Default 10; at least 5. */
    apiKeyLifetimeYears?: number;
}

/** Claims of a Supabase API key (HS256, signed with the JWT secret string as-is). */
export interface SupabaseKeyClaims {
    role: "anon" | "service_role";
    iss: "supabase";
    /** Seconds since the epoch. */
    iat: number;
    /** Seconds since the epoch. */
    exp: number;
}

/**
 * The keepers of a secret kept in two alternating slots, so that the value before the last
 * `secretsVersion` raise is still known: slot A is regenerated at odd versions, slot B at even
 * ones, and the current value is the slot regenerated last (A at odd versions). Raising the version
 * replaces only the slot that becomes current; the other holds the previous value until the next
 * raise. Slot A's keepers at version 1 are the single secret's of before (`secretsVersion: "1"`), so
 * a stack at version 1 keeps its value.
 */
export function alternatingSlots(version: number): { a: string; b: string; current: "a" | "b" } {
    const odd = version % 2 === 1;
    return { a: String(odd ? version : version - 1), b: String(odd ? version - 1 : version), current: odd ? "a" : "b" };
}

/** The basic-auth users at the ingress: Archon's UI, and the MCP endpoint. */
export const ARCHON_UI_USER = "archon";
export const ARCHON_MCP_USER = "mcp";

/** The header value an MCP client sends: `Basic base64(user:password)` (RFC 7617). */
export function basicAuthorization(user: string, password: string): string {
    return `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}

const SECONDS_PER_YEAR = 365 * 24 * 60 * 60;

/** A bcrypt hash as the random provider makes it: `$2a$<cost>$` + 22 salt characters + 31 of hash. */
const BCRYPT_HASH = /^\$2[abxy]\$\d\d\$([./A-Za-z0-9]{22})[./A-Za-z0-9]{31}$/;

/**
 * The hash an ingress checks a login against, on every request: Apache's APR1 (MD5-crypt, 1000
 * rounds, `$apr1$<8-character salt>$<hash>`), the one fast salted scheme every ingress of the stack
 * accepts: nginx implements it itself, whatever its libc (nginx src/core/ngx_crypt.c
 * `ngx_crypt_apr1`; ingress-nginx is nginx), and Traefik's basicAuth checks it through
 * go-http-auth's `CheckSecret` (traefik pkg/middlewares/auth/basic_auth.go; abbot/go-http-auth
 * basic.go: `$apr1$`/`$1$` MD5-crypt, `{SHA}`, bcrypt).
 *
 * Not bcrypt: an ingress checks the hash on every request, wrong passwords included, and bcrypt's
 * cost 10 takes ~50 ms of CPU per check, so one client sending wrong passwords at the rate limit
 * keeps the proxy's single CPU busy (README "Ingress logins", measured by
 * test/ingress-login-cost.spec.ts). A slow hash protects guessable passwords against offline
 * cracking; these are 32 to 48 random alphanumerics (>= 190 bits), beyond any search at any hash
 * speed, so the fast salted hash gives the same protection at a thousandth of the cost.
 *
 * The salt: the first 8 characters of the salt the random provider drew for the password's
 * `bcryptHash` (same alphabet). It is random and kept in the state with the password, so the line
 * is stable across runs and changes only with the password.
 */
export function loginHash(password: string, bcryptHash: string): string {
    const salt = BCRYPT_HASH.exec(bcryptHash)?.[1];
    if (salt === undefined) throw new Error("loginHash: the password's bcryptHash is not a bcrypt hash ($2a$<cost>$<53 characters>)");
    return apr1(password, `$apr1$${salt.slice(0, 8)}$`);
}

/** One htpasswd line (`user:hash`) for an ingress login: see {@link loginHash}. */
export function loginHtpasswd(user: string, password: pulumi.Input<string>, bcryptHash: pulumi.Input<string>): pulumi.Output<string> {
    return pulumi.secret(pulumi.all([password, bcryptHash]).apply(([p, b]) => `${user}:${loginHash(p, b)}\n`));
}

/**
 * Signs a Supabase API key. `issuedAt` must be stable (it comes from a `time.Static` recorded with
 * the secrets), so the same secret always yields the same key and no `pulumi up` re-issues them.
 */
export function signSupabaseKey(role: SupabaseKeyClaims["role"], jwtSecret: string, issuedAt: number, lifetimeYears: number): string {
    const claims: SupabaseKeyClaims = { role, iss: "supabase", iat: issuedAt, exp: issuedAt + lifetimeYears * SECONDS_PER_YEAR };
    // jsonwebtoken keeps a given `iat` instead of stamping the clock.
    return jwt.sign(claims, jwtSecret, { algorithm: "HS256" });
}

/** A JSON Web Key Set holding the public half of an RSA key, with its RFC 7638 thumbprint as `kid`. */
export function publicJwks(publicKeyPem: string): { keys: Record<string, string>[] } {
    const jwk = crypto.createPublicKey(publicKeyPem).export({ format: "jwk" });
    if (jwk.kty !== "RSA" || !jwk.n || !jwk.e) throw new Error("the signing key is not an RSA key");
    return { keys: [{ kty: "RSA", n: jwk.n, e: jwk.e, alg: "RS256", use: "sig", kid: rsaThumbprint(jwk) }] };
}

/** The RFC 7638 thumbprint of an RSA public JWK: the `kid` GoTrue stamps and PostgREST looks up. */
function rsaThumbprint(jwk: crypto.JsonWebKey): string {
    return crypto.createHash("sha256").update(JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n })).digest("base64url");
}

/**
 * GoTrue's `GOTRUE_JWT_KEYS`: a JSON array of private JWKs (supabase/auth v2.186.0,
 * internal/conf/jwk.go `JwtKeysDecoder.Decode`). Exactly one key may carry key_ops ["sign"]
 * (`Validate`: "only 1 signing key is supported"): the RSA key, so user tokens are RS256 with this
 * `kid` (`GetSigningJwk`). The HS256 secret rides along as a verify-only `oct` key, because GoTrue
 * derives `JWT.ValidMethods` from these keys (internal/conf/configuration.go, `if
 * config.JWT.ValidMethods == nil`): without it the HS256 anon and service_role keys would be
 * refused by `jwt.WithValidMethods` (internal/api/auth.go `parseJWTClaims`).
 */
export function gotrueJwtKeys(privateKeyPem: string, jwtSecret: string): string {
    const jwk = crypto.createPrivateKey(privateKeyPem).export({ format: "jwk" });
    if (jwk.kty !== "RSA") throw new Error("the signing key is not an RSA key");
    return JSON.stringify([
        { ...jwk, kid: rsaThumbprint(jwk), alg: "RS256", use: "sig", key_ops: ["sign"] },
        { kty: "oct", k: Buffer.from(jwtSecret, "utf8").toString("base64url"), alg: "HS256", key_ops: ["verify"] },
    ]);
}

/**
 * PostgREST's `PGRST_JWT_SECRET` as a JWKS (PostgREST accepts a JSON Web Key Set there): the RS256
 * public key GoTrue signs user tokens with, and the HS256 secret (an `oct` key) the anon and
 * service_role keys are signed with. It holds the HS256 secret, so it is itself a secret.
 */
export function postgrestJwks(publicKeyPem: string, jwtSecret: string): string {
    return JSON.stringify({
        keys: [
            ...publicJwks(publicKeyPem).keys,
            { kty: "oct", k: Buffer.from(jwtSecret, "utf8").toString("base64url"), alg: "HS256" },
        ],
    });
}

/**
 * Every secret the stack needs, generated in-program and kept as Pulumi secrets. The values never
 * change unless `secretsVersion` does: Supabase's Postgres sets role passwords only on first init,
 * and Archon encrypts stored credentials with a key derived from the service key.
 */
export class Secrets extends pulumi.ComponentResource {
    /**
     * Password of the superusers `postgres` and `supabase_admin` (the image's entrypoint gives both
     * POSTGRES_PASSWORD: supabase/postgres migrations/db/migrate.sh). 40 alphanumerics.
     */
    public readonly postgresPassword: pulumi.Output<string>;
    /**
     * The superuser password before the last `secretsVersion` raise ({@link alternatingSlots}): the
     * role-password step logs in with it when the database still has it, and sets every role's
     * password to the current values (components/secrets/role-passwords.ts).
     */
    public readonly previousPostgresPassword: pulumi.Output<string>;
    /** Password of `authenticator`, the role PostgREST logs in as. 40 alphanumerics. */
    public readonly authenticatorPassword: pulumi.Output<string>;
    /** Password of `supabase_auth_admin`, the role GoTrue logs in as. 40 alphanumerics. */
    public readonly authAdminPassword: pulumi.Output<string>;
    /**
     * pgsodium's root key (64 hex digits), which encrypts Supabase Vault's secrets. Deliberately NOT
     * rotated by `secretsVersion` (a new key makes every stored Vault secret unreadable) and
     * protected: it outlives the db container like upstream's `db-config` volume, and a restored
     * database keeps its key.
     */
    public readonly pgsodiumRootKey: pulumi.Output<string>;
    /** GoTrue's GOTRUE_JWT_KEYS (see {@link gotrueJwtKeys}). */
    public readonly gotrueJwtKeys: pulumi.Output<string>;
    /** PostgREST's PGRST_JWT_SECRET as a JWKS (see {@link postgrestJwks}). */
    public readonly postgrestJwks: pulumi.Output<string>;
    /** The HS256 secret PostgREST, GoTrue, Kong and Postgres share. 64 alphanumerics. */
    public readonly jwtSecret: pulumi.Output<string>;
    /** The `anon` API key: a JWT signed with {@link jwtSecret}. */
    public readonly anonKey: pulumi.Output<string>;
    /** The `service_role` API key: a JWT signed with {@link jwtSecret}. Archon's SUPABASE_SERVICE_KEY. */
    public readonly serviceRoleKey: pulumi.Output<string>;
    /** Seconds since the epoch at which the API keys were issued (recorded when the secrets were made). */
    public readonly apiKeysIssuedAt: pulumi.Output<number>;
    /** Supabase Studio's basic-auth password (user `supabase`). */
    public readonly dashboardPassword: pulumi.Output<string>;
    /** Grafana's `admin` password. */
    public readonly grafanaPassword: pulumi.Output<string>;
    /**
     * The private registry's PULL password (user `archon`: hosts, nodes, imagePullSecrets), and its
     * bcrypt hash for htpasswd. It cannot push: the ingress admits writes only with the push password.
     */
    public readonly registryPassword: pulumi.Output<string>;
    public readonly registryPasswordBcrypt: pulumi.Output<string>;
    /**
     * The private registry's PUSH password (user `archon-push`) and its bcrypt hash: only the image
     * build (docker.Image, the `images` CI environment) gets it, never a host or a node.
     */
    public readonly registryPushPassword: pulumi.Output<string>;
    public readonly registryPushPasswordBcrypt: pulumi.Output<string>;
    /**
     * Basic-auth login of Archon's UI at the ingress (user {@link ARCHON_UI_USER}): Archon v0.1.0
     * has no login of its own. The password, and an htpasswd line with its fast hash ({@link loginHash}).
     */
    public readonly archonUiPassword: pulumi.Output<string>;
    public readonly archonUiHtpasswd: pulumi.Output<string>;
    /**
     * The MCP endpoint's credential at the ingress (user {@link ARCHON_MCP_USER}), and its htpasswd
     * line ({@link loginHash}). MCP clients send it as the header `Authorization: Basic base64(mcp:<password>)`.
     */
    public readonly archonMcpPassword: pulumi.Output<string>;
    public readonly archonMcpHtpasswd: pulumi.Output<string>;
    /** Shared token that k3s servers and agents join with. */
    public readonly k3sToken: pulumi.Output<string>;
    /** Supabase SECRET_KEY_BASE (64 characters). */
    public readonly secretKeyBase: pulumi.Output<string>;
    /** Supabase VAULT_ENC_KEY (32 characters). */
    public readonly vaultEncKey: pulumi.Output<string>;
    /** postgres-meta's CRYPTO_KEY (32 characters). */
    public readonly pgMetaCryptoKey: pulumi.Output<string>;
    /**
     * restic's repository password: every Postgres backup is encrypted with it before upload.
     * 64 alphanumerics. Without it no backup can be read: keep `pulumi stack output --show-secrets
     * backupEncryptionKey` somewhere outside the stack too.
     */
    public readonly backupEncryptionKey: pulumi.Output<string>;
    /**
     * restic's key before the last `secretsVersion` raise ({@link alternatingSlots}): the next backup
     * that finds the repository opening only with it replaces it by {@link backupEncryptionKey}
     * (`restic key passwd`), so the repository never holds a key the stack does not know.
     */
    public readonly previousBackupEncryptionKey: pulumi.Output<string>;
    /** RS256 signing key (PEM, PKCS#1) for asymmetric JWTs. */
    public readonly signingKeyPem: pulumi.Output<string>;
    /** The public JWKS of {@link signingKeyPem}: not a secret. */
    public readonly jwks: pulumi.Output<{ keys: Record<string, string>[] }>;

    constructor(name: string, args: SecretsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:Secrets", name, {}, opts);
        const lifetimeYears = args.apiKeyLifetimeYears ?? 10;
        if (lifetimeYears < 5) throw new pulumi.RunError("API keys live at least 5 years (apiKeyLifetimeYears)");
        const keepers = { secretsVersion: String(args.secretsVersion) };
        const password = (id: string, length: number) =>
            new random.RandomPassword(id, { length, special: false, keepers }, { parent: this });

        // Two slots each (alternatingSlots): the new value and the one before it, for the steps that
        // move the database and the backup repository from one to the other.
        const slots = alternatingSlots(args.secretsVersion);
        const slotted = (id: string, length: number) => {
            const a = new random.RandomPassword(id, { length, special: false, keepers: { secretsVersion: slots.a } }, { parent: this }).result;
            const b = new random.RandomPassword(`${id}-alternate`, { length, special: false, keepers: { secretsVersion: slots.b } }, { parent: this }).result;
            return slots.current === "a" ? { current: a, previous: b } : { current: b, previous: a };
        };
        const postgres = slotted("postgres-password", 40);
        this.postgresPassword = postgres.current;
        this.previousPostgresPassword = postgres.previous;
        this.authenticatorPassword = password("authenticator-password", 40).result;
        this.authAdminPassword = password("supabase-auth-admin-password", 40).result;
        this.pgsodiumRootKey = pulumi.secret(new random.RandomId("pgsodium-root-key", { byteLength: 32 }, { parent: this, protect: true }).hex);
        const jwtSecret = password("jwt-secret", 64);
        this.jwtSecret = jwtSecret.result;
        this.dashboardPassword = password("dashboard-password", 32).result;
        this.grafanaPassword = password("grafana-password", 32).result;
        const registry = password("registry-password", 32);
        this.registryPassword = registry.result;
        this.registryPasswordBcrypt = pulumi.secret(registry.bcryptHash);
        const registryPush = password("registry-push-password", 40);
        this.registryPushPassword = registryPush.result;
        this.registryPushPasswordBcrypt = pulumi.secret(registryPush.bcryptHash);
        const ui = password("archon-ui-password", 32);
        this.archonUiPassword = ui.result;
        this.archonUiHtpasswd = loginHtpasswd(ARCHON_UI_USER, ui.result, ui.bcryptHash);
        const mcp = password("archon-mcp-password", 48);
        this.archonMcpPassword = mcp.result;
        this.archonMcpHtpasswd = loginHtpasswd(ARCHON_MCP_USER, mcp.result, mcp.bcryptHash);
        this.k3sToken = password("k3s-token", 64).result;
        this.secretKeyBase = password("secret-key-base", 64).result;
        this.vaultEncKey = password("vault-enc-key", 32).result;
        this.pgMetaCryptoKey = password("pg-meta-crypto-key", 32).result;
        const backupKey = slotted("backup-encryption-key", 64);
        this.backupEncryptionKey = backupKey.current;
        this.previousBackupEncryptionKey = backupKey.previous;

        const issued = new time.Static("api-keys-issued-at", { triggers: keepers }, { parent: this });
        this.apiKeysIssuedAt = issued.unix;
        const sign = (role: SupabaseKeyClaims["role"]) =>
            pulumi.secret(pulumi.all([this.jwtSecret, issued.unix]).apply(([secret, iat]) => signSupabaseKey(role, secret, iat, lifetimeYears)));
        this.anonKey = sign("anon");
        this.serviceRoleKey = sign("service_role");

        const signingKey = new tls.PrivateKey("jwt-signing-key", { algorithm: "RSA", rsaBits: 2048 }, {
            parent: this,
            replacementTrigger: keepers.secretsVersion,
        });
        this.signingKeyPem = signingKey.privateKeyPem;
        this.jwks = signingKey.publicKeyPem.apply(publicJwks);
        this.gotrueJwtKeys = pulumi.secret(pulumi.all([signingKey.privateKeyPem, this.jwtSecret]).apply(([pem, secret]) => gotrueJwtKeys(pem, secret)));
        this.postgrestJwks = pulumi.secret(pulumi.all([signingKey.publicKeyPem, this.jwtSecret]).apply(([pem, secret]) => postgrestJwks(pem, secret)));

        this.registerOutputs({ jwks: this.jwks, apiKeysIssuedAt: this.apiKeysIssuedAt });
    }
}
