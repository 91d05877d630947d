/**
 * The five Archon images (server, MCP, UI, agents and the migration image archon-migrate): built
 * from the source checkout and pushed when the stack says so, otherwise referenced by their
 * pinned tag in the registry. How each is built is data in build-context.ts.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../../config";
import { RegistryCredentials } from "./registry";
import { ARCHON_BUILDS, ARCHON_IMAGES, ArchonImageName, buildContext, dockerfilePath } from "./build-context";
import { loadArchonSource } from "./archon-source";
import { RecordedDigests, SourceRevision, digestReference, readSourceRevision } from "./release";

export { ARCHON_BUILDS, ARCHON_IMAGES, ArchonImageName } from "./build-context";

export interface ArchonImagesArgs {
    /** The PUSH login and host (Registry.pushCredentials): where a build pushes. */
    registry: RegistryCredentials;
    /** The host workloads pull from (Registry.server): every image reference names it. */
    pullServer: string;
    /** Pinned tag (sha-<commit> or a release version). Tags are immutable: a new build takes a new tag. */
    imageTag: string;
    /** Deploy archon-agents (`enableAgents`); its image is built only then. */
    enableAgents: boolean;
    /** Build and push (`buildImages`). When false, no docker resource is declared at all. */
    build: boolean;
    /** Path to the Archon checkout (`archonSourceDir`); required when building. */
    sourceDir?: string;
    /** CPU architecture of the servers (`config.architecture`; cax types are arm64): the build platform. */
    architecture: "amd64" | "arm64";
    /** An earlier tag whose layers seed the build cache (`previousImageTag`); none by default. */
    cacheFromTag?: string;
    /**
     * The release record of `imageTag` (config `releaseRecord`: `<releasesDir>/<imageTag>.json`,
     * read and checked against {@link pullServer} before any resource exists). When not building,
     * the images are referenced by its digests; without one, by tag.
     */
    record?: RecordedDigests;
    /** Where the release records live (`releasesDir`, default `releases`): named in the warning. */
    releasesDir: string;
    /**
     * Warn when not building and the tag has no release record (production: `environment`
     * production). A deploy by tag alone still works (the committed example tag has no record);
     * the deploy workflow refuses a tag without one.
     */
    warnWithoutRecord: boolean;
    /**
     * What each build-and-push waits for: RegistryReady.ready when pushing to the stack's own
     * registry, which serves only once the stack is up (components/registry/bootstrap.ts). Default none.
     */
    pushAfter?: pulumi.Resource[];
}

/**
 * Builds and pushes the images, or only names them. A rollback sets an older `imageTag` with
 * `buildImages` false: the references change, nothing is rebuilt.
 */
export class ArchonImages extends pulumi.ComponentResource {
    /** Image reference each workload uses: pull host, tag and digest (built here, or recorded), else pull host and tag. */
    public readonly refs: Record<ArchonImageName, pulumi.Output<string>>;
    /** registry/name:tag of every image: known before any push (the first deploy starts the registry from these). */
    public readonly taggedRefs: Record<ArchonImageName, pulumi.Output<string>>;
    /** The images this stack deploys (all five; archon-agents only with enableAgents). */
    public readonly deployed: ArchonImageName[];
    /** {@link refs} of the {@link deployed} images only: what the release record lists. */
    public readonly deployedRefs: Partial<Record<ArchonImageName, pulumi.Output<string>>>;
    /** The build-and-push resources (empty unless building): dependsOn for whatever needs them pushed. */
    public readonly builds: docker.Image[];
    /** Commit of the checkout the images were built from, when it is a git work tree. */
    public readonly source?: SourceRevision;
    /** The release record whose digests the references use (not building, record present). */
    public readonly record?: RecordedDigests;

    constructor(name: string, args: ArchonImagesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:ArchonImages", name, {}, opts);
        this.deployed = ARCHON_IMAGES.filter((image) => image !== "archon-agents" || args.enableAgents);
        const pushRepository = (image: ArchonImageName) => pulumi.interpolate`${args.registry.server}/${image}`;
        const pullRepository = (image: ArchonImageName) => `${args.pullServer}/${image}`;
        const tagged = (image: ArchonImageName) => pulumi.output(`${pullRepository(image)}:${args.imageTag}`);
        const refs = Object.fromEntries(ARCHON_IMAGES.map((image) => [image, tagged(image)])) as Record<ArchonImageName, pulumi.Output<string>>;
        this.taggedRefs = { ...refs };
        this.builds = [];

        if (args.build) {
            const sourceDir = args.sourceDir;
            if (!sourceDir) throw new ConfigError("archon-infra:archonSourceDir = (not set): buildImages is true, so set it to an Archon checkout");
            this.source = checkSource(sourceDir, args.imageTag);
            for (const image of this.deployed) {
                const spec = ARCHON_BUILDS[image];
                const cacheFrom = args.cacheFromTag ? [pulumi.interpolate`${pushRepository(image)}:${args.cacheFromTag}`] : [];
                const built = new docker.Image(image, {
                    imageName: pulumi.interpolate`${pushRepository(image)}:${args.imageTag}`,
                    build: {
                        context: buildContext(image, sourceDir),
                        dockerfile: dockerfilePath(spec, sourceDir),
                        target: spec.target,
                        platform: `linux/${args.architecture}`,
                        builderVersion: "BuilderBuildKit",
                        args: { ...spec.args },
                        cacheFrom: { images: cacheFrom },
                    },
                    registry: { server: args.registry.server, username: args.registry.username, password: args.registry.password },
                }, { parent: this, dependsOn: args.pushAfter ?? [] });
                this.builds.push(built);
                // Pushed at the push host, pulled from the pull host: the same storage, so the same digest.
                refs[image] = built.repoDigest.apply((pushed) => digestReference(pullRepository(image), args.imageTag, pushed.slice(pushed.lastIndexOf("@") + 1)));
            }
        }
        if (!args.build) {
            this.record = args.record;
            if (this.record) {
                const missing: string[] = [];
                for (const image of this.deployed) {
                    const digest = this.record.digests[image];
                    if (digest) refs[image] = pulumi.output(digestReference(pullRepository(image), args.imageTag, digest));
                    else missing.push(image);
                }
                if (missing.length > 0) pulumi.log.warn(`${this.record.file} records no digest for ${missing.join(", ")}: referenced by tag ${args.imageTag} only`, this);
            } else if (args.warnWithoutRecord) {
                pulumi.log.warn(`imageTag ${args.imageTag} has no release record (${args.releasesDir}/${args.imageTag}.json): the Archon images are referenced by tag, not by digest; release through the image workflow, which records the digests`, this);
            }
        }
        this.refs = refs;
        this.deployedRefs = Object.fromEntries(this.deployed.map((image) => [image, refs[image]]));
        this.registerOutputs({ refs: this.refs, sourceCommit: this.source?.commit, releaseRecord: this.record?.file });
    }
}

/**
 * The source commit of the build (a `sha-` tag naming another commit is refused by loadConfig,
 * before any resource). Warns when the commit cannot be read, is not the pinned one, or the work
 * tree has uncommitted changes.
 */
function checkSource(sourceDir: string, imageTag: string): SourceRevision | undefined {
    const source = readSourceRevision(sourceDir);
    if (!source) {
        pulumi.log.warn(`archonSourceDir ${sourceDir} is not a git checkout: the release output cannot record the source commit of ${imageTag}`);
        return undefined;
    }
    const pin = loadArchonSource();
    if (source.commit !== pin.commit) {
        // The image workflow refuses it (npm run image-builds); a developer's own build may try another commit.
        pulumi.log.warn(`archonSourceDir ${sourceDir} is at commit ${source.commit.slice(0, 12)}, not the pinned Archon ${pin.commit.slice(0, 12)} (images/archon-source.json): the commands and probes were checked against the pinned commit only, and the image workflow would refuse this checkout`);
    }
    if (source.dirty) {
        pulumi.log.warn(`archonSourceDir ${sourceDir} has uncommitted changes: ${imageTag} will not match commit ${source.commit.slice(0, 12)}`);
    }
    return source;
}
