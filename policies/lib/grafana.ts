/**
 * Grafana settings that open it without a login, from wherever a setting can come: `grafana.ini`
 * sections (`[auth.anonymous]`), environment variables (`GF_<SECTION>_<KEY>`, dots as
 * underscores: Grafana's pkg/setting `EnvOverride`) and the Helm charts' `grafana.ini` values (the
 * grafana chart renders a nested map as a dotted section: templates/_config.tpl).
 */
import { Props, record } from "./context";

/** `section/key` -> why it must not be on. */
const OPENING_SETTINGS: Record<string, string> = {
    "auth.anonymous/enabled": "anonymous access (anyone who reaches Grafana gets its org role, Viewer or more)",
    "users/allow_sign_up": "self sign-up (anyone can create an account)",
    "auth.proxy/enabled": "header login (auth.proxy: any client that reaches Grafana can claim a user in a header)",
    "auth.basic/enabled_anonymous": "anonymous basic auth",
};

/** go-ini's `MustBool` (what Grafana reads booleans with): 1, t, true, y, yes, on in any case. */
function isOn(value: unknown): boolean {
    return ["1", "t", "true", "y", "yes", "on"].includes(String(value ?? "").trim().toLowerCase());
}

const envName = (section: string, key: string) => `GF_${section.replace(/\./g, "_").toUpperCase()}_${key.toUpperCase()}`;

/** Problems in environment variables (only GF_ ones matter: Grafana alone reads them). */
export function grafanaEnvProblems(env: Record<string, string>): string[] {
    return Object.entries(OPENING_SETTINGS)
        .map(([setting, why]) => [envName(...(setting.split("/") as [string, string])), why] as const)
        .filter(([name]) => isOn(env[name]))
        .map(([name, why]) => `${name}=${env[name]} turns on ${why}`);
}

/** Problems in a `grafana.ini` as a map of sections (`{"auth.anonymous": {enabled: true}}` or nested `{auth: {anonymous: {...}}}`). */
export function grafanaIniProblems(ini: Props): string[] {
    const flat = new Map<string, unknown>();
    const walk = (value: Props, section: string) => {
        for (const [key, v] of Object.entries(value)) {
            if (v !== null && typeof v === "object" && !Array.isArray(v)) walk(record(v), section === "" ? key : `${section}.${key}`);
            else flat.set(`${section}/${key}`, v);
        }
    };
    walk(ini, "");
    return Object.entries(OPENING_SETTINGS).filter(([setting]) => isOn(flat.get(setting))).map(([setting, why]) => `grafana.ini [${setting.replace("/", "] ")} turns on ${why}`);
}

/** Parses ini text into sections (`[auth.anonymous]` -> {"auth.anonymous": {...}}). */
export function parseIni(text: string): Props {
    const sections: Record<string, Record<string, string>> = { "": {} };
    let current = "";
    for (const line of text.split("\n")) {
        const trimmed = line.trim();
        if (trimmed === "" || trimmed.startsWith(";") || trimmed.startsWith("#")) continue;
        const section = /^\[([^\]]+)\]$/.exec(trimmed);
        if (section) {
            current = section[1].trim();
            sections[current] ??= {};
            continue;
        }
        const at = trimmed.indexOf("=");
        if (at > 0) sections[current][trimmed.slice(0, at).trim()] = trimmed.slice(at + 1).trim().replace(/^(['"])(.*)\1$/, "$2");
    }
    return sections;
}

/** A Grafana image (grafana/grafana, grafana-oss, grafana-enterprise, from any registry). */
export function isGrafanaImage(image: string): boolean {
    return /(^|\/)grafana(-oss|-enterprise)?(:|@|$)/.test(image);
}
