// relax.CanonicalizeBindings: fold trivial bindings into their uses.
//  - `y = x` (a variable bound to another variable with the same StructInfo) is removed
//    and every use of `y` becomes `x`.
//  - A dataflow block's output `gv = lv` of a DataflowVar bound earlier in the same block
//    cannot be replaced by `lv` (invisible after the block), so the other way round: the
//    binding of `lv` now binds `gv` directly and uses of `lv` become `gv`.
//  - `y = R.match_cast(x, S)` where `x` already has StructInfo `S` (so the check cannot
//    fail and defines nothing new) is treated as `y = x`.
//  - `y = t[i]` where `t` is bound to a tuple literal whose field `i` is a variable `a`
//    (visible here) is treated as `y = a`.
// Blocks left empty are dropped.
// Variables named inside some StructInfo (shape variables) are left alone, since their
// binders and uses would go out of step.
// Requires: normalized IR. Establishes nothing new.
import type { Node } from '@kiln/ir-core';
import { definePass, substitute } from '@kiln/ir-core';
import type { AnyVar, Binding, Block, Expr, RelaxFunction, SeqExpr, Tuple } from '../ir/nodes.js';
import { sinfoEqual } from '../text/printer.js';
import {
  rebindValue,
  rebuildBlock,
  rebuildFunction,
  rebuildIf,
  rebuildSeq,
  varsInStructInfo,
} from './pass-utils.js';

function isVarExpr(e: Expr): e is AnyVar {
  return e.kind === 'relax.Var' || e.kind === 'relax.DataflowVar';
}

class Canonicalizer {
  private pinned = new Set<AnyVar>();
  /** Replacements found so far; applied to everything that follows the binding. */
  private readonly subst = new Map<Node, Node>();
  /** Variables bound to tuple literals, with the block of the binding. */
  private readonly tuples = new Map<AnyVar, { tuple: Tuple; block: Block }>();

  function(fn: RelaxFunction): RelaxFunction {
    this.pinned = varsInStructInfo(fn);
    return rebuildFunction(fn, this.expr(fn.body));
  }

  private apply(e: Expr): Expr {
    return this.subst.size > 0 ? substitute(e, this.subst) : e;
  }

  private expr(e: Expr): Expr {
    switch (e.kind) {
      case 'relax.SeqExpr':
        return this.seq(e);
      case 'relax.If':
        return rebuildIf(e, this.apply(e.cond), this.expr(e.trueBranch), this.expr(e.falseBranch));
      case 'relax.Function':
        return rebuildFunction(e, this.expr(e.body));
      default:
        return this.apply(e);
    }
  }

  /** The variable `b` merely renames, if it is a trivial binding. */
  private aliasOf(b: Binding, value: Expr, block: Block): AnyVar | undefined {
    if (b.kind === 'relax.VarBinding' && value.kind === 'relax.TupleGetItem' && isVarExpr(value.tuple)) {
      // `y = t[i]` with `t = (a, b, ...)` bound before renames the field, where it is visible.
      const known = this.tuples.get(value.tuple);
      const field = known?.tuple.fields[value.index];
      if (field !== undefined && isVarExpr(field) && (field.kind === 'relax.Var' || known!.block === block))
        value = field;
    }
    if (!isVarExpr(value) || this.pinned.has(b.var)) return undefined;
    if (!sinfoEqual(b.var.structInfo, value.structInfo)) return undefined;
    if (b.kind === 'relax.MatchCast' && !sinfoEqual(b.structInfo, value.structInfo)) return undefined;
    return value;
  }

  private seq(s: SeqExpr): SeqExpr {
    // Blocks this pass empties are dropped (blocks that were empty before stay).
    const blocks = s.blocks
      .map((b) => this.block(b))
      .filter((b, i) => b.bindings.length > 0 || s.blocks[i].bindings.length === 0);
    return rebuildSeq(s, blocks, this.expr(s.body));
  }

  private block(b: Block): Block {
    const out: Binding[] = [];
    const dataflow = b.kind === 'relax.DataflowBlock';
    for (const x of b.bindings) {
      const value = this.expr(x.value);
      const src = this.aliasOf(x, value, b);
      if (src === undefined) {
        if (x.kind === 'relax.VarBinding' && value.kind === 'relax.Tuple')
          this.tuples.set(x.var, { tuple: value, block: b });
        out.push(rebindValue(x, value));
        continue;
      }
      if (x.var.kind === 'relax.DataflowVar' || src.kind === 'relax.Var' || !dataflow) {
        this.subst.set(x.var, src);
        continue;
      }
      // `gv = lv` in a dataflow block: bind gv where lv was bound, if that is in this block.
      const at = out.findIndex((o) => o.var === src);
      if (at < 0 || this.pinned.has(src)) {
        out.push(rebindValue(x, value));
        continue;
      }
      const swap = new Map<Node, Node>([[src, x.var]]);
      out[at] = rebindValue(out[at], out[at].value, x.var);
      for (let j = at + 1; j < out.length; j++) out[j] = rebindValue(out[j], substitute(out[j].value, swap));
      this.subst.set(src, x.var);
    }
    return rebuildBlock(b, out);
  }
}

/** CanonicalizeBindings over one function (identity when there is nothing to fold). */
export function canonicalizeBindings(fn: RelaxFunction): RelaxFunction {
  return new Canonicalizer().function(fn);
}

export const CanonicalizeBindings = definePass<
  Record<string, never>,
  Readonly<Record<string, unknown>>,
  RelaxFunction
>({
  name: 'relax.CanonicalizeBindings',
  kind: 'function',
  transform(fn: RelaxFunction) {
    return canonicalizeBindings(fn);
  },
});
