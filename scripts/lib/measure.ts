/**
 * `node --require ts-node/register/transpile-only scripts/lib/measure.ts <script> [args...]`: runs a
 * script as if it were the main program and, at exit, writes what the benchmark reads to stderr as
 * last lines: `peak-rss-kb <n>` and `cpu-ms <n>` (this process), and for each run of Pulumi's Node runner it started
 * `runner <json>` (its {@link RunnerTiming}, and the child's own peak RSS `peakRssKb` and CPU time `cpuMs`).
 */
import * as fs from "fs";
import * as path from "path";
import type { RunnerTiming } from "./runner";

const [script, ...args] = process.argv.slice(2);
interface Sampler {
    peakRssKb: number;
    cpuMs: number;
    timer?: NodeJS.Timeout;
}
const runs: (RunnerTiming & Sampler)[] = [];
const samplers = new Map<number, Sampler>();

const TICKS_PER_SECOND = 100;

/** A running process's high-water mark of RSS (VmHWM) and CPU time so far (utime + stime), from /proc. */
function usage(pid: number): { peakRssKb: number; cpuMs: number } | undefined {
    try {
        const peak = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
        // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
        const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
        const ticks = Number(fields[11]) + Number(fields[12]);
        return peak ? { peakRssKb: Number(peak[1]), cpuMs: (ticks * 1000) / TICKS_PER_SECOND } : undefined;
    } catch {
        return undefined;
    }
}

/**
 * Samples the runner child's VmHWM and CPU time until it exits: the last reading is its peak and its
 * CPU time, up to its last few milliseconds.
 */
function watchRunner(runnerModule: typeof import("./runner")): void {
    runnerModule.runnerEvents.on("spawn", (pid: number) => {
        const sampler: Sampler = { peakRssKb: 0, cpuMs: 0 };
        sampler.timer = setInterval(() => Object.assign(sampler, usage(pid)), 5);
        samplers.set(pid, sampler);
    });
    runnerModule.runnerEvents.on("exit", (timing: RunnerTiming) => {
        const { timer, ...sampled } = samplers.get(timing.pid) ?? { peakRssKb: 0, cpuMs: 0 };
        clearInterval(timer);
        runs.push({ ...timing, ...sampled });
    });
}

process.on("exit", () => {
    const own = process.cpuUsage();
    const lines = [`peak-rss-kb ${process.resourceUsage().maxRSS}`, `cpu-ms ${(own.user + own.system) / 1000}`, ...runs.map((run) => `runner ${JSON.stringify(run)}`)];
    process.stderr.write(`\n${lines.join("\n")}\n`);
});
process.argv = [process.argv[0], path.resolve(script), ...args];
require(path.resolve(script));
// Scripts start their work after loading (runCli runs main on a later tick), so the runner, when the
// script loaded it, is watched before its first child. A script that does not load it (the floor)
// does not pay for it.
const runnerModule = require.cache[require.resolve("./runner")];
if (runnerModule) watchRunner(runnerModule.exports as typeof import("./runner"));
