// Helpers shared by the converters: constants of a value's dtype, emitting Relax ops on
// OnnxValues, broadcasting-aware folding of host values, and axis normalisation.
import type { PrimExpr } from '@kiln/ir-core';
import type { Expr } from '@kiln/relax';
import { op } from '@kiln/relax';
import type { NodeContext, OnnxValue } from '../context.js';
import { dtypeOf, emit, exprOf, exprValue, hostValue, rank } from '../context.js';
import { OnnxErrorCodes } from '../errors.js';
import type { HostTensor } from '../host.js';
import { broadcastMap, hostTensor, toConstant } from '../host.js';

/** A 0-d constant of `dtype`. */
export function scalar(v: number, dtype: string): Expr {
  return toConstant(hostTensor(dtype, [], [v]));
}
/** The value as a Relax expression (constants materialised). */
export const ex = exprOf;
/** Emit `e` and wrap it as a value. */
export function out(ctx: NodeContext, e: Expr): OnnxValue {
  return emit(ctx, e);
}
/** Emit and return the bound var as an expression (for chaining). */
export function em(ctx: NodeContext, e: Expr): Expr {
  return ctx.bb.emit(e);
}

/** Normalize an axis against a rank (ONNX_INVALID when out of range). */
export function normAxis(ctx: NodeContext, axis: number, r: number): number {
  const a = axis < 0 ? axis + r : axis;
  if (a < 0 || a >= Math.max(r, 1))
    ctx.fail(OnnxErrorCodes.ONNX_INVALID, `axis ${axis} is out of range for rank ${r}`);
  return a;
}

/** Fold an elementwise op when every input is known at import time. */
export function foldElementwise(
  _ctx: NodeContext,
  ins: readonly (OnnxValue | undefined)[],
  dtype: string,
  f: (...v: number[]) => number,
): OnnxValue | undefined {
  if (!ins.every((v) => v?.kind === 'host')) return undefined;
  const ts = ins.map((v) => (v as { t: HostTensor }).t);
  if (ts.some((t) => t.data.length > 4096)) return undefined;
  const r = broadcastMap(ts, dtype, f);
  return r ? hostValue(r) : undefined;
}

/** Cast a value's expression to `dtype` if it differs. */
export function castTo(ctx: NodeContext, v: OnnxValue, dtype: string): Expr {
  const e = exprOf(ctx, v);
  return dtypeOf(v, ctx) === dtype ? e : em(ctx, op.astype(e, dtype));
}

export function unaryOut(ctx: NodeContext, f: (x: Expr) => Expr): OnnxValue {
  return exprValue(em(ctx, f(exprOf(ctx, ctx.req(0)))));
}

export type { PrimExpr };
export { rank };
