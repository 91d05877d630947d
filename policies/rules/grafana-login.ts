import { ResourceValidationPolicy } from "@pulumi/policy";
import { PolicyArgs, containersOf, list, record } from "../lib/context";
import { composeServices, parseDotenv } from "../lib/compose";
import { archivedTextFiles, composeProjects } from "../lib/files";
import { grafanaEnvProblems, grafanaIniProblems, isGrafanaImage, parseIni } from "../lib/grafana";
import { helmValues } from "../lib/helm";

const SECRET_FILE = /^export SECRET_FILE='([^']+\.env)'$/m;

/**
 * Grafana keeps its login on both targets: no anonymous access, no self sign-up, no header login
 * (auth.proxy), set through any channel: Helm values (the grafana chart, or kube-prometheus-stack's
 * `grafana:`), the chart's `env`, a container's env, a ConfigMap's grafana.ini, a Compose service's
 * environment, the env file a Compose host receives, or an archived grafana.ini. Grafana is public
 * (grafana.<domain>) and its data source reaches every metric and log of the stack. On Kubernetes
 * the chart's admin password also comes from a Secret (`admin.existingSecret`): without it the
 * kube-prometheus-stack chart sets `prom-operator` (values.yaml `grafana.adminPassword`).
 */
export const grafanaLogin: ResourceValidationPolicy = {
    name: "grafana-login",
    description: "Grafana keeps its login: no anonymous access, sign-up or auth.proxy through Helm values, env, grafana.ini, Compose environment or env files; the chart's admin password from admin.existingSecret, never a literal or the chart's default.",
    enforcementLevel: "mandatory",
    validateResource: async (args: PolicyArgs, reportViolation) => {
        for (const release of helmValues(args)) {
            // The grafana chart itself, or kube-prometheus-stack's subchart (on unless `grafana.enabled: false`, and
            // then with its default admin password), or an umbrella chart's `grafana:` values.
            const grafana = release.chart === "grafana" ? release.values : record(release.values.grafana);
            const subchart = release.chart === "kube-prometheus-stack" || Object.keys(grafana).length > 0;
            if ((release.chart !== "grafana" && !subchart) || grafana.enabled === false) continue;
            const where = `Helm release ${release.name} (${release.chart}) ${release.chart === "grafana" ? "" : "grafana."}`;
            for (const problem of grafanaIniProblems(record(grafana["grafana.ini"]))) reportViolation(`${where}${problem}`);
            const env = Object.fromEntries(Object.entries(record(grafana.env)).map(([k, v]) => [k, String(v)]));
            for (const problem of grafanaEnvProblems(env)) reportViolation(`${where}env ${problem}`);
            const existingSecret = record(grafana.admin).existingSecret;
            if (typeof grafana.adminPassword === "string" && grafana.adminPassword !== "") {
                reportViolation(`${where}adminPassword is a literal in the values (Helm keeps values in plain release records); take it from the Secret the program generates (admin.existingSecret)`);
            } else if (release.chart === "kube-prometheus-stack" && (typeof existingSecret !== "string" || existingSecret === "")) {
                reportViolation(`${where}admin.existingSecret is not set: the admin password is the chart's default (prom-operator); take it from the Secret the program generates`);
            }
        }
        for (const container of containersOf(args.type, args.props)) {
            if (!isGrafanaImage(String(container.spec.image ?? ""))) continue;
            const env = Object.fromEntries(list(container.spec.env).map(record).filter((v) => typeof v.value === "string").map((v) => [String(v.name), String(v.value)]));
            for (const problem of grafanaEnvProblems(env)) reportViolation(`${container.kind} ${container.name}: ${problem}`);
        }
        if (args.type === "kubernetes:core/v1:ConfigMap") {
            for (const [key, value] of Object.entries(record(args.props.data))) {
                if (/grafana.*\.ini$/.test(key)) for (const problem of grafanaIniProblems(parseIni(String(value)))) reportViolation(`ConfigMap key ${key}: ${problem}`);
            }
        }
        if (args.type === "command:remote:Command" && typeof args.props.stdin === "string") {
            const file = SECRET_FILE.exec(String(args.props.create ?? ""))?.[1];
            if (file !== undefined) for (const problem of grafanaEnvProblems(parseDotenv(args.props.stdin))) reportViolation(`env file ${file}: ${problem}`);
        }
        for (const project of await composeProjects(args.props)) {
            for (const service of composeServices(project.composeText, project)) {
                if (!isGrafanaImage(service.image)) continue;
                for (const problem of grafanaEnvProblems(service.environment)) reportViolation(`${project.file} service ${service.name}: ${problem}`);
            }
        }
        for (const [file, text] of Object.entries(await archivedTextFiles(args.props))) {
            if (/grafana[^/]*\.ini$/.test(file)) for (const problem of grafanaIniProblems(parseIni(text))) reportViolation(`${file}: ${problem}`);
        }
    },
};
