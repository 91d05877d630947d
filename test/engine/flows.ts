/**
 * The connections the rendered Compose project needs, read from what the program renders (never
 * from the catalog the renderer used): nginx's upstreams, addresses in env values and env files
 * (URLs, `host:port`, `*_HOST` with its `*_PORT`), addresses in mounted config files (the UI's
 * upstream, Grafana's data sources, Alloy's Loki), Prometheus' scrape and alerting targets and the
 * probes it hands blackbox-exporter, and certbot-loop.sh's wait on `http://$PROXY_HOST/healthz`.
 */
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";

export interface Flow {
    client: string;
    /** The name the client asks Docker's DNS for (a service name or an alias). */
    host: string;
    server: string;
    port: number;
    /** An HTTP path the client requests there, when the rendered file names one. */
    path?: string;
    why: string;
}

interface ComposeService {
    environment?: Record<string, string>;
    env_file?: string[];
    volumes?: string[];
    networks?: Record<string, { aliases?: string[] } | null>;
}

/** KEY=value pairs of an env file as written for the host (values needing quotes are skipped). */
function envFileValues(text: string): Record<string, string> {
    return Object.fromEntries(text.split("\n").filter((l) => /^[A-Z_][A-Z0-9_]*=[^"']/.test(l)).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
}

export function requiredFlows(projectDir: string): Flow[] {
    const compose = parseYaml(fs.readFileSync(path.join(projectDir, "docker-compose.yml"), "utf8")) as { services: Record<string, ComposeService> };
    const names = new Map<string, string>();
    for (const [name, service] of Object.entries(compose.services)) {
        names.set(name, name);
        for (const network of Object.values(service.networks ?? {})) for (const alias of network?.aliases ?? []) names.set(alias, name);
    }
    const flows = new Map<string, Flow>();
    const add = (client: string, host: string, port: number, why: string, urlPath?: string) => {
        const server = names.get(host);
        if (!server || server === client) return;
        const key = `${client}->${host}:${port}`;
        if (!flows.has(key)) flows.set(key, { client, host, server, port, why, ...(urlPath ? { path: urlPath } : {}) });
    };
    const hostPort = /(?:^|[\s"'=@/(,[])([a-z][a-z0-9.-]*):(\d{2,5})(\/[^\s"',;)]*)?/gm;
    const scan = (client: string, text: string, why: string) => {
        for (const m of text.matchAll(hostPort)) add(client, m[1], Number(m[2]), why);
    };
    for (const [name, service] of Object.entries(compose.services)) {
        const env: Record<string, string> = { ...(service.environment ?? {}) };
        for (const file of service.env_file ?? []) Object.assign(env, envFileValues(fs.readFileSync(path.join(projectDir, file), "utf8")));
        for (const [key, value] of Object.entries(env)) {
            scan(name, String(value), `env ${key}`);
            // `PG_META_DB_HOST: db` with `PG_META_DB_PORT: "5432"`, `PGHOST`/`PGPORT`.
            const portKey = key.endsWith("_HOST") ? `${key.slice(0, -4)}PORT` : key === "PGHOST" ? "PGPORT" : undefined;
            if (portKey && env[portKey] && names.has(String(value))) add(name, String(value), Number(env[portKey]), `env ${key}+${portKey}`);
        }
        // certbot-loop.sh: `until wget -q -O /dev/null "http://$PROXY_HOST/healthz"`.
        if (env.PROXY_HOST) add(name, env.PROXY_HOST, 80, "certbot-loop.sh waits for http://$PROXY_HOST/healthz", "/healthz");
        for (const volume of service.volumes ?? []) {
            const source = volume.split(":")[0];
            if (!source.startsWith("./config/") || source.includes("prometheus")) continue;
            const text = fs.readFileSync(path.join(projectDir, source), "utf8");
            if (source.endsWith("nginx.conf")) {
                for (const m of text.matchAll(/set \$([a-z_]+) ([a-z0-9.-]+);\s*proxy_pass http:\/\/\$\1:(\d+)/g)) add(name, m[2], Number(m[3]), "nginx proxy_pass");
                for (const m of text.matchAll(/proxy_pass http:\/\/([a-z][a-z0-9.-]*):(\d+)/g)) add(name, m[1], Number(m[2]), "nginx proxy_pass");
            } else {
                scan(name, text, `file ${source}`);
            }
        }
    }
    // Prometheus: what it scrapes and alerts itself, and the probes blackbox-exporter makes for it.
    const prometheus = parseYaml(fs.readFileSync(path.join(projectDir, "config/prometheus/etc_prometheus_prometheus.yml"), "utf8"));
    for (const target of prometheus.alerting.alertmanagers.flatMap((a: { static_configs: { targets: string[] }[] }) => a.static_configs.flatMap((c) => c.targets))) scan("prometheus", target, "alerting");
    for (const job of prometheus.scrape_configs) {
        const targets: string[] = job.static_configs.flatMap((c: { targets: string[] }) => c.targets);
        const replaced = (job.relabel_configs ?? []).find((r: { target_label: string }) => r.target_label === "__address__");
        if (!replaced) {
            for (const target of targets) scan("prometheus", target, `scrape ${job.job_name}`);
            continue;
        }
        scan("prometheus", replaced.replacement, `scrape ${job.job_name}`);
        const prober = names.get(replaced.replacement.split(":")[0])!;
        for (const target of targets) {
            const url = /^https?:\/\/([^/:]+)(?::(\d+))?(\/.*)?$/.exec(target);
            if (url) add(prober, url[1], Number(url[2] ?? (target.startsWith("https") ? 443 : 80)), `probe ${job.job_name}`, url[3] ?? "/");
            else scan(prober, target, `probe ${job.job_name}`);
        }
    }
    return [...flows.values()].sort((a, b) => `${a.client} ${a.host}`.localeCompare(`${b.client} ${b.host}`) || a.port - b.port);
}
