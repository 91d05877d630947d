/**
 * The service catalog, described once and rendered by compose/ and kubernetes/: services, pinned
 * versions, public routes, Kong's config, alert rules, dashboards and exporters.
 */
export { Workloads, WorkloadsArgs } from "./workloads";
export { ServiceSpec } from "./catalog";
export { workloadCatalog, WorkloadCatalogArgs } from "./workload-catalog";
export { componentVersions, SupabaseComponent, SUPABASE_IMAGES } from "./versions";
export { mcpClientConfig, McpClientConfig } from "./mcp-client";
