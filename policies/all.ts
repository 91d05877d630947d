/**
 * Every policy of the pack, in one list. Safe to import anywhere (tests, the offline check):
 * unlike policies/index.ts, it constructs no PolicyPack.
 */
import { ResourceValidationPolicy } from "@pulumi/policy";
import { containerProbes } from "./rules/container-probes";
import { containerResourceLimits } from "./rules/container-resource-limits";
import { containerSecurityContext } from "./rules/container-security-context";
import { firewallAdminPorts } from "./rules/firewall-admin-ports";
import { firewallNoPostgres } from "./rules/firewall-no-postgres";
import { hetznerLocations } from "./rules/hetzner-locations";
import { hetznerServerTypes } from "./rules/hetzner-server-types";
import { imagesPinned } from "./rules/images-pinned";
import { ingressTls } from "./rules/ingress-tls";
import { kubernetesSecretValues } from "./rules/kubernetes-secret-values";
import { noPlainSecretEnv } from "./rules/no-plain-secret-env";
import { pvcRetained } from "./rules/pvc-retained";
import { serverProtection } from "./rules/server-protection";
import { serviceExposure } from "./rules/service-exposure";
import { storageClassRetain } from "./rules/storageclass-retain";
import { volumeRetained } from "./rules/volume-retained";

export const POLICY_PACK_NAME = "archon-infra";

export const policies: ResourceValidationPolicy[] = [
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
];
