/**
 * The Archon image builds as the program defines them (components/registry/images.ts
 * ARCHON_BUILDS), as a GitHub Actions matrix: `npm run -s image-builds -- --archon-dir archon`
 * prints `{"include":[{"image","context","file"}...]}` with paths under the Archon checkout. The
 * image workflow builds from exactly this, so CI and `buildImages` never drift apart.
 */
import * as path from "path";
import { parseArgs } from "util";
import { ARCHON_BUILDS, ARCHON_IMAGES } from "../components/registry/images";

export interface ImageBuildMatrixEntry {
    image: string;
    context: string;
    file: string;
}

export function imageBuildMatrix(archonDir: string): { include: ImageBuildMatrixEntry[] } {
    return {
        include: ARCHON_IMAGES.map((image) => ({
            image,
            context: path.posix.join(archonDir, ARCHON_BUILDS[image].context),
            file: path.posix.join(archonDir, ARCHON_BUILDS[image].dockerfile),
        })),
    };
}

if (require.main === module) {
    const { values } = parseArgs({ options: { "archon-dir": { type: "string", default: "archon" } } });
    process.stdout.write(JSON.stringify(imageBuildMatrix(values["archon-dir"]!)) + "\n");
}
