// Tensor creation: full / zeros / ones (from a shape), their `_like` forms, and arange.
import type { ExprLike, PrimExpr } from '@kiln/ir-core';
import { DType, ErrorCodes, isConstInt, dtype as parseDType, toExpr } from '@kiln/ir-core';
import { constDim, dimAdd, dimFloorDiv, dimSub } from '../arith.js';
import { call, primValue, shapeExpr } from '../ir/expr.js';
import type { Call, Expr } from '../ir/nodes.js';
import { tensorSInfo } from '../ir/struct-info.js';
import { result, shapeArg, z, zDType } from './common.js';
import type { OpContext, OpDef } from './registry.js';
import { defineOp } from './registry.js';

type Ctx = OpContext<unknown>;
const dtAttrs = z.object({ dtype: zDType.nullable().default(null) });
type DtAttrs = z.output<typeof dtAttrs>;

function fromShape(c: Call, ctx: Ctx, dt: string | null | undefined) {
  const s = shapeArg(ctx, 0);
  const t = dt ? parseDType(dt) : undefined;
  if (s.values) return result(s.values, t);
  const a = c.args[0];
  if (a.kind === 'relax.Var' || a.kind === 'relax.DataflowVar') return tensorSInfo(a, t);
  return result(undefined, t, s.ndim);
}

/** `full(shape, fillValue)`: fillValue is a 0-d tensor; dtype defaults to its dtype. */
export const fullOp = defineOp<DtAttrs>({
  name: 'relax.full',
  attrs: dtAttrs,
  numArgs: 2,
  pattern: 'elemwise',
  inferStructInfo(c, ctx) {
    const v = ctx.tensor(1);
    if (v.ndim > 0) ctx.fail(ErrorCodes.SHAPE_MISMATCH, 'fill value must be a 0-d tensor');
    return fromShape(c, ctx as Ctx, ctx.attrs.dtype ?? v.dtype?.str);
  },
});
const zoDef = (name: 'relax.zeros' | 'relax.ones') =>
  defineOp<{ dtype: string }>({
    name,
    attrs: z.object({ dtype: zDType.default('float32') }),
    numArgs: 1,
    pattern: 'elemwise',
    inferStructInfo(c, ctx) {
      return fromShape(c, ctx as Ctx, ctx.attrs.dtype);
    },
  });
const likeDef = (name: 'relax.zeros_like' | 'relax.ones_like' | 'relax.full_like', nargs: number) =>
  defineOp<DtAttrs>({
    name,
    attrs: dtAttrs,
    numArgs: nargs,
    pattern: 'elemwise',
    inferStructInfo(_c, ctx) {
      const x = ctx.tensor(0);
      if (nargs === 2 && ctx.tensor(1).ndim > 0)
        ctx.fail(ErrorCodes.SHAPE_MISMATCH, 'fill value must be a 0-d tensor');
      return result(x.shape, ctx.attrs.dtype ? parseDType(ctx.attrs.dtype) : x.dtype, x.ndim);
    },
  });

/** `arange(start, end, step)` with PrimValue arguments (symbolic ints allowed). */
export const arangeOp = defineOp<{ dtype: string }>({
  name: 'relax.arange',
  attrs: z.object({ dtype: zDType.default('int64') }),
  numArgs: 3,
  pattern: 'injective',
  inferStructInfo(_c, ctx) {
    const dt = parseDType(ctx.attrs.dtype);
    const vals: (PrimExpr | undefined)[] = [0, 1, 2].map((i) => {
      const s = ctx.arg(i);
      if (s.kind !== 'relax.PrimStructInfo')
        ctx.fail(ErrorCodes.INVALID_ARGUMENT, `argument ${i} must be a scalar value`);
      return s.kind === 'relax.PrimStructInfo' ? s.value : undefined;
    });
    const [start, end, step] = vals;
    if (!start || !end || !step) return result(undefined, dt, 1);
    const num = (e: PrimExpr) => (e.kind === 'IntImm' || e.kind === 'FloatImm' ? e.value : undefined);
    const [a, b, s] = [num(start), num(end), num(step)];
    if (s === 0) ctx.fail(ErrorCodes.INVALID_ARGUMENT, 'step is 0');
    if (a !== undefined && b !== undefined && s !== undefined)
      return result([toExpr(Math.max(0, Math.ceil((b - a) / s)), DType.int64)], dt);
    if (isConstInt(step) && step.value > 0 && start.dtype.code === 'int' && end.dtype.code === 'int') {
      const len = dimSub(end, start);
      const n = step.value === 1 ? len : dimFloorDiv(dimAdd(len, step.value - 1), step.value);
      return result([constDim(n) !== undefined ? toExpr(Math.max(0, constDim(n)!), DType.int64) : n], dt);
    }
    return result(undefined, dt, 1);
  },
});

export const CREATE_OPS: readonly OpDef<unknown>[] = [
  fullOp,
  zoDef('relax.zeros'),
  zoDef('relax.ones'),
  likeDef('relax.zeros_like', 1),
  likeDef('relax.ones_like', 1),
  likeDef('relax.full_like', 2),
  arangeOp,
] as readonly OpDef<unknown>[];

type ShapeLike = Expr | readonly ExprLike[];
const toShape = (s: ShapeLike): Expr =>
  Array.isArray(s) ? shapeExpr(s as readonly ExprLike[]) : (s as Expr);

export function full(shape: ShapeLike, fillValue: Expr, dtype: string | null = null): Call {
  return call('relax.full', [toShape(shape), fillValue], { attrs: { dtype } });
}
export function zeros(shape: ShapeLike, dtype = 'float32'): Call {
  return call('relax.zeros', [toShape(shape)], { attrs: { dtype } });
}
export function ones(shape: ShapeLike, dtype = 'float32'): Call {
  return call('relax.ones', [toShape(shape)], { attrs: { dtype } });
}
export function zerosLike(x: Expr, dtype: string | null = null): Call {
  return call('relax.zeros_like', [x], { attrs: { dtype } });
}
export function onesLike(x: Expr, dtype: string | null = null): Call {
  return call('relax.ones_like', [x], { attrs: { dtype } });
}
export function fullLike(x: Expr, fillValue: Expr, dtype: string | null = null): Call {
  return call('relax.full_like', [x, fillValue], { attrs: { dtype } });
}
export function arange(start: ExprLike, end: ExprLike, step: ExprLike = 1, dtype = 'int64'): Call {
  const pv = (v: ExprLike) =>
    primValue(typeof v === 'number' && Number.isInteger(v) ? toExpr(v, DType.int64) : v);
  return call('relax.arange', [pv(start), pv(end), pv(step)], { attrs: { dtype } });
}
