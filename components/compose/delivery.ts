/**
 * Delivers a Compose project to the Compose host and brings it up: the non-secret files are copied
 * with CopyToRemote, every secret file is written over SSH from stdin with mode 0600 (never logged,
 * never in an archive), then `docker compose up -d --wait --remove-orphans` runs again whenever the
 * project's content (files and secrets) changes, followed by a reload of the proxy.
 */
import * as crypto from "crypto";
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
    /**
     * The project's nginx service, sent SIGHUP after every `up` so it re-resolves the containers
     * that `up` recreated (nginx keeps the IPs it resolved at load). Unset: no reload.
     */
    proxyService?: string;
}

/** SHA-256 over path/content pairs, in path order: the project's identity. */
export function contentHash(files: Record<string, string>): string {
    const hash = crypto.createHash("sha256");
    for (const file of Object.keys(files).sort()) hash.update(`${file}\0${files[file]}\0`);
    return hash.digest("hex");
}

/** A resource name for a project path (stable: renaming a file renames its resource). */
function resourceNameOf(file: string): string {
    return file.replace(/[^A-Za-z0-9.-]+/g, "-");
}

export class ComposeDelivery extends pulumi.ComponentResource {
    /** Hash of the delivered project (secret: it covers the secret files too). */
    public readonly projectHash: pulumi.Output<string>;

    constructor(name: string, args: ComposeDeliveryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:ComposeDelivery", name, {}, opts);
        const files = pulumi.output(args.files) as pulumi.Output<Record<string, string>>;
        const filesHash = files.apply(contentHash);
        const archive = files.apply((all) =>
            new pulumi.asset.AssetArchive(Object.fromEntries(Object.entries(all).map(([p, text]) => [p, new pulumi.asset.StringAsset(text)]))));
        const copy = new command.remote.CopyToRemote("project", {
            connection: args.host.connection,
            source: archive,
            remotePath: args.host.projectDir,
            triggers: [filesHash],
        }, { parent: this });

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
                triggers: [pulumi.secret(secretContent.apply((text) => contentHash({ [file]: text })))],
            }, { parent: this, additionalSecretOutputs: ["stdin", "stdout", "stderr"] });
        });

        const secretsHash = pulumi.output(args.secretFiles).apply((all) => contentHash(all as Record<string, string>));
        this.projectHash = pulumi.secret(pulumi.all([filesHash, secretsHash]).apply(([f, s]) => contentHash({ files: f, secrets: s })));
        new command.remote.Command("compose-up", {
            connection: args.host.connection,
            create: renderHostScript(["compose-up"], { PROJECT_DIR: args.host.projectDir, ...(args.proxyService ? { PROXY_SERVICE: args.proxyService } : {}) }),
            logging: "stdoutAndStderr",
            triggers: [this.projectHash],
        }, { parent: this, dependsOn: [copy, ...secretWrites] });
        this.registerOutputs({ projectHash: this.projectHash });
    }
}
