#!/bin/sh
# Restores a backup made by postgres-backup.sh.
#
#   postgres-restore.sh <snapshot-id|latest>                  into $PGDATABASE, replacing what is there
#   postgres-restore.sh <snapshot-id|latest> <new-database>   into a new database, for inspection
#
# The snapshot's custom-format dump is restored with pg_restore: the schemas in $RESTORE_SCHEMAS
# (default `public`, where Archon keeps its tables), in one transaction that stops at the first
# error. Replacing drops and recreates those schemas' objects (--clean --if-exists); stop every
# service that writes to them first (npm run restore does). A new database first gets the
# extensions the dump lists (Archon's tables need `vector`); extensions this server lacks are
# reported and skipped.
#
# Environment: as postgres-backup.sh (libpq, RESTIC_*, AWS_*, BACKUP_S3_REGION, BACKUP_HOST,
# BACKUP_WORK_DIR, RESTIC), plus RESTORE_SCHEMAS (optional).
set -eu

snapshot="${1:?usage: postgres-restore.sh <snapshot-id|latest> [new-database]}"
target="${2:-}"
: "${PGDATABASE:?PGDATABASE is unset}"
: "${RESTIC_REPOSITORY:?RESTIC_REPOSITORY is unset}"
: "${RESTIC_PASSWORD:?RESTIC_PASSWORD is unset}"
: "${BACKUP_HOST:?BACKUP_HOST is unset}"
schemas="${RESTORE_SCHEMAS:-public}"
restic_bin="${RESTIC:-restic}"
work_root="${BACKUP_WORK_DIR:-/tmp}"
export RESTIC_CACHE_DIR="${RESTIC_CACHE_DIR:-$work_root/restic-cache}"

restic_cmd() {
    if [ -n "${BACKUP_S3_REGION:-}" ]; then
        "$restic_bin" -o s3.region="$BACKUP_S3_REGION" "$@"
    else
        "$restic_bin" "$@"
    fi
}

log() {
    echo "postgres-restore: $*" >&2
}

work=$(mktemp -d "$work_root/postgres-restore.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

log "fetching snapshot $snapshot of host $BACKUP_HOST from $RESTIC_REPOSITORY"
restic_cmd restore "$snapshot" --host "$BACKUP_HOST" --tag postgres --target "$work"
dump="$work/postgres/$PGDATABASE.dump"
[ -f "$dump" ] || { log "snapshot $snapshot holds no postgres/$PGDATABASE.dump"; exit 1; }

schema_args=""
for schema in $schemas; do
    schema_args="$schema_args --schema=$schema"
done

if [ -z "$target" ]; then
    log "replacing schemas ($schemas) of database $PGDATABASE"
    # shellcheck disable=SC2086 # one --schema argument per word
    pg_restore --no-password --dbname="$PGDATABASE" --clean --if-exists --single-transaction --exit-on-error $schema_args "$dump"
else
    log "restoring schemas ($schemas) into the new database $target"
    psql -X -v ON_ERROR_STOP=1 -q --no-password -v db="$target" -d "$PGDATABASE" <<'SQL'
CREATE DATABASE :"db" TEMPLATE template0;
SQL
    # The dump's extensions (with the schemas they live in) first, one by one: a server without
    # one of them (e.g. pgvector) still restores the rest, and says which it skipped.
    pg_restore --list "$dump" >"$work/toc"
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
    # shellcheck disable=SC2086 # one --schema argument per word
    pg_restore --no-password --dbname="$target" --single-transaction --exit-on-error $schema_args "$dump"
fi
log "done"
