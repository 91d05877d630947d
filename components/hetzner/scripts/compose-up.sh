# Brings the delivered Compose project up and waits for every service's health check. Compose
# recreates exactly the services whose definition changed (image, env, the hash label of their
# mounted files); nginx resolves its upstreams per request, so recreated backends need no reload.
#
# START_ONLY (space-separated services): start just these and what they depend on, e.g. the proxy,
# certbot and the registry before the image push that needs them (components/compose/delivery.ts).
# Otherwise, with ARCHON_SERVICES set: every other service first (Supabase, registry, monitoring,
# proxy), then the Archon services only if their images can be pulled. `docker compose up --wait`
# pulls every image before it starts any container, so one missing Archon image would otherwise stop
# the whole first deploy, registry included, before anything could push to it. A missing image is an
# error when this program pushed the images (ARCHON_IMAGES_REQUIRED=1); otherwise the step reports
# what to do next and succeeds.
: "${PROJECT_DIR:?}"
cd "$PROJECT_DIR" || exit 1
if [ -n "${START_ONLY:-}" ]; then
    read -r -a only <<<"$START_ONLY"
    docker compose up -d --wait "${only[@]}"
    exit 0
fi
read -r -a archon <<<"${ARCHON_SERVICES:-}"
read -r -a others <<<"${OTHER_SERVICES:-}"
if [ "${#archon[@]}" -gt 0 ]; then
    if [ "${#others[@]}" -gt 0 ]; then
        docker compose up -d --wait --remove-orphans "${others[@]}"
    fi
    if ! pulled=$(docker compose pull --quiet "${archon[@]}" 2>&1); then
        printf '%s\n' "$pulled" >&2
        if [ "${ARCHON_IMAGES_REQUIRED:-0}" = 1 ]; then
            echo "compose-up: the Archon images this deploy pushed cannot be pulled (see above): check the registry login" >&2
            exit 1
        fi
        cat >&2 <<MESSAGE
compose-up: NOT STARTED: ${archon[*]}.
Their images (tag ${IMAGE_TAG:-?}) are not in the registry yet; everything else runs.
Next: push them, either with 'pulumi config set buildImages true' (plus archonSourceDir) and
'pulumi up', or with CI's build-images workflow for this tag. A pulumi up that changes imageTag
then starts them; for the same tag run on this host: cd $PROJECT_DIR && docker compose up -d --wait
MESSAGE
        echo "compose-up: archon services pending: images missing"
        exit 0
    fi
fi
docker compose up -d --wait --remove-orphans
