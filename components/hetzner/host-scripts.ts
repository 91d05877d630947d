/**
 * The shell scripts run on Hetzner hosts over SSH (components/hetzner/scripts/*.sh), rendered as complete
 * bash programs: a strict-mode header, the parameters as quoted exports, then the script. Pure
 * functions; the tests run shellcheck on every rendered script.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";

/** The scripts under components/hetzner/scripts, by file name without `.sh`. */
export type HostScriptName = "wait-for-boot" | "mount-data-volume" | "write-secret-file" | "compose-up" | "k3s-install" | "k3s-kubeconfig" | "k3s-certificates" | "k3s-etcd-snapshots" | "docker-daemon-config";

export const HOST_SCRIPTS_DIR = path.join(__dirname, "scripts");

/** The script's body as stored. */
export function hostScript(name: HostScriptName): string {
    return fs.readFileSync(path.join(HOST_SCRIPTS_DIR, `${name}.sh`), "utf8");
}

/** Single-quotes a value for bash. */
export function shellQuote(value: string): string {
    return `'${value.replace(/'/g, `'"'"'`)}'`;
}

/**
 * A runnable bash program: strict mode, `export NAME='value'` per parameter, then the scripts in
 * order (every step begins by waiting for cloud-init to finish the first boot).
 */
export function renderHostScript(names: HostScriptName[], parameters: Record<string, string> = {}): string {
    const exports = Object.entries(parameters).map(([key, value]) => `export ${key}=${shellQuote(value)}`);
    return ["#!/usr/bin/env bash", "set -euo pipefail", ...exports, ...["wait-for-boot" as const, ...names].map(hostScript)].join("\n");
}

/** {@link renderHostScript} with parameters that are still outputs (IP addresses, device paths). */
export function renderHostScriptOutput(names: HostScriptName[], parameters: Record<string, pulumi.Input<string>>): pulumi.Output<string> {
    return pulumi.output(parameters).apply((values) => renderHostScript(names, values as Record<string, string>));
}
