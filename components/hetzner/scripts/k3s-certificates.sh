# Renews this node's k3s certificates when one of them expires within K3S_RENEW_DAYS days. k3s
# issues its client and server certificates for 365 days and renews those that have expired or
# expire within 90 days each time it starts (docs.k3s.io "k3s certificate": "Client and server
# certificates"), rewriting the admin kubeconfig with the new client certificate; the CAs last ten
# years. Nothing restarts k3s by itself, so this step is the restart: the program runs it on every
# node, servers one at a time, whenever a `pulumi up` falls in a new calendar month (the step's
# trigger), and restarts only a node whose certificates are due. Progress goes to stderr.
: "${K3S_SERVICE:?}" "${K3S_RENEW_DAYS:?}"
data_dir="${K3S_DATA_DIR:-/var/lib/rancher/k3s}"
due=""
while IFS= read -r cert; do
  expiry="$(sudo openssl x509 -noout -enddate -in "$cert" 2>/dev/null | cut -d= -f2)" || continue
  [ -n "$expiry" ] || continue
  if ! sudo openssl x509 -noout -checkend $((K3S_RENEW_DAYS * 86400)) -in "$cert" >/dev/null 2>&1; then
    echo "due: $cert expires $expiry" >&2
    due="$cert"
  fi
done < <(sudo find "$data_dir/server/tls" "$data_dir/agent" -maxdepth 2 -name '*.crt' 2>/dev/null | sort)
if [ -z "$due" ]; then
  echo "no k3s certificate expires within $K3S_RENEW_DAYS days" >&2
  exit 0
fi
echo "restarting $K3S_SERVICE to renew its certificates" >&2
sudo systemctl restart "$K3S_SERVICE"
for _ in $(seq 1 60); do
  if sudo systemctl is-active --quiet "$K3S_SERVICE"; then
    if [ "$K3S_SERVICE" != "k3s" ] || sudo k3s kubectl get --raw /readyz >/dev/null 2>&1; then
      exit 0
    fi
  fi
  sleep 5
done
echo "$K3S_SERVICE did not come back within 5 minutes after the restart" >&2
exit 1
