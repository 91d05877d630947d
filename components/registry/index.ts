/** Where the Archon images live and which ones run: the registry, pull credentials, images, the release record. */
export { Registry, RegistryArgs, RegistryCredentials } from "./registry";
export { RegistryLogin, RegistryLoginArgs } from "./login";
export { ArchonImages, ArchonImagesArgs } from "./images";
export { ARCHON_BUILDS, ARCHON_IMAGES, ArchonBuild, ArchonImageName, buildContext, dockerfilePath } from "./build-context";
export { DEFAULT_RELEASES_DIR, digestReference, RecordedDigests, releaseRecord, ReleaseArgs, ReleaseRecord } from "./release";
export { ArchonImagesPresence, ArchonImagesPresenceArgs, DeferredResources, RegistryReady, RegistryReadyArgs } from "./bootstrap";
