#!/bin/sh
# The one-shot `db-role-passwords`: sets every login role's password and the JWT settings in the
# database to the stack's current secrets, on every deploy. Supabase's Postgres image sets them only
# when it initialises an empty data directory (migrations/supabase-init.sql as an init script), so a
# raised `secretsVersion` would otherwise leave the database on the old passwords and every service
# locked out. It runs that same SQL file, logged in as supabase_admin: with the current password,
# or, when the database still has the one from before the raise, with PGPASSWORD_PREVIOUS (the
# other slot of components/secrets/secrets.ts alternatingSlots). Idempotent.
#
# Environment: PGHOST PGPORT PGUSER (supabase_admin) PGDATABASE PGPASSWORD (libpq);
# PGPASSWORD_PREVIOUS; POSTGRES_PASSWORD AUTHENTICATOR_PASSWORD SUPABASE_AUTH_ADMIN_PASSWORD
# JWT_SECRET JWT_EXP (what supabase-init.sql reads).
set -eu

log() {
    echo "db-role-passwords: $*" >&2
}

errors=$(mktemp -d)
trap 'rm -rf "$errors"' EXIT INT TERM
connects() {
    psql -X -w -q -c 'SELECT 1' >/dev/null 2>"$errors/$1"
}

attempt=0
until connects current; do
    if grep -q "password authentication failed" "$errors/current"; then
        if [ -n "${PGPASSWORD_PREVIOUS:-}" ] && PGPASSWORD="$PGPASSWORD_PREVIOUS" connects previous; then
            log "$PGUSER still has the password from before secretsVersion was raised: logging in with it to set the new ones"
            PGPASSWORD="$PGPASSWORD_PREVIOUS"
            export PGPASSWORD
            break
        fi
        log "neither the current nor the previous password of $PGUSER is accepted: secretsVersion was raised twice without a deploy in between, or the password was changed by hand. Set it to the current one (pulumi stack output --show-secrets passwords) as a superuser inside the db container: psql -h localhost -U supabase_admin -c \"ALTER USER supabase_admin PASSWORD '...'\""
        exit 1
    fi
    attempt=$((attempt + 1))
    if [ "$attempt" -ge 60 ]; then
        log "the database does not answer: $(tail -n 1 "$errors/current")"
        exit 1
    fi
    sleep 2
done

psql -X -w -q -v ON_ERROR_STOP=1 -f "$(dirname "$0")/supabase-init.sql"
log "the role passwords and app.settings.jwt_secret are the stack's current ones"
