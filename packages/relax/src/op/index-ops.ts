// Indexing operators: take, gather_elements, gather_nd, scatter_elements, one_hot, and
// the sorting family (sort, argsort, topk).
import type { PrimExpr } from '@kiln/ir-core';
import { ErrorCodes, dtype as parseDType } from '@kiln/ir-core';
import { constDim, dim, provablyNotEqual } from '../arith.js';
import { call } from '../ir/expr.js';
import type { Call, Expr } from '../ir/nodes.js';
import { tupleSInfo } from '../ir/struct-info.js';
import { normAxis, result, z, zDType } from './common.js';
import type { OpContext, OpDef, TensorArg } from './registry.js';
import { argShapeText, defineOp } from './registry.js';

type Ctx = OpContext<unknown>;

function checkIndices(ctx: Ctx, t: TensorArg, i: number): void {
  if (t.dtype && t.dtype.code !== 'int' && t.dtype.code !== 'uint')
    ctx.fail(ErrorCodes.DTYPE_MISMATCH, `indices (argument ${i}) must be integers, got ${t.dtype.str}`);
}

const axisAttrs = z.object({ axis: z.number().int().default(0) });
/** `take(x, indices, axis)`: out = x.shape[:axis] + indices.shape + x.shape[axis+1:]. Negative indices wrap. */
export const takeOp = defineOp<z.output<typeof axisAttrs>>({
  name: 'relax.take',
  attrs: axisAttrs,
  numArgs: 2,
  pattern: 'injective',
  inferStructInfo(_c, ctx) {
    const x = ctx.tensor(0);
    const idx = ctx.tensor(1);
    checkIndices(ctx as Ctx, idx, 1);
    if (x.ndim < 0 || idx.ndim < 0) return result(undefined, x.dtype, -1);
    const a = normAxis(ctx as Ctx, ctx.attrs.axis, x.ndim);
    const ndim = x.ndim - 1 + idx.ndim;
    if (!x.shape || !idx.shape) return result(undefined, x.dtype, ndim);
    return result([...x.shape.slice(0, a), ...idx.shape, ...x.shape.slice(a + 1)], x.dtype);
  },
});

/** `gather_elements(data, indices, axis)`: out[i..] = data[.. indices[i..] at axis ..]; out has the indices' shape. */
export const gatherElementsOp = defineOp<z.output<typeof axisAttrs>>({
  name: 'relax.gather_elements',
  attrs: axisAttrs,
  numArgs: 2,
  pattern: 'injective',
  inferStructInfo(_c, ctx) {
    const x = ctx.tensor(0);
    const idx = ctx.tensor(1);
    checkIndices(ctx as Ctx, idx, 1);
    if (x.ndim >= 0 && idx.ndim >= 0 && x.ndim !== idx.ndim)
      ctx.fail(
        ErrorCodes.SHAPE_MISMATCH,
        `data ${argShapeText(x)} and indices ${argShapeText(idx)} must have the same rank`,
      );
    if (x.ndim >= 0) normAxis(ctx as Ctx, ctx.attrs.axis, x.ndim);
    return result(idx.shape, x.dtype, idx.ndim);
  },
});

const gatherNdAttrs = z.object({ batchDims: z.number().int().nonnegative().default(0) });
/** `gather_nd(data, indices, batchDims)` (ONNX GatherND). */
export const gatherNdOp = defineOp<z.output<typeof gatherNdAttrs>>({
  name: 'relax.gather_nd',
  attrs: gatherNdAttrs,
  numArgs: 2,
  pattern: 'injective',
  inferStructInfo(_c, ctx) {
    const x = ctx.tensor(0);
    const idx = ctx.tensor(1);
    checkIndices(ctx as Ctx, idx, 1);
    const b = ctx.attrs.batchDims;
    if (!x.shape || !idx.shape) return result(undefined, x.dtype, -1);
    if (idx.shape.length < 1) ctx.fail(ErrorCodes.SHAPE_MISMATCH, 'indices must have rank >= 1');
    const m = constDim(idx.shape[idx.shape.length - 1]);
    if (m === undefined) return result(undefined, x.dtype, -1);
    if (b + m > x.shape.length)
      ctx.fail(
        ErrorCodes.SHAPE_MISMATCH,
        `index depth ${m} + batchDims ${b} exceeds data rank ${x.shape.length}`,
      );
    for (let i = 0; i < b; i++)
      if (provablyNotEqual(x.shape[i], idx.shape[i]))
        ctx.fail(
          ErrorCodes.SHAPE_MISMATCH,
          `batch dim ${i} differs: ${argShapeText(x)} vs ${argShapeText(idx)}`,
        );
    return result([...idx.shape.slice(0, -1), ...x.shape.slice(b + m)], x.dtype);
  },
});

const scatterAttrs = z.object({
  axis: z.number().int().default(0),
  reduction: z.enum(['update', 'add', 'mul', 'min', 'max']).default('update'),
});
/** `scatter_elements(data, indices, updates, axis, reduction)` (ONNX ScatterElements). */
export const scatterElementsOp = defineOp<z.output<typeof scatterAttrs>>({
  name: 'relax.scatter_elements',
  attrs: scatterAttrs,
  numArgs: 3,
  pattern: 'opaque',
  inferStructInfo(_c, ctx) {
    const x = ctx.tensor(0);
    const idx = ctx.tensor(1);
    const upd = ctx.tensor(2);
    checkIndices(ctx as Ctx, idx, 1);
    if (x.dtype && upd.dtype && x.dtype !== upd.dtype)
      ctx.fail(ErrorCodes.DTYPE_MISMATCH, `updates dtype ${upd.dtype.str} differs from data ${x.dtype.str}`);
    if (idx.shape && upd.shape && idx.shape.some((d, i) => provablyNotEqual(d, upd.shape![i]))) {
      ctx.fail(
        ErrorCodes.SHAPE_MISMATCH,
        `indices ${argShapeText(idx)} and updates ${argShapeText(upd)} must have the same shape`,
      );
    }
    if (x.ndim >= 0) normAxis(ctx as Ctx, ctx.attrs.axis, x.ndim);
    return result(x.shape, x.dtype, x.ndim);
  },
});

const oneHotAttrs = z.object({
  depth: z.number().int().positive(),
  axis: z.number().int().default(-1),
  onValue: z.number().default(1),
  offValue: z.number().default(0),
  dtype: zDType.default('float32'),
});
/** `one_hot(indices, depth, axis)`: a new axis of size `depth`. */
export const oneHotOp = defineOp<z.output<typeof oneHotAttrs>>({
  name: 'relax.one_hot',
  attrs: oneHotAttrs,
  numArgs: 1,
  pattern: 'injective',
  inferStructInfo(_c, ctx) {
    const idx = ctx.tensor(0);
    checkIndices(ctx as Ctx, idx, 0);
    const dt = parseDType(ctx.attrs.dtype);
    if (idx.ndim < 0) return result(undefined, dt, -1);
    const a = normAxis(ctx as Ctx, ctx.attrs.axis, idx.ndim + 1);
    if (!idx.shape) return result(undefined, dt, idx.ndim + 1);
    const out: PrimExpr[] = [...idx.shape];
    out.splice(a, 0, dim(ctx.attrs.depth));
    return result(out, dt);
  },
});

const sortAttrs = z.object({ axis: z.number().int().default(-1), descending: z.boolean().default(false) });
export const sortOp = defineOp<z.output<typeof sortAttrs>>({
  name: 'relax.sort',
  attrs: sortAttrs,
  numArgs: 1,
  pattern: 'opaque',
  inferStructInfo(_c, ctx) {
    const x = ctx.tensor(0);
    if (x.ndim >= 0) normAxis(ctx as Ctx, ctx.attrs.axis, x.ndim);
    return result(x.shape, x.dtype, x.ndim);
  },
});
const argsortAttrs = sortAttrs.extend({ dtype: zDType.default('int64') });
export const argsortOp = defineOp<z.output<typeof argsortAttrs>>({
  name: 'relax.argsort',
  attrs: argsortAttrs,
  numArgs: 1,
  pattern: 'opaque',
  inferStructInfo(_c, ctx) {
    const x = ctx.tensor(0);
    if (x.ndim >= 0) normAxis(ctx as Ctx, ctx.attrs.axis, x.ndim);
    return result(x.shape, parseDType(ctx.attrs.dtype), x.ndim);
  },
});
const topkAttrs = z.object({
  k: z.number().int().positive(),
  axis: z.number().int().default(-1),
  retType: z.enum(['both', 'values', 'indices']).default('both'),
  largest: z.boolean().default(true),
  dtype: zDType.default('int64'),
});
/** `topk(x, k, axis)` → (values, indices) sorted (largest first unless `largest` is false). */
export const topkOp = defineOp<z.output<typeof topkAttrs>>({
  name: 'relax.topk',
  attrs: topkAttrs,
  numArgs: 1,
  pattern: 'opaque',
  inferStructInfo(_c, ctx) {
    const x = ctx.tensor(0);
    const idt = parseDType(ctx.attrs.dtype);
    let shape: PrimExpr[] | undefined;
    if (x.ndim >= 0) {
      const a = normAxis(ctx as Ctx, ctx.attrs.axis, x.ndim);
      if (x.shape) {
        const cd = constDim(x.shape[a]);
        if (cd !== undefined && cd < ctx.attrs.k)
          ctx.fail(ErrorCodes.SHAPE_MISMATCH, `k=${ctx.attrs.k} exceeds dim ${a} of ${argShapeText(x)}`);
        shape = x.shape.map((d, i) => (i === a ? dim(ctx.attrs.k) : d));
      }
    }
    const vals = result(shape, x.dtype, x.ndim);
    const inds = result(shape, idt, x.ndim);
    if (ctx.attrs.retType === 'values') return vals;
    if (ctx.attrs.retType === 'indices') return inds;
    return tupleSInfo([vals, inds]);
  },
});

export const INDEX_OPS: readonly OpDef<unknown>[] = [
  takeOp,
  gatherElementsOp,
  gatherNdOp,
  scatterElementsOp,
  oneHotOp,
  sortOp,
  argsortOp,
  topkOp,
] as readonly OpDef<unknown>[];

export function take(x: Expr, indices: Expr, axis = 0): Call {
  return call('relax.take', [x, indices], { attrs: { axis } });
}
export const gather = take;
export function gatherElements(x: Expr, indices: Expr, axis = 0): Call {
  return call('relax.gather_elements', [x, indices], { attrs: { axis } });
}
export function gatherNd(x: Expr, indices: Expr, batchDims = 0): Call {
  return call('relax.gather_nd', [x, indices], { attrs: { batchDims } });
}
export function scatterElements(
  x: Expr,
  indices: Expr,
  updates: Expr,
  axis = 0,
  reduction: 'update' | 'add' | 'mul' | 'min' | 'max' = 'update',
): Call {
  return call('relax.scatter_elements', [x, indices, updates], { attrs: { axis, reduction } });
}
export function oneHot(
  indices: Expr,
  depth: number,
  opts: { axis?: number; onValue?: number; offValue?: number; dtype?: string } = {},
): Call {
  return call('relax.one_hot', [indices], {
    attrs: {
      depth,
      axis: opts.axis ?? -1,
      onValue: opts.onValue ?? 1,
      offValue: opts.offValue ?? 0,
      dtype: opts.dtype ?? 'float32',
    },
  });
}
export function sort(x: Expr, axis = -1, descending = false): Call {
  return call('relax.sort', [x], { attrs: { axis, descending } });
}
export function argsort(x: Expr, axis = -1, descending = false, dtype = 'int64'): Call {
  return call('relax.argsort', [x], { attrs: { axis, descending, dtype } });
}
export function topk(
  x: Expr,
  k: number,
  opts: { axis?: number; retType?: 'both' | 'values' | 'indices'; largest?: boolean; dtype?: string } = {},
): Call {
  return call('relax.topk', [x], {
    attrs: {
      k,
      axis: opts.axis ?? -1,
      retType: opts.retType ?? 'both',
      largest: opts.largest ?? true,
      dtype: opts.dtype ?? 'int64',
    },
  });
}
