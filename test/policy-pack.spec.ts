/**
 * The pack as the Pulumi CLI runs it: Pulumi's own Node.js policy runner loads policies/ (ts-node,
 * type-checked, package.json main), the pack serves the analyzer gRPC API, and an Analyze call for a
 * firewall that opens SSH to the world comes back with the mandatory violation.
 */
import { strict as assert } from "assert";
import { ChildProcess, spawn } from "child_process";
import * as path from "path";
import * as grpc from "@grpc/grpc-js";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { AnalyzerClient } from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import { AnalyzeRequest, AnalyzeResponse, AnalyzerInfo, AnalyzerResourceOptions, EnforcementLevel } from "@pulumi/pulumi/proto/analyzer_pb";

const ROOT = path.resolve(__dirname, "..");

/** Starts the pack the way the CLI does; resolves with the port it prints. */
function startPack(): Promise<{ child: ChildProcess; port: number }> {
    const runner = require.resolve("@pulumi/pulumi/cmd/run-policy-pack", { paths: [ROOT] });
    const child = spawn(process.execPath, [runner, "127.0.0.1:1", "."], { cwd: path.join(ROOT, "policies"), stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    return new Promise((resolve, reject) => {
        child.stdout!.on("data", (chunk: Buffer) => {
            output += chunk.toString();
            const port = /^(\d+)\s*$/m.exec(output);
            if (port) resolve({ child, port: Number(port[1]) });
        });
        child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
        child.on("exit", (code) => reject(new Error(`policy pack exited with ${code}:\n${output}`)));
    });
}

function call<Req, Res>(method: (req: Req, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown, request: Req): Promise<Res> {
    return new Promise((resolve, reject) => method(request, (err, res) => (err ? reject(err) : resolve(res))));
}

describe("policy pack under Pulumi's policy runner", () => {
    let pack: { child: ChildProcess; port: number } | undefined;
    let client: AnalyzerClient;

    before(async () => {
        pack = await startPack();
        client = new AnalyzerClient(`127.0.0.1:${pack.port}`, grpc.credentials.createInsecure());
    });

    after(() => {
        client?.close();
        if (pack?.child.pid !== undefined) pack.child.kill("SIGTERM");
    });

    it("serves every policy of policies/all.ts under the pack name", async () => {
        const { policies } = await import("../policies/all");
        const info = await call<Empty, AnalyzerInfo>(client.getAnalyzerInfo.bind(client), new Empty());
        assert.equal(info.getName(), "archon-infra");
        assert.deepEqual(info.getPoliciesList().map((p) => p.getName()).sort(), policies.map((p) => p.name).sort());
    });

    it("reports a firewall that opens SSH to the world as a mandatory firewall-admin-ports violation", async () => {
        const request = new AnalyzeRequest()
            .setType("hcloud:index/firewall:Firewall")
            .setName("archon")
            .setUrn("urn:pulumi:production::archon-infra::hcloud:index/firewall:Firewall::archon")
            .setProperties(Struct.fromJavaScript({ name: "archon", rules: [{ direction: "in", protocol: "tcp", port: "22", sourceIps: ["0.0.0.0/0"] }] }))
            .setOptions(new AnalyzerResourceOptions().setProtect(false));
        const response = await call<AnalyzeRequest, AnalyzeResponse>(client.analyze.bind(client), request);
        const diagnostics = response.getDiagnosticsList().map((d) => ({ policy: d.getPolicyname(), level: d.getEnforcementlevel(), message: d.getMessage() }));
        const ssh = diagnostics.find((d) => d.policy === "firewall-admin-ports");
        assert.ok(ssh, JSON.stringify(diagnostics));
        assert.equal(ssh.level, EnforcementLevel.MANDATORY);
        assert.match(ssh.message, /SSH \(22\)/);
    });

    it("passes a firewall that opens only 443 to the world", async () => {
        const request = new AnalyzeRequest()
            .setType("hcloud:index/firewall:Firewall")
            .setName("archon")
            .setUrn("urn:pulumi:production::archon-infra::hcloud:index/firewall:Firewall::archon")
            .setProperties(Struct.fromJavaScript({ name: "archon", rules: [{ direction: "in", protocol: "tcp", port: "443", sourceIps: ["0.0.0.0/0", "::/0"] }] }))
            .setOptions(new AnalyzerResourceOptions().setProtect(false));
        const response = await call<AnalyzeRequest, AnalyzeResponse>(client.analyze.bind(client), request);
        assert.deepEqual(response.getDiagnosticsList().map((d) => d.getPolicyname()), []);
    });
});
