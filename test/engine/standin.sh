#!/bin/sh
# A stand-in for a service whose image cannot be had here (test/compose-engine.spec.ts), installed
# in its image as the image's entrypoint and under every command name the rendered service or its
# health check calls (uvicorn, python, node, postgrest, kong, ...). It keeps what the engine acts
# on: it listens on the service's ports (STANDIN_PORTS, set in the image) as the container's user,
# on a read-only root, and answers GET on the health paths with 200 (busybox httpd serving
# /standin/www). Called as a health check (`python -c "...urlopen('http://127.0.0.1:8181/health')"`,
# `node -e "fetch('http://...')"`, `postgrest --ready`, `kong health`) it checks its own ports
# the way the real command would and exits 0 or 1. A one-shot (STANDIN_ONESHOT set) waits until
# each STANDIN_CONNECT host:port accepts a connection, then exits with STANDIN_EXIT (default 0).
name="$(basename "$0")"
arguments="$*"
url_in() { printf '%s' "$1" | grep -o "http://[^'\")]*" | head -n 1; }
check_url() { wget -q -O /dev/null "$1"; }
check_ports() {
    for port in ${STANDIN_PORTS:-}; do nc 127.0.0.1 "$port" </dev/null >/dev/null 2>&1 || return 1; done
}
case "$name:$1" in
    python:-c|python3:-c|node:-e)
        url="$(url_in "$arguments")"
        if [ -n "$url" ]; then check_url "$url"; exit $?; fi
        port="$(printf '%s' "$arguments" | sed -n "s/.*create_connection(('[^']*', *\([0-9]*\)).*/\1/p")"
        if [ -n "$port" ]; then nc 127.0.0.1 "$port" </dev/null >/dev/null 2>&1; exit $?; fi
        echo "standin: $name cannot tell what '$arguments' checks" >&2; exit 2 ;;
    postgrest:--ready|kong:health) check_ports; exit $? ;;
    certbot:*) echo "standin certbot: no ACME server is reachable from the test engine" >&2; exit 1 ;;
esac
if [ -n "${STANDIN_ONESHOT:-}" ]; then
    for target in ${STANDIN_CONNECT:-}; do
        tries=0
        until nc "${target%:*}" "${target##*:}" </dev/null >/dev/null 2>&1; do
            tries=$((tries + 1)); [ "$tries" -lt 120 ] || { echo "standin: $target never accepted" >&2; exit 3; }
            sleep 1
        done
    done
    echo "standin one-shot $name: done, exit ${STANDIN_EXIT:-0}"
    exit "${STANDIN_EXIT:-0}"
fi
echo "standin $name $arguments: serving ports ${STANDIN_PORTS:-none}"
for port in ${STANDIN_PORTS:-}; do busybox httpd -f -p "$port" -h /standin/www & done
trap 'exit 0' TERM INT
while :; do sleep 3600 & wait $!; done
