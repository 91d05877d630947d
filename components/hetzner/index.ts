/** Hetzner Cloud: servers, private network, firewall, SSH key, load balancer, the Compose host and the k3s cluster. */
export { Platform, PlatformArgs } from "./platform";
export { ComposeHost, ComposeHostArgs } from "./compose-host";
export { K3sCluster, K3sClusterArgs } from "./k3s-cluster";
export { ClusterAddons, ClusterAddonsArgs } from "./cluster-addons";
export { HetznerServer, HetznerServerArgs } from "./server";
export { PrivateNetwork, PrivateNetworkArgs } from "./network";
export { HostFirewall, HostFirewallArgs } from "./firewall";
export { HostSshKey, HostSshKeyArgs } from "./ssh-key";
export { IngressLoadBalancer, IngressLoadBalancerArgs } from "./ingress-load-balancer";
export { CiAccessFirewall, CiAccessFirewallArgs } from "./ci-access-firewall";
