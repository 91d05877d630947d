/**
 * The MCP client configuration of the stack's Archon MCP endpoint, as the `archonAccess` output
 * gives it. Archon's own MCP page cannot: at the pinned commit it builds the address as
 * `http://${ARCHON_HOST}:${ARCHON_MCP_PORT}/mcp` (archon-ui-main/src/features/mcp/components/
 * McpConfigSection.tsx), i.e. plain http on the container port, and knows nothing of the
 * credential the ingress requires. Clients reach the endpoint at https://mcp.<domain>/mcp with an
 * Authorization header (test/ingress-auth.spec.ts proves that header against the real nginx).
 */

/** The server entry's name in the client's configuration. */
export const MCP_SERVER_NAME = "archon";

/** An MCP client's configuration for one streamable-HTTP server: the `mcpServers` JSON that Claude Code (`.mcp.json`), Cursor and others read. */
export interface McpClientConfig {
    mcpServers: Record<string, { type: "http"; url: string; headers: { Authorization: string } }>;
}

/** The `mcpServers` JSON and the equivalent Claude Code command for the endpoint at `url`. */
export function mcpClientConfig(url: string, authorizationHeader: string): { json: McpClientConfig; claudeCode: string } {
    return {
        json: { mcpServers: { [MCP_SERVER_NAME]: { type: "http", url, headers: { Authorization: authorizationHeader } } } },
        claudeCode: `claude mcp add --transport http ${MCP_SERVER_NAME} ${url} --header "Authorization: ${authorizationHeader}"`,
    };
}
