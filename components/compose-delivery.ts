/**
 * Delivers a Compose project directory to the Compose host and brings it up. STUB: the hosts issue
 * replaces the internals; the public shape stays.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { ComposeHostAccess } from "./platform";

export interface ComposeDeliveryArgs {
    host: ComposeHostAccess;
    /** Project files by path relative to the project directory (docker-compose.yml, configs). Not secret. */
    files: Record<string, pulumi.Input<string>>;
    /** Secret files (env files, htpasswd), written with mode 0600 over SSH. */
    secretFiles: Record<string, pulumi.Input<string>>;
}

export class ComposeDelivery extends pulumi.ComponentResource {
    constructor(name: string, args: ComposeDeliveryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:ComposeDelivery", name, {}, opts);
        const archive = pulumi.all(args.files).apply((files) =>
            new pulumi.asset.AssetArchive(Object.fromEntries(Object.entries(files).map(([p, text]) => [p, new pulumi.asset.StringAsset(text)]))));
        new command.remote.CopyToRemote("project", { connection: args.host.connection, source: archive, remotePath: args.host.projectDir }, { parent: this });
        this.registerOutputs({});
    }
}
