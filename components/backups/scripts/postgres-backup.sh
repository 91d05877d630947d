#!/bin/sh
# One encrypted, offsite backup of the stack's Postgres database, then retention.
# Runs unchanged as the Kubernetes CronJob `postgres-backup`, the migration Job's init container,
# the Compose services `postgres-backup` (scheduled) and `postgres-backup-pre-migration`, and the
# restore drill in test/backups.spec.ts.
#
#   1. pg_dump --format=custom of $PGDATABASE, uncompressed (restic compresses and deduplicates
#      it, which a compressed dump would defeat), and pg_dumpall --roles-only (role names and
#      attributes, no passwords) beside it, into a scratch directory.
#   2. restic backup of that directory to $RESTIC_REPOSITORY (created on first use), encrypted
#      with $RESTIC_PASSWORD, tagged `postgres` and $BACKUP_TAG, host $BACKUP_HOST.
#   3. restic forget --keep-daily $BACKUP_KEEP_DAILY --keep-weekly $BACKUP_KEEP_WEEKLY --prune,
#      per tag, so pre-migration snapshots never push the scheduled ones out.
#   4. With $METRICS_TEXTFILE_DIR set: the node-exporter textfile metric
#      archon_postgres_backup_last_success_timestamp_seconds (Compose; Kubernetes reads the
#      CronJob's last successful time from kube-state-metrics instead).
#
# Environment: PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD (libpq); RESTIC_REPOSITORY,
# RESTIC_PASSWORD, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, BACKUP_S3_REGION (optional);
# BACKUP_HOST, BACKUP_TAG, BACKUP_KEEP_DAILY, BACKUP_KEEP_WEEKLY, BACKUP_WORK_DIR;
# RESTIC (the restic binary, default `restic` on PATH); METRICS_TEXTFILE_DIR (optional).
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
restic_bin="${RESTIC:-restic}"
work_root="${BACKUP_WORK_DIR:-/tmp}"
export RESTIC_CACHE_DIR="${RESTIC_CACHE_DIR:-$work_root/restic-cache}"

# restic's S3 backend takes the region as an extended option.
restic_cmd() {
    if [ -n "${BACKUP_S3_REGION:-}" ]; then
        "$restic_bin" -o s3.region="$BACKUP_S3_REGION" "$@"
    else
        "$restic_bin" "$@"
    fi
}

log() {
    echo "postgres-backup: $*" >&2
}

work=$(mktemp -d "$work_root/postgres-backup.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
dump_dir="$work/postgres"
mkdir -p "$dump_dir"

log "dumping database $PGDATABASE"
pg_dump --format=custom --compress=0 --no-password --file="$dump_dir/$PGDATABASE.dump" "$PGDATABASE"
pg_dumpall --roles-only --no-role-passwords --no-password --file="$dump_dir/roles.sql"

if ! restic_cmd cat config >/dev/null 2>&1; then
    log "initialising the repository $RESTIC_REPOSITORY"
    restic_cmd init
fi

log "uploading to $RESTIC_REPOSITORY (tag $tag)"
# Relative paths, so every snapshot holds postgres/<db>.dump whatever the scratch directory was.
(cd "$work" && restic_cmd backup --host "$BACKUP_HOST" --tag postgres --tag "$tag" postgres)

log "retention for tag $tag: $BACKUP_KEEP_DAILY daily, $BACKUP_KEEP_WEEKLY weekly"
restic_cmd forget --host "$BACKUP_HOST" --tag "postgres,$tag" --group-by host,tags \
    --keep-daily "$BACKUP_KEEP_DAILY" --keep-weekly "$BACKUP_KEEP_WEEKLY" --prune

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
