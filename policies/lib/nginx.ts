/**
 * nginx configuration as a tree of directives, read the way nginx's own parser reads it
 * (src/core/ngx_conf_file.c `ngx_conf_read_token`): words separated by whitespace, `;` ends a
 * directive, `{` opens its block and `}` closes it, `#` starts a comment outside quotes, single or
 * double quotes group a word and `\` escapes the next character. Includes are not followed: the
 * program renders one self-contained file.
 */
export interface Directive {
    name: string;
    args: string[];
    block?: Directive[];
}

export function parseNginxConf(text: string): Directive[] {
    let at = 0;
    const word = (): string | undefined => {
        while (at < text.length) {
            if (/\s/.test(text[at])) at++;
            else if (text[at] === "#") while (at < text.length && text[at] !== "\n") at++;
            else break;
        }
        if (at >= text.length) return undefined;
        const char = text[at];
        if (char === ";" || char === "{" || char === "}") {
            at++;
            return char;
        }
        let value = "";
        if (char === "\"" || char === "'") {
            at++;
            while (at < text.length && text[at] !== char) value += text[at] === "\\" ? text[++at] : text[at], at++;
            at++;
            return value;
        }
        while (at < text.length && !/[\s;{}]/.test(text[at])) value += text[at] === "\\" ? text[++at] : text[at], at++;
        return value;
    };
    const block = (closing: boolean): Directive[] => {
        const directives: Directive[] = [];
        let args: string[] = [];
        for (let token = word(); token !== undefined; token = word()) {
            if (token === "}") {
                if (!closing) throw new Error("nginx.conf: unexpected }");
                return directives;
            }
            if (token === ";") {
                if (args.length > 0) directives.push({ name: args[0], args: args.slice(1) });
                args = [];
            } else if (token === "{") {
                directives.push({ name: args[0] ?? "", args: args.slice(1), block: block(true) });
                args = [];
            } else args.push(token);
        }
        if (closing) throw new Error("nginx.conf: unexpected end of file, missing }");
        return directives;
    };
    return block(false);
}

/** A location (or server) with the blocks around it, innermost first. */
export interface Scope {
    /** `server_name` of the enclosing server. */
    server: string;
    /** The location's own arguments (`= /oauth2/auth`, `/`), or "" for a server. */
    location: string;
    /** Innermost first: the block itself, its enclosing locations, the server, http. */
    chain: Directive[][];
}

/** The last value of `name` set in the innermost block of `chain` that sets it (nginx's inheritance of a simple directive). */
export function inherited(chain: Directive[][], name: string): string[] | undefined {
    for (const level of chain) {
        const found = level.filter((d) => d.name === name);
        if (found.length > 0) return found[found.length - 1].args;
    }
    return undefined;
}

/** Every directive `name` of the innermost level that has any (array directives such as limit_req inherit as a set). */
export function inheritedAll(chain: Directive[][], name: string): Directive[] {
    for (const level of chain) {
        const found = level.filter((d) => d.name === name);
        if (found.length > 0) return found;
    }
    return [];
}

/** Every location of every server (nested ones too) and every limit_except inside them. */
export function locations(config: Directive[]): Scope[] {
    const scopes: Scope[] = [];
    for (const http of config.filter((d) => d.name === "http" && d.block)) {
        for (const server of http.block!.filter((d) => d.name === "server" && d.block)) {
            const serverName = (server.block!.find((d) => d.name === "server_name")?.args ?? ["_"]).join(" ");
            const walk = (block: Directive[], label: string, outer: Directive[][]) => {
                const chain = [block, ...outer];
                scopes.push({ server: serverName, location: label, chain });
                for (const inner of block.filter((d) => (d.name === "location" || d.name === "limit_except") && d.block)) {
                    walk(inner.block!, `${inner.name === "limit_except" ? `${label} limit_except ` : ""}${inner.args.join(" ")}`, chain);
                }
            };
            for (const location of server.block!.filter((d) => d.name === "location" && d.block)) {
                walk(location.block!, location.args.join(" "), [server.block!, http.block!]);
            }
        }
    }
    return scopes;
}

/** Upstream blocks: name -> the hosts of their `server` lines. */
export function upstreams(config: Directive[]): Map<string, string[]> {
    const found = new Map<string, string[]>();
    for (const http of config.filter((d) => d.name === "http" && d.block)) {
        for (const upstream of http.block!.filter((d) => d.name === "upstream" && d.block)) {
            found.set(upstream.args[0], upstream.block!.filter((d) => d.name === "server").map((d) => d.args[0].replace(/:\d+$/, "")));
        }
    }
    return found;
}
