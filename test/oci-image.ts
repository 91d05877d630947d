/**
 * A small image in an OCI image layout on disk, shaped as `docker buildx build --push --sbom=true
 * --provenance` pushes one: an image index holding the platform manifest and an attestation
 * manifest that refers to it. skopeo pushes it to a real registry (`oci:<dir>:<tag>`), as the
 * build would. The layer is any gzip stream: registries and skopeo copy blobs without unpacking.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";

/** Writes the layout into `dir` (one tag) and returns the index's digest: what a pull by tag resolves to. */
export function writeOciImage(dir: string, tag: string, content: string): string {
    fs.mkdirSync(path.join(dir, "blobs", "sha256"), { recursive: true });
    const blob = (data: Buffer) => {
        const hex = crypto.createHash("sha256").update(data).digest("hex");
        fs.writeFileSync(path.join(dir, "blobs", "sha256", hex), data);
        return { digest: `sha256:${hex}`, size: data.length };
    };
    const json = (value: unknown) => Buffer.from(JSON.stringify(value));
    const raw = Buffer.from(content);
    const layer = blob(zlib.gzipSync(raw));
    const diffId = `sha256:${crypto.createHash("sha256").update(raw).digest("hex")}`;
    const config = blob(json({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [diffId] } }));
    const image = blob(json({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, ...config }, layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...layer }] }));
    const statement = blob(json({ _type: "https://in-toto.io/Statement/v0.1", predicateType: "https://spdx.dev/Document", subject: [{ name: tag, digest: { sha256: image.digest.slice(7) } }] }));
    const attestationConfig = blob(json({ architecture: "unknown", os: "unknown", rootfs: { type: "layers", diff_ids: [statement.digest] } }));
    const attestation = blob(json({
        schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, ...attestationConfig },
        layers: [{ mediaType: "application/vnd.in-toto+json", ...statement, annotations: { "in-toto.io/predicate-type": "https://spdx.dev/Document" } }],
    }));
    const index = blob(json({
        schemaVersion: 2, mediaType: OCI_INDEX,
        manifests: [
            { mediaType: OCI_MANIFEST, ...image, platform: { architecture: "amd64", os: "linux" } },
            { mediaType: OCI_MANIFEST, ...attestation, annotations: { "vnd.docker.reference.digest": image.digest, "vnd.docker.reference.type": "attestation-manifest" }, platform: { architecture: "unknown", os: "unknown" } },
        ],
    }));
    fs.writeFileSync(path.join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    fs.writeFileSync(path.join(dir, "index.json"), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: OCI_INDEX, ...index, annotations: { "org.opencontainers.image.ref.name": tag } }] }));
    return index.digest;
}
