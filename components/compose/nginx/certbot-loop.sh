#!/bin/sh
# Entrypoint of the certbot container. First a self-signed bootstrap certificate per host, so nginx
# can start before Let's Encrypt has issued anything; then, once nginx serves the HTTP-01 webroot,
# a certificate per host (certonly --webroot) and `certbot renew` twice a day. nginx picks up new
# and renewed certificates itself (see nginx-entrypoint.sh).
set -eu
: "${DOMAINS:?space-separated host names}"
: "${ACME_EMAIL:?e-mail address for the ACME account}"
: "${PROXY_HOST:?compose service name of nginx}"
WEBROOT=/var/www/certbot
BOOTSTRAP=/etc/letsencrypt/bootstrap

mkdir -p "$BOOTSTRAP" "$WEBROOT"
for domain in $DOMAINS; do
    if [ ! -f "$BOOTSTRAP/$domain/fullchain.pem" ]; then
        python3 /opt/certbot/bootstrap-cert.py "$domain" "$BOOTSTRAP/$domain"
    fi
done
touch "$BOOTSTRAP/ready"

until wget -q -O /dev/null "http://$PROXY_HOST/healthz"; do
    echo "certbot: waiting for $PROXY_HOST to serve the ACME webroot" >&2
    sleep 5
done

while :; do
    missing=0
    for domain in $DOMAINS; do
        if [ ! -f "/etc/letsencrypt/live/$domain/fullchain.pem" ]; then
            certbot certonly --webroot --webroot-path "$WEBROOT" --cert-name "$domain" --domain "$domain" \
                --email "$ACME_EMAIL" --agree-tos --no-eff-email --non-interactive --keep-until-expiring \
                || { echo "certbot: no certificate for $domain yet (DNS not pointing here?); retrying in an hour" >&2; missing=1; }
        fi
    done
    certbot renew --non-interactive || echo "certbot: renew failed; retrying at the next round" >&2
    # Retry soon while a host has no certificate (Let's Encrypt allows 5 failures per host per hour).
    if [ "$missing" -eq 1 ]; then sleep 3600; else sleep 43200; fi
done
