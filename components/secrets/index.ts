/** Every generated secret: passwords, the Supabase JWT secret and API keys, the RS256 signing key. */
export { ARCHON_MCP_USER, ARCHON_UI_USER, Secrets, SecretsArgs, basicAuthorization } from "./secrets";
