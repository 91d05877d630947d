/**
 * Stack traces only where someone reads them. Pulumi's SDK records a stack trace with every promise
 * it makes (`debuggablePromise`, @pulumi/pulumi runtime/debuggable.js), for a promise-leak report
 * that prints them only when PULUMI_DEBUG_PROMISE_LEAKS is set (`leakedPromises`). Under Pulumi's
 * Node runner, ts-node's source-map support maps every frame of every one of those traces back to
 * TypeScript, eagerly: a quarter of the program's CPU time in a preview (profiled on the production
 * stack), and formatting them at all costs a further 7%. Unless the leak report is on, those traces
 * become one line saying how to get them. Every other stack trace (errors, and the source positions
 * Pulumi sends the engine with each resource, resource.js) is mapped as before.
 */
import * as path from "path";

const LEAK_TRACE_SOURCE = path.join("@pulumi", "pulumi", "runtime", "debuggable.js");
const INSTALLED = Symbol.for("archon-infra.promise-stack-traces");

type PrepareStackTrace = NonNullable<ErrorConstructor["prepareStackTrace"]>;

/** What a promise's trace reads while the leak report is off (nobody prints it then). */
export const UNRECORDED_PROMISE_TRACE = "Error: not recorded (set PULUMI_DEBUG_PROMISE_LEAKS to record promise stack traces)";

/** Wraps the installed `Error.prepareStackTrace` (ts-node's source-map support, when present); idempotent. */
export function skipMappingOfPromiseTraces(env: NodeJS.ProcessEnv = process.env): void {
    const mapped = Error.prepareStackTrace as (PrepareStackTrace & { [INSTALLED]?: true }) | undefined;
    if (mapped === undefined || mapped[INSTALLED] || env.PULUMI_DEBUG_PROMISE_LEAKS) return;
    const prepare: PrepareStackTrace & { [INSTALLED]?: true } = (error, frames) =>
        (frames[0]?.getFileName() ?? "").endsWith(LEAK_TRACE_SOURCE) ? UNRECORDED_PROMISE_TRACE : mapped(error, frames);
    prepare[INSTALLED] = true;
    Error.prepareStackTrace = prepare;
}

skipMappingOfPromiseTraces();
