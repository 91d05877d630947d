import { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { KUBERNETES, Props, record } from "../lib/context";
import { parseDotenv } from "../lib/compose";
import { archivedTextFiles } from "../lib/files";

const COMMAND = "command:remote:Command";
/** How ComposeDelivery's commands name the secret file they write from stdin (components/hetzner/scripts/write-secret-file.sh). */
const SECRET_FILE = /^export SECRET_FILE='([^']+)'$/m;
/** Shorter values (user names, `postgres`) would match by accident: a generated secret is longer. */
const MIN_LENGTH = 16;

/** Every string inside `value`, with its dotted path. */
function strings(value: unknown, at: string, found: [string, string][] = []): [string, string][] {
    if (typeof value === "string") found.push([at, value]);
    else if (Array.isArray(value)) value.forEach((v, i) => strings(v, `${at}[${i}]`, found));
    else if (value !== null && typeof value === "object") for (const [k, v] of Object.entries(value)) strings(v, at === "" ? k : `${at}.${k}`, found);
    return found;
}

const usable = (value: string) => value.trim().length >= MIN_LENGTH && !/^\s*$/.test(value);

/**
 * The program's own secret values as the stack delivers them: every value of a Kubernetes Secret
 * (decoded), and every secret file a Compose host receives over SSH (a remote command's stdin;
 * each `KEY=value` of an env file). These are where secrets belong; anywhere else they leak.
 */
function secretValues(resources: PolicyResource[]): Set<string> {
    const values = new Set<string>();
    const add = (value: string) => {
        if (usable(value)) values.add(value.trim());
        for (const v of Object.values(parseDotenv(value))) if (usable(v)) values.add(v.trim());
    };
    for (const resource of resources) {
        if (resource.type === KUBERNETES.secret) {
            for (const [, value] of strings(record(resource.props.stringData), "")) add(value);
            for (const [, value] of strings(record(resource.props.data), "")) add(Buffer.from(value, "base64").toString("utf8"));
        } else if (resource.type === COMMAND && typeof resource.props.stdin === "string" && SECRET_FILE.test(String(resource.props.create ?? ""))) {
            add(resource.props.stdin);
        }
    }
    return values;
}

/**
 * Where a value is plain text: any input of a Kubernetes object but a Secret's data (env values,
 * ConfigMaps, annotations, custom resources), Helm values, a server's cloud-init user data, a
 * remote command's script, and the files of a Compose project (its compose file and configs; its
 * secrets travel as the commands' stdin).
 */
async function plainStrings(resource: PolicyResource): Promise<[string, string][]> {
    if (resource.type === KUBERNETES.secret) {
        const { data: _data, stringData: _stringData, ...rest } = resource.props;
        return strings(rest, "");
    }
    if (resource.type.startsWith("kubernetes:")) return strings(resource.props, "");
    if (resource.type === "hcloud:index/server:Server") return strings({ userData: resource.props.userData }, "");
    if (resource.type === COMMAND) return strings({ create: resource.props.create, environment: resource.props.environment }, "");
    return Object.entries(await archivedTextFiles(resource.props as Props)).map(([file, text]) => [`files ${file}`, text]);
}

/**
 * No secret the program generated or was given appears in plain text anywhere else in the stack,
 * under any name and in any shape (a hex key, a config string): the policy compares values, not
 * names. A stack policy: the secret and the leak are different resources.
 */
export const secretValuesNotPlain: StackValidationPolicy = {
    name: "secret-values-not-plain",
    description: "No value of a Kubernetes Secret or of a secret file delivered to the Compose host appears in plain text elsewhere (env values, ConfigMaps, annotations, Helm values, cloud-init, command scripts, Compose files), whatever the key it sits under.",
    enforcementLevel: "mandatory",
    validateStack: async (args, reportViolation) => {
        const secrets = [...secretValues(args.resources)];
        if (secrets.length === 0) return;
        for (const resource of args.resources) {
            for (const [where, text] of await plainStrings(resource)) {
                const leaked = secrets.find((secret) => text.includes(secret));
                if (leaked !== undefined) {
                    reportViolation(`${resource.type.split(":").pop()} ${resource.name} holds a secret value of the stack in plain text at ${where} (${leaked.slice(0, 4)}…, ${leaked.length} characters); reference the Secret (secretKeyRef, existingSecret, env_file) instead`, resource.urn);
                }
            }
        }
    },
};
