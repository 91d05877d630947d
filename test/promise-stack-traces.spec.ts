/**
 * components/runtime/promise-stack-traces.ts: the stack traces Pulumi's SDK records with every
 * promise, read only by its promise-leak report, are neither formatted nor mapped through ts-node's
 * source maps unless that report is on; every other stack trace is still mapped.
 */
import { strict as assert } from "assert";
import { UNRECORDED_PROMISE_TRACE, skipMappingOfPromiseTraces } from "../components/runtime/promise-stack-traces";

// The SDK's own wrapper of every promise it makes; @internal, so not in its type declarations.
const { debuggablePromise } = require("@pulumi/pulumi/runtime/debuggable") as { debuggablePromise(p: Promise<unknown>, ctx: string): Promise<unknown> };

describe("stack traces of Pulumi's promises (components/runtime/promise-stack-traces.ts)", () => {
    const installed = Error.prepareStackTrace;
    let mappedFrom: string[] = [];
    /** Stands in for ts-node's source-map support: records which stack it was asked to map. */
    const sourceMapSupport = (_error: Error, frames: NodeJS.CallSite[]): string => {
        mappedFrom.push(frames[0]?.getFunctionName() ?? "");
        return "mapped";
    };
    /** The trace the SDK records for a promise it makes. */
    const promiseTrace = (): unknown => {
        const promise = Promise.resolve(1);
        void debuggablePromise(promise, "test");
        return (promise as unknown as { _debugStackTrace: unknown })._debugStackTrace;
    };

    beforeEach(() => {
        mappedFrom = [];
        Error.prepareStackTrace = sourceMapSupport;
    });
    afterEach(() => {
        Error.prepareStackTrace = installed;
    });

    it("records no trace for the SDK's promises, and maps none, while the leak report is off", () => {
        skipMappingOfPromiseTraces({});
        assert.equal(promiseTrace(), UNRECORDED_PROMISE_TRACE);
        assert.match(UNRECORDED_PROMISE_TRACE, /PULUMI_DEBUG_PROMISE_LEAKS/);
        assert.deepEqual(mappedFrom, []);
    });

    it("still maps every other stack trace (errors, resource source positions)", () => {
        skipMappingOfPromiseTraces({});
        function registering(): string | undefined {
            return new Error("boom").stack;
        }
        assert.equal(registering(), "mapped");
        assert.deepEqual(mappedFrom, ["registering"]);
    });

    it("maps the promise traces too when the leak report is on (PULUMI_DEBUG_PROMISE_LEAKS)", () => {
        skipMappingOfPromiseTraces({ PULUMI_DEBUG_PROMISE_LEAKS: "1" });
        assert.equal(promiseTrace(), "mapped");
        assert.deepEqual(mappedFrom, ["debuggablePromise"]);
    });

    it("wraps once, however often the program is loaded", () => {
        skipMappingOfPromiseTraces({});
        const once = Error.prepareStackTrace;
        skipMappingOfPromiseTraces({});
        assert.equal(Error.prepareStackTrace, once);
        assert.equal(new Error("x").stack, "mapped");
        assert.deepEqual(mappedFrom.length, 1);
    });
});
