#!/bin/sh
# Grafana's admin password, as the stack says it is (passwords.grafana). Grafana reads
# GF_SECURITY_ADMIN_PASSWORD only when it creates the admin user in a new database
# (grafana/grafana pkg/services/user's admin creation at first start); afterwards a changed
# value is ignored, and a raised secretsVersion would leave the output passwords.grafana wrong.
# So, before Grafana starts (Compose: its entrypoint, then /run.sh; Kubernetes: an init container
# on the same volume), the password of an existing database is set with Grafana's own CLI from
# stdin: `grafana cli admin reset-admin-password --password-from-stdin` (grafana/grafana
# pkg/cmd/grafana-cli/commands/reset_password_command.go: user id 1, the admin). The same image as
# the server, so the CLI migrates the database no further than the server would.
set -eu

data="${GF_PATHS_DATA:-/var/lib/grafana}"
if [ -f "$data/grafana.db" ]; then
    printf '%s\n' "$GF_SECURITY_ADMIN_PASSWORD" |
        grafana cli --homepath "${GF_PATHS_HOME:-/usr/share/grafana}" --config "${GF_PATHS_CONFIG:-/etc/grafana/grafana.ini}" \
            admin reset-admin-password --password-from-stdin >/dev/null
    echo "grafana: the admin password is set to the stack's (passwords.grafana)" >&2
fi
if [ "$#" -gt 0 ]; then
    exec "$@"
fi
