/**
 * The k3s installer (install.sh) verified before it runs: for each supported k3s release, the
 * commit its tag points at and the sha256 of install.sh at that commit. The node downloads the
 * installer from that commit (an immutable URL, unlike get.k3s.io or a tag), checks the sha256 and
 * only then runs it; the installer in turn checks the k3s binary against the release's published
 * sha256sum-<arch>.txt (install.sh `download_hash` + `verify_binary`, which we never skip:
 * INSTALL_K3S_SKIP_DOWNLOAD stays unset).
 *
 * Another k3sVersion needs its row here (config refuses a version without one):
 *   git clone https://github.com/k3s-io/k3s && cd k3s
 *   git rev-parse '<version>^{commit}'            # the commit
 *   git show '<version>:install.sh' | sha256sum  # the sha256
 */
export interface K3sInstaller {
    /** The commit the release tag points at. */
    commit: string;
    /** sha256 of install.sh at that commit. */
    sha256: string;
}

export const K3S_INSTALLERS: Readonly<Record<string, K3sInstaller>> = {
    // The pinned release (Pulumi.yaml default, production). Kubernetes 1.36, in upstream support
    // until 2027-06 (kubernetes.io/releases: a minor gets ~14 months), and supported by the pinned
    // Hetzner add-ons: hcloud CCM v1.31.1 docs/reference/version-policy.md lists 1.33-1.36, hcloud
    // CSI v2.22.1 docs/kubernetes/reference/version-policy.md lists 1.33-1.36 ("v2.20.2+") and its CI
    // (.github/workflows/test.yml) runs k3s v1.33-v1.36. Bundles Traefik v3.7 (chart 40.1.x+up40.1.0,
    // NixOS/nixpkgs pkgs/applications/networking/cluster/k3s/1_36/chart-versions.nix).
    // commit, two independent sources:
    //   1. NixOS/nixpkgs pkgs/applications/networking/cluster/k3s/1_36/versions.nix at
    //      beccc5847ac6dee2f2bf81a787c4490648710fa9: k3sVersion "1.36.3+k3s1",
    //      k3sCommit "5aed4d7beddeb3e67120da477c876ac9efd70318" (nixpkgs builds k3s from that commit);
    //   2. a public edge-node provisioning script (`install_k3s`: `# k3s version "v1.36.3+k3s1"`,
    //      COMMIT_HASH="5aed4d7b...", SCRIPT_URL raw.githubusercontent.com/k3s-io/k3s/${COMMIT_HASH}/install.sh)
    //      that downloads and hash-checks install.sh at this very commit.
    // sha256, two independent sources:
    //   1. that script's EXPECTED_HASH for install.sh at commit 5aed4d7b (its check runs on every install);
    //   2. install.sh is identical across the v1.36 line: unrelated public pins of the v1.36.1, v1.36.2,
    //      v1.36.4 (commit 4dedb15be78017a8ddd5b9e81acd44f3481078ed) and v1.36.5 tags' install.sh all
    //      record this same sha256, while v1.35.3/v1.35.5 record 8598e002... (the file changed
    //      between the lines, not within one).
    // The k3s repository is too large to mirror here, so neither was recomputed on this machine; the
    // node recomputes it before running anything (k3s-install.sh).
    "v1.36.3+k3s1": { commit: "5aed4d7beddeb3e67120da477c876ac9efd70318", sha256: "46177d4c99440b4c0311b67233823a8e8a2fc09693f6c89af1a7161e152fbfad" },
    // OUT OF UPSTREAM SUPPORT (Kubernetes 1.31 ended 2025-10-28; hcloud CCM v1.31.1 supports 1.33+).
    // Kept only so a cluster still on it keeps converging while it is upgraded one minor at a time
    // (README "Upgrading k3s"); new clusters get the default above.
    // commit: nixpkgs' k3s 1.31.4+k3s1 (k3sCommit a562d090b05c...), matching `k3s --version` output
    // "v1.31.4+k3s1 (a562d090)" quoted publicly. sha256: recorded for install.sh at that commit by a
    // public bring-up script (K3S_INSTALLER_SHA256, search 2026).
    "v1.31.4+k3s1": { commit: "a562d090b05cf8d55b6a8b57556787c24c8ce21a", sha256: "f60c3d8940dfc896f7d83aaf57726c91cf21afc4bca40036472df108d9700b4b" },
};

/** The k3s release new clusters get (Pulumi.yaml's default of `k3sVersion`). */
export const DEFAULT_K3S_VERSION = "v1.36.3+k3s1";

/** The verified installer of `version`, or undefined when the table has no row for it. */
export function k3sInstaller(version: string): K3sInstaller | undefined {
    return Object.prototype.hasOwnProperty.call(K3S_INSTALLERS, version) ? K3S_INSTALLERS[version] : undefined;
}
