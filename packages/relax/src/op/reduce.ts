// Reductions over axes (sum, mean, max, min, prod, variance, std), index reductions
// (argmax, argmin) and scans (cumsum, cumprod).
import type { PrimExpr } from '@kiln/ir-core';
import { DType, ErrorCodes, dtype as parseDType } from '@kiln/ir-core';
import { dim, dimProduct } from '../arith.js';
import { call } from '../ir/expr.js';
import type { Call, Expr } from '../ir/nodes.js';
import { normAxes, normAxis, result, z, zDType } from './common.js';
import type { OpContext, OpDef, TensorArg } from './registry.js';
import { defineOp } from './registry.js';

export const reduceAttrs = z.object({
  axis: z.array(z.number().int()).nullable().default(null),
  keepdims: z.boolean().default(false),
});
export type ReduceAttrs = z.output<typeof reduceAttrs>;

/** The reduced axes (all when `axis` is null), normalized. */
export function reducedAxes(ctx: OpContext<unknown>, axis: readonly number[] | null, ndim: number): number[] {
  if (axis === null) return Array.from({ length: ndim }, (_, i) => i);
  return normAxes(ctx, axis, ndim);
}

/** Output dims of a reduction over `axes`. */
export function reduceShape(
  shape: readonly PrimExpr[],
  axes: readonly number[],
  keepdims: boolean,
): PrimExpr[] {
  const out: PrimExpr[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepdims) out.push(dim(1));
  });
  return out;
}

function inferReduce(x: TensorArg, ctx: OpContext<ReduceAttrs>, outDType = x.dtype) {
  const { axis, keepdims } = ctx.attrs;
  if (x.ndim < 0) return result(undefined, outDType, keepdims || axis === null ? (keepdims ? -1 : 0) : -1);
  const axes = reducedAxes(ctx as OpContext<unknown>, axis, x.ndim);
  const ndim = keepdims ? x.ndim : x.ndim - axes.length;
  return result(x.shape ? reduceShape(x.shape, axes, keepdims) : undefined, outDType, ndim);
}

export const REDUCE_NAMES = [
  'relax.sum',
  'relax.mean',
  'relax.max',
  'relax.min',
  'relax.prod',
  'relax.variance',
  'relax.std',
] as const;
export type ReduceOpName = (typeof REDUCE_NAMES)[number];

function reduceDef(name: ReduceOpName): OpDef<ReduceAttrs> {
  return defineOp<ReduceAttrs>({
    name,
    attrs: reduceAttrs,
    numArgs: 1,
    pattern: 'comm_reduce',
    inferStructInfo(_c, ctx) {
      const x = ctx.tensor(0);
      if (
        (name === 'relax.mean' || name === 'relax.variance' || name === 'relax.std') &&
        x.dtype &&
        x.dtype.code !== 'float' &&
        x.dtype.code !== 'bfloat'
      ) {
        ctx.fail(ErrorCodes.DTYPE_MISMATCH, `needs a float tensor, got ${x.dtype.str}`);
      }
      return inferReduce(x, ctx);
    },
  });
}

const argAttrs = z.object({
  axis: z.number().int().nullable().default(null),
  keepdims: z.boolean().default(false),
});
export type ArgReduceAttrs = z.output<typeof argAttrs>;
function argDef(name: 'relax.argmax' | 'relax.argmin'): OpDef<ArgReduceAttrs> {
  return defineOp<ArgReduceAttrs>({
    name,
    attrs: argAttrs,
    numArgs: 1,
    pattern: 'comm_reduce',
    inferStructInfo(_c, ctx) {
      const x = ctx.tensor(0);
      const { axis, keepdims } = ctx.attrs;
      if (x.ndim < 0) return result(undefined, DType.int64, -1);
      const axes =
        axis === null
          ? Array.from({ length: x.ndim }, (_, i) => i)
          : [normAxis(ctx as OpContext<unknown>, axis, x.ndim)];
      const ndim = keepdims ? x.ndim : x.ndim - axes.length;
      return result(x.shape ? reduceShape(x.shape, axes, keepdims) : undefined, DType.int64, ndim);
    },
  });
}

const scanAttrs = z.object({
  axis: z.number().int().nullable().default(null),
  dtype: zDType.nullable().default(null),
  exclusive: z.boolean().default(false),
});
export type ScanAttrs = z.output<typeof scanAttrs>;
function scanDef(name: 'relax.cumsum' | 'relax.cumprod'): OpDef<ScanAttrs> {
  return defineOp<ScanAttrs>({
    name,
    attrs: scanAttrs,
    numArgs: 1,
    pattern: 'opaque',
    inferStructInfo(_c, ctx) {
      const x = ctx.tensor(0);
      const dt = ctx.attrs.dtype ? parseDType(ctx.attrs.dtype) : x.dtype;
      if (ctx.attrs.axis === null) {
        // No axis: the input is flattened first (numpy / TVM semantics).
        if (!x.shape) return result(undefined, dt, 1);
        return result([dimProduct(x.shape)], dt, 1);
      }
      if (x.ndim >= 0) normAxis(ctx as OpContext<unknown>, ctx.attrs.axis, x.ndim);
      return result(x.shape, dt, x.ndim);
    },
  });
}

export const REDUCE_OPS: readonly OpDef<unknown>[] = [
  ...REDUCE_NAMES.map(reduceDef),
  argDef('relax.argmax'),
  argDef('relax.argmin'),
  scanDef('relax.cumsum'),
  scanDef('relax.cumprod'),
] as readonly OpDef<unknown>[];

// ---------------------------------------------------------------- constructors

export interface ReduceOptions {
  axis?: number | readonly number[] | null;
  keepdims?: boolean;
}
function r(name: ReduceOpName) {
  return (x: Expr, opts: ReduceOptions = {}): Call => {
    const axis =
      opts.axis === undefined || opts.axis === null
        ? null
        : typeof opts.axis === 'number'
          ? [opts.axis]
          : [...opts.axis];
    return call(name, [x], { attrs: { axis, keepdims: opts.keepdims ?? false } });
  };
}
export const sum = r('relax.sum');
export const mean = r('relax.mean');
export const max = r('relax.max');
export const min = r('relax.min');
export const prod = r('relax.prod');
export const variance = r('relax.variance');
export const std = r('relax.std');
export function argmax(x: Expr, opts: { axis?: number | null; keepdims?: boolean } = {}): Call {
  return call('relax.argmax', [x], { attrs: { axis: opts.axis ?? null, keepdims: opts.keepdims ?? false } });
}
export function argmin(x: Expr, opts: { axis?: number | null; keepdims?: boolean } = {}): Call {
  return call('relax.argmin', [x], { attrs: { axis: opts.axis ?? null, keepdims: opts.keepdims ?? false } });
}
export function cumsum(
  x: Expr,
  opts: { axis?: number | null; dtype?: string | null; exclusive?: boolean } = {},
): Call {
  return call('relax.cumsum', [x], {
    attrs: { axis: opts.axis ?? null, dtype: opts.dtype ?? null, exclusive: opts.exclusive ?? false },
  });
}
export function cumprod(
  x: Expr,
  opts: { axis?: number | null; dtype?: string | null; exclusive?: boolean } = {},
): Call {
  return call('relax.cumprod', [x], {
    attrs: { axis: opts.axis ?? null, dtype: opts.dtype ?? null, exclusive: opts.exclusive ?? false },
  });
}
