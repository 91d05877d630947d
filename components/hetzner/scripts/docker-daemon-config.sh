# Installs /etc/docker/daemon.json (DAEMON_CONFIG, JSON) and restarts Docker when it changed, so
# the next `docker compose up` runs on it. An unchanged file restarts nothing. A daemon that does
# not come back with the new file gets the previous one back and the step fails.
: "${DAEMON_CONFIG:?}" "${DAEMON_CONFIG_PATH:?}"
new="$(mktemp)"
printf '%s' "$DAEMON_CONFIG" >"$new"
if sudo cmp -s "$new" "$DAEMON_CONFIG_PATH"; then
    rm -f "$new"
    echo "docker-daemon-config: $DAEMON_CONFIG_PATH unchanged"
    exit 0
fi
sudo install -d -m 0755 "$(dirname "$DAEMON_CONFIG_PATH")"
if [ -f "$DAEMON_CONFIG_PATH" ]; then sudo cp -p "$DAEMON_CONFIG_PATH" "$DAEMON_CONFIG_PATH.previous"; fi
sudo install -m 0644 "$new" "$DAEMON_CONFIG_PATH"
rm -f "$new"
echo "docker-daemon-config: $DAEMON_CONFIG_PATH changed; restarting Docker (containers come back by their restart policies)"
if ! sudo systemctl restart docker; then
    echo "docker-daemon-config: Docker did not start with the new $DAEMON_CONFIG_PATH:" >&2
    sudo journalctl -u docker --no-pager -n 20 >&2 || true
    if [ -f "$DAEMON_CONFIG_PATH.previous" ]; then sudo mv -f "$DAEMON_CONFIG_PATH.previous" "$DAEMON_CONFIG_PATH"; else sudo rm -f "$DAEMON_CONFIG_PATH"; fi
    sudo systemctl restart docker || true
    exit 1
fi
