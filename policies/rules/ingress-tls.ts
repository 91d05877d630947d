import { ResourceValidationPolicy } from "@pulumi/policy";
import { KUBERNETES, PolicyArgs, list, objectRef, record, settings } from "../lib/context";
import { traefikKind } from "../lib/ingress";

export const ingressTls: ResourceValidationPolicy = {
    name: "ingress-tls",
    description: "Every public Ingress serves TLS for every host it routes (spec.tls[].hosts covers each rule's host; an Ingress of an internal class, config internalIngressClasses, is exempt), and every Traefik IngressRoute has a tls section (without one Traefik serves it in plain HTTP).",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            internalIngressClasses: { type: "array", items: { type: "string" } },
        },
    },
    validateResource: (args: PolicyArgs, reportViolation) => {
        const kind = traefikKind(args);
        if (kind === "IngressRoute" || kind === "IngressRouteTCP") {
            const { namespace, name } = objectRef(args.props, args.name);
            const tls = record(args.props.spec).tls;
            if (tls === undefined || tls === null || typeof tls !== "object") reportViolation(`${kind} ${namespace}/${name} has no tls section: Traefik serves it unencrypted; set spec.tls (secretName of the host's certificate)`);
            return;
        }
        if (args.type !== KUBERNETES.ingress) return;
        const { internalIngressClasses } = settings(args, { internalIngressClasses: [] as string[] });
        const spec = record(args.props.spec);
        if (typeof spec.ingressClassName === "string" && internalIngressClasses.includes(spec.ingressClassName)) return;
        const tls = list(spec.tls).map(record);
        const covered = new Set(tls.flatMap((entry) => list(entry.hosts).map(String)));
        const hosts = list(spec.rules).map((rule) => record(rule).host);
        const { namespace, name } = objectRef(args.props, args.name);
        if (hosts.length === 0 && tls.length === 0) return reportViolation(`Ingress ${namespace}/${name} has no TLS section`);
        for (const host of hosts) {
            if (typeof host !== "string") {
                if (tls.length === 0) reportViolation(`Ingress ${namespace}/${name} has a rule without a host and no TLS section`);
            } else if (!covered.has(host) && !covered.has(`*.${host.split(".").slice(1).join(".")}`)) {
                reportViolation(`Ingress ${namespace}/${name} routes ${host} without TLS; add it to spec.tls[].hosts with a certificate secret`);
            }
        }
        for (const entry of tls) {
            if (typeof entry.secretName !== "string" || entry.secretName === "") reportViolation(`Ingress ${namespace}/${name} has a TLS entry without secretName`);
        }
    },
};
