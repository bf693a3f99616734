// Helpers shared by the passes of this package: rewriting every binding block of a Relax
// function (nested If branches and SeqExprs included) with identity when nothing changed,
// and reading call_tir calls.
import type { IRModule, Node, PrimExpr } from '@kiln/ir-core';
import { childrenOf, getFunction } from '@kiln/ir-core';
import type {
  Block,
  Expr,
  GlobalVar,
  RelaxFunction,
  SeqExpr,
  StructInfo,
  TensorStructInfo,
} from '@kiln/relax';
import { ifExpr, isStructInfo, relaxFunction, seqExpr, tensorShape, withStructInfo } from '@kiln/relax';
import type { PrimFunc } from '@kiln/tensorir';

/** Rewrite each block of `e` (and of nested scopes) with `fn`; identity when nothing changed. */
export function mapBlocksInExpr(e: Expr, fn: (b: Block) => Block): Expr {
  switch (e.kind) {
    case 'relax.SeqExpr': {
      const blocks = e.blocks.map((b) => {
        const inner = mapNestedInBlock(b, fn);
        return fn(inner);
      });
      const body = mapBlocksInExpr(e.body, fn);
      if (body === e.body && blocks.every((b, i) => b === e.blocks[i])) return e;
      const s: SeqExpr = seqExpr(blocks, body, e.span);
      return e.structInfo ? withStructInfo(s, e.structInfo) : s;
    }
    case 'relax.If': {
      const t = mapBlocksInExpr(e.trueBranch, fn);
      const f = mapBlocksInExpr(e.falseBranch, fn);
      if (t === e.trueBranch && f === e.falseBranch) return e;
      const n = ifExpr(e.cond, t, f, e.span);
      return e.structInfo ? withStructInfo(n, e.structInfo) : n;
    }
    default:
      return e;
  }
}

/** Nested scopes inside binding values (If branches) are rewritten first. */
function mapNestedInBlock(b: Block, fn: (b: Block) => Block): Block {
  let changed = false;
  const bindings = b.bindings.map((x) => {
    if (x.value.kind !== 'relax.If' && x.value.kind !== 'relax.SeqExpr') return x;
    const v = mapBlocksInExpr(x.value, fn);
    if (v === x.value) return x;
    changed = true;
    return Object.freeze({ ...x, value: v });
  });
  return changed ? (Object.freeze({ ...b, bindings: Object.freeze(bindings) }) as Block) : b;
}

export function mapFunctionBlocks(f: RelaxFunction, fn: (b: Block) => Block): RelaxFunction {
  const body = mapBlocksInExpr(f.body, fn);
  if (body === f.body) return f;
  return relaxFunction(f.params, body, f.retStructInfo, { attrs: f.attrs, isPure: f.isPure, span: f.span });
}

export interface CallTIRParts {
  readonly callee: GlobalVar;
  readonly args: readonly Expr[];
  readonly out: StructInfo;
  readonly tirVars?: readonly PrimExpr[];
}

/** The pieces of `call_tir(@f, (args), out_sinfo[, tir_vars])`, or undefined for other values. */
export function callTIRParts(e: Expr): CallTIRParts | undefined {
  if (e.kind !== 'relax.Call' || e.op.kind !== 'relax.Op' || e.op.name !== 'relax.call_tir') return undefined;
  const callee = e.args[0];
  const tup = e.args[1];
  if (callee?.kind !== 'relax.GlobalVar' || tup === undefined) return undefined;
  const tv = e.args[2];
  return {
    callee,
    args: tup.kind === 'relax.Tuple' ? tup.fields : [tup],
    out: e.sinfoArgs[0],
    tirVars: tv?.kind === 'relax.ShapeExpr' ? tv.values : undefined,
  };
}

export function primFuncOf(mod: IRModule, name: string): PrimFunc | undefined {
  const f = getFunction(mod, name);
  return f?.kind === 'PrimFunc' ? (f as unknown as PrimFunc) : undefined;
}

/** A tensor StructInfo with known shape and dtype, else undefined. */
export function knownTensor(
  s: StructInfo | undefined,
): (TensorStructInfo & { shape: NonNullable<TensorStructInfo['shape']> }) | undefined {
  if (s?.kind !== 'relax.TensorStructInfo' || !s.dtype || !tensorShape(s)) return undefined;
  return s as TensorStructInfo & { shape: NonNullable<TensorStructInfo['shape']> };
}

/** Every relax Var / DataflowVar used in `e` (not in StructInfo, not in nested functions). */
export function relaxVarsUsed(e: Node, out: Set<Node> = new Set()): Set<Node> {
  const seen = new Set<Node>();
  const walk = (n: Node): void => {
    if (seen.has(n)) return;
    seen.add(n);
    if (n.kind === 'relax.Var' || n.kind === 'relax.DataflowVar') {
      out.add(n);
      return;
    }
    if (n.kind === 'relax.Function' || isStructInfo(n)) return;
    for (const c of childrenOf(n)) walk(c);
  };
  walk(e);
  return out;
}
