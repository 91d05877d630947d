import { ResourceValidationPolicy } from "@pulumi/policy";
import { PolicyArgs, Props, objectRef, record } from "../lib/context";
import { secretLikeValue } from "../lib/credentials";

/**
 * ConfigMaps are readable by anyone who may read the namespace's configuration, shown in plain text
 * by `kubectl describe` and never encrypted at rest: credentials belong in Secrets.
 */
export const configMapNoSecrets: ResourceValidationPolicy = {
    name: "configmap-no-secrets",
    description: "ConfigMaps hold no credential: no key named like a password, secret, token or key, no password assignment, URI with a password, JWT, private key, API token or password-shaped value.",
    enforcementLevel: "mandatory",
    validateResource: (args: PolicyArgs, reportViolation) => {
        if (args.type !== "kubernetes:core/v1:ConfigMap") return;
        const { namespace, name } = objectRef(args.props, args.name);
        const data: Props = record(args.props.data);
        for (const [key, value] of Object.entries(data)) {
            const problem = secretLikeValue(key, String(value ?? ""));
            if (problem) reportViolation(`ConfigMap ${namespace}/${name}: ${problem}; put it in a Secret`);
        }
    },
};
