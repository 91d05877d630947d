import { ResourceValidationPolicy } from "@pulumi/policy";
import { parse as parseYaml } from "yaml";
import { ARCHON_IMAGES } from "../../components/registry/images";
import { PolicyArgs, containersOf, isProduction, record, settings } from "../lib/context";
import { archivedTextFiles, isComposeFile } from "../lib/files";
import { pinningProblem } from "../lib/images";

/** Resource types that name an image, and the input holding it. */
const DOCKER_IMAGE_INPUTS: Record<string, string> = {
    "docker:index/image:Image": "imageName",
    "docker:index/remoteImage:RemoteImage": "name",
    "docker:index/registryImage:RegistryImage": "name",
};

export const imagesPinned: ResourceValidationPolicy = {
    name: "images-pinned",
    description: "Images are pinned: no `latest` or other moving tag, no untagged reference; in production the project's images by digest or sha-<commit> tag, others by digest or a full release tag.",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            ownImages: { type: "array", items: { type: "string" }, description: "Repository names this project builds (strictest pinning in production)." },
        },
    },
    validateResource: async (args: PolicyArgs, reportViolation) => {
        const { ownImages } = settings(args, { ownImages: [...ARCHON_IMAGES] as string[] });
        const rules = { production: isProduction(args), ownImages };
        const check = (where: string, reference: unknown) => {
            if (typeof reference !== "string") return reportViolation(`${where} has no image reference`);
            const problem = pinningProblem(reference, rules);
            if (problem) reportViolation(`${where}: ${problem}`);
        };
        for (const container of containersOf(args.type, args.props)) {
            check(`${container.kind} ${container.name}`, container.spec.image);
        }
        const input = DOCKER_IMAGE_INPUTS[args.type];
        if (input) check(input, args.props[input]);
        for (const [file, text] of Object.entries(await archivedTextFiles(args.props))) {
            if (!isComposeFile(file)) continue;
            const services = record(record(parseYaml(text)).services);
            for (const [service, definition] of Object.entries(services)) {
                const image = record(definition).image;
                // A service built from a Dockerfile without an image name gets a local name; only named images are pulled.
                if (image !== undefined || record(definition).build === undefined) check(`${file} service ${service}`, image);
            }
        }
    },
};

