// Shape manipulation and data movement: reshape, permute_dims, expand_dims, squeeze,
// flatten, concat, split, strided_slice, broadcast_to, tile, repeat, pad, triu/tril.
import type { PrimExpr } from '@kiln/ir-core';
import { ErrorCodes, isConstInt } from '@kiln/ir-core';
import {
  constDim,
  dim,
  dimAdd,
  dimFloorDiv,
  dimMin,
  dimMul,
  dimProduct,
  dimSub,
  provablyNotEqual,
  simplifyDim,
} from '../arith.js';
import { call, shapeExpr, tuple } from '../ir/expr.js';
import type { Call, Expr } from '../ir/nodes.js';
import { shapeToString, tensorSInfo, tupleSInfo } from '../ir/struct-info.js';
import { normAxes, normAxis, result, shapeArg, unifyDType, z, zInts } from './common.js';
import type { OpContext, OpDef } from './registry.js';
import { argShapeText, defineOp } from './registry.js';

type Ctx = OpContext<unknown>;

/** `reshape(x, shape)`: `shape` is a ShapeExpr (one dim may be -1) or a shape var. */
export const reshapeOp = defineOp({
  name: 'relax.reshape',
  numArgs: 2,
  pattern: 'injective',
  inferStructInfo(c, ctx) {
    const x = ctx.tensor(0);
    const s = shapeArg(ctx, 1);
    const target = c.args[1];
    if (!s.values) {
      if (target.kind === 'relax.Var' || target.kind === 'relax.DataflowVar')
        return tensorSInfo(target, x.dtype);
      return result(undefined, x.dtype, s.ndim);
    }
    const vals = [...s.values];
    const neg = vals.map((v, i) => (isConstInt(v) && v.value === -1 ? i : -1)).filter((i) => i >= 0);
    if (neg.length > 1) ctx.fail(ErrorCodes.INVALID_ARGUMENT, 'at most one dim may be -1');
    for (const v of vals)
      if (isConstInt(v) && v.value < -1) ctx.fail(ErrorCodes.INVALID_ARGUMENT, `invalid dim ${v.value}`);
    if (!x.shape) {
      if (neg.length) return result(undefined, x.dtype, vals.length);
      return result(vals, x.dtype);
    }
    const inSize = dimProduct(x.shape);
    if (neg.length === 1) {
      const others = dimProduct(vals.filter((_, i) => i !== neg[0]));
      const ci = constDim(inSize);
      const co = constDim(others);
      if (ci !== undefined && co !== undefined && (co === 0 || ci % co !== 0)) {
        ctx.fail(ErrorCodes.SHAPE_MISMATCH, `cannot reshape ${argShapeText(x)} to ${shapeToString(vals)}`);
      }
      vals[neg[0]] = dimFloorDiv(inSize, others);
    } else if (provablyNotEqual(inSize, dimProduct(vals))) {
      ctx.fail(
        ErrorCodes.SHAPE_MISMATCH,
        `cannot reshape ${argShapeText(x)} (${shapeToString([simplifyDim(inSize)])} elements) to ${shapeToString(vals)}`,
      );
    }
    return result(vals, x.dtype);
  },
});

const permuteAttrs = z.object({ axes: zInts.nullable().default(null) });
export const permuteDimsOp = defineOp<z.output<typeof permuteAttrs>>({
  name: 'relax.permute_dims',
  attrs: permuteAttrs,
  numArgs: 1,
  pattern: 'injective',
  inferStructInfo(_c, ctx) {
    const x = ctx.tensor(0);
    const { axes } = ctx.attrs;
    if (axes && x.ndim >= 0 && axes.length !== x.ndim)
      ctx.fail(ErrorCodes.INVALID_ARGUMENT, `axes [${axes.join(', ')}] do not match rank ${x.ndim}`);
    const ndim = axes ? axes.length : x.ndim;
    if (ndim < 0) return result(undefined, x.dtype, -1);
    const perm = axes
      ? normAxes(ctx as Ctx, axes, ndim)
      : Array.from({ length: ndim }, (_, i) => ndim - 1 - i);
    return result(x.shape ? perm.map((p) => x.shape![p]) : undefined, x.dtype, ndim);
  },
});

const expandAttrs = z.object({ axis: zInts });
export const expandDimsOp = defineOp<z.output<typeof expandAttrs>>({
  name: 'relax.expand_dims',
  attrs: expandAttrs,
  numArgs: 1,
  pattern: 'injective',
  inferStructInfo(_c, ctx) {
    const x = ctx.tensor(0);
    if (x.ndim < 0) return result(undefined, x.dtype, -1);
    const outNdim = x.ndim + ctx.attrs.axis.length;
    const axes = normAxes(ctx as Ctx, ctx.attrs.axis, outNdim);
    if (!x.shape) return result(undefined, x.dtype, outNdim);
    const out: PrimExpr[] = [];
    let k = 0;
    for (let i = 0; i < outNdim; i++) out.push(axes.includes(i) ? dim(1) : x.shape[k++]);
    return result(out, x.dtype);
  },
});

const squeezeAttrs = z.object({ axis: zInts.nullable().default(null) });
export const squeezeOp = defineOp<z.output<typeof squeezeAttrs>>({
  name: 'relax.squeeze',
  attrs: squeezeAttrs,
  numArgs: 1,
  pattern: 'injective',
  inferStructInfo(_c, ctx) {
    const x = ctx.tensor(0);
    const { axis } = ctx.attrs;
    if (axis === null) {
      if (!x.shape) return result(undefined, x.dtype, -1);
      // A symbolic dim might be 1 at runtime: then the result rank is unknown.
      if (x.shape.some((d) => constDim(d) === undefined)) return result(undefined, x.dtype, -1);
      return result(
        x.shape.filter((d) => constDim(d) !== 1),
        x.dtype,
      );
    }
    if (x.ndim < 0) return result(undefined, x.dtype, -1);
    const axes = normAxes(ctx as Ctx, axis, x.ndim);
    if (!x.shape) return result(undefined, x.dtype, x.ndim - axes.length);
    for (const a of axes) {
      if (provablyNotEqual(x.shape[a], 1))
        ctx.fail(ErrorCodes.SHAPE_MISMATCH, `dim ${a} of ${argShapeText(x)} is not 1`);
    }
    return result(
      x.shape.filter((_, i) => !axes.includes(i)),
      x.dtype,
    );
  },
});

const flattenAttrs = z.object({
  startDim: z.number().int().default(0),
  endDim: z.number().int().default(-1),
});
/** torch-style flatten of dims [startDim, endDim] into one (default: to 1-D). */
export const flattenOp = defineOp<z.output<typeof flattenAttrs>>({
  name: 'relax.flatten',
  attrs: flattenAttrs,
  numArgs: 1,
  pattern: 'injective',
  inferStructInfo(_c, ctx) {
    const x = ctx.tensor(0);
    if (x.ndim < 0) return result(undefined, x.dtype, -1);
    if (x.ndim === 0) return result([dim(1)], x.dtype);
    const s = normAxis(ctx as Ctx, ctx.attrs.startDim, x.ndim);
    const e = normAxis(ctx as Ctx, ctx.attrs.endDim, x.ndim);
    if (s > e) ctx.fail(ErrorCodes.INVALID_ARGUMENT, `startDim ${s} > endDim ${e}`);
    const ndim = x.ndim - (e - s);
    if (!x.shape) return result(undefined, x.dtype, ndim);
    return result(
      [...x.shape.slice(0, s), dimProduct(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)],
      x.dtype,
    );
  },
});

const axisAttrs = z.object({ axis: z.number().int().default(0) });
/** `concat((a, b, ...), axis)`. */
export const concatOp = defineOp<z.output<typeof axisAttrs>>({
  name: 'relax.concat',
  attrs: axisAttrs,
  numArgs: 1,
  pattern: 'injective',
  inferStructInfo(_c, ctx) {
    const ts = ctx.arg(0);
    if (ts.kind !== 'relax.TupleStructInfo' || ts.fields.length === 0)
      return ctx.fail(ErrorCodes.INVALID_ARGUMENT, 'needs a non-empty tuple of tensors');
    const parts = ts.fields.map((f, i) => {
      if (f.kind !== 'relax.TensorStructInfo')
        return ctx.fail(ErrorCodes.INVALID_ARGUMENT, `field ${i} is not a tensor`);
      const sh = f.shape && f.shape.kind === 'relax.ShapeExpr' ? f.shape.values : undefined;
      return { sinfo: f, shape: sh, dtype: f.dtype, ndim: f.ndim };
    });
    const dt = unifyDType(ctx as Ctx, parts);
    const ndims = parts.map((p) => p.ndim).filter((n) => n >= 0);
    if (new Set(ndims).size > 1)
      ctx.fail(
        ErrorCodes.SHAPE_MISMATCH,
        `operands have different ranks: ${parts.map(argShapeText).join(', ')}`,
      );
    const ndim = ndims.length ? ndims[0] : -1;
    if (ndim < 0) return result(undefined, dt, -1);
    if (ndim === 0) ctx.fail(ErrorCodes.SHAPE_MISMATCH, 'cannot concatenate scalars');
    const axis = normAxis(ctx as Ctx, ctx.attrs.axis, ndim);
    if (parts.some((p) => !p.shape)) return result(undefined, dt, ndim);
    const out = [...parts[0].shape!];
    for (const p of parts.slice(1)) {
      p.shape!.forEach((d, i) => {
        if (i === axis) out[i] = dimAdd(out[i], d);
        else if (provablyNotEqual(out[i], d))
          ctx.fail(ErrorCodes.SHAPE_MISMATCH, `dim ${i} differs: ${parts.map(argShapeText).join(', ')}`);
      });
    }
    return result(out, dt);
  },
});

const splitAttrs = z.object({
  indicesOrSections: z.union([z.number().int().positive(), zInts]),
  axis: z.number().int().default(0),
});
/** `split(x, n | [i1, i2, ...], axis)` → tuple: n equal parts, or cut at the indices. */
export const splitOp = defineOp<z.output<typeof splitAttrs>>({
  name: 'relax.split',
  attrs: splitAttrs,
  numArgs: 1,
  pattern: 'injective',
  inferStructInfo(_c, ctx) {
    const x = ctx.tensor(0);
    const { indicesOrSections: ios } = ctx.attrs;
    const n = typeof ios === 'number' ? ios : ios.length + 1;
    if (x.ndim < 0) return tupleSInfo(Array.from({ length: n }, () => result(undefined, x.dtype, -1)));
    const axis = normAxis(ctx as Ctx, ctx.attrs.axis, x.ndim);
    if (!x.shape) return tupleSInfo(Array.from({ length: n }, () => result(undefined, x.dtype, x.ndim)));
    const d = x.shape[axis];
    const sizes: PrimExpr[] = [];
    if (typeof ios === 'number') {
      const cd = constDim(d);
      if (cd !== undefined && cd % ios !== 0)
        ctx.fail(
          ErrorCodes.SHAPE_MISMATCH,
          `dim ${axis} of ${argShapeText(x)} is not divisible into ${ios} sections`,
        );
      for (let i = 0; i < ios; i++) sizes.push(dimFloorDiv(d, ios));
    } else {
      let prev: PrimExpr = dim(0);
      for (const i of [...ios.map((v) => dim(v)), d]) {
        sizes.push(dimSub(dimMin(i, d), dimMin(prev, d)));
        prev = i;
      }
    }
    return tupleSInfo(
      sizes.map((sz) =>
        result(
          x.shape!.map((v, i) => (i === axis ? sz : v)),
          x.dtype,
        ),
      ),
    );
  },
});

/** Clamp a slice bound (numpy semantics) against a dim; returns the normalized begin/end. */
export function sliceBound(v: number, d: PrimExpr, stride: number): PrimExpr {
  const cd = constDim(d);
  const BIG = 2 ** 31 - 1;
  if (cd !== undefined) {
    let x = v < 0 ? v + cd : v;
    if (stride > 0) x = Math.max(0, Math.min(cd, x));
    else x = Math.max(-1, Math.min(cd - 1, x));
    return dim(x);
  }
  if (v >= BIG) return d;
  if (v < 0) return dimAdd(d, v);
  return dimMin(dim(v), d);
}
/** Number of elements of a slice with clamped bounds. */
export function sliceLength(begin: PrimExpr, end: PrimExpr, stride: number): PrimExpr {
  const len = stride > 0 ? dimSub(end, begin) : dimSub(begin, end);
  const s = Math.abs(stride);
  const cl = constDim(len);
  if (cl !== undefined) return dim(Math.max(0, Math.ceil(cl / s)));
  return s === 1 ? len : dimFloorDiv(dimAdd(len, s - 1), s);
}

const sliceAttrs = z.object({
  axes: zInts,
  begin: zInts,
  end: zInts,
  strides: zInts.nullable().default(null),
});
export type StridedSliceAttrs = z.output<typeof sliceAttrs>;
/** numpy-style slice along `axes` with static bounds (negative = from the end; clamped). */
export const stridedSliceOp = defineOp<StridedSliceAttrs>({
  name: 'relax.strided_slice',
  attrs: sliceAttrs,
  numArgs: 1,
  pattern: 'injective',
  inferStructInfo(_c, ctx) {
    const x = ctx.tensor(0);
    const { axes, begin, end, strides } = ctx.attrs;
    if (
      begin.length !== axes.length ||
      end.length !== axes.length ||
      (strides && strides.length !== axes.length)
    ) {
      ctx.fail(ErrorCodes.INVALID_ARGUMENT, 'axes, begin, end and strides must have the same length');
    }
    if (strides?.some((s) => s === 0)) ctx.fail(ErrorCodes.INVALID_ARGUMENT, 'stride 0');
    if (x.ndim < 0) return result(undefined, x.dtype, -1);
    const ax = normAxes(ctx as Ctx, axes, x.ndim);
    if (!x.shape) return result(undefined, x.dtype, x.ndim);
    const out = [...x.shape];
    ax.forEach((a, i) => {
      const st = strides ? strides[i] : 1;
      if (st < 0 && constDim(x.shape![a]) === undefined)
        ctx.fail(ErrorCodes.UNSUPPORTED, 'negative strides need a static dim');
      out[a] = sliceLength(sliceBound(begin[i], x.shape![a], st), sliceBound(end[i], x.shape![a], st), st);
    });
    return result(out, x.dtype);
  },
});

/** `broadcast_to(x, shape)`. */
export const broadcastToOp = defineOp({
  name: 'relax.broadcast_to',
  numArgs: 2,
  pattern: 'broadcast',
  inferStructInfo(c, ctx) {
    const x = ctx.tensor(0);
    const s = shapeArg(ctx as Ctx, 1);
    if (!s.values) {
      const t = c.args[1];
      if (t.kind === 'relax.Var' || t.kind === 'relax.DataflowVar') return tensorSInfo(t, x.dtype);
      return result(undefined, x.dtype, s.ndim);
    }
    if (x.ndim > s.values.length)
      ctx.fail(
        ErrorCodes.SHAPE_MISMATCH,
        `cannot broadcast ${argShapeText(x)} to lower rank ${shapeToString(s.values)}`,
      );
    if (x.shape) {
      const off = s.values.length - x.shape.length;
      x.shape.forEach((d, i) => {
        if (constDim(d) !== 1 && provablyNotEqual(d, s.values![i + off])) {
          ctx.fail(
            ErrorCodes.SHAPE_MISMATCH,
            `cannot broadcast ${argShapeText(x)} to ${shapeToString(s.values!)}`,
          );
        }
      });
    }
    return result(s.values, x.dtype);
  },
});

const tileAttrs = z.object({ repeats: zInts });
export const tileOp = defineOp<z.output<typeof tileAttrs>>({
  name: 'relax.tile',
  attrs: tileAttrs,
  numArgs: 1,
  pattern: 'injective',
  inferStructInfo(_c, ctx) {
    const x = ctx.tensor(0);
    const reps = ctx.attrs.repeats;
    if (reps.some((r) => r < 0)) ctx.fail(ErrorCodes.INVALID_ARGUMENT, 'negative repeat');
    if (x.ndim < 0) return result(undefined, x.dtype, -1);
    const ndim = Math.max(x.ndim, reps.length);
    if (!x.shape) return result(undefined, x.dtype, ndim);
    const xs = [...Array(ndim - x.ndim).fill(dim(1)), ...x.shape];
    const rs = [...Array(ndim - reps.length).fill(1), ...reps];
    return result(
      xs.map((d, i) => dimMul(d, rs[i])),
      x.dtype,
    );
  },
});

const repeatAttrs = z.object({
  repeats: z.number().int().nonnegative(),
  axis: z.number().int().nullable().default(null),
});
/** numpy `repeat`: each element repeated along `axis` (flattened first when axis is null). */
export const repeatOp = defineOp<z.output<typeof repeatAttrs>>({
  name: 'relax.repeat',
  attrs: repeatAttrs,
  numArgs: 1,
  pattern: 'injective',
  inferStructInfo(_c, ctx) {
    const x = ctx.tensor(0);
    const { repeats, axis } = ctx.attrs;
    if (axis === null)
      return result(x.shape ? [dimMul(dimProduct(x.shape), repeats)] : undefined, x.dtype, 1);
    if (x.ndim < 0) return result(undefined, x.dtype, -1);
    const a = normAxis(ctx as Ctx, axis, x.ndim);
    return result(
      x.shape ? x.shape.map((d, i) => (i === a ? dimMul(d, repeats) : d)) : undefined,
      x.dtype,
      x.ndim,
    );
  },
});

const padAttrs = z.object({
  padWidth: zInts,
  padValue: z.number().default(0),
  mode: z.enum(['constant', 'edge', 'reflect']).default('constant'),
});
export type PadAttrs = z.output<typeof padAttrs>;
/** `pad(x, padWidth = [b0, a0, b1, a1, ...])`: before/after amounts per dim. */
export const padOp = defineOp<PadAttrs>({
  name: 'relax.nn.pad',
  attrs: padAttrs,
  numArgs: 1,
  pattern: 'injective',
  inferStructInfo(_c, ctx) {
    const x = ctx.tensor(0);
    const pw = ctx.attrs.padWidth;
    if (x.ndim >= 0 && pw.length !== 2 * x.ndim)
      ctx.fail(ErrorCodes.INVALID_ARGUMENT, `padWidth needs ${2 * x.ndim} values, got ${pw.length}`);
    if (pw.some((p) => p < 0)) ctx.fail(ErrorCodes.INVALID_ARGUMENT, 'negative padding');
    if (!x.shape) return result(undefined, x.dtype, x.ndim);
    return result(
      x.shape.map((d, i) => dimAdd(d, pw[2 * i] + pw[2 * i + 1])),
      x.dtype,
    );
  },
});

const triAttrs = z.object({ k: z.number().int().default(0) });
function triDef(name: 'relax.triu' | 'relax.tril'): OpDef<z.output<typeof triAttrs>> {
  return defineOp<z.output<typeof triAttrs>>({
    name,
    attrs: triAttrs,
    numArgs: 1,
    pattern: 'injective',
    inferStructInfo(_c, ctx) {
      const x = ctx.tensor(0);
      if (x.ndim >= 0 && x.ndim < 2)
        ctx.fail(ErrorCodes.SHAPE_MISMATCH, `needs rank >= 2, got ${argShapeText(x)}`);
      return result(x.shape, x.dtype, x.ndim);
    },
  });
}

export const MANIP_OPS: readonly OpDef<unknown>[] = [
  reshapeOp,
  permuteDimsOp,
  expandDimsOp,
  squeezeOp,
  flattenOp,
  concatOp,
  splitOp,
  stridedSliceOp,
  broadcastToOp,
  tileOp,
  repeatOp,
  padOp,
  triDef('relax.triu'),
  triDef('relax.tril'),
] as readonly OpDef<unknown>[];

// ---------------------------------------------------------------- constructors

type ShapeLike = Expr | readonly (PrimExpr | number)[];
const toShape = (s: ShapeLike): Expr =>
  Array.isArray(s) ? shapeExpr(s as readonly (PrimExpr | number)[]) : (s as Expr);

export function reshape(x: Expr, shape: ShapeLike): Call {
  return call('relax.reshape', [x, toShape(shape)]);
}
export function permuteDims(x: Expr, axes: readonly number[] | null = null): Call {
  return call('relax.permute_dims', [x], { attrs: { axes: axes ? [...axes] : null } });
}
export const transpose = permuteDims;
export function expandDims(x: Expr, axis: number | readonly number[]): Call {
  return call('relax.expand_dims', [x], { attrs: { axis: typeof axis === 'number' ? [axis] : [...axis] } });
}
export function squeeze(x: Expr, axis: number | readonly number[] | null = null): Call {
  return call('relax.squeeze', [x], {
    attrs: { axis: axis === null ? null : typeof axis === 'number' ? [axis] : [...axis] },
  });
}
export function flatten(x: Expr, startDim = 0, endDim = -1): Call {
  return call('relax.flatten', [x], { attrs: { startDim, endDim } });
}
export function concat(xs: readonly Expr[], axis = 0): Call {
  return call('relax.concat', [tuple(xs)], { attrs: { axis } });
}
export function split(x: Expr, indicesOrSections: number | readonly number[], axis = 0): Call {
  return call('relax.split', [x], {
    attrs: {
      indicesOrSections: typeof indicesOrSections === 'number' ? indicesOrSections : [...indicesOrSections],
      axis,
    },
  });
}
export function stridedSlice(
  x: Expr,
  axes: readonly number[],
  begin: readonly number[],
  end: readonly number[],
  strides?: readonly number[],
): Call {
  return call('relax.strided_slice', [x], {
    attrs: { axes: [...axes], begin: [...begin], end: [...end], strides: strides ? [...strides] : null },
  });
}
export function broadcastTo(x: Expr, shape: ShapeLike): Call {
  return call('relax.broadcast_to', [x, toShape(shape)]);
}
export function tile(x: Expr, repeats: readonly number[]): Call {
  return call('relax.tile', [x], { attrs: { repeats: [...repeats] } });
}
export function repeat(x: Expr, repeats: number, axis: number | null = null): Call {
  return call('relax.repeat', [x], { attrs: { repeats, axis } });
}
export function pad(
  x: Expr,
  padWidth: readonly number[],
  padValue = 0,
  mode: PadAttrs['mode'] = 'constant',
): Call {
  return call('relax.nn.pad', [x], { attrs: { padWidth: [...padWidth], padValue, mode } });
}
export function triu(x: Expr, k = 0): Call {
  return call('relax.triu', [x], { attrs: { k } });
}
export function tril(x: Expr, k = 0): Call {
  return call('relax.tril', [x], { attrs: { k } });
}
