/**
 * The Pulumi CLI's config rules, case by case from pulumi/pulumi's own tests
 * (pkg/workspace/config_project_test.go, sdk/go/common/workspace/project_test.go), then the
 * committed stacks under the same rules.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { DeclaredKey, ProjectConfigError, StackValue, applyProjectConfig, stackValueOf, validateConfigValue, validateProject } from "../scripts/lib/project-config-rules";
import { PROJECT_DIR, StackConfigError, listStacks, readProject, stackConfig } from "../scripts/lib/stack-config";

/** A project's `config:` and a stack file's `config:`, as YAML text, through the CLI's rules for stack `dev`. */
function apply(projectConfig: string, stackYaml: string, project = "test"): Record<string, StackValue> {
    const declared = ((parseYaml(`config:\n${projectConfig}`) as { config: Record<string, DeclaredKey> | null }).config ?? {});
    const stackValues = ((parseYaml(stackYaml || "{}") as { config?: Record<string, unknown> } | null)?.config ?? {});
    const values = Object.fromEntries(Object.entries(stackValues).map(([k, v]) => [k, stackValueOf(v)]));
    return applyProjectConfig("dev", project, declared, values);
}

function refusal(projectConfig: string, stackYaml: string): string {
    try {
        apply(projectConfig, stackYaml);
    } catch (err) {
        assert.ok(err instanceof ProjectConfigError, String(err));
        return err.message;
    }
    assert.fail("the configuration was accepted");
}

describe("the Pulumi CLI's project config rules", () => {
    it("TestStackConfigIsInheritedFromProjectConfig: defaults fill what the stack leaves out, the stack's value wins", () => {
        const merged = apply("  instanceSize:\n    type: string\n    default: t3.micro\n  instanceCount:\n    type: integer\n    default: 20\n  protect:\n    type: boolean\n    default: true\n  aws:region:\n    value: us-west-1", "config:\n  test:instanceSize: t4.large\n");
        assert.equal(merged["test:instanceSize"].text, "t4.large");
        assert.equal(merged["test:instanceCount"].text, "20");
        assert.equal(merged["test:protect"].text, "true");
        assert.equal(merged["aws:region"].text, "us-west-1");
    });

    it("TestUntypedProjectConfigObjectValuesPassedDownToStack: a list or map default reaches the program as JSON", () => {
        const merged = apply("  values:\n    type: array\n    items:\n      type: string\n    default: [a, b]", "");
        assert.deepEqual(merged["test:values"], { text: '["a","b"]', object: true, secure: false });
    });

    it("TestStackConfigErrorsWhenStackValueIsNotCorrectlyTyped", () => {
        assert.equal(refusal("  values:\n    type: array\n    items:\n      type: string\n    default: [value]", "config:\n  test:values: someValue\n"),
            "Stack 'dev' with configuration key 'values' must be of type 'array<string>'");
    });

    it("TestStackConfigIntegerTypeIsCorrectlyValidated", () => {
        const declared = "  importantNumber:\n    type: integer";
        assert.equal(apply(declared, "config:\n  test:importantNumber: 20\n")["test:importantNumber"].text, "20");
        assert.equal(refusal(declared, "config:\n  test:importantNumber: hello\n"), "Stack 'dev' with configuration key 'importantNumber' must be of type 'integer'");
        assert.match(refusal(declared, "config:\n  test:importantNumber: 1.5\n"), /must be of type 'integer'/);
    });

    it("TestStackConfigErrorsWhenMissingStackValueForConfigTypeWithNoDefault", () => {
        assert.equal(refusal("  values:\n    type: array\n    items:\n      type: string", ""), "Stack 'dev' is missing configuration value 'values'");
    });

    it("TestStackConfigErrorsWhenMissingTwoStackValueForConfigTypeWithNoDefault", () => {
        assert.equal(refusal("  another:\n    type: string\n  values:\n    type: array\n    items:\n      type: string", ""),
            "Stack 'dev' is missing configuration values 'another' and 'values'");
    });

    it("TestStackConfigErrorsWhenMissingMultipleStackValueForConfigTypeWithNoDefault", () => {
        assert.equal(refusal("  hello:\n    type: integer\n  values:\n    type: array\n    items:\n      type: string\n  world:\n    type: string", ""),
            "Stack 'dev' is missing configuration values 'hello', 'values' and 'world'");
    });

    it("an untyped declared key without a default is required too (mergeConfig checks no type)", () => {
        assert.equal(refusal("  optional:\n    description: no type, no default", ""), "Stack 'dev' is missing configuration value 'optional'");
    });

    it("TestStackConfigDoesNotErrorWhenProjectHasNotDefinedConfig", () => {
        assert.doesNotThrow(() => apply("", "config:\n  hello: 21\n  world: 42\n  another: 42\n"));
    });

    it("TestUntypedProjectConfigValuesAreNotValidated: an untyped key's value is not type-checked", () => {
        assert.doesNotThrow(() => apply("  name:\n    default: 42", "config:\n  test:name: [1, 2]\n"));
    });

    it("TestStackConfigSecretIsCorrectlyValidated: a key declared secret must be encrypted", () => {
        const declared = "  importantNumber:\n    type: integer\n    secret: true";
        assert.deepEqual(apply(declared, "config:\n  test:importantNumber:\n    secure: MjA=\n")["test:importantNumber"], { text: "MjA=", object: false, secure: true });
        assert.equal(refusal(declared, "config:\n  test:importantNumber: 20\n"), "Stack 'dev' with configuration key 'importantNumber' must be encrypted as it's secret");
    });

    it("refuses a secret key's plain default the same way (the default is set as a plain value, then checked)", () => {
        assert.equal(refusal("  token:\n    type: string\n    secret: true\n    default: x", ""), "Stack 'dev' with configuration key 'token' must be encrypted as it's secret");
    });

    it("ValidateConfigValue: integers as whole numbers or Atoi text, booleans as true/false, arrays item by item", () => {
        assert.equal(validateConfigValue("integer", undefined, 3), true);
        assert.equal(validateConfigValue("integer", undefined, "-3"), true);
        assert.equal(validateConfigValue("integer", undefined, 3.5), false);
        assert.equal(validateConfigValue("boolean", undefined, "true"), true);
        assert.equal(validateConfigValue("boolean", undefined, "yes"), false);
        assert.equal(validateConfigValue("string", undefined, "30"), true);
        assert.equal(validateConfigValue("array", { type: "string" }, ["a", 1]), false);
        assert.equal(validateConfigValue("array", { type: "array", items: { type: "integer" } }, [[1, 2], [3]]), true);
        assert.equal(validateConfigValue("object", undefined, { a: 1 }), true);
    });

    it("Project.Validate: an array needs items, a default its declared type", () => {
        assert.throws(() => validateProject({ values: { type: "array" } }), /The configuration key 'values' declares an array but does not specify the underlying type via the 'items' attribute/);
        assert.throws(() => validateProject({ n: { type: "integer", default: "many" } }), /The default value specified for configuration key 'n' is not of the expected type 'integer'/);
        assert.throws(() => validateProject({ n: { default: 1, value: 2 } }), /project config 'n' cannot have both a 'default' and 'value' attribute/);
    });
});

describe("the committed stacks under the CLI's rules", () => {
    it("Pulumi.yaml itself passes Project.Validate", () => {
        assert.doesNotThrow(() => validateProject(readProject().config ?? {}));
    });

    for (const stack of listStacks()) {
        it(`Pulumi.${stack}.yaml passes ValidateStackConfigAndApplyProjectConfig`, () => {
            const yaml = parseYaml(fs.readFileSync(path.join(PROJECT_DIR, `Pulumi.${stack}.yaml`), "utf8")) as { config?: Record<string, unknown> };
            const values = Object.fromEntries(Object.entries(yaml.config ?? {}).map(([k, v]) => [k, stackValueOf(v)]));
            assert.doesNotThrow(() => applyProjectConfig(stack, readProject().name, readProject().config ?? {}, values));
        });
    }

    it("the synth refuses a missing required key in the CLI's words, naming the fix, on one line", () => {
        assert.throws(() => stackConfig("staging", { domain: null }), (err: unknown) => {
            assert.ok(err instanceof StackConfigError);
            assert.ok(!err.message.includes("\n"));
            assert.match(err.message, /^Stack 'staging' is missing configuration value 'domain' \(Pulumi.yaml; set it: pulumi config set --stack staging <key> <value>/);
            return true;
        });
    });

    it("the synth refuses a value of the wrong declared type in the CLI's words", () => {
        assert.throws(() => stackConfig("production", { agentNodes: "three" }), /Stack 'production' with configuration key 'agentNodes' must be of type 'integer'/);
        assert.throws(() => stackConfig("staging", { sshAllowedCidrs: "10.0.0.0/8" }), /Stack 'staging' with configuration key 'sshAllowedCidrs' must be of type 'array<string>'/);
    });

    it("the synth applies Pulumi.yaml's defaults as the CLI's text", () => {
        const values = stackConfig("staging").values;
        assert.equal(values["archon-infra:secretsVersion"], "1");
        assert.equal(values["archon-infra:ingressController"], "traefik");
        assert.equal(values["archon-infra:sshAllowedCidrs"], '["203.0.113.0/24"]');
    });

    it("the synth refuses a plain value for a key a project declares secret", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "project-"));
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: archon-infra\nruntime: nodejs\nconfig:\n  token:\n    type: string\n    secret: true\n");
        fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), "config:\n  archon-infra:token: plain\n");
        assert.throws(() => stackConfig("dev", {}, dir), /Stack 'dev' with configuration key 'token' must be encrypted as it's secret \(Pulumi.yaml; set it with: pulumi config set --stack dev --secret <key> <value>\)$/);
    });
});
