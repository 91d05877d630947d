/**
 * CI access to a stack's hosts through its CI access firewall (scripts/lib/ci-access.ts):
 *   npm run ci-access -- open --stack <name> --ip <address> [--minutes 60] [--owner <text>]
 *       adds rules admitting one address to SSH (and the Kubernetes API on k3s) for <minutes>
 *   npm run ci-access -- close --stack <name> [--owner <text>]   removes that owner's rules only
 *   npm run ci-access -- close --stack <name> --all              empties the firewall (cuts running deploys too)
 *   npm run ci-access -- prune --stack <name>                    removes expired rules (scheduled workflow)
 * The owner defaults to `manual`; a deploy uses its run's URL. Every call also removes expired
 * rules and rules without owner and expiry. Needs HCLOUD_TOKEN (read/write) and honours
 * HCLOUD_ENDPOINT like the hcloud provider and CLI. Usage errors exit 2 with one line.
 */
import { parseCli, runCli } from "./lib/cli";
import { CiAccessError, FirewallRule, HETZNER_API, accessRules, findCiAccessFirewall, getRules, keptRules, setRules } from "./lib/ci-access";
import { stackConfig } from "./lib/stack-config";

const ACTIONS = ["open", "close", "prune"];

function summary(rules: FirewallRule[]): string {
    return rules.map((r) => `${r.port} from ${r.source_ips.join(" ")}`).join(", ");
}

async function main(): Promise<void> {
    const { values, positionals } = parseCli({
        allowPositionals: true,
        options: {
            stack: { type: "string", help: "the stack whose CI access firewall to change; required" },
            ip: { type: "string", help: "the runner's public IPv4 or IPv6 address, without a prefix length (open)" },
            minutes: { type: "string", default: "60", help: "how long the rules stay before any later call removes them, 1-360 (open)" },
            owner: { type: "string", default: "manual", help: "whose rules these are, written into them (a deploy passes its run's URL); close removes only this owner's" },
            all: { type: "boolean", default: false, help: "remove every rule, running deploys' included (close)" },
        },
        help: {
            summary: "Opens a stack's CI access firewall to one address for SSH (and the Kubernetes API on k3s) for a while, closes it again, or prunes expired rules, through Hetzner's API. Needs HCLOUD_TOKEN (read/write); honours HCLOUD_ENDPOINT.",
            usage: [
                "npm run ci-access -- open --stack <name> --ip <address> [--minutes <1-360>] [--owner <text>]",
                "npm run ci-access -- close --stack <name> [--owner <text> | --all]",
                "npm run ci-access -- prune --stack <name>",
            ],
            examples: ["npm run ci-access -- open --stack staging --ip 198.51.100.7 --minutes 30", "npm run ci-access -- close --stack staging"],
        },
    });
    const action = positionals[0];
    if (positionals.length !== 1 || !ACTIONS.includes(action)) throw new CiAccessError("say open, close or prune, e.g. npm run ci-access -- open --stack staging --ip 198.51.100.7");
    if (!values.stack) throw new CiAccessError("--stack is required");
    if (values.all && action !== "close") throw new CiAccessError("--all goes with close only");
    const token = process.env.HCLOUD_TOKEN;
    if (!token) throw new CiAccessError("HCLOUD_TOKEN is not set: the stack's read/write Hetzner token");
    let request: Parameters<typeof accessRules>[0] | undefined;
    if (action === "open") {
        if (!values.ip) throw new CiAccessError("--ip is required with open: the runner's public address");
        const minutes = Number(values.minutes);
        if (!Number.isInteger(minutes) || minutes < 1 || minutes > 360) throw new CiAccessError(`--minutes ${values.minutes}: a whole number from 1 to 360`);
        const target = stackConfig(values.stack).values["archon-infra:target"];
        request = { stack: values.stack, kubernetesApi: target === "k3s", address: values.ip, owner: values.owner, expires: new Date(Date.now() + minutes * 60_000) };
    }
    const added = request ? accessRules(request) : [];
    const endpoint = process.env.HCLOUD_ENDPOINT || HETZNER_API;
    if (!URL.canParse(endpoint) || !/^https?:$/.test(new URL(endpoint).protocol)) throw new CiAccessError(`HCLOUD_ENDPOINT=${endpoint} is not an http(s) URL: unset it to use ${HETZNER_API}`);
    const client = { endpoint, token };
    const firewallId = await findCiAccessFirewall(client, values.stack);
    const current = await getRules(client, firewallId);
    const change = values.all
        ? { kept: [], removed: current.map((rule) => ({ rule, why: "closed (--all)" })) }
        : keptRules(current, new Date(), action === "prune" ? undefined : values.owner);
    const rules = [...change.kept, ...added];
    if (change.removed.length > 0 || added.length > 0) await setRules(client, firewallId, rules);
    for (const { rule, why } of change.removed) console.log(`ci-access ${values.stack}: removed ${rule.port} from ${rule.source_ips.join(" ")} (${why}): ${rule.description ?? ""}`);
    console.log(`ci-access ${values.stack}: firewall ${firewallId} admits ${summary(rules) || "nobody"}`);
}

runCli(main, [CiAccessError]);
