/**
 * A copy of this project in a temporary git repository (the tracked files of the working tree,
 * node_modules linked), where the real scripts run with their PROJECT_DIR and commit as the
 * workflows would, without touching the checkout.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PROJECT_DIR } from "../scripts/lib/stack-config";

export interface ProjectCopy {
    dir: string;
    git(...args: string[]): string;
    remove(): void;
}

export function copyProject(prefix = "archon-project-"): ProjectCopy {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    const tracked = execFileSync("git", ["-C", PROJECT_DIR, "ls-files", "-z", "--cached", "--others", "--exclude-standard"], { encoding: "utf8" }).split("\0").filter((f) => f && fs.existsSync(path.join(PROJECT_DIR, f)));
    for (const file of tracked) {
        const target = path.join(dir, file);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.copyFileSync(path.join(PROJECT_DIR, file), target);
        fs.chmodSync(target, fs.statSync(path.join(PROJECT_DIR, file)).mode & 0o777);
    }
    fs.symlinkSync(path.join(PROJECT_DIR, "node_modules"), path.join(dir, "node_modules"));
    const git = (...args: string[]) => execFileSync("git", ["-C", dir, ...args], {
        encoding: "utf8",
        env: { ...process.env, GIT_AUTHOR_NAME: "CI Bot", GIT_AUTHOR_EMAIL: "ci@example.com", GIT_COMMITTER_NAME: "CI Bot", GIT_COMMITTER_EMAIL: "ci@example.com" },
    }).trim();
    git("init", "-q", "-b", "main");
    fs.writeFileSync(path.join(dir, ".git", "info", "exclude"), "node_modules\nout/\n");
    git("add", "-A");
    git("commit", "-q", "-m", "the project as checked out");
    return { dir, git, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
