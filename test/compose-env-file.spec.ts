/**
 * Operator secrets survive the Compose env files (issue 22 item 5). The Compose host reads
 * `env_file` with compose-go v2.4.7's dotenv parser (Docker Compose v2.32.4), which cuts an
 * unquoted value at ` #` and interpolates `$`: `Pa$word #2024` arrived as `Pa`.
 * test/fixtures/compose-go-dotenv.json records what that real parser returned for the lines
 * components/compose/env-file.ts writes (the parser is Go and not installable here): this spec
 * holds the encoder to exactly those lines, so a changed encoding fails here until its lines are
 * recorded again, and follows the operator's secrets from config into the rendered env files.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { envFileLine } from "../components/compose/env-file";
import { synth } from "./helpers";

interface RecordedCase { value: string; line: string; parsed: string }
const FIXTURE = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures", "compose-go-dotenv.json"), "utf8")) as {
    cases: RecordedCase[];
    unquotedBefore: { line: string; parsed: string };
};

/** The recorded case whose value is `value`. */
function recorded(value: string): RecordedCase {
    const found = FIXTURE.cases.find((c) => c.value === value);
    if (!found) throw new Error(`no recorded compose-go parse of ${JSON.stringify(value)}`);
    return found;
}

/** The line for `key` in an env file, with its continuation lines when the value is quoted. */
function lineOf(text: string, key: string): string {
    const start = text.indexOf(`\n${key}=`) + 1 || (text.startsWith(`${key}=`) ? 0 : -1);
    assert.ok(start >= 0, `${key} is not in the env file`);
    return text.slice(start, text.indexOf("\n", start) + 1);
}

describe("Compose env files: secrets as compose-go's dotenv parser reads them (issue 22 item 5)", () => {
    it("writes exactly the lines the real parser was recorded turning back into each value", () => {
        FIXTURE.cases.forEach((c, i) => {
            assert.equal(envFileLine(`V${i}`, c.value), c.line, `the encoding of ${JSON.stringify(c.value)} is the recorded line`);
            assert.equal(c.parsed, c.value, `compose-go read ${JSON.stringify(c.line)} back as ${JSON.stringify(c.value)}`);
        });
    });

    it("the recorded cases cover what broke and what must keep working: $, ' #', quotes, backslashes, newlines, edge spaces", () => {
        const values = FIXTURE.cases.map((c) => c.value);
        for (const [what, test] of [
            ["a $ (interpolation)", (v: string) => v.includes("$")],
            ["' #' (a comment when unquoted)", (v: string) => v.includes(" #")],
            ["a double quote", (v: string) => v.includes("\"")],
            ["a single quote", (v: string) => v.includes("'")],
            ["a backslash", (v: string) => v.includes("\\")],
            ["a newline", (v: string) => v.includes("\n")],
            ["a carriage return", (v: string) => v.includes("\r")],
            ["a leading space", (v: string) => v.startsWith(" ")],
            ["a generated secret (written as before, unquoted)", (v: string) => /^[A-Za-z0-9_-]+$/.test(v)],
        ] as const) assert.ok(values.some(test), `a recorded case has ${what}`);
        // The defect the quoting fixes, recorded with the same parser.
        assert.equal(FIXTURE.unquotedBefore.line, "OLD=Pa$word #2024\n");
        assert.equal(FIXTURE.unquotedBefore.parsed, "Pa");
    });

    it("the operator's secrets reach the rendered env files as recorded lines (SMTP password, OIDC client secret, backup keys)", async () => {
        const smtpPassword = "Pa$word #2024";
        const oidcClientSecret = "a \"quoted\" 'single' value";
        const backupSecretAccessKey = "$HOME ${HOME} $$ \\$";
        const backupAccessKeyId = "back\\slash \\\\ double";
        const result = await synth("staging", {
            smtpHost: "smtp.example.com", smtpUser: "postmaster@example.com", smtpPassword,
            oidcIssuerUrl: "https://id.example.com/realms/archon", oidcClientId: "archon-ui", oidcClientSecret, oidcAllowedEmailDomains: ["example.com"],
            backupAccessKeyId, backupSecretAccessKey,
        });
        const file = (service: string) => {
            const text = result.files[`project/env/${service}.env`];
            assert.ok(text !== undefined, `env/${service}.env is rendered`);
            return text;
        };
        const expectations: [string, string, string][] = [
            ["auth", "GOTRUE_SMTP_PASS", smtpPassword],
            ["oauth2-proxy", "OAUTH2_PROXY_CLIENT_SECRET", oidcClientSecret],
            ["postgres-backup", "AWS_SECRET_ACCESS_KEY", backupSecretAccessKey],
            ["postgres-backup", "AWS_ACCESS_KEY_ID", backupAccessKeyId],
        ];
        for (const [service, key, value] of expectations) {
            const line = lineOf(file(service), key);
            const { line: recordedLine } = recorded(value);
            assert.equal(line, `${key}=${recordedLine.slice(recordedLine.indexOf("=") + 1)}`, `${service}: ${key}`);
        }
    });

    it("refuses in one line, naming the key, what no env file can carry (NUL)", async () => {
        await assert.rejects(synth("staging", { smtpHost: "smtp.example.com", smtpUser: "postmaster@example.com", smtpPassword: "a\0b" }), (error: Error) => {
            assert.match(error.message, /smtpPassword.*NUL/);
            assert.equal(error.message.trim().split("\n").length, 1, error.message);
            return true;
        });
    });
});
