/**
 * The Hetzner Cloud server types this project may order: ONE table, read by config validation
 * (config.ts: known type, location, CPU architecture, the Compose host's memory budget) and by the
 * policy pack's allowlist (policies/rules/hetzner-server-types.ts). Pure data, no Pulumi import.
 *
 * Current line-up only. CX Gen 2 (cx22..cx52) and CPX Gen 1 (cpx11..cpx51) were deprecated on
 * 2025-10-16 and removed from the API (docs.hetzner.cloud/changelog#2025-10-16-server-types-deprecated;
 * hetznercloud/packer-plugin-hcloud#317, hetznercloud/cli#1211, hetznercloud/terraform-provider-hcloud#1233):
 * ordering them fails with `Server Type "cpx11" is unavailable in "nbg1" and can no longer be ordered`.
 * Their successors are CX Gen 3 (cx23..cx53) and CPX Gen 2 (cpx12..cpx62).
 *
 * Availability is per location since the API's server type `locations` property (hcloud CLI and
 * terraform-provider-hcloud v1.53.0): CX and CAX are sold in the EU locations only; CPX and CCX
 * everywhere. cx43/cx53 were not orderable in nbg1 when last checked; check
 * `hcloud server-type describe <type>` before adding a location here.
 */

/** Hetzner's locations, by network zone. */
export const EU_LOCATIONS = ["fsn1", "nbg1", "hel1"] as const;
export const ALL_LOCATIONS = ["fsn1", "nbg1", "hel1", "ash", "hil", "sin"] as const;
export type HetznerLocation = (typeof ALL_LOCATIONS)[number];

export interface ServerTypeSpec {
    /** Virtual CPUs (shared, except ccx: dedicated). */
    vcpus: number;
    /** Memory in GB as Hetzner sells it (GiB). */
    memoryGb: number;
    architecture: "x86" | "arm";
    /** Locations where the type can be ordered. */
    locations: readonly HetznerLocation[];
}

const cx = (vcpus: number, memoryGb: number, locations: readonly HetznerLocation[] = EU_LOCATIONS): ServerTypeSpec => ({ vcpus, memoryGb, architecture: "x86", locations });
const cpx = (vcpus: number, memoryGb: number): ServerTypeSpec => ({ vcpus, memoryGb, architecture: "x86", locations: ALL_LOCATIONS });
const cax = (vcpus: number, memoryGb: number): ServerTypeSpec => ({ vcpus, memoryGb, architecture: "arm", locations: EU_LOCATIONS });
const ccx = (vcpus: number, memoryGb: number): ServerTypeSpec => ({ vcpus, memoryGb, architecture: "x86", locations: ALL_LOCATIONS });

/** Every server type this project may order, smallest first within each family. */
export const HETZNER_SERVER_TYPES: Readonly<Record<string, ServerTypeSpec>> = {
    // CX Gen 3: shared Intel/AMD vCPUs, cost-optimised, EU only.
    cx23: cx(2, 4), cx33: cx(4, 8), cx43: cx(8, 16, ["fsn1", "hel1"]), cx53: cx(16, 32, ["fsn1", "hel1"]),
    // CPX Gen 2: shared AMD vCPUs, every location.
    cpx12: cpx(1, 2), cpx22: cpx(2, 4), cpx32: cpx(4, 8), cpx42: cpx(8, 16), cpx52: cpx(12, 24), cpx62: cpx(16, 32),
    // CAX: shared Ampere (arm64) vCPUs, EU only.
    cax11: cax(2, 4), cax21: cax(4, 8), cax31: cax(8, 16), cax41: cax(16, 32),
    // CCX: dedicated AMD vCPUs, every location.
    ccx13: ccx(2, 8), ccx23: ccx(4, 16), ccx33: ccx(8, 32), ccx43: ccx(16, 64), ccx53: ccx(32, 128), ccx63: ccx(48, 192),
};

/** Types production refuses: 4 GB and less cannot hold Supabase and Archon (and k3s) together. */
export const PRODUCTION_DENIED_SERVER_TYPES: readonly string[] = Object.entries(HETZNER_SERVER_TYPES)
    .filter(([, spec]) => spec.memoryGb <= 4)
    .map(([name]) => name);

/**
 * Memory the host itself keeps (kernel, systemd, sshd, dockerd, containerd, page cache floor):
 * not available to containers.
 */
export const HOST_RESERVED_MIB = 1024;
/** Share of the rest the containers' reservations may claim; the remainder absorbs bursts above them. */
export const RESERVATION_SHARE = 0.8;

/** MiB the containers of a host of `type` may reserve in total. */
export function reservableMemoryMib(type: string): number {
    const spec = HETZNER_SERVER_TYPES[type];
    if (!spec) throw new Error(`unknown server type ${type}`);
    return Math.floor((spec.memoryGb * 1024 - HOST_RESERVED_MIB) * RESERVATION_SHARE);
}

/** Families from cheapest per GB (cost-optimised shared vCPUs) to dearest (dedicated vCPUs). */
const FAMILY_ORDER = ["cx", "cpx", "cax", "ccx"];
const familyRank = (type: string): number => FAMILY_ORDER.indexOf(/^[a-z]+/.exec(type)?.[0] ?? "");

/**
 * The smallest types (least memory, then the cheaper family, then fewest vCPUs) sold in `location` with the
 * architecture `architecture` whose reservable memory holds `reservedMib`; the first is THE fit.
 */
export function typesThatFit(reservedMib: number, location: string, architecture: ServerTypeSpec["architecture"]): string[] {
    return Object.entries(HETZNER_SERVER_TYPES)
        .filter(([name, spec]) => spec.architecture === architecture && (spec.locations as readonly string[]).includes(location) && reservableMemoryMib(name) >= reservedMib)
        .sort(([a, x], [b, y]) => x.memoryGb - y.memoryGb || familyRank(a) - familyRank(b) || x.vcpus - y.vcpus || a.localeCompare(b))
        .map(([name]) => name);
}

/**
 * Null when `type` holds `reservedMib` of container memory reservations with headroom; otherwise
 * one sentence naming the total (with `detail`, e.g. the largest reservations) and the smallest type
 * in `location` that fits, as the command that sets it.
 */
export function memoryBudgetProblem(type: string, reservedMib: number, location: string, detail?: string): string | null {
    const spec = HETZNER_SERVER_TYPES[type];
    if (!spec) return `${type} is not a known Hetzner server type`;
    const budget = reservableMemoryMib(type);
    if (reservedMib <= budget) return null;
    const all = typesThatFit(reservedMib, location, spec.architecture);
    // THE fit first, then the other types of the same memory (a different price/CPU trade-off).
    const fits = all.filter((t) => HETZNER_SERVER_TYPES[t].memoryGb === HETZNER_SERVER_TYPES[all[0]]?.memoryGb);
    const advice = fits.length > 0 ? `use ${fits[0]}${fits.length > 1 ? ` (or ${fits.slice(1).join(", ")})` : ""}: pulumi config set serverType ${fits[0]}` : `no ${spec.architecture} type in ${location} fits; reduce the services' memory reservations`;
    return `${type} (${spec.memoryGb} GB) leaves ${budget} MiB for containers, but the Compose services reserve ${reservedMib} MiB${detail ? ` (${detail})` : ""}; ${advice}`;
}
