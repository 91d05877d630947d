/**
 * Every third-party image the workloads run, pinned in one place. The Supabase images are the set
 * Supabase's self-hosting docker-compose.yml pins together (supabase/supabase, docker/), so they are
 * upgraded together: change them here and nowhere else. The stack exports this table as
 * `componentVersions`.
 */
export const SUPABASE_IMAGES = {
    /** Postgres 15 with pgvector and the Supabase roles (supabase_admin, authenticator, anon, ...). */
    db: "supabase/postgres:15.8.1.085",
    /** PostgREST: /rest/v1 and /graphql/v1. */
    rest: "postgrest/postgrest:v14.5",
    /** GoTrue: /auth/v1. */
    auth: "supabase/gotrue:v2.186.0",
    /** Kong 2.8 in DB-less mode: the API gateway in front of rest, auth, meta and studio. */
    kong: "kong:2.8.1",
    /** postgres-meta: Studio's database API (/pg, admin only). */
    meta: "supabase/postgres-meta:v0.95.2",
    /** Supabase Studio, behind Kong's basic auth. */
    studio: "supabase/studio:2026.02.16-sha-26c615c",
} as const;

export type SupabaseComponent = keyof typeof SUPABASE_IMAGES;

/** The version part of each pinned image, for the stack outputs. */
export function componentVersions(): Record<SupabaseComponent, string> {
    return Object.fromEntries(
        Object.entries(SUPABASE_IMAGES).map(([name, image]) => [name, image.slice(image.lastIndexOf(":") + 1)]),
    ) as Record<SupabaseComponent, string>;
}
