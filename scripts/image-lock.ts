/**
 * The third-party image digest lock (image-digests.lock.json, components/services/image-lock.ts):
 *   npm run image-lock -- list                       the image:tag pins of components/services/versions.ts
 *   npm run image-lock -- check [--resolved]         the lock is well-formed, has one entry per pin and
 *                                                    none for anything else; --resolved: and every entry
 *                                                    has a digest (production deploys require it)
 *   npm run image-lock -- resolve --run <url>        asks each registry for the digest each pin names
 *                                                    (skopeo inspect --raw, sha256 of the manifest bytes)
 *                                                    and writes the lock (workflow image-lock.yml, which
 *                                                    proposes the change as a pull request)
 * Bad input, a broken lock or an unreadable registry: one line, exit 2.
 */
import * as fs from "fs";
import { CliError, parseCli, runCli } from "./lib/cli";
import { SkopeoError, resolveDigest } from "./lib/skopeo";
import { IMAGE_LOCK_FILE, ImageLock, ImageLockError, lockFor, lockProblems, readImageLock } from "../components/services/image-lock";
import { PINNED_IMAGES } from "../components/services/versions";

const COMMENT = "Digests of the third-party images components/services/versions.ts pins (image:tag -> sha256). Written by `npm run image-lock -- resolve` in the image-lock workflow and merged as a pull request; null = not resolved yet: the program then refers to image:tag alone and production deploys refuse (README, Delivery).";

function write(lock: ImageLock): void {
    fs.writeFileSync(IMAGE_LOCK_FILE, JSON.stringify(lock, null, 2) + "\n");
}

function main(): void {
    const { values, positionals } = parseCli({
        allowPositionals: true,
        options: {
            run: { type: "string", help: "the URL of the workflow run that resolves the digests, recorded in the lock (resolve; required)" },
            resolved: { type: "boolean", default: false, help: "also require a digest for every pin, as production deploys do (check)" },
        },
        help: {
            summary: "The third-party image digest lock (image-digests.lock.json): list the image:tag pins of components/services/versions.ts, check the lock against them, or resolve each pin's digest from its registry (skopeo) and write the lock.",
            usage: ["npm run image-lock -- list", "npm run image-lock -- check [--resolved]", "npm run image-lock -- resolve --run <workflow run URL>"],
            examples: ["npm run image-lock -- check", "npm run image-lock -- check --resolved"],
        },
    });
    const pinned = [...PINNED_IMAGES];
    switch (positionals[0]) {
        case "list":
            console.log(pinned.join("\n"));
            return;
        case "check": {
            const lock = readImageLock();
            const problems = lockProblems(pinned, lock);
            if (problems.length > 0) throw new ImageLockError(`image-digests.lock.json: ${problems.join("; ")}: run npm run image-lock -- resolve (the image-lock workflow does)`);
            const pending = pinned.filter((ref) => lock.images[ref] === null);
            if (values.resolved && pending.length > 0) {
                throw new ImageLockError(`image-digests.lock.json has no digest yet for ${pending.join(", ")}: merge the image-lock workflow's pull request (or run it) before deploying production`);
            }
            console.log(`image-digests.lock.json: ${pinned.length} pinned images, ${pinned.length - pending.length} by digest${pending.length > 0 ? `, ${pending.length} not resolved yet (referred to by tag)` : ""}`);
            return;
        }
        case "resolve": {
            if (!values.run) throw new CliError("--run is required: the URL of the workflow run that resolves the digests");
            const previous = fs.existsSync(IMAGE_LOCK_FILE) ? readImageLock() : undefined;
            const lock = lockFor(pinned, previous, COMMENT);
            for (const ref of pinned) {
                const found = resolveDigest(ref);
                if ("missing" in found) throw new ImageLockError(`${ref} does not exist in its registry (${found.missing}): fix the pin in components/services/versions.ts`);
                if (previous?.images[ref] && previous.images[ref] !== found.digest) console.log(`${ref}: ${previous.images[ref]} -> ${found.digest} (the tag moved upstream)`);
                else if (!previous?.images[ref]) console.log(`${ref}: ${found.digest}`);
                lock.images[ref] = found.digest;
            }
            lock.resolved = { at: new Date().toISOString().replace(/\.\d+Z$/, "Z"), run: values.run };
            write(lock);
            return;
        }
        default:
            throw new CliError("say list, check or resolve, e.g. npm run image-lock -- check");
    }
}

runCli(main, [ImageLockError, SkopeoError]);
