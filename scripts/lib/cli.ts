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

/**
 * `util.parseArgs` (strict), with its refusals turned into one line naming the flag and what the
 * script takes: an unknown option, a flag without its value, a value given to a boolean flag.
 */
export function parseCli<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
    try {
        return parseArgs<T>({ strict: true, ...config });
    } catch (err) {
        throw new UsageError(describeParseError(err, config));
    }
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
