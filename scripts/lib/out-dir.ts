/**
 * The synth's output directory: it only ever replaces what the synth itself wrote. A directory the
 * synth made carries a marker file; a non-empty directory without it is refused, and in a marked
 * one only the synth's own entries are replaced (anything else there, `.git` included, stays).
 */
import * as fs from "fs";
import * as path from "path";
import { UsageError } from "./cli";

/** The file that marks a directory as the synth's output. */
export const OUT_MARKER = ".archon-synth-output";
/** What the synth writes into its directory; the only entries it ever removes. */
export const SYNTH_ENTRIES = ["resources.json", "outputs.json", "plan.md", "files"] as const;

/**
 * Makes `out` ready for a fresh synth, or throws a {@link UsageError} (one line) when it is not the
 * synth's to replace: the checkout or one of its parents, the current directory, or a non-empty
 * directory without the marker. With `dryRun`, only checks.
 */
export function prepareOutDir(out: string, projectDir: string, cwd = process.cwd(), options: { dryRun?: boolean } = {}): void {
    const target = path.resolve(cwd, out);
    const shown = path.relative(cwd, target) || ".";
    const within = (parent: string, child: string) => child === parent || child.startsWith(parent.endsWith(path.sep) ? parent : parent + path.sep);
    if (target === path.resolve(cwd) || within(target, path.resolve(projectDir))) {
        throw new UsageError(`--out ${out}: refusing to write into ${target === path.resolve(cwd) ? "the current directory" : "the checkout or a directory holding it"}; name a directory of its own, e.g. --out out/<stack>`);
    }
    if (fs.existsSync(target)) {
        if (!fs.statSync(target).isDirectory()) throw new UsageError(`--out ${shown}: is a file, not a directory; name a new or empty directory`);
        const entries = fs.readdirSync(target);
        // An older synth's output (only the synth's entries, no marker yet) is the synth's too.
        const onlySynthEntries = entries.every((e) => (SYNTH_ENTRIES as readonly string[]).includes(e));
        if (!entries.includes(OUT_MARKER) && !onlySynthEntries) {
            throw new UsageError(`--out ${shown}: the directory is not empty and was not written by the synth (no ${OUT_MARKER}); name a new or empty directory`);
        }
        if (options.dryRun) return;
        for (const entry of SYNTH_ENTRIES) fs.rmSync(path.join(target, entry), { recursive: true, force: true });
    }
    if (options.dryRun) return;
    fs.mkdirSync(target, { recursive: true });
    fs.writeFileSync(path.join(target, OUT_MARKER), "Written by `npm run synth`: the synth replaces resources.json, outputs.json, plan.md and files/ here, nothing else.\n");
}
