/**
 * `npm run restore -- --stack <name> --backup <snapshot-id|latest|latest:scheduled|latest:pre-migration>
 *   [--into <new-database>] [--allow-empty] [--from-stack <name>] [--outputs <file>] [--dry-run]`
 *
 * Restores a Postgres backup (components/backups) into the running stack: picks the snapshot and
 * shows the list first, stops what writes to the database, restores in one transaction, runs
 * archon-migrate, and starts the writers again as they were (scripts/lib/restore.ts); or, with
 * `--into`, into a new database beside it for inspection (nothing stops). `--from-stack` restores
 * another stack's backups (a replacement stack after a disaster: the lost stack's outputs must
 * still be readable, or pass them with --from-outputs). Reads `pulumi stack output` of the stacks,
 * or `--outputs <file>` (that JSON, or a synth's outputs.json). `--dry-run` prints the commands.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { reveal } from "./lib/reveal";
import { BackupSource, bashShell, printingShell, restore, restoreStackFromOutputs } from "./lib/restore";
import { UsageError, parseCli, runCli } from "./lib/cli";

const USAGE = "npm run restore -- --stack <name> --backup <snapshot-id|latest|latest:scheduled|latest:pre-migration> [--into <new-database>] [--allow-empty] [--from-stack <name>] [--outputs <file>] [--from-outputs <file>] [--dry-run]";

/** A stack's outputs: `pulumi stack output --json --show-secrets`, or a file holding them. */
export function readStackOutputs(stack: string, file: string | undefined, flag = "--outputs"): Record<string, unknown> {
    let text: string;
    if (file) {
        try {
            text = fs.readFileSync(file, "utf8");
        } catch (err) {
            throw new UsageError(`${flag} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
        }
    } else {
        const outputs = spawnSync("pulumi", ["stack", "output", "--json", "--show-secrets", "--stack", stack], { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
        if ((outputs.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") throw new UsageError(`the Pulumi CLI is not installed (pulumi is not on PATH): install it from https://www.pulumi.com/docs/install/, or pass the outputs with ${flag} <file>`);
        if (outputs.status !== 0) throw new UsageError(`pulumi stack output --stack ${stack} failed: ${String(outputs.stderr || outputs.error).trim().split("\n")[0]}`);
        text = outputs.stdout;
    }
    try {
        return reveal(JSON.parse(text)) as Record<string, unknown>;
    } catch {
        throw new UsageError(`${file ?? `pulumi stack output --stack ${stack}`}: not JSON; pass the stack's outputs (pulumi stack output --json --show-secrets, or a synth's outputs.json)`);
    }
}

/** The other stack's repository and key, for --from-stack. */
export function backupSource(stack: string, outputs: Record<string, unknown>): BackupSource {
    const repository = (outputs.backups as { repository?: string } | undefined)?.repository;
    const key = outputs.backupEncryptionKey;
    if (typeof repository !== "string" || typeof key !== "string") throw new UsageError(`the outputs of stack ${stack} have no backups.repository and backupEncryptionKey: are they this project's stack outputs (with --show-secrets)?`);
    return { stack, repository, key };
}

/** KUBECONFIG for the child processes: the stack's own kubeconfig output (k3s), else the caller's. */
export function kubeconfigEnv(outputs: Record<string, unknown>): NodeJS.ProcessEnv {
    if (typeof outputs.kubeconfig !== "string") return {};
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "archon-restore-")), "kubeconfig");
    fs.writeFileSync(file, outputs.kubeconfig, { mode: 0o600 });
    return { ...process.env, KUBECONFIG: file };
}

async function main(argv: string[]): Promise<number> {
    const { values } = parseCli({
        args: argv,
        options: {
            stack: { type: "string", help: "the stack to restore into; required" },
            backup: { type: "string", help: "a snapshot id, latest (the newest holding data), latest:scheduled or latest:pre-migration; required" },
            into: { type: "string", help: "restore into this new database instead of the stack's own (the app keeps running)" },
            "allow-empty": { type: "boolean", default: false, help: "accept a snapshot whose dump holds no Archon rows" },
            "from-stack": { type: "string", help: "restore another stack's backups (disaster recovery into a replacement stack)" },
            outputs: { type: "string", help: "the stack's outputs as JSON instead of pulumi stack output" },
            "from-outputs": { type: "string", help: "the --from-stack stack's outputs as JSON instead of pulumi stack output" },
            "dry-run": { type: "boolean", default: false, help: "list the snapshots and print every step, without running any" },
        },
        help: {
            summary: "Restores a Postgres backup into a stack: stops the writers, restores in one transaction (Supabase's auth data included), runs archon-migrate, starts the writers at their previous replica counts.",
            usage: USAGE,
            examples: ["npm run restore -- --stack staging --backup latest --dry-run", "npm run restore -- --stack production --backup latest:pre-migration", "npm run restore -- --stack production --backup 4f2a9c1e --into archon_inspect"],
        },
    });
    const stack = values.stack;
    const backup = values.backup;
    if (!stack || !backup) throw new UsageError(`${stack ? "--backup" : "--stack"} is required: ${USAGE}`);
    if (!/^([0-9a-f]{4,64}|latest|latest:scheduled|latest:pre-migration)$/.test(backup)) {
        throw new UsageError(`--backup ${backup}: a snapshot id (hex, as restic snapshots prints it), latest, latest:scheduled or latest:pre-migration`);
    }
    if (values.into !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(values.into)) {
        throw new UsageError(`--into ${values.into}: a new database name (lower-case letters, digits, _; at most 63), e.g. archon_inspect`);
    }
    if (values.into === "postgres") throw new UsageError("--into postgres: that is the stack's own database; leave out --into to restore into it");
    const outputs = readStackOutputs(stack, values.outputs);
    let target;
    try {
        target = restoreStackFromOutputs(stack, outputs);
    } catch (err) {
        throw new UsageError((err as Error).message);
    }
    const fromStack = values["from-stack"];
    const from = fromStack ? backupSource(fromStack, readStackOutputs(fromStack, values["from-outputs"], "--from-outputs")) : undefined;
    const dryRun = values["dry-run"]!;
    const shell = dryRun ? printingShell() : bashShell({ ...process.env, ...kubeconfigEnv(outputs) });
    const result = await restore(target, { backup, into: values.into, allowEmpty: values["allow-empty"], from }, shell, dryRun);
    if (dryRun) {
        console.log(`restore (dry run): ${target.target} stack ${stack}, nothing was run`);
        return 0;
    }
    console.log(`restore: ${result.message}`);
    return result.ok ? 0 : 1;
}

if (require.main === module) runCli(async () => { process.exitCode = await main(process.argv.slice(2)); });
