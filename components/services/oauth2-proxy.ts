/**
 * Optional OIDC login in front of Archon's UI: oauth2-proxy (pinned in versions.ts) as a catalog
 * service, checked by the ingress on every request to the UI host (nginx `auth_request` on Compose,
 * a Traefik forwardAuth Middleware or ingress-nginx `auth-url` on Kubernetes), instead of the
 * generated basic-auth login. The MCP host keeps its basic credential: MCP clients send a header,
 * they cannot follow an OIDC login.
 *
 * Facts from oauth2-proxy/oauth2-proxy at v7.15.3:
 * - every flag can be an env var `OAUTH2_PROXY_<FLAG>` (pkg/apis/options/load.go `SetEnvPrefix`,
 *   docs/docs/configuration/overview.md "Environment variables"): the client and cookie secrets go
 *   there (secret env), never into the arguments;
 * - the cookie secret must decode to 16, 24 or 32 bytes for AES (pkg/validation/cookie.go,
 *   pkg/encryption/utils.go `SecretBytes`, which base64url-decodes first): 32 random bytes,
 *   base64url, i.e. AES-256;
 * - `/ping` answers 200 before any authentication (oauthproxy.go `buildPreAuthChain`,
 *   pkg/middleware/healthcheck.go; options.go default `ping-path` /ping);
 * - `/oauth2/auth` answers 202 with a session and 401 without (oauthproxy.go `AuthOnly`);
 *   `/oauth2/sign_in`, `/oauth2/start`, `/oauth2/callback` are the login flow (oauthproxy.go paths);
 * - the default listen address is 127.0.0.1:4180 (legacy_options.go `http-address`): it must be
 *   0.0.0.0 to be reachable from the ingress;
 * - an absolute `rd` redirect is followed only to a `--whitelist-domain` (pkg/app/redirect/validator.go);
 * - e-mail domains and an authenticated-emails file are alternatives, either admits (validator.go),
 *   and one of them is required (pkg/validation/options.go "missing setting for email validation").
 */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { ForwardAuthSpec, ServiceSpec } from "./catalog";
import { IMAGES } from "./versions";

export const OAUTH2_PROXY_SERVICE = "oauth2-proxy";
export const OAUTH2_PROXY_PORT = 4180;
/** oauth2-proxy's default `--proxy-prefix`; its login flow lives under it on the UI host. */
export const OAUTH2_PROXY_PREFIX = "/oauth2";
/** The authenticated-emails file (`--authenticated-emails-file`), one address a line. */
export const AUTHENTICATED_EMAILS_FILE = "/etc/oauth2-proxy/authenticated-emails";
/** The nonroot uid of the distroless flavour; the alpine flavour sets no USER (Dockerfile), so it is set here. */
export const OAUTH2_PROXY_UID = 65532;

/** The UI's login as the ingress renderers see it. */
export const OIDC_FORWARD_AUTH: ForwardAuthSpec = {
    service: OAUTH2_PROXY_SERVICE,
    port: OAUTH2_PROXY_PORT,
    authPath: `${OAUTH2_PROXY_PREFIX}/auth`,
    signInPath: `${OAUTH2_PROXY_PREFIX}/sign_in`,
    startPath: `${OAUTH2_PROXY_PREFIX}/start`,
    // --set-xauthrequest: the signed-in user (pkg/apis/options/legacy_options.go `set-xauthrequest`, the response headers it adds).
    responseHeaders: ["X-Auth-Request-User", "X-Auth-Request-Email"],
};

/** The stack config's OIDC login (config `oidc*`). */
export interface OidcSettings {
    /** The provider's issuer (https); oauth2-proxy reads `<issuer>/.well-known/openid-configuration` at start. */
    issuerUrl: string;
    clientId: string;
    /** Secret. */
    clientSecret: pulumi.Input<string>;
    /** Addresses in these domains may sign in. */
    allowedEmailDomains: string[];
    /** And these addresses. */
    allowedEmails: string[];
}

export interface Oauth2ProxyServiceArgs {
    oidc: OidcSettings;
    /** The UI's public host (archon.<domain>): the callback URL and the only redirect target. */
    archonHost: string;
    /** The session cookie's encryption key (base64url of 32 random bytes). Secret. */
    cookieSecret: pulumi.Input<string>;
    /** Two replicas (production on Kubernetes). Sessions live in the encrypted cookie, so any replica serves any request. */
    highAvailability?: boolean;
}

/** The oauth2-proxy ServiceSpec (both targets). */
export function oauth2ProxyService(args: Oauth2ProxyServiceArgs): ServiceSpec {
    const { oidc, archonHost } = args;
    const emails = oidc.allowedEmails.length > 0;
    return {
        name: OAUTH2_PROXY_SERVICE,
        group: "archon",
        image: IMAGES.oauth2Proxy,
        kind: "service",
        args: [
            `--http-address=0.0.0.0:${OAUTH2_PROXY_PORT}`,
            "--provider=oidc",
            `--oidc-issuer-url=${oidc.issuerUrl}`,
            `--client-id=${oidc.clientId}`,
            `--redirect-url=https://${archonHost}${OAUTH2_PROXY_PREFIX}/callback`,
            ...oidc.allowedEmailDomains.map((domain) => `--email-domain=${domain}`),
            ...(emails ? [`--authenticated-emails-file=${AUTHENTICATED_EMAILS_FILE}`] : []),
            // The Traefik errors middleware and ingress-nginx send the original URL as `rd`.
            `--whitelist-domain=${archonHost}`,
            // Behind the ingress: X-Forwarded-* decide the redirects (required by both documented integrations).
            "--reverse-proxy=true",
            "--set-xauthrequest=true",
            "--cookie-secure=true",
            // Proxies nothing: the ingress asks /oauth2/auth and serves the UI itself.
            "--upstream=static://202",
        ],
        ports: [{ name: "http", port: OAUTH2_PROXY_PORT }],
        secretEnv: { OAUTH2_PROXY_CLIENT_SECRET: oidc.clientSecret, OAUTH2_PROXY_COOKIE_SECRET: args.cookieSecret },
        files: emails ? [{ path: AUTHENTICATED_EMAILS_FILE, content: oidc.allowedEmails.map((e) => `${e}\n`).join("") }] : [],
        // busybox wget is part of the alpine flavour.
        health: { http: { path: "/ping", port: OAUTH2_PROXY_PORT }, exec: ["wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${OAUTH2_PROXY_PORT}/ping`], startupSeconds: 20 },
        resources: { cpu: "10m", memory: "32Mi", cpuLimit: "500m", memoryLimit: "128Mi" },
        // Cookie sessions: nothing is written.
        security: { runAsNonRoot: true, runAsUser: OAUTH2_PROXY_UID, runAsGroup: OAUTH2_PROXY_UID, readOnlyRootFilesystem: true, writablePaths: [] },
        // The issuer's discovery document, keys and token endpoint.
        egressInternet: true,
        routes: [{ host: archonHost, path: `${OAUTH2_PROXY_PREFIX}/`, port: OAUTH2_PROXY_PORT }],
        replicas: args.highAvailability ? 2 : 1,
    };
}

export interface OidcLoginArgs extends Omit<Oauth2ProxyServiceArgs, "cookieSecret"> {
    /** The `keepers` of the cookie secret (config `secretsVersion`): raising it signs everyone out. */
    secretsVersion: number;
}

/** The generated cookie secret and the oauth2-proxy service. */
export class OidcLogin extends pulumi.ComponentResource {
    public readonly service: ServiceSpec;
    /** How the ingress checks the UI's requests. */
    public readonly forwardAuth: ForwardAuthSpec = OIDC_FORWARD_AUTH;

    constructor(name: string, args: OidcLoginArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:OidcLogin", name, {}, opts);
        const key = new random.RandomId("oauth2-proxy-cookie-secret", { byteLength: 32, keepers: { secretsVersion: String(args.secretsVersion) } }, { parent: this });
        // base64url of the 32 bytes, as the upstream docs generate it (SecretBytes decodes it back to 32).
        const cookieSecret = pulumi.secret(key.hex.apply((hex) => Buffer.from(hex, "hex").toString("base64url")));
        this.service = oauth2ProxyService({ ...args, cookieSecret });
        this.registerOutputs({ service: this.service.name });
    }
}
