/**
 * The Compose host's memory budget, checked from the config and the service catalog alone, before
 * the first resource exists (issue 28.3): the services the Compose project would run are built by
 * the same pure functions the renderer uses (targetServices, composeProjectServices), with
 * placeholders for secrets and image references, which no memory reservation depends on.
 */
import { ArchonConfig, ConfigError } from "../../config";
import { memoryBudgetProblem } from "../hetzner/server-types";
import { ARCHON_IMAGES, ArchonImageName } from "../registry/images";
import { registryHosts } from "../registry/hosts";
import { registryService } from "../registry/registry";
import { OIDC_FORWARD_AUTH, oauth2ProxyService } from "../services/oauth2-proxy";
import { TargetServicesInputs, targetServices } from "../services/workloads";
import { publicHosts } from "../services/workload-catalog";
import { composeReservedMemoryMib } from "./project";
import { forTarget } from "../services/catalog";
import { composeProjectServices } from "./stack";

/** Stands in for every secret and image reference: memory reservations never read them. */
const PLACEHOLDER = "memory-budget-placeholder";

const placeholderSecrets: TargetServicesInputs["secrets"] = {
    postgresPassword: PLACEHOLDER, authenticatorPassword: PLACEHOLDER, authAdminPassword: PLACEHOLDER,
    pgsodiumRootKey: PLACEHOLDER, gotrueJwtKeys: PLACEHOLDER, postgrestJwks: PLACEHOLDER, jwtSecret: PLACEHOLDER,
    anonKey: PLACEHOLDER, serviceRoleKey: PLACEHOLDER, dashboardPassword: PLACEHOLDER, pgMetaCryptoKey: PLACEHOLDER,
    archonUiHtpasswd: PLACEHOLDER, archonMcpHtpasswd: PLACEHOLDER, backupEncryptionKey: PLACEHOLDER,
    previousBackupEncryptionKey: PLACEHOLDER, previousPostgresPassword: PLACEHOLDER,
};

/** MiB each service of the Compose project reserves (`mem_reservation`), as the renderer writes them. */
export function composeMemoryReservations(config: ArchonConfig): { service: string; mib: number }[] {
    const imageRefs = Object.fromEntries(ARCHON_IMAGES.map((image) => [image, PLACEHOLDER])) as Record<ArchonImageName, string>;
    // As index.ts wires it: the stack's own registry unless an external one is configured.
    const registry = config.registryServer === undefined
        ? [registryService(registryHosts(config.domain), config.registryStorageGb, { pull: PLACEHOLDER, push: PLACEHOLDER, pullLogin: PLACEHOLDER, pushLogin: PLACEHOLDER })]
        : [];
    const oidcService = config.oidc && oauth2ProxyService({ oidc: config.oidc, archonHost: publicHosts(config.domain).archon, cookieSecret: PLACEHOLDER });
    const catalog = targetServices(config, {
        secrets: placeholderSecrets,
        imageRefs,
        oidcService,
        uiForwardAuth: oidcService && OIDC_FORWARD_AUTH,
        extraServices: registry,
    });
    const project = composeProjectServices({
        services: catalog,
        domain: config.domain,
        acmeEmail: config.acmeEmail,
        grafanaPassword: PLACEHOLDER,
        postgresPassword: PLACEHOLDER,
        alerting: config.alerting,
        metricsRetentionDays: config.metricsRetentionDays,
        logsRetentionDays: config.logsRetentionDays,
    }, "/data"); // the host directory only names the backup textfile mount, never a reservation
    // composeReservedMemoryMib's terms, one per service.
    return forTarget(project, "compose").map((service) => ({ service: service.name, mib: composeReservedMemoryMib([service]) }));
}

/**
 * One line when the Compose services' memory reservations do not fit `serverType`: what they
 * reserve (the largest named), what the type leaves for containers, and the type that fits.
 * (`enableAgents false` alone never rescues a type: archon-agents reserves 512 MiB, and no type's
 * budget falls between the totals with and without it.) Undefined on other targets or when it fits.
 */
export function composeMemoryProblem(config: ArchonConfig): string | undefined {
    if (config.target !== "compose") return undefined;
    const reservations = composeMemoryReservations(config);
    const reserved = reservations.reduce((sum, r) => sum + r.mib, 0);
    const largest = [...reservations].sort((a, b) => b.mib - a.mib || a.service.localeCompare(b.service)).slice(0, 3);
    const problem = memoryBudgetProblem(config.serverType, reserved, config.location, `largest: ${largest.map((r) => `${r.service} ${r.mib}`).join(", ")} MiB`);
    if (problem === null) return undefined;
    return `archon-infra:serverType = ${JSON.stringify(config.serverType)}: ${problem}`;
}

/** Throws the {@link composeMemoryProblem} as a ConfigError (one line, exit 2) before any resource. */
export function checkComposeMemory(config: ArchonConfig): ArchonConfig {
    const problem = composeMemoryProblem(config);
    if (problem !== undefined) throw new ConfigError(problem);
    return config;
}
