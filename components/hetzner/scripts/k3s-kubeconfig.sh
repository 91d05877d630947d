# Prints the cluster's admin kubeconfig once every registered node is Ready. Only the kubeconfig
# goes to stdout; progress goes to stderr.
for _ in $(seq 1 60); do
  sudo k3s kubectl get nodes >/dev/null 2>&1 && break
  sleep 5
done
sudo k3s kubectl wait --for=condition=Ready node --all --timeout=600s >&2
sudo cat /etc/rancher/k3s/k3s.yaml
