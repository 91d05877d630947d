/**
 * Every script package.json runs answers `--help` as a person types it (`npm run -s <script> --
 * --help`): exit 0, what it does, its usage, one described line per option its parseCli declares,
 * and an example; and an unknown flag is one `error:` line naming it, exit 2 (issue 28.4). The
 * declared options are read from the script itself: its unknown-option refusal lists them from
 * the same table parseCli parses with, so an option added without help text turns this red.
 */
import * as assert from "assert";
import { execFile } from "child_process";
import * as fs from "fs";
import * as path from "path";

const PROJECT_DIR = path.resolve(__dirname, "..");

/** package.json's scripts that run a file of scripts/, by npm script name. */
function scriptCommands(): [string, string][] {
    const pkg = JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, "package.json"), "utf8")) as { scripts: Record<string, string> };
    return Object.entries(pkg.scripts).filter(([, command]) => /\bscripts\/[\w-]+\.ts\b/.test(command));
}

/** `npm run -s <name> -- <args>`, as a person (or a workflow) runs it. */
function npmRun(name: string, args: string[]): Promise<{ status: number; stdout: string; output: string }> {
    const env = { ...process.env, npm_config_update_notifier: "false", npm_config_fund: "false" };
    return new Promise((resolve) => {
        execFile("npm", ["run", "-s", name, "--", ...args], { cwd: PROJECT_DIR, env, encoding: "utf8", timeout: 60_000 }, (err, stdout, stderr) =>
            resolve({ status: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, output: `${stdout}${stderr}` }));
    });
}

/** The flags named in an unknown-option refusal: `...; the options are --stack <value>, --json`. */
function declaredOptions(refusal: string): string[] {
    const list = /; the options are (.+)$/.exec(refusal)?.[1];
    assert.ok(list, `the refusal lists the options: ${refusal}`);
    return [...list.matchAll(/--([\w-]+)/g)].map((m) => m[1]);
}

/** Help's option lines: flag -> its sentence. */
function helpOptions(help: string): Map<string, string> {
    const section = help.split("\nOptions:\n")[1]?.split("\n\n")[0];
    assert.ok(section, `an Options: section:\n${help}`);
    return new Map(section.split("\n").map((line) => {
        const match = /^  --([\w-]+)(?: <value>)?(?:, -h)?\s*(.*)$/.exec(line);
        assert.ok(match, `an option line: ${JSON.stringify(line)}`);
        return [match[1], match[2]];
    }));
}

describe("every script answers --help, and refuses an unknown flag in one line (issue 28.4)", function () {
    this.timeout(120_000);
    const scripts = scriptCommands();

    it("package.json runs the scripts this spec covers", () => {
        assert.ok(scripts.length >= 15, scripts.map(([name]) => name).join(", "));
        for (const name of ["synth", "policy", "releases", "smoke", "ci-access", "release", "restore", "image-builds", "bench", "image-lock", "plan-diff"]) {
            assert.ok(scripts.some(([n]) => n === name), `npm run ${name}`);
        }
    });

    for (const [name] of scripts) {
        it(`npm run ${name} -- --help / --nope`, async () => {
            const [help, unknown] = await Promise.all([npmRun(name, ["--help"]), npmRun(name, ["--nope"])]);

            assert.strictEqual(help.status, 0, help.output);
            const text = help.stdout;
            const [summary] = text.split("\n");
            assert.ok(summary.length > 20, `a summary first:\n${text}`);
            assert.match(text, new RegExp(`\\nUsage: npm run ${name}\\b`), text);
            const examples = text.split(/\nExamples?:\n/)[1]?.split("\n").filter((line) => line.trim() !== "");
            assert.ok(examples?.some((line) => new RegExp(`^  .*npm run (-s )?${name}( |$)`).test(line)), `an example of npm run ${name}:\n${text}`);

            assert.strictEqual(unknown.status, 2, unknown.output);
            const lines = unknown.output.trim().split("\n");
            assert.strictEqual(lines.length, 1, `one line:\n${unknown.output}`);
            assert.match(lines[0], /^error: unknown option --nope; /);

            const described = helpOptions(text);
            const declared = declaredOptions(lines[0]);
            for (const option of declared) {
                assert.ok(described.has(option), `--help lists --${option}:\n${text}`);
                assert.match(described.get(option)!, /\w{3,}/, `--${option} has no help text`);
            }
            assert.deepStrictEqual([...described.keys()].sort(), [...declared, "help"].sort(), "--help lists exactly the options the script takes");
            const usage = text.split("\nUsage: ")[1].split("\n\n")[0];
            for (const option of declared) assert.match(usage, new RegExp(`--${option}\\b`), `the usage shows --${option}:\n${usage}`);
        });
    }
});
