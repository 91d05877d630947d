import { ResourceValidationPolicy } from "@pulumi/policy";
import { parse as parseYaml } from "yaml";
import { PolicyArgs, Props, record } from "../lib/context";
import { archivedTextFiles } from "../lib/files";

/**
 * A distribution (registry:2) configuration: `version: 0.1` with `storage` and `http`
 * (docs/content/about/configuration.md at v2.8.3), or YAML under a registry config path.
 */
function registryConfig(file: string, text: string): Props | undefined {
    let doc: Props;
    try {
        doc = record(parseYaml(text));
    } catch {
        return undefined;
    }
    const shaped = String(doc.version) === "0.1" && doc.storage !== undefined && doc.http !== undefined;
    return shaped || /docker[_/]registry[_/]config\.ya?ml$/.test(file) ? doc : undefined;
}

/** Why a registry config admits anyone, or undefined. */
function authProblem(doc: Props): string | undefined {
    const auth = record(doc.auth);
    if (Object.keys(auth).length === 0) return "has no auth section: anyone can pull and push";
    if (auth.silly !== undefined) return "uses auth.silly, which accepts any credentials (a development stub)";
    const htpasswd = record(auth.htpasswd);
    if (auth.htpasswd !== undefined && (String(htpasswd.path ?? "").trim() === "" || String(htpasswd.realm ?? "").trim() === "")) return "sets auth.htpasswd without a path and realm";
    if (auth.htpasswd === undefined && auth.token === undefined) return `uses auth ${Object.keys(auth).join(", ")}, not htpasswd or token`;
    return undefined;
}

/**
 * The private registry authenticates on both targets: its configuration (the Compose project's
 * config file, a ConfigMap's) has an htpasswd or token `auth` section. The ingress checks a login
 * too, but the registry's own check is what holds for a client inside the network.
 */
export const registryAuth: ResourceValidationPolicy = {
    name: "registry-auth",
    description: "The private registry's configuration (distribution config.yml in the Compose project or a ConfigMap) requires a login: auth.htpasswd (path and realm) or auth.token, never none or auth.silly.",
    enforcementLevel: "mandatory",
    validateResource: async (args: PolicyArgs, reportViolation) => {
        const candidates: [string, string][] = Object.entries(await archivedTextFiles(args.props));
        if (args.type === "kubernetes:core/v1:ConfigMap") {
            candidates.push(...Object.entries(record(args.props.data)).map(([key, value]) => [`ConfigMap key ${key}`, String(value)] as [string, string]));
        }
        for (const [where, text] of candidates) {
            const doc = registryConfig(where, text);
            const problem = doc === undefined ? undefined : authProblem(doc);
            if (problem) reportViolation(`registry configuration ${where} ${problem}; keep auth.htpasswd (the program's generated users)`);
        }
    },
};
