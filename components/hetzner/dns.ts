/**
 * The DNS records TLS needs: every public host of the stack (archon, mcp, supabase, registry,
 * grafana, ... `.<domain>`) must resolve to the ingress address (the Compose host, the load
 * balancer or the single k3s node) before certbot / cert-manager can pass Let's Encrypt's HTTP-01
 * check and before anything pushes to `registry.<domain>`.
 *
 * - With `dnsZone` set (a zone in Hetzner's DNS, managed through the Cloud API), the program owns
 *   one A and one AAAA RRSet per host in that zone.
 * - Always: the records are the `dnsRecords` stack output, and a preflight (preflight/dns-preflight.js,
 *   run with `node -e` on the machine running `pulumi up`) waits until every host resolves to the
 *   right address, then lets the certificate steps run; after its wait it fails naming each record
 *   that is missing or wrong. With a managed zone it waits for the records to propagate.
 */
import * as fs from "fs";
import * as path from "path";
import * as command from "@pulumi/command";
import * as hcloud from "@pulumi/hcloud";
import * as pulumi from "@pulumi/pulumi";

/** The preflight's source; it runs as `node -e <source>`, so its text is part of the step's inputs. */
export const DNS_PREFLIGHT_SCRIPT = fs.readFileSync(path.join(__dirname, "preflight", "dns-preflight.js"), "utf8");

/** TTL of the managed records, seconds: short, so a replaced server or balancer is found soon. */
export const DNS_TTL_SECONDS = 300;

/** One record the stack needs. */
export interface DnsRecord {
    /** Fully qualified host, e.g. `archon.staging.example.com`. */
    host: string;
    type: "A" | "AAAA";
    /** The ingress address. */
    value: string;
}

/** A and AAAA records for every host, sorted by host. */
export function dnsRecords(hosts: string[], ipv4: string, ipv6?: string): DnsRecord[] {
    return [...new Set(hosts)].sort().flatMap((host): DnsRecord[] => [
        { host, type: "A", value: ipv4 },
        ...(ipv6 ? [{ host, type: "AAAA" as const, value: ipv6 }] : []),
    ]);
}

/** The RRSet name of `host` inside `zone`: `@` for the apex, else the labels before the zone. */
export function rrsetName(host: string, zone: string): string {
    if (host === zone) return "@";
    if (!host.endsWith(`.${zone}`)) throw new Error(`${host} is not inside the DNS zone ${zone}`);
    return host.slice(0, -(zone.length + 1));
}

export interface PublicDnsArgs {
    /** Every public host the ingress serves (Workloads.hosts). */
    hosts: string[];
    /** Ingress IPv4 (Platform.ingressIpv4). */
    ipv4: pulumi.Input<string>;
    /** Ingress IPv6 (Platform.ingressIpv6); unset = no AAAA records. */
    ipv6?: pulumi.Input<string>;
    /** Config `dnsZone`: a Hetzner DNS zone containing `domain`; unset = records are the operator's job. */
    zone?: string;
    /** How long the preflight waits for the records, seconds. Default 600 (time to create them by hand). */
    waitSeconds?: number;
    labels?: Record<string, string>;
}

export class PublicDns extends pulumi.ComponentResource {
    /** The records, as the `dnsRecords` stack output shows them. */
    public readonly records: pulumi.Output<DnsRecord[]>;
    /** The preflight: every certificate-dependent step depends on it. */
    public readonly preflight: pulumi.Resource;
    /** True when the program manages the records (`dnsZone` set). */
    public readonly managed: boolean;

    constructor(name: string, args: PublicDnsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("archon:infra:PublicDns", name, {}, opts);
        this.records = pulumi.all([args.ipv4, args.ipv6]).apply(([ipv4, ipv6]) => dnsRecords(args.hosts, ipv4, ipv6));
        this.managed = args.zone !== undefined;
        const rrsets: hcloud.ZoneRrset[] = [];
        if (args.zone !== undefined) {
            const zone = args.zone;
            const addresses: [DnsRecord["type"], pulumi.Input<string> | undefined][] = [["A", args.ipv4], ["AAAA", args.ipv6]];
            for (const host of [...new Set(args.hosts)].sort()) {
                for (const [type, value] of addresses) {
                    if (value === undefined) continue;
                    rrsets.push(new hcloud.ZoneRrset(`${host}-${type}`, {
                        zone,
                        name: rrsetName(host, zone),
                        type,
                        ttl: DNS_TTL_SECONDS,
                        records: [{ value, comment: "archon-infra" }],
                        labels: args.labels,
                    }, { parent: this }));
                }
            }
        }
        const recordsJson = this.records.apply((records) => JSON.stringify(records));
        this.preflight = new command.local.Command("dns-preflight", {
            interpreter: ["node", "-e"],
            create: DNS_PREFLIGHT_SCRIPT,
            environment: { DNS_RECORDS: recordsJson, DNS_WAIT_SECONDS: String(args.waitSeconds ?? 600) },
            // Runs again whenever a record changes (a new server or balancer address).
            triggers: [recordsJson],
        }, { parent: this, dependsOn: rrsets });
        this.registerOutputs({ records: this.records, managed: this.managed });
    }
}
