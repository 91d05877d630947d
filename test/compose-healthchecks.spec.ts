/**
 * Every long-running service of the Compose project has a health check (one-shots excepted), and
 * the program its check runs exists in its image. Which binaries an image has is read from the
 * image's own Dockerfile at the pinned version (IMAGE_TOOLS, with the source of each claim); an
 * image the table does not know fails the test, so a new service brings its citation.
 */
import { strict as assert } from "assert";
import { parse as parseYaml } from "yaml";
import { synth } from "./helpers";

/** Image repository (Archon images: their name) -> programs a health check may run in it, and where that is stated. */
const IMAGE_TOOLS: Record<string, { tools: string[]; source: string }> = {
    "prom/prometheus": { tools: ["wget"], source: "prometheus/prometheus v3.7.3 Dockerfile: FROM quay.io/prometheus/busybox (busybox wget)" },
    "prom/alertmanager": { tools: ["wget"], source: "prometheus/alertmanager v0.29.0 Dockerfile: FROM quay.io/prometheus/busybox" },
    "prom/node-exporter": { tools: ["wget"], source: "prometheus/node_exporter v1.10.2 Dockerfile: FROM quay.io/prometheus/busybox" },
    "prom/blackbox-exporter": { tools: ["wget"], source: "prometheus/blackbox_exporter v0.27.0 Dockerfile: FROM quay.io/prometheus/busybox-${OS}-${ARCH}" },
    "quay.io/prometheuscommunity/postgres-exporter": { tools: ["wget"], source: "prometheus-community/postgres_exporter v0.18.1 Dockerfile: FROM quay.io/prometheus/busybox-${OS}-${ARCH}" },
    "grafana/grafana": { tools: ["wget"], source: "grafana/grafana Dockerfile: ARG BASE_IMAGE=alpine (busybox wget)" },
    "grafana/loki": { tools: ["wget"], source: "grafana/loki cmd/loki/Dockerfile: FROM gcr.io/distroless/static:debug (busybox under /busybox, on PATH)" },
    "grafana/alloy": { tools: ["bash"], source: "grafana/alloy v1.9.2 Dockerfile: FROM ubuntu:noble + ca-certificates, libsystemd0, tzdata (bash, coreutils head, grep; no curl or wget)" },
    "gcr.io/cadvisor/cadvisor": { tools: ["wget"], source: "google/cadvisor v0.52.1 deploy/Dockerfile: FROM alpine:3.18; its own HEALTHCHECK runs wget" },
    nginx: { tools: ["wget"], source: "nginxinc/docker-nginx 1.28 alpine Dockerfile: FROM alpine (busybox wget)" },
    "certbot/certbot": { tools: ["test"], source: "certbot/certbot tools/docker/core/Dockerfile: FROM python:alpine (busybox test)" },
    registry: { tools: ["wget"], source: "distribution/distribution-library-image 2.8 Dockerfile: FROM alpine" },
    "supabase/postgres": { tools: ["pg_isready"], source: "supabase/postgres: PostgreSQL client binaries (supabase/supabase docker/docker-compose.yml healthcheck runs pg_isready)" },
    "postgrest/postgrest": { tools: ["postgrest"], source: "PostgREST image: the postgrest binary only; `postgrest --ready` queries the admin server (PostgREST docs, admin server)" },
    "supabase/gotrue": { tools: ["wget"], source: "supabase/auth Dockerfile: FROM alpine; supabase/supabase docker/docker-compose.yml auth healthcheck runs wget" },
    "supabase/postgres-meta": { tools: ["node"], source: "supabase/postgres-meta Dockerfile: FROM node (slim)" },
    "supabase/studio": { tools: ["node"], source: "supabase/supabase apps/studio Dockerfile: FROM node; docker-compose.yml studio healthcheck runs node" },
    kong: { tools: ["kong"], source: "Kong/docker-kong 2.8 image; supabase/supabase docker/docker-compose.yml kong healthcheck runs `kong health`" },
    "archon-server": { tools: ["python"], source: "images/archon-python/Dockerfile --target archon-server: FROM python:3.12-slim-bookworm" },
    "archon-mcp": { tools: ["python"], source: "images/archon-python/Dockerfile --target archon-mcp: FROM python:3.12-slim-bookworm" },
    "archon-agents": { tools: ["python"], source: "images/archon-python/Dockerfile --target archon-agents: FROM python:3.12-slim-bookworm" },
    "archon-ui": { tools: ["wget"], source: "images/archon-ui/Dockerfile: FROM nginxinc/nginx-unprivileged (alpine: busybox wget)" },
};

function repository(image: string): string {
    const withoutDigest = image.split("@")[0];
    const repo = withoutDigest.replace(/:[^:/]+$/, "");
    const name = repo.split("/").pop()!;
    return name.startsWith("archon-") ? name : repo;
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
                const known = IMAGE_TOOLS[repository(service.image)];
                if (!known) problems.push(`${name}: image ${service.image} is not in IMAGE_TOOLS`);
                else if (!known.tools.includes(program)) problems.push(`${name}: runs ${program}, which ${service.image} does not have (${known.source})`);
            }
            assert.deepEqual(problems, []);
            for (const name of ["alloy", "node-exporter", "blackbox-exporter", "postgres-exporter", "cadvisor", "loki"]) assert.ok(compose.services[name]?.healthcheck, name);
            assert.ok(!("promtail" in compose.services), "Alloy replaced promtail");
        });
    }

    it("knows which images lack wget (the check can fail)", () => {
        assert.ok(!IMAGE_TOOLS["grafana/alloy"].tools.includes("wget"));
        assert.equal(repository("registry.example.com/archon-server:sha-1a2b3c4"), "archon-server");
        assert.equal(repository("quay.io/prometheuscommunity/postgres-exporter:v0.18.1"), "quay.io/prometheuscommunity/postgres-exporter");
    });
});
