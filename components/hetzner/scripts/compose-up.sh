# Brings the delivered Compose project up and waits for every service's health check. Compose
# recreates exactly the services whose definition changed (image, env, the hash label of their
# mounted files); nginx resolves its upstreams per request, so recreated backends need no reload.
: "${PROJECT_DIR:?}"
cd "$PROJECT_DIR" || exit 1
docker compose up -d --wait --remove-orphans
