/**
 * GoTrue's e-mail from stack config (issue 11.5): the SMTP settings reach the auth service under the
 * names supabase/auth v2.186.0 reads (internal/conf/configuration.go SMTPConfiguration, prefix
 * GOTRUE_SMTP_), the password only through the service's secret environment, and half a setup is
 * refused in one line naming the key.
 */
import * as assert from "assert";
import { parse as parseYaml } from "yaml";
import { synth } from "./helpers";
import { SynthConfigError } from "../scripts/lib/synthesize";

const SMTP = { smtpHost: "smtp.example.com", smtpPort: 465, smtpUser: "postmaster@example.com", smtpPassword: "smtp-Secret-1", smtpSenderName: "Archon staging" };

describe("GoTrue SMTP settings", () => {
    it("reach the auth service on Compose, the password only in its 0600 env file", async () => {
        const result = await synth("staging", SMTP);
        const auth = parseYaml(result.files["project/docker-compose.yml"]).services.auth;
        assert.deepStrictEqual(
            Object.fromEntries(Object.entries(auth.environment as Record<string, string>).filter(([k]) => k.startsWith("GOTRUE_SMTP_"))),
            { GOTRUE_SMTP_HOST: "smtp.example.com", GOTRUE_SMTP_PORT: "465", GOTRUE_SMTP_ADMIN_EMAIL: "ops@example.com", GOTRUE_SMTP_SENDER_NAME: "Archon staging", GOTRUE_SMTP_USER: "postmaster@example.com" },
        );
        assert.ok(!JSON.stringify(result.files["project/docker-compose.yml"]).includes(SMTP.smtpPassword));
        const envWrite = result.resources.find((r) => r.name === "secret-env-auth.env")!;
        const stdin = envWrite.inputs.stdin as { $secret: string };
        assert.match(stdin.$secret, /^GOTRUE_SMTP_PASS=smtp-Secret-1$/m, "the password travels over SSH stdin, as a secret");
    });

    it("reach the auth service on Kubernetes, the password only in its Secret", async () => {
        const result = await synth("production", SMTP);
        const config = parseYaml(result.files["kubernetes/archon/ConfigMap-auth-env.yaml"]);
        assert.strictEqual(config.data.GOTRUE_SMTP_HOST, "smtp.example.com");
        assert.ok(!("GOTRUE_SMTP_PASS" in config.data));
        const secret = result.resources.find((r) => r.type === "kubernetes:core/v1:Secret" && r.name.startsWith("auth"))!;
        assert.match(JSON.stringify(secret.inputs), /GOTRUE_SMTP_PASS/);
    });

    it("sends nothing without smtpHost, and refuses half a setup naming the key", async () => {
        const plain = parseYaml((await synth("staging")).files["project/docker-compose.yml"]).services.auth;
        assert.ok(!Object.keys(plain.environment).some((k) => k.startsWith("GOTRUE_SMTP_")));
        await assert.rejects(synth("staging", { smtpUser: "x" }), (err: Error) => err instanceof SynthConfigError && /archon-infra:smtpUser.*needs smtpHost/.test(err.message));
        await assert.rejects(synth("staging", { smtpHost: "smtp.example.com", smtpUser: "x" }), (err: Error) => /smtpPassword.*pulumi config set --secret smtpPassword/.test(err.message));
    });
});
