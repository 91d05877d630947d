/**
 * What the Hetzner resources this program orders cost per month: the committed fallback price list
 * the synth and plan.md use (npm run synth prints the stack's monthly cost from it). A deploy with
 * a Hetzner token refreshes it from the Cloud API's `GET /v1/pricing` (scripts/lib/cost.ts,
 * `npm run synth -- --live-prices`), which answers in the project owner's currency with net and
 * gross prices. Pure data, no Pulumi import.
 *
 * Every figure is NET (VAT excluded) in EUR, for the EU locations (fsn1, nbg1, hel1), with the
 * source it was read from and that source's date. A price this table does not know is left out,
 * never guessed: the estimate then names the item as unpriced (and the live refresh fills it).
 * Hetzner bills hourly up to these monthly caps; new orders since 2026-06-15 pay the raised Cloud
 * Server prices (Hetzner's notice of 2026-05-28), existing servers keep theirs.
 */

export interface PriceSource {
    /** Where the figures were read. */
    source: string;
    /** The date the source gives for them (YYYY-MM-DD). */
    date: string;
}

export interface PriceList {
    currency: string;
    /** "net": VAT excluded (the API's `net`); the VAT rate depends on the customer's country. */
    basis: "net";
    /** Locations the list is valid for. */
    locations: readonly string[];
    /** Monthly cap per server type, with the traffic it includes (TB per month). */
    serverTypes: Readonly<Record<string, { monthly: number; includedTrafficTb: number } & PriceSource>>;
    /** Monthly cap per load balancer type. */
    loadBalancerTypes: Readonly<Record<string, { monthly: number; includedTrafficTb: number } & PriceSource>>;
    /** Per GB (Hetzner's GB = GiB) of volume per month; volumes are 10 GB at least. */
    volumePerGbMonth?: { value: number } & PriceSource;
    /** A primary IPv4 per month (each server's public IPv4); IPv6 is free. */
    primaryIpv4Monthly?: { value: number } & PriceSource;
    /** Server backups cost this share of the server's price (backups: true, production). */
    serverBackupShare?: { value: number } & PriceSource;
    /** Object Storage's monthly base price (1 TB storage and 1 TB egress included), per project. */
    objectStorageBaseMonthly?: { value: number; includedStorageTb: number } & PriceSource;
    /** Traffic beyond what servers include, per TB. */
    trafficPerTb?: { value: number } & PriceSource;
    /** Where the list as a whole came from: "committed table" or "Hetzner Cloud API /v1/pricing". */
    origin: string;
}

/** A third-party snapshot of the Cloud API's net prices after the 2026-06-15 increase (nbg1). */
const SNAPSHOT_2026_09: PriceSource = {
    source: "Cloud API net prices for nbg1 as recorded in a public repository's fallback table (FALLBACK_ASOF 2026-09-08, 'post the April/June 2026 CPX/CCX price increases'); refresh with --live-prices",
    date: "2026-09-08",
};
const server = (monthly: number): { monthly: number; includedTrafficTb: number } & PriceSource => ({ monthly, includedTrafficTb: 20, ...SNAPSHOT_2026_09 });

/** The committed price list (see the header for what it is and is not). */
export const COMMITTED_PRICES: PriceList = {
    currency: "EUR",
    basis: "net",
    locations: ["fsn1", "nbg1", "hel1"],
    // cax*, ccx53/ccx63 and cpx12 had no figure in the sources read: unpriced until refreshed.
    serverTypes: {
        cx23: server(5.49), cx33: server(8.49), cx43: server(15.99), cx53: server(29.49),
        cpx22: server(19.49), cpx32: server(35.49), cpx42: server(69.49), cpx52: server(100.49), cpx62: server(129.99),
        ccx13: server(42.99), ccx23: server(85.99), ccx33: server(138.49), ccx43: server(275.99),
    },
    loadBalancerTypes: {},
    volumePerGbMonth: {
        value: 0.0572,
        source: "Cloud API GET /v1/pricing (fsn1, net), quoted in devantler-tech/platform commit cb791c6; volumes were exempt from the 2026-06-15 increase (Hetzner's notice)",
        date: "2026-05-27",
    },
    serverBackupShare: { value: 0.2, source: "Cloud API GET /v1/pricing server_backup.percentage \"20.0\" (WWW::Hetzner::Cloud::Pricing documentation)", date: "2026-01-01" },
    objectStorageBaseMonthly: { value: 5.0, includedStorageTb: 1, source: "docs.hetzner.com/storage/object-storage/overview, Pricing: base price max. € 5.00 per month, 1 TB storage and 1 TB traffic included", date: "2024-12-06" },
    trafficPerTb: { value: 1.0, source: "Cloud API GET /v1/pricing price_per_tb_traffic (net), quoted in devantler-tech/platform commit cb791c6; 20 TB included per EU server", date: "2026-05-27" },
    origin: "committed table (components/hetzner/prices.ts)",
};
