// Plugins and the registry. A plugin bundles passes, operators, target kinds and
// frontends under a name and an options schema; a registry (one per compiler
// instance, never a module-level singleton) collects the plugins in use, refuses
// clashing names, and answers lookups — pipeline text and target strings included.
// Kiln's own packages register through the same path as third parties.
import type { z } from 'zod';
import { ErrorCodes, KilnError } from '../errors.js';
import { strictSchema, validateOptions } from '../pass/options.js';
import type { Pass } from '../pass/pass.js';
import type { PassLookup } from '../pass/pipeline.js';
import { parsePipeline } from '../pass/pipeline.js';
import type { ParseTargetOptions, TargetKindDef, TargetParseEnv } from '../target/target.js';
import { BUILTIN_TARGET_KINDS, parseTarget, targetToString } from '../target/target.js';
import type { Target } from '../target/types.js';

/** The only thing ir-core knows about an operator or a frontend: its name. */
export interface NamedEntry {
  readonly name: string;
}

export interface PluginContributions<Op extends NamedEntry = never, Fe extends NamedEntry = never> {
  readonly passes?: readonly Pass[];
  /** Operators; their payload is for the IR package that consumes them (Relax). */
  readonly ops?: readonly Op[];
  readonly targets?: readonly TargetKindDef[];
  readonly frontends?: readonly Fe[];
}

export interface PluginSpec<O, I, Op extends NamedEntry, Fe extends NamedEntry>
  extends PluginContributions<Op, Fe> {
  /** The package name, e.g. `@kiln/relax` or `acme-kiln-npu`. */
  name: string;
  version: string;
  /** Options given to `registry.use`; schema defaults apply to omitted fields. */
  options?: z.ZodType<O, I>;
  /** Contributions that depend on the options, added to the static ones. */
  setup?(options: O): PluginContributions<Op, Fe> | undefined;
}

export interface Plugin<
  O = unknown,
  I = unknown,
  Op extends NamedEntry = never,
  Fe extends NamedEntry = never,
> {
  readonly name: string;
  readonly version: string;
  readonly optionsSchema?: z.ZodType<O, I>;
  readonly passes: readonly Pass[];
  readonly ops: readonly Op[];
  readonly targets: readonly TargetKindDef[];
  readonly frontends: readonly Fe[];
  setup?(options: O): PluginContributions<Op, Fe> | undefined;
}

export function definePlugin<
  O = undefined,
  I = undefined,
  Op extends NamedEntry = never,
  Fe extends NamedEntry = never,
>(spec: PluginSpec<O, I, Op, Fe>): Plugin<O, I, Op, Fe> {
  if (typeof spec.name !== 'string' || spec.name.trim() === '')
    throw new KilnError(ErrorCodes.PLUGIN_INVALID, 'a plugin needs a non-empty name');
  if (typeof spec.version !== 'string' || spec.version.trim() === '') {
    throw new KilnError(ErrorCodes.PLUGIN_INVALID, `plugin '${spec.name}' needs a version`);
  }
  return Object.freeze({
    name: spec.name,
    version: spec.version,
    optionsSchema: spec.options,
    passes: Object.freeze([...(spec.passes ?? [])]),
    ops: Object.freeze([...(spec.ops ?? [])]),
    targets: Object.freeze([...(spec.targets ?? [])]),
    frontends: Object.freeze([...(spec.frontends ?? [])]),
    setup: spec.setup,
  });
}

/** The owner name of the target kinds Kiln knows without plugins. */
export const BUILTIN_OWNER = '@kiln/ir-core';

export interface UsedPlugin {
  readonly name: string;
  readonly version: string;
  /** The validated options (schema defaults filled in). */
  readonly options: unknown;
}

export type EntryKind = 'pass' | 'op' | 'target kind' | 'frontend';

export interface Registry<Op extends NamedEntry = NamedEntry, Fe extends NamedEntry = NamedEntry>
  extends PassLookup {
  /**
   * Add a plugin. Options are validated with its schema (KilnError PLUGIN_OPTIONS
   * naming the plugin and the field); any clash is KilnError PLUGIN_DUPLICATE naming
   * both owners. Nothing is added when it throws.
   */
  use<O, I>(plugin: Plugin<O, I, Op, Fe>, options?: I): this;
  plugins(): readonly UsedPlugin[];
  hasPass(name: string): boolean;
  getPass(name: string): Pass;
  /** Passes in registration order. */
  listPasses(): readonly Pass[];
  ops(): readonly Op[];
  getOp(name: string): Op | undefined;
  /** Target kinds, built-in ones first. */
  targets(): readonly TargetKindDef[];
  frontends(): readonly Fe[];
  getFrontend(name: string): Fe | undefined;
  /** The plugin that registered `name` as an entry of `kind`. */
  ownerOf(kind: EntryKind, name: string): string | undefined;
  parsePipeline(text: string): Pass;
  parseTarget(text: string, env?: TargetParseEnv): Target;
  targetToString(target: Target): string;
}

interface Table<T> {
  readonly kind: EntryKind;
  readonly entries: Map<string, { value: T; owner: string }>;
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length];
}

function nameOf(kind: EntryKind, x: unknown, plugin: string): string {
  const name = kind === 'target kind' ? (x as { kind?: unknown })?.kind : (x as { name?: unknown })?.name;
  if (typeof name !== 'string' || name === '')
    throw new KilnError(ErrorCodes.PLUGIN_INVALID, `plugin '${plugin}': a ${kind} has no name`);
  return name;
}

class RegistryImpl<Op extends NamedEntry, Fe extends NamedEntry> implements Registry<Op, Fe> {
  private readonly used: UsedPlugin[] = [];
  private readonly passTable: Table<Pass> = { kind: 'pass', entries: new Map() };
  private readonly opTable: Table<Op> = { kind: 'op', entries: new Map() };
  private readonly targetTable: Table<TargetKindDef> = { kind: 'target kind', entries: new Map() };
  private readonly frontendTable: Table<Fe> = { kind: 'frontend', entries: new Map() };

  constructor() {
    for (const k of BUILTIN_TARGET_KINDS)
      this.targetTable.entries.set(k.kind, { value: k, owner: BUILTIN_OWNER });
  }

  use<O, I>(plugin: Plugin<O, I, Op, Fe>, options?: I): this {
    const name = plugin.name;
    const prev = this.used.find((p) => p.name === name);
    if (prev) {
      throw new KilnError(
        ErrorCodes.PLUGIN_DUPLICATE,
        `plugin '${name}' (${plugin.version}) is already in use (${prev.version})`,
        {
          details: { kind: 'plugin', name, owners: [name, name] },
        },
      );
    }
    let opts: unknown;
    if (plugin.optionsSchema) {
      opts = validateOptions(
        strictSchema(plugin.optionsSchema),
        options ?? {},
        `plugin '${name}'`,
        ErrorCodes.PLUGIN_OPTIONS,
      );
    } else if (
      options !== undefined &&
      !(typeof options === 'object' && options !== null && Object.keys(options).length === 0)
    ) {
      const field = typeof options === 'object' && options !== null ? Object.keys(options)[0] : '<options>';
      throw new KilnError(ErrorCodes.PLUGIN_OPTIONS, `plugin '${name}' takes no options, got '${field}'`, {
        details: { field },
      });
    }
    let extra: PluginContributions<Op, Fe> | undefined;
    if (plugin.setup) {
      try {
        extra = plugin.setup(opts as O);
      } catch (e) {
        if (e instanceof KilnError) throw e;
        throw new KilnError(
          ErrorCodes.PLUGIN_INVALID,
          `plugin '${name}': setup failed: ${e instanceof Error ? e.message : String(e)}`,
          { cause: e },
        );
      }
    }
    // Check every contribution before adding any, so a failed `use` changes nothing.
    const staged: Array<() => void> = [];
    const stage = <T>(table: Table<T>, items: readonly T[]): void => {
      const mine = new Set<string>();
      for (const item of items) {
        const key = nameOf(table.kind, item, name);
        if (table.kind === 'pass' && typeof (item as unknown as Pass).run !== 'function') {
          throw new KilnError(
            ErrorCodes.PLUGIN_INVALID,
            `plugin '${name}': pass '${key}' is not a Pass (use definePass)`,
          );
        }
        const other = table.entries.get(key)?.owner ?? (mine.has(key) ? name : undefined);
        if (other !== undefined) {
          throw new KilnError(
            ErrorCodes.PLUGIN_DUPLICATE,
            `${table.kind} '${key}' of plugin '${name}' is already registered by plugin '${other}'`,
            {
              details: { kind: table.kind, name: key, owners: [other, name] },
            },
          );
        }
        mine.add(key);
        staged.push(() => table.entries.set(key, { value: item, owner: name }));
      }
    };
    stage(this.passTable, [...plugin.passes, ...(extra?.passes ?? [])]);
    stage(this.opTable, [...plugin.ops, ...(extra?.ops ?? [])]);
    stage(this.targetTable, [...plugin.targets, ...(extra?.targets ?? [])]);
    stage(this.frontendTable, [...plugin.frontends, ...(extra?.frontends ?? [])]);
    for (const commit of staged) commit();
    this.used.push(Object.freeze({ name, version: plugin.version, options: opts }));
    return this;
  }

  plugins(): readonly UsedPlugin[] {
    return this.used.slice();
  }

  hasPass(name: string): boolean {
    return this.passTable.entries.has(name);
  }

  getPass(name: string): Pass {
    const hit = this.passTable.entries.get(name);
    if (hit) return hit.value;
    const near = [...this.passTable.entries.keys()].filter(
      (k) => editDistance(k.toLowerCase(), name.toLowerCase()) <= 2,
    );
    throw new KilnError(
      ErrorCodes.UNKNOWN_PASS,
      `unknown pass '${name}'${near.length ? ` (did you mean ${near.map((n) => `'${n}'`).join(' or ')}?)` : ''}`,
      {
        details: { name },
      },
    );
  }

  listPasses(): readonly Pass[] {
    return [...this.passTable.entries.values()].map((e) => e.value);
  }

  ops(): readonly Op[] {
    return [...this.opTable.entries.values()].map((e) => e.value);
  }

  getOp(name: string): Op | undefined {
    return this.opTable.entries.get(name)?.value;
  }

  targets(): readonly TargetKindDef[] {
    return [...this.targetTable.entries.values()].map((e) => e.value);
  }

  frontends(): readonly Fe[] {
    return [...this.frontendTable.entries.values()].map((e) => e.value);
  }

  getFrontend(name: string): Fe | undefined {
    return this.frontendTable.entries.get(name)?.value;
  }

  ownerOf(kind: EntryKind, name: string): string | undefined {
    const table = {
      pass: this.passTable,
      op: this.opTable,
      'target kind': this.targetTable,
      frontend: this.frontendTable,
    }[kind] as Table<unknown>;
    return table.entries.get(name)?.owner;
  }

  parsePipeline(text: string): Pass {
    return parsePipeline(text, this);
  }

  parseTarget(text: string, env: TargetParseEnv = {}): Target {
    const opts: ParseTargetOptions = { ...env, kinds: this.targets() };
    return parseTarget(text, opts);
  }

  targetToString(target: Target): string {
    return targetToString(target, this.targets());
  }
}

/** A fresh registry holding only the built-in target kinds. */
export function createRegistry<
  Op extends NamedEntry = NamedEntry,
  Fe extends NamedEntry = NamedEntry,
>(): Registry<Op, Fe> {
  return new RegistryImpl<Op, Fe>();
}
