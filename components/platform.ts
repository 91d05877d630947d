/**
 * Where the stack runs, by `target`: one Compose host, a k3s cluster on Hetzner, or an existing
 * Kubernetes cluster. STUB: the hosts issue replaces the internals; the public shape stays.
 */
import * as command from "@pulumi/command";
import * as kubernetes from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ArchonConfig } from "../config";
import { Secrets } from "./secrets";

/** How to reach the Compose host over SSH, and where its persistent data lives. */
export interface ComposeHostAccess {
    connection: command.types.input.remote.ConnectionArgs;
    /** Directory on the protected data volume that holds every stateful service's data. */
    dataDir: string;
    /** Directory the Compose project is delivered to. */
    projectDir: string;
}

export interface PlatformArgs {
    config: ArchonConfig;
    secrets: Secrets;
}

export class Platform extends pulumi.ComponentResource {
    /** Provider for every Kubernetes resource (targets k3s and kubernetes). */
    public readonly kubernetesProvider?: kubernetes.Provider;
    /** The Compose host (target compose). */
    public readonly composeHost?: ComposeHostAccess;
    /** Kubeconfig of the cluster (secret); undefined for compose. */
    public readonly kubeconfig?: pulumi.Output<string>;

    constructor(name: string, args: PlatformArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:Platform", name, {}, opts);
        if (args.config.target === "compose") {
            this.composeHost = {
                connection: { host: "compose-host.invalid", user: "deploy" },
                dataDir: "/mnt/data",
                projectDir: "/opt/archon",
            };
        } else {
            this.kubeconfig = args.config.kubeconfigSecret ?? pulumi.secret("apiVersion: v1\nkind: Config\n");
            this.kubernetesProvider = new kubernetes.Provider("cluster", { kubeconfig: this.kubeconfig }, { parent: this });
        }
        this.registerOutputs({});
    }
}
