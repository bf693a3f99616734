// relax.DeduplicatePrimFuncs: PrimFuncs that are the same program (structurally equal up
// to the renaming of their variables, symbolic shape variables included, and ignoring
// their `global_symbol`) are kept once and every call is redirected to the kept one.
// Models repeat their blocks (the layers of a transformer, the stages of a ResNet), and
// FuseTIR gives each repetition its own PrimFunc; without this pass each copy is
// scheduled and compiled separately.
// The first function in module order is kept. Relax functions are not merged.
// Requires: nothing. Establishes: no two PrimFuncs of the module are structurally equal.
import type { IRModule, Node } from '@kiln/ir-core';
import {
  definePass,
  irModule,
  moduleEntries,
  rewriteNode,
  structuralEqual,
  structuralHash,
} from '@kiln/ir-core';
import { globalVar } from '../ir/expr.js';
import type { GlobalVar } from '../ir/nodes.js';

type Attrs = Readonly<Record<string, unknown>>;

/** The function without its own name, for comparison. */
function anonymous(f: Node): Node {
  const attrs = (f as unknown as { attrs?: Attrs }).attrs;
  if (!attrs || !('global_symbol' in attrs)) return f;
  const { global_symbol: _, ...rest } = attrs;
  return { ...f, attrs: rest } as Node;
}

/** Map from each duplicate PrimFunc's name to the name of the copy that is kept. */
export function findDuplicatePrimFuncs(mod: IRModule): Map<string, string> {
  const byHash = new Map<number, Array<{ name: string; fn: Node }>>();
  const rename = new Map<string, string>();
  for (const [name, f] of moduleEntries(mod)) {
    if (f.kind !== 'PrimFunc') continue;
    const fn = anonymous(f);
    const h = structuralHash(fn, { mapFreeVars: true });
    const same = byHash.get(h) ?? [];
    const kept = same.find((k) => structuralEqual(k.fn, fn, { mapFreeVars: true }));
    if (kept) rename.set(name, kept.name);
    else {
      same.push({ name, fn });
      byHash.set(h, same);
    }
  }
  return rename;
}

/** The module with each set of structurally equal PrimFuncs merged into one. */
export function deduplicatePrimFuncs(mod: IRModule): IRModule {
  const rename = findDuplicatePrimFuncs(mod);
  if (rename.size === 0) return mod;
  const redirect = (n: Node): Node | undefined => {
    if (n.kind !== 'relax.GlobalVar') return undefined;
    const g = n as unknown as GlobalVar;
    const to = rename.get(g.name);
    return to === undefined ? undefined : globalVar(to, g.structInfo, g.span);
  };
  const entries = moduleEntries(mod)
    .filter(([name]) => !rename.has(name))
    .map(([name, f]): [string, Node] => [
      name,
      f.kind === 'PrimFunc' ? f : rewriteNode(f, [redirect], { fixpoint: false }),
    ]);
  return irModule(entries, mod.attrs);
}

export const DeduplicatePrimFuncs = definePass({
  name: 'relax.DeduplicatePrimFuncs',
  kind: 'module',
  run(mod: IRModule) {
    return deduplicatePrimFuncs(mod);
  },
});
