# shellcheck shell=sh disable=SC2154 # $log_prefix and $work are the sourcing script's
# Sourced by postgres-backup.sh and postgres-restore.sh (not run on its own): restic with the
# stack's settings, the repository's keys, and what a snapshot holds.
#
# Expects: $log_prefix, $work (a private scratch directory), RESTIC_REPOSITORY, RESTIC_PASSWORD,
# optionally RESTIC_PASSWORD_PREVIOUS, BACKUP_S3_REGION, RESTIC.

restic_bin="${RESTIC:-restic}"

log() {
    echo "$log_prefix: $*" >&2
}

# restic's S3 backend takes the region as an extended option.
restic_cmd() {
    if [ -n "${BACKUP_S3_REGION:-}" ]; then
        "$restic_bin" -o s3.region="$BACKUP_S3_REGION" "$@"
    else
        "$restic_bin" "$@"
    fi
}

# Opens the repository with RESTIC_PASSWORD (the stack's current backupEncryptionKey). When only
# RESTIC_PASSWORD_PREVIOUS opens it, secretsVersion was raised since the last backup: the previous
# key is replaced by the current one (`restic key passwd`: adds the new key, checks it, removes the
# old one), so a rotation needs no hand work and leaves no stale key behind. $1: `create` (a missing
# repository is initialised) or `existing`. restic says "wrong password or no key found" (restic/restic
# internal/repository/key.go ErrNoKeyFound; exit 12 since 0.17, 1 before) when no key opens it.
open_repository() {
    if restic_cmd cat config >/dev/null 2>"$work/open.err"; then
        return 0
    fi
    if grep -q "wrong password or no key found" "$work/open.err"; then
        if [ -n "${RESTIC_PASSWORD_PREVIOUS:-}" ] && RESTIC_PASSWORD="$RESTIC_PASSWORD_PREVIOUS" restic_cmd cat config >/dev/null 2>&1; then
            log "the repository opens with the previous backup key only (secretsVersion was raised): replacing that key with the current one"
            (umask 077 && printf '%s\n' "$RESTIC_PASSWORD" >"$work/new-key")
            RESTIC_PASSWORD="$RESTIC_PASSWORD_PREVIOUS" restic_cmd key passwd --new-password-file "$work/new-key" >&2
            rm -f "$work/new-key"
            restic_cmd cat config >/dev/null
            return 0
        fi
        log "neither the current nor the previous backup key opens $RESTIC_REPOSITORY: secretsVersion was raised twice without a backup in between, or the key was changed by hand. Add the current key (pulumi stack output --show-secrets backupEncryptionKey) with 'restic key add', opening the repository with a key it knows (an older backupEncryptionKey from pulumi stack history)"
        return 1
    fi
    if [ "$1" = create ]; then
        log "initialising the repository $RESTIC_REPOSITORY"
        restic_cmd init >&2
        return 0
    fi
    log "cannot open the repository $RESTIC_REPOSITORY: $(tail -n 1 "$work/open.err")"
    return 1
}

# What a dump holds, counted from the dump itself: one "<schema>.<table> <rows>" line per table
# with data, from pg_restore's plain-text COPY blocks (a row is one line: COPY's text format
# escapes newlines, and a row is never exactly `\.`).
dump_row_counts() {
    pg_restore --data-only --file=- "$1" | awk '
        /^COPY / { table = $2; inside = 1; rows[table] += 0; next }
        inside && /^\\\.$/ { inside = 0; next }
        inside { rows[table]++ }
        END { for (t in rows) print t, rows[t] }' | sort
}

# Rows of the dump's user data: every table of the schemas in $1 (default public) but the ones
# Archon's complete_setup.sql fills itself (settings, prompts, migration records), so a fresh
# stack's database counts 0. Reads dump_row_counts lines on stdin.
data_rows() {
    awk -v schemas="${1:-public}" '
        BEGIN { n = split(schemas, list, " "); for (i = 1; i <= n; i++) wanted[list[i]] = 1 }
        {
            split($1, name, ".")
            if (!(name[1] in wanted)) next
            if (name[2] ~ /^(archon_settings|archon_prompts|archon_migrations)$/) next
            total += $2
        }
        END { print total + 0 }'
}
