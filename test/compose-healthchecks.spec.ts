/**
 * Every long-running service of the Compose project has a health check (one-shots excepted), and
 * the program its check runs exists in its image. Which binaries an image has is read from the
 * image's own Dockerfile at the pinned version (IMAGE_TOOLS, with the source of each claim and the
 * tag it was read at); an image the table does not know, or at another tag than the claim's, fails
 * the test, so a new service or a version bump brings its citation. The Archon images are judged by
 * the base of the Dockerfile stage this repository builds each from. Whether the images really
 * hold these programs is the real-Docker system test's to prove (issue 22).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { ARCHON_BUILDS, ArchonImageName, INFRA_ROOT } from "../components/registry/build-context";
import { synth } from "./helpers";

/**
 * Image repository (Archon images: their name) -> programs a health check may run in it, where that
 * is stated, and the tag it was read at (a claim holds for that version: another tag needs it read again).
 */
const IMAGE_TOOLS: Record<string, { tools: string[]; source: string; tag?: string }> = {
    "prom/prometheus": { tools: ["wget"], source: "prometheus/prometheus v3.7.3 Dockerfile: FROM quay.io/prometheus/busybox (busybox wget)", tag: "v3.7.3" },
    "prom/alertmanager": { tools: ["wget"], source: "prometheus/alertmanager v0.29.0 Dockerfile: FROM quay.io/prometheus/busybox", tag: "v0.29.0" },
    "prom/node-exporter": { tools: ["wget"], source: "prometheus/node_exporter v1.10.2 Dockerfile: FROM quay.io/prometheus/busybox", tag: "v1.10.2" },
    "prom/blackbox-exporter": { tools: ["wget"], source: "prometheus/blackbox_exporter v0.27.0 Dockerfile: FROM quay.io/prometheus/busybox-${OS}-${ARCH}", tag: "v0.27.0" },
    "quay.io/prometheuscommunity/postgres-exporter": { tools: ["wget"], source: "prometheus-community/postgres_exporter v0.18.1 Dockerfile: FROM quay.io/prometheus/busybox-${OS}-${ARCH}", tag: "v0.18.1" },
    "grafana/grafana": { tools: ["wget"], source: "grafana/grafana Dockerfile: ARG BASE_IMAGE=alpine (busybox wget)" },
    "grafana/loki": { tools: ["wget"], source: "grafana/loki cmd/loki/Dockerfile: FROM gcr.io/distroless/static:debug (busybox under /busybox, on PATH)" },
    "grafana/alloy": { tools: ["bash"], source: "grafana/alloy v1.9.2 Dockerfile: FROM ubuntu:noble + ca-certificates, libsystemd0, tzdata (bash, coreutils head, grep; no curl or wget)", tag: "v1.9.2" },
    "gcr.io/cadvisor/cadvisor": { tools: ["wget"], source: "google/cadvisor v0.52.1 deploy/Dockerfile: FROM alpine:3.18; its own HEALTHCHECK runs wget", tag: "v0.52.1" },
    nginx: { tools: ["wget"], source: "nginxinc/docker-nginx 1.28 alpine Dockerfile: FROM alpine (busybox wget)", tag: "1.28" },
    "certbot/certbot": { tools: ["test"], source: "certbot/certbot tools/docker/core/Dockerfile: FROM python:alpine (busybox test)" },
    registry: { tools: ["wget"], source: "distribution/distribution-library-image 2.8 Dockerfile: FROM alpine", tag: "2.8" },
    "supabase/postgres": { tools: ["pg_isready"], source: "supabase/postgres: PostgreSQL client binaries (supabase/supabase docker/docker-compose.yml healthcheck runs pg_isready)" },
    "postgrest/postgrest": { tools: ["postgrest"], source: "PostgREST image: the postgrest binary only; `postgrest --ready` queries the admin server (PostgREST docs, admin server)" },
    "supabase/gotrue": { tools: ["wget"], source: "supabase/auth Dockerfile: FROM alpine; supabase/supabase docker/docker-compose.yml auth healthcheck runs wget" },
    "supabase/postgres-meta": { tools: ["node"], source: "supabase/postgres-meta Dockerfile: FROM node (slim)" },
    "supabase/studio": { tools: ["node"], source: "supabase/supabase apps/studio Dockerfile: FROM node; docker-compose.yml studio healthcheck runs node" },
    kong: { tools: ["kong"], source: "Kong/docker-kong 2.8 image; supabase/supabase docker/docker-compose.yml kong healthcheck runs `kong health`" },
    // The Archon images are built from this repository's Dockerfiles: their target stage's base decides.
    python: { tools: ["python"], source: "docker-library/python 3.12 slim-bookworm Dockerfile: CPython installed as /usr/local/bin/python", tag: "3.12" },
    "nginxinc/nginx-unprivileged": { tools: ["wget"], source: "nginxinc/docker-nginx-unprivileged 1.28 alpine Dockerfile: FROM alpine (busybox wget)", tag: "1.28" },
};

/**
 * The base image of the stage an Archon image is built from (components/registry/build-context.ts
 * ARCHON_BUILDS: this repository's Dockerfile and target), following `FROM <stage>` to an image.
 */
function ownImageBase(name: string): string | undefined {
    const build = ARCHON_BUILDS[name as ArchonImageName];
    if (!build || !("infra" in build.dockerfile)) return undefined;
    const stages = [...fs.readFileSync(path.join(INFRA_ROOT, build.dockerfile.infra), "utf8").matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)]
        .map((m) => ({ from: m[1], name: m[2]?.toLowerCase() }));
    let stage = build.target ? stages.find((s) => s.name === build.target) : stages[stages.length - 1];
    for (let hops = 0; stage && hops < stages.length; hops++) {
        const parent = stages.find((s) => s.name === stage!.from.toLowerCase());
        if (!parent) return stage.from;
        stage = parent;
    }
    return undefined;
}

/** The image whose contents the health check meets: its repository and tag (an Archon image: its Dockerfile stage's base). */
function resolveImage(image: string): { repository: string; tag: string } {
    const withoutDigest = image.split("@")[0];
    const tagMatch = /:([^:/]+)$/.exec(withoutDigest);
    const repo = withoutDigest.replace(/:[^:/]+$/, "");
    const name = repo.split("/").pop()!;
    const base = name.startsWith("archon-") ? ownImageBase(name) : undefined;
    return base ? resolveImage(base) : { repository: repo, tag: tagMatch?.[1] ?? "" };
}

interface ComposeService { image: string; restart: string; healthcheck?: { test: string[] } }

describe("compose health checks", () => {
    for (const overrides of [{}, { enableAgents: true }]) {
        it(`gives every long-running service a health check whose program its image has${"enableAgents" in overrides ? " (with archon-agents)" : ""}`, async () => {
            const compose = parseYaml((await synth("staging", overrides)).files["project/docker-compose.yml"]) as { services: Record<string, ComposeService> };
            const problems: string[] = [];
            for (const [name, service] of Object.entries(compose.services)) {
                if (service.restart === "no") {
                    assert.equal(service.healthcheck, undefined, `${name} is a one-shot`);
                    continue;
                }
                if (!service.healthcheck) { problems.push(`${name}: no healthcheck`); continue; }
                const [form, program] = service.healthcheck.test;
                assert.equal(form, "CMD", `${name}: exec form, so no shell is needed`);
                const { repository, tag } = resolveImage(service.image);
                const known = IMAGE_TOOLS[repository];
                if (!known) problems.push(`${name}: image ${service.image} (${repository}) is not in IMAGE_TOOLS`);
                else if (!known.tools.includes(program)) problems.push(`${name}: runs ${program}, which ${service.image} does not have (${known.source})`);
                else if (known.tag && !tag.startsWith(known.tag)) problems.push(`${name}: ${repository}:${tag}, but IMAGE_TOOLS read ${known.tag}: read the image's Dockerfile at ${tag} again`);
            }
            assert.deepEqual(problems, []);
            for (const name of ["alloy", "node-exporter", "blackbox-exporter", "postgres-exporter", "cadvisor", "loki"]) assert.ok(compose.services[name]?.healthcheck, name);
            assert.ok(!("promtail" in compose.services), "Alloy replaced promtail");
        });
    }
});
