/**
 * Every policy of the pack, in one list. Safe to import anywhere (tests, the offline check):
 * unlike policies/index.ts, it constructs no PolicyPack.
 */
import { Policies, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { containerProbes } from "./rules/container-probes";
import { containerResourceLimits } from "./rules/container-resource-limits";
import { composeHardening } from "./rules/compose-hardening";
import { configMapNoSecrets } from "./rules/configmap-no-secrets";
import { containerSecurityContext } from "./rules/container-security-context";
import { firewallAdminPorts } from "./rules/firewall-admin-ports";
import { firewallNoPostgres } from "./rules/firewall-no-postgres";
import { grafanaLogin } from "./rules/grafana-login";
import { helmValuesExposure } from "./rules/helm-values";
import { hetznerLocations } from "./rules/hetzner-locations";
import { hetznerServerFirewall } from "./rules/hetzner-server-firewall";
import { hetznerServerTypes } from "./rules/hetzner-server-types";
import { imagesPinned } from "./rules/images-pinned";
import { ingressAuthentication } from "./rules/ingress-authentication";
import { ingressRateLimit } from "./rules/ingress-rate-limit";
import { ingressTls } from "./rules/ingress-tls";
import { kongRoutesAuthenticated } from "./rules/kong-routes-authenticated";
import { kubernetesSecretValues } from "./rules/kubernetes-secret-values";
import { loadBalancerPorts } from "./rules/load-balancer-ports";
import { networkAllowRules } from "./rules/network-allow-rules";
import { networkDefaultDeny } from "./rules/network-default-deny";
import { noPlainSecretEnv } from "./rules/no-plain-secret-env";
import { podHostIsolation } from "./rules/pod-host-isolation";
import { podNonRoot } from "./rules/pod-non-root";
import { proxyAuthentication } from "./rules/proxy-authentication";
import { pvcRetained } from "./rules/pvc-retained";
import { rbacLeastPrivilege } from "./rules/rbac-least-privilege";
import { registryAuth } from "./rules/registry-auth";
import { secretValuesNotPlain } from "./rules/secret-values-not-plain";
import { serverProtection } from "./rules/server-protection";
import { serviceAccountToken } from "./rules/service-account-token";
import { serviceExposure } from "./rules/service-exposure";
import { serviceExternalIps } from "./rules/service-external-ips";
import { storageClassRetain } from "./rules/storageclass-retain";
import { volumeRetained } from "./rules/volume-retained";

export const POLICY_PACK_NAME = "archon-infra";

/** Policies that look at one resource at a time. */
export const resourcePolicies: ResourceValidationPolicy[] = [
    imagesPinned,
    containerResourceLimits,
    containerProbes,
    containerSecurityContext,
    noPlainSecretEnv,
    serviceExposure,
    ingressTls,
    kubernetesSecretValues,
    pvcRetained,
    storageClassRetain,
    firewallAdminPorts,
    firewallNoPostgres,
    serverProtection,
    volumeRetained,
    hetznerLocations,
    hetznerServerTypes,
    podHostIsolation,
    serviceExternalIps,
    configMapNoSecrets,
    composeHardening,
    proxyAuthentication,
    grafanaLogin,
    helmValuesExposure,
    registryAuth,
    kongRoutesAuthenticated,
    podNonRoot,
    serviceAccountToken,
    networkAllowRules,
    hetznerServerFirewall,
    loadBalancerPorts,
];

/** Policies whose violation is an absence or a relation across resources (they see the whole stack). */
export const stackPolicies: StackValidationPolicy[] = [networkDefaultDeny, ingressAuthentication, ingressRateLimit, secretValuesNotPlain, rbacLeastPrivilege];

export const policies: Policies = [...resourcePolicies, ...stackPolicies];
