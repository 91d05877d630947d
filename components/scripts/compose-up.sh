# Brings the delivered Compose project up and waits for every service's health check.
: "${PROJECT_DIR:?}"
cd "$PROJECT_DIR" || exit 1
docker compose up -d --wait --remove-orphans
