/**
 * Each policy of the pack against a resource that passes and one that fails, built by hand the way
 * the synth records them (inputs with `{"$secret"}` markers, resource options) and handed to the
 * policy as ResourceValidationArgs by the offline check.
 */
import { strict as assert } from "assert";
import { ResourceValidationPolicy } from "@pulumi/policy";
import { policies } from "../policies/all";
import { composeBoolean, composeServices, hostPath, interpolate } from "../policies/lib/compose";
import { isProduction } from "../policies/lib/context";
import { locations, parseNginxConf } from "../policies/lib/nginx";
import { parseImage } from "../policies/lib/images";
import { checkResources } from "../scripts/lib/policy-check";
import { ResourceOptionsRecord } from "../scripts/lib/synthesize";

type Stack = "staging" | "production";

interface Case {
    type: string;
    inputs: Record<string, unknown>;
    options?: ResourceOptionsRecord;
    stack?: Stack;
    settings?: Record<string, unknown>;
}

function policy(name: string): ResourceValidationPolicy {
    const found = policies.find((p) => p.name === name);
    if (!found) throw new Error(`no policy ${name}`);
    return found;
}

/** The messages `name` reports for one resource. */
async function messages(name: string, c: Case): Promise<string[]> {
    const stack = c.stack ?? "staging";
    const resource = {
        urn: `urn:pulumi:${stack}::archon-infra::${c.type}::subject`,
        type: c.type,
        name: "subject",
        parent: "",
        custom: true,
        inputs: c.inputs,
        options: c.options ?? {},
    };
    const violations = await checkResources([resource], {
        environment: stack,
        policies: [policy(name)],
        policyConfig: c.settings ? { [name]: { enforcementLevel: "mandatory", ...c.settings } } : {},
    });
    return violations.map((v) => v.message);
}

async function passes(name: string, c: Case): Promise<void> {
    assert.deepEqual(await messages(name, c), [], `${name} should accept ${JSON.stringify(c.inputs)}`);
}

async function fails(name: string, c: Case, expected: RegExp): Promise<void> {
    const found = await messages(name, c);
    assert.ok(found.some((m) => expected.test(m)), `${name} should report ${expected} for ${JSON.stringify(c.inputs)}; got ${JSON.stringify(found)}`);
}

const DIGEST = `sha256:${"a".repeat(64)}`;
const HARDENED = {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
};
const PROBE = { httpGet: { path: "/health", port: 8181 } };

function container(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return {
        name: "server",
        image: "registry.example.com/archon-server:sha-1a2b3c4",
        resources: { limits: { cpu: "1", memory: "1Gi" }, requests: { cpu: "100m", memory: "256Mi" } },
        readinessProbe: PROBE,
        livenessProbe: PROBE,
        securityContext: HARDENED,
        ...overrides,
    };
}

function deployment(...containers: Record<string, unknown>[]): Case {
    return {
        type: "kubernetes:apps/v1:Deployment",
        inputs: { metadata: { name: "archon-server", namespace: "archon" }, spec: { template: { spec: { containers } } } },
    };
}

function firewall(...rules: Record<string, unknown>[]): Case {
    return { type: "hcloud:index/firewall:Firewall", inputs: { name: "archon", rules } };
}

const inbound = (port: string, sourceIps: string[]) => ({ direction: "in", protocol: "tcp", port, sourceIps });

const PROTECTED_SERVER = { name: "cp-0", serverType: "cpx32", location: "fsn1", image: "ubuntu-24.04", deleteProtection: true, rebuildProtection: true, backups: true };

describe("policy pack", () => {
    it("has at least ten uniquely named policies, each with a description and an enforcement level", () => {
        assert.ok(policies.length >= 10, `only ${policies.length} policies`);
        assert.equal(new Set(policies.map((p) => p.name)).size, policies.length);
        for (const p of policies) {
            assert.ok(p.description.length > 20, p.name);
            assert.ok(p.enforcementLevel === "mandatory" || p.enforcementLevel === "advisory", p.name);
        }
    });

    it("is strict for the stack tag environment=production, else for a stack named production", () => {
        const urn = (stack: string) => `urn:pulumi:${stack}::archon-infra::hcloud:index/server:Server::x`;
        assert.equal(isProduction({ urn: urn("production"), stackTags: new Map() }), true);
        assert.equal(isProduction({ urn: urn("staging"), stackTags: new Map() }), false);
        assert.equal(isProduction({ urn: urn("eu-live"), stackTags: new Map([["environment", "production"]]) }), true);
        assert.equal(isProduction({ urn: urn("production"), stackTags: new Map([["environment", "staging"]]) }), false);
    });
});

describe("images-pinned", () => {
    it("parses registry ports, tags and digests", () => {
        assert.deepEqual(parseImage("registry.example.com:5000/archon-ui:v1.2.3"), { repository: "registry.example.com:5000/archon-ui", tag: "v1.2.3", digest: undefined });
        assert.deepEqual(parseImage(`postgres@${DIGEST}`), { repository: "postgres", tag: undefined, digest: DIGEST });
    });

    it("accepts a sha- tag, and in production a digest or a full release tag for third-party images", async () => {
        await passes("images-pinned", deployment(container()));
        await passes("images-pinned", { ...deployment(container({ image: `registry.example.com/archon-server@${DIGEST}` })), stack: "production" });
        await passes("images-pinned", { ...deployment(container({ image: "supabase/postgres:15.8.1.060" })), stack: "production" });
    });

    it("refuses latest, untagged and moving tags in pod templates, docker.Image and compose files", async () => {
        await fails("images-pinned", deployment(container({ image: "supabase/gotrue:latest" })), /moving tag "latest"/);
        await fails("images-pinned", { type: "kubernetes:batch/v1:Job", inputs: { spec: { template: { spec: { containers: [container({ image: "postgres" })] } } } } }, /no tag/);
        await fails("images-pinned", { type: "docker:index/image:Image", inputs: { imageName: "registry.example.com/archon-mcp:main" } }, /moving tag "main"/);
        const compose = "services:\n  db:\n    image: postgres:15\n  kong:\n    image: kong\n";
        await fails("images-pinned", {
            type: "command:remote:CopyToRemote",
            inputs: { source: { $archive: { "docker-compose.yml": { $asset: { text: compose } } } } },
        }, /docker-compose.yml service kong: image kong has no tag/);
    });

    it("in production refuses a release tag on the project's own images and a major-only tag on others", async () => {
        await fails("images-pinned", { ...deployment(container({ image: "registry.example.com/archon-server:v0.1.0" })), stack: "production" }, /digest or an immutable sha-<commit> tag/);
        await fails("images-pinned", { ...deployment(container({ image: "postgres:15" })), stack: "production" }, /full release tag/);
        await passes("images-pinned", deployment(container({ image: "postgres:15" })));
    });
});

describe("container policies", () => {
    it("container-resource-limits wants cpu and memory limits and a memory request", async () => {
        await passes("container-resource-limits", deployment(container()));
        await fails("container-resource-limits", deployment(container({ resources: { limits: { cpu: "1" } } })), /resources.limits.memory, resources.requests.memory/);
    });

    it("container-probes wants readiness and liveness on long-running workloads only", async () => {
        await passes("container-probes", deployment(container()));
        await passes("container-probes", { type: "kubernetes:batch/v1:Job", inputs: { spec: { template: { spec: { containers: [container({ readinessProbe: undefined, livenessProbe: undefined })] } } } } });
        await fails("container-probes", { ...deployment(container({ livenessProbe: undefined })), type: "kubernetes:apps/v1:StatefulSet" }, /no livenessProbe/);
    });

    it("container-security-context refuses privilege escalation, kept capabilities and privileged mode", async () => {
        await passes("container-security-context", deployment(container({ securityContext: { ...HARDENED, capabilities: { drop: ["ALL"], add: ["CHOWN"] } } })));
        await fails("container-security-context", deployment(container({ securityContext: { capabilities: { drop: ["ALL"] } } })), /allowPrivilegeEscalation: false/);
        await fails("container-security-context", deployment(container({ securityContext: { allowPrivilegeEscalation: false } })), /drop ALL capabilities/);
        await fails("container-security-context", deployment(container({ securityContext: { ...HARDENED, privileged: true } })), /privileged/);
        await fails("container-security-context", { ...deployment(container({ securityContext: { ...HARDENED, capabilities: { drop: ["ALL"], add: ["NET_ADMIN"] } } })), stack: "production" }, /adds capabilities NET_ADMIN/);
    });

    it("no-plain-secret-env wants credentials from secretKeyRef", async () => {
        await passes("no-plain-secret-env", deployment(container({ env: [{ name: "LOG_LEVEL", value: "info" }, { name: "POSTGRES_PASSWORD", valueFrom: { secretKeyRef: { name: "db", key: "password" } } }] })));
        await fails("no-plain-secret-env", deployment(container({ env: [{ name: "SERVICE_ROLE_KEY", value: "eyJhbGciOi" }] })), /SERVICE_ROLE_KEY as a plain value/);
    });
});

describe("kubernetes object policies", () => {
    const service = (type: string, namespace: string, name: string): Case => ({ type: "kubernetes:core/v1:Service", inputs: { metadata: { name, namespace }, spec: { type, ports: [{ port: 80 }] } } });

    it("service-exposure allows NodePort/LoadBalancer only on the ingress path", async () => {
        await passes("service-exposure", service("LoadBalancer", "kube-system", "traefik"));
        await passes("service-exposure", service("ClusterIP", "archon", "kong"));
        await fails("service-exposure", service("NodePort", "archon", "kong"), /archon\/kong is NodePort/);
        await passes("service-exposure", { ...service("NodePort", "archon", "kong"), settings: { allowed: ["archon/*"] } });
    });

    it("ingress-tls wants every routed host under spec.tls", async () => {
        const ingress = (tls: unknown[]): Case => ({
            type: "kubernetes:networking.k8s.io/v1:Ingress",
            inputs: { metadata: { name: "archon", namespace: "archon" }, spec: { rules: [{ host: "archon.example.com" }, { host: "mcp.example.com" }], tls } },
        });
        await passes("ingress-tls", ingress([{ hosts: ["archon.example.com", "mcp.example.com"], secretName: "archon-tls" }]));
        await fails("ingress-tls", ingress([{ hosts: ["archon.example.com"], secretName: "archon-tls" }]), /routes mcp.example.com without TLS/);
        await fails("ingress-tls", ingress([]), /routes archon.example.com without TLS/);
    });

    it("kubernetes-secret-values wants every value to be a Pulumi secret and none a placeholder", async () => {
        const secret = (stringData: unknown): Case => ({ type: "kubernetes:core/v1:Secret", inputs: { metadata: { name: "db" }, stringData } });
        await passes("kubernetes-secret-values", secret({ $secret: { password: "x8Jq2-generated" } }));
        await passes("kubernetes-secret-values", secret({ password: { $secret: "x8Jq2-generated" } }));
        await fails("kubernetes-secret-values", secret({ password: { $secret: "x8Jq2" }, username: "postgres" }), /stringData keys username are plain values/);
        await fails("kubernetes-secret-values", secret({ $secret: { password: "changeme" } }), /placeholder/);
        const data = { type: "kubernetes:core/v1:Secret", inputs: { data: { $secret: { password: Buffer.from("password").toString("base64") } } } };
        await fails("kubernetes-secret-values", data, /data keys password hold a placeholder/);
    });

    it("pvc-retained wants protect or retainOnDelete", async () => {
        const pvc = (options: ResourceOptionsRecord): Case => ({ type: "kubernetes:core/v1:PersistentVolumeClaim", inputs: { metadata: { name: "postgres-data" } }, options });
        await passes("pvc-retained", pvc({ protect: true, retainOnDelete: true }));
        await passes("pvc-retained", pvc({ retainOnDelete: true }));
        await fails("pvc-retained", pvc({}), /protect: true/);
    });

    it("storageclass-retain wants reclaimPolicy Retain", async () => {
        await passes("storageclass-retain", { type: "kubernetes:storage.k8s.io/v1:StorageClass", inputs: { provisioner: "rancher.io/local-path", reclaimPolicy: "Retain" } });
        await fails("storageclass-retain", { type: "kubernetes:storage.k8s.io/v1:StorageClass", inputs: { provisioner: "rancher.io/local-path" } }, /reclaimPolicy is Delete/);
    });
});

describe("hetzner policies", () => {
    it("firewall-admin-ports refuses SSH or 6443 open to the world, also through a range or any port", async () => {
        await passes("firewall-admin-ports", firewall(inbound("22", ["203.0.113.0/24"]), inbound("6443", ["203.0.113.0/24"]), inbound("443", ["0.0.0.0/0", "::/0"])));
        await fails("firewall-admin-ports", firewall(inbound("22", ["0.0.0.0/0"])), /opens SSH \(22\) to 0.0.0.0\/0/);
        await fails("firewall-admin-ports", firewall(inbound("6000-7000", ["::/0"])), /Kubernetes API \(6443\) to ::\/0/);
        await fails("firewall-admin-ports", firewall(inbound("any", ["0.0.0.0/0"])), /SSH/);
        await passes("firewall-admin-ports", firewall({ direction: "out", protocol: "tcp", port: "22", destinationIps: ["0.0.0.0/0"] }));
    });

    it("firewall-no-postgres refuses 5432 and 6543 from any source", async () => {
        await passes("firewall-no-postgres", firewall(inbound("80", ["0.0.0.0/0"])));
        await fails("firewall-no-postgres", firewall(inbound("5432", ["203.0.113.7/32"])), /Postgres port 5432/);
        await fails("firewall-no-postgres", firewall(inbound("6000-6600", ["0.0.0.0/0"])), /Postgres port 6543/);
    });

    it("server-protection wants delete/rebuild protection and backups in production only", async () => {
        await passes("server-protection", { type: "hcloud:index/server:Server", inputs: PROTECTED_SERVER, stack: "production" });
        await passes("server-protection", { type: "hcloud:index/server:Server", inputs: { ...PROTECTED_SERVER, backups: false } });
        await fails("server-protection", { type: "hcloud:index/server:Server", inputs: { ...PROTECTED_SERVER, rebuildProtection: false }, stack: "production" }, /rebuildProtection: true/);
    });

    it("volume-retained wants deleteProtection and protect", async () => {
        await passes("volume-retained", { type: "hcloud:index/volume:Volume", inputs: { size: 50, location: "fsn1", deleteProtection: true }, options: { protect: true } });
        await fails("volume-retained", { type: "hcloud:index/volume:Volume", inputs: { size: 50, location: "fsn1", deleteProtection: true } }, /resource option protect/);
        await fails("volume-retained", { type: "hcloud:index/volume:Volume", inputs: { size: 50, location: "fsn1" }, options: { protect: true } }, /deleteProtection/);
    });

    it("hetzner-locations allows the configured locations, EU only in production", async () => {
        await passes("hetzner-locations", { type: "hcloud:index/server:Server", inputs: { ...PROTECTED_SERVER, location: "ash" } });
        await fails("hetzner-locations", { type: "hcloud:index/server:Server", inputs: { ...PROTECTED_SERVER, location: "ash" }, stack: "production" }, /location ash is not allowed/);
        await fails("hetzner-locations", { type: "hcloud:index/volume:Volume", inputs: { size: 10, location: "mars1" } }, /location mars1/);
        await passes("hetzner-locations", { type: "hcloud:index/server:Server", inputs: { ...PROTECTED_SERVER, location: undefined, datacenter: "nbg1-dc3" } });
    });

    it("hetzner-server-types allows known types, not the smallest in production", async () => {
        await passes("hetzner-server-types", { type: "hcloud:index/server:Server", inputs: PROTECTED_SERVER, stack: "production" });
        await fails("hetzner-server-types", { type: "hcloud:index/server:Server", inputs: { ...PROTECTED_SERVER, serverType: "cx99" } }, /cx99 is not allowed/);
        await passes("hetzner-server-types", { type: "hcloud:index/server:Server", inputs: { ...PROTECTED_SERVER, serverType: "cpx12" } });
        await fails("hetzner-server-types", { type: "hcloud:index/server:Server", inputs: { ...PROTECTED_SERVER, serverType: "cpx22" }, stack: "production" }, /too small for production/);
        // Removed from Hetzner's API in October 2025 (CPX Gen 1, CX Gen 2).
        await fails("hetzner-server-types", { type: "hcloud:index/server:Server", inputs: { ...PROTECTED_SERVER, serverType: "cpx21" } }, /cpx21 is not allowed/);
    });
});

describe("Compose and nginx as their loaders read them (policies/lib)", () => {
    it("casts booleans, interpolates and cleans paths the way compose-go does", () => {
        assert.deepEqual(["true", "YES", "y", "On", true, "false", "no", ""].map(composeBoolean), [true, true, true, true, true, false, false, false]);
        assert.equal(interpolate("$${HOME} ${A:-x} ${B-y} ${C:+z} $D", { C: "1", D: "d" }), "${HOME} x y z d");
        assert.deepEqual(["//var/run/./docker.sock", "/var//lib/../lib/docker/", "/", "/run/../var/run"].map(hostPath), ["/run/docker.sock", "/var/lib/docker", "/", "/run"]);
        const [service] = composeServices([
            "services:",
            "  x:",
            "    privileged: \"${P:-yes}\"",
            "    volumes: [\"/etc:/e:RO\", \"/srv:/s:ro,z\", \"./a/../../..:/up\", \"data:/d\", \"/anon\"]",
            "volumes:",
            "  data: {driver_opts: {type: none, o: bind, device: /var/run}}",
        ].join("\n"), { projectDir: "/opt/archon" });
        assert.equal(service.privileged, true);
        assert.deepEqual(service.mounts.map((m) => [m.hostPath, m.readOnly]), [["/etc", false], ["/srv", true], ["/", false], ["/run", false]]);
    });

    it("reads nginx.conf with quotes, escapes, comments and nested blocks", () => {
        const config = parseNginxConf("http { # a comment\n server { server_name a.example; location / { auth_basic \"a; b\"; limit_except GET { auth_basic off; } } } }");
        const scopes = locations(config);
        assert.deepEqual(scopes.map((s) => [s.server, s.location]), [["a.example", "/"], ["a.example", "/ limit_except GET"]]);
        assert.deepEqual(scopes[0].chain[0][0], { name: "auth_basic", args: ["a; b"] });
        assert.throws(() => parseNginxConf("http { server {"), /missing }/);
    });
});
