// Neural-network operators: convolutions (1-3d, grouped, dilated; conv2d_transpose),
// pooling (max/avg, adaptive, global), normalizations (batch/layer/group/rms norm),
// softmax / log_softmax, scaled dot-product attention and image.resize2d. Layouts are
// channel-first (NCW / NCHW / NCDHW, weights OIW / OIHW / OIDHW, transpose IOHW).
import type { DataType, PrimExpr } from '@kiln/ir-core';
import { ErrorCodes, dtype as parseDType } from '@kiln/ir-core';
import {
  constDim,
  dim,
  dimAdd,
  dimFloorDiv,
  dimMax,
  dimMin,
  dimMul,
  dimSub,
  provablyNotEqual,
} from '../arith.js';
import { call, shapeExpr } from '../ir/expr.js';
import type { Call, Expr } from '../ir/nodes.js';
import { shapeToString } from '../ir/struct-info.js';
import { normAxes, normAxis, result, shapeArg, unifyDType, z, zDType, zInts } from './common.js';
import type { OpContext, OpDef, TensorArg } from './registry.js';
import { argShapeText, defineOp } from './registry.js';

type Ctx = OpContext<unknown>;

/** Expand a per-spatial-dim attr given as 1 value or `n` values. */
export function expandSpatial(ctx: Ctx, name: string, v: readonly number[], n: number): number[] {
  if (v.length === 1) return Array(n).fill(v[0]);
  if (v.length !== n)
    ctx.fail(ErrorCodes.INVALID_ARGUMENT, `${name} needs 1 or ${n} values, got ${v.length}`);
  return [...v];
}
/** Padding as [before..., after...] from 1, n or 2n values. */
export function expandPadding(
  ctx: Ctx,
  v: readonly number[],
  n: number,
): { before: number[]; after: number[] } {
  if (v.length === 1) return { before: Array(n).fill(v[0]), after: Array(n).fill(v[0]) };
  if (v.length === n) return { before: [...v], after: [...v] };
  if (v.length === 2 * n) return { before: v.slice(0, n), after: v.slice(n) };
  return ctx.fail(ErrorCodes.INVALID_ARGUMENT, `padding needs 1, ${n} or ${2 * n} values, got ${v.length}`);
}

/** floor((d + pads - dilation*(k-1) - 1) / stride) + 1, or ceil with `ceil`. */
export function windowOut(
  d: PrimExpr,
  k: PrimExpr,
  stride: number,
  padTotal: number,
  dilation: number,
  ceil = false,
): PrimExpr {
  const eff = dimAdd(dimMul(k, dilation), 1 - dilation); // dilation*(k-1) + 1
  const span = dimSub(dimAdd(d, padTotal), eff);
  const num = ceil ? dimAdd(span, stride - 1) : span;
  return dimAdd(dimFloorDiv(num, stride), 1);
}

const convAttrs = z.object({
  strides: zInts.default([1]),
  padding: zInts.default([0]),
  dilation: zInts.default([1]),
  groups: z.number().int().positive().default(1),
  outDtype: zDType.nullable().default(null),
});
export type ConvAttrs = z.output<typeof convAttrs>;

export interface ConvGeometry {
  readonly spatial: number;
  readonly strides: number[];
  readonly dilation: number[];
  readonly padBefore: number[];
  readonly padAfter: number[];
}
export function convGeometry(
  ctx: Ctx,
  attrs: { strides: number[]; padding: number[]; dilation: number[] },
  spatial: number,
): ConvGeometry {
  const strides = expandSpatial(ctx, 'strides', attrs.strides, spatial);
  const dilation = expandSpatial(ctx, 'dilation', attrs.dilation, spatial);
  const { before, after } = expandPadding(ctx, attrs.padding, spatial);
  if (strides.some((s) => s <= 0) || dilation.some((s) => s <= 0))
    ctx.fail(ErrorCodes.INVALID_ARGUMENT, 'strides and dilation must be positive');
  if ([...before, ...after].some((p) => p < 0)) ctx.fail(ErrorCodes.INVALID_ARGUMENT, 'negative padding');
  return { spatial, strides, dilation, padBefore: before, padAfter: after };
}

function outDT(ctx: OpContext<{ outDtype: string | null }>, ts: TensorArg[]): DataType | undefined {
  const dt = unifyDType(ctx as Ctx, ts);
  return ctx.attrs.outDtype ? parseDType(ctx.attrs.outDtype) : dt;
}

function convDef(name: string, spatial: number): OpDef<ConvAttrs> {
  return defineOp<ConvAttrs>({
    name,
    attrs: convAttrs,
    numArgs: 2,
    pattern: 'out_elemwise_fusable',
    inferStructInfo(_c, ctx) {
      const x = ctx.tensor(0);
      const w = ctx.tensor(1);
      const dt = outDT(ctx, [x, w]);
      const nd = spatial + 2;
      if (x.ndim >= 0 && x.ndim !== nd)
        ctx.fail(ErrorCodes.SHAPE_MISMATCH, `data must have rank ${nd}, got ${argShapeText(x)}`);
      if (w.ndim >= 0 && w.ndim !== nd)
        ctx.fail(ErrorCodes.SHAPE_MISMATCH, `weight must have rank ${nd}, got ${argShapeText(w)}`);
      const g = convGeometry(ctx as Ctx, ctx.attrs, spatial);
      const groups = ctx.attrs.groups;
      if (!x.shape || !w.shape) return result(undefined, dt, nd);
      if (provablyNotEqual(dimMul(w.shape[1], groups), x.shape[1])) {
        ctx.fail(
          ErrorCodes.SHAPE_MISMATCH,
          `input channels ${shapeToString([x.shape[1]])} != weight ${argShapeText(w)} in-channels × groups ${groups} (data ${argShapeText(x)})`,
        );
      }
      const oc = constDim(w.shape[0]);
      if (oc !== undefined && oc % groups !== 0)
        ctx.fail(ErrorCodes.SHAPE_MISMATCH, `output channels ${oc} not divisible by groups ${groups}`);
      const out: PrimExpr[] = [x.shape[0], w.shape[0]];
      for (let i = 0; i < spatial; i++) {
        const o = windowOut(
          x.shape[2 + i],
          w.shape[2 + i],
          g.strides[i],
          g.padBefore[i] + g.padAfter[i],
          g.dilation[i],
        );
        const co = constDim(o);
        if (co !== undefined && co <= 0)
          ctx.fail(
            ErrorCodes.SHAPE_MISMATCH,
            `kernel ${argShapeText(w)} larger than padded input ${argShapeText(x)}`,
          );
        out.push(o);
      }
      return result(out, dt);
    },
  });
}

const convTAttrs = convAttrs.extend({ outputPadding: zInts.default([0]) });
export type ConvTransposeAttrs = z.output<typeof convTAttrs>;
function convTransposeDef(name: string, spatial: number): OpDef<ConvTransposeAttrs> {
  return defineOp<ConvTransposeAttrs>({
    name,
    attrs: convTAttrs,
    numArgs: 2,
    pattern: 'out_elemwise_fusable',
    inferStructInfo(_c, ctx) {
      const x = ctx.tensor(0);
      const w = ctx.tensor(1);
      const dt = outDT(ctx, [x, w]);
      const nd = spatial + 2;
      if (x.ndim >= 0 && x.ndim !== nd)
        ctx.fail(ErrorCodes.SHAPE_MISMATCH, `data must have rank ${nd}, got ${argShapeText(x)}`);
      if (w.ndim >= 0 && w.ndim !== nd)
        ctx.fail(ErrorCodes.SHAPE_MISMATCH, `weight must have rank ${nd}, got ${argShapeText(w)}`);
      const g = convGeometry(ctx as Ctx, ctx.attrs, spatial);
      const op = expandSpatial(ctx as Ctx, 'outputPadding', ctx.attrs.outputPadding, spatial);
      op.forEach((p, i) => {
        if (p < 0 || (p >= g.strides[i] && p >= g.dilation[i]))
          ctx.fail(ErrorCodes.INVALID_ARGUMENT, `outputPadding ${p} must be smaller than stride or dilation`);
      });
      if (!x.shape || !w.shape) return result(undefined, dt, nd);
      if (provablyNotEqual(w.shape[0], x.shape[1])) {
        ctx.fail(
          ErrorCodes.SHAPE_MISMATCH,
          `input channels ${shapeToString([x.shape[1]])} != weight ${argShapeText(w)} dim 0`,
        );
      }
      const out: PrimExpr[] = [x.shape[0], dimMul(w.shape[1], ctx.attrs.groups)];
      for (let i = 0; i < spatial; i++) {
        // (d - 1) * s - pads + dilation * (k - 1) + outputPadding + 1
        const base = dimMul(dimSub(x.shape[2 + i], 1), g.strides[i]);
        const k = dimMul(dimSub(w.shape[2 + i], 1), g.dilation[i]);
        out.push(dimAdd(dimAdd(base, k), 1 + op[i] - g.padBefore[i] - g.padAfter[i]));
      }
      return result(out, dt);
    },
  });
}

const poolAttrs = z.object({
  poolSize: zInts,
  strides: zInts.default([1]),
  padding: zInts.default([0]),
  dilation: zInts.default([1]),
  ceilMode: z.boolean().default(false),
  countIncludePad: z.boolean().default(false),
});
export type PoolAttrs = z.output<typeof poolAttrs>;
function poolDef(name: string, spatial: number): OpDef<PoolAttrs> {
  return defineOp<PoolAttrs>({
    name,
    attrs: poolAttrs,
    numArgs: 1,
    pattern: 'out_elemwise_fusable',
    inferStructInfo(_c, ctx) {
      const x = ctx.tensor(0);
      const nd = spatial + 2;
      if (x.ndim >= 0 && x.ndim !== nd)
        ctx.fail(ErrorCodes.SHAPE_MISMATCH, `data must have rank ${nd}, got ${argShapeText(x)}`);
      const g = convGeometry(ctx as Ctx, ctx.attrs, spatial);
      const k = expandSpatial(ctx as Ctx, 'poolSize', ctx.attrs.poolSize, spatial);
      if (!x.shape) return result(undefined, x.dtype, nd);
      const out: PrimExpr[] = [x.shape[0], x.shape[1]];
      for (let i = 0; i < spatial; i++) out.push(poolOut(x.shape[2 + i], k[i], g, i, ctx.attrs.ceilMode));
      return result(out, x.dtype);
    },
  });
}
/** Pool output size; with ceil mode a last window starting inside the right padding is dropped (PyTorch/ONNX). */
export function poolOut(d: PrimExpr, k: number, g: ConvGeometry, i: number, ceil: boolean): PrimExpr {
  const o = windowOut(d, dim(k), g.strides[i], g.padBefore[i] + g.padAfter[i], g.dilation[i], ceil);
  if (!ceil) return o;
  const cd = constDim(d);
  const co = constDim(o);
  if (cd !== undefined && co !== undefined)
    return (co - 1) * g.strides[i] >= cd + g.padBefore[i] ? dim(co - 1) : o;
  // Symbolic: the same correction as integer arithmetic (the VM computes shapes with
  // + - * // % min max only): [start >= d + pad] = min(1, max(0, start - d - pad + 1)).
  const start = dimMul(dimSub(o, 1), g.strides[i]);
  const over = dimAdd(dimSub(start, dimAdd(d, g.padBefore[i])), 1);
  return dimSub(o, dimMin(1, dimMax(0, over)));
}

const adaptiveAttrs = z.object({ outputSize: zInts.nullable().default(null) });
export type AdaptivePoolAttrs = z.output<typeof adaptiveAttrs>;
function adaptiveDef(name: string, spatial: number): OpDef<AdaptivePoolAttrs> {
  return defineOp<AdaptivePoolAttrs>({
    name,
    attrs: adaptiveAttrs,
    numArgs: 1,
    pattern: 'out_elemwise_fusable',
    inferStructInfo(_c, ctx) {
      const x = ctx.tensor(0);
      const nd = spatial + 2;
      if (x.ndim >= 0 && x.ndim !== nd)
        ctx.fail(ErrorCodes.SHAPE_MISMATCH, `data must have rank ${nd}, got ${argShapeText(x)}`);
      const os = ctx.attrs.outputSize
        ? expandSpatial(ctx as Ctx, 'outputSize', ctx.attrs.outputSize, spatial)
        : undefined;
      if (os?.some((v) => v <= 0)) ctx.fail(ErrorCodes.INVALID_ARGUMENT, 'outputSize must be positive');
      if (!x.shape) return result(undefined, x.dtype, nd);
      return result(
        [x.shape[0], x.shape[1], ...x.shape.slice(2).map((d, i) => (os ? dim(os[i]) : d))],
        x.dtype,
      );
    },
  });
}

// ---------------------------------------------------------------- normalization

function checkParam(ctx: Ctx, t: TensorArg, want: readonly PrimExpr[] | undefined, what: string): void {
  if (!t.shape || !want) return;
  if (t.shape.length !== want.length || t.shape.some((d, i) => provablyNotEqual(d, want[i]))) {
    ctx.fail(
      ErrorCodes.SHAPE_MISMATCH,
      `${what} has shape ${argShapeText(t)}, expected ${shapeToString(want)}`,
    );
  }
}

const bnAttrs = z.object({
  axis: z.number().int().default(1),
  epsilon: z.number().default(1e-5),
  center: z.boolean().default(true),
  scale: z.boolean().default(true),
});
export type BatchNormAttrs = z.output<typeof bnAttrs>;
/** Inference-mode batch norm: `batch_norm(x, gamma, beta, movingMean, movingVar)` → normalized x. */
export const batchNormOp = defineOp<BatchNormAttrs>({
  name: 'relax.nn.batch_norm',
  attrs: bnAttrs,
  numArgs: 5,
  pattern: 'out_elemwise_fusable',
  inferStructInfo(_c, ctx) {
    const ts = [0, 1, 2, 3, 4].map((i) => ctx.tensor(i));
    const x = ts[0];
    const dt = unifyDType(ctx as Ctx, ts);
    if (x.ndim >= 0) {
      const a = normAxis(ctx as Ctx, ctx.attrs.axis, x.ndim);
      const c = x.shape ? [x.shape[a]] : undefined;
      ['gamma', 'beta', 'moving_mean', 'moving_var'].forEach((n, i) => {
        checkParam(ctx as Ctx, ts[i + 1], c, n);
      });
    }
    return result(x.shape, dt, x.ndim);
  },
});

const lnAttrs = z.object({
  axes: zInts.default([-1]),
  epsilon: z.number().default(1e-5),
  center: z.boolean().default(true),
  scale: z.boolean().default(true),
});
export type LayerNormAttrs = z.output<typeof lnAttrs>;
/** `layer_norm(x, gamma, beta)` over `axes`; gamma/beta have the normalized dims' shape. */
export const layerNormOp = defineOp<LayerNormAttrs>({
  name: 'relax.nn.layer_norm',
  attrs: lnAttrs,
  numArgs: 3,
  pattern: 'out_elemwise_fusable',
  inferStructInfo(_c, ctx) {
    const ts = [0, 1, 2].map((i) => ctx.tensor(i));
    const x = ts[0];
    const dt = unifyDType(ctx as Ctx, ts);
    if (x.ndim >= 0) {
      const axes = normAxes(ctx as Ctx, ctx.attrs.axes, x.ndim);
      const want = x.shape ? axes.map((a) => x.shape![a]) : undefined;
      checkParam(ctx as Ctx, ts[1], want, 'gamma');
      checkParam(ctx as Ctx, ts[2], want, 'beta');
    }
    return result(x.shape, dt, x.ndim);
  },
});

const gnAttrs = z.object({
  numGroups: z.number().int().positive(),
  channelAxis: z.number().int().default(1),
  epsilon: z.number().default(1e-5),
  center: z.boolean().default(true),
  scale: z.boolean().default(true),
});
export type GroupNormAttrs = z.output<typeof gnAttrs>;
/** `group_norm(x, gamma, beta)`: channels split into groups, normalized over (group, spatial dims). */
export const groupNormOp = defineOp<GroupNormAttrs>({
  name: 'relax.nn.group_norm',
  attrs: gnAttrs,
  numArgs: 3,
  pattern: 'out_elemwise_fusable',
  inferStructInfo(_c, ctx) {
    const ts = [0, 1, 2].map((i) => ctx.tensor(i));
    const x = ts[0];
    const dt = unifyDType(ctx as Ctx, ts);
    if (x.ndim >= 0) {
      const a = normAxis(ctx as Ctx, ctx.attrs.channelAxis, x.ndim);
      if (x.shape) {
        const c = constDim(x.shape[a]);
        if (c !== undefined && c % ctx.attrs.numGroups !== 0)
          ctx.fail(
            ErrorCodes.SHAPE_MISMATCH,
            `channels ${c} not divisible by numGroups ${ctx.attrs.numGroups}`,
          );
        checkParam(ctx as Ctx, ts[1], [x.shape[a]], 'gamma');
        checkParam(ctx as Ctx, ts[2], [x.shape[a]], 'beta');
      }
    }
    return result(x.shape, dt, x.ndim);
  },
});

const rmsAttrs = z.object({ axes: zInts.default([-1]), epsilon: z.number().default(1e-5) });
export type RmsNormAttrs = z.output<typeof rmsAttrs>;
/** `rms_norm(x, weight)`: x / sqrt(mean(x², axes) + eps) * weight. */
export const rmsNormOp = defineOp<RmsNormAttrs>({
  name: 'relax.nn.rms_norm',
  attrs: rmsAttrs,
  numArgs: 2,
  pattern: 'out_elemwise_fusable',
  inferStructInfo(_c, ctx) {
    const ts = [0, 1].map((i) => ctx.tensor(i));
    const x = ts[0];
    const dt = unifyDType(ctx as Ctx, ts);
    if (x.ndim >= 0) {
      const axes = normAxes(ctx as Ctx, ctx.attrs.axes, x.ndim);
      checkParam(ctx as Ctx, ts[1], x.shape ? axes.map((a) => x.shape![a]) : undefined, 'weight');
    }
    return result(x.shape, dt, x.ndim);
  },
});

const softmaxAttrs = z.object({ axis: z.number().int().default(-1) });
export type SoftmaxAttrs = z.output<typeof softmaxAttrs>;
function softmaxDef(name: string): OpDef<SoftmaxAttrs> {
  return defineOp<SoftmaxAttrs>({
    name,
    attrs: softmaxAttrs,
    numArgs: 1,
    pattern: 'opaque',
    inferStructInfo(_c, ctx) {
      const x = ctx.tensor(0);
      if (x.dtype && x.dtype.code !== 'float' && x.dtype.code !== 'bfloat')
        ctx.fail(ErrorCodes.DTYPE_MISMATCH, `needs a float tensor, got ${x.dtype.str}`);
      if (x.ndim >= 0) normAxis(ctx as Ctx, ctx.attrs.axis, x.ndim);
      return result(x.shape, x.dtype, x.ndim);
    },
  });
}

const attnAttrs = z.object({
  scale: z.number().nullable().default(null),
  causalMask: z.enum(['TopLeft', 'BottomRight']).nullable().default(null),
});
export type AttentionAttrs = z.output<typeof attnAttrs>;
/**
 * Scaled dot-product attention, TVM layout: q [B, S, H, D], k [B, T, H, D], v [B, T, H, Dv],
 * optional additive bias broadcastable to [B, H, S, T] → [B, S, H, Dv]. `scale` defaults to 1/sqrt(D).
 */
export const attentionOp = defineOp<AttentionAttrs>({
  name: 'relax.nn.attention',
  attrs: attnAttrs,
  numArgs: [3, 4],
  pattern: 'opaque',
  inferStructInfo(c, ctx) {
    const ts = c.args.map((_, i) => ctx.tensor(i));
    const [q, k, v] = ts;
    const dt = unifyDType(ctx as Ctx, ts);
    for (const [t, n] of [
      [q, 'query'],
      [k, 'key'],
      [v, 'value'],
    ] as const) {
      if (t.ndim >= 0 && t.ndim !== 4)
        ctx.fail(
          ErrorCodes.SHAPE_MISMATCH,
          `${n} must be 4-D [batch, seq, heads, dim], got ${argShapeText(t)}`,
        );
    }
    if (!q.shape || !k.shape || !v.shape) return result(undefined, dt, 4);
    const same = (a: PrimExpr, b: PrimExpr, what: string) => {
      if (provablyNotEqual(a, b))
        ctx.fail(
          ErrorCodes.SHAPE_MISMATCH,
          `${what} differ: query ${argShapeText(q)}, key ${argShapeText(k)}, value ${argShapeText(v)}`,
        );
    };
    same(q.shape[0], k.shape[0], 'batch sizes');
    same(k.shape[0], v.shape[0], 'batch sizes');
    same(q.shape[2], k.shape[2], 'head counts');
    same(k.shape[2], v.shape[2], 'head counts');
    same(q.shape[3], k.shape[3], 'query/key head dims');
    same(k.shape[1], v.shape[1], 'key/value sequence lengths');
    return result([q.shape[0], q.shape[1], q.shape[2], v.shape[3]], dt);
  },
});

/** The coordinate transformation modes `image.resize2d` implements (ONNX Resize's). */
export const RESIZE_COORDINATE_MODES = [
  'half_pixel',
  'align_corners',
  'asymmetric',
  'pytorch_half_pixel',
  'half_pixel_symmetric',
  'tf_crop_and_resize',
] as const;

const resizeAttrs = z.object({
  method: z.enum(['nearest_neighbor', 'linear', 'cubic']).default('linear'),
  coordinateTransformationMode: z.enum(RESIZE_COORDINATE_MODES).default('half_pixel'),
  roundingMethod: z
    .enum(['round', 'floor', 'ceil', 'round_prefer_floor', 'round_prefer_ceil'])
    .default('round'),
  cubicAlpha: z.number().default(-0.75),
  cubicExclude: z.boolean().default(false),
  extrapolationValue: z.number().default(0),
  outDtype: zDType.nullable().default(null),
  /** Scale factors (h, w) of the coordinate mapping; null: output size / input size. */
  scales: z.array(z.number().positive()).length(2).nullable().default(null),
  /** tf_crop_and_resize region, normalized: (y1, x1, y2, x2). */
  roi: z.array(z.number()).length(4).nullable().default(null),
  /** Widen the linear/cubic kernel by 1/scale when downsampling (as ONNX antialias). */
  antialias: z.boolean().default(false),
});
export type Resize2dAttrs = z.output<typeof resizeAttrs>;
/** `image.resize2d(x [N, C, H, W], size = (oh, ow))`. */
export const resize2dOp = defineOp<Resize2dAttrs>({
  name: 'relax.image.resize2d',
  attrs: resizeAttrs,
  numArgs: 2,
  pattern: 'injective',
  inferStructInfo(_c, ctx) {
    const x = ctx.tensor(0);
    const s = shapeArg(ctx as Ctx, 1);
    const dt = ctx.attrs.outDtype ? parseDType(ctx.attrs.outDtype) : x.dtype;
    if (x.ndim >= 0 && x.ndim !== 4)
      ctx.fail(ErrorCodes.SHAPE_MISMATCH, `data must be 4-D NCHW, got ${argShapeText(x)}`);
    if (s.ndim >= 0 && s.ndim !== 2)
      ctx.fail(ErrorCodes.INVALID_ARGUMENT, `size must have 2 values, got ${s.ndim}`);
    if (ctx.attrs.coordinateTransformationMode === 'tf_crop_and_resize' && !ctx.attrs.roi)
      ctx.fail(ErrorCodes.INVALID_ARGUMENT, 'tf_crop_and_resize needs a roi');
    if (!x.shape || !s.values) return result(undefined, dt, 4);
    return result([x.shape[0], x.shape[1], s.values[0], s.values[1]], dt);
  },
});

const dropoutAttrs = z.object({ rate: z.number().min(0).max(1).default(0.5) });
/** Dropout is the identity at inference. */
export const dropoutOp = defineOp<z.output<typeof dropoutAttrs>>({
  name: 'relax.nn.dropout',
  attrs: dropoutAttrs,
  numArgs: 1,
  pattern: 'elemwise',
  inferStructInfo(_c, ctx) {
    const x = ctx.tensor(0);
    return result(x.shape, x.dtype, x.ndim);
  },
});

const preluAttrs = z.object({ axis: z.number().int().default(1) });
export type PreluAttrs = z.output<typeof preluAttrs>;
/** `prelu(x, alpha)`: x where x > 0, else alpha[c] * x, with c the index along `axis`. */
export const preluOp = defineOp<PreluAttrs>({
  name: 'relax.nn.prelu',
  attrs: preluAttrs,
  numArgs: 2,
  pattern: 'broadcast',
  inferStructInfo(_c, ctx) {
    const x = ctx.tensor(0);
    const alpha = ctx.tensor(1);
    const dt = unifyDType(ctx as Ctx, [x, alpha]);
    if (alpha.ndim >= 0 && alpha.ndim !== 1)
      ctx.fail(ErrorCodes.SHAPE_MISMATCH, `alpha must be 1-D, got ${argShapeText(alpha)}`);
    if (x.ndim >= 0) {
      const a = normAxis(ctx as Ctx, ctx.attrs.axis, x.ndim);
      if (x.shape) checkParam(ctx as Ctx, alpha, [x.shape[a]], 'alpha');
    }
    return result(x.shape, dt, x.ndim);
  },
});

export const NN_OPS: readonly OpDef<unknown>[] = [
  convDef('relax.nn.conv1d', 1),
  convDef('relax.nn.conv2d', 2),
  convDef('relax.nn.conv3d', 3),
  convTransposeDef('relax.nn.conv1d_transpose', 1),
  convTransposeDef('relax.nn.conv2d_transpose', 2),
  convTransposeDef('relax.nn.conv3d_transpose', 3),
  poolDef('relax.nn.max_pool1d', 1),
  poolDef('relax.nn.max_pool2d', 2),
  poolDef('relax.nn.max_pool3d', 3),
  poolDef('relax.nn.avg_pool1d', 1),
  poolDef('relax.nn.avg_pool2d', 2),
  poolDef('relax.nn.avg_pool3d', 3),
  adaptiveDef('relax.nn.adaptive_avg_pool1d', 1),
  adaptiveDef('relax.nn.adaptive_avg_pool2d', 2),
  adaptiveDef('relax.nn.adaptive_avg_pool3d', 3),
  adaptiveDef('relax.nn.adaptive_max_pool2d', 2),
  batchNormOp,
  layerNormOp,
  groupNormOp,
  rmsNormOp,
  softmaxDef('relax.nn.softmax'),
  softmaxDef('relax.nn.log_softmax'),
  attentionOp,
  resize2dOp,
  dropoutOp,
  preluOp,
] as readonly OpDef<unknown>[];

// ---------------------------------------------------------------- constructors

export interface ConvOptions {
  strides?: readonly number[];
  padding?: readonly number[];
  dilation?: readonly number[];
  groups?: number;
  outDtype?: string | null;
}
function convAttrsOf(o: ConvOptions) {
  return {
    strides: [...(o.strides ?? [1])],
    padding: [...(o.padding ?? [0])],
    dilation: [...(o.dilation ?? [1])],
    groups: o.groups ?? 1,
    outDtype: o.outDtype ?? null,
  };
}
export const conv1d = (x: Expr, w: Expr, o: ConvOptions = {}): Call =>
  call('relax.nn.conv1d', [x, w], { attrs: convAttrsOf(o) });
export const conv2d = (x: Expr, w: Expr, o: ConvOptions = {}): Call =>
  call('relax.nn.conv2d', [x, w], { attrs: convAttrsOf(o) });
export const conv3d = (x: Expr, w: Expr, o: ConvOptions = {}): Call =>
  call('relax.nn.conv3d', [x, w], { attrs: convAttrsOf(o) });
export const conv1dTranspose = (
  x: Expr,
  w: Expr,
  o: ConvOptions & { outputPadding?: readonly number[] } = {},
): Call =>
  call('relax.nn.conv1d_transpose', [x, w], {
    attrs: { ...convAttrsOf(o), outputPadding: [...(o.outputPadding ?? [0])] },
  });
export const conv2dTranspose = (
  x: Expr,
  w: Expr,
  o: ConvOptions & { outputPadding?: readonly number[] } = {},
): Call =>
  call('relax.nn.conv2d_transpose', [x, w], {
    attrs: { ...convAttrsOf(o), outputPadding: [...(o.outputPadding ?? [0])] },
  });
export const conv3dTranspose = (
  x: Expr,
  w: Expr,
  o: ConvOptions & { outputPadding?: readonly number[] } = {},
): Call =>
  call('relax.nn.conv3d_transpose', [x, w], {
    attrs: { ...convAttrsOf(o), outputPadding: [...(o.outputPadding ?? [0])] },
  });

export interface PoolOptions {
  strides?: readonly number[];
  padding?: readonly number[];
  dilation?: readonly number[];
  ceilMode?: boolean;
  countIncludePad?: boolean;
}
function pool(name: string) {
  return (x: Expr, poolSize: readonly number[], o: PoolOptions = {}): Call =>
    call(name, [x], {
      attrs: {
        poolSize: [...poolSize],
        strides: [...(o.strides ?? [1])],
        padding: [...(o.padding ?? [0])],
        dilation: [...(o.dilation ?? [1])],
        ceilMode: o.ceilMode ?? false,
        countIncludePad: o.countIncludePad ?? false,
      },
    });
}
export const maxPool1d = pool('relax.nn.max_pool1d');
export const maxPool2d = pool('relax.nn.max_pool2d');
export const maxPool3d = pool('relax.nn.max_pool3d');
export const avgPool1d = pool('relax.nn.avg_pool1d');
export const avgPool2d = pool('relax.nn.avg_pool2d');
export const avgPool3d = pool('relax.nn.avg_pool3d');
const adaptive =
  (name: string) =>
  (x: Expr, outputSize: readonly number[] | null = null): Call =>
    call(name, [x], { attrs: { outputSize: outputSize ? [...outputSize] : null } });
export const adaptiveAvgPool1d = adaptive('relax.nn.adaptive_avg_pool1d');
export const adaptiveAvgPool2d = adaptive('relax.nn.adaptive_avg_pool2d');
export const adaptiveAvgPool3d = adaptive('relax.nn.adaptive_avg_pool3d');
export const adaptiveMaxPool2d = adaptive('relax.nn.adaptive_max_pool2d');
/** Global pooling = adaptive pooling to 1×1. */
export const globalAvgPool2d = (x: Expr): Call => adaptiveAvgPool2d(x, [1, 1]);
export const globalMaxPool2d = (x: Expr): Call => adaptiveMaxPool2d(x, [1, 1]);

export function batchNorm(
  x: Expr,
  gamma: Expr,
  beta: Expr,
  mean: Expr,
  variance: Expr,
  o: Partial<BatchNormAttrs> = {},
): Call {
  return call('relax.nn.batch_norm', [x, gamma, beta, mean, variance], {
    attrs: {
      axis: o.axis ?? 1,
      epsilon: o.epsilon ?? 1e-5,
      center: o.center ?? true,
      scale: o.scale ?? true,
    },
  });
}
export function layerNorm(x: Expr, gamma: Expr, beta: Expr, o: Partial<LayerNormAttrs> = {}): Call {
  return call('relax.nn.layer_norm', [x, gamma, beta], {
    attrs: {
      axes: [...(o.axes ?? [-1])],
      epsilon: o.epsilon ?? 1e-5,
      center: o.center ?? true,
      scale: o.scale ?? true,
    },
  });
}
export function groupNorm(
  x: Expr,
  gamma: Expr,
  beta: Expr,
  numGroups: number,
  o: Partial<Omit<GroupNormAttrs, 'numGroups'>> = {},
): Call {
  return call('relax.nn.group_norm', [x, gamma, beta], {
    attrs: {
      numGroups,
      channelAxis: o.channelAxis ?? 1,
      epsilon: o.epsilon ?? 1e-5,
      center: o.center ?? true,
      scale: o.scale ?? true,
    },
  });
}
export function rmsNorm(x: Expr, weight: Expr, o: Partial<RmsNormAttrs> = {}): Call {
  return call('relax.nn.rms_norm', [x, weight], {
    attrs: { axes: [...(o.axes ?? [-1])], epsilon: o.epsilon ?? 1e-5 },
  });
}
export const softmax = (x: Expr, axis = -1): Call => call('relax.nn.softmax', [x], { attrs: { axis } });
export const logSoftmax = (x: Expr, axis = -1): Call =>
  call('relax.nn.log_softmax', [x], { attrs: { axis } });
export function attention(
  q: Expr,
  k: Expr,
  v: Expr,
  o: { bias?: Expr; scale?: number | null; causalMask?: 'TopLeft' | 'BottomRight' | null } = {},
): Call {
  return call('relax.nn.attention', o.bias ? [q, k, v, o.bias] : [q, k, v], {
    attrs: { scale: o.scale ?? null, causalMask: o.causalMask ?? null },
  });
}
export function resize2d(
  x: Expr,
  size: Expr | readonly (PrimExpr | number)[],
  o: Partial<Resize2dAttrs> = {},
): Call {
  const s = Array.isArray(size) ? shapeExpr(size as readonly (PrimExpr | number)[]) : (size as Expr);
  return call('relax.image.resize2d', [x, s], {
    attrs: {
      method: o.method ?? 'linear',
      coordinateTransformationMode: o.coordinateTransformationMode ?? 'half_pixel',
      roundingMethod: o.roundingMethod ?? 'round',
      cubicAlpha: o.cubicAlpha ?? -0.75,
      cubicExclude: o.cubicExclude ?? false,
      extrapolationValue: o.extrapolationValue ?? 0,
      outDtype: o.outDtype ?? null,
      scales: o.scales ?? null,
      roi: o.roi ?? null,
      antialias: o.antialias ?? false,
    },
  });
}
export const dropout = (x: Expr, rate = 0.5): Call => call('relax.nn.dropout', [x], { attrs: { rate } });
export function prelu(x: Expr, alpha: Expr, axis = 1): Call {
  return call('relax.nn.prelu', [x, alpha], { attrs: { axis } });
}
