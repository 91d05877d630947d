/**
 * `node --require ts-node/register/transpile-only scripts/lib/measure.ts <script> [args...]`: runs a
 * script as if it were the main program and, at exit, writes its peak RSS (kB) to stderr as a last
 * line `peak-rss-kb <n>`, for the benchmark.
 */
import * as path from "path";

const [script, ...args] = process.argv.slice(2);
process.on("exit", () => {
    process.stderr.write(`\npeak-rss-kb ${process.resourceUsage().maxRSS}\n`);
});
process.argv = [process.argv[0], path.resolve(script), ...args];
require(path.resolve(script));
