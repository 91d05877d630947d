/**
 * A reviewer's summary of a synth (issue 10.6): what the stack would create, by component and by
 * type, which hosts it answers on, which images (with tags) and charts it runs, and what is
 * protected from deletion. The synth prints the short form and writes the long one as plan.md.
 */
import { parse as parseYaml } from "yaml";
import { COMMITTED_PRICES, PriceList } from "../../components/hetzner/prices";
import { CostEstimate, billableItems, costSummary, estimateCost } from "./cost";
import { reveal } from "./reveal";
import { ResourceRecord, SynthResult } from "./synthesize";

export interface Plan {
    stack: string;
    target?: string;
    environment?: string;
    resources: number;
    components: number;
    files: number;
    /** Custom resources under each component (its direct children), by "Type name". */
    byComponent: [string, number][];
    /** Custom resources by Pulumi type token. */
    byType: [string, number][];
    publicHosts: string[];
    /** Container images as name:tag (digest kept when pinned), deduplicated. */
    images: string[];
    /** Helm charts as chart@version. */
    charts: string[];
    /** Resources Pulumi will not delete: name, type and the options that hold them. */
    protectedResources: { name: string; type: string; how: string[] }[];
    /** What Hetzner bills for it per month (./cost.ts). */
    cost: CostEstimate;
}

const shortType = (type: string) => type.split(":").pop() ?? type;

function counts(keys: string[]): [string, number][] {
    const map = new Map<string, number>();
    for (const key of keys) map.set(key, (map.get(key) ?? 0) + 1);
    return [...map].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1));
}

/** Every `image:` string in Kubernetes objects (containers, init containers, jobs). */
function imagesIn(value: unknown, found: Set<string>): void {
    if (Array.isArray(value)) return value.forEach((v) => imagesIn(v, found));
    if (value === null || typeof value !== "object") return;
    for (const [key, v] of Object.entries(value)) {
        if (key === "image" && typeof v === "string") found.add(v);
        else imagesIn(v, found);
    }
}

export function planOf(result: SynthResult, prices: PriceList = COMMITTED_PRICES): Plan {
    const custom = result.resources.filter((r) => r.custom);
    const byUrn = new Map(result.resources.map((r) => [r.urn, r]));
    const componentOf = (r: ResourceRecord) => {
        const parent = byUrn.get(r.parent);
        return parent ? `${shortType(parent.type)} ${parent.name}` : "(stack)";
    };
    const images = new Set<string>();
    const charts = new Set<string>();
    for (const resource of custom) {
        const inputs = reveal(resource.inputs) as Record<string, unknown>;
        if (resource.type === "kubernetes:helm.sh/v3:Release") {
            charts.add(`${String(inputs.chart)}@${String(inputs.version ?? "?")}`);
        } else if (resource.type.startsWith("kubernetes:")) {
            imagesIn(inputs.spec, images);
        }
    }
    for (const [file, text] of Object.entries(result.files)) {
        if (!/(^|\/)docker-compose\.ya?ml$/.test(file)) continue;
        const compose = parseYaml(text) as { services?: Record<string, { image?: unknown }> } | null;
        for (const service of Object.values(compose?.services ?? {})) if (typeof service.image === "string") images.add(service.image);
    }
    const stackOutput = (result.outputs.stack ?? {}) as { target?: string; environment?: string };
    const hosts = Array.isArray(result.outputs.publicHosts) ? (result.outputs.publicHosts as unknown[]).filter((h): h is string => typeof h === "string") : [];
    return {
        stack: result.stack,
        target: stackOutput.target,
        environment: stackOutput.environment,
        resources: custom.length,
        components: result.resources.filter((r) => !r.custom).length,
        files: Object.keys(result.files).length,
        byComponent: counts(custom.map(componentOf)),
        byType: counts(custom.map((r) => r.type)),
        publicHosts: [...hosts].sort(),
        images: [...images].sort(),
        charts: [...charts].sort(),
        protectedResources: custom
            .filter((r) => r.options.protect || r.options.retainOnDelete)
            .map((r) => ({ name: r.name, type: r.type, how: [r.options.protect ? "protect" : "", r.options.retainOnDelete ? "retainOnDelete" : ""].filter(Boolean) }))
            .sort((a, b) => (a.name < b.name ? -1 : 1)),
        cost: estimateCost(billableItems(result.resources, result.outputs), prices),
    };
}

function costMarkdown(cost: CostEstimate): string[] {
    const money = (n: number | undefined) => (n === undefined ? "unpriced" : `${n.toFixed(2)}`);
    const what = (l: CostEstimate["lines"][number]) => [l.item.type, l.item.sizeGb !== undefined ? `${l.item.sizeGb} GB` : undefined, l.item.location].filter(Boolean).join(", ");
    return [
        "## Monthly cost",
        "",
        `${costSummary(cost)}. Hetzner bills hourly up to these monthly caps; VAT is added at the customer's country's rate. The servers include ${cost.includedTrafficTb} TB of egress per month together. Object Storage's base price is per Hetzner project, shared with any other stack in it.`,
        "",
        `| item | resource | what | ${cost.currency} per month |`,
        "| --- | --- | --- | ---: |",
        ...cost.lines.map((l) => `| ${l.item.kind} | ${l.item.name} | ${what(l)} | ${money(l.monthly)} |`),
        `| **total** | | | **${cost.total.toFixed(2)}** |`,
        "",
    ];
}

/** plan.md: the whole plan as Markdown tables a pull request can show. */
export function planMarkdown(plan: Plan): string {
    const lines = [
        `# Plan: ${plan.stack}${plan.target ? ` (target ${plan.target}, environment ${plan.environment ?? "?"})` : ""}`,
        "",
        `${plan.resources} resources in ${plan.components} components; ${plan.files} rendered files. Written by \`npm run synth\` (offline, under mocks).`,
        "",
        "## Public hosts",
        "",
        ...(plan.publicHosts.length > 0 ? plan.publicHosts.map((h) => `- https://${h}`) : ["- (none)"]),
        "",
        "## Images",
        "",
        ...plan.images.map((i) => `- \`${i}\``),
        ...(plan.charts.length > 0 ? ["", "## Helm charts", "", ...plan.charts.map((c) => `- \`${c}\``)] : []),
        "",
        "## Protected from deletion",
        "",
        ...(plan.protectedResources.length > 0 ? plan.protectedResources.map((p) => `- ${p.name} (\`${p.type}\`): ${p.how.join(", ")}`) : ["- (nothing)"]),
        "",
        ...costMarkdown(plan.cost),
        "## Resources by component",
        "",
        "| component | resources |",
        "| --- | ---: |",
        ...plan.byComponent.map(([c, n]) => `| ${c} | ${n} |`),
        "",
        "## Resources by type",
        "",
        "| type | count |",
        "| --- | ---: |",
        ...plan.byType.map(([t, n]) => `| \`${t}\` | ${n} |`),
        "",
    ];
    return lines.join("\n");
}

/** The few lines the synth prints after its count line. */
export function planSummary(plan: Plan, planFile: string): string {
    const tag = (image: string) => image.split("/").pop() ?? image;
    const archon = plan.images.filter((image) => /^archon-/.test(tag(image)));
    const byComponentType = counts(plan.byComponent.flatMap(([component, n]) => Array<string>(n).fill(component.split(" ")[0])));
    return [
        `  public hosts: ${plan.publicHosts.join(", ") || "(none)"}`,
        `  images: ${archon.map(tag).join(", ")} and ${plan.images.length - archon.length} pinned third-party images`,
        ...(plan.charts.length > 0 ? [`  charts: ${plan.charts.join(", ")}`] : []),
        `  protected: ${plan.protectedResources.map((p) => `${p.name} (${shortType(p.type)})`).join(", ") || "(nothing)"}`,
        `  monthly cost: ${costSummary(plan.cost)}`,
        `  resources by component: ${byComponentType.map(([c, n]) => `${c} ${n}`).join(", ")}`,
        `  plan: ${planFile}`,
    ].join("\n");
}
