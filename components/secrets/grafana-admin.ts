/**
 * Grafana's admin password really follows `secretsVersion`: scripts/grafana-admin-password.sh sets
 * an existing database's admin password from GF_SECURITY_ADMIN_PASSWORD before Grafana starts
 * (Grafana itself reads that variable only when it creates the admin user). Compose runs it as
 * Grafana's entrypoint, Kubernetes as an init container of kube-prometheus-stack's Grafana.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";

export const GRAFANA_ADMIN_PASSWORD_SCRIPT = fs.readFileSync(path.join(__dirname, "scripts", "grafana-admin-password.sh"), "utf8");
/** Where Compose mounts it in the Grafana container. */
export const GRAFANA_ADMIN_PASSWORD_SCRIPT_PATH = "/etc/grafana-archon/grafana-admin-password.sh";
/** The Grafana image's entrypoint (grafana/grafana Dockerfile: ENTRYPOINT ["/run.sh"]), started after the script. */
export const GRAFANA_ENTRYPOINT = "/run.sh";

/**
 * A pod annotation that changes with the password, so the Deployment rolls (and its init container
 * runs) when it changes: the chart adds no checksum of an existing admin Secret. A SHA-256 of a
 * 32-character random password tells nothing of it, so it is not kept secret (a secret value would
 * hide the whole Helm values from `pulumi preview`).
 */
export function passwordChecksum(password: pulumi.Input<string>): pulumi.Output<string> {
    return pulumi.unsecret(pulumi.output(password).apply((p) => crypto.createHash("sha256").update(p).digest("hex")));
}
