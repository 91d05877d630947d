/**
 * The Archon image build definitions for CI: `npm run image-builds [-- --source <archon checkout>]
 * [--stage <dir>] [--image <name>]...`.
 *
 * Without --source: prints the definitions (components/registry/build-context.ts ARCHON_BUILDS)
 * as JSON; with --matrix, the image names as a GitHub Actions matrix (`{"include":[{"image"}...]}`),
 * which the image workflow builds one leg per image from. With --source: stages each image's build context from that checkout (into --stage, by
 * default the OS temp directory) exactly as `pulumi up` does, and prints one JSON line per image,
 * `{image, context, dockerfile, args}`, ready for
 * `docker buildx build -f <dockerfile> --build-arg K=V ... <context>`.
 * Exit 2 on bad arguments.
 */
import * as fs from "fs";
import * as path from "path";
import { parseCli, runCli } from "./lib/cli";
import { StackConfigError } from "./lib/stack-config";
import { ARCHON_BUILDS, ARCHON_IMAGES, ArchonImageName, buildContext, dockerfilePath } from "../components/registry/build-context";

async function main(): Promise<void> {
    const { values } = parseCli({
        options: {
            source: { type: "string" },
            stage: { type: "string" },
            image: { type: "string", multiple: true, default: [] },
            matrix: { type: "boolean", default: false },
        },
    });
    const unknown = values.image.filter((name) => !(ARCHON_IMAGES as readonly string[]).includes(name));
    if (unknown.length > 0) throw new StackConfigError(`--image ${unknown.join(", ")}: not an Archon image; one of ${ARCHON_IMAGES.join(", ")}`);
    const images = (values.image.length > 0 ? values.image : [...ARCHON_IMAGES]) as ArchonImageName[];
    if (values.matrix) {
        console.log(JSON.stringify({ include: images.map((image) => ({ image })) }));
        return;
    }
    if (values.source === undefined) {
        console.log(JSON.stringify(Object.fromEntries(images.map((image) => [image, ARCHON_BUILDS[image]])), null, 2));
        return;
    }
    const source = path.resolve(values.source);
    if (!fs.existsSync(path.join(source, "migration", "complete_setup.sql"))) {
        throw new StackConfigError(`--source ${values.source}: not an Archon v1 checkout (migration/complete_setup.sql is missing)`);
    }
    for (const image of images) {
        const build = ARCHON_BUILDS[image];
        const context = values.stage !== undefined ? buildContext(image, source, path.resolve(values.stage)) : buildContext(image, source);
        console.log(JSON.stringify({ image, context, dockerfile: dockerfilePath(build, source), args: build.args }));
    }
}

runCli(main);
