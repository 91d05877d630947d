#!/bin/sh
# The Compose service `postgres-backup`: runs postgres-backup.sh every day at $BACKUP_TIME (HH:MM,
# UTC; the stack config backupSchedule `M H * * *`), forever. A failed run is logged and retried
# at the next day's time; the freshness alert (PostgresBackupStale) reports a streak of failures.
set -eu

: "${BACKUP_TIME:?BACKUP_TIME is unset (HH:MM, UTC)}"
script="$(dirname "$0")/postgres-backup.sh"
while true; do
    now=$(date -u +%s)
    next=$(date -u -d "$BACKUP_TIME" +%s)
    if [ "$next" -le "$now" ]; then
        next=$((next + 86400))
    fi
    echo "postgres-backup: next backup at $(date -u -d "@$next" '+%Y-%m-%d %H:%M UTC')" >&2
    sleep $((next - now))
    sh "$script" || echo "postgres-backup: the backup failed; next attempt at the next scheduled time" >&2
done
