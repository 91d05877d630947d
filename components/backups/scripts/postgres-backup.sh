#!/bin/sh
# One encrypted, offsite backup of the stack's Postgres database, then retention.
# Runs unchanged as the Kubernetes CronJob `postgres-backup`, the migration Job's init container,
# the Compose services `postgres-backup` (scheduled) and `postgres-backup-pre-migration`, and the
# restore drills in test/backups.spec.ts and test/restore-drill.spec.ts.
#
#   1. pg_dump --format=custom of $PGDATABASE, uncompressed (restic compresses and deduplicates
#      it, which a compressed dump would defeat), and pg_dumpall --roles-only (role names and
#      attributes, no passwords) beside it, into a scratch directory.
#   2. What the dump holds, counted from the dump: tags `data-rows=<n>` (rows of Archon's tables
#      beyond what its migration seeds; 0 for a fresh stack), `auth-users=<n>` (GoTrue's users) and
#      `dump-bytes=<n>`, so a restore can tell an empty database's backup from a real one without
#      downloading it (postgres-restore.sh --list).
#   3. restic backup of that directory to $RESTIC_REPOSITORY (created on first use; a key rotated
#      by secretsVersion is replaced first, backup-common.sh open_repository), encrypted with
#      $RESTIC_PASSWORD, tagged `postgres`, $BACKUP_TAG and the counts, host $BACKUP_HOST.
#   4. restic forget --prune per tag, grouped by host (the count tags vary per snapshot):
#      --keep-daily $BACKUP_KEEP_DAILY --keep-weekly $BACKUP_KEEP_WEEKLY; pre-migration snapshots
#      also --keep-last $BACKUP_KEEP_PRE_MIGRATION, so a same-day deploy and rollback (two
#      pre-migration backups in one day) keep the snapshot taken before the first migration.
#   5. With $METRICS_TEXTFILE_DIR set: the node-exporter textfile metric
#      archon_postgres_backup_last_success_timestamp_seconds (Compose; Kubernetes reads the
#      CronJob's last successful time from kube-state-metrics instead).
#
# Environment: PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD (libpq); RESTIC_REPOSITORY,
# RESTIC_PASSWORD, RESTIC_PASSWORD_PREVIOUS (optional), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
# BACKUP_S3_REGION (optional); BACKUP_HOST, BACKUP_TAG, BACKUP_KEEP_DAILY, BACKUP_KEEP_WEEKLY,
# BACKUP_KEEP_PRE_MIGRATION, BACKUP_WORK_DIR; RESTIC (the restic binary, default `restic` on
# PATH); METRICS_TEXTFILE_DIR (optional).
set -eu

: "${PGDATABASE:?PGDATABASE is unset}"
: "${RESTIC_REPOSITORY:?RESTIC_REPOSITORY is unset}"
: "${RESTIC_PASSWORD:?RESTIC_PASSWORD is unset}"
case "$RESTIC_REPOSITORY" in
s3:*)
    : "${AWS_ACCESS_KEY_ID:?is unset: set the stack config backupAccessKeyId (pulumi config set --secret backupAccessKeyId ...) and pulumi up}"
    : "${AWS_SECRET_ACCESS_KEY:?is unset: set the stack config backupSecretAccessKey (pulumi config set --secret backupSecretAccessKey ...) and pulumi up}"
    ;;
esac
: "${BACKUP_HOST:?BACKUP_HOST is unset}"
: "${BACKUP_KEEP_DAILY:?BACKUP_KEEP_DAILY is unset}"
: "${BACKUP_KEEP_WEEKLY:?BACKUP_KEEP_WEEKLY is unset}"
tag="${BACKUP_TAG:-scheduled}"
keep_pre_migration="${BACKUP_KEEP_PRE_MIGRATION:-10}"
work_root="${BACKUP_WORK_DIR:-/tmp}"
export RESTIC_CACHE_DIR="${RESTIC_CACHE_DIR:-$work_root/restic-cache}"
log_prefix=postgres-backup
# shellcheck source=SCRIPTDIR/backup-common.sh
. "$(dirname "$0")/backup-common.sh"

work=$(mktemp -d "$work_root/postgres-backup.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
dump_dir="$work/postgres"
mkdir -p "$dump_dir"
dump="$dump_dir/$PGDATABASE.dump"

log "dumping database $PGDATABASE"
pg_dump --format=custom --compress=0 --no-password --file="$dump" "$PGDATABASE"
pg_dumpall --roles-only --no-role-passwords --no-password --file="$dump_dir/roles.sql"
dump_row_counts "$dump" >"$work/rows"
data_rows=$(data_rows public <"$work/rows")
auth_users=$(awk '$1 == "auth.users" { print $2 }' "$work/rows")
dump_bytes=$(wc -c <"$dump" | tr -d ' ')
log "the dump holds ${data_rows} rows of Archon data and ${auth_users:-0} GoTrue users (${dump_bytes} bytes)"

open_repository create

log "uploading to $RESTIC_REPOSITORY (tag $tag)"
# Relative paths, so every snapshot holds postgres/<db>.dump whatever the scratch directory was.
(cd "$work" && restic_cmd backup --host "$BACKUP_HOST" --tag postgres --tag "$tag" \
    --tag "data-rows=$data_rows" --tag "auth-users=${auth_users:-0}" --tag "dump-bytes=$dump_bytes" postgres)

if [ "$tag" = pre-migration ]; then
    log "retention for tag $tag: the last $keep_pre_migration, and $BACKUP_KEEP_DAILY daily, $BACKUP_KEEP_WEEKLY weekly"
    restic_cmd forget --host "$BACKUP_HOST" --tag "postgres,$tag" --group-by host \
        --keep-last "$keep_pre_migration" --keep-daily "$BACKUP_KEEP_DAILY" --keep-weekly "$BACKUP_KEEP_WEEKLY" --prune
else
    log "retention for tag $tag: $BACKUP_KEEP_DAILY daily, $BACKUP_KEEP_WEEKLY weekly"
    restic_cmd forget --host "$BACKUP_HOST" --tag "postgres,$tag" --group-by host \
        --keep-daily "$BACKUP_KEEP_DAILY" --keep-weekly "$BACKUP_KEEP_WEEKLY" --prune
fi

if [ -n "${METRICS_TEXTFILE_DIR:-}" ]; then
    # node-exporter reads *.prom files; write beside and rename, so it never sees half a file.
    metric="$METRICS_TEXTFILE_DIR/postgres_backup.prom"
    {
        echo "# HELP archon_postgres_backup_last_success_timestamp_seconds Unix time of the last successful Postgres backup upload."
        echo "# TYPE archon_postgres_backup_last_success_timestamp_seconds gauge"
        echo "archon_postgres_backup_last_success_timestamp_seconds $(date +%s)"
    } >"$metric.tmp"
    chmod 0644 "$metric.tmp"
    mv "$metric.tmp" "$metric"
fi
log "done"
