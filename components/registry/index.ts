/** Where the Archon images live and which ones run: the registry, pull credentials, images, the release record. */
export { Registry, RegistryArgs, RegistryCredentials } from "./registry";
export { RegistryLogin, RegistryLoginArgs } from "./login";
export { ArchonImages, ArchonImagesArgs } from "./images";
export { releaseRecord, ReleaseArgs, ReleaseRecord } from "./release";
