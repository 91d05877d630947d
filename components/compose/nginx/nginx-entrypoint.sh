#!/bin/sh
# Entrypoint of the Compose proxy (nginx). Each host's certificate directory under /etc/nginx/certs
# is a symlink: to Let's Encrypt's live certificate once certbot has one, until then to the
# self-signed bootstrap certificate certbot generated at its start (nginx cannot listen on 443
# without a certificate). nginx reloads when a link changes, every 6 hours (so renewed
# certificates are served without a restart) and on SIGHUP to this script.
set -eu
: "${DOMAINS:?space-separated host names}"
CERTS=/etc/nginx/certs
RELOAD_EVERY_SECONDS=21600

# Succeeds when at least one link changed.
link_certificates() {
    changed=1
    for domain in $DOMAINS; do
        target="/etc/letsencrypt/bootstrap/$domain"
        if [ -f "/etc/letsencrypt/live/$domain/fullchain.pem" ]; then
            target="/etc/letsencrypt/live/$domain"
        fi
        if [ "$(readlink "$CERTS/$domain" 2>/dev/null || true)" != "$target" ]; then
            ln -sfn "$target" "$CERTS/$domain"
            changed=0
        fi
    done
    return "$changed"
}

mkdir -p "$CERTS"
link_certificates || true
nginx -g 'daemon off;' &
nginx_pid=$!
trap 'kill -TERM "$nginx_pid" 2>/dev/null || true' TERM INT
# `docker compose kill -s HUP proxy` reaches this shell, PID 1: hand it to nginx, which reloads.
trap 'kill -HUP "$nginx_pid" 2>/dev/null || true' HUP

elapsed=0
while kill -0 "$nginx_pid" 2>/dev/null; do
    sleep 60 &
    wait "$!" || true
    elapsed=$((elapsed + 60))
    if link_certificates || [ "$elapsed" -ge "$RELOAD_EVERY_SECONDS" ]; then
        nginx -s reload || echo "proxy: nginx reload failed; keeping the running configuration" >&2
        elapsed=0
    fi
done
wait "$nginx_pid"
