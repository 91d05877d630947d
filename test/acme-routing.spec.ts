/**
 * Every certificate can be issued (issue 26 item 1): for each host with a Certificate, Let's
 * Encrypt's and cert-manager's HTTP-01 request travels through the ingress controller's routing,
 * evaluated as the controller's source defines it (test/routing/), to cert-manager's solver, with no
 * login on the way. The evaluators take every rendered object, so a new host, route, priority,
 * redirect or middleware is checked without touching this file.
 */
import { strict as assert } from "assert";
import { ACME_SOLVER_PORT } from "../components/kubernetes/workloads";
import { TRAEFIK_READ_PRIORITY } from "../components/kubernetes/ingress";
import { ACME_TOKEN, certificates, solverIngress } from "./routing/acme";
import { HttpRequest, KubeObject, RouteOutcome, parseRule, renderedObjects, routeFollowingRedirects, routeOnce, traefikEntryPoints, traefikRouters } from "./routing/traefik";
import { nginxRoute, nginxRouteFollowingRedirects } from "./routing/ingress-nginx";
import { named, plainInputs, synth } from "./helpers";

const challenge = (host: string): HttpRequest => ({ scheme: "http", port: 80, host, path: `/.well-known/acme-challenge/${ACME_TOKEN}`, method: "GET" });

/** The objects of the stack plus, for every Certificate host, the solver Ingress cert-manager creates while the challenge is pending. */
function withSolvers(objects: KubeObject[], pathTypeExact: boolean): { all: KubeObject[]; hosts: { host: string; namespace: string; solver: string }[] } {
    const solvers: KubeObject[] = [];
    const hosts: { host: string; namespace: string; solver: string }[] = [];
    for (const certificate of certificates(objects)) {
        for (const host of certificate.hosts) {
            const ingress = solverIngress(objects, certificate, host, pathTypeExact);
            solvers.push(ingress);
            hosts.push({ host, namespace: certificate.namespace, solver: `${certificate.namespace}/${ingress.spec!.rules[0].http.paths[0].backend.service.name}:${ACME_SOLVER_PORT}` });
        }
    }
    return { all: [...objects, ...solvers], hosts };
}

function describeOutcome(outcome: RouteOutcome): string {
    switch (outcome.kind) {
        case "served": return `${outcome.router.name} (priority ${outcome.router.priority}) -> ${outcome.service}${outcome.authenticatedBy.length > 0 ? ` behind ${outcome.authenticatedBy.join(", ")}` : ""}`;
        case "redirect": return `${outcome.router.name} redirects to ${outcome.to.scheme}:${outcome.to.port}`;
        case "ambiguous": return `ambiguous between ${outcome.routers.map((r) => r.name).join(", ")}`;
        default: return "404";
    }
}

/** Asserts the challenge of every Certificate host reaches its solver without a login; returns how many hosts were checked. */
function assertChallengesReachSolvers(objects: KubeObject[]): number {
    const { all, hosts } = withSolvers(objects, true);
    const entryPoints = traefikEntryPoints(all);
    const routers = traefikRouters(all, entryPoints);
    for (const { host, solver } of hosts) {
        const { hops, final } = routeFollowingRedirects(routers, all, entryPoints, challenge(host));
        const trace = hops.map(describeOutcome).join(" => ");
        assert.equal(final.kind, "served", `${host}: ${trace}`);
        if (final.kind !== "served") continue;
        assert.equal(final.service, solver, `${host}: the challenge reaches ${trace}`);
        assert.deepEqual(final.authenticatedBy, [], `${host}: the challenge meets a login: ${trace}`);
    }
    return hosts.length;
}

describe("ACME HTTP-01 challenges reach cert-manager's solver (Traefik routing as its source defines it)", () => {
    it("parses Traefik v3 rules with &&, ||, ! and parentheses as the muxer evaluates them", () => {
        const rule = parseRule('Host("a.example.com") && PathPrefix(`/v2`) && !PathPrefix(`/.well-known/acme-challenge/`) && (Method(`GET`) || Method(`HEAD`))');
        assert.equal(rule.op, "and");
        const objects: KubeObject[] = [{ apiVersion: "traefik.io/v1alpha1", kind: "IngressRoute", metadata: { name: "r", namespace: "x" }, spec: { entryPoints: ["websecure"], routes: [{ match: 'Host("A.example.com") && !PathPrefix(`/private`) && (Method(`GET`) || Method(`HEAD`))', services: [{ name: "s", port: 80 }] }], tls: {} } }];
        const eps = traefikEntryPoints(objects);
        const routers = traefikRouters(objects, eps);
        const at = (path: string, method = "GET") => routeOnce(routers, objects, eps, { scheme: "https", port: 443, host: "a.example.com", path, method }).kind;
        assert.equal(at("/public"), "served");
        assert.equal(at("/public", "HEAD"), "served");
        assert.equal(at("/public", "POST"), "not-found");
        assert.equal(at("/private/x"), "not-found");
        assert.throws(() => parseRule("Host(`a`) &&"), /expected a matcher/);
    });

    it("production (Traefik behind the load balancer): every Certificate host, through the port-80 redirect, to the solver, no login", async () => {
        const objects = renderedObjects((await synth("production")).files);
        const checked = assertChallengesReachSolvers(objects);
        // archon, supabase, studio?, grafana, registry... every public host has its Certificate.
        assert.ok(checked >= 4, `only ${checked} Certificate hosts`);
    });

    it("production on one node (no load balancer): the same for every Certificate host", async () => {
        assertChallengesReachSolvers(renderedObjects((await synth("production", { controlPlaneNodes: 1, agentNodes: 0 })).files));
    });

    it("port 80 answers every other request with the entry-point redirect, which outranks every router a user can define", async () => {
        const objects = renderedObjects((await synth("production")).files);
        const { all, hosts } = withSolvers(objects, true);
        const eps = traefikEntryPoints(all);
        const routers = traefikRouters(all, eps);
        for (const { host } of hosts) {
            const first = routeOnce(routers, all, eps, challenge(host));
            assert.equal(first.kind, "redirect", `${host}: ${describeOutcome(first)}`);
            assert.equal(first.kind === "redirect" && first.to.port, 443);
        }
        const redirect = routers.find((r) => r.name === "web-to-websecure@internal");
        assert.ok(redirect && redirect.priority > BigInt(TRAEFIK_READ_PRIORITY) * 1_000_000_000n);
    });

    /**
     * The registry's former GET/HEAD IngressRoute on the whole host (priority 10000, before issue 27.7
     * moved the pull/push split into the registry itself), with or without the challenge exclusion:
     * a router of a priority above the solver's, as a method split renders one (kubernetes/ingress.ts).
     */
    function formerReadRoute(objects: KubeObject[], excludeChallenge: boolean): KubeObject {
        const ingress = objects.find((o) => o.kind === "Ingress" && o.spec?.rules?.some((r: { host: string }) => r.host === "registry.archon.example.com"));
        assert.ok(ingress, "production has an Ingress for the registry's pull host");
        const ns = ingress.metadata.namespace;
        return {
            apiVersion: "traefik.io/v1alpha1", kind: "IngressRoute", metadata: { name: "registry-registry-read", namespace: ns },
            spec: {
                entryPoints: ["websecure"], tls: { secretName: ingress.spec!.tls[0].secretName },
                routes: [{
                    match: `Host(\`registry.archon.example.com\`) && PathPrefix(\`/\`)${excludeChallenge ? " && !PathPrefix(`/.well-known/acme-challenge/`)" : ""} && (Method(\`GET\`) || Method(\`HEAD\`))`,
                    kind: "Rule", priority: TRAEFIK_READ_PRIORITY,
                    middlewares: [{ name: "basic-auth-registry-pull", namespace: ns }], services: [{ name: "registry", port: "http" }],
                }],
            },
        } as unknown as KubeObject;
    }

    it("the check fails for a read route above the solver (the registry's former GET/HEAD route on the whole host, priority 10000): 401 before the solver", async () => {
        const objects = renderedObjects((await synth("production")).files);
        assert.doesNotThrow(() => assertChallengesReachSolvers([...objects, formerReadRoute(objects, true)]), "with the challenge excluded it lets the solver through");
        assert.throws(() => assertChallengesReachSolvers([...objects, formerReadRoute(objects, false)]), /registry\.archon\.example\.com: .*registry-read.*\(priority 10000\) -> archon\/registry:http behind archon-basic-auth-registry-pull/);
    });

    it("splits the registry's logins by host: every method meets the pull login at the pull host, the push login at the push host", async () => {
        const objects = renderedObjects((await synth("production")).files);
        const eps = traefikEntryPoints(objects);
        const routers = traefikRouters(objects, eps);
        for (const [host, login] of [["registry.archon.example.com", "pull"], ["registry-push.archon.example.com", "push"]]) {
            for (const [method, path] of [["GET", "/v2/"], ["HEAD", "/v2/archon/manifests/x"], ["PUT", "/v2/archon/manifests/x"], ["POST", "/v2/archon/blobs/uploads/"], ["GET", "/"]]) {
                const outcome = routeOnce(routers, objects, eps, { scheme: "https", port: 443, host, path, method });
                assert.equal(outcome.kind, "served", `${method} ${host}${path}: ${describeOutcome(outcome)}`);
                assert.deepEqual(outcome.kind === "served" && outcome.authenticatedBy, [`archon-basic-auth-registry-${login}@kubernetescrd`], `${method} ${host}${path}: ${describeOutcome(outcome)}`);
            }
        }
    });

    it("a router pointing at a missing middleware is an error, not a pass", async () => {
        const objects = renderedObjects((await synth("production")).files);
        const withoutPullLogin = [...objects, formerReadRoute(objects, false)].filter((o) => !(o.kind === "Middleware" && o.metadata.name === "basic-auth-registry-pull"));
        assert.throws(() => assertChallengesReachSolvers(withoutPullLogin), /does not exist/);
    });

    it("the registry's hosts have no router above their Ingress (the pull/push split is the registry's own, components/registry/registry.ts)", async () => {
        const objects = renderedObjects((await synth("production")).files);
        assert.deepEqual(objects.filter((o) => o.kind === "IngressRoute" && /registry/.test(o.metadata.name)).map((o) => o.metadata.name), []);
    });
});

describe("ACME HTTP-01 challenges reach cert-manager's solver (ingress-nginx routing as its source defines it)", () => {
    /** ingress-nginx: the solver's pathType follows cert-manager's feature gate, which the release turns off (ingress.ts certManagerIngressNginxConfig). */
    async function nginxStack() {
        const result = await synth("production", { ingressController: "ingress-nginx" });
        const certManager = plainInputs(named(result, "kubernetes:helm.sh/v3:Release", "cert-manager")).values;
        const exact = certManager.config?.featureGates?.ACMEHTTP01IngressPathTypeExact ?? true;
        const controller = plainInputs(named(result, "kubernetes:helm.sh/v3:Release", "ingress-nginx")).values.controller.config as Record<string, string>;
        return { objects: renderedObjects(result.files), exact, controller };
    }

    it("every Certificate host: the challenge is served on port 80 itself (no-tls-redirect-locations) by the solver, without a login", async () => {
        const { objects, exact, controller } = await nginxStack();
        assert.equal(exact, false, "the solver uses ImplementationSpecific on ingress-nginx");
        const { all, hosts } = withSolvers(objects, exact);
        assert.ok(hosts.length >= 4);
        for (const { host, solver } of hosts) {
            const { hops, final } = nginxRouteFollowingRedirects(all, challenge(host), controller);
            assert.equal(hops.length, 1, `${host}: no redirect for the challenge`);
            assert.ok(final.kind === "served", `${host}: ${JSON.stringify(final)}`);
            assert.equal(final.service, solver, host);
            assert.deepEqual(final.authenticatedBy, [], `${host}: the challenge meets a login`);
            // The host's other paths keep their redirect to HTTPS (ssl-redirect with a certificate).
            const root = nginxRoute(all, { ...challenge(host), path: "/" }, controller).kind;
            assert.ok(root === "redirect" || root === "not-found", `${host}: / answers ${root} over plain HTTP`);
        }
    });

    it("the check can fail: without the solver's location the registry's challenge meets the pull login", async () => {
        const { objects, controller } = await nginxStack();
        const outcome = nginxRouteFollowingRedirects(objects, challenge("registry.archon.example.com"), controller).final;
        assert.ok(outcome.kind === "served" && outcome.authenticatedBy.length > 0, JSON.stringify(outcome.kind === "served" ? outcome.authenticatedBy : outcome));
    });
});

