/**
 * What a pull request changes, from two offline synths (the base branch's and the pull request's):
 * resources added, replaced, updated and deleted, protected resources touched, images and Helm
 * charts changed, rendered files changed. No credentials: the PR check posts this instead of a
 * `pulumi preview`, which would decrypt production's state (README "Who can read what").
 *
 * "Replaced" is decided as the providers decide it, from the inputs whose change forces a new
 * resource (tables below, read in each provider's source), plus `replaceOnChanges`. A resource
 * whose URN changed without an alias is deleted and added: the engine does not match it either.
 */
import * as fs from "fs";
import * as path from "path";
import { BillableItem, CostEstimate, CostLine, costChange } from "./cost";
import { Plan, planOf } from "./plan";
import { ResourceRecord, SynthResult } from "./synthesize";

/**
 * Inputs (dotted paths, `*` for any array index) whose change replaces the resource, by type.
 * - hcloud: hetznercloud/terraform-provider-hcloud (bridged by pulumi-hcloud), `ForceNew: true` /
 *   `RequiresReplace()` in internal/{server,volume,network,sshkey,loadbalancer}/resource*.go
 *   (commit f81c9af4bfcc): server image, location, user_data, ssh_keys; volume location; ...
 * - kubernetes: pulumi/pulumi-kubernetes provider/pkg/provider/diff.go (v4) `forceNew`, plus
 *   metadata.name/namespace for every kind; Secret data and ConfigMap data too, since the program
 *   sets neither enableSecretMutable nor enableConfigMapMutable on its provider.
 * - random, tls, time: every argument of their resources requires replacement (the bridged
 *   terraform-provider-random/-tls/-time schemas).
 * - command: `triggers` ("Trigger a resource replacement on changes to any of these values",
 *   pulumi-command's schema); a changed script runs again in place.
 */
const REPLACE_ON: Record<string, string[]> = {
    "hcloud:index/server:Server": ["image", "location", "userData", "sshKeys"],
    "hcloud:index/volume:Volume": ["location"],
    "hcloud:index/network:Network": ["ipRange"],
    "hcloud:index/networkSubnet:NetworkSubnet": ["networkId", "type", "networkZone", "ipRange", "vswitchId"],
    "hcloud:index/sshKey:SshKey": ["publicKey"],
    "hcloud:index/loadBalancer:LoadBalancer": ["location", "networkZone"],
    "hcloud:index/loadBalancerNetwork:LoadBalancerNetwork": ["loadBalancerId", "networkId", "subnetId", "ip"],
    "hcloud:index/loadBalancerService:LoadBalancerService": ["loadBalancerId", "protocol", "listenPort"],
    "hcloud:index/loadBalancerTarget:LoadBalancerTarget": ["loadBalancerId", "serverId", "labelSelector", "ip"],
    "hcloud:index/volumeAttachment:VolumeAttachment": ["volumeId", "serverId"],
    "kubernetes:apps/v1:StatefulSet": ["spec.podManagementPolicy", "spec.revisionHistoryLimit", "spec.selector", "spec.serviceName", "spec.volumeClaimTemplates"],
    "kubernetes:apps/v1:Deployment": ["spec.selector"],
    "kubernetes:apps/v1:DaemonSet": ["spec.selector"],
    "kubernetes:batch/v1:Job": ["spec.completions", "spec.parallelism", "spec.selector", "spec.template"],
    "kubernetes:core/v1:PersistentVolumeClaim": ["spec.accessModes", "spec.selector", "spec.storageClassName", "spec.volumeName"],
    "kubernetes:core/v1:Secret": ["type", "data", "stringData"],
    "kubernetes:core/v1:ConfigMap": ["data", "binaryData"],
    "kubernetes:core/v1:Service": ["spec.clusterIP"],
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding": ["roleRef"],
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding": ["roleRef"],
    "kubernetes:storage.k8s.io/v1:StorageClass": ["parameters", "provisioner"],
    "command:local:Command": ["triggers"],
    "command:remote:Command": ["triggers"],
    "command:remote:CopyToRemote": ["triggers"],
};
/** Every argument replaces these. */
const REPLACE_ANY = [/^random:/, /^tls:/, /^time:/];

export interface ResourceChange {
    urn: string;
    type: string;
    name: string;
    /** Changed input paths (dotted). */
    changed: string[];
    /** The changed paths that force a replacement. */
    replacing: string[];
    /** What protects it after the change: protect, retainOnDelete, deleteProtection. */
    protections: string[];
}

export interface PlanDiff {
    stack: string;
    added: ResourceRecord[];
    deleted: ResourceRecord[];
    replaced: ResourceChange[];
    updated: ResourceChange[];
    /**
     * Protected resources deleted, replaced, updated, or whose protection changed: Pulumi's
     * `protect` / `retainOnDelete`, and Hetzner's own `deleteProtection` (the API refuses to delete
     * such a server or volume, so a replacement stops half-way).
     */
    protectedTouched: { type: string; name: string; how: string }[];
    images: { added: string[]; removed: string[] };
    charts: { added: string[]; removed: string[] };
    files: { added: string[]; removed: string[]; changed: string[] };
    /** The monthly Hetzner cost before and after (./cost.ts, the committed price table). */
    cost: CostDiff;
}

/** The monthly cost of the stack before and after, and the billable items whose price changes. */
export interface CostDiff {
    before: CostEstimate;
    after: CostEstimate;
    /** Items added, removed, or changed in type, size, location or price; a missing side is undefined. */
    items: { kind: BillableItem["kind"]; name: string; before?: CostLine; after?: CostLine }[];
}

/** What identifies a billable item across two synths: kind, resource, and its place among equals (claims of one StatefulSet). */
function costKeys(lines: CostLine[]): Map<string, CostLine> {
    const seen = new Map<string, number>();
    return new Map(lines.map((line) => {
        const base = `${line.item.kind}\0${line.item.name}`;
        const n = seen.get(base) ?? 0;
        seen.set(base, n + 1);
        return [`${base}\0${n}`, line];
    }));
}

function costDiff(before: CostEstimate, after: CostEstimate): CostDiff {
    const [a, b] = [costKeys(before.lines), costKeys(after.lines)];
    const same = (x: CostLine, y: CostLine) => JSON.stringify([x.item, x.monthly]) === JSON.stringify([y.item, y.monthly]);
    const items = [...new Set([...a.keys(), ...b.keys()])]
        .filter((key) => !a.has(key) || !b.has(key) || !same(a.get(key)!, b.get(key)!))
        .map((key) => {
            const line = (b.get(key) ?? a.get(key))!;
            return { kind: line.item.kind, name: line.item.name, before: a.get(key), after: b.get(key) };
        });
    return { before, after, items };
}

/** Leaf paths (dotted, `$secret` wrappers dropped) where `a` and `b` differ. */
export function changedPaths(a: unknown, b: unknown, at: string[] = []): string[] {
    if (JSON.stringify(a) === JSON.stringify(b)) return [];
    const object = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object";
    if (object(a) && object(b) && Array.isArray(a) === Array.isArray(b)) {
        const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
        return keys.flatMap((key) => changedPaths(a[key], b[key], key === "$secret" ? at : [...at, key]));
    }
    return [at.join(".") || "(all)"];
}

/** True when `changed` (a dotted path) is `rule` or lies under it; `*` in rules, digits in paths. */
function under(changed: string, rule: string): boolean {
    const c = changed.split(".");
    const r = rule.split(".");
    return r.length <= c.length && r.every((part, i) => part === c[i] || (part === "*" && /^\d+$/.test(c[i])));
}

function replacingPaths(type: string, changed: string[], replaceOnChanges: string[] = []): string[] {
    if (REPLACE_ANY.some((pattern) => pattern.test(type))) return changed;
    const rules = [...(REPLACE_ON[type] ?? []), ...(type.startsWith("kubernetes:") && type !== "kubernetes:helm.sh/v3:Release" ? ["metadata.name", "metadata.namespace"] : []), ...replaceOnChanges.map((p) => p.replace(/\[\*\]/g, ".*"))];
    return changed.filter((p) => rules.some((rule) => under(p, rule)));
}

function readFiles(dir: string): Record<string, string> {
    const found: Record<string, string> = {};
    if (!fs.existsSync(dir)) return found;
    for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
        if (!entry.isFile()) continue;
        const file = path.join(entry.parentPath, entry.name);
        found[path.relative(dir, file).split(path.sep).join("/")] = fs.readFileSync(file, "utf8");
    }
    return found;
}

/** A synth's output directory (`npm run synth -- --out <dir>`) read back. */
export function readSynthDir(dir: string): SynthResult {
    const read = (file: string) => JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")) as unknown;
    if (!fs.existsSync(path.join(dir, "resources.json"))) throw new Error(`${dir} holds no resources.json: give it a directory npm run synth -- --out wrote`);
    const outputs = read("outputs.json") as Record<string, unknown>;
    const stack = ((outputs.stack ?? {}) as { name?: string }).name ?? path.basename(dir);
    return { stack, resources: read("resources.json") as ResourceRecord[], outputs, files: readFiles(path.join(dir, "files")), componentOutputs: {} };
}

function listDiff(before: string[], after: string[]): { added: string[]; removed: string[] } {
    return { added: after.filter((x) => !before.includes(x)), removed: before.filter((x) => !after.includes(x)) };
}

/** Pulumi's protections and Hetzner's delete protection, as named in the diff. */
function protections(resource: ResourceRecord): string[] {
    return [
        resource.options.protect ? "protect" : "",
        resource.options.retainOnDelete ? "retainOnDelete" : "",
        resource.type.startsWith("hcloud:") && (resource.inputs as { deleteProtection?: unknown }).deleteProtection === true ? "deleteProtection" : "",
    ].filter(Boolean);
}

export function planDiff(base: SynthResult, head: SynthResult): PlanDiff {
    const basePlan: Plan = planOf(base);
    const headPlan: Plan = planOf(head);
    const baseCustom = base.resources.filter((r) => r.custom);
    const headCustom = head.resources.filter((r) => r.custom);
    const baseByUrn = new Map(baseCustom.map((r) => [r.urn, r]));
    const matched = new Set<string>();
    const diff: PlanDiff = {
        stack: head.stack, added: [], deleted: [], replaced: [], updated: [], protectedTouched: [],
        images: { added: [], removed: [] }, charts: { added: [], removed: [] }, files: { added: [], removed: [], changed: [] },
        cost: costDiff(basePlan.cost, headPlan.cost),
    };
    for (const resource of headCustom) {
        const before = [resource.urn, ...(resource.options.aliases ?? [])].map((urn) => baseByUrn.get(urn)).find((r) => r !== undefined);
        if (!before) {
            diff.added.push(resource);
            continue;
        }
        matched.add(before.urn);
        const changed = changedPaths(before.inputs, resource.inputs);
        const guarded = protections(before);
        const now = protections(resource);
        if (guarded.join() !== now.join()) {
            diff.protectedTouched.push({ type: resource.type, name: resource.name, how: `protection ${guarded.join("+") || "none"} -> ${now.join("+") || "none"}` });
        }
        if (changed.length === 0) continue;
        const change: ResourceChange = {
            urn: resource.urn, type: resource.type, name: resource.name, changed,
            replacing: replacingPaths(resource.type, changed, resource.options.replaceOnChanges),
            protections: now,
        };
        (change.replacing.length > 0 ? diff.replaced : diff.updated).push(change);
        if (guarded.length > 0) diff.protectedTouched.push({ type: resource.type, name: resource.name, how: `${change.replacing.length > 0 ? `REPLACED (${change.replacing.join(", ")})` : `updated (${changed.join(", ")})`}; ${guarded.join("+")}` });
    }
    for (const resource of baseCustom) {
        if (matched.has(resource.urn)) continue;
        diff.deleted.push(resource);
        const guarded = protections(resource);
        if (guarded.length > 0) diff.protectedTouched.push({ type: resource.type, name: resource.name, how: `DELETED; ${guarded.join("+")}` });
    }
    diff.images = listDiff(basePlan.images, headPlan.images);
    diff.charts = listDiff(basePlan.charts, headPlan.charts);
    const baseFiles = Object.keys(base.files);
    const headFiles = Object.keys(head.files);
    diff.files = { ...listDiff(baseFiles, headFiles), changed: headFiles.filter((f) => f in base.files && base.files[f] !== head.files[f]).sort() };
    return diff;
}

/** True when a protected or retained resource would be deleted or replaced. */
export function losesProtected(diff: PlanDiff): boolean {
    return diff.protectedTouched.some((t) => /^(DELETED|REPLACED)/.test(t.how));
}

const code = (text: string) => `\`${text.replace(/`/g, "'")}\``;

/** The monthly cost before -> after, and a table of the items whose price changes (unpriced ones named so). */
function costChangeMarkdown(cost: CostDiff): string[] {
    const { before, after } = cost;
    const unpriced = [...new Set(after.lines.filter((l) => l.monthly === undefined).map((l) => `${l.item.kind} ${l.item.name}`))];
    const notCounted = unpriced.length > 0 ? `; unpriced, so not in the totals: ${unpriced.join(", ")}` : "";
    const head = before.total === after.total && cost.items.length === 0
        ? `**Monthly cost**: no change, ${after.currency} ${after.total.toFixed(2)} per month (${after.basis}), ${after.origin}${notCounted}`
        : `**Monthly cost**: ${costChange(before, after)}, ${after.origin}${notCounted}`;
    if (cost.items.length === 0) return [head, ""];
    const what = (line: CostLine | undefined) => (line === undefined ? "none" : [line.item.type, line.item.sizeGb !== undefined ? `${line.item.sizeGb} GB` : undefined, line.item.location].filter(Boolean).join(", ") || "-");
    const money = (line: CostLine | undefined) => (line === undefined ? "0.00" : line.monthly === undefined ? "unpriced" : line.monthly.toFixed(2));
    const delta = (x: CostLine | undefined, y: CostLine | undefined) => {
        if ((x !== undefined && x.monthly === undefined) || (y !== undefined && y.monthly === undefined)) return "unpriced";
        const d = Math.round(((y?.monthly ?? 0) - (x?.monthly ?? 0)) * 100) / 100;
        return `${d > 0 ? "+" : d < 0 ? "-" : "±"}${Math.abs(d).toFixed(2)}`;
    };
    return [
        head,
        "",
        `| item | resource | before | after | ${after.currency}/month before | ${after.currency}/month after | change |`,
        "| --- | --- | --- | --- | ---: | ---: | ---: |",
        ...cost.items.map((i) => `| ${i.kind} | ${i.name} | ${what(i.before)} | ${what(i.after)} | ${money(i.before)} | ${money(i.after)} | ${delta(i.before, i.after)} |`),
        "",
    ];
}

/** The diff as the Markdown a pull request shows. */
export function planDiffMarkdown(diff: PlanDiff, title: string): string {
    const lines: string[] = [
        `### ${title}`,
        "",
        `| added | replaced | updated | deleted | protected touched |`,
        `| ---: | ---: | ---: | ---: | ---: |`,
        `| ${diff.added.length} | ${diff.replaced.length} | ${diff.updated.length} | ${diff.deleted.length} | ${diff.protectedTouched.length} |`,
        "",
    ];
    lines.push(...costChangeMarkdown(diff.cost));
    if (diff.protectedTouched.length > 0) {
        lines.push("**Protected resources touched**", "", ...diff.protectedTouched.map((t) => `- ${code(t.type)} ${t.name}: ${t.how}`), "");
    }
    const section = (heading: string, items: string[]) => {
        if (items.length > 0) lines.push(`<details><summary>${heading} (${items.length})</summary>`, "", ...items, "", "</details>", "");
    };
    section("Replaced", diff.replaced.map((c) => `- ${code(c.type)} ${c.name}: ${c.replacing.map(code).join(", ")}`));
    section("Deleted", diff.deleted.map((r) => `- ${code(r.type)} ${r.name}`));
    section("Added", diff.added.map((r) => `- ${code(r.type)} ${r.name}`));
    section("Updated", diff.updated.map((c) => `- ${code(c.type)} ${c.name}: ${c.changed.slice(0, 8).map(code).join(", ")}${c.changed.length > 8 ? `, ... (${c.changed.length} inputs)` : ""}`));
    const changes = (what: string, list: { added: string[]; removed: string[] }) => [...list.removed.map((x) => `- removed ${what} ${code(x)}`), ...list.added.map((x) => `- added ${what} ${code(x)}`)];
    section("Images changed", changes("image", diff.images));
    section("Helm charts changed", changes("chart", diff.charts));
    section("Rendered files changed", [...diff.files.removed.map((f) => `- removed ${code(f)}`), ...diff.files.added.map((f) => `- added ${code(f)}`), ...diff.files.changed.map((f) => `- changed ${code(f)}`)]);
    if (diff.added.length + diff.replaced.length + diff.updated.length + diff.deleted.length + diff.images.added.length + diff.charts.added.length + diff.files.changed.length === 0) lines.push("No change.", "");
    return lines.join("\n");
}
