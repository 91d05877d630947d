/**
 * How each of Archon's Python services starts: one exec-form command, set by both renderers
 * (Kubernetes `command`, Compose `entrypoint`) and by this repository's image
 * (images/archon-python/Dockerfile CMD), so no image default decides it.
 *
 * Exec form matters twice. The program runs a target that exists: Archon's own
 * python/Dockerfile.server at tag v0.1.0 starts `src.server.main:socket_app`, which that commit's
 * main.py does not define (upstream removed it in 277bfdaa7, fixed the CMD in 8f3e8bc22), and
 * test/archon-source.spec.ts proves each target below against the pinned commit's source. And
 * Python is PID 1, so it receives SIGTERM: upstream's `CMD sh -c "..."` left it to a shell that
 * ignores the signal, and every stop waited the whole grace period.
 */

/** The ports Archon's services listen on (its docker-compose.yml defaults; all three are required by its service discovery). */
export const ARCHON_PORTS = { server: 8181, mcp: 8051, agents: 8052 } as const;

export type ArchonPythonService = "archon-server" | "archon-mcp" | "archon-agents";

/**
 * The commands, as at the pinned commit (images/archon-source.json):
 * - archon-server: uvicorn on python/src/server/main.py's `app`, one worker (upstream's
 *   Dockerfile.server `--workers 1`: crawl progress lives in the process).
 * - archon-mcp: python/src/mcp_server/mcp_server.py as `__main__` (upstream's Dockerfile.mcp CMD),
 *   which reads ARCHON_MCP_PORT and serves streamable HTTP.
 * - archon-agents: uvicorn on python/src/agents/server.py's `app` (upstream's Dockerfile.agents).
 */
export const ARCHON_COMMANDS: Readonly<Record<ArchonPythonService, readonly string[]>> = {
    "archon-server": ["python", "-m", "uvicorn", "src.server.main:app", "--host", "0.0.0.0", "--port", String(ARCHON_PORTS.server), "--workers", "1"],
    "archon-mcp": ["python", "-m", "src.mcp_server.mcp_server"],
    "archon-agents": ["python", "-m", "uvicorn", "src.agents.server:app", "--host", "0.0.0.0", "--port", String(ARCHON_PORTS.agents)],
};

/** What a command runs: a module as `__main__`, or an ASGI attribute of a module under uvicorn. */
export interface EntryPoint {
    /** Dotted module name, e.g. `src.server.main`. */
    module: string;
    /** The ASGI application's name in that module (uvicorn's `module:attribute`); absent for `python -m module`. */
    attribute?: string;
}

/**
 * The entry point of an exec-form command (`python -m uvicorn module:attr ...`, `uvicorn
 * module:attr ...`, `python -m module`), or a reason it has none: a shell wrapper (`sh -c ...`)
 * is refused, since the shell, not Python, would then be PID 1.
 */
export function entryPointOf(command: readonly string[]): EntryPoint | string {
    if (command.length === 0) return "no command";
    if (/(^|\/)(ba|da)?sh$/.test(command[0])) return `a shell runs it (${command.slice(0, 2).join(" ")} ...), not exec form`;
    let rest = [...command];
    if (/(^|\/)python3?(\.\d+)?$/.test(rest[0])) {
        if (rest[1] !== "-m" || rest.length < 3) return `python without -m <module>: ${command.join(" ")}`;
        rest = rest.slice(2);
        if (rest[0] !== "uvicorn") return { module: rest[0] };
    } else if (!/(^|\/)uvicorn$/.test(rest[0])) {
        return `neither python -m nor uvicorn: ${command.join(" ")}`;
    }
    const target = rest.slice(1).find((arg) => !arg.startsWith("-") && arg.includes(":"));
    if (!target) return `uvicorn without a module:attribute target: ${command.join(" ")}`;
    const [module, attribute] = target.split(":");
    return { module, attribute };
}

/** The file of a dotted module, relative to the directory on PYTHONPATH (`src.server.main` -> `src/server/main.py`). */
export function moduleFile(module: string): string {
    return `${module.split(".").join("/")}.py`;
}
