/**
 * What every command-line script shares: how arguments are parsed and how a failure ends the
 * process. A usage or configuration problem is one line on stderr and exit 2; anything else is a
 * bug, printed with its stack trace, exit 1. Loads nothing but Node's own modules, so scripts that
 * must start fast (smoke, ci-access) can use it without the Pulumi SDK.
 */
import { ParseArgsConfig, parseArgs } from "util";

/** Bad input (arguments, configuration, files): `error: <message>` on one line, exit 2. */
export class CliError extends Error {}

/** A bad command line. */
export class UsageError extends CliError {}

/** Error classes a script throws for bad input, besides the shared ones. */
type OneLineError = abstract new (...args: never[]) => Error;

/** What `--help` prints for a script: what it does, its synopsis, and at least one example. */
export interface CliHelp {
    /** One or two sentences: what the script does and when to run it. */
    summary: string;
    /**
     * The synopsis, e.g. `npm run synth -- --stack <name> [--config key=value]... [--out dir]`; one
     * line per command for a script with several (release, ci-access).
     */
    usage: string | readonly string[];
    /** Complete command lines a person can copy. */
    examples: readonly string[];
}

/** Every option carries the sentence `--help` shows for it, so no script can add an undocumented flag. */
type DescribedOptions<T extends ParseArgsConfig> = { [K in keyof NonNullable<T["options"]>]: NonNullable<T["options"]>[K] & { help: string } };

/**
 * `util.parseArgs` (strict), with its refusals turned into one line naming the flag and what the
 * script takes: an unknown option, a flag without its value, a value given to a boolean flag.
 * `--help` (or `-h`) anywhere prints the script's help and exits 0 before anything else runs.
 */
export function parseCli<T extends ParseArgsConfig>(config: T & { options: DescribedOptions<T>; help: CliHelp }): ReturnType<typeof parseArgs<T>> {
    const args = config.args ?? process.argv.slice(2);
    const terminator = args.indexOf("--");
    const flags = terminator === -1 ? args : args.slice(0, terminator);
    if (flags.includes("--help") || flags.includes("-h")) {
        process.stdout.write(helpText(config));
        process.exit(0);
    }
    const { help: _help, ...parseConfig } = config;
    try {
        return parseArgs<T>({ strict: true, ...(parseConfig as unknown as T) });
    } catch (err) {
        throw new UsageError(describeParseError(err, config));
    }
}

/** The text `--help` prints: summary, usage, every option with its sentence, examples. */
export function helpText(config: ParseArgsConfig & { help: CliHelp; options?: Record<string, { type: string; help?: string; default?: unknown; multiple?: boolean }> }): string {
    const options = Object.entries(config.options ?? {}).map(([name, option]) => {
        const flag = option.type === "string" ? `--${name} <value>` : `--${name}`;
        const extra = [option.multiple ? "repeatable" : "", option.default !== undefined && option.default !== false && !(Array.isArray(option.default) && option.default.length === 0) ? `default ${JSON.stringify(option.default)}` : ""].filter(Boolean).join("; ");
        return `  ${flag.padEnd(26)} ${option.help ?? ""}${extra ? ` (${extra})` : ""}`;
    });
    return [
        config.help.summary,
        "",
        ...(typeof config.help.usage === "string" ? [config.help.usage] : config.help.usage).map((line, i) => `${i === 0 ? "Usage: " : "       "}${line}`),
        "",
        "Options:",
        ...options,
        `  ${"--help, -h".padEnd(26)} print this help and exit`,
        "",
        config.help.examples.length === 1 ? "Example:" : "Examples:",
        ...config.help.examples.map((example) => `  ${example}`),
        "",
    ].join("\n");
}

/** The options a script takes, as they are written on its command line. */
function optionList(config: ParseArgsConfig): string {
    return Object.entries(config.options ?? {})
        .map(([name, option]) => (option.type === "string" ? `--${name} <value>` : `--${name}`))
        .join(", ");
}

function describeParseError(err: unknown, config: ParseArgsConfig): string {
    const code = (err as { code?: string }).code;
    const message = err instanceof Error ? err.message : String(err);
    const flag = /'(-[^' ]+)/.exec(message)?.[1] ?? "";
    switch (code) {
        case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
            return `unknown option ${flag}; the options are ${optionList(config)}`;
        case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
            return message.includes("argument missing")
                ? `${flag} needs a value: ${flag} <value>`
                : `${flag} takes no value; the options are ${optionList(config)}`;
        case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
            return `unexpected argument ${/'([^']*)'/.exec(message)?.[1] ?? ""}; the options are ${optionList(config)}`;
        default:
            return message.split("\n")[0];
    }
}

/**
 * Runs a script's `main`. The shared configuration and usage errors, and those in `oneLine`, print
 * `error: <message>` and exit 2; anything else is a bug and prints its stack trace, exit 1.
 */
export function runCli(main: () => Promise<void> | void, oneLine: OneLineError[] = []): void {
    const known: OneLineError[] = [CliError, ...oneLine];
    Promise.resolve()
        .then(main)
        .catch((err: unknown) => {
            if (known.some((kind) => err instanceof kind)) {
                console.error(`error: ${(err as Error).message.split("\n")[0]}`);
                process.exit(2);
            }
            console.error(err);
            process.exit(1);
        });
}
