# Brings the delivered Compose project up and waits for every service's health check.
: "${PROJECT_DIR:?}"
cd "$PROJECT_DIR" || exit 1
docker compose up -d --wait --remove-orphans
# nginx resolves its upstreams' names only when it (re)loads its configuration: a backend recreated
# by this `up` has a new IP, so the proxy reloads (SIGHUP; its entrypoint hands it to nginx).
if [ -n "${PROXY_SERVICE:-}" ] && docker compose config --services | grep -qxF -- "$PROXY_SERVICE"; then
    docker compose kill -s HUP "$PROXY_SERVICE"
fi
