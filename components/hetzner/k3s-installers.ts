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
    // commit: nixpkgs' k3s 1.31.4+k3s1 (k3sCommit a562d090b05c...), matching `k3s --version` output
    // "v1.31.4+k3s1 (a562d090)" quoted publicly. sha256: recorded for install.sh at that commit by a
    // public bring-up script (K3S_INSTALLER_SHA256, search 2026); the k3s repository is too large to
    // mirror here, so it was not recomputed on this machine: recompute as above before relying on it.
    "v1.31.4+k3s1": { commit: "a562d090b05cf8d55b6a8b57556787c24c8ce21a", sha256: "f60c3d8940dfc896f7d83aaf57726c91cf21afc4bca40036472df108d9700b4b" },
};

/** The verified installer of `version`, or undefined when the table has no row for it. */
export function k3sInstaller(version: string): K3sInstaller | undefined {
    return Object.prototype.hasOwnProperty.call(K3S_INSTALLERS, version) ? K3S_INSTALLERS[version] : undefined;
}
