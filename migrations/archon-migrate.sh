#!/bin/sh
# Applies Archon's SQL migrations exactly once each, guarded by Archon's own `archon_migrations`
# table. Runs as the migration Job (Kubernetes) or the one-shot `archon-migrate` service (Compose)
# before the Archon services start; safe to run again and again.
#
# Files in $MIGRATIONS_DIR (default /migrations), taken from an Archon checkout (tag v0.1.0):
#   complete_setup.sql        migration/complete_setup.sql: the full schema. NOT idempotent, so it
#                             runs only while archon_migrations does not exist (a fresh database).
#   <version>--<name>.sql     migration/<version>/<name>.sql: later migrations, applied in name
#                             order unless archon_migrations already records (version, name).
# Each file runs in one transaction together with its archon_migrations record, so a failure
# leaves nothing half-applied and the next run retries it.
# Connection: the libpq variables PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD.
set -eu

dir="${MIGRATIONS_DIR:-/migrations}"

query() {
    psql -X -v ON_ERROR_STOP=1 -A -t -q "$@"
}

has_table=$(query -c "SELECT to_regclass('public.archon_migrations') IS NOT NULL")
if [ "$has_table" != "t" ]; then
    if [ ! -f "$dir/complete_setup.sql" ]; then
        echo "archon-migrate: the database has no archon_migrations table and $dir/complete_setup.sql is missing;" >&2
        echo "archon-migrate: set archonSourceDir to an Archon checkout (tag v0.1.0) so the migrations are shipped" >&2
        exit 1
    fi
    echo "archon-migrate: fresh database, applying complete_setup.sql"
    query --single-transaction -f "$dir/complete_setup.sql"
fi

for file in "$dir"/*--*.sql; do
    [ -e "$file" ] || continue
    base=$(basename "$file" .sql)
    version=${base%%--*}
    name=${base#*--}
    # psql interpolates :'variables' only in script input, so the query comes on stdin.
    applied=$(echo "SELECT count(*) FROM archon_migrations WHERE version = :'version' AND migration_name = :'name';" |
        query -v version="$version" -v name="$name")
    if [ "$applied" != "0" ]; then
        continue
    fi
    echo "archon-migrate: applying $version/$name"
    {
        cat "$file"
        echo
        echo "INSERT INTO archon_migrations (version, migration_name) VALUES (:'version', :'name') ON CONFLICT DO NOTHING;"
    } | query --single-transaction -v version="$version" -v name="$name"
done

# PostgREST caches the schema; tell it about new tables and columns.
query -c "NOTIFY pgrst, 'reload schema'"
echo "archon-migrate: up to date"
