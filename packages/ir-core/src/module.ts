// IRModule: global names → functions of any registered function kind (TIR PrimFuncs,
// Relax functions), plus module attributes. Immutable: updates return a new module.
import { ErrorCodes, KilnError } from './errors.js';
import type { Node } from './node.js';
import { defineNodeKinds, freezeNode } from './node.js';

export type AttrValue =
  | string
  | number
  | boolean
  | null
  | readonly AttrValue[]
  | { readonly [k: string]: AttrValue };
export type Attrs = Readonly<Record<string, AttrValue>>;

export interface IRModule {
  readonly kind: 'IRModule';
  /** Global names, sorted; `funcs[i]` is the function named `globals[i]`. */
  readonly globals: readonly string[];
  readonly funcs: readonly Node[];
  readonly attrs: Attrs;
}

defineNodeKinds('core', {
  IRModule: { fields: { globals: 'value', funcs: 'node[]', attrs: 'value' } },
});

const functionKinds = new Set<string>();
/** Declare a node kind as a function that an IRModule may hold (done by each IR package). */
export function defineFunctionKind(kind: string): void {
  functionKinds.add(kind);
}
export function isFunctionKind(kind: string): boolean {
  return functionKinds.has(kind);
}

const GLOBAL_NAME = /^[A-Za-z_][A-Za-z0-9_.$]*$/;

export function irModule(
  functions: Iterable<readonly [string, Node]> | Record<string, Node> = {},
  attrs: Attrs = {},
): IRModule {
  const entries =
    Symbol.iterator in functions
      ? [...(functions as Iterable<readonly [string, Node]>)]
      : Object.entries(functions);
  const seen = new Set<string>();
  for (const [name, fn] of entries) {
    if (!GLOBAL_NAME.test(name))
      throw new KilnError(ErrorCodes.INVALID_ARGUMENT, `invalid global function name '${name}'`);
    if (seen.has(name))
      throw new KilnError(ErrorCodes.DUPLICATE_NAME, `duplicate global function '${name}' in IRModule`);
    seen.add(name);
    if (!functionKinds.has(fn.kind)) {
      throw new KilnError(
        ErrorCodes.INVALID_ARGUMENT,
        `global '${name}' is a ${fn.kind}, which is not a function kind`,
      );
    }
  }
  entries.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  return freezeNode({
    kind: 'IRModule',
    globals: Object.freeze(entries.map((e) => e[0])),
    funcs: Object.freeze(entries.map((e) => e[1])),
    attrs: Object.freeze({ ...attrs }),
  });
}

export function getFunction(mod: IRModule, name: string): Node | undefined {
  const i = mod.globals.indexOf(name);
  return i < 0 ? undefined : mod.funcs[i];
}

/** Like getFunction, but a missing name is a KilnError naming it. */
export function lookupFunction(mod: IRModule, name: string): Node {
  const f = getFunction(mod, name);
  if (!f)
    throw new KilnError(
      ErrorCodes.UNKNOWN_NAME,
      `no global function '${name}' in module (has: ${mod.globals.join(', ') || 'none'})`,
    );
  return f;
}

export function moduleEntries(mod: IRModule): Array<[string, Node]> {
  return mod.globals.map((g, i) => [g, mod.funcs[i]]);
}

/** Add or replace a function; returns `mod` itself when `fn` is already there. */
export function withFunction(mod: IRModule, name: string, fn: Node): IRModule {
  const i = mod.globals.indexOf(name);
  if (i >= 0 && mod.funcs[i] === fn) return mod;
  const entries = moduleEntries(mod).filter((e) => e[0] !== name);
  entries.push([name, fn]);
  return irModule(entries, mod.attrs);
}

export function withoutFunction(mod: IRModule, name: string): IRModule {
  if (!mod.globals.includes(name)) return mod;
  return irModule(
    moduleEntries(mod).filter((e) => e[0] !== name),
    mod.attrs,
  );
}

export function withModuleAttrs(mod: IRModule, attrs: Attrs): IRModule {
  return irModule(moduleEntries(mod), { ...mod.attrs, ...attrs });
}

/** Apply `fn` to every function (of the given kind, if any); identity when nothing changed. */
export function mapFunctions(mod: IRModule, fn: (f: Node, name: string) => Node, kind?: string): IRModule {
  let changed = false;
  const entries = moduleEntries(mod).map(([n, f]): [string, Node] => {
    if (kind !== undefined && f.kind !== kind) return [n, f];
    const g = fn(f, n);
    if (g !== f) changed = true;
    return [n, g];
  });
  return changed ? irModule(entries, mod.attrs) : mod;
}

/** A fresh global name based on `base` that the module does not use yet. */
export function freshGlobalName(mod: IRModule, base: string): string {
  if (!mod.globals.includes(base)) return base;
  for (let i = 1; ; i++) if (!mod.globals.includes(`${base}${i}`)) return `${base}${i}`;
}
