/**
 * Turns `pulumi stack history --json` into a release log: when, who, which image tag, what kind of
 * change (release, rollback, redeploy) and how it ended. The JSON is the CLI's `updateInfoJSON`
 * list (pulumi/pulumi pkg/cmd/pulumi/stack/stack_history.go), newest first: version, kind,
 * startTime, endTime, message, environment (git.* and ci.* keys), config (`{value?, objectValue?,
 * secret}` per key), result, resourceChanges. `version` is always written, and is 0 on the DIY
 * backends (S3, file://): their UpdateInfo has no version (pkg/backend/diy/backend.go builds it
 * without one), so 0 means "none", not update #0. `environment` is a Go map: null when empty.
 */
import { z } from "zod";

const configValue = z.object({ value: z.string().optional(), objectValue: z.unknown().optional(), secret: z.boolean() });

const updateInfo = z.object({
    version: z.number().int().optional(),
    kind: z.string(),
    startTime: z.string(),
    endTime: z.string().optional(),
    message: z.string().optional().default(""),
    environment: z.record(z.string(), z.string()).nullable().optional().transform((e) => e ?? {}),
    config: z.record(z.string(), configValue).optional().default({}),
    result: z.string().optional().default("in-progress"),
    resourceChanges: z.record(z.string(), z.number()).optional(),
});

export const stackHistorySchema = z.array(updateInfo);
export type StackHistoryEntry = z.infer<typeof updateInfo>;

export interface ReleaseLogEntry {
    /** The backend's update number; absent on the DIY backends (S3, file://), which number nothing. */
    version?: number;
    /** ISO 8601, UTC. */
    when: string;
    /** Git author of the program's HEAD (name <email>), else the committer, else "unknown". */
    who: string;
    imageTag?: string;
    /** `release` (a tag never deployed before), `rollback` (back to a tag that deployed before), `redeploy` (the tag of the update before). */
    change: "release" | "rollback" | "redeploy";
    result: string;
    /** Commit of the infrastructure program (git.head). */
    programCommit?: string;
    message: string;
    /** The CI run that made the update (the CLI records `ci.build.url`); its page shows the approval. */
    run?: string;
    /** Who approved a CI deploy, as the deploy workflow writes it into the update message ("approved by @a, @b"); absent when nobody did. */
    approvedBy?: string;
    resourceChanges: Record<string, number>;
}

/**
 * The deploy workflow writes "approved by @<login>[, @<login>]" into the update's message, or "no
 * approval required". Earlier runs wrote "approved by nobody (no reviewers required)": nobody
 * approved those, whatever the word looks like (a GitHub login may be `nobody`, hence the `@`).
 */
function approvers(message: string): string | undefined {
    const match = /approved by (@?[\w-]+(?:, ?@?[\w-]+)*)( \(no reviewers required\))?/.exec(message);
    if (!match || match[2]) return undefined;
    return match[1].split(/, ?/).map((login) => login.replace(/^@/, "")).join(", ");
}

/** JSON that is not `pulumi stack history --json` output: what is wrong, and where. */
export class StackHistoryError extends Error {}

/** The history's entries, or a StackHistoryError naming the first entry and key that do not fit. */
function readStackHistory(json: unknown): z.infer<typeof stackHistorySchema> {
    const parsed = stackHistorySchema.safeParse(json, {
        error: (issue) => (issue.code === "invalid_type" ? (issue.input === undefined ? "is missing" : `is not ${issue.expected === "array" ? "a list" : issue.expected === "object" ? "an object" : `a ${issue.expected}`}`) : undefined),
    });
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    const [entry, ...key] = issue.path.map(String);
    throw new StackHistoryError(entry === undefined ? `${issue.message.replace(/^is not a list$/, "is not a list of updates")}` : `entry ${entry}${key.length > 0 ? `, ${key.join(".")},` : ""} ${issue.message}`);
}

/**
 * Parses Go's time rendering (`2024-05-02 10:15:00 +0000 UTC`, older CLIs) and RFC 3339 (newer ones).
 */
export function parseHistoryTime(text: string): Date {
    const go = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?) ([+-]\d{2})(\d{2})(?: \S+)?$/.exec(text);
    const date = new Date(go ? `${go[1]}T${go[2]}${go[3]}:${go[4]}` : text);
    if (Number.isNaN(date.getTime())) throw new StackHistoryError(`unreadable time in stack history: ${JSON.stringify(text)}`);
    return date;
}

function who(environment: Record<string, string>): string {
    const person = (name?: string, email?: string) => (name ? (email ? `${name} <${email}>` : name) : undefined);
    return person(environment["git.author"], environment["git.author.email"])
        ?? person(environment["git.committer"], environment["git.committer.email"])
        ?? "unknown";
}

/**
 * The release log, oldest first, of the `update` entries (previews, refreshes and destroys are not
 * releases). `project` qualifies the imageTag key (`<project>:imageTag`).
 */
export function releaseLog(historyJson: unknown, project: string): ReleaseLogEntry[] {
    const history = readStackHistory(historyJson);
    const updates = history.filter((h) => h.kind === "update").sort((a, b) => parseHistoryTime(a.startTime).getTime() - parseHistoryTime(b.startTime).getTime());
    // A tag that once deployed successfully, named again after another tag was tried, is a rollback.
    const deployed = new Set<string>();
    let previous: string | undefined;
    return updates.map((update) => {
        const imageTag = update.config[`${project}:imageTag`]?.value;
        const change = imageTag === undefined || imageTag === previous ? "redeploy" : deployed.has(imageTag) ? "rollback" : "release";
        previous = imageTag ?? previous;
        if (imageTag !== undefined && update.result === "succeeded") deployed.add(imageTag);
        return {
            version: update.version !== undefined && update.version > 0 ? update.version : undefined,
            when: parseHistoryTime(update.startTime).toISOString(),
            who: who(update.environment),
            imageTag,
            change,
            result: update.result,
            programCommit: update.environment["git.head"],
            message: update.message,
            run: update.environment["ci.build.url"],
            approvedBy: approvers(update.message),
            resourceChanges: update.resourceChanges ?? {},
        };
    });
}

/** One line per entry, for a terminal. */
export function formatReleaseLog(entries: ReleaseLogEntry[]): string {
    const rows = entries.map((e) => [
        e.version === undefined ? "" : `#${e.version}`,
        e.when.replace(".000Z", "Z"),
        e.change,
        e.imageTag ?? "-",
        e.result,
        e.who,
        e.programCommit ? e.programCommit.slice(0, 12) : "",
        e.approvedBy ?? "",
        e.run ?? "",
    ]);
    const header = ["version", "when", "change", "imageTag", "result", "who", "program", "approved by", "run"];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    return [header, ...rows].map((r) => r.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd()).join("\n") + "\n";
}
