/**
 * The test run's synth cache (test/helpers.ts `synth`): a directory made before the first spec and
 * removed after the last, named to every process of the run, mocha's parallel workers included
 * (they inherit the environment). Loaded by .mocharc.json as a mocha global fixture.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const SYNTH_CACHE_ENV = "ARCHON_TEST_SYNTH_CACHE";

let made: string | undefined;

export function mochaGlobalSetup(): void {
    if (process.env[SYNTH_CACHE_ENV]) return;
    made = fs.mkdtempSync(path.join(os.tmpdir(), "archon-synth-cache-"));
    process.env[SYNTH_CACHE_ENV] = made;
}

export function mochaGlobalTeardown(): void {
    if (made === undefined) return;
    fs.rmSync(made, { recursive: true, force: true });
    delete process.env[SYNTH_CACHE_ENV];
    made = undefined;
}
