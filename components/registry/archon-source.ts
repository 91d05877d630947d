/**
 * The one Archon commit this program builds, and the facts recorded from its source
 * (images/archon-source.json): the commit, why it is the one, digests of its lock files, what
 * the Python modules the services run define, what Archon's own Dockerfiles say, and which
 * migration files the runner applies. The record is made by `npm run archon-source -- record`
 * from a checkout of the commit; CI needs no checkout to test against it, and the image build
 * refuses a checkout at any other commit (verifyArchonCheckout).
 */
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { z } from "zod";
import { INFRA_ROOT } from "./build-context";
import { ARCHON_COMMANDS, entryPointOf, moduleFile } from "../services/archon-commands";

/** Where the record lives in this repository. */
export const ARCHON_SOURCE_FILE = path.join(INFRA_ROOT, "images", "archon-source.json");
/** How the record is made again (after moving the pin): the command, run from this repository. */
export const RECORD_RECIPE = "git -C <checkout> checkout <commit> && npm run archon-source -- record --source <checkout> --ref <ref> --why <text>";

const moduleFactsSchema = z.object({
    /** Names the module binds at its top level (functions, classes, assignments, imports). */
    names: z.array(z.string()),
    /** It has an `if __name__ == "__main__"` block (it runs as `python -m`). */
    runsAsMain: z.boolean(),
    /** HTTP routes it declares, `METHOD /path`. */
    routes: z.array(z.string()),
});
export type ModuleFacts = z.infer<typeof moduleFactsSchema>;

const dockerfileFactsSchema = z.object({
    /** The final stage's CMD as written (shell or JSON form), or null. */
    cmd: z.string().nullable(),
    /** The final stage's USER, or null (root). */
    user: z.string().nullable(),
});

export const archonSourceSchema = z.object({
    repository: z.literal("coleam00/Archon"),
    /** The branch or tag the commit was taken from (for people; the commit is what counts). */
    ref: z.string().min(1),
    commit: z.string().regex(/^[0-9a-f]{40}$/),
    /** Commit date (ISO 8601). */
    committed: z.string().min(1),
    /** Why this commit and not another. */
    why: z.string().min(1),
    /** How the record is made again. */
    recipe: z.string().min(1),
    /** `sha256:<hex>` of the files that decide what is installed, by path in the checkout. */
    files: z.record(z.string(), z.string().regex(/^sha256:[0-9a-f]{64}$/)),
    /** Facts of the Python modules the services run, by path relative to python/ (null: the file does not exist). */
    pythonModules: z.record(z.string(), moduleFactsSchema.nullable()),
    /** Archon's own Dockerfiles (this program does not build with them; recorded to show what their images would run). */
    archonDockerfiles: z.record(z.string(), dockerfileFactsSchema),
    migrations: z.object({
        /** What archon-migrate applies: complete_setup.sql, then <version>/<name>.sql in order. */
        applied: z.array(z.string()),
        /** Of those, the files that carry their own BEGIN;/COMMIT; lines. */
        ownTransaction: z.array(z.string()),
    }),
});
export type ArchonSourceRecord = z.infer<typeof archonSourceSchema>;

/** The files whose digests the record keeps: the Python lock and its project, the UI's lock. */
export const LOCKED_FILES = ["python/pyproject.toml", "python/uv.lock", "archon-ui-main/package.json", "archon-ui-main/package-lock.json"];

export class ArchonSourceError extends Error {}

/** The record, validated. */
export function loadArchonSource(file = ARCHON_SOURCE_FILE): ArchonSourceRecord {
    const parsed = archonSourceSchema.safeParse(JSON.parse(fs.readFileSync(file, "utf8")));
    if (!parsed.success) throw new ArchonSourceError(`${path.relative(INFRA_ROOT, file)} is not an Archon source record: ${parsed.error.issues[0].path.join(".")} ${parsed.error.issues[0].message}`);
    return parsed.data;
}

function sha256File(file: string): string {
    return `sha256:${crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex")}`;
}

/**
 * Facts of Python modules (paths relative to `root`) read with Python's own parser
 * (python-module-facts.py; needs python3, imports and runs nothing of Archon's).
 */
export function pythonModuleFacts(root: string, files: string[]): Record<string, ModuleFacts | null> {
    const script = path.join(__dirname, "python-module-facts.py");
    const out = execFileSync("python3", [script, root, ...files], { encoding: "utf8" });
    return z.record(z.string(), moduleFactsSchema.nullable()).parse(JSON.parse(out));
}

/** One Dockerfile instruction: its keyword (upper case) and the rest of its (joined) line. */
export interface DockerInstruction {
    keyword: string;
    args: string;
}

/** Instructions of a Dockerfile, continuation lines joined, comments dropped. */
export function dockerInstructions(text: string): DockerInstruction[] {
    const out: DockerInstruction[] = [];
    let pending = "";
    for (const raw of text.split("\n")) {
        const line = raw.trimEnd();
        if (pending === "" && /^\s*(#|$)/.test(line)) continue;
        if (pending !== "" && /^\s*#/.test(line)) continue;
        if (line.endsWith("\\")) {
            pending += `${line.slice(0, -1)} `;
            continue;
        }
        const full = (pending + line).trim();
        pending = "";
        const match = /^(\S+)\s*(.*)$/.exec(full);
        if (match) out.push({ keyword: match[1].toUpperCase(), args: match[2] });
    }
    return out;
}

/** The instructions of one stage (`FROM ... AS <name>`), or of the last stage. */
export function stageInstructions(text: string, stage?: string): DockerInstruction[] {
    const all = dockerInstructions(text);
    const starts = all.map((ins, i) => (ins.keyword === "FROM" ? i : -1)).filter((i) => i >= 0);
    const index = stage === undefined
        ? starts.length - 1
        : starts.findIndex((i) => new RegExp(`\\s+AS\\s+${stage}$`, "i").test(all[i].args));
    if (index < 0) throw new ArchonSourceError(`no stage ${stage}`);
    return all.slice(starts[index], starts[index + 1] ?? all.length);
}

/**
 * A CMD/ENTRYPOINT argument as the argv Docker runs: JSON (exec form) as is, anything else
 * (shell form) as `/bin/sh -c <text>`, as the Dockerfile reference defines the two forms.
 */
export function commandArgv(args: string): string[] {
    if (args.startsWith("[")) {
        try {
            const parsed: unknown = JSON.parse(args);
            if (Array.isArray(parsed) && parsed.every((a) => typeof a === "string")) return parsed;
        } catch {
            // not JSON: shell form
        }
    }
    return ["/bin/sh", "-c", args];
}

function dockerfileFacts(text: string): z.infer<typeof dockerfileFactsSchema> {
    const last = stageInstructions(text);
    const lastOf = (keyword: string) => [...last].reverse().find((i) => i.keyword === keyword)?.args ?? null;
    return { cmd: lastOf("CMD"), user: lastOf("USER") };
}

/**
 * Every module a command of ours or an Archon Dockerfile's CMD names (the latter through its shell
 * text when in shell form), relative to python/.
 */
function namedModules(dockerfiles: Record<string, z.infer<typeof dockerfileFactsSchema>>): string[] {
    const commands: string[][] = [...Object.values(ARCHON_COMMANDS).map((c) => [...c])];
    for (const facts of Object.values(dockerfiles)) {
        if (facts.cmd === null) continue;
        const argv = commandArgv(facts.cmd);
        commands.push(argv[0] === "/bin/sh" ? shellWords(argv[2]) : argv);
    }
    const modules = new Set<string>();
    for (const command of commands) {
        const inner = command[0] === "sh" && command[1] === "-c" ? shellWords(command[2] ?? "") : command;
        const entry = entryPointOf(inner);
        if (typeof entry !== "string") modules.add(moduleFile(entry.module));
    }
    return [...modules].sort();
}

/** Words of a simple shell command line (quotes removed; no expansion): enough to read a CMD's target. */
export function shellWords(text: string): string[] {
    return (text.match(/"[^"]*"|'[^']*'|\S+/g) ?? []).map((w) => w.replace(/^["']|["']$/g, ""));
}

/** Migration files of a checkout's migration/ as archon-migrate applies them, and those with their own transaction. */
function migrationFacts(checkout: string): ArchonSourceRecord["migrations"] {
    const dir = path.join(checkout, "migration");
    const versioned = fs.readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory() && /^\d+\.\d+\.\d+$/.test(e.name))
        .sort((a, b) => a.name.split(".").map(Number).reduce((acc, n, i) => acc || n - b.name.split(".").map(Number)[i], 0))
        .flatMap((v) => fs.readdirSync(path.join(dir, v.name)).filter((f) => f.endsWith(".sql")).sort().map((f) => `${v.name}/${f}`));
    const applied = ["complete_setup.sql", ...versioned];
    const ownTransaction = applied.filter((f) => /^\s*(BEGIN|COMMIT)\s*;\s*$/im.test(fs.readFileSync(path.join(dir, f), "utf8")));
    return { applied, ownTransaction };
}

/** The record of the checkout at `checkout` (a git work tree at the commit to pin). */
export function recordArchonSource(checkout: string, ref: string, why: string): ArchonSourceRecord {
    const git = (...args: string[]) => execFileSync("git", ["-C", checkout, ...args], { encoding: "utf8" }).trim();
    if (git("status", "--porcelain", "--untracked-files=no") !== "") throw new ArchonSourceError(`${checkout} has uncommitted changes: record a clean checkout`);
    const archonDockerfiles = Object.fromEntries(["python/Dockerfile.server", "python/Dockerfile.mcp", "python/Dockerfile.agents"]
        .map((f) => [f, dockerfileFacts(fs.readFileSync(path.join(checkout, f), "utf8"))]));
    return archonSourceSchema.parse({
        repository: "coleam00/Archon",
        ref,
        commit: git("rev-parse", "HEAD"),
        committed: git("log", "-1", "--format=%cI"),
        why,
        recipe: RECORD_RECIPE,
        files: Object.fromEntries(LOCKED_FILES.map((f) => [f, sha256File(path.join(checkout, f))])),
        pythonModules: pythonModuleFacts(path.join(checkout, "python"), namedModules(archonDockerfiles)),
        archonDockerfiles,
        migrations: migrationFacts(checkout),
    });
}

/**
 * Why the checkout at `checkout` is not the recorded commit, or undefined when it is: a git work
 * tree at another commit, with uncommitted changes, or with lock files that differ from the record.
 * A directory that is not a git work tree is refused too: nothing would say which commit it is.
 */
export function checkoutMismatch(checkout: string, record: ArchonSourceRecord, revision: { commit: string; dirty: boolean } | undefined): string | undefined {
    if (!revision) return `${checkout} is not a git checkout, so nothing proves it is Archon ${record.commit.slice(0, 12)}; check out ${record.repository} at ${record.commit}`;
    if (revision.commit !== record.commit) {
        return `${checkout} is at commit ${revision.commit.slice(0, 12)}, not the pinned Archon ${record.commit.slice(0, 12)} (${record.ref}, images/archon-source.json); check out ${record.commit}, or move the pin (${record.recipe})`;
    }
    if (revision.dirty) return `${checkout} has uncommitted changes to Archon ${record.commit.slice(0, 12)}: the images would not be that commit`;
    for (const [file, digest] of Object.entries(record.files)) {
        const actual = fs.existsSync(path.join(checkout, file)) ? sha256File(path.join(checkout, file)) : "missing";
        if (actual !== digest) return `${checkout}/${file} is ${actual}, the record says ${digest}: record the pin again (${record.recipe})`;
    }
    return undefined;
}
