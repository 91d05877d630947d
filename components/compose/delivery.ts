/**
 * Delivers a Compose project to the Compose host and brings it up: the non-secret files are
 * rendered into a local directory and copied with CopyToRemote, every secret file is written over
 * SSH from stdin with mode 0600 (never logged, never on the local disk), then
 * `docker compose up -d --wait --remove-orphans` runs again whenever the project's content (files
 * and secrets) changes. Compose recreates exactly the services whose definition changed; each
 * definition carries the hash of its mounted files (components/compose/project.ts), so a changed
 * config file recreates its service and nothing else.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { renderHostScript } from "../hetzner/host-scripts";
import { ComposeHostAccess } from "../hetzner/compose-host";
import { SecretFileAccess } from "./project";

export interface ComposeDeliveryArgs {
    host: ComposeHostAccess;
    /** Project files by path relative to the project directory (docker-compose.yml, configs). Not secret. */
    files: Record<string, pulumi.Input<string>>;
    /** Secret files (env files, htpasswd), written with mode 0600 over SSH. */
    secretFiles: Record<string, pulumi.Input<string>>;
    /** Owner and mode of secret files a container reads (ComposeProjectFiles.secretFileAccess); others stay 0600, the deploy user's. */
    secretFileAccess?: Record<string, SecretFileAccess>;
    /** The first-deploy order (README "First deploy"); unset = one `docker compose up` of everything. */
    startup?: ComposeStartup;
}

/** Resources, or a promise of resources another component creates later (components/registry/bootstrap.ts `DeferredResources`). */
export type LaterResources = pulumi.Resource[] | Promise<pulumi.Resource[]>;

/**
 * How the project starts so that a first deploy never waits on its own registry:
 * `docker compose up --wait` pulls every image before it starts anything, and the Archon images
 * live in the registry this project runs.
 */
export interface ComposeStartup {
    /** Archon's services: started last, and only once their images can be pulled. */
    archonServices: string[];
    /** Every other service of the project: Supabase, registry, monitoring, proxy, certbot. */
    otherServices: string[];
    /** This program pushes the Archon images, so a missing one is an error rather than "pending". */
    archonImagesRequired: boolean;
    /** The Archon image tag, named in the message when the images are missing. */
    imageTag: string;
    /**
     * What every `docker compose up` here waits for: the DNS preflight (components/hetzner/dns.ts).
     * certbot asks Let's Encrypt as soon as it starts, and after a failed attempt it waits an hour.
     */
    certificatesDependOn?: LaterResources;
    /** What the full `docker compose up` waits for besides the delivered files: the image pushes. */
    upDependsOn?: LaterResources;
    /**
     * Started before anything waits on an image push (when this program pushes to the stack's own
     * registry): `services` (proxy, certbot, registry) from `files`, the project rendered with the
     * Archon images' tags instead of the digests the pushes return. The pushes depend on
     * {@link ComposeDelivery.edgeUp}; the project with digests is delivered after them.
     */
    edge?: { services: string[]; files: Record<string, pulumi.Input<string>> };
}

/** SHA-256 over path/content pairs, in path order: the project's identity. */
export function contentHash(files: Record<string, string>): string {
    const hash = crypto.createHash("sha256");
    for (const file of Object.keys(files).sort()) hash.update(`${file}\0${files[file]}\0`);
    return hash.digest("hex");
}

/** Where rendered projects are kept locally: `<tmp>/archon-infra/<project>/<stack>/`. */
export function renderRoot(project: string, stack: string): string {
    return path.join(os.tmpdir(), "archon-infra", project, stack);
}

/** True when `dir` holds exactly `files`, byte for byte. */
function holdsExactly(dir: string, files: Record<string, string>): boolean {
    if (!fs.existsSync(dir)) return false;
    const present = fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile())
        .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join("/"));
    if (present.length !== Object.keys(files).length) return false;
    return present.every((file) => file in files && fs.readFileSync(path.join(dir, file), "utf8") === files[file]);
}

/**
 * Writes `files` to `<root>/compose-project-<hash>/` and returns that directory WITH a trailing
 * slash: pulumi-command's CopyToRemote accepts only a path-based archive ("archive must be a path to
 * a file or directory", provider/pkg/provider/remote/copy.go at v1.2.x) and copies the CONTENTS of a
 * source directory ending in `/` into an existing remotePath (without the slash it would create
 * `<remotePath>/compose-project-<hash>`). The directory is named by the content hash, so it is
 * deterministic (the same project gives the same path and inputs on every machine with the same
 * tmp directory, so a re-run diffs nothing), a concurrent run or a synth never rewrites the files a
 * deployment is about to copy, and it is written on every run (`pulumi preview` on a fresh CI clone
 * and the offline synth included) before CopyToRemote is registered. Written to a sibling
 * temporary directory and renamed into place; an existing directory is kept only when it holds
 * exactly these files (tmp cleaners may have pruned it).
 */
export function writeProjectDirectory(root: string, files: Record<string, string>): string {
    const dir = path.join(root, `compose-project-${contentHash(files).slice(0, 32)}`);
    if (!holdsExactly(dir, files)) {
        fs.mkdirSync(root, { recursive: true });
        const staging = fs.mkdtempSync(path.join(root, ".writing-"));
        for (const [file, text] of Object.entries(files)) {
            if (path.isAbsolute(file) || file.split("/").includes("..")) throw new Error(`project file ${file} must be a relative path inside the project`);
            fs.mkdirSync(path.dirname(path.join(staging, file)), { recursive: true });
            fs.writeFileSync(path.join(staging, file), text);
        }
        fs.rmSync(dir, { recursive: true, force: true });
        fs.renameSync(staging, dir);
    }
    return `${dir}/`;
}

/** A resource name for a project path (stable: renaming a file renames its resource). */
function resourceNameOf(file: string): string {
    return file.replace(/[^A-Za-z0-9.-]+/g, "-");
}

/** `explicit` followed by the resources `later` resolves to, as one dependsOn. */
function dependsOnAll(explicit: pulumi.Resource[], later: (LaterResources | undefined)[]): Promise<pulumi.Resource[]> {
    return Promise.all(later.map((l) => l ?? [])).then((lists) => [...explicit, ...lists.flat()]);
}

export class ComposeDelivery extends pulumi.ComponentResource {
    /** Hash of the delivered project (secret: it covers the secret files too). */
    public readonly projectHash: pulumi.Output<string>;
    /** The step that started {@link ComposeStartup.edge}'s services (proxy, certbot, registry), when there is one. */
    public readonly edgeUp?: pulumi.Resource;
    /** The final `docker compose up`. */
    public readonly up: pulumi.Resource;

    constructor(name: string, args: ComposeDeliveryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:ComposeDelivery", name, {}, opts);
        const root = renderRoot(pulumi.getProject(), pulumi.getStack());
        const startup = args.startup;
        const secretWrites = Object.entries(args.secretFiles).map(([file, content]) => {
            const secretContent = pulumi.secret(content);
            return new command.remote.Command(`secret-${resourceNameOf(file)}`, {
                connection: args.host.connection,
                create: renderHostScript(["write-secret-file"], {
                    PROJECT_DIR: args.host.projectDir,
                    SECRET_FILE: file,
                    ...(args.secretFileAccess?.[file]?.owner ? { SECRET_FILE_OWNER: args.secretFileAccess[file].owner } : {}),
                    ...(args.secretFileAccess?.[file] ? { SECRET_FILE_MODE: args.secretFileAccess[file].mode } : {}),
                }),
                stdin: secretContent,
                logging: "none",
                triggers: [pulumi.secret(secretContent.apply((text) => contentHash({ [file]: text }))), args.host.serverId],
            }, { parent: this, additionalSecretOutputs: ["stdin", "stdout", "stderr"] });
        });

        const secretsHash = pulumi.output(args.secretFiles).apply((all) => contentHash(all as Record<string, string>));
        const deliver = (resourceName: string, projectFiles: Record<string, pulumi.Input<string>>, dependsOn: pulumi.Resource[]) => {
            const files = pulumi.output(projectFiles) as pulumi.Output<Record<string, string>>;
            const filesHash = files.apply(contentHash);
            const archive = files.apply((all) => new pulumi.asset.FileArchive(writeProjectDirectory(root, all)));
            const copy = new command.remote.CopyToRemote(resourceName, {
                connection: args.host.connection,
                source: archive,
                remotePath: args.host.projectDir,
                // The server too: a replaced server has no project, and CopyToRemote re-runs only
                // when its triggers change (pulumi-command 1.2.1), never because the host is new.
                triggers: [filesHash, args.host.serverId],
            }, { parent: this, dependsOn });
            return { copy, hash: pulumi.secret(pulumi.all([filesHash, secretsHash]).apply(([f, s]) => contentHash({ files: f, secrets: s }))) };
        };

        // The proxy, certbot and the registry first, from the project with image tags: the pushes
        // wait for them (components/registry/bootstrap.ts), and the project with the pushed digests
        // is delivered after that step, so the two copies never race.
        if (startup?.edge) {
            const edge = deliver("edge-project", startup.edge.files, []);
            this.edgeUp = new command.remote.Command("compose-up-edge", {
                connection: args.host.connection,
                create: renderHostScript(["compose-up"], { PROJECT_DIR: args.host.projectDir, START_ONLY: startup.edge.services.join(" ") }),
                logging: "stdoutAndStderr",
                triggers: [edge.hash, args.host.serverId],
            }, { parent: this, dependsOn: dependsOnAll([edge.copy, ...secretWrites], [startup.certificatesDependOn]) });
        }
        const project = deliver("project", args.files, this.edgeUp ? [this.edgeUp] : []);
        this.projectHash = project.hash;
        const upParameters: Record<string, string> = startup
            ? {
                PROJECT_DIR: args.host.projectDir,
                ARCHON_SERVICES: startup.archonServices.join(" "),
                OTHER_SERVICES: startup.otherServices.join(" "),
                ARCHON_IMAGES_REQUIRED: startup.archonImagesRequired ? "1" : "0",
                IMAGE_TAG: startup.imageTag,
            }
            : { PROJECT_DIR: args.host.projectDir };
        this.up = new command.remote.Command("compose-up", {
            connection: args.host.connection,
            create: renderHostScript(["compose-up"], upParameters),
            logging: "stdoutAndStderr",
            triggers: [this.projectHash, args.host.serverId],
        }, { parent: this, dependsOn: dependsOnAll([project.copy, ...secretWrites], [startup?.certificatesDependOn, startup?.upDependsOn]) });
        this.registerOutputs({ projectHash: this.projectHash });
    }
}
