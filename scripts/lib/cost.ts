/**
 * The monthly Hetzner cost of a synthesized stack (issue 28.7): what it orders (servers by type,
 * their backups and primary IPv4s, volumes by GB, including the volumes the CSI driver creates for
 * Kubernetes claims, load balancers, the backups' Object Storage), priced from the committed
 * table (components/hetzner/prices.ts) or, with a Hetzner token, from the Cloud API's
 * `GET /v1/pricing`. No anchor tool prices a Hetzner plan (Infracost has no Hetzner support).
 */
import { COMMITTED_PRICES, PriceList } from "../../components/hetzner/prices";
import { CliError } from "./cli";
import { reveal } from "./reveal";
import { ResourceRecord } from "./synthesize";

export type BillableKind = "server" | "server backups" | "primary IPv4" | "volume" | "load balancer" | "object storage";

export interface BillableItem {
    kind: BillableKind;
    /** The resource (or claim) it comes from. */
    name: string;
    /** Server or load balancer type; for volumes and backups, what they belong to. */
    type?: string;
    location?: string;
    /** GB, for volumes. */
    sizeGb?: number;
}

export interface CostLine {
    item: BillableItem;
    /** Net price per month; undefined when the price list has none. */
    monthly?: number;
}

export interface CostEstimate {
    lines: CostLine[];
    /** Sum of the priced lines. */
    total: number;
    /** Lines without a price (the total leaves them out). */
    unpriced: number;
    currency: string;
    basis: string;
    origin: string;
    /** Egress the servers include together, TB per month. */
    includedTrafficTb: number;
}

/** Hetzner volumes are at least 10 GB; the CSI driver rounds a claim up to whole GB (GiB). */
const MIN_VOLUME_GB = 10;
const HCLOUD_STORAGE_CLASS = /^hcloud-volumes/;

/** A Kubernetes quantity ("20Gi", "500Mi", "1Ti", "10G") in GiB. */
function gibOf(quantity: unknown): number | undefined {
    const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|K|M|G|T)?$/.exec(String(quantity));
    if (!match) return undefined;
    const scale: Record<string, number> = { Ki: 2 ** -20, Mi: 2 ** -10, Gi: 1, Ti: 2 ** 10, K: 1e3 / 2 ** 30, M: 1e6 / 2 ** 30, G: 1e9 / 2 ** 30, T: 1e12 / 2 ** 30 };
    return Number(match[1]) * (match[2] ? scale[match[2]] : 1 / 2 ** 30);
}

/** Claims on Hetzner volumes anywhere in a resource's inputs (PVCs, claim templates, Helm values). */
function claimsIn(value: unknown, where: string, found: BillableItem[], replicas = 1): void {
    if (Array.isArray(value)) return value.forEach((v, i) => claimsIn(v, `${where}[${i}]`, found, replicas));
    if (value === null || typeof value !== "object") return;
    const record = value as Record<string, unknown>;
    const storageClass = record.storageClassName ?? record.storageClass;
    if (typeof storageClass === "string" && HCLOUD_STORAGE_CLASS.test(storageClass)) {
        const requests = (record.resources as { requests?: { storage?: unknown } } | undefined)?.requests;
        const gib = gibOf(requests?.storage ?? record.size);
        if (gib !== undefined) {
            for (let i = 0; i < replicas; i++) found.push({ kind: "volume", name: where, sizeGb: Math.max(MIN_VOLUME_GB, Math.ceil(gib)) });
        }
        return;
    }
    const ownReplicas = typeof record.replicas === "number" && Array.isArray(record.volumeClaimTemplates) ? record.replicas : replicas;
    for (const [key, v] of Object.entries(record)) claimsIn(v, where, found, key === "volumeClaimTemplates" ? ownReplicas : replicas);
}

/** Everything in the synth that Hetzner bills monthly. */
export function billableItems(resources: readonly ResourceRecord[], outputs: Record<string, unknown> = {}): BillableItem[] {
    const items: BillableItem[] = [];
    for (const resource of resources.filter((r) => r.custom)) {
        const inputs = reveal(resource.inputs) as Record<string, any>;
        switch (resource.type) {
            case "hcloud:index/server:Server": {
                items.push({ kind: "server", name: resource.name, type: inputs.serverType, location: inputs.location });
                if (inputs.backups === true) items.push({ kind: "server backups", name: resource.name, type: inputs.serverType, location: inputs.location });
                const ipv4 = (inputs.publicNets as { ipv4Enabled?: boolean }[] | undefined)?.some((net) => net.ipv4Enabled !== false) ?? true;
                if (ipv4) items.push({ kind: "primary IPv4", name: resource.name, location: inputs.location });
                break;
            }
            case "hcloud:index/volume:Volume":
                items.push({ kind: "volume", name: resource.name, location: inputs.location, sizeGb: Math.max(MIN_VOLUME_GB, Number(inputs.size)) });
                break;
            case "hcloud:index/loadBalancer:LoadBalancer":
                items.push({ kind: "load balancer", name: resource.name, type: inputs.loadBalancerType, location: inputs.location });
                break;
            default:
                if (resource.type.startsWith("kubernetes:")) claimsIn(inputs, resource.name, items);
        }
    }
    const backups = outputs.backups as { endpoint?: unknown } | undefined;
    if (typeof backups?.endpoint === "string" && /\.your-objectstorage\.com/.test(backups.endpoint)) {
        items.push({ kind: "object storage", name: "backups bucket", location: /https:\/\/([a-z0-9]+)\./.exec(backups.endpoint)?.[1] });
    }
    return items;
}

function priceOf(item: BillableItem, prices: PriceList): number | undefined {
    if (item.location !== undefined && item.kind !== "object storage" && !prices.locations.includes(item.location)) return undefined;
    switch (item.kind) {
        case "server":
            return item.type === undefined ? undefined : prices.serverTypes[item.type]?.monthly;
        case "server backups": {
            const server = item.type === undefined ? undefined : prices.serverTypes[item.type]?.monthly;
            return server === undefined || prices.serverBackupShare === undefined ? undefined : server * prices.serverBackupShare.value;
        }
        case "primary IPv4":
            return prices.primaryIpv4Monthly?.value;
        case "volume":
            return prices.volumePerGbMonth === undefined || item.sizeGb === undefined ? undefined : prices.volumePerGbMonth.value * item.sizeGb;
        case "load balancer":
            return item.type === undefined ? undefined : prices.loadBalancerTypes[item.type]?.monthly;
        case "object storage":
            return prices.objectStorageBaseMonthly?.value;
    }
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/** The monthly cost of `items` at `prices`. */
export function estimateCost(items: readonly BillableItem[], prices: PriceList = COMMITTED_PRICES): CostEstimate {
    const lines = items.map((item) => ({ item, monthly: priceOf(item, prices) }));
    const priced = lines.filter((l) => l.monthly !== undefined);
    const includedTrafficTb = items
        .map((i) => (i.kind === "server" && i.type ? prices.serverTypes[i.type]?.includedTrafficTb : i.kind === "load balancer" && i.type ? prices.loadBalancerTypes[i.type]?.includedTrafficTb : 0) ?? 0)
        .reduce((a, b) => a + b, 0);
    return {
        lines,
        total: round2(priced.reduce((sum, l) => sum + (l.monthly ?? 0), 0)),
        unpriced: lines.length - priced.length,
        currency: prices.currency,
        basis: prices.basis,
        origin: prices.origin,
        includedTrafficTb,
    };
}

/** One line: "EUR 123.45 per month, net (committed table ...); 2 items unpriced". */
export function costSummary(cost: CostEstimate): string {
    const unpriced = cost.unpriced > 0 ? `; ${cost.unpriced} item${cost.unpriced === 1 ? "" : "s"} unpriced (${[...new Set(cost.lines.filter((l) => l.monthly === undefined).map((l) => l.item.kind + (l.item.type ? ` ${l.item.type}` : "")))].join(", ")})` : "";
    return `${cost.currency} ${cost.total.toFixed(2)} per month, ${cost.basis} of VAT (${cost.origin})${unpriced}`;
}

/** The change between two estimates, for a pull request's plan diff: "+EUR 12.34 per month". */
export function costChange(before: CostEstimate, after: CostEstimate): string {
    const delta = round2(after.total - before.total);
    const sign = delta > 0 ? "+" : delta < 0 ? "-" : "±";
    return `${sign}${after.currency} ${Math.abs(delta).toFixed(2)} per month (${before.total.toFixed(2)} -> ${after.total.toFixed(2)}, ${after.basis})`;
}

interface ApiMoney { net: string; gross: string }
interface ApiLocationPrice { location: string; price_monthly: ApiMoney; included_traffic?: number; price_per_tb_traffic?: ApiMoney }
/** The parts of `GET /v1/pricing` the estimate reads (docs.hetzner.cloud, "Pricing"). */
export interface PricingResponse {
    pricing: {
        currency: string;
        vat_rate: string;
        volume: { price_per_gb_month: ApiMoney };
        server_backup: { percentage: string };
        primary_ips: { type: string; prices: ApiLocationPrice[] }[];
        server_types: { name: string; prices: ApiLocationPrice[] }[];
        load_balancer_types: { name: string; prices: ApiLocationPrice[] }[];
    };
}

const TB = 2 ** 40;

/**
 * The API's price list for one location, in the committed table's shape. Object Storage is not in
 * the Cloud API's price list: its base price stays the committed one, and says so.
 */
export function pricesFromApi(response: PricingResponse, location: string, fetchedOn: string): PriceList {
    const p = response.pricing;
    const source = { source: `Hetzner Cloud API GET /v1/pricing (${location}, net; VAT rate ${p.vat_rate}%)`, date: fetchedOn };
    const at = (prices: ApiLocationPrice[]) => prices.find((x) => x.location === location);
    const byName = (types: { name: string; prices: ApiLocationPrice[] }[]) => Object.fromEntries(types.flatMap((t) => {
        const price = at(t.prices);
        return price ? [[t.name, { monthly: Number(price.price_monthly.net), includedTrafficTb: Math.round((price.included_traffic ?? 0) / TB), ...source }]] : [];
    }));
    const ipv4 = p.primary_ips.find((ip) => ip.type === "ipv4");
    const ipv4Price = ipv4 ? at(ipv4.prices) : undefined;
    const traffic = p.server_types.map((t) => at(t.prices)?.price_per_tb_traffic).find((x) => x !== undefined);
    return {
        currency: p.currency,
        basis: "net",
        locations: [location],
        serverTypes: byName(p.server_types),
        loadBalancerTypes: byName(p.load_balancer_types),
        volumePerGbMonth: { value: Number(p.volume.price_per_gb_month.net), ...source },
        primaryIpv4Monthly: ipv4Price ? { value: Number(ipv4Price.price_monthly.net), ...source } : undefined,
        serverBackupShare: { value: Number(p.server_backup.percentage) / 100, ...source },
        objectStorageBaseMonthly: COMMITTED_PRICES.objectStorageBaseMonthly,
        trafficPerTb: traffic ? { value: Number(traffic.net), ...source } : undefined,
        origin: `Hetzner Cloud API /v1/pricing, ${location}, ${fetchedOn}`,
    };
}

/** `GET https://api.hetzner.cloud/v1/pricing` with the token; one-line errors. */
export async function fetchPricing(token: string, fetchImpl: typeof fetch = fetch, url = "https://api.hetzner.cloud/v1/pricing"): Promise<PricingResponse> {
    let response: Response;
    try {
        response = await fetchImpl(url, { headers: { Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(15_000) });
    } catch (err) {
        throw new CliError(`--live-prices: the Hetzner Cloud API did not answer (${(err as Error).cause ? String((err as Error & { cause: unknown }).cause) : (err as Error).message}); run without --live-prices to use the committed price table`);
    }
    if (!response.ok) {
        const body = await response.text().catch(() => "");
        const code = /"code"\s*:\s*"([^"]+)"/.exec(body)?.[1];
        throw new CliError(`--live-prices: GET /v1/pricing answered ${response.status}${code ? ` (${code})` : ""}; check HCLOUD_TOKEN (a read-only token is enough), or run without --live-prices`);
    }
    const json = (await response.json()) as Partial<PricingResponse>;
    if (!json.pricing || !Array.isArray(json.pricing.server_types)) throw new CliError("--live-prices: GET /v1/pricing answered without a price list (no pricing.server_types)");
    return json as PricingResponse;
}
