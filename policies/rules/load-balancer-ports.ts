import { ResourceValidationPolicy } from "@pulumi/policy";
import { PolicyArgs, settings } from "../lib/context";

/** What the ingress load balancer serves: HTTP and HTTPS. */
const DEFAULT_LISTEN_PORTS = [80, 443];
/** Ports behind which sits a node's administration, never a load balancer's target: SSH, the k3s API, the kubelet, etcd. */
const ADMIN_PORTS = [22, 6443, 10250, 2379, 2380];

/**
 * A Hetzner load balancer is a public address: its services listen on 80/443 only and never
 * forward to an administration port (a service on 6443 would put the Kubernetes API on the
 * internet past the firewall's admin allowlist: the balancer reaches the nodes over the private
 * network, which Hetzner firewalls do not filter).
 */
export const loadBalancerPorts: ResourceValidationPolicy = {
    name: "load-balancer-ports",
    description: "Hetzner load-balancer services listen on 80/443 only and never forward to SSH, the Kubernetes API (6443), the kubelet or etcd.",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            listenPorts: { type: "array", items: { type: "integer" }, description: "Ports a load-balancer service may listen on." },
        },
    },
    validateResource: (args: PolicyArgs, reportViolation) => {
        if (args.type !== "hcloud:index/loadBalancerService:LoadBalancerService") return;
        const { listenPorts } = settings(args, { listenPorts: DEFAULT_LISTEN_PORTS });
        const protocol = String(args.props.protocol ?? "");
        // Hetzner's defaults: http listens on 80, https on 443 (the API's LoadBalancerService).
        const listen = Number(args.props.listenPort ?? (protocol === "https" ? 443 : protocol === "http" ? 80 : NaN));
        const destination = Number(args.props.destinationPort ?? listen);
        if (!listenPorts.includes(listen)) reportViolation(`load-balancer service listens on ${Number.isNaN(listen) ? "an unset port" : listen}; only ${listenPorts.join(", ")} face the internet`);
        if (ADMIN_PORTS.includes(destination)) reportViolation(`load-balancer service forwards to port ${destination} on the nodes, an administration port (SSH, Kubernetes API, kubelet, etcd)`);
    },
};
