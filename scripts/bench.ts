/**
 * `npm run bench [-- --runs N]`: how long the offline synth takes and how much memory it needs.
 * Synthesizes production at 3 and at 30 agent nodes and staging, N runs each (default 5), each in a
 * fresh process, and prints the median wall time and the peak RSS of each, beside the floor: a
 * process that only loads the Pulumi SDK and the providers. Exits 1 when a target is missed.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { UsageError, parseCli, runCli } from "./lib/cli";
import { PROJECT_DIR } from "./lib/stack-config";

interface Case {
    label: string;
    script: string;
    args: string[];
}

interface Figures {
    label: string;
    medianSeconds: number;
    peakRssMb: number;
}

const TARGETS = { productionSeconds: 5, scalingRatio: 1.5, peakRssMb: 600 };

function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function measure(benchCase: Case, runs: number): Figures {
    const seconds: number[] = [];
    let peakKb = 0;
    for (let i = 0; i < runs; i++) {
        const started = process.hrtime.bigint();
        const result = spawnSync(process.execPath, ["--require", "ts-node/register/transpile-only", "scripts/lib/measure.ts", benchCase.script, ...benchCase.args], { cwd: PROJECT_DIR, encoding: "utf8" });
        seconds.push(Number(process.hrtime.bigint() - started) / 1e9);
        if (result.status !== 0) throw new Error(`${benchCase.label} failed:\n${result.stdout}${result.stderr}`);
        const rss = /peak-rss-kb (\d+)/.exec(result.stderr);
        if (!rss) throw new Error(`${benchCase.label}: no peak RSS reported`);
        peakKb = Math.max(peakKb, Number(rss[1]));
    }
    return { label: benchCase.label, medianSeconds: median(seconds), peakRssMb: peakKb / 1024 };
}

function main(): void {
    const { values } = parseCli({ options: { runs: { type: "string", default: "5" } } });
    const runs = Number(values.runs);
    if (!Number.isInteger(runs) || runs < 1 || runs > 100) throw new UsageError(`--runs ${values.runs}: a whole number from 1 to 100`);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "archon-bench-"));
    const synth = (label: string, stack: string, extra: string[]): Case => ({
        label,
        script: "scripts/synth.ts",
        args: ["--stack", stack, "--out", path.join(out, label.replace(/\W+/g, "-")), ...extra],
    });
    const cases: Case[] = [
        { label: "floor (SDK + providers)", script: "scripts/lib/load-providers.ts", args: [] },
        synth("staging", "staging", []),
        synth("production, 3 agents", "production", ["--config", "agentNodes=3"]),
        synth("production, 30 agents", "production", ["--config", "agentNodes=30"]),
    ];
    console.log(`archon-infra synth benchmark: ${runs} runs each, ${os.cpus().length} CPUs, node ${process.version}`);
    // Each case printed as soon as it is measured: the whole benchmark takes minutes.
    const figures = cases.map((c) => {
        const f = measure(c, runs);
        console.log(`${f.label.padEnd(26)} median ${f.medianSeconds.toFixed(2)} s   peak RSS ${f.peakRssMb.toFixed(0)} MB`);
        return f;
    });
    const [, , three, thirty] = figures;
    const ratio = thirty.medianSeconds / three.medianSeconds;
    const checks: [string, boolean][] = [
        [`production synth under ${TARGETS.productionSeconds} s (${three.medianSeconds.toFixed(2)} s)`, three.medianSeconds < TARGETS.productionSeconds],
        [`30 agents under ${TARGETS.scalingRatio}x of 3 (${ratio.toFixed(2)}x)`, ratio < TARGETS.scalingRatio],
        [`peak RSS under ${TARGETS.peakRssMb} MB (${Math.max(...figures.map((f) => f.peakRssMb)).toFixed(0)} MB)`, figures.every((f) => f.peakRssMb < TARGETS.peakRssMb)],
    ];
    for (const [what, ok] of checks) console.log(`${ok ? "met   " : "MISSED"} ${what}`);
    fs.rmSync(out, { recursive: true, force: true });
    if (!checks.every(([, ok]) => ok)) process.exitCode = 1;
}

runCli(main);
