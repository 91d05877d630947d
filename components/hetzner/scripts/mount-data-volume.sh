# Mounts the protected data volume at DATA_DIR and creates the project directory. The volume is
# formatted only when it carries no filesystem at all: existing data is never reformatted.
: "${VOLUME_DEVICE:?}" "${DATA_DIR:?}" "${PROJECT_DIR:?}" "${DEPLOY_USER:?}"
for _ in $(seq 1 60); do
  [ -b "$VOLUME_DEVICE" ] && break
  sleep 5
done
if [ ! -b "$VOLUME_DEVICE" ]; then
  echo "volume device $VOLUME_DEVICE did not appear" >&2
  exit 1
fi
if ! sudo blkid -p "$VOLUME_DEVICE" >/dev/null 2>&1; then
  echo "volume $VOLUME_DEVICE has no filesystem; formatting it once (ext4)" >&2
  sudo mkfs.ext4 -q -L archon-data "$VOLUME_DEVICE"
fi
uuid="$(sudo blkid -s UUID -o value "$VOLUME_DEVICE")"
sudo install -d -m 0755 "$DATA_DIR"
if ! grep -q "UUID=$uuid " /etc/fstab; then
  echo "UUID=$uuid $DATA_DIR ext4 defaults,nofail,discard 0 2" | sudo tee -a /etc/fstab >/dev/null
fi
# systemd's fstab generator turns the line into the mount unit that docker.service's drop-in
# (RequiresMountsFor=, from cloud-init) waits for at every boot.
sudo systemctl daemon-reload
mountpoint -q "$DATA_DIR" || sudo mount "$DATA_DIR"
sudo install -d -m 0750 -o "$DEPLOY_USER" -g "$DEPLOY_USER" "$DATA_DIR/data" "$PROJECT_DIR"
