/**
 * CI access to a stack's hosts: `npm run ci-access -- open --stack <name> --ip <address> [--minutes 60] [--owner <text>]`
 * admits one address to SSH (and the Kubernetes API on k3s) through the stack's CI access firewall;
 * `npm run ci-access -- close --stack <name>` empties it. Needs HCLOUD_TOKEN (read/write) and honours
 * HCLOUD_ENDPOINT like the hcloud provider and CLI. Usage errors exit 2 with one line.
 */
import { parseCli, runCli } from "./lib/cli";
import { CiAccessError, HETZNER_API, accessRules, findCiAccessFirewall, setRules } from "./lib/ci-access";
import { stackConfig } from "./lib/stack-config";

async function main(): Promise<void> {
    const { values, positionals } = parseCli({
        allowPositionals: true,
        options: {
            stack: { type: "string" },
            ip: { type: "string" },
            minutes: { type: "string", default: "60" },
            owner: { type: "string" },
        },
    });
    const action = positionals[0];
    if (positionals.length !== 1 || (action !== "open" && action !== "close")) throw new CiAccessError("say open or close, e.g. npm run ci-access -- open --stack staging --ip 198.51.100.7");
    if (!values.stack) throw new CiAccessError("--stack is required");
    const token = process.env.HCLOUD_TOKEN;
    if (!token) throw new CiAccessError("HCLOUD_TOKEN is not set: the stack's read/write Hetzner token");
    const client = { endpoint: process.env.HCLOUD_ENDPOINT || HETZNER_API, token };
    const firewallId = await findCiAccessFirewall(client, values.stack);
    if (action === "close") {
        await setRules(client, firewallId, []);
        console.log(`ci-access ${values.stack}: firewall ${firewallId} closed`);
        return;
    }
    if (!values.ip) throw new CiAccessError("--ip is required with open: the runner's public address");
    const minutes = Number(values.minutes);
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > 360) throw new CiAccessError(`--minutes ${values.minutes}: a whole number from 1 to 360`);
    const target = stackConfig(values.stack).values["archon-infra:target"];
    const rules = accessRules({
        stack: values.stack,
        kubernetesApi: target === "k3s",
        address: values.ip,
        owner: values.owner ?? "manual",
        expires: new Date(Date.now() + minutes * 60_000),
    });
    await setRules(client, firewallId, rules);
    console.log(`ci-access ${values.stack}: firewall ${firewallId} admits ${rules[0].source_ips[0]} to ${rules.map((r) => r.port).join(", ")}`);
}

runCli(main, [CiAccessError]);
