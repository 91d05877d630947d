// DNS preflight (run by Pulumi on the operator's or CI's machine with `node -e`): every public host
// of the stack must resolve to the ingress address before the steps that need TLS run (certbot /
// cert-manager ask Let's Encrypt, whose HTTP-01 check connects to what the name resolves to; the
// image push needs registry.<domain>'s real certificate). Retries until DNS_WAIT_SECONDS have
// passed, then fails naming every record that is missing or points elsewhere.
//
// Environment: DNS_RECORDS = JSON [{"host": "archon.example.com", "type": "A" | "AAAA", "value": "203.0.113.10"}],
// DNS_WAIT_SECONDS (default 600), DNS_RETRY_SECONDS (default 15).
// An A record must resolve to exactly its value. AAAA records are optional (Let's Encrypt uses IPv4
// then), but when a name has IPv6 addresses they must be exactly the expected one: Let's Encrypt
// prefers IPv6, so a stray AAAA record fails every validation.
"use strict";
const dns = require("dns");

const records = JSON.parse(process.env.DNS_RECORDS || "[]");
const waitSeconds = Number(process.env.DNS_WAIT_SECONDS || "600");
const retrySeconds = Number(process.env.DNS_RETRY_SECONDS || "15");

function lookup(host, family) {
    return new Promise((resolve) => {
        dns.lookup(host, { all: true, family }, (err, addresses) => {
            if (err) resolve({ error: err.code || String(err), addresses: [] });
            else resolve({ addresses: [...new Set(addresses.map((a) => a.address.toLowerCase()))].sort() });
        });
    });
}

/** The records that do not hold yet, each with what the name resolves to now. */
async function problems() {
    const found = [];
    for (const record of records) {
        const family = record.type === "AAAA" ? 6 : 4;
        const expected = String(record.value).toLowerCase();
        const { addresses, error } = await lookup(record.host, family);
        const optional = record.type === "AAAA" && addresses.length === 0;
        if (optional) continue;
        if (addresses.length === 1 && addresses[0] === expected) continue;
        found.push({ ...record, now: addresses.length > 0 ? `resolves to ${addresses.join(", ")}` : `does not resolve (${error || "no address"})` });
    }
    return found;
}

async function main() {
    const deadline = Date.now() + waitSeconds * 1000;
    for (;;) {
        const open = await problems();
        if (open.length === 0) {
            console.log(`DNS preflight: ${records.map((r) => `${r.host} ${r.type} ${r.value}`).join("; ")}: ok`);
            return 0;
        }
        const lines = open.map((r) => `  ${r.host}  ${r.type}  ${r.value}    (${r.host} ${r.now})`);
        if (Date.now() >= deadline) {
            console.error([
                `DNS preflight failed: ${open.length} record(s) do not point at the stack yet, so no TLS certificate can be issued:`,
                ...lines,
                "Create these records at your DNS provider (or set archon-infra:dnsZone to the Hetzner DNS zone and the program manages them),",
                "wait until they resolve (dig +short <host>), then run pulumi up again.",
            ].join("\n"));
            return 1;
        }
        console.log(`DNS preflight: waiting for ${open.length} record(s), retrying in ${retrySeconds} s:\n${lines.join("\n")}`);
        await new Promise((resolve) => setTimeout(resolve, retrySeconds * 1000));
    }
}

main().then((code) => process.exit(code), (err) => {
    console.error(`DNS preflight: ${err && err.stack ? err.stack : err}`);
    process.exit(1);
});
