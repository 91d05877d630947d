/**
 * `npm run dr-drill -- --stack <name> [--dry-run] [--keep] [--drill-stack <name>] [--smoke-option <arg>]...`
 *
 * Disaster recovery, rehearsed: a throwaway copy of the stack is brought up from its config, the
 * latest snapshot of the stack's backups that holds data is restored into it, the smoke test runs
 * against it, and the drill prints the measured recovery time (RTO: from `pulumi up` to a passing
 * smoke test) and the age of the data it restored (RPO: the snapshot's age when the restore began);
 * then the copy is destroyed (`--keep` leaves it for inspection). The real run needs the cloud (the
 * Pulumi CLI with the stack's backend and HCLOUD_TOKEN); `--dry-run` prints, offline, what it would
 * run, in order, from the committed stack file.
 *
 * Every step is a bash command line, printed and run as printed (scripts/lib/restore.ts).
 */
import { PROJECT_DIR, stackConfig } from "./lib/stack-config";
import { Shell, bashShell, printingShell, restore, restoreStackFromOutputs, shellQuote } from "./lib/restore";
import { backupSource, kubeconfigEnv, readStackOutputs } from "./restore";
import { UsageError, parseCli, runCli } from "./lib/cli";
import { DATABASE_WRITERS } from "../components/backups/postgres-backup";

const PREFIX = "archon-infra:";

/** The drill's plan for a stack: its name, its domain, and why it can (or cannot) get certificates. */
export interface DrillPlan {
    source: string;
    drill: string;
    target: string;
    domain: string;
    /** Where the drill's hosts get DNS records: the stack's dnsZone (the program makes them). */
    dnsZone?: string;
    /** What the copy runs that writes to the database (archon-agents only with enableAgents). */
    writers: string[];
}

/** The throwaway stack: `<stack>-dr-<UTC stamp>`, its hosts under `dr-<stamp>.<domain>` in the stack's DNS zone. */
export function drillPlan(source: string, now: Date, drillStack?: string): DrillPlan {
    const config = stackConfig(source).values;
    const stamp = now.toISOString().replace(/[-:]/g, "").slice(0, 13).toLowerCase();
    const domain = config[`${PREFIX}domain`];
    return {
        source,
        drill: drillStack ?? `${source}-dr-${stamp}`,
        target: config[`${PREFIX}target`],
        domain: `dr-${stamp}.${domain}`,
        dnsZone: config[`${PREFIX}dnsZone`],
        writers: [...DATABASE_WRITERS].filter((w) => w !== "archon-agents" || config[`${PREFIX}enableAgents`] === "true"),
    };
}

/** Seconds as `2h 5m`, `12m 5s` or `40s`. */
export function duration(seconds: number): string {
    const s = Math.round(seconds);
    if (s >= 3600) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
    return s >= 60 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${s}s`;
}

export interface DrillReport {
    ok: boolean;
    /** Seconds per phase: up, restore, smoke. */
    phases: Record<string, number>;
    rtoSeconds?: number;
    rpoSeconds?: number;
    snapshot?: string;
    destroyed: boolean;
    message: string;
}

/**
 * Runs the drill with `shell` (dryRun: prints only). `clock` returns seconds (tests pass their own).
 * The throwaway stack is destroyed whatever happened after it was created, unless `keep`.
 */
export async function drill(plan: DrillPlan, options: { dryRun: boolean; keep: boolean; smokeOptions: string[]; env?: NodeJS.ProcessEnv }, shell: Shell, clock: () => number = () => Date.now() / 1000): Promise<DrillReport> {
    const pulumi = (args: string[]) => `pulumi ${args.map(shellQuote).join(" ")}`;
    const run = async (line: string) => (await shell.run(line)).status === 0;
    const phases: Record<string, number> = {};
    const report = (ok: boolean, message: string, extra: Partial<DrillReport> = {}): DrillReport => ({ ok, phases, destroyed: false, message, ...extra });

    if (!plan.dnsZone) {
        const why = `stack ${plan.source} has no dnsZone: the drill's hosts (${plan.domain}) would get no DNS records and no certificates, so the smoke test could not pass. Set dnsZone (README "First deploy") and run the drill again`;
        if (!options.dryRun) return report(false, why);
        shell.log(`# note: ${why}`);
    }
    shell.log(`# 1. a throwaway copy of ${plan.source}: stack ${plan.drill}, hosts under ${plan.domain}`);
    if (!(await run(pulumi(["stack", "init", plan.drill, "--copy-config-from", plan.source])))) return report(false, `pulumi stack init ${plan.drill} failed; nothing was created`);
    const created = async (ok: boolean, message: string, extra: Partial<DrillReport> = {}): Promise<DrillReport> => {
        if (options.keep) return report(ok, `${message}; stack ${plan.drill} is kept (--keep): pulumi destroy --stack ${plan.drill} when done`, extra);
        shell.log(`# 5. destroy the copy (its protections lifted: it holds no data of its own)`);
        const destroyed = await run(pulumi(["state", "unprotect", "--all", "--yes", "--stack", plan.drill]))
            && await run(pulumi(["destroy", "--stack", plan.drill, "--yes", "--skip-preview"]))
            && await run(pulumi(["stack", "rm", plan.drill, "--yes"]));
        return report(ok && destroyed, destroyed ? message : `${message}; destroying ${plan.drill} failed: finish with pulumi destroy --stack ${plan.drill} (Hetzner delete protection on a volume may need lifting first: hcloud volume disable-protection <id> delete)`, { ...extra, destroyed });
    };
    for (const [key, value] of [["domain", plan.domain], ["buildImages", "false"]]) {
        if (!(await run(pulumi(["config", "set", "--stack", plan.drill, key, value])))) return created(false, `pulumi config set ${key} failed`);
    }

    shell.log(`# 2. bring it up (the recovery time starts)`);
    const start = clock();
    if (!(await run(pulumi(["up", "--stack", plan.drill, "--yes", "--skip-preview"])))) return created(false, `pulumi up --stack ${plan.drill} failed`);
    phases.up = clock() - start;

    shell.log(`# 3. restore ${plan.source}'s latest snapshot that holds data into it`);
    const restoreStart = clock();
    const drillOutputs = options.dryRun ? undefined : readStackOutputs(plan.drill, undefined);
    // k3s: kubectl talks to the copy's own cluster.
    if (drillOutputs && options.env) Object.assign(options.env, kubeconfigEnv(drillOutputs));
    const sourceOutputs = options.dryRun ? undefined : readStackOutputs(plan.source, undefined);
    const target = drillOutputs ? restoreStackFromOutputs(plan.drill, drillOutputs) : {
        stack: plan.drill,
        target: plan.target as "compose",
        ssh: plan.target === "compose" ? "ssh -i ~/.ssh/<drill key> deploy@<drill host>" : undefined,
        projectDir: "/opt/archon",
        namespace: "archon",
        writers: plan.writers,
    };
    const from = sourceOutputs ? backupSource(plan.source, sourceOutputs) : { stack: plan.source, repository: `<backups.repository of ${plan.source}>`, key: "<backupEncryptionKey>" };
    const restored = await restore(target, { backup: "latest", from }, shell, options.dryRun);
    phases.restore = clock() - restoreStart;
    if (!restored.ok) return created(false, `restore failed: ${restored.message}`, { snapshot: restored.snapshot });
    const rpoSeconds = restored.snapshotTime ? restoreStart - Date.parse(`${restored.snapshotTime}Z`) / 1000 : undefined;

    shell.log(`# 4. smoke test (the recovery time ends when it passes)`);
    const smokeStart = clock();
    const smoked = await run(["npm", "run", "smoke", "--", "--stack", plan.drill, ...options.smokeOptions].map(shellQuote).join(" "));
    phases.smoke = clock() - smokeStart;
    const rtoSeconds = clock() - start;
    const measured = `RTO ${duration(rtoSeconds)} (up ${duration(phases.up)}, restore ${duration(phases.restore)}, smoke ${duration(phases.smoke)}); RPO ${rpoSeconds === undefined ? "unknown" : duration(rpoSeconds)} (snapshot ${restored.snapshot}${restored.snapshotTime ? ` of ${restored.snapshotTime} UTC` : ""})`;
    if (!smoked) return created(false, `the smoke test failed against ${plan.drill}; ${measured}`, { rpoSeconds, snapshot: restored.snapshot });
    return created(true, `recovered ${plan.source} into ${plan.drill}: ${measured}`, { rtoSeconds, rpoSeconds, snapshot: restored.snapshot });
}

async function main(argv: string[]): Promise<number> {
    const { values } = parseCli({
        args: argv,
        options: {
            stack: { type: "string", help: "the stack whose backups are restored; required" },
            "drill-stack": { type: "string", help: "name of the throwaway stack (default <stack>-drill-<date>)" },
            "dry-run": { type: "boolean", default: false, help: "print, offline, every step the drill would run, in order" },
            keep: { type: "boolean", default: false, help: "leave the throwaway stack up for inspection instead of destroying it" },
            "smoke-option": { type: "string", multiple: true, default: [], help: "pass one more argument to the smoke test" },
        },
        help: {
            summary: "Disaster recovery, rehearsed: brings up a throwaway copy of the stack, restores its latest backup that holds data, runs the smoke test, prints the measured RTO and RPO, destroys the copy.",
            usage: "npm run dr-drill -- --stack <name> [--dry-run] [--keep] [--drill-stack <name>] [--smoke-option <arg>]...",
            examples: ["npm run dr-drill -- --stack production --dry-run", "npm run dr-drill -- --stack staging"],
        },
    });
    if (!values.stack) throw new UsageError("--stack is required: npm run dr-drill -- --stack <name> [--dry-run] [--keep] [--drill-stack <name>] [--smoke-option <arg>]...");
    const plan = drillPlan(values.stack, new Date(), values["drill-stack"]);
    if (plan.drill === plan.source) throw new UsageError(`--drill-stack ${plan.drill}: that is the stack itself; the drill needs a throwaway stack`);
    const dryRun = values["dry-run"]!;
    const env = { ...process.env };
    const shell = dryRun ? printingShell() : bashShell(env);
    process.chdir(PROJECT_DIR);
    const result = await drill(plan, { dryRun, keep: values.keep!, smokeOptions: values["smoke-option"] ?? [], env }, shell);
    if (dryRun) {
        console.log(`dr-drill (dry run): ${plan.target} stack ${plan.source} into ${plan.drill}; nothing was run`);
        return 0;
    }
    console.log(`dr-drill: ${result.message}`);
    return result.ok ? 0 : 1;
}

if (require.main === module) runCli(async () => { process.exitCode = await main(process.argv.slice(2)); });
