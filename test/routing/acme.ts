/**
 * cert-manager's side of an HTTP-01 challenge, as cert-manager v1.18.2 (the pinned chart) defines it:
 * - ingress-shim makes one Certificate per `spec.tls` entry of an Ingress annotated with
 *   `cert-manager.io/cluster-issuer` (pkg/controller/certificate-shim/sync.go), in the Ingress's
 *   namespace;
 * - for each host the solver creates, in that namespace, an Ingress of the issuer's
 *   `http01.ingress.ingressClassName` with one path `/.well-known/acme-challenge/<token>` of
 *   pathType Exact (feature gate ACMEHTTP01IngressPathTypeExact, default on since 1.18:
 *   internal/controller/feature/features.go L215) or ImplementationSpecific when the gate is off,
 *   to the solver Service on 8089, and no annotation but
 *   `nginx.ingress.kubernetes.io/whitelist-source-range: 0.0.0.0/0,::/0`
 *   (pkg/issuer/acme/http/ingress.go `buildIngressResource` L146-200, `ingressPath` L380-405);
 * - the self-check GETs http://<host>/.well-known/acme-challenge/<token> with Go's default
 *   redirect policy and no certificate verification, and needs a 200 with the key
 *   (pkg/issuer/acme/http/http.go `testReachability` L215-330).
 */
import { ACME_SOLVER_PORT } from "../../components/kubernetes/workloads";
import { ACME_CHALLENGE_PATH } from "../../components/kubernetes/ingress";
import { KubeObject } from "./traefik";

/** An ACME token: 43 characters of base64url (RFC 8555 section 8.1 asks for 128 bits at least). */
export const ACME_TOKEN = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA";

export interface CertificateRequest {
    namespace: string;
    secretName: string;
    hosts: string[];
    issuer: string;
}

/** The Certificates cert-manager makes for the rendered objects (ingress-shim) or that are rendered as such. */
export function certificates(objects: KubeObject[]): CertificateRequest[] {
    const found: CertificateRequest[] = [];
    for (const object of objects) {
        const ns = object.metadata.namespace ?? "default";
        const issuer = object.metadata.annotations?.["cert-manager.io/cluster-issuer"];
        if (object.kind === "Ingress" && issuer) {
            for (const tls of object.spec?.tls ?? []) found.push({ namespace: ns, secretName: tls.secretName, hosts: tls.hosts, issuer });
        }
        if (object.kind === "Certificate") found.push({ namespace: ns, secretName: object.spec?.secretName, hosts: object.spec?.dnsNames ?? [], issuer: object.spec?.issuerRef?.name });
    }
    return found;
}

/** The solver Ingress cert-manager creates for `host` while its challenge is pending. */
export function solverIngress(objects: KubeObject[], certificate: CertificateRequest, host: string, pathTypeExact: boolean): KubeObject {
    const issuer = objects.find((o) => o.kind === "ClusterIssuer" && o.metadata.name === certificate.issuer);
    if (!issuer) throw new Error(`Certificate ${certificate.namespace}/${certificate.secretName}: no ClusterIssuer ${certificate.issuer}`);
    const http01 = issuer.spec?.acme?.solvers?.[0]?.http01?.ingress;
    if (!http01) throw new Error(`ClusterIssuer ${certificate.issuer} has no HTTP-01 ingress solver`);
    const service = `cm-acme-http-solver-${host.split(".")[0]}`;
    return {
        apiVersion: "networking.k8s.io/v1",
        kind: "Ingress",
        metadata: {
            name: service,
            namespace: certificate.namespace,
            annotations: { "nginx.ingress.kubernetes.io/whitelist-source-range": "0.0.0.0/0,::/0", ...(http01.class ? { "kubernetes.io/ingress.class": http01.class } : {}) },
        },
        spec: {
            ingressClassName: http01.ingressClassName,
            rules: [{
                host,
                http: { paths: [{ path: `${ACME_CHALLENGE_PATH}${ACME_TOKEN}`, pathType: pathTypeExact ? "Exact" : "ImplementationSpecific", backend: { service: { name: service, port: { number: ACME_SOLVER_PORT } } } }] },
            }],
        },
    };
}
