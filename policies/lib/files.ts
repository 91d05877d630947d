/**
 * Text files inside a resource's inputs (asset archives, e.g. the Compose project a CopyToRemote
 * delivers). The offline check sees them as `{"$archive": {path: {"$asset": {text}}}}` (the synth's
 * JSON); the Pulumi CLI hands the policy `pulumi.asset.AssetArchive` / `StringAsset` objects. A
 * path-based archive or asset (`FileArchive` / `FileAsset`, `{"$archive": {"path": dir}}`: what
 * pulumi-command's CopyToRemote requires) is read from disk, where the program rendered it.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { Props, record } from "./context";

/** Every text file found in `value`, by its path inside the archive. */
export async function archivedTextFiles(value: unknown, prefix = ""): Promise<Record<string, string>> {
    const found: Record<string, string> = {};
    const join = (entry: string) => (prefix ? `${prefix}/${entry}` : entry);
    const pathOf = (v: unknown): string | undefined => {
        const p = v !== null && typeof v === "object" ? (v as { path?: unknown }).path : undefined;
        return typeof p === "string" ? p : undefined;
    };
    if ((pulumi.asset.Archive.isInstance(value) || pulumi.asset.Asset.isInstance(value)) && "path" in value) {
        const p = await (value as pulumi.asset.FileArchive).path;
        Object.assign(found, filesAtPath(p, prefix));
    } else if (pulumi.asset.Archive.isInstance(value) && "assets" in value) {
        for (const [entry, asset] of Object.entries(await (value as pulumi.asset.AssetArchive).assets)) Object.assign(found, await archivedTextFiles(asset, join(entry)));
    } else if (pulumi.asset.Asset.isInstance(value) && "text" in value) {
        found[prefix || "asset"] = await (value as pulumi.asset.StringAsset).text;
    } else if (Array.isArray(value)) {
        for (const item of value) Object.assign(found, await archivedTextFiles(item, prefix));
    } else if (value !== null && typeof value === "object") {
        const object = value as Props;
        const pathArchive = pathOf(object.$archive) ?? pathOf(object.$asset);
        if (pathArchive !== undefined) {
            Object.assign(found, filesAtPath(pathArchive, prefix));
        } else if (object.$archive !== undefined) {
            for (const [entry, asset] of Object.entries(record(object.$archive))) Object.assign(found, await archivedTextFiles(asset, join(entry)));
        } else if (object.$asset !== undefined) {
            const text = record(object.$asset).text;
            if (typeof text === "string") found[prefix || "asset"] = text;
        } else {
            for (const item of Object.values(object)) Object.assign(found, await archivedTextFiles(item, prefix));
        }
    }
    return found;
}

/**
 * A path-based archive or asset whose files are not on disk: the check cannot see what would be
 * deployed, so it fails (closed) instead of passing an empty project.
 */
export class MissingRenderedFilesError extends Error {
    constructor(public readonly location: string, fix = "render them again (npm run synth -- --stack <stack> --out <dir>) and check that output") {
        super(`the rendered files at ${location} are missing, so the check cannot see what they deploy; ${fix}`);
    }
}

/** The text files at `location` (a file, or every file under a directory), by path relative to it; throws when it is gone. */
export function filesAtPath(location: string, prefix = ""): Record<string, string> {
    const found: Record<string, string> = {};
    if (!fs.existsSync(location)) throw new MissingRenderedFilesError(location);
    if (!fs.statSync(location).isDirectory()) {
        found[prefix || path.basename(location)] = fs.readFileSync(location, "utf8");
        return found;
    }
    for (const entry of fs.readdirSync(location, { recursive: true, withFileTypes: true })) {
        if (!entry.isFile()) continue;
        const relative = path.relative(location, path.join(entry.parentPath, entry.name)).split(path.sep).join("/");
        found[prefix ? `${prefix}/${relative}` : relative] = fs.readFileSync(path.join(entry.parentPath, entry.name), "utf8");
    }
    return found;
}

/** A Compose file by its name: compose.yaml, docker-compose.yml, docker-compose.prod.yaml... */
export function isComposeFile(file: string): boolean {
    return /(^|\/)(docker-)?compose(\.[\w-]+)?\.ya?ml$/.test(file);
}

/** A Compose file found in a resource's inputs, with what Compose reads beside it. */
export interface ComposeProject {
    /** Its path inside the archive. */
    file: string;
    composeText: string;
    /** Where it runs on the host: the CopyToRemote's `remotePath` (relative bind sources resolve there). */
    projectDir?: string;
    /** The `.env` beside it (Compose's interpolation variables), if the archive carries one. */
    dotenv?: string;
    /** Every text file of the archive, by path. */
    files: Record<string, string>;
}

/** Every Compose project in a resource's inputs (see {@link archivedTextFiles}). */
export async function composeProjects(props: Props): Promise<ComposeProject[]> {
    const files = await archivedTextFiles(props);
    const remotePath = typeof props.remotePath === "string" ? props.remotePath : undefined;
    return Object.entries(files).filter(([file]) => isComposeFile(file)).map(([file, composeText]) => {
        const dir = file.includes("/") ? file.slice(0, file.lastIndexOf("/") + 1) : "";
        return { file, composeText, projectDir: remotePath, dotenv: files[`${dir}.env`], files };
    });
}
