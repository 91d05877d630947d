# Sends this server's etcd snapshots to object storage as well (k3s --etcd-s3; the settings, with
# the credentials, arrive on stdin and go to a root-only config drop-in, never on a command line).
# k3s reads /etc/rancher/k3s/config.yaml.d/*.yaml at start, so it is restarted, and only when the
# settings changed. Progress goes to stderr.
config_dir="${K3S_CONFIG_DIR:-/etc/rancher/k3s}"
dropin="$config_dir/config.yaml.d/50-archon-etcd-s3.yaml"
sudo install -d -m 0700 "$config_dir/config.yaml.d"
staged="$(sudo mktemp)"
sudo sh -c "umask 077 && cat >'$staged'"
if sudo cmp -s "$staged" "$dropin"; then
  sudo rm -f "$staged"
  echo "etcd snapshot settings unchanged" >&2
  exit 0
fi
sudo install -m 0600 "$staged" "$dropin"
sudo rm -f "$staged"
echo "restarting k3s with the new etcd snapshot settings" >&2
sudo systemctl restart k3s
for _ in $(seq 1 60); do
  sudo k3s kubectl get --raw /readyz >/dev/null 2>&1 && exit 0
  sleep 5
done
echo "k3s did not become ready within 5 minutes after the restart" >&2
exit 1
