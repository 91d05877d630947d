/**
 * Text files inside a resource's inputs (asset archives, e.g. the Compose project a CopyToRemote
 * delivers). The offline check sees them as `{"$archive": {path: {"$asset": {text}}}}` (the synth's
 * JSON); the Pulumi CLI hands the policy `pulumi.asset.AssetArchive` / `StringAsset` objects.
 */
import * as pulumi from "@pulumi/pulumi";
import { Props, record } from "./context";

/** Every text file found in `value`, by its path inside the archive. */
export async function archivedTextFiles(value: unknown, prefix = ""): Promise<Record<string, string>> {
    const found: Record<string, string> = {};
    const join = (entry: string) => (prefix ? `${prefix}/${entry}` : entry);
    if (pulumi.asset.Archive.isInstance(value) && "assets" in value) {
        for (const [entry, asset] of Object.entries(await (value as pulumi.asset.AssetArchive).assets)) Object.assign(found, await archivedTextFiles(asset, join(entry)));
    } else if (pulumi.asset.Asset.isInstance(value) && "text" in value) {
        found[prefix || "asset"] = await (value as pulumi.asset.StringAsset).text;
    } else if (Array.isArray(value)) {
        for (const item of value) Object.assign(found, await archivedTextFiles(item, prefix));
    } else if (value !== null && typeof value === "object") {
        const object = value as Props;
        if (object.$archive !== undefined) {
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

/** A Compose file by its name: compose.yaml, docker-compose.yml, docker-compose.prod.yaml... */
export function isComposeFile(file: string): boolean {
    return /(^|\/)(docker-)?compose(\.[\w-]+)?\.ya?ml$/.test(file);
}
