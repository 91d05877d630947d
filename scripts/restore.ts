/**
 * `npm run restore -- --stack <name> --backup <snapshot-id|latest> [--into <new-database>] [--dry-run]`
 *
 * Restores a Postgres backup (components/backups) into the running stack, with the services that
 * write to the database stopped first and started again after, in dependency order; or, with
 * `--into`, into a new database beside it for inspection (nothing is stopped). It runs the stack's
 * own postgres-restore.sh inside the backup workload, so the tools, settings and secrets are the
 * ones the backups use. Reads `pulumi stack output` of the stack; `--dry-run` prints the commands.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BACKUP_SERVICE } from "../components/backups/postgres-backup";
import { UsageError, parseCli, runCli } from "./lib/cli";

/** What writes to the database, stopped before a restore (readers of it first), started after in reverse. */
export const WRITERS = ["archon-ui", "archon-mcp", "archon-agents", "archon-server", "kong", "studio", "meta", "auth", "rest"];

export interface RestoreRequest {
    stack: string;
    backup: string;
    into?: string;
    target: string;
    /** Compose: `ssh ...` prefix from the stack output sshCommands. */
    ssh?: string;
    namespace?: string;
}

/** The commands, in order. */
export function restorePlan(r: RestoreRequest): string[][] {
    const restoreArgs = ["sh", "/backup/postgres-restore.sh", r.backup, ...(r.into ? [r.into] : [])];
    if (r.target === "compose") {
        if (!r.ssh) throw new Error("the stack output sshCommands has no host to reach");
        const remote = (command: string) => [...r.ssh!.split(" "), `cd /opt/archon && ${command}`];
        const restore = remote(`docker compose run --rm --no-deps --entrypoint '' ${BACKUP_SERVICE} ${restoreArgs.map((a) => `'${a}'`).join(" ")}`);
        if (r.into) return [restore];
        return [remote(`docker compose stop ${WRITERS.join(" ")}`), restore, remote(`docker compose up -d --wait ${[...WRITERS].reverse().join(" ")}`)];
    }
    const ns = r.namespace ?? "archon";
    const job = `postgres-restore-${Date.now()}`;
    // A Job from the CronJob's template (its settings, Secret and scripts), with the restore as its command.
    const create = ["sh", "-c", `kubectl -n ${ns} create job ${job} --from=cronjob/${BACKUP_SERVICE} --dry-run=client -o json | ` +
        `jq '.spec.template.spec.containers[0].command = ${JSON.stringify(JSON.stringify(restoreArgs)).slice(1, -1)} | .spec.backoffLimit = 0' | kubectl -n ${ns} create -f -`];
    const wait = ["kubectl", "-n", ns, "wait", "--for=condition=complete", "--timeout=2h", `job/${job}`];
    const logs = ["kubectl", "-n", ns, "logs", `job/${job}`, "--all-containers"];
    if (r.into) return [create, wait, logs];
    const scale = (replicas: number, names: string[]) => ["kubectl", "-n", ns, "scale", "deployment", ...names, `--replicas=${replicas}`];
    return [scale(0, WRITERS), create, wait, logs, scale(1, [...WRITERS].reverse())];
}

function main(argv: string[]): number {
    const { values } = parseCli({
        args: argv,
        options: { stack: { type: "string" }, backup: { type: "string" }, into: { type: "string" }, "dry-run": { type: "boolean", default: false } },
    });
    const arg = (name: "stack" | "backup" | "into") => values[name];
    const stack = arg("stack");
    const backup = arg("backup");
    if (!stack || !backup) {
        throw new UsageError(`${stack ? "--backup" : "--stack"} is required: npm run restore -- --stack <name> --backup <snapshot-id|latest> [--into <new-database>] [--dry-run]`);
    }
    const outputs = spawnSync("pulumi", ["stack", "output", "--json", "--show-secrets", "--stack", stack], { encoding: "utf8" });
    if ((outputs.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") throw new UsageError("the Pulumi CLI is not installed (pulumi is not on PATH): install it from https://www.pulumi.com/docs/install/");
    if (outputs.status !== 0) {
        console.error(`pulumi stack output --stack ${stack} failed: ${String(outputs.stderr || outputs.error).trim().split("\n")[0]}`);
        return 1;
    }
    const out = JSON.parse(outputs.stdout) as { stack: { target: string }; sshCommands?: Record<string, string>; kubeconfig?: string };
    if (out.kubeconfig) {
        // k3s: the stack's own kubeconfig output; target kubernetes: the caller's KUBECONFIG.
        const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "archon-restore-")), "kubeconfig");
        fs.writeFileSync(file, out.kubeconfig, { mode: 0o600 });
        process.env.KUBECONFIG = file;
    }
    const plan = restorePlan({ stack, backup, into: arg("into"), target: out.stack.target, ssh: Object.values(out.sshCommands ?? {})[0] });
    for (const command of plan) {
        console.log(`$ ${command.join(" ")}`);
        if (values["dry-run"]) continue;
        const ran = spawnSync(command[0], command.slice(1), { stdio: "inherit" });
        if (ran.status !== 0) {
            console.error(`restore: the step above failed (exit ${ran.status}); the services stay as they are now`);
            return 1;
        }
    }
    return 0;
}

if (require.main === module) runCli(() => { process.exitCode = main(process.argv.slice(2)); });
