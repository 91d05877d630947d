/**
 * The restore procedure of `npm run restore` (and of `npm run dr-drill`, which restores into a
 * throwaway stack): each step is one bash command line, printed as it runs and run as printed
 * (`bash -o pipefail -c`), so `--dry-run` shows exactly what an operator would type. It drives the
 * stack's own postgres-restore.sh inside the backup workload (its image, settings, Secret and
 * tools): over SSH with `docker compose` on the Compose host, with `kubectl` and jq on Kubernetes.
 *
 * Into the running database:
 *   1. pick the snapshot (postgres-restore.sh --list: the list with sizes and rows, and the one the
 *      selector picks; an empty database's backup is refused unless --allow-empty). Nothing has
 *      stopped yet: a wrong selector costs nothing.
 *   2. stop what writes to the database (the stack output backups.writers: no archon-agents on a
 *      stack without it), Kubernetes recording each Deployment's replica count first.
 *   3. restore that exact snapshot (one transaction: a failure changes nothing). On failure the
 *      writers start again as they were, and the command exits 1.
 *   4. archon-migrate, so the restored schema reaches the running release's (an older dump may
 *      predate its migrations).
 *   5. start the writers again: Compose `up -d --wait`, Kubernetes each Deployment at its recorded
 *      replica count.
 * With `--into <database>` only 1 and 3 run, into a new database beside the stack's.
 */
import { spawn } from "child_process";

/** What the restore needs to know about a stack: its `pulumi stack output`. */
export interface RestoreStack {
    stack: string;
    target: "compose" | "k3s" | "kubernetes";
    /** Compose: `ssh ... user@host`, from the output sshCommands. */
    ssh?: string;
    /** Compose: the project directory on the host. */
    projectDir: string;
    /** Kubernetes: the namespace of the database and its writers. */
    namespace: string;
    /** What writes to the database, in stop order (output backups.writers). */
    writers: string[];
}

/** Another stack's backups to restore (disaster recovery: a replacement stack restores the lost one's). */
export interface BackupSource {
    /** The stack whose snapshots are restored: their restic host. */
    stack: string;
    /** Its restic repository (its output backups.repository). */
    repository: string;
    /** Its repository key (its secret output backupEncryptionKey): sent on stdin / in a temporary Secret, never on a command line. */
    key: string;
}

export interface RestoreRequest {
    /** A snapshot id, `latest`, `latest:scheduled` or `latest:pre-migration`. */
    backup: string;
    /** A new database to restore into, beside the stack's; unset = into the running database. */
    into?: string;
    /** Restore a snapshot whose dump holds no Archon data. */
    allowEmpty?: boolean;
    /** Another stack's backups (default: this stack's own). */
    from?: BackupSource;
}

/** Runs one command line; `capture` returns its stdout instead of printing it. */
export interface Shell {
    /** `capture`: return stdout (and show it, unless `quiet`: a poll). */
    run(line: string, options?: { capture?: boolean; quiet?: boolean; stdin?: string }): Promise<{ status: number; stdout: string }>;
    /** Waits `seconds` between polls (tests answer at once). */
    sleep(seconds: number): Promise<void>;
    log(message: string): void;
}

export interface RestoreResult {
    ok: boolean;
    /** The snapshot restored (or picked, when the run stopped before restoring). */
    snapshot?: string;
    /** When it was taken (UTC, `YYYY-MM-DDTHH:MM:SS`): the recovery point. */
    snapshotTime?: string;
    /** One line: what happened and, on failure, what state the stack is in. */
    message: string;
}

/** The backup workload's service/CronJob, and the migration step (components/backups/postgres-backup.ts). */
export const BACKUP_SERVICE = "postgres-backup";
export const MIGRATION_SERVICE = "archon-migrate";
const RESTORE_SCRIPT = "/backup/postgres-restore.sh";
/** How long a restore or migration Job may run, and how often its state is read. */
export const JOB_TIMEOUT_SECONDS = 2 * 3600;
export const JOB_POLL_SECONDS = 5;

/** One shell word, quoted only where it needs to be. */
export function shellQuote(word: string): string {
    return /^[A-Za-z0-9_/.:=@%+,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

const words = (list: string[]) => list.map(shellQuote).join(" ");

/** The stack's outputs as `pulumi stack output --json --show-secrets` prints them, read for the restore. */
export function restoreStackFromOutputs(stack: string, outputs: Record<string, unknown>): RestoreStack {
    const info = outputs.stack as { target?: string } | undefined;
    const target = info?.target;
    if (target !== "compose" && target !== "k3s" && target !== "kubernetes") throw new Error(`the outputs of stack ${stack} name no target: are they this project's stack outputs?`);
    const backups = (outputs.backups ?? {}) as { writers?: string[]; projectDir?: string; namespace?: string };
    // Outputs of a stack deployed before backups.writers existed: every writer, archon-agents only where it runs.
    const images = Object.keys((outputs.imageRefs ?? {}) as Record<string, string>);
    const writers = backups.writers ?? ["archon-ui", "archon-mcp", "archon-agents", "archon-server", "kong", "studio", "meta", "auth", "rest"]
        .filter((w) => w !== "archon-agents" || images.includes("archon-agents"));
    const ssh = Object.values((outputs.sshCommands ?? {}) as Record<string, string>)[0];
    if (target === "compose" && !ssh) throw new Error(`the outputs of stack ${stack} have no sshCommands: the Compose host cannot be reached`);
    return { stack, target, ssh, projectDir: backups.projectDir ?? "/opt/archon", namespace: backups.namespace ?? "archon", writers };
}

/** The steps of a target: how to run the restore script, stop and start writers, migrate. */
interface Target {
    /** postgres-restore.sh with `args` in the backup workload; its stdout captured. */
    restoreScript(args: string[], name: string): Promise<{ status: number; stdout: string }>;
    stop(): Promise<boolean>;
    migrate(): Promise<boolean>;
    start(): Promise<boolean>;
    /** How to start the writers by hand, for the message when the procedure stops. */
    startHint(): string;
    /** Removes what the run made for itself (Kubernetes: the other stack's key Secret), whatever happened. */
    finish(): Promise<void>;
}

/** The snapshot postgres-restore.sh --list picked: its line `snapshot <id> <time>` (a Job's log mixes in the list). */
export function pickedSnapshot(stdout: string): { id: string; time?: string } | undefined {
    const match = [...stdout.matchAll(/^snapshot ([0-9a-f]+)(?: (\S+))?\s*$/gm)].pop();
    return match ? { id: match[1], time: match[2] } : undefined;
}

/** Runs the restore; in a dry run (`shell` printing only) every step is printed and none is run. */
export async function restore(stack: RestoreStack, request: RestoreRequest, shell: Shell, dryRun = false): Promise<RestoreResult> {
    const target = stack.target === "compose" ? composeTarget(stack, request, shell) : kubernetesTarget(stack, request, shell, dryRun);
    try {
        return await restoreWith(target, stack, request, dryRun);
    } finally {
        await target.finish();
    }
}

async function restoreWith(target: Target, stack: RestoreStack, request: RestoreRequest, dryRun: boolean): Promise<RestoreResult> {
    const options = request.allowEmpty ? ["--allow-empty"] : [];

    const listed = await target.restoreScript(["--list", ...options, request.backup], "list");
    const picked = pickedSnapshot(listed.stdout);
    const snapshot = dryRun ? "<snapshot picked above>" : picked?.id;
    const snapshotTime = picked?.time;
    if (!dryRun && (listed.status !== 0 || !snapshot)) {
        return { ok: false, message: `no snapshot to restore (postgres-restore.sh --list ${request.backup} exit ${listed.status}); nothing was stopped or changed` };
    }
    if (request.into) {
        const into = await target.restoreScript([...options, snapshot!, request.into], "into");
        return into.status === 0 || dryRun
            ? { ok: true, snapshot, snapshotTime, message: `restored snapshot ${snapshot} into the new database ${request.into}; the stack's own database is untouched` }
            : { ok: false, snapshot, message: `the restore into ${request.into} failed (exit ${into.status}); the stack's own database is untouched` };
    }
    if (!(await target.stop())) {
        await target.start();
        return { ok: false, snapshot, message: `stopping the writers failed; they were started again and nothing was restored` };
    }
    const restored = await target.restoreScript([...options, snapshot!], "restore");
    if (restored.status !== 0 && !dryRun) {
        const started = await target.start();
        return {
            ok: false, snapshot,
            message: `the restore of ${snapshot} failed (exit ${restored.status}) and changed nothing (one transaction); ${started ? "the writers run again as before" : `starting the writers failed too: ${target.startHint()}`}`,
        };
    }
    if (!(await target.migrate()) && !dryRun) {
        return { ok: false, snapshot, message: `snapshot ${snapshot} is restored but archon-migrate failed: the writers stay stopped (the app would run on an unmigrated schema); fix the migration, then: ${target.startHint()}` };
    }
    if (!(await target.start()) && !dryRun) {
        return { ok: false, snapshot, message: `snapshot ${snapshot} is restored and migrated, but starting the writers failed: ${target.startHint()}` };
    }
    return { ok: true, snapshot, snapshotTime, message: `restored snapshot ${snapshot} into the running database of ${stack.stack}; the writers run again` };
}

function composeTarget(stack: RestoreStack, request: RestoreRequest, shell: Shell): Target {
    const remote = (command: string) => `${stack.ssh} ${shellQuote(`cd ${shellQuote(stack.projectDir)} && ${command}`)}`;
    const run = async (command: string, options: { capture?: boolean; stdin?: string } = {}) => (await shell.run(remote(command), options)).status === 0;
    const source = request.from;
    // Another stack's repository: its location as settings, its key on stdin (postgres-restore.sh RESTORE_KEY_FROM_STDIN).
    const sourceEnv = source ? ["-e", `RESTIC_REPOSITORY=${source.repository}`, "-e", `BACKUP_HOST=${source.stack}`, "-e", "RESTORE_KEY_FROM_STDIN=1"] : [];
    return {
        restoreScript: (args) => shell.run(remote(`docker compose run --rm --no-deps -T --entrypoint '' ${words([...sourceEnv, BACKUP_SERVICE, "sh", RESTORE_SCRIPT, ...args])}`), { capture: true, stdin: source ? `${source.key}\n` : undefined }),
        stop: () => run(`docker compose stop ${words(stack.writers)}`),
        migrate: () => run(`docker compose run --rm --no-deps -T ${MIGRATION_SERVICE}`),
        start: () => run(`docker compose up -d --wait ${words([...stack.writers].reverse())}`),
        startHint: () => `on the host: cd ${stack.projectDir} && docker compose up -d --wait ${[...stack.writers].reverse().join(" ")}`,
        finish: async () => undefined,
    };
}

function kubernetesTarget(stack: RestoreStack, request: RestoreRequest, shell: Shell, dryRun: boolean): Target {
    const ns = stack.namespace;
    const kubectl = (args: string[]) => `kubectl -n ${shellQuote(ns)} ${words(args)}`;
    const stamp = Date.now().toString(36);
    /** Recorded before the stop: each writer's replica count. */
    let replicas: Record<string, number> | undefined;
    const source = request.from;
    const sourceSecret = `postgres-restore-key-${stamp}`;
    let secretMade = false;

    /** Polls the Job until Complete or Failed (kubectl wait knows one condition only: a failed Job would hold the app down until its timeout). */
    const waitForJob = async (job: string): Promise<boolean> => {
        const line = kubectl(["get", "job", job, "-o", "json"]);
        if (dryRun) {
            shell.log(`# until job/${job} is Complete or Failed (every ${JOB_POLL_SECONDS} s, at most ${JOB_TIMEOUT_SECONDS / 3600} h): ${line}`);
            return true;
        }
        for (let waited = 0; waited <= JOB_TIMEOUT_SECONDS; waited += JOB_POLL_SECONDS) {
            const state = await shell.run(line, { capture: true, quiet: true });
            if (state.status === 0) {
                const conditions = ((JSON.parse(state.stdout) as { status?: { conditions?: { type: string; status: string }[] } }).status?.conditions ?? [])
                    .filter((c) => c.status === "True").map((c) => c.type);
                if (conditions.includes("Complete")) return true;
                if (conditions.includes("Failed")) return false;
            }
            await shell.sleep(JOB_POLL_SECONDS);
        }
        shell.log(`job/${job} neither completed nor failed within ${JOB_TIMEOUT_SECONDS / 3600} h`);
        return false;
    };
    /** A Job from the CronJob's template (its image, settings, Secret, scripts) running `command`, then its logs. */
    const runJob = async (name: string, command: string[]): Promise<{ status: number; stdout: string }> => {
        if (source && !secretMade) {
            secretMade = true;
            const made = await shell.run(kubectl(["create", "secret", "generic", sourceSecret, "--from-file=RESTIC_PASSWORD=/dev/stdin"]), { stdin: source.key });
            if (made.status !== 0) return { status: made.status, stdout: "" };
        }
        const job = `postgres-restore-${name}-${stamp}`;
        const env = source ? [
            { name: "RESTIC_REPOSITORY", value: source.repository },
            { name: "BACKUP_HOST", value: source.stack },
            { name: "RESTIC_PASSWORD", valueFrom: { secretKeyRef: { name: sourceSecret, key: "RESTIC_PASSWORD" } } },
            { name: "RESTIC_PASSWORD_PREVIOUS", value: "" },
        ] : [];
        const filter = ".spec.template.spec.containers[0].command = $command | .spec.backoffLimit = 0 | .spec.template.spec.restartPolicy = \"Never\""
            + (source ? " | .spec.template.spec.containers[0].env = ((.spec.template.spec.containers[0].env // []) + $env)" : "");
        const create = `${kubectl(["create", "job", job, `--from=cronjob/${BACKUP_SERVICE}`, "--dry-run=client", "-o", "json"])}`
            + ` | jq --argjson command ${shellQuote(JSON.stringify(command))}${source ? ` --argjson env ${shellQuote(JSON.stringify(env))}` : ""} ${shellQuote(filter)}`
            + ` | ${kubectl(["create", "-f", "-"])}`;
        const created = await shell.run(create);
        if (created.status !== 0) return { status: created.status, stdout: "" };
        const ok = await waitForJob(job);
        const logs = await shell.run(kubectl(["logs", `job/${job}`, "--all-containers"]), { capture: true });
        return { status: ok ? 0 : 1, stdout: logs.stdout };
    };
    return {
        restoreScript: (args, name) => runJob(name, ["sh", RESTORE_SCRIPT, ...args]),
        finish: async () => {
            if (source && secretMade) await shell.run(kubectl(["delete", "secret", sourceSecret, "--ignore-not-found"]));
        },
        stop: async () => {
            const got = await shell.run(kubectl(["get", "deployment", ...stack.writers, "-o", "json"]), { capture: true });
            if (!dryRun) {
                if (got.status !== 0) return false;
                const items = (JSON.parse(got.stdout) as { items: { metadata: { name: string }; spec: { replicas?: number } }[] }).items;
                replicas = Object.fromEntries(items.map((d) => [d.metadata.name, d.spec.replicas ?? 1]));
                shell.log(`# replicas before the restore: ${Object.entries(replicas).map(([n, r]) => `${n}=${r}`).join(" ")}`);
            }
            return (await shell.run(kubectl(["scale", "deployment", ...stack.writers, "--replicas=0"]))).status === 0;
        },
        migrate: async () => {
            // A copy of the stack's own migration Job (archon-migrate's image of the running release),
            // without what the API server generated for the original.
            const job = `${MIGRATION_SERVICE}-after-restore-${stamp}`;
            const filter = `.metadata = {name: $name, namespace: .metadata.namespace, labels: (.metadata.labels // {})} | del(.status) | del(.spec.selector)`
                + ` | del(.spec.template.metadata.labels["controller-uid", "batch.kubernetes.io/controller-uid", "job-name", "batch.kubernetes.io/job-name"])`;
            const created = await shell.run(`${kubectl(["get", "job", MIGRATION_SERVICE, "-o", "json"])} | jq --arg name ${shellQuote(job)} ${shellQuote(filter)} | ${kubectl(["create", "-f", "-"])}`);
            if (created.status !== 0) return false;
            const ok = await waitForJob(job);
            await shell.run(kubectl(["logs", `job/${job}`, "--all-containers"]), { capture: true });
            return ok;
        },
        start: async () => {
            if (dryRun || replicas === undefined) {
                if (dryRun) shell.log(`# each Deployment back at the replica count recorded before the stop:`);
                return (await shell.run(kubectl(["scale", "deployment", ...[...stack.writers].reverse(), "--replicas=<recorded>"]))).status === 0;
            }
            let ok = true;
            const counts = [...new Set(Object.values(replicas))].sort();
            for (const count of counts) {
                const names = [...stack.writers].reverse().filter((n) => replicas![n] === count);
                ok = (await shell.run(kubectl(["scale", "deployment", ...names, `--replicas=${count}`]))).status === 0 && ok;
            }
            return ok;
        },
        startHint: () => `kubectl -n ${ns} scale deployment <name> --replicas=<count> for ${replicas ? Object.entries(replicas).map(([n, r]) => `${n}=${r}`).join(" ") : stack.writers.join(" ")}`,
    };
}

/** A Shell that runs each line in bash (pipefail) with the given environment, printing it first. */
export function bashShell(env: NodeJS.ProcessEnv = process.env): Shell {
    return {
        run: (line, options = {}) => new Promise((resolve) => {
            if (!options.quiet) console.log(`$ ${line}`);
            const child = spawn("bash", ["-o", "pipefail", "-c", line], { env, stdio: [options.stdin !== undefined ? "pipe" : "ignore", options.capture ? "pipe" : "inherit", "inherit"] });
            let stdout = "";
            child.stdout?.on("data", (chunk: Buffer) => { stdout += chunk.toString(); });
            if (options.stdin !== undefined) child.stdin?.end(options.stdin);
            child.on("error", () => resolve({ status: 127, stdout }));
            child.on("close", (code) => {
                // Captured output is shown too: the snapshot list is for the operator.
                if (options.capture && !options.quiet && stdout) process.stdout.write(stdout);
                resolve({ status: code ?? 1, stdout });
            });
        }),
        sleep: (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000)),
        log: (message) => console.log(message),
    };
}

/** A Shell that prints each line and runs nothing (--dry-run). */
export function printingShell(): Shell {
    return {
        run: async (line, options = {}) => {
            console.log(`$ ${line}${options.stdin !== undefined ? "   # stdin: the source stack's backupEncryptionKey" : ""}`);
            return { status: 0, stdout: "" };
        },
        sleep: async () => undefined,
        log: (message) => console.log(message),
    };
}
