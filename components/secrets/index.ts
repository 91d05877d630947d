/** Every generated secret: passwords, the Supabase JWT secret and API keys, the RS256 signing key. */
export { Secrets, SecretsArgs } from "./secrets";
