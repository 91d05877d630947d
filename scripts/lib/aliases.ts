/**
 * The URNs a resource answers to besides its own, computed as the Pulumi engine computes them, so
 * the synth can prove that a rename, a move under another parent or a new component type keeps
 * every resource (and every child of a moved component) in place instead of replacing it.
 *
 * The SDK sends structured aliases (`Alias.Spec`) when the monitor supports them, as the mock
 * monitor does, and leaves resolving them and the children's inherited aliases to the engine
 * (pulumi/pulumi pkg/resource/deploy/step_generator.go, `generateAliases` / `inheritedChildAlias`).
 * Under mocks there is no engine, so this module is that step.
 */

/** One alias as the SDK sends it: a whole URN, or a spec whose empty fields mean "as the resource". */
export interface AliasSpecRecord {
    urn?: string;
    name?: string;
    type?: string;
    stack?: string;
    project?: string;
    parentUrn?: string;
    noParent?: boolean;
}

interface ProtoAlias {
    getUrn(): string;
    getSpec(): ProtoAliasSpec | undefined;
}
interface ProtoAliasSpec {
    getName(): string;
    getType(): string;
    getStack(): string;
    getProject(): string;
    getParenturn(): string;
    getNoparent(): boolean;
}

export function aliasSpecsOf(list: ProtoAlias[]): AliasSpecRecord[] {
    return list.map((alias) => {
        const spec = alias.getSpec();
        if (!spec) return { urn: alias.getUrn() };
        return {
            name: spec.getName() || undefined,
            type: spec.getType() || undefined,
            stack: spec.getStack() || undefined,
            project: spec.getProject() || undefined,
            parentUrn: spec.getParenturn() || undefined,
            noParent: spec.getNoparent() || undefined,
        };
    });
}

interface ParsedUrn {
    stack: string;
    project: string;
    /** The `$`-joined type chain of the resource's ancestors (without the stack) and its own type. */
    qualifiedType: string;
    name: string;
}

export function parseUrn(urn: string): ParsedUrn {
    const match = /^urn:pulumi:([^:]*)::([^:]*)::(.*?)::(.*)$/s.exec(urn);
    if (!match) throw new Error(`not a Pulumi URN: ${urn}`);
    return { stack: match[1], project: match[2], qualifiedType: match[3], name: match[4] };
}

const STACK_TYPE = "pulumi:pulumi:Stack";

/** The URN of `type`/`name` under `parentUrn` (a child of the stack, or of nothing, has no prefix). */
export function makeUrn(stack: string, project: string, parentUrn: string | undefined, type: string, name: string): string {
    const parentType = parentUrn ? parseUrn(parentUrn).qualifiedType : undefined;
    const qualified = parentType && parentType !== STACK_TYPE ? `${parentType}$${type}` : type;
    return `urn:pulumi:${stack}::${project}::${qualified}::${name}`;
}

export interface AliasedResource {
    urn: string;
    type: string;
    name: string;
    parent: string;
    aliasSpecs: AliasSpecRecord[];
}

/**
 * Every URN each resource answers to: its own aliases, and those it inherits from aliased
 * ancestors (a child named with its parent's name as prefix takes the alias's name, as the engine does).
 */
export function resolveAliases(resources: AliasedResource[]): Map<string, string[]> {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const memo = new Map<string, string[]>();
    const aliasesOf = (resource: AliasedResource): string[] => {
        const known = memo.get(resource.urn);
        if (known) return known;
        const { stack, project } = parseUrn(resource.urn);
        const found = new Set<string>();
        for (const spec of resource.aliasSpecs) {
            if (spec.urn) {
                found.add(spec.urn);
                continue;
            }
            const parent = spec.noParent ? undefined : spec.parentUrn ?? resource.parent;
            found.add(makeUrn(spec.stack ?? stack, spec.project ?? project, parent || undefined, spec.type ?? resource.type, spec.name ?? resource.name));
        }
        const parent = byUrn.get(resource.parent);
        if (parent) {
            for (const parentAlias of aliasesOf(parent)) {
                const aliasName = parseUrn(parentAlias).name;
                const name = resource.name.startsWith(parent.name) ? aliasName + resource.name.slice(parent.name.length) : resource.name;
                found.add(makeUrn(stack, project, parentAlias, resource.type, name));
            }
        }
        found.delete(resource.urn);
        const list = [...found].sort();
        memo.set(resource.urn, list);
        return list;
    };
    return new Map(resources.map((r) => [r.urn, aliasesOf(r)]));
}
