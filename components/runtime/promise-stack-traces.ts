/**
 * Stack traces only where someone reads them. Pulumi's SDK records a stack trace with every promise
 * it makes (`debuggablePromise`, @pulumi/pulumi runtime/debuggable.js), for a promise-leak report
 * that prints them only when PULUMI_DEBUG_PROMISE_LEAKS is set (`leakedPromises`). Under Pulumi's
 * Node runner, ts-node's source-map support maps every frame of every one of those traces back to
 * TypeScript, eagerly: a quarter of the program's CPU time in a preview (profiled on the production
 * stack), and formatting them at all costs a further 7%; capturing the frames costs another 4% of
 * the runner's CPU time (measured side by side on production with 30 agents). Unless the leak report
 * is on, those traces are neither captured nor mapped: they read as one line saying how to get them.
 * The leak report itself (how many promises were left, exit code 1) is unchanged. Every other stack
 * trace (errors, and the source positions Pulumi sends the engine with each resource, resource.js)
 * is captured and mapped as before.
 */
import * as path from "path";

const LEAK_TRACE_SOURCE = path.join("@pulumi", "pulumi", "runtime", "debuggable.js");
const INSTALLED = Symbol.for("archon-infra.promise-stack-traces");

type PrepareStackTrace = NonNullable<ErrorConstructor["prepareStackTrace"]>;
type Installed<T> = T & { [INSTALLED]?: true };

/** The SDK's promise wrapper (runtime/debuggable.js); @internal, so not in its type declarations. */
export interface DebuggableModule {
    debuggablePromise<T>(p: Promise<T>, ctx: unknown): Promise<T>;
}

/** What a promise's trace reads while the leak report is off (nobody prints it then). */
export const UNRECORDED_PROMISE_TRACE = "Error: not recorded (set PULUMI_DEBUG_PROMISE_LEAKS to record promise stack traces)";

/** True while the SDK records a promise's trace through the wrapper below. */
let recordingPromiseTrace = false;

/** Wraps the installed `Error.prepareStackTrace` (ts-node's source-map support, when present); idempotent. */
export function skipMappingOfPromiseTraces(env: NodeJS.ProcessEnv = process.env): void {
    const mapped = Error.prepareStackTrace as Installed<PrepareStackTrace> | undefined;
    if (mapped === undefined || mapped[INSTALLED] || env.PULUMI_DEBUG_PROMISE_LEAKS) return;
    const prepare: Installed<PrepareStackTrace> = (error, frames) =>
        recordingPromiseTrace || (frames[0]?.getFileName() ?? "").endsWith(LEAK_TRACE_SOURCE) ? UNRECORDED_PROMISE_TRACE : mapped(error, frames);
    prepare[INSTALLED] = true;
    Error.prepareStackTrace = prepare;
}

/**
 * Has the SDK's `debuggablePromise` record no frames (`Error.stackTraceLimit` 0 while it takes its
 * trace) unless the leak report is on; idempotent. The SDK's modules call it through the module's
 * exports (`debuggable_1.debuggablePromise(...)`), so replacing the export reaches every caller; if
 * a later SDK called it otherwise, the traces would still go unmapped (above), only captured.
 */
export function skipCaptureOfPromiseTraces(debuggable: DebuggableModule = require("@pulumi/pulumi/runtime/debuggable"), env: NodeJS.ProcessEnv = process.env): void {
    const original = debuggable.debuggablePromise as Installed<DebuggableModule["debuggablePromise"]>;
    if (typeof original !== "function" || original[INSTALLED] || env.PULUMI_DEBUG_PROMISE_LEAKS) return;
    const withoutTrace: Installed<DebuggableModule["debuggablePromise"]> = (p, ctx) => {
        const limit = Error.stackTraceLimit;
        Error.stackTraceLimit = 0;
        recordingPromiseTrace = true;
        try {
            return original(p, ctx);
        } finally {
            Error.stackTraceLimit = limit;
            recordingPromiseTrace = false;
            // Also where no source-map support formats traces (a program run from compiled JavaScript).
            Object.assign(p, { _debugStackTrace: UNRECORDED_PROMISE_TRACE });
        }
    };
    withoutTrace[INSTALLED] = true;
    debuggable.debuggablePromise = withoutTrace;
}

skipMappingOfPromiseTraces();
skipCaptureOfPromiseTraces();
