/**
 * The pinned Archon commit's record (images/archon-source.json; components/registry/archon-source.ts).
 *
 *   npm run archon-source -- record --source <checkout> --ref <branch or tag> --why <text>
 *       writes the record from a clean git checkout of the commit to pin (needs git and python3).
 *   npm run archon-source -- check --source <checkout>
 *       exit 0 when the checkout is the recorded commit, else one line and exit 2.
 *   npm run archon-source -- commit
 *       prints the pinned commit (the image workflow's default ref).
 */
import * as fs from "fs";
import * as path from "path";
import { parseCli, runCli, UsageError } from "./lib/cli";
import { ARCHON_SOURCE_FILE, ArchonSourceError, checkoutMismatch, loadArchonSource, recordArchonSource } from "../components/registry/archon-source";
import { readSourceRevision } from "../components/registry/release";

async function main(): Promise<void> {
    const { values, positionals } = parseCli({
        allowPositionals: true,
        options: {
            source: { type: "string", help: "an Archon git checkout (record, check)" },
            ref: { type: "string", help: "the branch or tag the recorded commit is on (record)" },
            why: { type: "string", help: "why this commit is pinned, kept in the record (record)" },
        },
        help: {
            summary: "Records, checks or prints the pinned Archon commit (images/archon-source.json): record writes it from a clean checkout, check exits 2 unless a checkout is that commit, commit prints it.",
            usage: "npm run archon-source -- record --source <checkout> --ref <branch or tag> --why <text> | check --source <checkout> | commit",
            examples: ["npm run -s archon-source -- commit", "npm run archon-source -- check --source ../Archon"],
        },
    });
    const [command] = positionals;
    const source = () => {
        if (values.source === undefined) throw new UsageError(`${command} needs --source <Archon checkout>`);
        return path.resolve(values.source);
    };
    switch (command) {
        case "record": {
            if (values.ref === undefined || values.why === undefined) throw new UsageError("record needs --source <checkout> --ref <branch or tag> --why <text>");
            const record = recordArchonSource(source(), values.ref, values.why);
            fs.writeFileSync(ARCHON_SOURCE_FILE, JSON.stringify(record, null, 2) + "\n");
            console.log(`${path.relative(process.cwd(), ARCHON_SOURCE_FILE)}: ${record.repository} ${record.commit} (${record.ref})`);
            return;
        }
        case "check": {
            const dir = source();
            const problem = checkoutMismatch(dir, loadArchonSource(), readSourceRevision(dir));
            if (problem) throw new ArchonSourceError(problem);
            console.log(`${dir}: the pinned Archon ${loadArchonSource().commit}`);
            return;
        }
        case "commit":
            console.log(loadArchonSource().commit);
            return;
        default:
            throw new UsageError(`unknown command ${JSON.stringify(command ?? "")}; one of record, check, commit`);
    }
}

runCli(main, [ArchonSourceError]);
