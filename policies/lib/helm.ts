/**
 * The Helm values a resource hands a chart: a `helm.v3.Release` / `helm.v4.Chart` (`values`), or
 * k3s's HelmChart / HelmChartConfig objects (`spec.valuesContent`, YAML merged into the chart's
 * values by k3s's helm-controller).
 */
import { parse as parseYaml } from "yaml";
import { PolicyArgs, Props, record } from "./context";

export interface HelmValues {
    /** The release (or HelmChartConfig) name. */
    name: string;
    /** The chart's name, without repository or path (`kube-prometheus-stack`, `traefik`). */
    chart: string;
    values: Props;
}

const RELEASE_TYPES = new Set(["kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Chart"]);

const chartName = (chart: unknown) => String(chart ?? "").split("/").pop()!.replace(/-\d+\.\d+\.\d+.*\.tgz$/, "");

export function helmValues(args: Pick<PolicyArgs, "type" | "props" | "name">): HelmValues[] {
    if (RELEASE_TYPES.has(args.type)) {
        return [{ name: String(args.props.name ?? args.name), chart: chartName(args.props.chart), values: record(args.props.values) }];
    }
    const kind = String(args.props.kind ?? "");
    if (String(args.props.apiVersion ?? "").startsWith("helm.cattle.io/") && (kind === "HelmChart" || kind === "HelmChartConfig")) {
        const spec = record(args.props.spec);
        const name = String(record(args.props.metadata).name ?? args.name);
        let values: Props = {};
        try {
            values = record(parseYaml(String(spec.valuesContent ?? "")));
        } catch {
            values = {};
        }
        return [{ name, chart: kind === "HelmChart" ? chartName(spec.chart) : name, values }];
    }
    return [];
}
