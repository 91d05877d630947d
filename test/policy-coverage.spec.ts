/**
 * Issue 12.4: each violation injected into the real synth output of a stack is caught by the pack
 * through the offline check (the same functions `pulumi preview --policy-pack` runs), while the
 * unmodified synth of both stacks stays clean.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import { parse as parseYaml, stringify } from "yaml";
import { checkResources } from "../scripts/lib/policy-check";
import { ResourceRecord, SynthResult } from "../scripts/lib/synthesize";
import { filesAtPath } from "../policies/lib/files";
import { synth, writeTempFiles } from "./helpers";

type Mutate = (resources: ResourceRecord[]) => ResourceRecord[];

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
/** The records in `resources` whose type ends with `kind` and whose name matches. */
function find(resources: ResourceRecord[], type: string, name?: RegExp): ResourceRecord {
    const found = resources.find((r) => r.type === type && (name === undefined || name.test(r.name)));
    if (!found) throw new Error(`no ${type} ${name ?? ""} in the synth`);
    return found;
}
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const podTemplate = (r: ResourceRecord): Json => (r.inputs as Json).spec.template.spec;

async function violations(result: SynthResult, stack: "staging" | "production", mutate: Mutate = (r) => r) {
    return checkResources(mutate(clone(result.resources)), { environment: stack });
}

/** Temporary project copies the Compose cases wrote; removed after the suite. */
const injectedProjects: string[] = [];

/**
 * Applies `edit` to the Compose file of the project's CopyToRemote. The project is a path-based
 * archive (`{"$archive": {"path": dir}}`, components/compose/delivery.ts), which the pack reads from
 * disk (policies/lib/files.ts `filesAtPath`): the rendered directory is copied to a temporary one,
 * the copy's docker-compose.yml is edited and the archive points at the copy. The rendered
 * directory itself stays untouched (it is content-addressed and shared with other synths).
 */
function editCompose(edit: (services: Json) => void): Mutate {
    return (resources) => {
        const copy = find(resources, "command:remote:CopyToRemote", /^project$/);
        const archive = ((copy.inputs as Json).source as Json).$archive as Json;
        assert.equal(typeof archive.path, "string", `the project is a path-based archive: ${JSON.stringify(archive)}`);
        const files = filesAtPath(archive.path as string);
        assert.ok(files["docker-compose.yml"], `no docker-compose.yml in ${archive.path}`);
        const doc = parseYaml(files["docker-compose.yml"]) as Json;
        edit(doc.services);
        const dir = writeTempFiles({ ...files, "docker-compose.yml": stringify(doc) }, "archon-policy-inject-");
        injectedProjects.push(dir);
        archive.path = `${dir}/`;
        return resources;
    };
}

describe("policy pack coverage on injected violations (issue 12.4)", function () {
    let production: SynthResult;
    let staging: SynthResult;
    before(async () => {
        production = await synth("production");
        staging = await synth("staging");
    });
    after(() => {
        for (const dir of injectedProjects.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("the real synth of both stacks has no mandatory violation", async () => {
        for (const [stack, result] of [["production", production], ["staging", staging]] as const) {
            const found = (await violations(result, stack)).filter((v) => v.enforcementLevel === "mandatory");
            assert.deepEqual(found, [], `${stack}: ${JSON.stringify(found, null, 1)}`);
        }
    });

    const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
    const kubernetesCases: [string, string, Mutate, RegExp][] = [
        ["hostNetwork", "pod-host-isolation", (rs) => { podTemplate(find(rs, DEPLOYMENT, /archon-server/)).hostNetwork = true; return rs; }, /sets hostNetwork: true/],
        ["hostPort", "pod-host-isolation", (rs) => { podTemplate(find(rs, DEPLOYMENT, /archon-server/)).containers[0].ports = [{ containerPort: 8181, hostPort: 8181 }]; return rs; }, /binds hostPort 8181/],
        ["a hostPath mount", "pod-host-isolation", (rs) => { podTemplate(find(rs, DEPLOYMENT, /archon-server/)).volumes = [{ name: "root", hostPath: { path: "/" } }]; return rs; }, /mounts the node's \/ \(hostPath\)/],
        ["Service externalIPs", "service-external-ips", (rs) => { (find(rs, "kubernetes:core/v1:Service", /kong/).inputs as Json).spec.externalIPs = ["198.51.100.9"]; return rs; }, /sets externalIPs 198.51.100.9/],
        ["a password in a ConfigMap", "configmap-no-secrets", (rs) => { (find(rs, "kubernetes:core/v1:ConfigMap", /meta-env/).inputs as Json).data.PG_META_DB_PASSWORD = "hunter2-hunter2"; return rs; }, /key PG_META_DB_PASSWORD names a credential/],
        ["a password inside a config file in a ConfigMap", "configmap-no-secrets", (rs) => { (find(rs, "kubernetes:core/v1:ConfigMap", /meta-env/).inputs as Json).data["config.yml"] = "db:\n  password: hunter2-hunter2\n"; return rs; }, /password-like assignment/],
        ["the default-deny NetworkPolicy removed", "network-default-deny", (rs) => rs.filter((r) => !(r.type.endsWith(":NetworkPolicy") && r.name === "default-deny")), /without a default-deny NetworkPolicy/],
        ["a public Ingress to postgres-meta without auth", "ingress-authentication", (rs) => {
            const ingress = clone(find(rs, "kubernetes:networking.k8s.io/v1:Ingress", /kong/));
            ingress.urn += "-meta";
            ingress.name += "-meta";
            const spec = (ingress.inputs as Json).spec;
            spec.rules[0].http.paths[0].backend.service = { name: "meta", port: { number: 8080 } };
            return [...rs, ingress];
        }, /routes to meta without a login/],
        ["a firewall opening the kubelet to the world", "firewall-admin-ports", (rs) => { ((find(rs, "hcloud:index/firewall:Firewall").inputs as Json).rules as Json[]).push({ direction: "in", protocol: "tcp", port: "10250", sourceIps: ["0.0.0.0/0"] }); return rs; }, /kubelet API \(10250\)/],
        ["a firewall opening etcd to the world", "firewall-admin-ports", (rs) => { ((find(rs, "hcloud:index/firewall:Firewall").inputs as Json).rules as Json[]).push({ direction: "in", protocol: "tcp", port: "2379-2380", sourceIps: ["::/0"] }); return rs; }, /etcd \(peer\) \(2380\)/],
    ];
    for (const capability of ["SYS_MODULE", "NET_ADMIN", "SYS_ADMIN"]) {
        kubernetesCases.push([`the capability ${capability}`, "container-security-context", (rs) => {
            podTemplate(find(rs, DEPLOYMENT, /archon-server/)).containers[0].securityContext.capabilities.add = [capability];
            return rs;
        }, new RegExp(`adds capabilities ${capability}`)]);
    }
    for (const [what, policy, mutate, expected] of kubernetesCases) {
        it(`production: catches ${what} (${policy})`, async () => {
            const found = (await violations(production, "production", mutate)).filter((v) => v.policy === policy && v.enforcementLevel === "mandatory");
            assert.ok(found.some((v) => expected.test(v.message)), JSON.stringify(found));
        });
    }

    it("staging too refuses a dangerous capability (not only production's allow-list)", async () => {
        const found = await checkResources([{
            urn: "urn:pulumi:staging::archon-infra::kubernetes:apps/v1:Deployment::x", type: DEPLOYMENT, name: "x", parent: "", custom: true, options: {},
            inputs: { spec: { template: { spec: { containers: [{ name: "c", image: "x:1.0", securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"], add: ["NET_ADMIN"] } } }] } } } },
        }], { environment: "staging", policies: undefined });
        assert.ok(found.some((v) => v.policy === "container-security-context" && /NET_ADMIN/.test(v.message)), JSON.stringify(found));
    });

    const composeCases: [string, Mutate, RegExp][] = [
        ["privileged", editCompose((s) => { s["archon-server"].privileged = true; }), /service archon-server runs privileged/],
        ["a port published on 0.0.0.0 other than 80/443", editCompose((s) => { s.kong.ports = ["8000:8000"]; }), /service kong publishes "8000:8000" on every host address/],
        ["a port published on an explicit 0.0.0.0", editCompose((s) => { s.grafana.ports = ["0.0.0.0:3000:3000"]; }), /service grafana publishes "0.0.0.0:3000:3000" on 0.0.0.0/],
        ["a docker.sock mount", editCompose((s) => { s["archon-server"].volumes = ["/var/run/docker.sock:/var/run/docker.sock:ro"]; }), /service archon-server mounts \/run\/docker.sock \(\/var\/run\/docker.sock:/],
        ["host networking", editCompose((s) => { s.meta.network_mode = "host"; }), /service meta sets network_mode: host/],
        ["an added SYS_ADMIN", editCompose((s) => { s.db.cap_add = [...s.db.cap_add, "SYS_ADMIN"]; }), /service db adds capabilities SYS_ADMIN/],
        // cAdvisor's SYSLOG is a per-service exception (compose-hardening capabilityExceptions), not a blanket one.
        ["SYSLOG on a service without cAdvisor's exception", editCompose((s) => { s["archon-server"].cap_add = [...(s["archon-server"].cap_add ?? []), "SYSLOG"]; }), /service archon-server adds capabilities SYSLOG$/],
        ["SYS_ADMIN on cAdvisor beside its excused SYSLOG", editCompose((s) => { s.cadvisor.cap_add = [...s.cadvisor.cap_add, "SYS_ADMIN"]; }), /service cadvisor adds capabilities SYS_ADMIN$/],
    ];
    for (const [what, mutate, expected] of composeCases) {
        it(`staging Compose project: catches ${what} (compose-hardening)`, async () => {
            const found = (await violations(staging, "staging", mutate)).filter((v) => v.policy === "compose-hardening");
            assert.ok(found.some((v) => expected.test(v.message)), JSON.stringify(found));
        });
    }
});
