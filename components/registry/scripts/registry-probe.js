// Registry probe (run by Pulumi on the operator's or CI's machine with `node -e`; Node >= 18).
//
// REGISTRY_PROBE=ready: waits until https://<REGISTRY_SERVER>/v2/ answers as a registry (200, or 401
//   asking for credentials) over a certificate Node trusts: DNS points at the stack, the ingress
//   routes the host, the real certificate is issued and the registry serves. That is exactly what
//   `docker push` needs, so the image pushes depend on it. Fails after REGISTRY_WAIT_SECONDS
//   (default 900) naming the last error (a self-signed certificate means certbot / cert-manager has
//   not obtained the real one yet).
// REGISTRY_PROBE=images: prints one line on stdout, `present` when every image in REGISTRY_IMAGES
//   (JSON list of repository names) has the tag REGISTRY_TAG, else `missing: <names>`. An image
//   named in REGISTRY_DIGESTS (JSON, name -> sha256:...; the release record's digests) is asked for
//   by that digest instead, and a missing one fails the probe (exit 1): the deploy stops before any
//   workload moves to an image the record promised but the registry lacks. Credentials
//   REGISTRY_USERNAME / REGISTRY_PASSWORD: Basic auth (distribution's htpasswd), or the token flow of
//   the Docker registry auth spec when the registry answers 401 with a Bearer challenge (ghcr.io, Docker
//   Hub). Fails only when the registry cannot answer at all.
// REGISTRY_SCHEME (default https) exists for tests against a plain-HTTP registry.
"use strict";
const http = require("http");
const https = require("https");

const server = process.env.REGISTRY_SERVER;
const scheme = process.env.REGISTRY_SCHEME || "https";
const username = process.env.REGISTRY_USERNAME || "";
const password = process.env.REGISTRY_PASSWORD || "";
const MANIFEST_TYPES = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

function request(url, { method = "GET", headers = {} } = {}) {
    return new Promise((resolve, reject) => {
        const client = url.startsWith("https:") ? https : http;
        const req = client.request(url, { method, headers, timeout: 15000 }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (chunk) => { body += chunk; });
            res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body }));
        });
        req.on("timeout", () => req.destroy(new Error(`no answer within 15 s`)));
        req.on("error", reject);
        req.end();
    });
}

const basic = () => `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;

/** A Bearer token for `scope` from the realm a 401 names (Docker registry token authentication). */
async function bearerToken(challenge, scope) {
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set("service", params.service);
    url.searchParams.set("scope", scope);
    const res = await request(url.toString(), { headers: username ? { Authorization: basic() } : {} });
    if (res.status !== 200) throw new Error(`token endpoint ${url.origin} answered ${res.status}`);
    const body = JSON.parse(res.body);
    return body.token || body.access_token;
}

async function hasManifest(name, reference) {
    const url = `${scheme}://${server}/v2/${name}/manifests/${encodeURIComponent(reference)}`;
    const headers = { Accept: MANIFEST_TYPES, ...(username ? { Authorization: basic() } : {}) };
    let res = await request(url, { method: "HEAD", headers });
    const challenge = String(res.headers["www-authenticate"] || "");
    if (res.status === 401 && /^Bearer /i.test(challenge)) {
        const token = await bearerToken(challenge, `repository:${name}:pull`);
        res = await request(url, { method: "HEAD", headers: { Accept: MANIFEST_TYPES, Authorization: `Bearer ${token}` } });
    }
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw new Error(`${url} answered ${res.status}${res.status === 401 ? " (are the registry credentials right?)" : ""}`);
}

async function ready() {
    const waitSeconds = Number(process.env.REGISTRY_WAIT_SECONDS || "900");
    const retrySeconds = Number(process.env.REGISTRY_RETRY_SECONDS || "10");
    const url = `${scheme}://${server}/v2/`;
    const deadline = Date.now() + waitSeconds * 1000;
    for (;;) {
        let problem;
        try {
            const res = await request(url);
            if (res.status === 200 || res.status === 401) {
                console.log(`registry ${url} answers (${res.status}) over a trusted certificate`);
                return 0;
            }
            problem = `answered ${res.status}`;
        } catch (err) {
            problem = err.code ? `${err.code}: ${err.message}` : String(err.message || err);
        }
        if (Date.now() >= deadline) {
            console.error(`registry ${url} is not reachable after ${waitSeconds} s: ${problem}. ` +
                "The image push needs it: check that DNS points at the stack (dnsRecords output), that the certificate was issued " +
                "(a self-signed certificate means it was not yet), and that the registry runs; then run pulumi up again.");
            return 1;
        }
        console.log(`registry ${url}: ${problem}; retrying in ${retrySeconds} s`);
        await new Promise((resolve) => setTimeout(resolve, retrySeconds * 1000));
    }
}

async function images() {
    const names = JSON.parse(process.env.REGISTRY_IMAGES || "[]");
    const tag = process.env.REGISTRY_TAG;
    const digests = JSON.parse(process.env.REGISTRY_DIGESTS || "{}");
    const missing = [];
    const missingDigests = [];
    for (const name of names) {
        if (digests[name]) {
            if (!(await hasManifest(name, digests[name]))) missingDigests.push(`${server}/${name}@${digests[name]}`);
        } else if (!(await hasManifest(name, tag))) {
            missing.push(name);
        }
    }
    if (missingDigests.length > 0) {
        console.error(`${missingDigests.join(", ")} not in the registry, though the release record of ${tag} names it there: ` +
            `copy it again (npm run release -- copy --tag ${tag} --stack <stack>); nothing of Archon was changed.`);
        return 1;
    }
    console.log(missing.length === 0 ? "present" : `missing: ${missing.join(", ")}`);
    if (missing.length > 0) {
        console.error(`${missing.map((n) => `${server}/${n}:${tag}`).join(", ")} not in the registry yet: ` +
            "push them (buildImages true, or CI's build-images workflow); the pods pull them by themselves once they exist.");
    }
    return 0;
}

const modes = { ready, images };
const mode = modes[process.env.REGISTRY_PROBE];
if (!server || !mode) {
    console.error("registry probe: set REGISTRY_SERVER and REGISTRY_PROBE (ready | images)");
    process.exit(2);
}
mode().then((code) => process.exit(code), (err) => {
    console.error(`registry probe: ${err && err.message ? err.message : err}`);
    process.exit(1);
});
