/**
 * One line of a Compose env file, written for the parser the Compose host runs: Docker Compose
 * v2.32.4 reads `env_file` with compose-go v2.4.7's dotenv package (compose-spec/compose-go,
 * dotenv/parser.go at 9642b85460f2de66e6295c8b1f2e968fc9c3cbae; types/project.go
 * WithServicesEnvironmentResolved -> dotenv.ParseWithLookup). Its rules, read there:
 * - unquoted: the value runs to the end of the line, is cut at the first ` #` (a comment),
 *   right-trimmed, then interpolated (`$VAR`, `${VAR}`, `$$`): `Pa$word #2024` becomes `Pa`;
 * - a value starting with `'` or `"` is quoted: it ends at the next unescaped quote and may span
 *   lines; inside double quotes `\\`, `\"`, `\$` (a literal `$`), `\n`, `\r`, `\t`, ... are escapes
 *   and the result is interpolated; inside single quotes nothing is interpolated.
 * So a value that needs nothing is written as is (what every generated secret is, and what the
 * env files held before), anything else in double quotes with `\`, `"`, `$`, CR and LF escaped.
 * test/fixtures/compose-go-dotenv.json records what the real parser returned for such lines.
 */

/** A value the unquoted form carries unchanged: no interpolation, comment, quote or edge space. */
function plainSafe(value: string): boolean {
    return !/[$\r\n]/.test(value) && !value.includes(" #") && !value.includes("\t#") && !/^['"\s\u0085]/.test(value) && !/[\s\u0085]$/.test(value);
}

/** Why `value` cannot be an environment variable at all, or undefined. */
export function envValueProblem(value: string): string | undefined {
    // execve(2) passes each variable as a NUL-terminated string: nothing can carry a NUL.
    if (value.includes("\0")) return "contains a NUL character, which no environment variable can hold";
    return undefined;
}

/** `KEY=value` for compose-go's dotenv parser; throws for a value no env file can hold. */
export function envFileLine(key: string, value: string): string {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`env key ${JSON.stringify(key)} is not a variable name`);
    const problem = envValueProblem(value);
    if (problem) throw new Error(`${key} ${problem}`);
    if (plainSafe(value)) return `${key}=${value}\n`;
    const escaped = value.replace(/[\\"$]/g, (c) => `\\${c}`).replace(/\n/g, "\\n").replace(/\r/g, "\\r");
    return `${key}="${escaped}"\n`;
}
