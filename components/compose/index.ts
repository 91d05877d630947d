/** The stack as a Docker Compose project on one host: project files, proxy, monitoring, delivery over SSH. */
export { ComposeStack, ComposeStackArgs } from "./stack";
export { ComposeDelivery, ComposeDeliveryArgs } from "./delivery";
export { ComposeProxy, ComposeProxyArgs } from "./proxy";
export { ComposeMonitoring, ComposeMonitoringArgs } from "./monitoring";
export { renderComposeProject, ComposeProjectArgs } from "./project";
