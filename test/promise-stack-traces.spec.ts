/**
 * components/runtime/promise-stack-traces.ts: the stack traces Pulumi's SDK records with every
 * promise, read only by its promise-leak report, are neither captured, formatted nor mapped through
 * ts-node's source maps unless that report is on; every other stack trace is still mapped, and the
 * leak report still counts what was left.
 */
import { strict as assert } from "assert";
import { DebuggableModule, UNRECORDED_PROMISE_TRACE, skipCaptureOfPromiseTraces, skipMappingOfPromiseTraces } from "../components/runtime/promise-stack-traces";

/** The SDK's runtime/debuggable.js with its leak report (@internal, so not in its type declarations). */
type SdkDebuggable = DebuggableModule & { leakedPromises(): [Set<Promise<unknown>>, string] };

/** A fresh instance of the SDK's runtime/debuggable.js (the program's import wrapped the shared one). */
function freshDebuggable(): SdkDebuggable {
    const file = require.resolve("@pulumi/pulumi/runtime/debuggable");
    const cached = require.cache[file];
    delete require.cache[file];
    try {
        return require(file) as SdkDebuggable;
    } finally {
        if (cached) require.cache[file] = cached;
        else delete require.cache[file];
    }
}

describe("stack traces of Pulumi's promises (components/runtime/promise-stack-traces.ts)", () => {
    const installed = Error.prepareStackTrace;
    let mappedFrom: string[] = [];
    let frameCounts: number[] = [];
    /** Stands in for ts-node's source-map support: records which stack it was asked to map. */
    const sourceMapSupport = (_error: Error, frames: NodeJS.CallSite[]): string => {
        mappedFrom.push(frames[0]?.getFunctionName() ?? "");
        frameCounts.push(frames.length);
        return "mapped";
    };
    /** The trace the SDK records for a promise it makes. */
    const promiseTrace = (debuggable: DebuggableModule): unknown => {
        const promise = Promise.resolve(1);
        void debuggable.debuggablePromise(promise, "test");
        return (promise as unknown as { _debugStackTrace: unknown })._debugStackTrace;
    };

    beforeEach(() => {
        mappedFrom = [];
        frameCounts = [];
        Error.prepareStackTrace = sourceMapSupport;
    });
    afterEach(() => {
        Error.prepareStackTrace = installed;
    });

    it("records no trace for the SDK's promises, and maps none, while the leak report is off", () => {
        const debuggable = freshDebuggable();
        skipMappingOfPromiseTraces({});
        skipCaptureOfPromiseTraces(debuggable, {});
        assert.equal(promiseTrace(debuggable), UNRECORDED_PROMISE_TRACE);
        assert.match(UNRECORDED_PROMISE_TRACE, /PULUMI_DEBUG_PROMISE_LEAKS/);
        assert.deepEqual(mappedFrom, []);
    });

    it("captures no frames for them either (what V8 hands the formatter is empty)", () => {
        const debuggable = freshDebuggable();
        // Capture skipped, mapping not: the formatter sees what was captured.
        skipCaptureOfPromiseTraces(debuggable, {});
        const limit = Error.stackTraceLimit;
        assert.equal(promiseTrace(debuggable), UNRECORDED_PROMISE_TRACE);
        assert.deepEqual(frameCounts, [0]);
        assert.equal(Error.stackTraceLimit, limit, "the limit is restored for every other trace");
    });

    it("still maps every other stack trace (errors, resource source positions)", () => {
        const debuggable = freshDebuggable();
        skipMappingOfPromiseTraces({});
        skipCaptureOfPromiseTraces(debuggable, {});
        promiseTrace(debuggable);
        function registering(): string | undefined {
            return new Error("boom").stack;
        }
        assert.equal(registering(), "mapped");
        assert.deepEqual(mappedFrom, ["registering"]);
        assert.ok(frameCounts[0] > 1, "with its frames");
    });

    it("still reports leaked promises, by count, while their traces are off", async () => {
        const debuggable = freshDebuggable();
        skipCaptureOfPromiseTraces(debuggable, {});
        let settle: (value: number) => void = () => undefined;
        const pending = new Promise<number>((resolve) => (settle = resolve));
        const tracked = debuggable.debuggablePromise(pending, "left pending");
        const [leaked, message] = debuggable.leakedPromises();
        settle(1);
        await tracked;
        assert.ok(leaked.has(pending));
        assert.match(message, /1 promise was still active/);
    });

    it("captures and maps the promise traces too when the leak report is on (PULUMI_DEBUG_PROMISE_LEAKS)", () => {
        const debuggable = freshDebuggable();
        skipMappingOfPromiseTraces({ PULUMI_DEBUG_PROMISE_LEAKS: "1" });
        skipCaptureOfPromiseTraces(debuggable, { PULUMI_DEBUG_PROMISE_LEAKS: "1" });
        assert.equal(promiseTrace(debuggable), "mapped");
        assert.deepEqual(mappedFrom, ["debuggablePromise"]);
    });

    it("wraps once, however often the program is loaded", () => {
        const debuggable = freshDebuggable();
        skipMappingOfPromiseTraces({});
        const once = Error.prepareStackTrace;
        skipMappingOfPromiseTraces({});
        assert.equal(Error.prepareStackTrace, once);
        skipCaptureOfPromiseTraces(debuggable, {});
        const wrapped = debuggable.debuggablePromise;
        skipCaptureOfPromiseTraces(debuggable, {});
        assert.equal(debuggable.debuggablePromise, wrapped);
        assert.equal(new Error("x").stack, "mapped");
        assert.deepEqual(mappedFrom.length, 1);
    });
});
