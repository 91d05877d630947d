/**
 * What a stack costs per month (issue 28.7): the billable items the synth orders, priced from the
 * committed table and from the Cloud API's /v1/pricing answer, shown in plan.md and the synth summary.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { COMMITTED_PRICES } from "../components/hetzner/prices";
import { BillableItem, PricingResponse, billableItems, costChange, costSummary, estimateCost, fetchPricing, pricesFromApi } from "../scripts/lib/cost";
import { planMarkdown, planOf } from "../scripts/lib/plan";
import { PROJECT_DIR } from "../scripts/lib/stack-config";
import { freePort, run, synth } from "./helpers";

const RESPONSE = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures", "hetzner", "pricing-response.json"), "utf8")) as PricingResponse;
const kinds = (items: BillableItem[], kind: string) => items.filter((i) => i.kind === kind);

describe("monthly cost (issue 28.7)", () => {
    it("counts what staging orders: one server with its IPv4, the data volume, the backups' Object Storage", async () => {
        const items = billableItems((await synth("staging")).resources, (await synth("staging")).outputs);
        assert.deepEqual(kinds(items, "server").map((i) => [i.name, i.type, i.location]), [["compose", "cx33", "fsn1"]]);
        assert.deepEqual(kinds(items, "server backups"), [], "staging servers have no Hetzner backups");
        assert.deepEqual(kinds(items, "primary IPv4").map((i) => i.name), ["compose"]);
        assert.deepEqual(kinds(items, "volume").map((i) => [i.name, i.sizeGb]), [["data", 30]]);
        assert.deepEqual(kinds(items, "object storage").map((i) => i.location), ["fsn1"]);
        assert.deepEqual(kinds(items, "load balancer"), []);
    });

    it("counts what production orders: servers with backups, the load balancer, and every claim the CSI driver turns into a volume (10 GB at least)", async () => {
        const result = await synth("production");
        const items = billableItems(result.resources, result.outputs);
        const servers = kinds(items, "server");
        assert.equal(servers.length, 3 + 3, "3 control-plane nodes and 3 agents");
        assert.equal(kinds(items, "server backups").length, servers.length, "production servers all have backups");
        assert.deepEqual(kinds(items, "load balancer").map((i) => i.type), ["lb11"]);
        const volumes = kinds(items, "volume").map((i) => `${i.name}:${i.sizeGb}`).sort();
        // db-data and registry-data PVCs, the Prometheus/Alertmanager claim templates, Grafana and Loki persistence.
        assert.ok(volumes.includes("db-data:50") && volumes.includes("registry-data:20"), volumes.join(", "));
        assert.ok(volumes.filter((v) => v.startsWith("kube-prometheus-stack:")).length >= 3, volumes.join(", "));
        assert.ok(volumes.some((v) => v.startsWith("loki:")), volumes.join(", "));
        assert.ok(kinds(items, "volume").every((v) => (v.sizeGb ?? 0) >= 10), "Hetzner volumes are 10 GB at least");
    });

    it("prices staging from the committed table: each line is the table's figure, the total their sum", async () => {
        const result = await synth("staging");
        const cost = estimateCost(billableItems(result.resources, result.outputs));
        const line = (kind: string) => cost.lines.find((l) => l.item.kind === kind)?.monthly;
        assert.equal(line("server"), COMMITTED_PRICES.serverTypes.cx33.monthly);
        assert.equal(line("volume"), 30 * COMMITTED_PRICES.volumePerGbMonth!.value);
        assert.equal(line("object storage"), COMMITTED_PRICES.objectStorageBaseMonthly!.value);
        assert.equal(line("primary IPv4"), undefined, "no sourced figure for the IPv4 in the table: unpriced, not guessed");
        assert.equal(cost.total, Math.round((8.49 + 30 * 0.0572 + 5.0) * 100) / 100);
        assert.equal(cost.unpriced, 1);
        assert.match(costSummary(cost), /^EUR 15\.21 per month, net of VAT \(committed table .*\); 1 item unpriced \(primary IPv4\)$/);
    });

    it("every committed figure names its source and date, and is net of VAT", () => {
        assert.equal(COMMITTED_PRICES.basis, "net");
        const figures = [...Object.values(COMMITTED_PRICES.serverTypes), COMMITTED_PRICES.volumePerGbMonth, COMMITTED_PRICES.objectStorageBaseMonthly, COMMITTED_PRICES.serverBackupShare];
        for (const figure of figures) {
            assert.ok(figure && figure.source.length > 20 && /^\d{4}-\d{2}-\d{2}$/.test(figure.date), JSON.stringify(figure));
        }
    });

    it("reads the Cloud API's price list for the stack's location: net prices, included traffic in TB, backups as a share", () => {
        const fsn1 = pricesFromApi(RESPONSE, "fsn1", "2026-12-04");
        assert.equal(fsn1.currency, "EUR");
        assert.equal(fsn1.serverTypes.cpx42.monthly, 69.49);
        assert.equal(fsn1.serverTypes.cpx42.includedTrafficTb, 20);
        assert.equal(fsn1.loadBalancerTypes.lb11.monthly, 5.39);
        assert.equal(fsn1.primaryIpv4Monthly?.value, 0.5);
        assert.equal(fsn1.serverBackupShare?.value, 0.2);
        assert.equal(fsn1.volumePerGbMonth?.value, 0.0572);
        assert.match(fsn1.origin, /Hetzner Cloud API \/v1\/pricing, fsn1, 2026-12-04/);
        const ash = pricesFromApi(RESPONSE, "ash", "2026-12-04");
        assert.equal(ash.serverTypes.cpx42.monthly, 77.99, "another location, its own price");
        assert.equal(ash.serverTypes.cpx42.includedTrafficTb, 1);
        assert.equal(ash.serverTypes.cx33, undefined, "cx types are not sold in ash");
    });

    it("prices production whole from a live price list, and says what a change costs", async () => {
        const result = await synth("production");
        const live = pricesFromApi(RESPONSE, "fsn1", "2026-12-04");
        const cost = estimateCost(billableItems(result.resources, result.outputs), live);
        assert.equal(cost.unpriced, 0, JSON.stringify(cost.lines.filter((l) => l.monthly === undefined)));
        const servers = 3 * 35.49 + 3 * 69.49;
        const expected = servers * 1.2 + 6 * 0.5 + 5.39 + 5.0 + cost.lines.filter((l) => l.item.kind === "volume").reduce((sum, l) => sum + (l.item.sizeGb ?? 0) * 0.0572, 0);
        assert.equal(cost.total, Math.round(expected * 100) / 100);
        assert.equal(cost.includedTrafficTb, 6 * 20 + 20);
        const bigger = estimateCost(billableItems((await synth("production", { agentNodes: 4 })).resources, result.outputs), live);
        assert.match(costChange(cost, bigger), /^\+EUR 83\.89 per month \(/, "one more cpx42 agent: 69.49 + 20% backups + its IPv4");
    });

    it("writes the cost into plan.md and the synth's summary", async () => {
        const result = await synth("staging");
        const markdown = planMarkdown(planOf(result));
        assert.match(markdown, /## Monthly cost\n\nEUR 15\.21 per month, net of VAT/);
        assert.match(markdown, /\| server \| compose \| cx33, fsn1 \| 8\.49 \|/);
        assert.match(markdown, /\| primary IPv4 \| compose \| fsn1 \| unpriced \|/);
        assert.match(markdown, /\| \*\*total\*\* \| \| \| \*\*15\.21\*\* \|/);
    });

    describe("the live refresh (GET /v1/pricing)", () => {
        let server: http.Server;
        let url = "";
        let answer: { status: number; body: string } = { status: 200, body: JSON.stringify(RESPONSE) };
        const seen: (string | undefined)[] = [];
        before(async () => {
            server = http.createServer((req, res) => {
                seen.push(req.headers.authorization);
                res.writeHead(answer.status, { "content-type": "application/json" }).end(answer.body);
            });
            await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
            url = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/pricing`;
        });
        after(() => server.close());

        it("sends the token and reads the price list", async () => {
            answer = { status: 200, body: JSON.stringify(RESPONSE) };
            const response = await fetchPricing("tok-123", fetch, url);
            assert.equal(seen.pop(), "Bearer tok-123");
            assert.equal(response.pricing.server_types.length, RESPONSE.pricing.server_types.length);
        });

        it("answers a refused token, an unreachable API and a body without prices in one line each", async () => {
            answer = { status: 401, body: JSON.stringify({ error: { code: "unauthorized", message: "unable to authenticate" } }) };
            await assert.rejects(fetchPricing("bad", fetch, url), /^Error: --live-prices: GET \/v1\/pricing answered 401 \(unauthorized\); check HCLOUD_TOKEN/);
            answer = { status: 200, body: "{}" };
            await assert.rejects(fetchPricing("tok", fetch, url), /answered without a price list/);
            const closed = await freePort();
            await assert.rejects(fetchPricing("tok", fetch, `http://127.0.0.1:${closed}/v1/pricing`), (err: Error) => {
                assert.match(err.message, /^--live-prices: the Hetzner Cloud API did not answer \(.*ECONNREFUSED.*\); run without --live-prices/);
                assert.ok(!err.message.includes("\n"));
                return true;
            });
        });

        it("makes the synth refuse --live-prices without a token, before the program runs", () => {
            const env = { ...process.env };
            delete env.HCLOUD_TOKEN;
            const result = run("node", ["--require", "ts-node/register/transpile-only", "scripts/synth.ts", "--stack", "staging", "--live-prices"], { cwd: PROJECT_DIR, env });
            assert.equal(result.status, 2);
            assert.equal(result.output.trim(), "error: --live-prices needs HCLOUD_TOKEN (a read-only Hetzner Cloud token is enough)");
        });
    });
});
