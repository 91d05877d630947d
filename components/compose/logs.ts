/**
 * Logs and ingress metrics on the Compose target, one pipeline: Grafana Alloy (the log agent
 * production runs too) reads every container's json-file log, labels each line with its Compose
 * service, ships it to Loki, and turns the proxy's JSON access log into the request counter and
 * duration histogram the ingress alerts read (`loki.process` `stage.metrics`). Pure renderers and
 * the Alloy ServiceSpec; no resources.
 *
 * Alloy references (grafana/alloy v1.9.2, the app version of the alloy chart 1.1.2 production
 * pins): docs/sources/reference/components/loki/loki.process.md (stage.json, stage.labels,
 * stage.match, stage.metrics with the default prefix `loki_process_custom_`), local.file_match,
 * loki.source.file, loki.write; internal/service/http/http.go (`/-/ready`); Dockerfile (Ubuntu
 * noble base with ca-certificates, libsystemd0, tzdata: no curl or wget, bash and coreutils only).
 */
import { ServiceSpec } from "../services/catalog";
import { IMAGES } from "../services/versions";

/** Name of nginx's JSON access log format. */
export const ACCESS_LOG_FORMAT = "archon_json";

/**
 * The fields of one access-log line: name in the JSON object -> nginx variable. Values are all
 * strings (escape=json quotes them), so Alloy's labels and metrics stages read them as written.
 * `service` is the Compose service the request went to: the host part of `$proxy_host` (the
 * `proxy_pass` target, `kong:8000`), `-` where nginx answered itself (redirects, refusals).
 */
export const ACCESS_LOG_FIELDS: Readonly<Record<string, string>> = {
    time: "$time_iso8601",
    host: "$host",
    // The client's own address (the daemon runs without its userland proxy: docker-daemon.ts).
    client: "$remote_addr",
    service: "$archon_upstream_service",
    method: "$request_method",
    uri: "$request_uri",
    status: "$status",
    request_time: "$request_time",
    bytes_sent: "$body_bytes_sent",
    upstream_status: "$upstream_status",
    user_agent: "$http_user_agent",
};

/**
 * The http-level lines of nginx.conf that make the access log JSON: a map naming the upstream
 * service and the `log_format` (escape=json, nginx >= 1.11.8), then `access_log` to stdout with it.
 */
export function nginxAccessLogLines(): string[] {
    const object = Object.entries(ACCESS_LOG_FIELDS).map(([key, variable]) => `"${key}":"${variable}"`).join(",");
    return [
        "map $proxy_host $archon_upstream_service {",
        "    ~^(?<upstream_name>[^:]+) $upstream_name;",
        '    default "-";',
        "}",
        `log_format ${ACCESS_LOG_FORMAT} escape=json '{${object}}';`,
        `access_log /dev/stdout ${ACCESS_LOG_FORMAT};`,
    ];
}

/** Compose service name of the proxy whose access log becomes metrics (components/compose/proxy.ts). */
const PROXY_SERVICE = "proxy";

/** Docker's json-file directory on the host; Alloy reads it read-only. */
export const DOCKER_CONTAINERS = "/var/lib/docker/containers";

/**
 * The Docker container label the json-file driver copies into every log line's `attrs` when the
 * logging option `labels` names it (docs.docker.com/engine/logging/drivers/json-file/, option
 * `labels`): the Compose renderer sets it, so each line says which service wrote it.
 */
export const COMPOSE_SERVICE_LABEL = "com.docker.compose.service";

/** Request-duration histogram buckets in seconds (2 s, the HighLatencyP95 threshold, is one). */
export const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30];

/**
 * One stage of the pipeline as data: the renderer writes it as Alloy syntax, and the test applies
 * the same data to real nginx log lines. `json` maps extracted names to JMESPath paths (a list of
 * keys; `[]` = the key's own name); `labels` promotes extracted values to labels; `match` runs its
 * stages only on streams with the given label values.
 */
export type PipelineStage =
    | { json: Record<string, string[]> }
    | { labels: string[] }
    | { labelDrop: string[] }
    | { timestamp: { source: string; format: string } }
    | { output: string }
    | { match: { labels: Record<string, string>; stages: PipelineStage[] } }
    | { metrics: { counter: { name: string; source: string; description: string }; histogram: { name: string; source: string; description: string; buckets: number[] } } };

/** The metric names the pipeline defines (without Alloy's `loki_process_custom_` prefix). */
export const PIPELINE_METRICS = { requests: "nginx_http_requests_total", duration: "nginx_http_request_duration_seconds" } as const;
/** Alloy's default `prefix` of stage.metrics metrics (loki.process.md, metric.counter / metric.histogram). */
export const ALLOY_METRIC_PREFIX = "loki_process_custom_";

/** The container-log pipeline (loki.process "containers"). */
export const CONTAINER_LOG_PIPELINE: PipelineStage[] = [
    // Docker's json-file line: the message, its stream and time, and the Compose service name.
    { json: { log: [], stream: [], time: [], app: ["attrs", COMPOSE_SERVICE_LABEL] } },
    { labels: ["app", "stream"] },
    // The file name holds the container id, which changes on every recreate.
    { labelDrop: ["filename"] },
    { timestamp: { source: "time", format: "RFC3339Nano" } },
    { output: "log" },
    {
        match: {
            labels: { app: PROXY_SERVICE, stream: "stdout" },
            stages: [
                { json: { host: [], service: [], status: [], request_time: [] } },
                { labels: ["host", "service", "status"] },
                {
                    metrics: {
                        // A counter with a source counts the lines that have it: only access-log lines have `status`.
                        counter: { name: PIPELINE_METRICS.requests, source: "status", description: "Requests answered by the proxy, by host, upstream service and status" },
                        histogram: { name: PIPELINE_METRICS.duration, source: "request_time", description: "Request duration at the proxy (nginx $request_time), seconds", buckets: DURATION_BUCKETS },
                    },
                },
                // Per-request labels belong on the metrics, not on the log streams.
                { labelDrop: ["host", "service", "status"] },
            ],
        },
    },
];

/** A JMESPath expression for a key path, quoting each identifier (jmespath.org/specification.html#identifiers). */
export function jmesPath(key: string, path: string[]): string {
    return (path.length === 0 ? [key] : path).map((part) => JSON.stringify(part)).join(".");
}

function alloyString(text: string): string {
    return JSON.stringify(text);
}

function renderStage(stage: PipelineStage, indent: string): string[] {
    const inner = indent + "  ";
    if ("json" in stage) {
        const expressions = Object.entries(stage.json).map(([key, path]) => `${alloyString(key)} = ${alloyString(jmesPath(key, path))}`).join(", ");
        return [`${indent}stage.json {`, `${inner}expressions = { ${expressions} }`, `${indent}}`];
    }
    if ("labels" in stage) {
        return [`${indent}stage.labels {`, `${inner}values = { ${stage.labels.map((l) => `${l} = ""`).join(", ")} }`, `${indent}}`];
    }
    if ("labelDrop" in stage) {
        return [`${indent}stage.label_drop {`, `${inner}values = [${stage.labelDrop.map(alloyString).join(", ")}]`, `${indent}}`];
    }
    if ("timestamp" in stage) {
        return [`${indent}stage.timestamp {`, `${inner}source = ${alloyString(stage.timestamp.source)}`, `${inner}format = ${alloyString(stage.timestamp.format)}`, `${indent}}`];
    }
    if ("output" in stage) {
        return [`${indent}stage.output {`, `${inner}source = ${alloyString(stage.output)}`, `${indent}}`];
    }
    if ("match" in stage) {
        const selector = `{${Object.entries(stage.match.labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ")}}`;
        return [`${indent}stage.match {`, `${inner}selector = ${alloyString(selector)}`, ...stage.match.stages.flatMap((s) => renderStage(s, inner)), `${indent}}`];
    }
    const { counter, histogram } = stage.metrics;
    const deeper = inner + "  ";
    return [
        `${indent}stage.metrics {`,
        `${inner}metric.counter {`,
        `${deeper}name        = ${alloyString(counter.name)}`,
        `${deeper}description = ${alloyString(counter.description)}`,
        `${deeper}source      = ${alloyString(counter.source)}`,
        `${deeper}action      = "inc"`,
        `${inner}}`,
        `${inner}metric.histogram {`,
        `${deeper}name        = ${alloyString(histogram.name)}`,
        `${deeper}description = ${alloyString(histogram.description)}`,
        `${deeper}source      = ${alloyString(histogram.source)}`,
        `${deeper}buckets     = [${histogram.buckets.join(", ")}]`,
        `${inner}}`,
        `${indent}}`,
    ];
}

/** Port of Alloy's HTTP server: /metrics (scraped by Prometheus) and /-/ready. */
export const ALLOY_PORT = 12345;

/** The Compose Alloy configuration: container logs -> pipeline -> Loki. */
export function renderComposeAlloyConfig(lokiUrl: string): string {
    return [
        'local.file_match "containers" {',
        `  path_targets = [{ "__path__" = ${alloyString(`${DOCKER_CONTAINERS}/*/*-json.log`)}, "job" = "containers", "environment" = "compose" }]`,
        "}",
        "",
        'loki.source.file "containers" {',
        "  targets    = local.file_match.containers.targets",
        "  forward_to = [loki.process.containers.receiver]",
        "}",
        "",
        'loki.process "containers" {',
        "  forward_to = [loki.write.default.receiver]",
        "",
        ...CONTAINER_LOG_PIPELINE.flatMap((stage) => [...renderStage(stage, "  "), ""]),
        "}",
        "",
        'loki.write "default" {',
        "  endpoint {",
        `    url = ${alloyString(`${lokiUrl}/loki/api/v1/push`)}`,
        "  }",
        "}",
        "",
    ].join("\n");
}

/**
 * Alloy's image has neither curl nor wget (grafana/alloy Dockerfile: Ubuntu noble plus
 * ca-certificates, libsystemd0, tzdata), but Ubuntu's bash, head and grep: the health check asks
 * `/-/ready` over bash's /dev/tcp and wants a 200 status line.
 */
export function bashHttpCheck(port: number, urlPath: string): string[] {
    const request = `GET ${urlPath} HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n`;
    return ["bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/${port} && printf '${request}' >&3 && head -n 1 <&3 | grep -q ' 200 '`];
}

/** The Alloy ServiceSpec of the Compose target. */
export function composeAlloyService(lokiUrl: string): ServiceSpec {
    return {
        name: "alloy",
        group: "monitoring",
        kind: "service",
        targets: ["compose"],
        image: IMAGES.alloy,
        // The image's CMD with the address opened to the network (default 127.0.0.1:12345) so Prometheus can scrape it.
        args: ["run", "/etc/alloy/config.alloy", "--storage.path=/var/lib/alloy/data", `--server.http.listen-addr=0.0.0.0:${ALLOY_PORT}`],
        ports: [{ name: "http", port: ALLOY_PORT }],
        files: [{ path: "/etc/alloy/config.alloy", content: renderComposeAlloyConfig(lokiUrl) }],
        health: { exec: bashHttpCheck(ALLOY_PORT, "/-/ready"), startupSeconds: 30 },
        resources: { cpu: "50m", memory: "128Mi", cpuLimit: "1", memoryLimit: "512Mi" },
        // Read positions survive restarts, so no line is shipped twice.
        storage: [{ name: "data", mountPath: "/var/lib/alloy/data", sizeGb: 1 }],
        // Docker's log files are root-only (the image starts as root; its alloy user is opt-in).
        security: { runAsNonRoot: false, readOnlyRootFilesystem: true, writablePaths: ["/tmp"] },
        hostPaths: [{ hostPath: DOCKER_CONTAINERS, mountPath: DOCKER_CONTAINERS }],
        dependsOn: ["loki"],
    };
}
