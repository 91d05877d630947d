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
#
# Every `up` is bounded and checked, so a deploy never hangs and never passes with a service down:
# - One-shots run with `restart: "no"`: a failing one stays `exited` and Compose v2 fails the `up`
#   at once with `service "<name>" didn't complete successfully: exit <code>`
#   (docker/compose v2.32.4 pkg/compose/convergence.go waitDependencies).
# - `--wait-timeout` alone is no bound: on its deadline Compose v2.32.4's wait loops return nil
#   (`case <-ctx.Done(): return nil`), so the `up` exits 0 with services still starting, and each
#   dependency wait gets its own deadline. `timeout` bounds the whole command (UP_TIMEOUT_SECONDS).
# - Then check_services reads the engine's own state of every container this `up` touched or named:
#   a one-shot must have exited 0, any other service must be running and, with a health check,
#   healthy. The first one that is not is named, with its last log lines, and the step fails.
: "${PROJECT_DIR:?}"
cd "$PROJECT_DIR" || exit 1
wait_seconds="${WAIT_TIMEOUT_SECONDS:-600}"
up_seconds="${UP_TIMEOUT_SECONDS:-900}"

# Fails naming the first container of this project that is not where `up` should have left it:
# those of the services named in "$@" (all, when none are named) and every container started
# since $since (the dependencies `up` started along the way).
check_services() {
    local since="$1" failed=0 id service policy status code health started
    shift
    while read -r id; do
        [ -n "$id" ] || continue
        IFS='|' read -r service policy status code health started < <(docker inspect --format \
            '{{index .Config.Labels "com.docker.compose.service"}}|{{.HostConfig.RestartPolicy.Name}}|{{.State.Status}}|{{.State.ExitCode}}|{{if .State.Health}}{{.State.Health.Status}}{{end}}|{{.State.StartedAt}}' "$id") || continue
        if [ "$#" -gt 0 ] && ! printf '%s\n' "$@" | grep -qxF "$service"; then
            [ "$(date -d "$started" +%s 2>/dev/null || echo 0)" -ge "$since" ] || continue
        fi
        local problem=""
        if [ "$policy" = "no" ]; then
            if [ "$status" != "exited" ]; then problem="did not complete (it is $status)"
            elif [ "$code" != 0 ]; then problem="exited with code $code"; fi
        elif [ "$status" != "running" ]; then problem="is $status (exit code $code)"
        elif [ -n "$health" ] && [ "$health" != "healthy" ]; then problem="is $health"; fi
        if [ -n "$problem" ]; then
            echo "compose-up: service $service $problem; its last log lines:" >&2
            docker logs --tail 20 "$id" 2>&1 | sed "s/^/  $service | /" >&2
            failed=1
        fi
    done < <(docker ps -aq --filter "label=com.docker.compose.project.working_dir=$PROJECT_DIR")
    return "$failed"
}

# `docker compose up -d --wait` of the services in "$@" (all when none), bounded and checked.
compose_up() {
    local since status=0
    since="$(date +%s)"
    timeout --kill-after=30 "$up_seconds" docker compose up -d --wait --wait-timeout "$wait_seconds" "$@" || status=$?
    if [ "$status" -eq 124 ]; then echo "compose-up: docker compose up did not finish within ${up_seconds}s" >&2; fi
    local names=()
    for argument in "$@"; do case "$argument" in -*) ;; *) names+=("$argument") ;; esac; done
    check_services "$since" "${names[@]}" || status=1
    return "$status"
}

if [ -n "${START_ONLY:-}" ]; then
    read -r -a only <<<"$START_ONLY"
    compose_up "${only[@]}"
    exit 0
fi
read -r -a archon <<<"${ARCHON_SERVICES:-}"
read -r -a others <<<"${OTHER_SERVICES:-}"
if [ "${#archon[@]}" -gt 0 ]; then
    if [ "${#others[@]}" -gt 0 ]; then
        compose_up --remove-orphans "${others[@]}"
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
compose_up --remove-orphans
