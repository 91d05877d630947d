"""`docker compose up --wait` as Compose v2.32.4 waits after starting (docker/compose v2.32.4
pkg/compose/start.go, `if options.Wait`; convergence.go waitDependencies, isServiceHealthy,
isServiceCompleted), for the project in the current directory, driven by docker-compose 1.29 in
test/engine/docker-cli.sh. argv: the wait timeout in seconds (0: none), then the services named on
the command line (none: all).

- The services waited for are those of the project as `up` selected it: the named ones and their
  dependencies (cmd/compose/compose.go ToProject: WithSelectedServices).
- A service some selected service depends on with `service_completed_successfully` must exit 0;
  an exit code is the error `service "<name>" didn't complete successfully: exit <code>`. Every
  other service must be running, and healthy when it has a health check; `exited` is the error
  `container <name> exited (<code>)`, `unhealthy` the error `container <name> is unhealthy`
  (getDependencyCondition, isServiceHealthy with fallbackRunning).
- Every 500 ms. At the deadline each wait returns nil (`case <-ctx.Done(): return nil`), so the
  command succeeds although services are not ready: reproduced here, and the reason compose-up.sh
  checks the containers itself afterwards.
"""
import json
import os
import subprocess
import sys
import time

import yaml

docker = os.environ.get("REAL_DOCKER", "docker")
timeout = float(sys.argv[1])
named = sys.argv[2:]
project = yaml.safe_load(subprocess.run(["docker-compose", "config"], check=True, capture_output=True, text=True).stdout)
services = project["services"]


def depends(name):
    return services[name].get("depends_on") or {}


selected = set()
pending = list(named or services)
while pending:
    name = pending.pop()
    if name not in selected:
        selected.add(name)
        pending.extend(depends(name))
completed = {dep for name in selected for dep, spec in depends(name).items() if spec.get("condition") == "service_completed_successfully"}


def containers(service):
    ids = subprocess.run([docker, "ps", "-aq", "--filter", f"label=com.docker.compose.project.working_dir={os.getcwd()}",
                          "--filter", f"label=com.docker.compose.service={service}"], check=True, capture_output=True, text=True).stdout.split()
    return [json.loads(subprocess.run([docker, "inspect", i], check=True, capture_output=True, text=True).stdout)[0] for i in ids]


def settled(service):
    """True when ready, False while waiting; raises with Compose's message on failure."""
    found = containers(service)
    if not found:
        raise RuntimeError(f"{service} is missing dependency {service}")
    for c in found:
        name, state = c["Name"][1:], c["State"]
        if service in completed:
            if state["Status"] != "exited":
                return False
            if state["ExitCode"] != 0:
                raise RuntimeError(f'service "{service}" didn\'t complete successfully: exit {state["ExitCode"]}')
            continue
        if state["Status"] == "exited":
            raise RuntimeError(f"container {name} exited ({state['ExitCode']})")
        if c["Config"].get("Healthcheck") is None:
            if state["Status"] != "running":
                return False
            continue
        health = (state.get("Health") or {}).get("Status")
        if health == "unhealthy":
            raise RuntimeError(f"container {name} is unhealthy")
        if health != "healthy":
            return False
    return True


deadline = time.monotonic() + timeout if timeout > 0 else None
waiting = set(selected)
try:
    while waiting:
        if deadline is not None and time.monotonic() >= deadline:
            sys.exit(0)
        time.sleep(0.5)
        waiting = {s for s in waiting if not settled(s)}
except RuntimeError as error:
    print(error, file=sys.stderr)
    sys.exit(1)
