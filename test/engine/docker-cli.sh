#!/usr/bin/env bash
# The `docker` command the rendered compose-up.sh meets in test/compose-engine.spec.ts: the real
# docker CLI (REAL_DOCKER) for everything but `docker compose`, which the Compose host runs as the
# v2 plugin (2.32.4) and which is not installable here. `docker compose` goes to docker-compose
# 1.29 on the same project; `up --wait [--wait-timeout N]` then waits as Compose v2.32.4 does
# (compose-wait.py). Options the scripts do not use are refused, so nothing passes unnoticed.
set -euo pipefail
if [ "${1:-}" != compose ]; then exec "$REAL_DOCKER" "$@"; fi
shift
command="${1:-}"
shift || true
case "$command" in
    up)
        detach=0 wait=0 timeout=0 flags=() services=()
        while [ "$#" -gt 0 ]; do
            case "$1" in
                -d|--detach) detach=1 ;;
                --wait) wait=1; detach=1 ;;
                --wait-timeout) timeout="$2"; shift ;;
                --remove-orphans) flags+=("$1") ;;
                -*) echo "docker-cli stand-in: compose up $1 is not supported here" >&2; exit 2 ;;
                *) services+=("$1") ;;
            esac
            shift
        done
        [ "$detach" = 1 ] || { echo "docker-cli stand-in: compose up runs detached here" >&2; exit 2; }
        docker-compose up -d --no-color "${flags[@]}" "${services[@]}"
        if [ "$wait" = 1 ]; then exec python3 "$(dirname "$(readlink -f "$0")")/compose-wait.py" "$timeout" "${services[@]}"; fi ;;
    pull)
        quiet=()
        [ "${1:-}" = --quiet ] && { quiet=(-q); shift; }
        exec docker-compose pull "${quiet[@]}" "$@" ;;
    *) exec docker-compose "$command" "$@" ;;
esac
