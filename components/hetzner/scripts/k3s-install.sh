# Installs the pinned k3s release on this node: K3S_ROLE init (first server, --cluster-init),
# server (joins as control plane) or agent. The join token arrives on stdin and is kept in a
# root-only file, never on a command line. Node traffic (node-ip, flannel) uses the private network.
# Pods and Services get addresses inside 172.16.0.0/12 (K3S_CLUSTER_CIDR / K3S_SERVICE_CIDR, see
# components/hetzner/pod-network.ts): Archon's internal API admits no other private range.
: "${K3S_VERSION:?}" "${K3S_ROLE:?}" "${NODE_PRIVATE_IP:?}" "${NODE_PUBLIC_IP:?}"
: "${K3S_CLUSTER_CIDR:?}" "${K3S_SERVICE_CIDR:?}" "${K3S_CLUSTER_DNS:?}" "${K3S_BUNDLED_TRAEFIK:?}"
token_file=/etc/rancher/k3s/cluster-token
sudo install -d -m 0700 /etc/rancher/k3s
sudo sh -c "umask 077 && cat >$token_file"

private_iface=""
for _ in $(seq 1 60); do
  private_iface="$(ip -o -4 addr show | awk -v ip="$NODE_PRIVATE_IP" '{ split($4, a, "/"); if (a[1] == ip) print $2 }')"
  [ -n "$private_iface" ] && break
  sleep 5
done
if [ -z "$private_iface" ]; then
  echo "no interface holds the private address $NODE_PRIVATE_IP" >&2
  exit 1
fi

node_args=(
  --token-file "$token_file"
  --node-ip "$NODE_PRIVATE_IP"
  --node-external-ip "$NODE_PUBLIC_IP"
  --flannel-iface "$private_iface"
  --kubelet-arg cloud-provider=external
)
server_args=(
  --advertise-address "$NODE_PRIVATE_IP"
  --tls-san "$NODE_PUBLIC_IP"
  --cluster-cidr "$K3S_CLUSTER_CIDR"
  --service-cidr "$K3S_SERVICE_CIDR"
  --cluster-dns "$K3S_CLUSTER_DNS"
  --disable-cloud-controller
  --disable local-storage
  --write-kubeconfig-mode 0600
)
# With ingress-nginx chosen, k3s's own Traefik would hold ports 80/443 on every node (both
# LoadBalancer Services compete for the same service load balancer ports).
if [ "$K3S_BUNDLED_TRAEFIK" != "true" ]; then
  server_args+=(--disable traefik)
fi
case "$K3S_ROLE" in
  init) k3s_args=(server --cluster-init "${node_args[@]}" "${server_args[@]}") ;;
  server) k3s_args=(server --server "${K3S_SERVER_URL:?}" "${node_args[@]}" "${server_args[@]}") ;;
  agent) k3s_args=(agent --server "${K3S_SERVER_URL:?}" "${node_args[@]}") ;;
  *)
    echo "unknown K3S_ROLE $K3S_ROLE (init, server or agent)" >&2
    exit 1
    ;;
esac

# The installer comes from the commit of the pinned release (an immutable URL) and runs only if
# its sha256 matches the one recorded in components/hetzner/k3s-installers.ts. It then verifies
# the k3s binary against the release's sha256sum-<arch>.txt itself (verify_binary): never skip it.
: "${K3S_INSTALLER_COMMIT:?}" "${K3S_INSTALLER_SHA256:?}"
installer="$(mktemp)"
curl -sfL --retry 3 "https://raw.githubusercontent.com/k3s-io/k3s/${K3S_INSTALLER_COMMIT}/install.sh" -o "$installer"
if ! echo "${K3S_INSTALLER_SHA256}  ${installer}" | sha256sum -c --status -; then
  echo "k3s install.sh at ${K3S_INSTALLER_COMMIT} does not match sha256 ${K3S_INSTALLER_SHA256}; refusing to run it" >&2
  rm -f "$installer"
  exit 1
fi
sudo env -u INSTALL_K3S_SKIP_DOWNLOAD INSTALL_K3S_VERSION="$K3S_VERSION" sh "$installer" "${k3s_args[@]}"
rm -f "$installer"
