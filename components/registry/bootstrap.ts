/**
 * The first deploy's order around the stack's own registry (README "First deploy"): the registry
 * must serve at `https://registry.<domain>` (DNS, ingress, certificate) before anything pushes to
 * it, and the Archon workloads must not wait on images that nothing has pushed yet (nor roll to
 * images a promotion did not copy). Two local steps,
 * run by Pulumi on the machine that runs `pulumi up` (scripts/registry-probe.js with `node -e`):
 * {@link RegistryReady} gates the image pushes, {@link ArchonImagesPresence} tells the Kubernetes
 * workloads whether their images exist.
 */
import * as fs from "fs";
import * as path from "path";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { RegistryCredentials } from "./registry";

/** The probe's source; it runs as `node -e <source>`, so its text is part of the step's inputs. */
export const REGISTRY_PROBE_SCRIPT = fs.readFileSync(path.join(__dirname, "scripts", "registry-probe.js"), "utf8");

/**
 * Resources another component creates later, as a promise that a `dependsOn` accepts now. Needed
 * where the order crosses components: the pushes are declared before the workloads (which read
 * their digests) but must wait for the registry that the workloads deploy. Always resolve it
 * (with `[]` when there is nothing to wait for), or whatever depends on it never registers.
 */
export class DeferredResources {
    public readonly promise: Promise<pulumi.Resource[]>;
    private settle!: (resources: pulumi.Resource[]) => void;

    constructor() {
        this.promise = new Promise((resolve) => {
            this.settle = resolve;
        });
    }

    resolve(resources: pulumi.Resource[]): void {
        this.settle(resources);
    }
}

export interface RegistryReadyArgs {
    /** Registry host (Registry.server), e.g. `registry.archon.example.com`. */
    server: string;
    /**
     * What serves it: the Compose step that started proxy, certbot and registry, or the registry's
     * StatefulSet and Ingress; and the DNS preflight. A promise, as those come later.
     */
    dependsOn: Promise<pulumi.Resource[]>;
    /** How long to wait for the certificate and the registry, seconds. Default 900. */
    waitSeconds?: number;
}

/**
 * Waits until `https://<server>/v2/` answers as a registry over a trusted certificate: what
 * `docker push` needs. Runs once, when created (and again if the server changes).
 */
export class RegistryReady extends pulumi.ComponentResource {
    /** dependsOn for whatever pushes to the registry. */
    public readonly ready: pulumi.Resource;

    constructor(name: string, args: RegistryReadyArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:RegistryReady", name, {}, opts);
        this.ready = new command.local.Command("registry-ready", {
            interpreter: ["node", "-e"],
            create: REGISTRY_PROBE_SCRIPT,
            environment: { REGISTRY_PROBE: "ready", REGISTRY_SERVER: args.server, REGISTRY_WAIT_SECONDS: String(args.waitSeconds ?? 900) },
            triggers: [args.server],
        }, { parent: this, dependsOn: args.dependsOn });
        this.registerOutputs({});
    }
}

export interface ArchonImagesPresenceArgs {
    /** The registry and its pull credentials (Registry.credentials). */
    registry: RegistryCredentials;
    /** Repository names (ArchonImages.deployed). */
    images: string[];
    /** The tag the workloads run (`imageTag`). */
    imageTag: string;
    /**
     * The digests the workloads pull, by repository name, when the release record names them
     * (ArchonImages.record). Then the check asks for each digest, and a missing one FAILS the
     * deploy before any Archon workload changes: the record says it was copied, so a missing
     * image is a fault, not a first deploy (and `Recreate` would stop archon-server before its
     * pull failed). Without digests a missing tag only lets the workloads skip Pulumi's await.
     */
    digests?: Record<string, string>;
    /** RegistryReady.ready for the stack's own registry; none for an external one. */
    dependsOn?: pulumi.Input<pulumi.Resource[]>;
}

/**
 * Asks the registry whether every Archon image of `imageTag` exists (when this program does not
 * push them: CI does, and may not have yet), by its recorded digest when there is one. Runs when
 * the tag, the digests, the images or the registry change.
 */
export class ArchonImagesPresence extends pulumi.ComponentResource {
    /** True when an image was missing when the check ran: the workloads then skip Pulumi's await. */
    public readonly missing: pulumi.Output<boolean>;
    /** The check itself: the Archon workloads depend on it. */
    public readonly check: pulumi.Resource;

    constructor(name: string, args: ArchonImagesPresenceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:ArchonImagesPresence", name, {}, opts);
        const check = new command.local.Command("archon-images-present", {
            interpreter: ["node", "-e"],
            create: REGISTRY_PROBE_SCRIPT,
            environment: {
                REGISTRY_PROBE: "images",
                REGISTRY_SERVER: args.registry.server,
                REGISTRY_IMAGES: JSON.stringify(args.images),
                REGISTRY_TAG: args.imageTag,
                REGISTRY_DIGESTS: JSON.stringify(args.digests ?? {}),
                REGISTRY_USERNAME: args.registry.username,
                REGISTRY_PASSWORD: pulumi.secret(args.registry.password),
            },
            triggers: [args.registry.server, args.imageTag, args.images.join(","), JSON.stringify(args.digests ?? {})],
        }, { parent: this, dependsOn: args.dependsOn, additionalSecretOutputs: ["environment"] });
        this.check = check;
        // The answer (`present` / `missing: ...`) holds no secret, though the step reads one.
        this.missing = pulumi.unsecret(check.stdout).apply((stdout) => stdout.trim() !== "present");
        this.registerOutputs({ missing: this.missing });
    }
}
