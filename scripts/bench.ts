/**
 * `npm run bench [-- --runs N]`: what the offline synth costs, side by side with its floor.
 * Runs, in interleaved rounds (so a busy machine weighs on every case alike), N times each (default
 * 5), each in a fresh process: the floor (a process that only loads the Pulumi SDK and the
 * providers), the synth of staging, of production as its stack file has it, and of production at
 * 2 and at 30 agent nodes. Prints per case the median wall time, its ratio to the floor, the CPU
 * time, and the peak RSS of the synth process and of the runner child; then what the program itself
 * adds to a `pulumi preview` (the runner child, from its start until every resource is registered)
 * apart from the synth's own rendering, and the cost of one more resource. Exits 1 when a target is
 * missed.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { UsageError, parseCli, runCli } from "./lib/cli";
import type { RunnerTiming } from "./lib/runner";
import { PROJECT_DIR } from "./lib/stack-config";

interface Case {
    label: string;
    script: string;
    args: string[];
}

/** One fresh process of a case, as scripts/lib/measure.ts reports it. */
interface Run {
    wallMs: number;
    cpuMs: number;
    peakRssKb: number;
    runner?: RunnerTiming & { peakRssKb: number; cpuMs: number };
}

interface Figures {
    label: string;
    runs: Run[];
    wallMs: number;
    cpuMs: number;
    peakRssMb: number;
    runnerPeakRssMb: number;
    /** Runner child: from its start until the last resource is registered. */
    previewMs: number;
    /** The synth process's own wall time besides the runner child's. */
    ownMs: number;
    registrations: number;
}

/** Issue 29's targets: synth within 3x the floor, 30 agents within 1.3x of 2, each process's peak RSS within 2x the floor's. */
const TARGETS = { floorRatio: 3, scalingRatio: 1.3, memoryRatio: 2 };

function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function runOnce(benchCase: Case): Run {
    const started = process.hrtime.bigint();
    const result = spawnSync(process.execPath, ["--require", "ts-node/register/transpile-only", "scripts/lib/measure.ts", benchCase.script, ...benchCase.args], { cwd: PROJECT_DIR, encoding: "utf8" });
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    if (result.status !== 0) throw new Error(`${benchCase.label} failed:\n${result.stdout}${result.stderr}`);
    const rss = /^peak-rss-kb (\d+)$/m.exec(result.stderr);
    const cpu = /^cpu-ms ([\d.]+)$/m.exec(result.stderr);
    if (!rss || !cpu) throw new Error(`${benchCase.label}: no peak RSS or CPU time reported`);
    const runner = /^runner (\{.*\})$/m.exec(result.stderr);
    const timing = runner ? (JSON.parse(runner[1]) as Run["runner"]) : undefined;
    return { wallMs, cpuMs: Number(cpu[1]) + (timing?.cpuMs ?? 0), peakRssKb: Number(rss[1]), runner: timing };
}

function figuresOf(label: string, runs: Run[]): Figures {
    const runner = runs.map((r) => r.runner).filter((t): t is NonNullable<Run["runner"]> => t !== undefined);
    return {
        label,
        runs,
        wallMs: median(runs.map((r) => r.wallMs)),
        cpuMs: median(runs.map((r) => r.cpuMs)),
        peakRssMb: Math.max(...runs.map((r) => r.peakRssKb)) / 1024,
        runnerPeakRssMb: runner.length ? Math.max(...runner.map((t) => t.peakRssKb)) / 1024 : 0,
        previewMs: runner.length ? median(runner.map((t) => t.lastRegistrationMs)) : 0,
        ownMs: runner.length ? median(runs.map((r) => r.wallMs - (r.runner?.exitMs ?? 0))) : 0,
        registrations: runner.length ? runner[0].registrations : 0,
    };
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

function main(): void {
    const { values } = parseCli({
        options: { runs: { type: "string", default: "5", help: "fresh processes per case, in interleaved rounds (1-100)" } },
        help: {
            summary: "Measures the offline synth side by side with its floor (a process that only loads the Pulumi SDK and providers): wall time, CPU, peak memory, the program's own preview cost; exits 1 when a target is missed.",
            usage: "npm run bench [-- --runs <n>]",
            examples: ["npm run bench", "npm run bench -- --runs 9"],
        },
    });
    const rounds = Number(values.runs);
    if (!Number.isInteger(rounds) || rounds < 1 || rounds > 100) throw new UsageError(`--runs ${values.runs}: a whole number from 1 to 100`);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "archon-bench-"));
    const synth = (label: string, stack: string, extra: string[]): Case => ({
        label,
        script: "scripts/synth.ts",
        args: ["--stack", stack, "--out", path.join(out, label.replace(/\W+/g, "-")), ...extra],
    });
    const cases: Case[] = [
        { label: "floor (SDK + providers)", script: "scripts/lib/load-providers.ts", args: [] },
        synth("staging", "staging", []),
        synth("production", "production", []),
        synth("production, 2 agents", "production", ["--config", "agentNodes=2"]),
        synth("production, 30 agents", "production", ["--config", "agentNodes=30"]),
    ];
    const load = () => os.loadavg()[0].toFixed(1);
    console.log(`archon-infra synth benchmark: ${rounds} interleaved rounds, ${os.cpus().length} CPUs, node ${process.version}, load average ${load()}`);
    const runs: Run[][] = cases.map(() => []);
    const figures: Figures[] = [];
    for (let round = 0; round < rounds; round++) {
        cases.forEach((c, i) => {
            runs[i].push(runOnce(c));
            if (round < rounds - 1) return;
            // Each case printed as soon as its last run is in (in the last round, one after another).
            const f = figuresOf(c.label, runs[i]);
            figures.push(f);
            const floor = figures[0];
            const memory = f.runnerPeakRssMb ? `${f.peakRssMb.toFixed(0)} MB synth, ${f.runnerPeakRssMb.toFixed(0)} MB runner` : `${f.peakRssMb.toFixed(0)} MB`;
            console.log(`${f.label.padEnd(24)} median ${seconds(f.wallMs)} ${(f.wallMs / floor.wallMs).toFixed(1).padStart(4)}x floor   CPU ${seconds(f.cpuMs)} ${(f.cpuMs / floor.cpuMs).toFixed(1).padStart(4)}x   peak RSS ${memory}`);
        });
    }
    const [floor, staging, production, two, thirty] = figures;
    console.log("what the program adds to a preview (runner child, start to last resource registered), and the synth's own rendering:");
    for (const f of figures.slice(1)) {
        console.log(`  ${f.label.padEnd(24)} preview ${seconds(f.previewMs)} for ${f.registrations} resources   synth's own ${seconds(f.ownMs)}`);
    }
    const perResourceMs = (thirty.previewMs - two.previewMs) / (thirty.registrations - two.registrations);
    console.log(`  one more resource: ${perResourceMs.toFixed(1)} ms of preview (30 vs 2 agents: +${thirty.registrations - two.registrations} resources)`);
    const ratio = thirty.wallMs / two.wallMs;
    const memoryLimit = TARGETS.memoryRatio * floor.peakRssMb;
    const peaks = figures.slice(1).flatMap((f) => [f.peakRssMb, f.runnerPeakRssMb]);
    const checks: [string, boolean][] = [
        ...[production, staging].map((f): [string, boolean] => [`${f.label} synth within ${TARGETS.floorRatio}x the floor (${(f.wallMs / floor.wallMs).toFixed(2)}x)`, f.wallMs <= TARGETS.floorRatio * floor.wallMs]),
        [`30 agents within ${TARGETS.scalingRatio}x of 2 (${ratio.toFixed(2)}x)`, ratio <= TARGETS.scalingRatio],
        [`peak RSS of each process within ${TARGETS.memoryRatio}x the floor's ${floor.peakRssMb.toFixed(0)} MB (${Math.max(...peaks).toFixed(0)} MB)`, Math.max(...peaks) <= memoryLimit],
    ];
    for (const [what, ok] of checks) console.log(`${ok ? "met   " : "MISSED"} ${what}`);
    console.log(`load average at the end ${load()}`);
    fs.rmSync(out, { recursive: true, force: true });
    if (!checks.every(([, ok]) => ok)) process.exitCode = 1;
}

runCli(main);
