/** What every command-line script shares: how a failure ends the process. */
import { SynthConfigError } from "./synthesize";
import { StackConfigError } from "./stack-config";

/**
 * Runs a script's `main`. A configuration or usage problem prints one line and exits 2; anything
 * else is a bug and prints its stack trace, exit 1.
 */
export function runCli(main: () => Promise<void>): void {
    main().catch((err: unknown) => {
        if (err instanceof SynthConfigError || err instanceof StackConfigError) {
            console.error(`error: ${err.message}`);
            process.exit(2);
        }
        console.error(err);
        process.exit(1);
    });
}
