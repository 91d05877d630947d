/**
 * The schema of every project config key and the lists that name them: what config.ts validates
 * the stack's configuration with, and what the offline synth checks a stack file against before
 * the program runs. No Pulumi import, so the synth's parent process checks a stack file without
 * loading the SDK (scripts/lib/stack-config.ts); config.ts re-exports all of it, and stays the one
 * place that reads `pulumi.Config`.
 */
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ALL_LOCATIONS, HETZNER_SERVER_TYPES } from "./components/hetzner/server-types";
import { ARCHON_INTERNAL_RANGE, cidrContains } from "./components/hetzner/pod-network";
import { ADMIN_CIDR_MIN_PREFIX, hostBitsProblem, wideCidrProblem } from "./components/hetzner/cidr-coverage";
import { bucketNameProblem } from "./components/backups/bucket-name";
import { cronScheduleProblem, dailyTime } from "./components/backups/cron-schedule";
import { K3S_INSTALLERS, k3sInstaller } from "./components/hetzner/k3s-installers";
import { envValueProblem } from "./components/compose/env-file";
import { ARCHON_BUILDS, ARCHON_IMAGES } from "./components/registry/build-context";

export const PROJECT = "archon-infra";

/** Hetzner locations this project deploys to. */
export const HETZNER_LOCATIONS = ALL_LOCATIONS;
/** The one table of server types (vCPUs, memory, architecture, locations); the policy pack reads it too. */
export { HETZNER_SERVER_TYPES };

/** Tags that move: a deploy that names one is not reproducible, so they are refused everywhere. */
export const FLOATING_TAGS = ["latest", "main", "master", "stable", "edge", "dev", "nightly", "head"];
/** A docker tag (the registry's grammar). */
const DOCKER_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/**
 * What production accepts: the immutable build tag of one Archon commit. A release version is
 * promoted through staging as the sha- tag it was built under (the policy pack holds the same rule).
 */
const PRODUCTION_TAG = /^sha-[0-9a-f]{7,40}$/;
const PRODUCTION_TAG_RULE = "production needs the immutable tag of one Archon commit: sha-<commit> (7-40 hex digits), as built and run on staging";
/** Every `sha-` tag, on any stack: the commit's hex digits, as CI tags its builds. */
const SHA_TAG = /^sha-/;
/**
 * A release version, the other pinned tag staging takes: `v` + MAJOR.MINOR.PATCH (semver, with an
 * optional pre-release such as v0.2.0-rc.1). `v1` and `v1.2` are moving tags by convention (they
 * follow the newest v1.x / v1.2.x), and words such as `release` or `stable` name no build at all.
 */
const RELEASE_TAG = /^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;
/**
 * A tag that is a bare number. Written unquoted in a stack file, YAML reads it as a number and the
 * Pulumi CLI hands the program that number as text (`1.10` -> "1.1", `0x1F` -> "31"), so the tag
 * the program sees is not the one written. The synth sees the raw YAML and names the exact case;
 * the program sees only the text, so it refuses every bare-number tag (release tags start with v).
 */
const BARE_NUMBER_TAG = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
/** Hetzner Cloud's largest volume (10 TB). */
export const MAX_VOLUME_GB = 10240;
/** A pinned k3s release, e.g. v1.31.4+k3s1. */
const K3S_VERSION = /^v\d+\.\d+\.\d+\+k3s\d+$/;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const SSH_PUBLIC_KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?$/;

const serverType = z.string().refine((v) => v in HETZNER_SERVER_TYPES, {
    message: `not a known Hetzner server type; use one of ${Object.keys(HETZNER_SERVER_TYPES).join(", ")}`,
});

const cidr = z.union([z.cidrv4(), z.cidrv6()], {
    error: "not a CIDR block; write addresses as 203.0.113.7/32 or 2001:db8::/48",
}).superRefine((block, ctx) => {
    const problem = hostBitsProblem(block);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
});

const kubeconfigText = z.string().refine(isKubeconfig, {
    message: "not a kubeconfig (YAML with clusters, users and contexts); set it with: pulumi config set --secret kubeconfig -- \"$(cat ~/.kube/config)\"",
});

/** ASCII control characters: C0 and DEL. */
const CONTROL_CHARACTER = /[\x00-\x1f\x7f]/;
/** The control characters an HTTP header value cannot hold (it may hold HTAB: RFC 9110 5.5). */
const HEADER_CONTROL_CHARACTER = /[\x00-\x08\x0a-\x1f\x7f]/;

/**
 * A URL that a Go program parses (`reader`). Go's net/url refuses every ASCII control character
 * ("net/url: invalid control character in URL"; amtool 0.25 check-config says so of a webhook URL
 * with a line break), and zod's URL check drops a line break or tab without a word, so the program
 * would deploy a URL other than the one set: the raw text is checked first.
 */
function urlReadByGo(url: z.ZodType<string, string>, key: string, reader: string, secret = false) {
    return z.string({ error: "must be a URL" })
        .refine((v) => !CONTROL_CHARACTER.test(v), { message: `contains a line break or other control character, which ${reader} refuses in a URL (Go's net/url: "invalid control character in URL"); set it again without it: pulumi config set${secret ? " --secret" : ""} ${key} <url>` })
        .pipe(url);
}

/**
 * A secret that a Go program sends inside an HTTP header (`how`): Go's net/http refuses a header
 * value with a line break or other control character ("net/http: invalid header field value"), so
 * every request would fail.
 */
function headerSecret(key: string, how: string, emptyMessage: string) {
    return z.string().min(1, { message: emptyMessage })
        .refine((v) => !HEADER_CONTROL_CHARACTER.test(v), { message: `contains a line break or other control character, which ${how}, where Go's net/http refuses it ("invalid header field value"); set it again without it: pulumi config set --secret ${key} <value>` });
}

/** A volume size in GB: Hetzner volumes are 10 GB to 10 TB. */
function volumeGb() {
    const message = `must be a whole number of GB from 10 to ${MAX_VOLUME_GB} (Hetzner volumes are at most 10 TB)`;
    return z.number({ error: message }).int({ message }).min(10, { message }).max(MAX_VOLUME_GB, { message });
}

function retentionDays() {
    const message = "must be a whole number of days from 1 to 365";
    return z.number({ error: message }).int({ message }).min(1, { message }).max(365, { message });
}

/** The schema of every `archon-infra:*` key. Pulumi.yaml declares the same keys (a test keeps them in step). */
export const configSchema = z
    .object({
        environment: z.enum(["staging", "production"], {
            error: "must be staging or production (production turns on protections and strict pinning)",
        }),
        target: z.enum(["compose", "k3s", "kubernetes"], {
            error: "must be compose (one Docker host), k3s (a k3s cluster on Hetzner) or kubernetes (an existing cluster)",
        }),
        domain: z.string().regex(DOMAIN, {
            message: "must be a DNS name you control, lower case, e.g. archon.example.com",
        }),
        acmeEmail: z.email({ error: "must be an e-mail address for Let's Encrypt expiry notices" }),
        location: z.enum(HETZNER_LOCATIONS, {
            error: `must be a Hetzner location: ${HETZNER_LOCATIONS.join(", ")}`,
        }),
        serverType,
        agentServerType: serverType.optional(),
        controlPlaneNodes: z.number().int().refine((n) => [1, 3, 5].includes(n), {
            message: "must be 1, 3 or 5 (an odd count keeps etcd's quorum)",
        }),
        agentNodes: z
            .number({ error: "must be a whole number of agent servers, 0 or more" })
            .int({ message: "must be a whole number of agent servers, 0 or more" })
            .min(0, { message: "must be a whole number of agent servers, 0 or more" })
            .max(100, { message: "must be at most 100 (Hetzner's per-project server limit is lower still)" }),
        sshAllowedCidrs: z.array(cidr, {
            error: "must be a list of CIDRs: pulumi config set --path 'sshAllowedCidrs[0]' 203.0.113.7/32",
        }).min(1, {
            message: "must list at least one CIDR that may reach SSH and the Kubernetes API, e.g. [\"203.0.113.7/32\"]",
        }),
        allowWideAdminCidrs: z.boolean({ error: "must be true or false" }).optional(),
        sshPublicKey: z.string().regex(SSH_PUBLIC_KEY, { message: "must be an OpenSSH public key line" }).optional(),
        k3sVersion: z.string().regex(K3S_VERSION, { message: "must be a pinned k3s release such as v1.31.4+k3s1" }),
        imageTag: z
            .string({ error: "is required: the pinned Archon image tag, e.g. sha-1a2b3c4 or v0.1.0" })
            .min(1, { message: "is empty; set a pinned tag, e.g. pulumi config set imageTag sha-1a2b3c4" })
            .refine((t) => !FLOATING_TAGS.includes(t.toLowerCase()), {
                message: "is a moving tag; pin it to sha-<commit> or a release version such as v0.1.0",
            })
            .refine((t) => DOCKER_TAG.test(t), {
                message: "is not a valid image tag (letters, digits, '_', '.', '-'; at most 128 characters)",
            })
            .refine((t) => !BARE_NUMBER_TAG.test(t), {
                message: "is a bare number, which a stack file turns into a YAML number (1.10 becomes 1.1, 0x1F becomes 31); use sha-<commit> or a release version such as v0.1.0",
            })
            .refine((t) => !SHA_TAG.test(t) || PRODUCTION_TAG.test(t), {
                message: "is a sha- tag without a commit: write sha-<commit> with 7-40 lower-case hex digits, as CI tags its builds",
            })
            .refine((t) => SHA_TAG.test(t) || RELEASE_TAG.test(t), {
                message: "is not a pinned tag: use sha-<commit> (as CI tags each build) or a full release version vMAJOR.MINOR.PATCH such as v0.1.0 (tags like v1 or v1.2 move with each release)",
            }),
        buildImages: z.boolean({ error: "must be true or false" }),
        archonSourceDir: z.string().optional(),
        releasesDir: z.string().min(1, { message: "is empty; unset it to read the release records in releases/" }).optional(),
        secretsVersion: z
            .number({ error: "must be a whole number; raise it only to rotate every generated secret" })
            .int({ message: "must be a whole number; raise it only to rotate every generated secret" })
            .min(1, { message: "must be 1 or more" }),
        kubeconfig: kubeconfigText.optional(),
        dataVolumeSizeGb: volumeGb(),
        postgresStorageGb: volumeGb(),
        registryStorageGb: volumeGb(),
        ingressController: z.enum(["traefik", "ingress-nginx"], {
            error: "must be traefik (bundled with k3s) or ingress-nginx",
        }),
        registryServer: z.string().regex(/^[a-z0-9.-]+(:\d+)?$/, { message: "must be a registry host such as ghcr.io" }).optional(),
        // Docker's config.json and Kubernetes' image pull secrets hold `user:password` as one base64
        // `auth` and split it at the first ':' (docker/cli config/configfile decodeAuth; RFC 7617 2: a
        // user-id holds no colon), so a colon moves the rest of the user name into the password.
        registryUsername: z.string().min(1).refine((v) => !v.includes(":"), { message: "contains ':', which a registry login cannot carry (Docker's config.json and Kubernetes' pull secrets split user:password at the first colon); use the registry's user name without it" }).optional(),
        registryPassword: z.string().min(1).optional(),
        enableAgents: z.boolean({ error: "must be true or false" }),
        alertWebhookUrl: urlReadByGo(z.url({ protocol: /^https?$/, error: "must be an http(s) URL that receives Alertmanager webhooks, e.g. https://hooks.example.com/alertmanager" }), "alertWebhookUrl", "Alertmanager", true).optional(),
        alertSlackWebhookUrl: urlReadByGo(z.url({ protocol: /^https$/, error: "must be the https URL of a Slack incoming webhook, e.g. https://hooks.slack.com/services/T000/B000/XXXX" }), "alertSlackWebhookUrl", "Alertmanager", true).optional(),
        alertSlackChannel: z.string().regex(/^[#@]?[a-z0-9._-]{1,80}$/, { message: "must be a Slack channel such as #ops (unset: the webhook's own channel)" }).optional(),
        alertEmailTo: z.array(z.email({ error: "must list e-mail addresses, e.g. [\"oncall@example.com\"]" }), {
            error: "must be a list of e-mail addresses: pulumi config set --path 'alertEmailTo[0]' oncall@example.com",
        }).min(1, { message: "must list at least one address, or be unset" }).optional(),
        alertDeadMansSwitchUrl: urlReadByGo(z.url({ protocol: /^https?$/, error: "must be the http(s) URL of a dead man's switch that expects a ping every 5 minutes, e.g. https://hc-ping.com/<uuid>" }), "alertDeadMansSwitchUrl", "Alertmanager", true).optional(),
        metricsRetentionDays: retentionDays(),
        logsRetentionDays: retentionDays(),
        previousImageTag: z.string().regex(DOCKER_TAG, { message: "is not a valid image tag; set it to the tag the stack ran before this build, e.g. sha-1a2b3c4" })
            .refine((t) => !BARE_NUMBER_TAG.test(t), { message: "is a bare number, which a stack file turns into a YAML number (1.10 becomes 1.1); use the sha-<commit> tag the stack ran before" })
            .optional(),
        // The CCM and CSI driver send it as `Authorization: Bearer <token>` (hcloud-go).
        hcloudTokenForCluster: headerSecret("hcloudTokenForCluster", "the cluster's CCM and CSI driver send as Authorization: Bearer <token>", "is empty; set the Hetzner API token the cluster's CCM/CSI use: pulumi config set --secret hcloudTokenForCluster <token>").optional(),
        podCidr: z.cidrv4({ error: "must be the existing cluster's pod CIDR as IPv4 CIDR, e.g. 172.20.0.0/16 (kubectl cluster-info dump | grep -m1 cluster-cidr)" }).optional(),
        backupEndpoint: urlReadByGo(z.url({ protocol: /^https$/, error: "must be the https URL of the S3-compatible endpoint, e.g. https://fsn1.your-objectstorage.com (restic sends the keys with every request)" }), "backupEndpoint", "restic").optional(),
        backupBucket: z.string().superRefine((name, ctx) => {
            const problem = bucketNameProblem(name);
            if (problem !== undefined) ctx.addIssue({ code: "custom", message: `${problem}; e.g. archon-backups-staging` });
        }).optional(),
        backupRegion: z.string().regex(/^[a-z0-9-]+$/, { message: "must be the S3 region of the endpoint, e.g. fsn1" }).optional(),
        // restic (minio-go) and k3s's etcd snapshots sign S3 requests with SigV4, whose Authorization
        // header carries the key ID (Credential=<key>/...): restic 0.14 with a line break in
        // AWS_ACCESS_KEY_ID fails every request with `net/http: invalid header field value for "Authorization"`.
        // The secret key is only an HMAC key, never sent: the env file and the Secret carry any character of it.
        backupAccessKeyId: headerSecret("backupAccessKeyId", "restic and k3s send inside every S3 request's Authorization header (SigV4 Credential=<key>/...)", "is empty; set the object storage access key: pulumi config set --secret backupAccessKeyId <key>").optional(),
        backupSecretAccessKey: z.string().min(1, { message: "is empty; set the object storage secret key: pulumi config set --secret backupSecretAccessKey <key>" }).optional(),
        backupSchedule: z.string().superRefine((schedule, ctx) => {
            const problem = cronScheduleProblem(schedule);
            if (problem !== undefined) ctx.addIssue({ code: "custom", message: `is not a cron schedule the Kubernetes API accepts: ${problem}; e.g. "17 3 * * *" (UTC)` });
        }).default("17 3 * * *"),
        backupKeepDaily: z.number({ error: "must be a whole number of daily backups to keep, 1 or more" }).int({ message: "must be a whole number of daily backups to keep, 1 or more" }).min(1, { message: "must be 1 or more (the newest backup is always kept)" }).max(366).default(7),
        backupKeepWeekly: z.number({ error: "must be a whole number of weekly backups to keep, 0 or more" }).int({ message: "must be a whole number of weekly backups to keep, 0 or more" }).min(0, { message: "must be 0 or more" }).max(520).default(4),
        backupKeepPreMigration: z.number({ error: "must be a whole number of pre-migration backups to keep, 1 or more" }).int({ message: "must be a whole number of pre-migration backups to keep, 1 or more" }).min(1, { message: "must be 1 or more (the backup before the last migration is always kept)" }).max(1000).default(10),
        smtpHost: z.string().regex(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i, { message: "must be the SMTP server's host name, e.g. smtp.example.com" }).optional(),
        smtpPort: z.number({ error: "must be the SMTP server's port, e.g. 587" }).int({ message: "must be a whole port number, e.g. 587" }).min(1).max(65535, { message: "must be a port number from 1 to 65535" }).optional(),
        smtpUser: z.string().min(1, { message: "is empty; set the SMTP user name or unset the key" }).optional(),
        smtpPassword: z.string().min(1, { message: "is empty; set it with pulumi config set --secret smtpPassword <password>" }).optional(),
        smtpAdminEmail: z.email({ error: "must be the sender address of the auth e-mails, e.g. noreply@example.com" }).optional(),
        // GoTrue writes it into the From: header of its e-mails, one header line (RFC 5322 3.6.2).
        smtpSenderName: z.string().min(1).max(100, { message: "must be at most 100 characters" }).refine((v) => !CONTROL_CHARACTER.test(v), { message: "contains a line break or other control character, which the From: header of GoTrue's e-mails cannot hold; set it again on one line: pulumi config set smtpSenderName <name>" }).optional(),
        oidcIssuerUrl: urlReadByGo(z.url({ protocol: /^https$/, error: "must be the https URL of the OIDC provider's issuer, e.g. https://accounts.google.com (oauth2-proxy reads <issuer>/.well-known/openid-configuration)" }), "oidcIssuerUrl", "oauth2-proxy").optional(),
        oidcClientId: z.string().min(1, { message: "is empty; set the client ID registered with the OIDC provider" }).regex(/^[^\s\x00-\x1f\x7f]+$/, { message: "must be the client ID registered with the OIDC provider (no spaces or control characters: oauth2-proxy gets it as --client-id=<id>)" }).optional(),
        oidcClientSecret: z.string().min(1, { message: "is empty; set it with pulumi config set --secret oidcClientSecret <secret>" }).optional(),
        oidcAllowedEmailDomains: z.array(z.string().regex(/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, { message: "must list e-mail domains (lower case), e.g. [\"example.com\"]; \"*\" is not accepted: it admits every account of the provider" }), {
            error: "must be a list of e-mail domains: pulumi config set --path 'oidcAllowedEmailDomains[0]' example.com",
        }).optional(),
        oidcAllowedEmails: z.array(z.email({ error: "must list e-mail addresses, e.g. [\"ada@example.com\"]" }), {
            error: "must be a list of e-mail addresses: pulumi config set --path 'oidcAllowedEmails[0]' ada@example.com",
        }).optional(),
        dnsZone: z.string().regex(DOMAIN, { message: "must be the name of a Hetzner DNS zone that contains domain, e.g. example.com" }).optional(),
        dnsWaitSeconds: z.number({ error: "must be a whole number of seconds" }).int({ message: "must be a whole number of seconds" }).min(0).max(3600, { message: "must be at most 3600 (the preflight then fails and names the records)" }).default(600),
        storageClassName: z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, { message: "must be the name of a StorageClass in the cluster (lower case, e.g. gp3-retain); unset = the cluster's default" }).optional(),
        // Docker Hub pulls of the Compose host (components/hetzner/docker-hub.ts). A Docker ID is
        // 4-30 lower-case letters and digits (Docker Hub's sign-up rule).
        dockerHubUsername: z.string().regex(/^[a-z0-9]{4,30}$/, { message: "must be a Docker ID (4-30 lower-case letters and digits), the account dockerHubToken belongs to" }).optional(),
        dockerHubToken: z.string().min(1, { message: "is empty; create a read-only personal access token on Docker Hub and set it: pulumi config set --secret dockerHubToken <token>" }).optional(),
        dockerHubMirror: urlReadByGo(z.url({ protocol: /^https$/, error: "must be the https URL of a Docker Hub pull-through cache, e.g. https://mirror.gcr.io" })
            .refine((u) => /^https:\/\/[^/@?#]+\/?$/.test(u), { message: "must be the cache's https://host[:port] without a path, user, query or fragment (dockerd's registry-mirrors), e.g. https://mirror.gcr.io" }), "dockerHubMirror", "dockerd")
            .optional(),
    })
    .superRefine((c, ctx) => {
        const fail = (key: string, message: string) => ctx.addIssue({ code: "custom", path: [key], message });
        if (c.environment === "production" && !PRODUCTION_TAG.test(c.imageTag)) {
            fail("imageTag", PRODUCTION_TAG_RULE);
        }
        const wide = wideCidrProblem(c.sshAllowedCidrs);
        if (wide !== undefined && c.allowWideAdminCidrs !== true) {
            fail("sshAllowedCidrs", `opens SSH${c.target === "k3s" ? " and the Kubernetes API" : ""} to too much of the internet: ${wide}; list operator addresses (/${ADMIN_CIDR_MIN_PREFIX.ipv4} IPv4, /${ADMIN_CIDR_MIN_PREFIX.ipv6} IPv6 at most), or set allowWideAdminCidrs: true to accept it explicitly`);
        }
        // The CCM and CSI driver hold their token in kube-system/hcloud: their own, never the deploy's
        // (README "Who can read what"), so either can be revoked alone.
        if (c.target === "k3s" && c.hcloudTokenForCluster === undefined) {
            fail("hcloudTokenForCluster", "k3s needs the cluster's own Hetzner token for its CCM and CSI driver, separate from the deploy's HCLOUD_TOKEN: create one in the Hetzner Console and pulumi config set --secret hcloudTokenForCluster <token>");
        } else if (c.hcloudTokenForCluster !== undefined && c.hcloudTokenForCluster === process.env.HCLOUD_TOKEN) {
            fail("hcloudTokenForCluster", "is the deploy's own HCLOUD_TOKEN; give the cluster a token of its own (Hetzner Console, Security, API tokens), so a token read from the cluster is not the deploy's and each can be revoked alone");
        }
        if (c.target === "k3s" && !k3sInstaller(c.k3sVersion)) {
            fail("k3sVersion", `has no verified installer checksum; use ${Object.keys(K3S_INSTALLERS).join(", ")}, or add its commit and install.sh sha256 to components/hetzner/k3s-installers.ts`);
        }
        if (c.storageClassName !== undefined && c.target !== "kubernetes") {
            fail("storageClassName", `is for target kubernetes only; ${c.target === "k3s" ? "k3s volumes use the retained class hcloud-volumes-retain" : "compose keeps data on the host's data volume"}: pulumi config rm storageClassName`);
        }
        for (const key of ["smtpPort", "smtpUser", "smtpPassword", "smtpAdminEmail", "smtpSenderName"] as const) {
            if (c[key] !== undefined && c.smtpHost === undefined) fail(key, "needs smtpHost, the SMTP server GoTrue sends its e-mails through: pulumi config set smtpHost <host>");
        }
        if (c.smtpUser !== undefined && c.smtpPassword === undefined) fail("smtpPassword", "is unset while smtpUser is set: pulumi config set --secret smtpPassword <password>");
        // Operator secrets reach the Compose host's env files (components/compose/env-file.ts).
        for (const key of ["smtpPassword", "smtpUser", "oidcClientSecret", "backupAccessKeyId", "backupSecretAccessKey"] as const) {
            const problem = typeof c[key] === "string" ? envValueProblem(c[key] as string) : undefined;
            if (problem) fail(key, `${problem}; set it again without it`);
        }
        const oidcKeys = ["oidcIssuerUrl", "oidcClientId", "oidcClientSecret", "oidcAllowedEmailDomains", "oidcAllowedEmails"] as const;
        if (oidcKeys.some((key) => c[key] !== undefined)) {
            // All or nothing: a half-configured OIDC login would leave the UI without any.
            if (c.oidcIssuerUrl === undefined) fail("oidcIssuerUrl", "the OIDC login needs the provider's issuer URL: pulumi config set oidcIssuerUrl https://<issuer>");
            else if (c.oidcClientId === undefined) fail("oidcClientId", "the OIDC login needs the client ID registered with the provider: pulumi config set oidcClientId <id>");
            else if (c.oidcClientSecret === undefined) fail("oidcClientSecret", "the OIDC login needs the client secret: pulumi config set --secret oidcClientSecret <secret>");
            else if ((c.oidcAllowedEmailDomains ?? []).length === 0 && (c.oidcAllowedEmails ?? []).length === 0) {
                fail("oidcAllowedEmailDomains", "the OIDC login admits nobody: list e-mail domains (pulumi config set --path 'oidcAllowedEmailDomains[0]' example.com) or addresses in oidcAllowedEmails");
            }
        }
        if (c.podCidr !== undefined && c.target !== "kubernetes") {
            fail("podCidr", `is for target kubernetes only; ${c.target === "k3s" ? "k3s clusters get pods in 172.20.0.0/16 from the program" : "compose runs no pod network"}: pulumi config rm podCidr`);
        }
        // archon-agents reads its credentials from archon-server's internal API, which Archon
        // v0.1.0 admits only from 127.0.0.1 and 172.16.0.0/12 (coleam00/Archon v0.1.0,
        // python/src/server/api_routes/internal_api.py): pods elsewhere get 403 and crash-loop.
        if (c.target === "kubernetes" && c.enableAgents && (c.podCidr === undefined || !cidrContains(ARCHON_INTERNAL_RANGE, c.podCidr))) {
            fail("enableAgents", `archon-agents needs pod addresses inside ${ARCHON_INTERNAL_RANGE} (Archon's internal API refuses others); ${c.podCidr === undefined ? "declare the cluster's pod CIDR with pulumi config set podCidr <cidr>" : `podCidr ${c.podCidr} is outside it`}, or pulumi config set enableAgents false`);
        }
        if (c.target === "kubernetes" && c.kubeconfig === undefined) {
            fail("kubeconfig", "target kubernetes needs the cluster's kubeconfig: pulumi config set --secret kubeconfig -- \"$(cat ~/.kube/config)\"");
        }
        // The agents' own server type sizes k3s agent nodes; a Compose host or an existing cluster
        // has none, and a key that changes nothing would read as if it did.
        if (c.target !== "k3s" && c.agentServerType !== undefined) {
            fail("agentServerType", `sizes k3s agent nodes, and target ${c.target} has none; remove it (pulumi config rm agentServerType)${c.target === "compose" ? ", or size the Compose host with serverType" : ""}`);
        }
        for (const key of ["serverType", "agentServerType"] as const) {
            const type = c[key];
            const sold = type ? HETZNER_SERVER_TYPES[type]?.locations ?? [] : [];
            if (type && !(sold as readonly string[]).includes(c.location)) {
                fail(key, `${type} is offered in ${sold.join(", ")} only; pick a type sold in ${c.location} (cpx and ccx types are sold everywhere)`);
            }
        }
        if (c.archonSourceDir !== undefined && !fs.existsSync(path.join(c.archonSourceDir, "migration", "complete_setup.sql"))) {
            fail("archonSourceDir", "has no migration/complete_setup.sql; point it at a checkout of the pinned Archon commit (images/archon-source.json)");
        }
        if (c.buildImages) {
            if (!c.archonSourceDir) {
                fail("archonSourceDir", "buildImages is true, so set archonSourceDir to a checkout of the pinned Archon commit (images/archon-source.json)");
            } else if (!fs.existsSync(path.join(c.archonSourceDir, "python", "Dockerfile.server"))) {
                fail("archonSourceDir", "is not an Archon v1 checkout (python/Dockerfile.server is missing); check out the pinned Archon commit (images/archon-source.json)");
            } else {
                // Each image's build context (components/registry/build-context.ts), else its staging throws mid-deploy.
                const built = ARCHON_IMAGES.filter((image) => image !== "archon-agents" || c.enableAgents);
                const missing = [...new Set(built.map((image) => ARCHON_BUILDS[image].archonContext))].filter((dir) => !fs.existsSync(path.join(c.archonSourceDir!, dir)));
                if (missing.length > 0) fail("archonSourceDir", `has no ${missing.join(", ")} (the build context of ${built.filter((image) => missing.includes(ARCHON_BUILDS[image].archonContext)).join(", ")}); point it at a full checkout of the pinned Archon commit (images/archon-source.json)`);
            }
        }
        if (c.target === "compose" && cronScheduleProblem(c.backupSchedule) === undefined && dailyTime(c.backupSchedule) === undefined) {
            fail("backupSchedule", "Compose runs backups once a day: write it as \"M H * * *\" (UTC), e.g. \"17 3 * * *\"");
        }
        if (c.alertEmailTo !== undefined && c.smtpHost === undefined) {
            fail("alertEmailTo", "e-mail alerts go through the stack's SMTP server: set smtpHost (and smtpPort, smtpUser, smtpPassword), or unset alertEmailTo");
        }
        if (c.alertSlackChannel !== undefined && c.alertSlackWebhookUrl === undefined) {
            fail("alertSlackChannel", "names a channel for alertSlackWebhookUrl, which is unset: pulumi config set --secret alertSlackWebhookUrl <url>");
        }
        if ((c.backupAccessKeyId === undefined) !== (c.backupSecretAccessKey === undefined)) {
            fail(c.backupAccessKeyId === undefined ? "backupAccessKeyId" : "backupSecretAccessKey", "object storage needs backupAccessKeyId and backupSecretAccessKey together (both --secret)");
        }
        if (c.dnsZone !== undefined && c.domain !== c.dnsZone && !c.domain.endsWith(`.${c.dnsZone}`)) {
            fail("dnsZone", `does not contain domain ${c.domain}; set it to the Hetzner DNS zone ${c.domain} belongs to (e.g. ${c.domain.split(".").slice(-2).join(".")}), or unset it and create the records yourself`);
        }
        if (c.dnsZone !== undefined && c.target === "kubernetes") {
            fail("dnsZone", "target kubernetes has no ingress address this program knows; unset it and point the records at your cluster's ingress");
        }
        if ((c.dockerHubUsername === undefined) !== (c.dockerHubToken === undefined)) {
            fail(c.dockerHubUsername === undefined ? "dockerHubUsername" : "dockerHubToken", "authenticated Docker Hub pulls need dockerHubUsername and dockerHubToken (--secret) together");
        }
        for (const key of ["dockerHubUsername", "dockerHubToken", "dockerHubMirror"] as const) {
            if (c[key] !== undefined && c.target !== "compose") fail(key, `is read by target compose only (its Docker host pulls the images); ${c.target} nodes pull through containerd, which this program does not configure: pulumi config rm ${key}`);
        }
        const external = [c.registryServer, c.registryUsername, c.registryPassword].filter((v) => v !== undefined).length;
        if (external !== 0 && external !== 3) {
            fail(c.registryServer === undefined ? "registryServer" : c.registryUsername === undefined ? "registryUsername" : "registryPassword",
                "an external registry needs registryServer, registryUsername and registryPassword (--secret) together");
        }
    });

/** What the schema yields: every key, validated, before config.ts derives the rest. */
export type RawConfig = z.infer<typeof configSchema>;

/**
 * Why config refuses `tag` as the imageTag of a stack of `environment`, in its own words; undefined
 * when it takes it. For tools that write the key (`npm run release -- bump`): they refuse what a
 * deploy would.
 */
export function imageTagProblem(tag: string, environment: string | undefined): string | undefined {
    const parsed = configSchema.shape.imageTag.safeParse(tag);
    if (!parsed.success) return parsed.error.issues[0].message;
    return environment === "production" && !PRODUCTION_TAG.test(tag) ? PRODUCTION_TAG_RULE : undefined;
}

/**
 * Keys that hold secrets. They are optional, so Pulumi.yaml cannot declare them (`secret: true` on a
 * declared key without a default makes the CLI require it); set them with `pulumi config set --secret`.
 * The offline synth treats `--config` values of these keys as set that way, and stands in for their
 * encrypted stack-file values.
 */
export const SECRET_KEYS = ["kubeconfig", "registryPassword", "alertWebhookUrl", "alertSlackWebhookUrl", "alertDeadMansSwitchUrl", "hcloudTokenForCluster", "backupAccessKeyId", "backupSecretAccessKey", "smtpPassword", "oidcClientSecret", "dockerHubToken"] as const;

/** Set (to "1") by the offline synth for the program it runs (scripts/lib/synthesize.ts). */
export const OFFLINE_SYNTH_ENV = "ARCHON_INFRA_OFFLINE_SYNTH";

/**
 * True when the program runs under the offline synth: no cloud, no credentials. Warnings about
 * what only a real deploy needs (the cluster's Hetzner token, backup credentials) are left out
 * there; `pulumi preview` and `pulumi up` still print them (README "Warnings").
 */
export function isOfflineSynth(): boolean {
    return process.env[OFFLINE_SYNTH_ENV] === "1";
}

/**
 * Config namespaces something in this program reads: the project's own, the providers' (hcloud,
 * kubernetes, docker, command, random, tls, time: each package reads `<name>:*`) and Pulumi's
 * (`pulumi:disable-default-providers`, `pulumi:tags`).
 */
export const KNOWN_NAMESPACES: readonly string[] = [PROJECT, "hcloud", "kubernetes", "docker", "command", "random", "tls", "time", "pulumi"];

/** Every key config.ts knows, without the project prefix. */
export const KNOWN_KEYS: readonly string[] = Object.keys(configSchema.shape);

/** Edit distance, case-insensitive: how far a misspelled key is from a declared one. */
function distance(a: string, b: string): number {
    const x = a.toLowerCase();
    const y = b.toLowerCase();
    let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
    for (let i = 1; i <= x.length; i++) {
        const row = [i];
        for (let j = 1; j <= y.length; j++) row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
        previous = row;
    }
    return previous[y.length];
}

/** The declared key closest to `name`. */
export function closestKey(name: string): string {
    return [...KNOWN_KEYS].sort((a, b) => distance(name, a) - distance(name, b) || (a < b ? -1 : 1))[0];
}

/**
 * An unknown key under the project's namespace (a misspelling such as `enableAgent` would otherwise
 * be ignored and its default used), as one line naming the closest declared key; undefined when
 * every key is known. `keys` are full config keys (`archon-infra:domain`); other namespaces
 * (`hcloud:token`) belong to their providers.
 */
export function unknownKeyProblem(keys: readonly string[], where = "the stack's config", alsoKnown: readonly string[] = []): string | undefined {
    const foreign = keys.filter((k) => k.includes(":") && !KNOWN_NAMESPACES.includes(k.slice(0, k.indexOf(":")))).sort()[0];
    if (foreign !== undefined) {
        const [namespace, name] = [foreign.slice(0, foreign.indexOf(":")), foreign.slice(foreign.indexOf(":") + 1)];
        const meant = KNOWN_KEYS.includes(name) ? `${PROJECT}:${name}` : `${PROJECT}:${closestKey(name)}`;
        return `${foreign} in ${where} is in namespace "${namespace}", which no project or provider of this program reads (the Pulumi CLI would keep it for a project named ${namespace}); did you mean ${meant}? Fix it: pulumi config rm ${foreign}, then pulumi config set ${meant.slice(PROJECT.length + 1)} <value>`;
    }
    const unknown = keys.filter((k) => k.startsWith(`${PROJECT}:`)).map((k) => k.slice(PROJECT.length + 1)).filter((k) => !KNOWN_KEYS.includes(k) && !alsoKnown.includes(k)).sort();
    if (unknown.length === 0) return undefined;
    const key = unknown[0];
    const more = unknown.length > 1 ? ` (also unknown: ${unknown.slice(1).join(", ")})` : "";
    return `${PROJECT}:${key} in ${where} is not a key of this project; did you mean ${closestKey(key)}? Fix or remove it: pulumi config rm ${key}${more}`;
}

function isKubeconfig(text: string): boolean {
    try {
        const doc: unknown = parseYaml(text);
        if (typeof doc !== "object" || doc === null) return false;
        const record = doc as Record<string, unknown>;
        return ["clusters", "users", "contexts"].every((k) => Array.isArray(record[k]) && (record[k] as unknown[]).length > 0);
    } catch {
        return false;
    }
}
