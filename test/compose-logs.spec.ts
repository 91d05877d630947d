/**
 * The Compose log pipeline against a real nginx: nginx-light runs with the rendered access-log
 * lines (map + log_format + access_log), answers requests as the proxy would (proxied to a
 * Compose service name, and answering itself), and the access-log lines it writes are parsed the
 * way Alloy's stages say (CONTAINER_LOG_PIPELINE, the data the Alloy config is rendered from),
 * wrapped as Docker's json-file driver writes them. Alloy itself is not installable here, so its
 * stages are applied by the small interpreter below, stage by stage as loki.process.md defines
 * them. Also Alloy's health check (bash /dev/tcp) against a real HTTP server.
 */
import { strict as assert } from "assert";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as path from "path";
import {
    ALLOY_METRIC_PREFIX, COMPOSE_SERVICE_LABEL, CONTAINER_LOG_PIPELINE, PIPELINE_METRICS, PipelineStage, bashHttpCheck, nginxAccessLogLines,
    renderComposeAlloyConfig,
} from "../components/compose/logs";
import { PROXY_SERVICE } from "../components/compose/proxy";
import { STACKS } from "./fixtures/monitoring-stacks";
import { ingressMetricNames, requestLabels } from "./fixtures/promtool/alert-cases";
import { freePort, requireTool, run, writeTempFiles } from "./helpers";

interface Entry { labels: Record<string, string>; extracted: Record<string, unknown>; line: string; timestamp?: Date }
interface Metrics { counters: Map<string, number>; histograms: Map<string, number[]> }

const key = (name: string, labels: Record<string, string>) => `${name}${JSON.stringify(Object.fromEntries(Object.entries(labels).sort()))}`;

/** Applies pipeline stages to one entry as loki.process does (json -> extracted map; labels; label_drop; timestamp; output; match; metrics). */
function applyStages(stages: PipelineStage[], entry: Entry, metrics: Metrics): void {
    for (const stage of stages) {
        if ("json" in stage) {
            let parsed: unknown;
            try { parsed = JSON.parse(entry.line); } catch { continue; } // not JSON: the stage extracts nothing
            for (const [name, keyPath] of Object.entries(stage.json)) {
                const value = (keyPath.length === 0 ? [name] : keyPath).reduce<unknown>((v, k) => (v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined), parsed);
                if (value !== undefined) entry.extracted[name] = value;
            }
        } else if ("labels" in stage) {
            for (const name of stage.labels) if (entry.extracted[name] !== undefined) entry.labels[name] = String(entry.extracted[name]);
        } else if ("labelDrop" in stage) {
            for (const name of stage.labelDrop) delete entry.labels[name];
        } else if ("timestamp" in stage) {
            assert.equal(stage.timestamp.format, "RFC3339Nano");
            const value = entry.extracted[stage.timestamp.source];
            if (typeof value === "string") entry.timestamp = new Date(value);
        } else if ("output" in stage) {
            const value = entry.extracted[stage.output];
            if (typeof value === "string") entry.line = value;
        } else if ("match" in stage) {
            if (Object.entries(stage.match.labels).every(([k, v]) => entry.labels[k] === v)) applyStages(stage.match.stages, entry, metrics);
        } else {
            const { counter, histogram } = stage.metrics;
            if (entry.extracted[counter.source] !== undefined) {
                const k = key(ALLOY_METRIC_PREFIX + counter.name, entry.labels);
                metrics.counters.set(k, (metrics.counters.get(k) ?? 0) + 1);
            }
            const observed = entry.extracted[histogram.source];
            if (observed !== undefined) {
                const seconds = Number(observed);
                assert.ok(Number.isFinite(seconds), `${histogram.source}=${String(observed)} is not a number Alloy can convert`);
                const k = key(ALLOY_METRIC_PREFIX + histogram.name, entry.labels);
                metrics.histograms.set(k, [...(metrics.histograms.get(k) ?? []), seconds]);
            }
        }
    }
}

/** A loopback TCP port the OS says is free now. */

function request(socketPath: string, host: string, urlPath: string): Promise<number> {
    return new Promise((resolve, reject) => {
        http.get({ socketPath, path: urlPath, headers: { Host: host, "User-Agent": 'probe "quoted" \\ agent' } }, (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode ?? 0));
        }).on("error", reject);
    });
}

async function waitFor(file: string, child: ChildProcess, logFile: string): Promise<void> {
    for (let i = 0; i < 100; i++) {
        if (fs.existsSync(file)) return;
        if (child.exitCode !== null) throw new Error(`nginx exited: ${fs.readFileSync(logFile, "utf8")}`);
        await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`nginx did not open ${file}: ${fs.readFileSync(logFile, "utf8")}`);
}

describe("compose logs: nginx JSON access log -> Alloy pipeline -> ingress metrics", function () {
    this.timeout(60_000);
    const supabase = "supabase.staging.archon.example.com";
    let lines: string[] = [];
    const metrics: Metrics = { counters: new Map(), histograms: new Map() };
    const entries: Entry[] = [];

    before(async () => {
        requireTool("nginx", "nginx-light");
        requireTool("unshare", "util-linux");
        const port = await freePort();
        const dir = writeTempFiles({ hosts: "127.0.0.1 localhost\n127.0.0.1 kong\n" });
        for (const sub of ["tmp", "logs"]) fs.mkdirSync(path.join(dir, sub));
        const front = path.join(dir, "front.sock");
        // The rendered http-level lines unchanged (access_log goes to nginx's stdout, captured below);
        // `kong` resolves through the private /etc/hosts, so proxy_pass reads as in the proxy's config.
        const conf = [
            "worker_processes 1;",
            `pid ${dir}/nginx.pid;`,
            `error_log ${dir}/logs/error.log warn;`,
            "events { worker_connections 64; }",
            "http {",
            ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `    ${t}_temp_path ${dir}/tmp/${t};`),
            ...nginxAccessLogLines().map((l) => `    ${l}`),
            "    server {",
            `        listen 127.0.0.1:${port};`,
            "        access_log off; # the stand-in for kong: only the proxy's log is under test",
            "        location = /denied { return 401; }",
            "        location = /broken { return 502; }",
            "        location / { return 200 \"ok\\n\"; }",
            "    }",
            "    server {",
            `        listen unix:${front};`,
            `        server_name ${supabase};`,
            "        location = /self { return 404; }",
            `        location / { proxy_http_version 1.1; proxy_set_header Host $host; proxy_pass http://kong:${port}; }`,
            "    }",
            "}",
        ].join("\n");
        fs.writeFileSync(path.join(dir, "nginx.conf"), conf);
        const stdout = path.join(dir, "stdout.log");
        const out = fs.openSync(stdout, "w");
        const child = spawn("unshare", ["-m", "--propagation", "private", "sh", "-c",
            `mount --bind "${dir}/hosts" /etc/hosts && exec nginx -p "${dir}" -c "${dir}/nginx.conf" -g 'daemon off;'`], { stdio: ["ignore", out, out] });
        try {
            await waitFor(front, child, stdout);
            const statuses = [];
            for (const [urlPath, times] of [["/", 3], ["/denied", 2], ["/broken", 1], ["/self", 1]] as const) {
                for (let i = 0; i < times; i++) statuses.push(await request(front, supabase, urlPath));
            }
            assert.deepEqual(statuses, [200, 200, 200, 401, 401, 502, 404]);
        } finally {
            child.kill("SIGTERM");
            await new Promise((r) => child.exitCode !== null ? r(null) : child.once("exit", r));
            fs.closeSync(out);
        }
        // Each line as Docker's json-file driver stores it, with the Compose service label in attrs
        // (logging option `labels`), plus a non-JSON stdout line and an error line of the same container.
        lines = fs.readFileSync(stdout, "utf8").split("\n").filter((l) => l.startsWith("{"));
        const docker = (log: string, stream: string) => JSON.stringify({ log: `${log}\n`, stream, attrs: { [COMPOSE_SERVICE_LABEL]: PROXY_SERVICE }, time: "2026-11-27T12:00:00.123456789Z" });
        const files = [...lines.map((l) => docker(l, "stdout")), docker("certificates for 4 hosts found, starting nginx", "stdout"), docker("2026/11/27 12:00:00 [error] 7#7: upstream timed out", "stderr")];
        for (const line of files) {
            const entry: Entry = { labels: { job: "containers", environment: "compose", filename: "/var/lib/docker/containers/0123abcd/0123abcd-json.log" }, extracted: {}, line };
            applyStages(CONTAINER_LOG_PIPELINE, entry, metrics);
            entries.push(entry);
        }
    });

    it("nginx writes one valid JSON object per request, even with quotes in a header", () => {
        assert.equal(lines.length, 7, lines.join("\n"));
        for (const line of lines) {
            const record = JSON.parse(line) as Record<string, string>;
            assert.equal(record.host, supabase);
            assert.match(record.request_time, /^\d+\.\d{3}$/);
            assert.equal(record.user_agent, 'probe "quoted" \\ agent');
        }
    });

    it("counts requests by host, upstream service (the proxy_pass name without its port) and status, as loki_process_custom_*", () => {
        const counter = ALLOY_METRIC_PREFIX + PIPELINE_METRICS.requests;
        const labels = (service: string, status: string) => ({ job: "containers", environment: "compose", app: PROXY_SERVICE, stream: "stdout", host: supabase, service, status });
        assert.deepEqual(Object.fromEntries(metrics.counters), {
            [key(counter, labels("kong", "200"))]: 3,
            [key(counter, labels("kong", "401"))]: 2,
            [key(counter, labels("kong", "502"))]: 1,
            [key(counter, labels("-", "404"))]: 1,
        });
        const durations = [...metrics.histograms.values()].flat();
        assert.equal(durations.length, 7);
        assert.ok(durations.every((d) => d >= 0 && d < 5));
    });

    it("emits the series the Compose alert rules are tested on (the promtool input of test/fixtures/promtool/alert-cases.ts)", () => {
        const compose = STACKS.find((s) => s.under.ingress === "compose-nginx")!.under;
        assert.equal(`supabase.${compose.domain}`, supabase);
        const { requests, bucket } = ingressMetricNames(compose);
        const parse = (labels: string) => Object.fromEntries([...labels.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
        // Prometheus scrapes Alloy as job "alloy": the series' own job label becomes exported_job,
        // and Alloy adds the component that produced it.
        const scraped = ({ job, ...labels }: Record<string, string>) => ({ ...labels, exported_job: job, job: "alloy", instance: "alloy:12345", component_id: "loki.process.containers", component_path: "/" });
        const emitted = [...metrics.counters.keys()].map((k) => ({ name: k.slice(0, k.indexOf("{")), labels: JSON.parse(k.slice(k.indexOf("{"))) as Record<string, string> }));
        for (const status of ["200", "401"]) {
            const series = emitted.find((e) => e.labels.status === status && e.labels.service === "kong");
            assert.ok(series, `no counter for kong ${status}`);
            assert.equal(series.name, requests);
            assert.deepEqual(scraped(series.labels), parse(requestLabels(compose, "supabase", status).labels));
        }
        const histogram = [...metrics.histograms.keys()][0];
        assert.equal(`${histogram.slice(0, histogram.indexOf("{"))}_bucket`, bucket);
    });

    it("ships every line to Loki labelled by its Compose service, with the request labels dropped from the streams", () => {
        for (const entry of entries) {
            assert.deepEqual(Object.keys(entry.labels).sort(), ["app", "environment", "job", "stream"]);
            assert.equal(entry.labels.app, PROXY_SERVICE);
            assert.ok(!entry.line.startsWith('{"log"'), "the line is Docker's message, not its wrapper");
            assert.equal(entry.timestamp?.toISOString(), "2026-11-27T12:00:00.123Z");
        }
    });

    it("renders the same stages into the Alloy configuration", () => {
        const config = renderComposeAlloyConfig("http://loki:3100");
        assert.match(config, /"app" = "\\"attrs\\"\.\\"com\.docker\.compose\.service\\""/);
        assert.match(config, /selector = "\{app=\\"proxy\\", stream=\\"stdout\\"\}"/);
        assert.match(config, new RegExp(`name {8}= "${PIPELINE_METRICS.requests}"[\\s\\S]*source {6}= "status"`));
        assert.match(config, new RegExp(`name {8}= "${PIPELINE_METRICS.duration}"[\\s\\S]*source {6}= "request_time"[\\s\\S]*buckets {5}= \\[[^\\]]*\\b2\\b`));
        assert.match(config, /url = "http:\/\/loki:3100\/loki\/api\/v1\/push"/);
    });
});

describe("Alloy's health check (bash /dev/tcp; the image has no curl or wget)", () => {
    for (const [served, expected] of [["/-/ready", 0], ["/elsewhere", 1]] as const) {
        it(`exits ${expected} when ${served === "/-/ready" ? "/-/ready answers 200" : "/-/ready answers 404"}`, async () => {
            requireTool("bash", "bash");
            const server = http.createServer((req, res) => { res.statusCode = req.url === served ? 200 : 404; res.end("Alloy is ready.\n"); });
            await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
            try {
                const port = (server.address() as net.AddressInfo).port;
                const [command, ...args] = bashHttpCheck(port, "/-/ready");
                const result = await new Promise<number | null>((resolve) => spawn(command, args, { stdio: "ignore" }).on("exit", resolve));
                assert.equal(result === 0 ? 0 : 1, expected);
            } finally {
                server.close();
            }
        });
    }

    it("fails when nothing listens", () => {
        const [command, ...args] = bashHttpCheck(1, "/-/ready");
        assert.notEqual(run(command, args).status, 0);
    });
});
