/**
 * The SSH key installed on every host: the configured `sshPublicKey`, or else a generated ED25519
 * key whose private half is a secret output (and what the remote commands log in with).
 */
import * as hcloud from "@pulumi/hcloud";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";

export interface HostSshKeyArgs {
    /** Name of the key in Hetzner, e.g. `archon-staging`. */
    keyName: string;
    /** An OpenSSH public key line; when undefined a key pair is generated. */
    publicKey?: string;
    labels: Record<string, string>;
}

export class HostSshKey extends pulumi.ComponentResource {
    /** Hetzner SSH key ID (servers take IDs or names as strings). */
    public readonly keyId: pulumi.Output<string>;
    /** The public key line the hosts authorize. */
    public readonly publicKey: pulumi.Output<string>;
    /** Private key in OpenSSH format (secret), only when generated; else use your agent. */
    public readonly privateKey?: pulumi.Output<string>;

    constructor(name: string, args: HostSshKeyArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:HostSshKey", name, {}, opts);
        if (args.publicKey !== undefined) {
            this.publicKey = pulumi.output(args.publicKey.trim());
        } else {
            const generated = new tls.PrivateKey("ssh", { algorithm: "ED25519" }, {
                parent: this,
                additionalSecretOutputs: ["privateKeyOpenssh", "privateKeyPem", "privateKeyPemPkcs8"],
            });
            this.publicKey = generated.publicKeyOpenssh.apply((key) => key.trim());
            this.privateKey = pulumi.secret(generated.privateKeyOpenssh);
        }
        const key = new hcloud.SshKey("hosts", { name: args.keyName, publicKey: this.publicKey, labels: args.labels }, { parent: this });
        this.keyId = key.id;
        this.registerOutputs({ keyId: this.keyId, publicKey: this.publicKey });
    }
}
