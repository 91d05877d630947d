/**
 * Where a stack's Archon images live, by host name alone (no Pulumi import, so the release scripts
 * read it without loading the SDK). The private registry answers at two hosts over one storage:
 * pulls at `registry.<domain>` (a read-only instance), pushes at `registry-push.<domain>` (the only
 * instance that writes); an external registry is one host for both.
 */

/** The hosts hosts, nodes and the image build talk to. */
export interface RegistryHosts {
    /** Where workloads pull from: the host every image reference names. */
    pull: string;
    /** Where the image build and the promotion's copy push to. */
    push: string;
    /** True for an external registry (`registryServer`): no private registry is deployed. */
    external: boolean;
}

/** `registry.<domain>` / `registry-push.<domain>`, or `registryServer` for both. */
export function registryHosts(domain: string, externalServer?: string): RegistryHosts {
    if (externalServer !== undefined) return { pull: externalServer, push: externalServer, external: true };
    return { pull: `registry.${domain}`, push: `registry-push.${domain}`, external: false };
}
