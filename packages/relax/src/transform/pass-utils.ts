// Small helpers shared by the graph passes in this folder (FoldConstant,
// EliminateCommonSubexpr, DeadCodeElimination, CanonicalizeBindings): rebuilding
// functions / SeqExprs / bindings only when something changed (identity otherwise), a
// purity test for binding values, and the variables an IR fragment mentions.
import type { Node } from '@kiln/ir-core';
import { postOrderVisit } from '@kiln/ir-core';
import {
  bindingBlock,
  dataflowBlock,
  ifExpr,
  matchCast,
  relaxFunction,
  seqExpr,
  varBinding,
  withStructInfo,
} from '../ir/expr.js';
import type { AnyVar, Binding, Block, Expr, If, RelaxFunction, SeqExpr } from '../ir/nodes.js';
import type { OpRegistry } from '../op/registry.js';

export function rebuildFunction(fn: RelaxFunction, body: Expr): RelaxFunction {
  if (body === fn.body) return fn;
  return relaxFunction(fn.params, body, fn.retStructInfo, {
    attrs: fn.attrs,
    isPure: fn.isPure,
    span: fn.span,
  });
}

/** `s` with new blocks and body, keeping its StructInfo; `s` itself when nothing changed. */
export function rebuildSeq(s: SeqExpr, blocks: readonly Block[], body: Expr): SeqExpr {
  if (body === s.body && blocks.length === s.blocks.length && blocks.every((b, i) => b === s.blocks[i]))
    return s;
  const n = seqExpr(blocks, body, s.span);
  return s.structInfo === undefined ? n : withStructInfo(n, s.structInfo);
}

/** A block of the same kind as `b` holding `bindings`; `b` itself when they are the same. */
export function rebuildBlock(b: Block, bindings: readonly Binding[]): Block {
  if (bindings.length === b.bindings.length && bindings.every((x, i) => x === b.bindings[i])) return b;
  return b.kind === 'relax.DataflowBlock' ? dataflowBlock(bindings, b.span) : bindingBlock(bindings, b.span);
}

/** `b` with a new value (and var); `b` itself when both are unchanged. */
export function rebindValue(b: Binding, value: Expr, v: AnyVar = b.var): Binding {
  if (value === b.value && v === b.var) return b;
  return b.kind === 'relax.VarBinding'
    ? varBinding(v, value, b.span)
    : matchCast(v, value, b.structInfo, b.span);
}

export function rebuildIf(e: If, cond: Expr, t: Expr, f: Expr): If {
  if (cond === e.cond && t === e.trueBranch && f === e.falseBranch) return e;
  const n = ifExpr(cond, t, f, e.span);
  return e.structInfo === undefined ? n : withStructInfo(n, e.structInfo);
}

/**
 * Can a binding of `e` be removed or shared without changing behaviour? Leaves, tuples
 * and tuple items are; calls are when the operator (registry), the called function or
 * the callee's FuncStructInfo says so. Unknown operators count as impure.
 */
export function isPureValue(e: Expr, ops: OpRegistry): boolean {
  switch (e.kind) {
    case 'relax.Call': {
      const op = e.op;
      let pure: boolean;
      if (op.kind === 'relax.Op') pure = ops.tryGet(op.name)?.pure ?? ops.has(op.name);
      else {
        const s = op.structInfo;
        pure = s !== undefined && s.kind === 'relax.FuncStructInfo' && s.pure;
      }
      return pure && e.args.every((a) => isPureValue(a, ops));
    }
    case 'relax.Tuple':
      return e.fields.every((f) => isPureValue(f, ops));
    case 'relax.TupleGetItem':
      return isPureValue(e.tuple, ops);
    case 'relax.If':
      return isPureValue(e.cond, ops) && isPureValue(e.trueBranch, ops) && isPureValue(e.falseBranch, ops);
    case 'relax.SeqExpr':
      return (
        e.blocks.every((b) =>
          b.bindings.every((x) => x.kind === 'relax.VarBinding' && isPureValue(x.value, ops)),
        ) && isPureValue(e.body, ops)
      );
    default:
      return true;
  }
}

/** Every Relax variable `root` refers to (uses and binders, StructInfo included). */
export function relaxVarsIn(root: Node): Set<AnyVar> {
  const out = new Set<AnyVar>();
  postOrderVisit(root, (n) => {
    if (n.kind === 'relax.Var' || n.kind === 'relax.DataflowVar') out.add(n as AnyVar);
  });
  return out;
}

/** Relax variables that appear inside some StructInfo (shape variables), which substitution must not replace. */
export function varsInStructInfo(root: Node): Set<AnyVar> {
  const out = new Set<AnyVar>();
  postOrderVisit(root, (n) => {
    if (n.kind === 'relax.TensorStructInfo') {
      const shape = (n as unknown as { shape?: Node }).shape;
      if (shape !== undefined && (shape.kind === 'relax.Var' || shape.kind === 'relax.DataflowVar'))
        out.add(shape as AnyVar);
    }
  });
  return out;
}
