// relax.DeadCodeElimination: remove what cannot affect a result.
//  - Bindings whose variable is never used and whose value is pure (leaves, tuples,
//    tuple items, calls of pure operators / functions) are removed, backwards, so chains
//    of dead bindings go in one pass. MatchCasts stay (their runtime check is an effect
//    and they may define symbolic variables). Blocks left empty are dropped.
//  - Functions not reachable from the entry functions are removed: by default the entries
//    are the public Relax functions (those with a `global_symbol`), so private helpers and
//    PrimFuncs nobody calls any more go. A module without any entry keeps its functions.
// Options: `entryFunctions` (names) replaces the default entries.
// Requires: normalized IR. Establishes nothing new.
import type { IRModule, Node, PassContext } from '@kiln/ir-core';
import { definePass, ErrorCodes, irModule, KilnError, moduleEntries, postOrderVisit } from '@kiln/ir-core';
import { z } from 'zod';
import type { Binding, Block, Expr, RelaxFunction, SeqExpr } from '../ir/nodes.js';
import { createOpRegistry } from '../op/builtin.js';
import type { OpRegistry } from '../op/registry.js';
import {
  isPureValue,
  rebindValue,
  rebuildBlock,
  rebuildFunction,
  rebuildIf,
  rebuildSeq,
  relaxVarsIn,
} from './pass-utils.js';

class DeadBindings {
  constructor(private readonly ops: OpRegistry) {}

  function(fn: RelaxFunction): RelaxFunction {
    return rebuildFunction(fn, this.expr(fn.body));
  }

  private expr(e: Expr): Expr {
    switch (e.kind) {
      case 'relax.SeqExpr':
        return this.seq(e);
      case 'relax.If':
        return rebuildIf(e, e.cond, this.expr(e.trueBranch), this.expr(e.falseBranch));
      case 'relax.Function':
        return this.function(e);
      default:
        return e;
    }
  }

  private seq(s: SeqExpr): SeqExpr {
    const body = this.expr(s.body);
    const live = relaxVarsIn(body);
    const blocks: Block[] = [];
    let dropped = false;
    for (let bi = s.blocks.length - 1; bi >= 0; bi--) {
      const b = s.blocks[bi];
      const kept: Binding[] = [];
      for (let i = b.bindings.length - 1; i >= 0; i--) {
        const x = b.bindings[i];
        const value = this.expr(x.value);
        const removable = x.kind === 'relax.VarBinding' && !live.has(x.var) && isPureValue(value, this.ops);
        if (removable) continue;
        const nb = rebindValue(x, value);
        for (const v of relaxVarsIn(nb)) live.add(v);
        kept.push(nb);
      }
      kept.reverse();
      if (kept.length === 0 && b.bindings.length > 0) {
        dropped = true;
        continue;
      }
      blocks.push(rebuildBlock(b, kept));
    }
    blocks.reverse();
    if (!dropped && blocks.every((b, i) => b === s.blocks[i]))
      return body === s.body ? s : rebuildSeq(s, s.blocks, body);
    return rebuildSeq(s, blocks, body);
  }
}

/** Names of the module functions `root` refers to. */
function calledGlobals(root: Node): string[] {
  const out: string[] = [];
  postOrderVisit(root, (n) => {
    if (n.kind === 'relax.GlobalVar') out.push((n as unknown as { name: string }).name);
  });
  return out;
}

export interface DCEOptions {
  /** The functions that must stay (with everything they reach); default: public Relax functions. */
  readonly entryFunctions?: readonly string[];
}

/** Dead-code elimination over a module (identity when nothing is dead). */
export function deadCodeElimination(
  mod: IRModule,
  ops: OpRegistry = createOpRegistry(),
  opts: DCEOptions = {},
): IRModule {
  const dce = new DeadBindings(ops);
  let changed = false;
  const entries = moduleEntries(mod).map(([name, fn]): [string, Node] => {
    if (fn.kind !== 'relax.Function') return [name, fn];
    const nf = dce.function(fn as RelaxFunction);
    if (nf !== fn) changed = true;
    return [name, nf];
  });
  const byName = new Map(entries);
  const roots =
    opts.entryFunctions ??
    entries
      .filter(
        ([, f]) => f.kind === 'relax.Function' && (f as RelaxFunction).attrs.global_symbol !== undefined,
      )
      .map(([n]) => n);
  for (const r of opts.entryFunctions ?? []) {
    if (!byName.has(r))
      throw new KilnError(
        ErrorCodes.UNKNOWN_NAME,
        `relax.DeadCodeElimination: entry function '${r}' is not in the module`,
      );
  }
  let kept = entries;
  if (roots.length > 0) {
    const reach = new Set<string>();
    const work = roots.filter((r) => byName.has(r));
    while (work.length > 0) {
      const name = work.pop()!;
      if (reach.has(name)) continue;
      reach.add(name);
      const f = byName.get(name);
      if (f !== undefined && f.kind === 'relax.Function')
        for (const g of calledGlobals(f)) if (byName.has(g) && !reach.has(g)) work.push(g);
    }
    kept = entries.filter(([n]) => reach.has(n));
    if (kept.length !== entries.length) changed = true;
  }
  return changed ? irModule(kept, mod.attrs) : mod;
}

const dceOptions = z.object({ entryFunctions: z.array(z.string()).optional() });

export function createDeadCodeElimination(ops?: OpRegistry) {
  const registry = ops ?? createOpRegistry();
  return definePass<z.output<typeof dceOptions>, z.input<typeof dceOptions>>({
    name: 'relax.DeadCodeElimination',
    kind: 'module',
    options: dceOptions,
    run(mod: IRModule, _ctx: PassContext, o) {
      return deadCodeElimination(mod, registry, o);
    },
  });
}

/** `relax.DeadCodeElimination` over the built-in operators. */
export const DeadCodeElimination = createDeadCodeElimination();
