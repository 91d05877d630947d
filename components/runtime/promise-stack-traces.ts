/**
 * Stack traces only where someone reads them. Pulumi's SDK records a stack trace with every promise
 * it makes (`debuggablePromise`, @pulumi/pulumi runtime/debuggable.js), for a promise-leak report
 * that shows them only when PULUMI_DEBUG_PROMISE_LEAKS is set. Under Pulumi's Node runner, ts-node's
 * source-map support maps every frame of every one of those traces back to TypeScript, eagerly: a
 * quarter of the program's CPU time in a preview (profiled on the production stack). This formats
 * those traces as V8 does, unmapped, unless the leak report is on. Every other stack trace (errors,
 * and the source positions Pulumi sends the engine with each resource, resource.js) is mapped as
 * before.
 */
import * as path from "path";

const LEAK_TRACE_SOURCE = path.join("@pulumi", "pulumi", "runtime", "debuggable.js");
const INSTALLED = Symbol.for("archon-infra.promise-stack-traces");

type PrepareStackTrace = NonNullable<ErrorConstructor["prepareStackTrace"]>;

/** V8's own format: the error's first line, then one `at` line per frame. */
function unmapped(error: Error, frames: NodeJS.CallSite[]): string {
    return `${Error.prototype.toString.call(error)}${frames.map((frame) => `\n    at ${frame}`).join("")}`;
}

/** Wraps the installed `Error.prepareStackTrace` (ts-node's source-map support, when present); idempotent. */
export function skipMappingOfPromiseTraces(env: NodeJS.ProcessEnv = process.env): void {
    const mapped = Error.prepareStackTrace as (PrepareStackTrace & { [INSTALLED]?: true }) | undefined;
    if (mapped === undefined || mapped[INSTALLED] || env.PULUMI_DEBUG_PROMISE_LEAKS) return;
    const prepare: PrepareStackTrace & { [INSTALLED]?: true } = (error, frames) =>
        (frames[0]?.getFileName() ?? "").endsWith(LEAK_TRACE_SOURCE) ? unmapped(error, frames) : mapped(error, frames);
    prepare[INSTALLED] = true;
    Error.prepareStackTrace = prepare;
}

skipMappingOfPromiseTraces();
