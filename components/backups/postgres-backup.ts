/**
 * Scheduled, offsite, encrypted Postgres backups as service catalog entries, for both renderers.
 *
 * The tool is restic (https://restic.net): pg_dump's custom-format dump goes into a restic
 * repository on S3-compatible object storage (Hetzner Object Storage by default), encrypted on the
 * client (AES-256 + Poly1305) with a key generated in the program, and `restic forget --prune`
 * enforces the retention. A backup connects to Postgres over the network, so it runs as a
 * Kubernetes CronJob: it never needs the StatefulSet's ReadWriteOnce volume (which pgBackRest or
 * WAL-G would, to read the data directory and archive WAL).
 *
 * Where the binaries come from: pg_dump/pg_restore from the stack's own Postgres image
 * (SUPABASE_IMAGES.db: the server's exact version, as archon-migrate uses its psql); restic from
 * the official image restic/restic, whose binary is static (restic/restic docker/Dockerfile.release:
 * `COPY --from=helper /output/restic /usr/bin`, built with helpers/build-release-binaries, CGO off)
 * and is copied beside the dump step, with the image's CA bundle (Alpine's
 * /etc/ssl/certs/ca-certificates.crt) for the HTTPS endpoint.
 *
 * - Kubernetes: CronJob `postgres-backup` (init container copies restic; the backup runs as the
 *   Postgres image's uid). The migration Job gets the same two steps as init containers, so every
 *   migration runs after a fresh backup (tag `pre-migration`).
 * - Compose: `postgres-backup-tools` copies restic onto the data volume; `postgres-backup` runs the
 *   backup daily at the schedule's time; `postgres-backup-pre-migration` runs it once per deploy and
 *   archon-migrate waits for it (`service_completed_successfully`). Both write the node-exporter
 *   textfile metric archon_postgres_backup_last_success_timestamp_seconds.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { InitContainerSpec, RenderTarget, ResourceSpec, SecuritySpec, ServiceSpec } from "../services/catalog";
import { BACKUP_IMAGES, SUPABASE_IMAGES } from "../services/versions";
import { COMPOSE_PROJECT_DIR } from "../hetzner/compose-host";
import { namespaceOf } from "../kubernetes/ingress";
import { dailyTime } from "./cron-schedule";

/** The CronJob (Kubernetes) and scheduled service (Compose): kube-state-metrics labels its metrics `cronjob="postgres-backup"`. */
export const BACKUP_SERVICE = "postgres-backup";
/** Compose: the one-shot backup archon-migrate waits for. */
export const PRE_MIGRATION_BACKUP_SERVICE = "postgres-backup-pre-migration";
/** Compose: the one-shot that puts the restic binary on the data volume. */
export const BACKUP_TOOLS_SERVICE = "postgres-backup-tools";
/** The migration step (workload-catalog.ts) that waits for a backup. */
export const MIGRATION_SERVICE = "archon-migrate";
/** The freshness metric the Compose backup writes (monitoring alerts on it: PostgresBackupStale). */
export const BACKUP_METRIC = "archon_postgres_backup_last_success_timestamp_seconds";
/** Where the Compose backup writes it and node-exporter reads it (`--collector.textfile.directory`). */
export const TEXTFILE_DIRECTORY = "/var/lib/node-exporter/textfile";
/** The Compose shared storage holding the textfile metric: `<dataDir>/shared/<name>`. */
export const TEXTFILE_STORAGE = "backup-metrics";

const SCRIPTS_DIR = "/backup";
const TOOLS_DIR = "/tools";
const WORK_DIR = "/var/lib/postgres-backup";
const script = (name: string) => fs.readFileSync(path.join(__dirname, "scripts", name), "utf8");
/** The scripts as the stack runs them (the restore drill runs these same files). */
export const BACKUP_SCRIPTS = {
    common: script("backup-common.sh"),
    backup: script("postgres-backup.sh"),
    restore: script("postgres-restore.sh"),
    schedule: script("postgres-backup-schedule.sh"),
} as const;

/** Backup settings from the stack config (config.ts: backup*). */
export interface BackupSettings {
    /** S3 endpoint URL, e.g. https://fsn1.your-objectstorage.com (Hetzner Object Storage in fsn1). */
    endpoint: string;
    /** The bucket; it must exist (the program does not create or delete it). */
    bucket: string;
    /** S3 region, e.g. fsn1. */
    region: string;
    /** Cron schedule, UTC. Compose runs it daily at its minute and hour. */
    schedule: string;
    /** Daily snapshots kept (restic --keep-daily). */
    keepDaily: number;
    /** Weekly snapshots kept (restic --keep-weekly). */
    keepWeekly: number;
    /**
     * Pre-migration snapshots kept whatever their day (restic --keep-last), besides the daily and
     * weekly ones: a deploy and a rollback on one day each take one, and the first is the one a
     * failed migration needs. Default 10.
     */
    keepPreMigration?: number;
}

export interface PostgresBackupArgs {
    target: RenderTarget;
    /** The stack name: the restic host of every snapshot and the repository's folder in the bucket. */
    stack: string;
    settings: BackupSettings;
    /** restic's repository password (Secrets.backupEncryptionKey). */
    encryptionKey: pulumi.Input<string>;
    /**
     * The key before the last `secretsVersion` raise (Secrets.previousBackupEncryptionKey): a backup
     * that finds the repository opening only with it replaces it by `encryptionKey`
     * (scripts/backup-common.sh open_repository).
     */
    previousEncryptionKey?: pulumi.Input<string>;
    /** Object storage credentials; unset, the backups fail and say which config to set. */
    accessKeyId?: pulumi.Input<string>;
    secretAccessKey?: pulumi.Input<string>;
    /** Password of supabase_admin (the stack's Postgres password). */
    postgresPassword: pulumi.Input<string>;
}

/** restic's repository URL: one folder per stack in the bucket. */
export function backupRepository(settings: Pick<BackupSettings, "endpoint" | "bucket">, stack: string): string {
    return `s3:${settings.endpoint.replace(/\/+$/, "")}/${settings.bucket}/${stack}`;
}

// The Postgres image's postgres user (uid 101), as archon-migrate runs it.
const POSTGRES_IMAGE_UID = 101;
const security = (writablePaths: string[]): SecuritySpec => ({ runAsNonRoot: true, runAsUser: POSTGRES_IMAGE_UID, runAsGroup: POSTGRES_IMAGE_UID, readOnlyRootFilesystem: true, writablePaths });
const BACKUP_RESOURCES: ResourceSpec = { cpu: "100m", memory: "256Mi", cpuLimit: "1", memoryLimit: "1Gi" };
const COPY_RESOURCES: ResourceSpec = { cpu: "10m", memory: "16Mi", cpuLimit: "200m", memoryLimit: "64Mi" };
// Rename over the old copy: a running restic keeps its file, and `cp` onto it would fail (ETXTBSY).
const COPY_RESTIC = `cp /usr/bin/restic ${TOOLS_DIR}/restic.new && cp /etc/ssl/certs/ca-certificates.crt ${TOOLS_DIR}/ca-certificates.crt.new && mv -f ${TOOLS_DIR}/restic.new ${TOOLS_DIR}/restic && mv -f ${TOOLS_DIR}/ca-certificates.crt.new ${TOOLS_DIR}/ca-certificates.crt`;

/** The settings every backup step shares: plain values and secrets. */
function settingsOf(args: PostgresBackupArgs, tag: string): Pick<ServiceSpec, "env" | "secretEnv" | "files"> {
    const s = args.settings;
    return {
        env: {
            PGHOST: "db",
            PGPORT: "5432",
            // The image's superuser: the postgres role is not one in Supabase's image.
            PGUSER: "supabase_admin",
            PGDATABASE: "postgres",
            RESTIC_REPOSITORY: backupRepository(s, args.stack),
            BACKUP_S3_REGION: s.region,
            BACKUP_HOST: args.stack,
            BACKUP_TAG: tag,
            BACKUP_KEEP_DAILY: String(s.keepDaily),
            BACKUP_KEEP_WEEKLY: String(s.keepWeekly),
            BACKUP_KEEP_PRE_MIGRATION: String(s.keepPreMigration ?? 10),
            BACKUP_WORK_DIR: WORK_DIR,
            RESTIC: `${TOOLS_DIR}/restic`,
            // Go reads the CA bundle from here: the Postgres image's own store is not assumed.
            SSL_CERT_FILE: `${TOOLS_DIR}/ca-certificates.crt`,
        },
        secretEnv: {
            PGPASSWORD: args.postgresPassword,
            RESTIC_PASSWORD: args.encryptionKey,
            ...(args.previousEncryptionKey !== undefined ? { RESTIC_PASSWORD_PREVIOUS: args.previousEncryptionKey } : {}),
            ...(args.accessKeyId !== undefined ? { AWS_ACCESS_KEY_ID: args.accessKeyId } : {}),
            ...(args.secretAccessKey !== undefined ? { AWS_SECRET_ACCESS_KEY: args.secretAccessKey } : {}),
        },
        files: [
            { path: `${SCRIPTS_DIR}/backup-common.sh`, content: BACKUP_SCRIPTS.common },
            { path: `${SCRIPTS_DIR}/postgres-backup.sh`, content: BACKUP_SCRIPTS.backup },
            { path: `${SCRIPTS_DIR}/postgres-restore.sh`, content: BACKUP_SCRIPTS.restore },
            { path: `${SCRIPTS_DIR}/postgres-backup-schedule.sh`, content: BACKUP_SCRIPTS.schedule },
        ],
    };
}

/** The backup services of the target. */
export function postgresBackupServices(args: PostgresBackupArgs): ServiceSpec[] {
    const base = { group: "supabase" as const, ports: [], egressInternet: true };
    if (args.target === "kubernetes") {
        return [{
            ...base,
            ...settingsOf(args, "scheduled"),
            name: BACKUP_SERVICE,
            image: SUPABASE_IMAGES.db,
            kind: "oneshot",
            schedule: args.settings.schedule,
            command: ["sh", `${SCRIPTS_DIR}/postgres-backup.sh`],
            initContainers: [copyResticStep()],
            resources: BACKUP_RESOURCES,
            security: security(["/tmp", TOOLS_DIR, WORK_DIR]),
            targets: ["kubernetes"],
        }];
    }
    const time = dailyTime(args.settings.schedule);
    if (time === undefined) throw new Error(`backup schedule ${args.settings.schedule}: Compose runs backups daily; write it as "M H * * *"`);
    const tools = { name: "backup-tools", mountPath: TOOLS_DIR, sizeGb: 1, shared: true };
    const metrics = { name: TEXTFILE_STORAGE, mountPath: TEXTFILE_DIRECTORY, sizeGb: 1, shared: true };
    const backupStep = (name: string, tag: string, kind: "service" | "oneshot", command: string[], extraEnv: Record<string, string>): ServiceSpec => {
        const settings = settingsOf(args, tag);
        return {
            // The scheduler sleeps between runs, so its own process says nothing; what it needs at
            // the next run and can lose meanwhile is its database connection (the network plan,
            // db's health). pg_isready is in the image it runs in (supabase/postgres Dockerfile-15:
            // PostgreSQL's client binaries on PATH; the image's own HEALTHCHECK runs it) and reads
            // PGHOST/PGPORT/PGUSER/PGDATABASE from the service's env. One-shots get no health check.
            ...(kind === "service" ? { health: { exec: ["pg_isready", "--quiet"], startupSeconds: 60 } } : {}),
            ...base,
            ...settings,
            env: { ...settings.env, ...extraEnv, METRICS_TEXTFILE_DIR: TEXTFILE_DIRECTORY },
            name,
            image: SUPABASE_IMAGES.db,
            kind,
            command,
            resources: BACKUP_RESOURCES,
            storage: [tools, metrics, { name: "work", mountPath: WORK_DIR, sizeGb: 10 }],
            security: security(["/tmp"]),
            dependsOn: ["db", BACKUP_TOOLS_SERVICE],
            targets: ["compose"],
        };
    };
    return [
        {
            ...base,
            egressInternet: false,
            name: BACKUP_TOOLS_SERVICE,
            image: BACKUP_IMAGES.restic,
            kind: "oneshot",
            command: ["/bin/sh", "-ec", COPY_RESTIC],
            resources: COPY_RESOURCES,
            storage: [tools],
            security: security([]),
            targets: ["compose"],
        },
        backupStep(BACKUP_SERVICE, "scheduled", "service", ["sh", `${SCRIPTS_DIR}/postgres-backup-schedule.sh`], { BACKUP_TIME: time }),
        backupStep(PRE_MIGRATION_BACKUP_SERVICE, "pre-migration", "oneshot", ["sh", `${SCRIPTS_DIR}/postgres-backup.sh`], {}),
    ];
}

function copyResticStep(): InitContainerSpec {
    return {
        name: "restic-binary",
        image: BACKUP_IMAGES.restic,
        command: ["/bin/sh", "-ec", COPY_RESTIC],
        writablePaths: [TOOLS_DIR],
        resources: COPY_RESOURCES,
        security: security([TOOLS_DIR]),
    };
}

/**
 * The catalog with backups wired in: the backup services added, Postgres admitting them, and the
 * migration step waiting for a backup (Compose: depends on the one-shot; Kubernetes: two init
 * containers of the migration Job, with the CronJob's settings and scripts). With
 * `preMigration: false` the migration step is left as it is.
 */
export function withPostgresBackups(services: ServiceSpec[], args: PostgresBackupArgs & { preMigration: boolean }): ServiceSpec[] {
    const allBackups = postgresBackupServices(args);
    const scheduled = allBackups.find((s) => s.name === BACKUP_SERVICE)!;
    // Without object storage credentials a pre-migration backup can only fail: no such step at all
    // (Compose: no one-shot that exits 1 on every deploy; archon-migrate then waits for none).
    const backups = args.preMigration ? allBackups : allBackups.filter((b) => b.name !== PRE_MIGRATION_BACKUP_SERVICE);
    const wired = services.map((service): ServiceSpec => {
        if (service.name === "db" && service.allowFrom) {
            return { ...service, allowFrom: [...service.allowFrom, ...backups.map((b) => b.name).filter((n) => n !== BACKUP_TOOLS_SERVICE)] };
        }
        if (service.name === MIGRATION_SERVICE && args.preMigration) {
            if (args.target === "compose") return { ...service, dependsOn: [...(service.dependsOn ?? []), PRE_MIGRATION_BACKUP_SERVICE] };
            return {
                ...service,
                // The init container uploads to object storage.
                egressInternet: true,
                initContainers: [
                    ...(service.initContainers ?? []),
                    copyResticStep(),
                    {
                        name: "pre-migration-backup",
                        image: SUPABASE_IMAGES.db,
                        command: ["sh", "-c", `BACKUP_TAG=pre-migration exec sh ${SCRIPTS_DIR}/postgres-backup.sh`],
                        settingsFrom: scheduled,
                        writablePaths: ["/tmp", TOOLS_DIR, WORK_DIR],
                        resources: BACKUP_RESOURCES,
                        security: security(["/tmp", TOOLS_DIR, WORK_DIR]),
                    },
                ],
            };
        }
        return service;
    });
    return [...wired, ...backups];
}

/**
 * What writes to the database, in the order a restore stops them (what users reach first, then the
 * Supabase APIs); started again in reverse. A stack runs the ones its catalog has (archon-agents
 * only with enableAgents).
 */
export const DATABASE_WRITERS = ["archon-ui", "archon-mcp", "archon-agents", "archon-server", "kong", "studio", "meta", "auth", "rest"] as const;

/** The `backups` stack output: settings, where to look and how to restore (npm run restore reads it), no secrets. */
export function backupRecord(args: { target: string; stack: string; settings: BackupSettings; credentialsSet: boolean; services: string[] }): Record<string, unknown> {
    const s = args.settings;
    const compose = args.target === "compose";
    return {
        tool: "restic (pg_dump --format=custom)",
        endpoint: s.endpoint,
        bucket: s.bucket,
        region: s.region,
        repository: backupRepository(s, args.stack),
        schedule: compose ? `daily at ${dailyTime(s.schedule)} UTC` : `${s.schedule} (UTC)`,
        retention: { keepDaily: s.keepDaily, keepWeekly: s.keepWeekly, keepPreMigration: s.keepPreMigration ?? 10 },
        encryption: "restic repository key (AES-256, Poly1305); secret output backupEncryptionKey",
        beforeMigrations: args.credentialsSet,
        credentialsSet: args.credentialsSet,
        runs: compose ? `Compose services ${BACKUP_SERVICE} and ${PRE_MIGRATION_BACKUP_SERVICE}` : `CronJob ${BACKUP_SERVICE}; init containers of the ${MIGRATION_SERVICE} Job`,
        freshnessMetric: compose ? BACKUP_METRIC : `kube_cronjob_status_last_successful_time{cronjob="${BACKUP_SERVICE}"}`,
        restore: `npm run restore -- --stack ${args.stack} --backup latest`,
        // Where npm run restore works: the Compose project on the host, or the namespace.
        ...(compose ? { projectDir: COMPOSE_PROJECT_DIR } : { namespace: namespaceOf("supabase") }),
        writers: DATABASE_WRITERS.filter((name) => args.services.includes(name)),
    };
}
