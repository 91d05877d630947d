/**
 * The release log read from recorded `pulumi stack history --json` output (the CLI's updateInfoJSON
 * format, pulumi/pulumi pkg/cmd/pulumi/stack/stack_history.go): which updates count, who made them,
 * which tag, release vs rollback, and the result. Fixtures, of our own making, in the shape each
 * backend gives: stack-history-production.json (an older CLI's Go time format), stack-history-cloud.json
 * (Pulumi Cloud: numbered versions, RFC 5424 times with milliseconds as cmd.FormatTime writes them,
 * an update still in progress without endTime/resourceChanges) and stack-history-diy.json (S3 and
 * file:// backends: pkg/backend/diy/backend.go records no version, so every entry says 0, and an
 * empty environment map is null).
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { StackHistoryError, formatReleaseLog, parseHistoryTime, releaseLog } from "../scripts/lib/release-log";
import { run, writeTempFiles } from "./helpers";

const FIXTURE = path.join(__dirname, "fixtures", "stack-history-production.json");
const history = JSON.parse(fs.readFileSync(FIXTURE, "utf8")) as unknown;

describe("release log", () => {
    const log = releaseLog(history, "archon-infra");

    it("lists the updates oldest first, leaving out refreshes", () => {
        assert.deepStrictEqual(log.map((e) => e.version), [1, 2, 3, 5, 6]);
        assert.deepStrictEqual(log.map((e) => e.when), [
            "2026-01-12T08:15:30.000Z", "2026-01-15T10:00:00.000Z", "2026-01-20T11:30:05.000Z", "2026-02-03T15:02:47.000Z", "2026-02-03T16:40:11.000Z",
        ]);
    });

    it("records which tag each update deployed and how it ended", () => {
        assert.deepStrictEqual(log.map((e) => [e.imageTag, e.result]), [
            ["sha-1a2b3c4", "succeeded"], ["sha-1a2b3c4", "succeeded"], ["sha-5d6e7f8", "succeeded"], ["sha-9abcdef", "failed"], ["sha-5d6e7f8", "succeeded"],
        ]);
    });

    it("tells releases, redeploys and rollbacks apart (a failed release does not count as deployed)", () => {
        assert.deepStrictEqual(log.map((e) => e.change), ["release", "redeploy", "release", "release", "rollback"]);
    });

    it("names who made each update from the git author, else the committer", () => {
        assert.strictEqual(log[0].who, "Ana Ops <ana@example.com>");
        assert.strictEqual(log[2].who, "CI Bot <ci@example.com>");
        assert.strictEqual(log[3].who, "Ben Builder <ben@example.com>");
        assert.strictEqual(log[4].programCommit, "0c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5");
        assert.deepStrictEqual(log[4].resourceChanges, { same: 71, update: 4 });
    });

    it("links a CI deploy to its run and names who approved it", () => {
        assert.strictEqual(log[2].run, "https://github.com/example/archon-infra/actions/runs/9876543210");
        assert.strictEqual(log[2].approvedBy, "alice-lead");
        assert.strictEqual(log[0].run, undefined);
        assert.match(formatReleaseLog(log).split("\n")[3], /CI Bot <ci@example.com> +\S+ +alice-lead +https:\/\/github.com\/example\/archon-infra\/actions\/runs\/9876543210$/);
    });

    it("reads both time formats the CLI has printed", () => {
        assert.strictEqual(parseHistoryTime("2026-02-03 16:40:11 +0000 UTC").toISOString(), "2026-02-03T16:40:11.000Z");
        assert.strictEqual(parseHistoryTime("2026-02-03 17:40:11.5 +0100 CET").toISOString(), "2026-02-03T16:40:11.500Z");
        assert.strictEqual(parseHistoryTime("2026-02-03T16:40:11Z").toISOString(), "2026-02-03T16:40:11.000Z");
        assert.throws(() => parseHistoryTime("yesterday"), /unreadable time/);
    });

    it("refuses JSON that is not stack history", () => {
        assert.throws(() => releaseLog([{ version: 1 }], "archon-infra"), (err) => err instanceof StackHistoryError && err.message === "entry 0, kind, is missing");
        assert.throws(() => releaseLog({ updates: [] }, "archon-infra"), (err) => err instanceof StackHistoryError && err.message === "is not a list of updates");
    });

    it("Pulumi Cloud: numbered versions, approvers from the @-logins (a login may be `nobody`), an update in progress", () => {
        const cloud = releaseLog(JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures", "stack-history-cloud.json"), "utf8")), "archon-infra");
        assert.deepStrictEqual(cloud.map((e) => [e.version, e.imageTag, e.change, e.result, e.approvedBy]), [
            [1, "sha-1a2b3c4", "release", "succeeded", undefined],
            [2, "sha-2b3c4d5", "release", "succeeded", "alice-lead"],
            [4, "sha-1a2b3c4", "rollback", "succeeded", "nobody"],
            [5, "sha-3c4d5e6", "release", "in-progress", "alice-lead, bob-sre"],
        ]);
        assert.strictEqual(cloud[1].when, "2026-03-02T09:14:07.000Z");
        assert.strictEqual(cloud[1].run, "https://github.com/example/archon-infra/actions/runs/7001");
        assert.deepStrictEqual(cloud[3].resourceChanges, {});
    });

    it("S3/file backends: no version (not #0), no approver where none was required, an empty environment", () => {
        const file = path.join(__dirname, "fixtures", "stack-history-diy.json");
        const diy = releaseLog(JSON.parse(fs.readFileSync(file, "utf8")), "archon-infra");
        assert.deepStrictEqual(diy.map((e) => [e.version, e.imageTag, e.result, e.approvedBy, e.who]), [
            [undefined, "sha-3b4c5d6", "succeeded", undefined, "unknown"],
            [undefined, "sha-4c5d6e7", "succeeded", undefined, "CI Bot <ci@example.com>"],
            [undefined, "sha-5d6e7f8", "failed", undefined, "CI Bot <ci@example.com>"],
        ]);
        const printed = run(process.execPath, ["--require", "ts-node/register/transpile-only", "scripts/releases.ts", "--stack", "staging", "--file", file], { cwd: path.join(__dirname, "..") });
        assert.strictEqual(printed.status, 0, printed.output);
        assert.doesNotMatch(printed.output, /#0|nobody/, printed.output);
        assert.match(printed.output.split("\n")[1], /^ +2026-02-09T17:45:00Z  release +sha-3b4c5d6 +succeeded +unknown$/);
    });

    it("prints one row per update through `npm run releases -- --file`", () => {
        const result = run(process.execPath, ["--require", "ts-node/register/transpile-only", "scripts/releases.ts", "--stack", "production", "--file", FIXTURE], { cwd: path.join(__dirname, "..") });
        assert.strictEqual(result.status, 0, result.output);
        assert.strictEqual(result.output, formatReleaseLog(log));
        assert.match(result.output.split("\n")[5], /^#6 .* rollback +sha-5d6e7f8 +succeeded +Ana Ops <ana@example.com>/);
    });

    it("refuses a --file that is not JSON, or JSON of another shape, in one line naming the file, what is wrong and the fix (issue 28.1)", () => {
        const update = { version: 1, kind: "update", startTime: "2026-01-12 08:15:30 +0000 UTC", config: {} };
        const dir = writeTempFiles({
            "truncated.json": JSON.stringify([update]).slice(0, 40),
            "object.json": JSON.stringify({ updates: [update] }),
            "no-start.json": JSON.stringify([update, { ...update, startTime: undefined }]),
            "bad-time.json": JSON.stringify([{ ...update, startTime: "yesterday" }]),
        });
        const save = "; save it with pulumi stack history --json --stack production > <file>";
        const cases: [string, string][] = [
            ["truncated.json", "not JSON; give it the output of pulumi stack history --json"],
            ["object.json", `not the stack history the Pulumi CLI prints (is not a list of updates)${save}`],
            ["no-start.json", `not the stack history the Pulumi CLI prints (entry 1, startTime, is missing)${save}`],
            ["bad-time.json", `not the stack history the Pulumi CLI prints (unreadable time in stack history: "yesterday")${save}`],
        ];
        try {
            for (const [name, message] of cases) {
                const file = path.join(dir, name);
                const result = run(process.execPath, ["--require", "ts-node/register/transpile-only", "scripts/releases.ts", "--stack", "production", "--file", file], { cwd: path.join(__dirname, "..") });
                assert.strictEqual(result.status, 2, result.output);
                assert.strictEqual(result.output, `error: ${file}: ${message}\n`);
            }
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
