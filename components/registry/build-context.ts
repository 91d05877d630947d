/**
 * The build definitions of the five Archon images, as data, and the staging of the build
 * contexts that combine Archon's source with this repository's files. The program
 * (images.ts) and CI (`npm run image-builds`) both read these, so an image is defined once.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export type ArchonImageName = "archon-server" | "archon-mcp" | "archon-ui" | "archon-agents" | "archon-migrate";
export const ARCHON_IMAGES: readonly ArchonImageName[] = ["archon-server", "archon-mcp", "archon-ui", "archon-agents", "archon-migrate"];

/** This repository's root (the Dockerfiles and files under images/ and migrations/ live here). */
export const INFRA_ROOT = path.resolve(__dirname, "..", "..");

/** How one image is built from a checkout of the pinned Archon commit (images/archon-source.json). */
export interface ArchonBuild {
    /** Directory of the Archon checkout, relative to its root, that the build context holds. */
    archonContext: string;
    /**
     * Where `archonContext` goes in a staged context: `.` (the context root) or a subdirectory.
     * Default `.`. Used only when the context is staged (see {@link isStaged}).
     */
    stagedAs?: string;
    /** The Dockerfile: in the Archon checkout, or in this repository (relative to each root). */
    dockerfile: { archon: string } | { infra: string };
    /**
     * Files of this repository copied into the staged context under `.archon-infra/`, by file
     * name (relative to this repository's root). Any makes the context staged.
     */
    infraFiles?: Record<string, string>;
    /** The Dockerfile stage to build (`docker build --target`); default the last stage. */
    target?: string;
    /** Build arguments. */
    args: Record<string, string>;
}

/** Pushed images carry their cache metadata, so the next build can start from them. */
const CACHE_ARGS = { BUILDKIT_INLINE_CACHE: "1" };

/** The Python services: one Dockerfile of this repository, one target each, from Archon's python/. */
const pythonBuild = (target: "archon-server" | "archon-mcp" | "archon-agents"): ArchonBuild =>
    ({ archonContext: "python", dockerfile: { infra: "images/archon-python/Dockerfile" }, target, args: CACHE_ARGS });

/**
 * The five images, all with this repository's Dockerfiles (images/). Archon's Python Dockerfiles
 * install from pyproject.toml's ranges and ignore uv.lock (images/archon-python/Dockerfile says
 * more); its UI Dockerfile runs Vite's dev server; it ships no migration image.
 */
export const ARCHON_BUILDS: Readonly<Record<ArchonImageName, ArchonBuild>> = {
    "archon-server": pythonBuild("archon-server"),
    "archon-mcp": pythonBuild("archon-mcp"),
    "archon-agents": pythonBuild("archon-agents"),
    "archon-ui": {
        archonContext: "archon-ui-main",
        dockerfile: { infra: "images/archon-ui/Dockerfile" },
        infraFiles: { "nginx.conf": "images/archon-ui/nginx.conf" },
        args: CACHE_ARGS,
    },
    "archon-migrate": {
        archonContext: "migration",
        stagedAs: "migration",
        dockerfile: { infra: "images/archon-migrate/Dockerfile" },
        infraFiles: { "archon-migrate.sh": "migrations/archon-migrate.sh" },
        args: CACHE_ARGS,
    },
};

/** The context is a staged copy (Archon's directory plus this repository's files), not the checkout's directory itself. */
export function isStaged(build: ArchonBuild): boolean {
    return "infra" in build.dockerfile || Object.keys(build.infraFiles ?? {}).length > 0;
}

/** The absolute Dockerfile path of a build. */
export function dockerfilePath(build: ArchonBuild, sourceDir: string): string {
    return "archon" in build.dockerfile ? path.join(sourceDir, build.dockerfile.archon) : path.join(INFRA_ROOT, build.dockerfile.infra);
}

/** What is never part of a staged context: local installs, build output, VCS metadata. */
const SKIPPED = new Set(["node_modules", "dist", ".git"]);

function listFiles(root: string, rel = ""): string[] {
    const out: string[] = [];
    for (const entry of fs.readdirSync(path.join(root, rel), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
        if (SKIPPED.has(entry.name)) continue;
        const child = rel ? path.join(rel, entry.name) : entry.name;
        if (entry.isDirectory()) out.push(...listFiles(root, child));
        else if (entry.isFile()) out.push(child);
    }
    return out;
}

/**
 * The build context directory of `image` for the checkout at `sourceDir`. Unstaged builds use
 * the checkout's directory. Staged ones are copied into `<stageRoot>/<image>-<content hash>`
 * (default root: the OS temp directory): the path depends only on the content, so an unchanged
 * source gives the same path and no diff, and concurrent runs never write the same directory
 * half-way (each stages into a private directory and renames it into place).
 */
export function buildContext(image: ArchonImageName, sourceDir: string, stageRoot = path.join(os.tmpdir(), "archon-infra-build")): string {
    const build = ARCHON_BUILDS[image];
    const archonDir = path.join(sourceDir, build.archonContext);
    if (!isStaged(build)) return archonDir;
    if (!fs.existsSync(archonDir)) throw new Error(`${image}: ${archonDir} is missing from the Archon checkout`);
    const into = build.stagedAs ?? ".";
    const files: [string, string][] = [
        ...listFiles(archonDir).map((rel): [string, string] => [path.join(into, rel), path.join(archonDir, rel)]),
        ...Object.entries(build.infraFiles ?? {}).map(([name, rel]): [string, string] => [path.join(".archon-infra", name), path.join(INFRA_ROOT, rel)]),
    ];
    const hash = crypto.createHash("sha256");
    for (const [dest, src] of files) hash.update(`${dest}\0${fs.readFileSync(src).toString("base64")}\0`);
    const target = path.join(stageRoot, `${image}-${hash.digest("hex").slice(0, 16)}`);
    if (fs.existsSync(target)) return target;
    fs.mkdirSync(stageRoot, { recursive: true });
    const scratch = fs.mkdtempSync(path.join(stageRoot, `.${image}-`));
    // A build context holds no secrets; whoever builds may read it.
    fs.chmodSync(scratch, 0o755);
    for (const [dest, src] of files) {
        fs.mkdirSync(path.dirname(path.join(scratch, dest)), { recursive: true });
        fs.copyFileSync(src, path.join(scratch, dest));
    }
    try {
        fs.renameSync(scratch, target);
    } catch (err) {
        // Another run staged the same content first.
        fs.rmSync(scratch, { recursive: true, force: true });
        if (!fs.existsSync(target)) throw err;
    }
    return target;
}
