/**
 * The one place that reads `pulumi.Config`. Every project key is validated here with a zod schema,
 * before any resource is registered, and typed from then on. Defaults live in Pulumi.yaml (the
 * Pulumi CLI applies them, and the offline synth does the same), so this module requires every key
 * that has a default and treats the rest as optional. Pulumi.yaml declares only the keys with a
 * default and the four every stack sets; the optional ones are documented in README.
 */
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { EU_LOCATIONS, HETZNER_SERVER_TYPES } from "./components/hetzner/server-types";
import type { AlertReceiversInput } from "./components/services/alert-rules";
import { registryHosts } from "./components/registry/hosts";
import { readSourceRevision, shaTag, tagMatchesCommit } from "./components/registry/release";
import { RecordedRelease, ReleaseRecordError, recordedReleaseFor } from "./scripts/lib/release-record";
import { PROJECT, RawConfig, SECRET_KEYS, configSchema, unknownKeyProblem } from "./config-schema";

// The schema and the key lists live in ./config-schema (no Pulumi import, for the synth's parent
// process); everything that imports them from here keeps doing so.
export * from "./config-schema";

/**
 * The validated configuration, plus what follows from it. Secret keys are present only as Pulumi
 * secrets (`*Secret`), so no component can put their plain text into a resource input by mistake;
 * the alert URLs stay text (in `alerting`) because the Alertmanager config is rendered from them,
 * and both renderers keep that config secret.
 */
export interface ArchonConfig extends Omit<RawConfig, "alertWebhookUrl" | "alertSlackWebhookUrl" | "alertSlackChannel" | "alertEmailTo" | "alertDeadMansSwitchUrl" | "kubeconfig" | "registryPassword" | "hcloudTokenForCluster" | "smtpHost" | "smtpPort" | "smtpUser" | "smtpPassword" | "smtpAdminEmail" | "smtpSenderName" | "backupEndpoint" | "backupBucket" | "backupRegion" | "backupAccessKeyId" | "backupSecretAccessKey" | "backupSchedule" | "backupKeepDaily" | "backupKeepWeekly" | "backupKeepPreMigration" | "oidcIssuerUrl" | "oidcClientId" | "oidcClientSecret" | "oidcAllowedEmailDomains" | "oidcAllowedEmails" | "dockerHubUsername" | "dockerHubToken"> {
    /**
     * The optional OIDC login of Archon's UI through oauth2-proxy (config `oidc*`), replacing the
     * UI's basic auth; the client secret only as a Pulumi secret. Unset: basic auth.
     */
    oidc?: { issuerUrl: string; clientId: string; clientSecret: pulumi.Output<string>; allowedEmailDomains: string[]; allowedEmails: string[] };
    /**
     * Where and when Postgres is backed up (components/backups). Defaults: Hetzner Object Storage in
     * the stack's location (https://<location>.your-objectstorage.com, region <location>), bucket
     * `archon-backups-<stack>`, daily at 03:17 UTC, 7 daily and 4 weekly snapshots kept, and the
     * last 10 pre-migration ones.
     */
    backup: { endpoint: string; bucket: string; region: string; schedule: string; keepDaily: number; keepWeekly: number; keepPreMigration: number };
    /**
     * Docker Hub credentials the Compose host pulls with (config `dockerHubUsername`,
     * `dockerHubToken`); unset, it pulls anonymously. The token only as a secret.
     */
    dockerHub?: { username: string; token: pulumi.Output<string> };
    /** Object storage credentials as Pulumi secrets; unset, the backups fail and say what to set. */
    backupAccessKeyIdSecret?: pulumi.Output<string>;
    backupSecretAccessKeySecret?: pulumi.Output<string>;
    /**
     * Where GoTrue sends its e-mails (invites, confirmations, recovery), when `smtpHost` is set:
     * port default 587 (GoTrue's own default), sender `smtpAdminEmail` (default `acmeEmail`) named
     * `smtpSenderName` (default "Archon"); the password only as a secret.
     */
    smtp?: { host: string; port: number; user?: string; adminEmail: string; senderName: string; password?: pulumi.Output<string> };
    /**
     * Where Alertmanager sends alerts (config `alert*`): Slack, e-mail through the stack's SMTP
     * server (sender smtpAdminEmail), a webhook, and the dead man's switch Watchdog pings.
     */
    alerting: AlertReceiversInput;
    /** The Pulumi stack name. */
    stack: string;
    /** Production turns on delete/rebuild protection and backups for servers. */
    isProduction: boolean;
    /** CPU architecture of the servers the workloads run on (cax types are arm64). */
    architecture: "amd64" | "arm64";
    /** Kubeconfig as a Pulumi secret (target kubernetes only). */
    kubeconfigSecret?: pulumi.Output<string>;
    /** External registry password as a Pulumi secret, when an external registry is configured. */
    registryPasswordSecret?: pulumi.Output<string>;
    /**
     * Hetzner API token the k3s cluster's cloud controller manager and CSI driver use, as a secret:
     * `hcloudTokenForCluster`, required on k3s and refused when it is the deploy's HCLOUD_TOKEN.
     */
    hcloudTokenForClusterSecret?: pulumi.Output<string>;
    /**
     * The release record of `imageTag` when not building (`<releasesDir>/<imageTag>.json`): read here,
     * before any resource exists, and refused unless it records its digests in this stack's registry.
     */
    releaseRecord?: RecordedRelease;
}

/**
 * A configuration problem. A `RunError` makes the Pulumi CLI print the message alone, without a
 * stack trace; the synth prints it as one line and exits non-zero.
 */
export class ConfigError extends pulumi.RunError {
    constructor(message: string) {
        super(message);
        this.name = "ConfigError";
    }
}

/** Reads, validates and types the stack's configuration, or throws one {@link ConfigError}. */
export function loadConfig(): ArchonConfig {
    const problem = unknownKeyProblem(Object.keys(pulumi.runtime.allConfig())) ?? plaintextSecretProblem();
    if (problem !== undefined) throw new ConfigError(problem);
    const cfg = new pulumi.Config(PROJECT);
    const raw: Record<string, unknown> = {};
    for (const [key, schema] of Object.entries(configSchema.shape)) {
        const text = cfg.get(key);
        if (text === undefined) continue;
        raw[key] = expectsText(schema) ? text : parseStructured(text);
    }
    const parsed = configSchema.safeParse(raw);
    if (!parsed.success) {
        throw new ConfigError(describeIssues(parsed.error.issues, raw));
    }
    const { alertWebhookUrl, alertSlackWebhookUrl, alertSlackChannel, alertEmailTo, alertDeadMansSwitchUrl, kubeconfig, registryPassword, hcloudTokenForCluster, smtpHost, smtpPort, smtpUser, smtpPassword, smtpAdminEmail, smtpSenderName, backupEndpoint, backupBucket, backupRegion, backupAccessKeyId, backupSecretAccessKey, backupSchedule, backupKeepDaily, backupKeepWeekly, backupKeepPreMigration, oidcIssuerUrl, oidcClientId, oidcClientSecret, oidcAllowedEmailDomains, oidcAllowedEmails, dockerHubUsername, dockerHubToken, ...c } = parsed.data;
    if (c.buildImages && c.archonSourceDir !== undefined) checkBuildSource(c.imageTag, c.archonSourceDir);
    const storageLocation = (EU_LOCATIONS as readonly string[]).includes(c.location) ? c.location : "fsn1";
    return {
        ...c,
        alerting: {
            webhookUrl: alertWebhookUrl,
            slack: alertSlackWebhookUrl === undefined ? undefined : { webhookUrl: alertSlackWebhookUrl, channel: alertSlackChannel },
            email: alertEmailTo === undefined || smtpHost === undefined ? undefined : {
                to: alertEmailTo,
                from: smtpAdminEmail ?? c.acmeEmail,
                smarthost: `${smtpHost}:${smtpPort ?? 587}`,
                username: smtpUser,
                password: smtpPassword === undefined ? undefined : pulumi.secret(smtpPassword),
            },
            deadMansSwitchUrl: alertDeadMansSwitchUrl,
        },
        backup: {
            endpoint: backupEndpoint ?? `https://${storageLocation}.your-objectstorage.com`,
            bucket: backupBucket ?? `archon-backups-${pulumi.getStack()}`.toLowerCase().replace(/[^a-z0-9.-]/g, "-").slice(0, 63),
            region: backupRegion ?? storageLocation,
            schedule: backupSchedule,
            keepDaily: backupKeepDaily,
            keepWeekly: backupKeepWeekly,
            keepPreMigration: backupKeepPreMigration,
        },
        smtp: smtpHost === undefined ? undefined : {
            host: smtpHost,
            port: smtpPort ?? 587,
            user: smtpUser,
            adminEmail: smtpAdminEmail ?? c.acmeEmail,
            senderName: smtpSenderName ?? "Archon",
            password: smtpPassword === undefined ? undefined : pulumi.secret(smtpPassword),
        },
        oidc: oidcIssuerUrl === undefined || oidcClientId === undefined || oidcClientSecret === undefined ? undefined : {
            issuerUrl: oidcIssuerUrl,
            clientId: oidcClientId,
            clientSecret: pulumi.secret(oidcClientSecret),
            allowedEmailDomains: oidcAllowedEmailDomains ?? [],
            allowedEmails: oidcAllowedEmails ?? [],
        },
        dockerHub: dockerHubUsername === undefined || dockerHubToken === undefined ? undefined : { username: dockerHubUsername, token: pulumi.secret(dockerHubToken) },
        backupAccessKeyIdSecret: backupAccessKeyId === undefined ? undefined : pulumi.secret(backupAccessKeyId),
        backupSecretAccessKeySecret: backupSecretAccessKey === undefined ? undefined : pulumi.secret(backupSecretAccessKey),
        stack: pulumi.getStack(),
        isProduction: c.environment === "production",
        architecture: HETZNER_SERVER_TYPES[c.serverType].architecture === "arm" ? "arm64" : "amd64",
        kubeconfigSecret: kubeconfig === undefined ? undefined : pulumi.secret(kubeconfig),
        registryPasswordSecret: registryPassword === undefined ? undefined : pulumi.secret(registryPassword),
        hcloudTokenForClusterSecret: clusterHcloudToken(hcloudTokenForCluster),
        releaseRecord: c.buildImages ? undefined : releaseRecordOf(c.imageTag, c.releasesDir, registryHosts(c.domain, c.registryServer).pull),
    };
}

/**
 * Refuses to publish a `sha-<commit>` tag built from another commit: tags are immutable, and a
 * rollback with buildImages left on would otherwise rebuild an old tag from new source. A checkout
 * git cannot read is let through (ArchonImages warns that the release cannot record its commit).
 */
function checkBuildSource(imageTag: string, sourceDir: string): void {
    const source = readSourceRevision(sourceDir);
    if (source !== undefined && !tagMatchesCommit(imageTag, source.commit)) {
        throw new ConfigError(`${PROJECT}:imageTag = ${JSON.stringify(imageTag)}: archonSourceDir is at commit ${source.commit.slice(0, 12)}; tags are immutable, so build it as ${shaTag(source.commit)} (pulumi config set imageTag ${shaTag(source.commit)}), or set buildImages false to deploy the existing ${imageTag}`);
    }
}

/** The release record of `tag` usable with `registry` (scripts/lib/release-record.ts), as a config refusal. */
function releaseRecordOf(tag: string, releasesDir: string | undefined, registry: string): RecordedRelease | undefined {
    try {
        return recordedReleaseFor(releasesDir ?? "releases", tag, registry, pulumi.getStack());
    } catch (error) {
        if (error instanceof ReleaseRecordError) throw new ConfigError(`${PROJECT}:imageTag = ${JSON.stringify(tag)}: ${error.message}`);
        throw error;
    }
}

/**
 * A secret key set in plain text (`pulumi config set` without `--secret`): Pulumi.yaml cannot declare
 * these optional keys secret, so nothing else refuses a plaintext kubeconfig or registry password
 * committed in a stack file. The runtime knows which keys arrived encrypted
 * (PULUMI_CONFIG_SECRET_KEYS); `isConfigSecret` is exported by @pulumi/pulumi's runtime but not typed.
 */
function plaintextSecretProblem(): string | undefined {
    const runtime = pulumi.runtime as unknown as { isConfigSecret?: (key: string) => boolean };
    if (typeof runtime.isConfigSecret !== "function") return undefined;
    const config = pulumi.runtime.allConfig();
    const plain = SECRET_KEYS.filter((k) => config[`${PROJECT}:${k}`] !== undefined && !runtime.isConfigSecret!(`${PROJECT}:${k}`));
    if (plain.length === 0) return undefined;
    return `${PROJECT}:${plain[0]} is stored in plain text; it is a secret: pulumi config set --secret ${plain[0]} <value> (this encrypts it in the stack file)`;
}

/** The cluster's own Hetzner token (`hcloudTokenForCluster`, required on k3s): never the provider's. */
function clusterHcloudToken(explicit: string | undefined): pulumi.Output<string> | undefined {
    return explicit === undefined ? undefined : pulumi.secret(explicit);
}

function describeIssues(issues: readonly z.core.$ZodIssue[], raw: Record<string, unknown>): string {
    const firstPerKey = issues.filter((issue, i) => issues.findIndex((other) => other.path[0] === issue.path[0]) === i);
    return firstPerKey
        .map((issue) => {
            const key = String(issue.path[0] ?? "");
            const value = raw[key];
            const shown = value === undefined ? "(not set)" : SECRET_KEYS.includes(key as (typeof SECRET_KEYS)[number]) ? "[secret]" : JSON.stringify(value);
            return `${PROJECT}:${key} = ${shown}: ${readableMessage(issue, key, value)}`;
        })
        .join("; ");
}

/**
 * The issue's message without zod's internals ("Invalid input: expected string, received
 * undefined"): the schema's own message where it has one, else what the value must be, and "is
 * required" said once, with how to set it.
 */
function readableMessage(issue: z.core.$ZodIssue, key: string, value: unknown): string {
    const own = issue.message.startsWith("Invalid") || issue.message.startsWith("Too ") ? undefined : issue.message;
    if (value === undefined && issue.code === "invalid_type") {
        const fix = `pulumi config set ${key} <value>`;
        if (own === undefined) return `is required: ${fix}`;
        return own.startsWith("is required") ? own : `is required; it ${own} (${fix})`;
    }
    if (own !== undefined) return own;
    switch (issue.code) {
        case "invalid_type":
            return `must be ${issue.expected === "array" ? "a list" : issue.expected === "object" ? "a map" : `a ${issue.expected}`}`;
        case "too_big":
            return `must be at most ${String(issue.maximum)}`;
        case "too_small":
            return `must be at least ${String(issue.minimum)}`;
        case "invalid_value":
            return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
        default:
            return "is not valid; see the configuration table in README.md";
    }
}

/** Numbers, booleans and lists arrive as JSON text; what does not parse goes to the schema as is, which names it. */
function parseStructured(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}

/** True when the key's schema takes the raw string (strings and enums); false for numbers, booleans, lists. */
function expectsText(schema: z.ZodType): boolean {
    let def = schema._zod.def as { type: string; innerType?: z.ZodType; in?: z.ZodType };
    while (def.type === "optional" || def.type === "default" || def.type === "pipe") {
        const inner = def.innerType ?? def.in;
        if (!inner) break;
        def = inner._zod.def as typeof def;
    }
    return ["string", "enum", "union"].includes(def.type);
}
