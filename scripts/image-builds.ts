/**
 * The Archon image build definitions for CI: `npm run image-builds [-- --source <archon checkout>]
 * [--stage <dir>] [--image <name>]...`.
 *
 * Without --source: prints the definitions (components/registry/build-context.ts ARCHON_BUILDS)
 * as JSON; with --matrix, the image names as a GitHub Actions matrix (`{"include":[{"image"}...]}`),
 * which the image workflow builds one leg per image from. With --source: stages each image's build context from that checkout (into --stage, by
 * default the OS temp directory) exactly as `pulumi up` does, and prints one JSON line per image,
 * `{image, context, dockerfile, target, args}`, ready for
 * `docker buildx build -f <dockerfile> --target <target> --build-arg K=V ... <context>`.
 * The checkout must be the pinned Archon commit (images/archon-source.json; --record names another
 * record, for tests), and each Python image's staged context must define what its command runs
 * (read with python3): otherwise one line and exit 2, before anything is staged or built.
 * Exit 2 on bad arguments.
 */
import * as fs from "fs";
import * as path from "path";
import { parseCli, runCli } from "./lib/cli";
import { StackConfigError } from "./lib/stack-config";
import { ARCHON_BUILDS, ARCHON_IMAGES, ArchonImageName, buildContext, dockerfilePath } from "../components/registry/build-context";
import { checkoutMismatch, loadArchonSource, pythonModuleFacts } from "../components/registry/archon-source";
import { readSourceRevision } from "../components/registry/release";
import { ARCHON_COMMANDS, ArchonPythonService, entryPointOf, moduleFile } from "../components/services/archon-commands";

/** Why the staged context of a Python image cannot run its command, or undefined. */
function missingEntryPoint(image: ArchonPythonService, context: string): string | undefined {
    const entry = entryPointOf(ARCHON_COMMANDS[image]);
    if (typeof entry === "string") return `${image}: ${entry}`;
    const file = moduleFile(entry.module);
    const facts = pythonModuleFacts(context, [file])[file];
    if (!facts) return `${image}: ${file} is not in the build context (${context}), so \`${ARCHON_COMMANDS[image].join(" ")}\` cannot start`;
    if (entry.attribute !== undefined && !facts.names.includes(entry.attribute)) return `${image}: ${file} defines no ${entry.attribute}, so uvicorn would exit (Attribute "${entry.attribute}" not found in module "${entry.module}")`;
    if (entry.attribute === undefined && !facts.runsAsMain) return `${image}: ${file} has no __main__ block, so \`python -m ${entry.module}\` would do nothing`;
    return undefined;
}

async function main(): Promise<void> {
    const { values } = parseCli({
        options: {
            source: { type: "string", help: "an Archon checkout of the pinned commit: stage each image's build context from it" },
            stage: { type: "string", help: "directory to stage the build contexts in (default the OS temp directory)" },
            record: { type: "string", help: "the Archon source record to check the checkout against (default images/archon-source.json)" },
            image: { type: "string", multiple: true, default: [], help: "only this image (archon-server, archon-mcp, archon-agents, archon-ui, archon-migrate)" },
            matrix: { type: "boolean", default: false, help: "print the image names as a GitHub Actions matrix" },
        },
        help: {
            summary: "Prints the Archon image build definitions CI builds from (the same ones pulumi up uses with buildImages), or stages their build contexts from an Archon checkout.",
            usage: "npm run image-builds [-- [--source <archon checkout> [--stage <dir>] [--record <archon-source.json>]] [--image <name>]... [--matrix]]",
            examples: ["npm run -s image-builds", "npm run -s image-builds -- --source ../Archon --stage /tmp/contexts --image archon-server"],
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
    const mismatch = checkoutMismatch(values.source, loadArchonSource(values.record && path.resolve(values.record)), readSourceRevision(source));
    if (mismatch) throw new StackConfigError(`--source ${mismatch}`);
    for (const image of images) {
        const build = ARCHON_BUILDS[image];
        const context = values.stage !== undefined ? buildContext(image, source, path.resolve(values.stage)) : buildContext(image, source);
        const missing = image in ARCHON_COMMANDS ? missingEntryPoint(image as ArchonPythonService, context) : undefined;
        if (missing) throw new StackConfigError(missing);
        console.log(JSON.stringify({ image, context, dockerfile: dockerfilePath(build, source), target: build.target ?? "", args: build.args }));
    }
}

runCli(main);
