#!/bin/sh
# Lists and restores the backups postgres-backup.sh makes.
#
#   postgres-restore.sh --list [--allow-empty] <snapshot>           the snapshots, and the one <snapshot> picks
#   postgres-restore.sh [--allow-empty] <snapshot>                  into $PGDATABASE, replacing what is there
#   postgres-restore.sh [--allow-empty] <snapshot> <new-database>   into a new database, for inspection
#
# <snapshot> is a snapshot id, or `latest` (any tag), `latest:scheduled` or `latest:pre-migration`:
# the newest snapshot of host $BACKUP_HOST that holds Archon data. A snapshot whose tags say its
# dump holds none (data-rows=0: a fresh stack's database, e.g. the first backup of a replacement
# stack in a disaster) is passed over by `latest` and refused by id, unless --allow-empty. The list
# (id, time, tags, rows, GoTrue users, dump size) is printed first (stderr); stdout gets one line,
# `snapshot <id> <time>` (UTC), for npm run restore and the DR drill's recovery point.
#
# The restore follows Supabase's own (supabase/supabase apps/docs/content/guides/platform/
# migrating-within-supabase/backup-restore.mdx, "Restore backup using CLI": psql
# --single-transaction -v ON_ERROR_STOP=1, the schema, then `SET session_replication_role =
# replica` and the data; supabase/cli internal/db/dump/dump.go and templates/dump_data.sh: the
# data of auth (GoTrue's users) is carried over, its schema and `auth.schema_migrations` are the
# target's own):
#   - into the running database: in ONE transaction that stops at the first error, GoTrue's
#     tables (`auth`) are emptied and the schemas in $RESTORE_SCHEMAS (default `public`: Archon's)
#     replaced (pg_restore --clean --if-exists), then auth's data is loaded with triggers off. The
#     database must be a Supabase one (the image's init made its roles and the auth schema, GoTrue
#     made its tables): the running stack's, or a replacement stack's. Stop every service that
#     writes to it first (npm run restore does), and run archon-migrate after (npm run restore
#     does): an older dump may predate the release's migrations.
#   - into a new database: it is created (template0), the dump's extensions are added one by one
#     (those this server lacks are reported and skipped), then `auth` and $RESTORE_SCHEMAS, schema
#     and data, in one transaction: Archon's row level security policies call auth.role(), so the
#     auth schema comes along. On failure the new database is dropped again.
#
# Environment: as postgres-backup.sh (libpq, RESTIC_*, AWS_*, BACKUP_S3_REGION, BACKUP_HOST,
# BACKUP_WORK_DIR, RESTIC), plus RESTORE_SCHEMAS (optional) and RESTORE_KEY_FROM_STDIN: with 1, the
# repository key is the first line of stdin (another stack's backups, npm run restore --from-stack:
# the key never appears on a command line).
set -eu

list_only=false
allow_empty=false
while [ $# -gt 0 ]; do
    case "$1" in
    --list) list_only=true ;;
    --allow-empty) allow_empty=true ;;
    -*) echo "postgres-restore: unknown option $1" >&2; exit 2 ;;
    *) break ;;
    esac
    shift
done
if [ "${RESTORE_KEY_FROM_STDIN:-}" = 1 ]; then
    IFS= read -r RESTIC_PASSWORD || true
    export RESTIC_PASSWORD
    # The previous key of THIS stack means nothing to another stack's repository.
    unset RESTIC_PASSWORD_PREVIOUS
fi
selector="${1:?usage: postgres-restore.sh [--list] [--allow-empty] <snapshot-id|latest|latest:scheduled|latest:pre-migration> [new-database]}"
target="${2:-}"
: "${PGDATABASE:?PGDATABASE is unset}"
: "${RESTIC_REPOSITORY:?RESTIC_REPOSITORY is unset}"
: "${RESTIC_PASSWORD:?RESTIC_PASSWORD is unset}"
: "${BACKUP_HOST:?BACKUP_HOST is unset}"
schemas="${RESTORE_SCHEMAS:-public}"
work_root="${BACKUP_WORK_DIR:-/tmp}"
export RESTIC_CACHE_DIR="${RESTIC_CACHE_DIR:-$work_root/restic-cache}"
log_prefix=postgres-restore
# shellcheck source=SCRIPTDIR/backup-common.sh
. "$(dirname "$0")/backup-common.sh"

work=$(mktemp -d "$work_root/postgres-restore.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

open_repository existing

# The host's snapshots, oldest first: "<id> <time> <tags,...>" per line. restic's JSON is one
# line; split before each snapshot's own "time" key (a summary's keys are backup_start/_end; field
# names from restic/restic v0.18.1 internal/restic/snapshot.go and cmd/restic/cmd_snapshots.go).
# The image has no jq; its sed is GNU sed (supabase/postgres Dockerfile-15: FROM ubuntu:focal).
restic_cmd snapshots --json --host "$BACKUP_HOST" --tag postgres >"$work/snapshots.json"
sed 's/"time":/\n"time":/g' "$work/snapshots.json" | sed -n '/"short_id":/p' | while read -r record; do
    id=$(echo "$record" | sed 's/.*"short_id":"\([0-9a-f]*\)".*/\1/')
    time=$(echo "$record" | sed 's/^"time":"\([^".]*\)[^"]*".*/\1/')
    tags=$(echo "$record" | sed -n 's/.*"tags":\[\([^]]*\)\].*/\1/p' | tr -d '"')
    echo "$id $time ${tags:-none}"
done | sort -k 2 >"$work/snapshots"

tag_value() { # <tags> <name>: the value of name=value, or ?
    echo "$1" | tr ',' '\n' | sed -n "s/^$2=//p" | grep . || echo "?"
}

kind="any"
case "$selector" in
latest) ;;
latest:*) kind="${selector#latest:}" ;;
esac

printf '%-10s %-26s %-14s %10s %10s %12s\n' ID TIME TAG DATA-ROWS AUTH-USERS DUMP-BYTES >&2
chosen=""
while read -r id time tags; do
    tag=$(echo "$tags" | tr ',' '\n' | grep -v -e '^postgres$' -e '=' | head -n 1)
    rows=$(tag_value "$tags" data-rows)
    printf '%-10s %-26s %-14s %10s %10s %12s\n' "$id" "$time" "${tag:-?}" "$rows" "$(tag_value "$tags" auth-users)" "$(tag_value "$tags" dump-bytes)" >&2
    case "$selector" in
    latest | latest:*)
        if { [ "$kind" = any ] || [ "$kind" = "$tag" ]; } && { [ "$rows" != 0 ] || [ "$allow_empty" = true ]; }; then
            chosen="$id"
        fi
        ;;
    *)
        # An id as `restic snapshots` prints it (8 digits), a prefix of it, or the full 64.
        case "$id" in "$selector"*) chosen="$id" ;; esac
        case "$selector" in "$id"*) chosen="$id" ;; esac
        ;;
    esac
done <"$work/snapshots"
# The loop ran in this shell (input redirected, not piped): $chosen is the newest match.

if [ -z "$chosen" ]; then
    case "$selector" in
    latest | latest:*) log "no snapshot of host $BACKUP_HOST (${kind} tag) holds Archon data; pass --allow-empty to restore an empty one, or name a snapshot id" ;;
    *) log "no snapshot $selector of host $BACKUP_HOST in $RESTIC_REPOSITORY" ;;
    esac
    exit 1
fi
chosen_tags=$(awk -v id="$chosen" '$1 == id { print $3 }' "$work/snapshots")
chosen_time=$(awk -v id="$chosen" '$1 == id { print $2 }' "$work/snapshots")
if [ "$(tag_value "$chosen_tags" data-rows)" = 0 ] && [ "$allow_empty" = false ]; then
    log "snapshot $chosen holds no Archon data (data-rows=0: a fresh database's backup); pass --allow-empty to restore it anyway"
    exit 1
fi
echo "snapshot $chosen $chosen_time"
if [ "$list_only" = true ]; then
    exit 0
fi

log "fetching snapshot $chosen of host $BACKUP_HOST from $RESTIC_REPOSITORY"
restic_cmd restore "$chosen" --target "$work" >&2
dump="$work/postgres/$PGDATABASE.dump"
[ -f "$dump" ] || { log "snapshot $chosen holds no postgres/$PGDATABASE.dump"; exit 1; }
# Older snapshots carry no count tags: count from the dump itself.
rows=$(dump_row_counts "$dump" | data_rows "$schemas")
if [ "$rows" = 0 ] && [ "$allow_empty" = false ]; then
    log "the dump of snapshot $chosen holds no Archon data; pass --allow-empty to restore it anyway"
    exit 1
fi

schema_args=""
for schema in $schemas; do
    schema_args="$schema_args --schema=$schema"
done
pg_restore --list "$dump" >"$work/toc"

# pg_restore's output, or a statement that fails: psql then rolls back rather than commit a part.
restore_sql() {
    pg_restore --file=- "$@" "$dump" || echo "DO \$\$ BEGIN RAISE EXCEPTION 'postgres-restore: pg_restore could not read the dump'; END \$\$;"
}

if [ -z "$target" ]; then
    # GoTrue's tables with data in the dump, but not its migration record (the target's own).
    grep -E '^[0-9]+; [0-9]+ [0-9]+ TABLE DATA auth ' "$work/toc" | grep -v ' TABLE DATA auth schema_migrations ' >"$work/auth-data.list" || true
    auth_tables=$(awk '{ printf "%sauth.%s", sep, $7; sep = ", " }' "$work/auth-data.list")
    log "replacing schemas ($schemas) and GoTrue's users (auth data) of database $PGDATABASE, in one transaction"
    {
        if [ -n "$auth_tables" ]; then
            echo "TRUNCATE TABLE $auth_tables CASCADE;"
        fi
        # shellcheck disable=SC2086 # one --schema argument per word
        restore_sql --clean --if-exists $schema_args
        if [ -n "$auth_tables" ]; then
            echo "SET session_replication_role = replica;"
            restore_sql --data-only --use-list="$work/auth-data.list"
            echo "SET session_replication_role = DEFAULT;"
        fi
    } | psql -X -q -o /dev/null -v ON_ERROR_STOP=1 --single-transaction --no-password -d "$PGDATABASE" -f -
else
    log "restoring schemas (auth $schemas) into the new database $target"
    psql -X -v ON_ERROR_STOP=1 -q --no-password -v db="$target" -d "$PGDATABASE" <<'SQL'
CREATE DATABASE :"db" TEMPLATE template0;
SQL
    drop_target() {
        log "the restore into $target failed: dropping the new database again"
        psql -X -q --no-password -v db="$target" -d "$PGDATABASE" <<'SQL' || true
DROP DATABASE IF EXISTS :"db";
SQL
    }
    # The dump's extensions (with the schemas they live in) first, one by one: a server without
    # one of them (e.g. pgvector) still restores the rest, and says which it skipped.
    grep -E '^[0-9]+; [0-9]+ [0-9]+ EXTENSION - ' "$work/toc" >"$work/extensions" || true
    while read -r entry; do
        name=$(echo "$entry" | awk '{print $6}')
        schema=$(pg_restore --file=- --use-list=/dev/stdin "$dump" <<LIST | sed -n 's/.* WITH SCHEMA \([^;]*\);.*/\1/p'
$entry
LIST
        )
        if [ -n "$schema" ]; then
            psql -X -q --no-password -d "$target" -v s="$schema" <<'SQL' >/dev/null
CREATE SCHEMA IF NOT EXISTS :"s";
SQL
        fi
        if ! echo "$entry" | pg_restore --no-password --dbname="$target" --use-list=/dev/stdin "$dump" 2>"$work/extension.err"; then
            log "skipped extension $name: $(tail -n 1 "$work/extension.err")"
        fi
    done <"$work/extensions"
    # pg_restore --schema restores what is IN a schema, not the schema itself: its own entry first
    # (public exists in every new database).
    : >"$work/schemas.list"
    for schema in auth $schemas; do
        [ "$schema" = public ] || grep -E "^[0-9]+; [0-9]+ [0-9]+ SCHEMA - $schema " "$work/toc" >>"$work/schemas.list" || true
    done
    # shellcheck disable=SC2086 # one --schema argument per word
    if ! { restore_sql --use-list="$work/schemas.list"; restore_sql --schema=auth $schema_args; } | psql -X -q -o /dev/null -v ON_ERROR_STOP=1 --single-transaction --no-password -d "$target" -f -; then
        drop_target
        exit 1
    fi
fi
log "restored snapshot $chosen"
