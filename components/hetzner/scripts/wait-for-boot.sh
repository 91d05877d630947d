# Waits until cloud-init has finished the first boot (packages, users, hardening), so every later
# step finds the host as cloud-init left it. A degraded cloud-init run still lets the step continue;
# the step itself fails loudly when something it needs is missing.
cloud-init status --wait >/dev/null || echo "cloud-init reported errors; continuing" >&2
