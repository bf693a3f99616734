// Passes: IRModule → IRModule transformations declared once with `definePass`, and
// `sequential`, which is itself a pass so pipelines nest. Every pass run goes through
// the same gate: opt level / disabled / required passes, instruments' veto, required
// module properties, option validation, before/after instruments, property update.
import type { z } from 'zod';
import { ErrorCodes, KilnError } from '../errors.js';
import type { IRModule } from '../module.js';
import { irModule, moduleEntries, withModuleAttrs } from '../module.js';
import type { Node } from '../node.js';
import type { PassContext } from './context.js';
import { createPassContext, passEnabled, runStateOf } from './context.js';
import { PASS_OPTIONS, strictSchema, validateOptions } from './options.js';

export type PassKind = 'module' | 'function' | 'prim_func';

/** The module attribute holding the properties established so far (a string[]). */
export const PROPERTIES_ATTR = 'kiln.properties';

/** The node kind a function-level pass kind applies to. */
export const FUNCTION_KIND_OF_PASS: Readonly<Record<Exclude<PassKind, 'module'>, string>> = Object.freeze({
  prim_func: 'PrimFunc',
  function: 'relax.Function',
});

/**
 * A pass. Immutable; `withOptions` returns a new pass. `I` is the accepted options
 * input (what `withOptions` and pipeline text may set).
 */
export interface Pass<I extends object = Readonly<Record<string, unknown>>> {
  readonly name: string;
  readonly kind: PassKind;
  /** The pass runs only when the context's opt level is at least this. */
  readonly optLevel: number;
  readonly requires: readonly string[];
  readonly establishes: readonly string[];
  readonly invalidates: readonly string[];
  /** The options bound so far, as given (defaults are not filled in). */
  readonly boundOptions: Readonly<Partial<I>>;
  /** The member passes when this is a `sequential`, otherwise undefined. */
  readonly passes?: readonly Pass[];
  run(mod: IRModule, ctx?: PassContext): IRModule;
  /** This pass with `opts` merged over its bound options (validated now). */
  withOptions(opts: Readonly<Partial<I>>): Pass<I>;
  /** Pipeline text: `name` or `name(key=value,...)`; a sequential prints its members. */
  toString(): string;
}

export interface PassSpec<O, I, F extends Node> {
  name: string;
  kind: PassKind;
  optLevel?: number;
  requires?: readonly string[];
  establishes?: readonly string[];
  invalidates?: readonly string[];
  /** Options schema; defaults in the schema apply when an option is not given. */
  options?: z.ZodType<O, I>;
  /** Module passes: the transformation. */
  run?(mod: IRModule, ctx: PassContext, opts: O): IRModule;
  /**
   * Function passes: applied to every function of the pass's kind; return the same
   * object when nothing changes, or `null` to remove the function from the module.
   */
  transform?(fn: F, name: string, ctx: PassContext, opts: O): Node | null;
}

const PASS_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$/;

// ---------------------------------------------------------------- properties

export function moduleProperties(mod: IRModule): readonly string[] {
  const p = mod.attrs[PROPERTIES_ATTR];
  if (p === undefined || p === null) return [];
  if (!Array.isArray(p) || p.some((x) => typeof x !== 'string')) {
    throw new KilnError(
      ErrorCodes.INVALID_ARGUMENT,
      `module attribute '${PROPERTIES_ATTR}' must be a list of strings`,
    );
  }
  return p as readonly string[];
}

export function hasProperty(mod: IRModule, property: string): boolean {
  return moduleProperties(mod).includes(property);
}

/** `mod` with `remove` dropped from and then `add` added to its properties. */
export function updateProperties(
  mod: IRModule,
  add: readonly string[],
  remove: readonly string[] = [],
): IRModule {
  const cur = moduleProperties(mod);
  const next = cur.filter((p) => !remove.includes(p));
  for (const p of add) if (!next.includes(p)) next.push(p);
  if (next.length === cur.length && next.every((p, i) => p === cur[i])) return mod;
  return withModuleAttrs(mod, { [PROPERTIES_ATTR]: next });
}

// ---------------------------------------------------------------- option text

const IDENT = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/**
 * Print an option value in pipeline text: numbers, booleans, strings (bare when they
 * look like identifiers, else JSON-quoted), `[a,b]` lists and `{key=value}` records.
 */
export function formatOptionValue(v: unknown): string {
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : JSON.stringify(String(v));
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'string') {
    return IDENT.test(v) && v !== 'true' && v !== 'false' && v !== 'seq' ? v : JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map(formatOptionValue).join(',')}]`;
  if (typeof v === 'object' && v !== null && [Object.prototype, null].includes(Object.getPrototypeOf(v))) {
    const entries = Object.entries(v).filter(([, x]) => x !== undefined);
    return `{${entries.map(([k, x]) => `${k}=${formatOptionValue(x)}`).join(',')}}`;
  }
  throw new KilnError(
    ErrorCodes.INVALID_ARGUMENT,
    `an option value of type ${typeof v} has no pipeline text form`,
  );
}

function formatPass(name: string, bound: Readonly<Record<string, unknown>>): string {
  const keys = Object.keys(bound).filter((k) => bound[k] !== undefined);
  if (keys.length === 0) return name;
  return `${name}(${keys.map((k) => `${k}=${formatOptionValue(bound[k])}`).join(',')})`;
}

// ---------------------------------------------------------------- running

interface PassImpl {
  readonly info: Omit<Pass, 'run' | 'withOptions' | 'toString' | 'boundOptions'>;
  readonly schema?: z.ZodType;
  readonly body: (mod: IRModule, ctx: PassContext, opts: unknown) => IRModule;
  readonly print: (bound: Readonly<Record<string, unknown>>) => string;
}

function resolveOptions(impl: PassImpl, bound: Readonly<Record<string, unknown>>, ctx: PassContext): unknown {
  const name = impl.info.name;
  const fromCtx = ctx.passOptions[name];
  const merged = { ...bound, ...(fromCtx ?? {}) };
  if (!impl.schema) {
    const extra = Object.keys(merged);
    if (extra.length > 0)
      throw new KilnError(PASS_OPTIONS, `pass '${name}' takes no options, got '${extra[0]}'`, {
        details: { field: extra[0] },
      });
    return {};
  }
  return validateOptions(impl.schema, merged, `pass '${name}'`, PASS_OPTIONS);
}

function execute(
  impl: PassImpl,
  bound: Readonly<Record<string, unknown>>,
  self: Pass,
  mod: IRModule,
  ctx: PassContext,
): IRModule {
  const { name } = impl.info;
  if (!passEnabled(ctx, name, impl.info.optLevel)) return mod;
  for (const ins of ctx.instruments) if (ins.shouldRun && !ins.shouldRun(self, mod)) return mod;
  const have = moduleProperties(mod);
  for (const req of impl.info.requires) {
    if (!have.includes(req)) {
      throw new KilnError(
        ErrorCodes.PASS_REQUIREMENT,
        `pass '${name}' requires property '${req}', which the module does not have`,
        {
          notes: [`established properties: ${have.length ? have.join(', ') : 'none'}`],
          details: { pass: name, property: req },
        },
      );
    }
  }
  const opts = resolveOptions(impl, bound, ctx);
  for (const ins of ctx.instruments) ins.runBeforePass?.(self, mod, ctx);
  let out: IRModule;
  try {
    out = impl.body(mod, ctx, opts);
  } catch (e) {
    if (e instanceof KilnError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    throw new KilnError(ErrorCodes.PASS_FAILED, `pass '${name}' failed: ${msg}`, {
      cause: e,
      details: { pass: name },
    });
  }
  out = updateProperties(out, impl.info.establishes, impl.info.invalidates);
  for (const ins of ctx.instruments) ins.runAfterPass?.(self, out, ctx);
  return out;
}

function makePass<I extends object>(impl: PassImpl, bound: Readonly<Record<string, unknown>>): Pass<I> {
  const pass: Pass<I> = Object.freeze({
    ...impl.info,
    boundOptions: Object.freeze({ ...bound }) as Readonly<Partial<I>>,
    run(mod: IRModule, ctx: PassContext = createPassContext()): IRModule {
      const state = runStateOf(ctx);
      const outermost = state.depth === 0;
      state.depth++;
      try {
        if (outermost) for (const ins of ctx.instruments) ins.enterContext?.(ctx);
        return execute(impl, bound, pass as unknown as Pass, mod, ctx);
      } finally {
        state.depth--;
        if (outermost) for (const ins of ctx.instruments) ins.exitContext?.(ctx);
      }
    },
    withOptions(opts: Readonly<Partial<I>>): Pass<I> {
      const merged = { ...bound, ...opts };
      const name = impl.info.name;
      if (!impl.schema) {
        const keys = Object.keys(opts);
        if (keys.length > 0)
          throw new KilnError(PASS_OPTIONS, `pass '${name}' takes no options, got '${keys[0]}'`, {
            details: { field: keys[0] },
          });
        return pass;
      }
      validateOptions(impl.schema, merged, `pass '${name}'`, PASS_OPTIONS);
      return makePass<I>(impl, merged);
    },
    toString(): string {
      return impl.print(bound);
    },
  });
  return pass;
}

function frozenList(xs: readonly string[] | undefined): readonly string[] {
  return Object.freeze([...(xs ?? [])]);
}

/** Declare a pass. See `PassSpec`; names are namespaced by IR (`tir.X`, `relax.Y`). */
export function definePass<
  O = Record<string, never>,
  I extends object = Readonly<Record<string, unknown>>,
  F extends Node = Node,
>(spec: PassSpec<O, I, F>): Pass<I> {
  const { name, kind } = spec;
  if (!PASS_NAME.test(name)) {
    throw new KilnError(
      ErrorCodes.INVALID_ARGUMENT,
      `pass name '${name}' must be namespaced by IR, like 'relax.FuseOps'`,
    );
  }
  const optLevel = spec.optLevel ?? 0;
  let body: PassImpl['body'];
  if (kind === 'module') {
    const run = spec.run;
    if (!run || spec.transform)
      throw new KilnError(
        ErrorCodes.INVALID_ARGUMENT,
        `module pass '${name}' must define run (and not transform)`,
      );
    body = (mod, ctx, opts) => run(mod, ctx, opts as O);
  } else if (kind === 'function' || kind === 'prim_func') {
    const transform = spec.transform;
    if (!transform || spec.run)
      throw new KilnError(
        ErrorCodes.INVALID_ARGUMENT,
        `${kind} pass '${name}' must define transform (and not run)`,
      );
    const fnKind = FUNCTION_KIND_OF_PASS[kind];
    body = (mod, ctx, opts) => {
      let changed = false;
      const entries: Array<[string, Node]> = [];
      for (const [g, f] of moduleEntries(mod)) {
        if (f.kind !== fnKind) {
          entries.push([g, f]);
          continue;
        }
        let nf: Node | null;
        try {
          nf = transform(f as F, g, ctx, opts as O);
        } catch (e) {
          if (e instanceof KilnError) throw e;
          const msg = e instanceof Error ? e.message : String(e);
          throw new KilnError(ErrorCodes.PASS_FAILED, `pass '${name}' failed on function '${g}': ${msg}`, {
            cause: e,
            details: { pass: name, function: g },
          });
        }
        if (nf !== f) changed = true;
        if (nf !== null) entries.push([g, nf]);
      }
      return changed ? irModule(entries, mod.attrs) : mod;
    };
  } else {
    throw new KilnError(ErrorCodes.INVALID_ARGUMENT, `pass '${name}' has unknown kind '${String(kind)}'`);
  }
  const impl: PassImpl = {
    info: Object.freeze({
      name,
      kind,
      optLevel,
      requires: frozenList(spec.requires),
      establishes: frozenList(spec.establishes),
      invalidates: frozenList(spec.invalidates),
    }),
    schema: spec.options ? strictSchema(spec.options) : undefined,
    body,
    print: (bound) => formatPass(name, bound),
  };
  return makePass<I>(impl, {});
}

/** A pass running `passes` in order; the member passes keep their own gates. */
export function sequential(passes: readonly Pass[], name = 'sequential'): Pass<Record<string, never>> {
  const members = Object.freeze([...passes]);
  const impl: PassImpl = {
    info: Object.freeze({
      name,
      kind: 'module' as const,
      optLevel: 0,
      requires: frozenList([]),
      establishes: frozenList([]),
      invalidates: frozenList([]),
      passes: members,
    }),
    body: (mod, ctx) => members.reduce((m, p) => p.run(m, ctx), mod),
    print: () => members.map((p) => (p.passes ? `seq(${p.toString()})` : p.toString())).join(','),
  };
  return makePass(impl, {});
}
