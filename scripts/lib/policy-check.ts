/**
 * The offline policy check: runs the pack's own policy functions (policies/all.ts) over a synth's
 * resources, the way the Pulumi CLI hands them a resource during `pulumi preview --policy-pack`.
 * Enforcement levels and policy settings come from the same JSON the CLI takes with
 * `--policy-pack-config` (`{"<policy>": "advisory" | {"enforcementLevel": ..., ...settings}}`).
 */
import * as fs from "fs";
import * as path from "path";
import { EnforcementLevel, Policies, PolicyResource, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { policies as ALL_POLICIES } from "../../policies/all";
import { ENVIRONMENT_TAG, PRODUCTION, PolicyArgs } from "../../policies/lib/context";
import { ResourceRecord } from "./synthesize";
import { PROJECT_DIR } from "./stack-config";

export type PolicyPackConfig = Record<string, EnforcementLevel | ({ enforcementLevel?: EnforcementLevel } & Record<string, unknown>)>;

export interface Violation {
    policy: string;
    enforcementLevel: "advisory" | "mandatory";
    urn: string;
    message: string;
}

export interface CheckOptions {
    /** `staging` or `production`: the stack tag `environment` the policies read. */
    environment: string;
    /** Pack config; defaults to policies/config/<environment>.json when that file exists. */
    policyConfig?: PolicyPackConfig;
    /** The policies to run (the pack's, unless a test narrows them). */
    policies?: Policies;
}

/** The pack config committed for an environment (what the workflows pass with --policy-pack-config). */
export function committedPolicyConfig(environment: string): PolicyPackConfig {
    const file = path.join(PROJECT_DIR, "policies", "config", `${environment}.json`);
    return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as PolicyPackConfig) : {};
}

class NotApplicable extends Error {}

interface Unwrapped {
    value: unknown;
    secretPaths: Set<string>;
}

/** Drops `{"$secret": v}` wrappers, remembering the dotted path of every value that was one. */
export function unwrapSecrets(value: unknown, at = "", secretPaths = new Set<string>()): Unwrapped {
    const join = (key: string | number) => (at === "" ? String(key) : `${at}.${key}`);
    if (Array.isArray(value)) {
        return { value: value.map((item, i) => unwrapSecrets(item, join(i), secretPaths).value), secretPaths };
    }
    if (value === null || typeof value !== "object") return { value, secretPaths };
    const object = value as Record<string, unknown>;
    if ("$secret" in object && Object.keys(object).length === 1) {
        if (at !== "") secretPaths.add(at);
        return unwrapSecrets(object.$secret, at, secretPaths);
    }
    const plain: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(object)) plain[key] = unwrapSecrets(item, join(key), secretPaths).value;
    return { value: plain, secretPaths };
}

function levelOf(policy: ResourceValidationPolicy | StackValidationPolicy, config: PolicyPackConfig): EnforcementLevel {
    const entry = config[policy.name];
    const configured = typeof entry === "string" ? entry : entry?.enforcementLevel;
    return configured ?? policy.enforcementLevel ?? "mandatory";
}

function settingsOf(policy: ResourceValidationPolicy | StackValidationPolicy, config: PolicyPackConfig): Record<string, unknown> {
    const entry = config[policy.name];
    if (entry === undefined || typeof entry === "string") return {};
    const { enforcementLevel: _level, ...rest } = entry;
    return rest;
}

/** What `validateResource` receives for one synth record (ResourceValidationArgs plus what only the synth knows). */
export function validationArgs(resource: ResourceRecord, stackTags: ReadonlyMap<string, string>, settings: Record<string, unknown>): PolicyArgs {
    const { value, secretPaths } = unwrapSecrets(resource.inputs);
    const type = resource.type;
    const props = value as Record<string, unknown>;
    const typeOf = (resourceClass: unknown) => (resourceClass as { __pulumiType?: string }).__pulumiType;
    return {
        type,
        props,
        urn: resource.urn,
        name: resource.name,
        opts: {
            protect: resource.options.protect === true,
            ignoreChanges: resource.options.ignoreChanges ?? [],
            deleteBeforeReplace: resource.options.deleteBeforeReplace,
            aliases: resource.options.aliases ?? [],
            customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
            additionalSecretOutputs: resource.options.additionalSecretOutputs ?? [],
            parent: resource.parent || undefined,
        },
        stackTags,
        isType: (resourceClass) => typeOf(resourceClass) === type,
        asType: ((resourceClass: unknown) => (typeOf(resourceClass) === type ? props : undefined)) as ResourceValidationArgs["asType"],
        getConfig: <T extends object>() => settings as T,
        notApplicable: (reason?: string): never => {
            throw new NotApplicable(reason);
        },
        secretPaths,
        retainOnDelete: resource.options.retainOnDelete === true,
    };
}

/**
 * Runs every enabled policy: resource policies over every custom resource, then stack policies over
 * all of them at once (as `pulumi preview` does after the last registration); returns the
 * violations in that order. A stack policy's violation carries the URN it names, else the stack's.
 */
export async function checkResources(resources: ResourceRecord[], options: CheckOptions): Promise<Violation[]> {
    const config = options.policyConfig ?? committedPolicyConfig(options.environment);
    const stackTags: ReadonlyMap<string, string> = new Map([[ENVIRONMENT_TAG, options.environment]]);
    const violations: Violation[] = [];
    const custom = resources.filter((r) => r.custom && !r.type.startsWith("pulumi:providers:"));
    const all = options.policies ?? ALL_POLICIES;
    const enabled = all.map((policy) => ({ policy, level: levelOf(policy, config) })).filter(({ level }) => level !== "disabled");
    const reporter = (policy: { name: string }, level: EnforcementLevel, fallbackUrn: string): ReportViolation => (message: string, urn?: string) => {
        violations.push({ policy: policy.name, enforcementLevel: level === "advisory" ? "advisory" : "mandatory", urn: urn ?? fallbackUrn, message });
    };
    for (const resource of custom) {
        for (const { policy, level } of enabled) {
            if (!("validateResource" in policy) || policy.validateResource === undefined) continue;
            const report = reporter(policy, level, resource.urn);
            const validations = Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource];
            for (const validate of validations) {
                try {
                    await validate(validationArgs(resource, stackTags, settingsOf(policy, config)), report);
                } catch (err) {
                    if (!(err instanceof NotApplicable)) throw err;
                }
            }
        }
    }
    const stackUrn = resources.find((r) => r.type === "pulumi:pulumi:Stack")?.urn ?? custom[0]?.urn ?? "";
    for (const { policy, level } of enabled) {
        if (!("validateStack" in policy)) continue;
        const settings = settingsOf(policy, config);
        const policyResources: PolicyResource[] = custom.map((resource) => {
            const args = validationArgs(resource, stackTags, settings);
            return { type: args.type, props: args.props, urn: args.urn, name: args.name, opts: args.opts, dependencies: [], propertyDependencies: {}, isType: args.isType, asType: args.asType };
        });
        try {
            await policy.validateStack({
                resources: policyResources,
                stackTags,
                getConfig: <T extends object>() => settings as T,
                notApplicable: (reason?: string): never => {
                    throw new NotApplicable(reason);
                },
            }, reporter(policy, level, stackUrn));
        } catch (err) {
            if (!(err instanceof NotApplicable)) throw err;
        }
    }
    return violations;
}

/** One line per violation, as `pulumi preview` prints them: level, policy, URN, message. */
export function formatViolations(violations: Violation[]): string {
    return violations.map((v) => `${v.enforcementLevel}: [${v.policy}] ${v.urn}\n    ${v.message}`).join("\n");
}

/**
 * The environment the offline check applies: under the CLI the pack is strict for the stack tag
 * environment=production or, without the tag, a stack named production (no workflow sets the tag);
 * offline the stack's config `environment` stands in for the tag.
 */
export function policyEnvironment(stack: string, configEnvironment: string | undefined): string {
    return stack === PRODUCTION || configEnvironment === PRODUCTION ? PRODUCTION : configEnvironment ?? "staging";
}

/**
 * What `npm run policy` prints: every violation, then the count line. README quotes one run of it
 * (test/newcomer.spec.ts compares the quote with this).
 */
export function policyReport(stack: string, environment: string, resources: ResourceRecord[], violations: Violation[]): string {
    const mandatory = violations.filter((v) => v.enforcementLevel === "mandatory").length;
    const custom = resources.filter((r) => r.custom).length;
    const count = `policy ${stack} (${environment}): ${custom} resources, ${mandatory} mandatory and ${violations.length - mandatory} advisory violations`;
    return violations.length > 0 ? `${formatViolations(violations)}\n${count}` : count;
}
