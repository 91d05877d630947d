#!/bin/sh
# Applies Archon's SQL migrations exactly once each, guarded by Archon's own `archon_migrations`
# table. It is the entrypoint of the `archon-migrate` image (one per release tag, holding that
# tag's migration/ SQL), run as the migration Job (Kubernetes) or the one-shot `archon-migrate`
# service (Compose) before the Archon services start; safe to run again and again.
#
# Files in $MIGRATIONS_DIR (default /migrations), Archon's migration/ directory at the pinned commit
# (images/archon-source.json):
#   complete_setup.sql        the full schema. NOT idempotent, so it runs only while
#                             archon_migrations does not exist (a fresh database). It records the
#                             migrations it already contains (INSERT INTO archon_migrations ...).
#   <version>/<name>.sql      later migrations, applied in version order, then name order, unless
#                             archon_migrations records (version, name without .sql), as Archon's
#                             own migration_service.py and complete_setup.sql name them.
# Each file runs in one transaction together with its archon_migrations record, so a failure
# leaves nothing half-applied and the next run retries it. Some of Archon's files carry their own
# `BEGIN;` ... `COMMIT;` lines (0.1.0/003, 004, 005 and 009): inside psql's --single-transaction
# that COMMIT would end the transaction early, commit the file without its record, and leave
# whatever follows outside any transaction. Those two lines (exactly `BEGIN;` / `COMMIT;` alone on a
# line; PL/pgSQL blocks write `BEGIN` without a semicolon) are dropped, so the file's statements and
# its record commit together.
#
# A database with Archon's tables but no archon_migrations is an Archon install from before
# migration tracking (0.1.0's 008): complete_setup.sql would fail half-way on it, run after run.
# It is refused with one line, and nothing is applied.
#
# Rollback: when the database records a migration that sorts after the last one this image ships
# (version numerically, then name), a newer release has migrated it. This (older) release then
# applies nothing at all, neither its own unrecorded files (the newer release may have replaced
# them) nor anything "down": migrations are expand/contract, so the older application runs on the
# newer schema. Unknown records that sort before it are migrations a later release dropped (or an
# older one shipped); they change nothing.
#
# Connection: the libpq variables PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD.
set -eu

dir="${MIGRATIONS_DIR:-/migrations}"
tab=$(printf '\t')

query() {
    psql -X -v ON_ERROR_STOP=1 -A -t -q "$@"
}

# The shipped migrations, one "<sort key><TAB><version><TAB><name>" line each, in apply order.
shipped_migrations() {
    for file in "$dir"/*/*.sql; do
        [ -f "$file" ] || continue
        version=$(basename "$(dirname "$file")")
        case "$version" in
            [0-9]*.[0-9]*.[0-9]*) ;;
            *) continue ;;
        esac
        key=$(echo "$version" | awk -F. '{ printf "%06d.%06d.%06d", $1, $2, $3 }')
        printf '%s\t%s\t%s\n' "$key" "$version" "$(basename "$file" .sql)"
    done | sort
}

# A migration file without the lines that would end the surrounding transaction (see above).
without_transaction_control() {
    grep -v -i -E '^[[:space:]]*(BEGIN|COMMIT)[[:space:]]*;[[:space:]]*$' "$1" || true
}

has_table=$(query -c "SELECT to_regclass('public.archon_migrations') IS NOT NULL")
if [ "$has_table" != "t" ]; then
    archon_tables=$(query -c "SELECT string_agg(tablename, ', ' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'archon\_%'")
    if [ -n "$archon_tables" ]; then
        echo "archon-migrate: the database has Archon tables ($archon_tables) but no archon_migrations: an Archon install older than migration tracking, which complete_setup.sql cannot set up; bring it to Archon 0.1.0 by hand (Archon's migration/0.1.0/*.sql in order, see its DB_UPGRADE_INSTRUCTIONS.md) or restore into an empty database; applying nothing" >&2
        exit 1
    fi
    if [ ! -f "$dir/complete_setup.sql" ]; then
        echo "archon-migrate: the database has no archon_migrations table and $dir/complete_setup.sql is missing: this is not an archon-migrate image of an Archon v1 release" >&2
        exit 1
    fi
    echo "archon-migrate: fresh database, applying complete_setup.sql"
    query --single-transaction -f "$dir/complete_setup.sql"
fi

migrations=$(shipped_migrations)
last=$(printf '%s\n' "$migrations" | tail -n 1)
last_version=$(printf '%s\n' "$last" | cut -f 2)
last_name=$(printf '%s\n' "$last" | cut -f 3)

# psql interpolates :'variables' only in script input, so these queries come on stdin.
newer=$(printf '%s\n' "SELECT string_agg(version || '/' || migration_name, ', ' ORDER BY string_to_array(version, '.')::int[], migration_name)
    FROM archon_migrations
    WHERE version ~ '^[0-9]+(\\.[0-9]+)*\$'
      AND (:'last_version' = ''
           OR (string_to_array(version, '.')::int[], migration_name) > (string_to_array(:'last_version', '.')::int[], :'last_name'));" |
    query -v last_version="$last_version" -v last_name="$last_name")
if [ -n "$newer" ]; then
    echo "archon-migrate: the database records migrations after this release's last ($last_version/$last_name): $newer; a newer release migrated it, applying nothing"
    exit 0
fi

printf '%s\n' "$migrations" | while IFS="$tab" read -r _key version name; do
    [ -n "$name" ] || continue
    applied=$(echo "SELECT count(*) FROM archon_migrations WHERE version = :'version' AND migration_name = :'name';" |
        query -v version="$version" -v name="$name")
    if [ "$applied" != "0" ]; then
        continue
    fi
    echo "archon-migrate: applying $version/$name"
    {
        without_transaction_control "$dir/$version/$name.sql"
        echo
        echo "INSERT INTO archon_migrations (version, migration_name) VALUES (:'version', :'name') ON CONFLICT DO NOTHING;"
    } | query --single-transaction -v version="$version" -v name="$name"
done

# PostgREST caches the schema; tell it about new tables and columns.
query -c "NOTIFY pgrst, 'reload schema'"
echo "archon-migrate: up to date"
