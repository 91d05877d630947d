/**
 * The four Archon images, built and pushed or referenced by tag. STUB: the registry/images issue
 * replaces the internals; the public shape stays.
 */
import * as pulumi from "@pulumi/pulumi";

export type ArchonImageName = "archon-server" | "archon-mcp" | "archon-ui" | "archon-agents";
export const ARCHON_IMAGES: readonly ArchonImageName[] = ["archon-server", "archon-mcp", "archon-ui", "archon-agents"];

export interface ArchonImagesArgs {
    /** Registry host the images live in, e.g. registry.example.com. */
    registry: pulumi.Input<string>;
    /** Pinned tag (sha-<commit> or a release version). */
    imageTag: string;
}

export class ArchonImages extends pulumi.ComponentResource {
    /** Image reference each workload uses: the digest when built here, else registry/name:tag. */
    public readonly refs: Record<ArchonImageName, pulumi.Output<string>>;

    constructor(name: string, args: ArchonImagesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:ArchonImages", name, {}, opts);
        const ref = (image: ArchonImageName) => pulumi.interpolate`${args.registry}/${image}:${args.imageTag}`;
        this.refs = { "archon-server": ref("archon-server"), "archon-mcp": ref("archon-mcp"), "archon-ui": ref("archon-ui"), "archon-agents": ref("archon-agents") };
        this.registerOutputs({ refs: this.refs });
    }
}
