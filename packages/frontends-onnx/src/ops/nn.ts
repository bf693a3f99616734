// Neural-network converters: Conv/ConvTranspose (auto_pad resolved to explicit pads),
// pooling (MaxPool/AveragePool/Global*/LpPool-free), normalizations (Batch, Instance via
// group_norm, Layer, Group, RMS, LRN, MeanVariance, Lp), Softmax family (with the
// pre-13 "flatten to 2-D" semantics), Gemm/MatMul/Einsum, Resize/Upsample.
import type { PrimExpr } from '@kiln/ir-core';
import type { Constant, Expr } from '@kiln/relax';
import { constant, constDim, dimProduct, op } from '@kiln/relax';
import type { NodeContext, OnnxValue } from '../context.js';
import {
  dims,
  dtypeOf,
  exprOf,
  exprValue,
  hostValue,
  isFloatName,
  rank,
  shapeOf,
  staticDims,
} from '../context.js';
import { OnnxErrorCodes } from '../errors.js';
import { hostTensor } from '../host.js';
import type { ConverterDef } from '../registry.js';
import { many } from '../registry.js';
import { em, normAxis, scalar } from './common.js';

const V = (...v: number[]) => v;

/** Explicit [begin..., end...] pads from ONNX pads / auto_pad. */
export function resolvePads(
  ctx: NodeContext,
  inSpatial: readonly PrimExpr[],
  kernel: readonly number[],
  strides: readonly number[],
  dil: readonly number[],
): number[] {
  const n = kernel.length;
  const auto = ctx.str('auto_pad', 'NOTSET');
  if (auto === 'NOTSET' || auto === '') {
    const p = ctx.ints('pads') ?? new Array<number>(2 * n).fill(0);
    if (p.length !== 2 * n)
      ctx.fail(OnnxErrorCodes.ONNX_INVALID, `pads needs ${2 * n} values, got ${p.length}`);
    return p;
  }
  if (auto === 'VALID') return new Array<number>(2 * n).fill(0);
  const before: number[] = [];
  const after: number[] = [];
  for (let i = 0; i < n; i++) {
    const d = constDim(inSpatial[i]);
    if (d === undefined) ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, `auto_pad ${auto} needs static spatial dims`);
    const out = Math.ceil(d! / strides[i]);
    const total = Math.max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dil[i] + 1 - d!);
    const small = Math.floor(total / 2);
    if (auto === 'SAME_LOWER') {
      before.push(total - small);
      after.push(small);
    } else {
      before.push(small);
      after.push(total - small);
    }
  }
  return [...before, ...after];
}

/** Reshape a per-channel vector to broadcast along axis 1 of a rank-`r` tensor. */
function channelVector(ctx: NodeContext, v: OnnxValue, r: number): Expr {
  const shape = [-1, ...new Array<number>(Math.max(0, r - 2)).fill(1)];
  if (v.kind === 'host') {
    return exprOf(ctx, hostValue(hostTensor(v.t.dtype, [v.t.data.length, ...shape.slice(1)], v.t.data)));
  }
  return em(ctx, op.reshape(exprOf(ctx, v), shape));
}

function convConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const w = ctx.req(1);
  const xd = dims(ctx, x);
  const wd = staticDims(ctx, w);
  const n = xd.length - 2;
  if (n < 1 || n > 3) ctx.unsupported(`${n}-D convolution`);
  const kernel = ctx.ints('kernel_shape') ?? wd.slice(2);
  const strides = ctx.ints('strides') ?? new Array<number>(n).fill(1);
  const dil = ctx.ints('dilations') ?? new Array<number>(n).fill(1);
  const pads = resolvePads(ctx, xd.slice(2), kernel, strides, dil);
  const f = [op.conv1d, op.conv2d, op.conv3d][n - 1];
  let y = em(
    ctx,
    f(exprOf(ctx, x), exprOf(ctx, w), { strides, padding: pads, dilation: dil, groups: ctx.int('group', 1) }),
  );
  const b = ctx.input(2);
  if (b) y = em(ctx, op.add(y, channelVector(ctx, b, n + 2)));
  return exprValue(y);
}

function convTransposeConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const w = ctx.req(1);
  const xd = staticDims(ctx, x);
  const wd = staticDims(ctx, w);
  const n = xd.length - 2;
  if (n < 1 || n > 3) ctx.unsupported(`${n}-D transposed convolution`);
  const kernel = ctx.ints('kernel_shape') ?? wd.slice(2);
  const strides = ctx.ints('strides') ?? new Array<number>(n).fill(1);
  const dil = ctx.ints('dilations') ?? new Array<number>(n).fill(1);
  const outPad = ctx.ints('output_padding') ?? new Array<number>(n).fill(0);
  const group = ctx.int('group', 1);
  const outShape = ctx.ints('output_shape');
  const auto = ctx.str('auto_pad', 'NOTSET');
  let pads = ctx.ints('pads') ?? new Array<number>(2 * n).fill(0);
  let extra = outPad;
  if (outShape || (auto !== 'NOTSET' && auto !== '' && auto !== 'VALID')) {
    const target = outShape ? outShape.slice(-n) : xd.slice(2).map((d, i) => d * strides[i]);
    const before: number[] = [];
    const after: number[] = [];
    extra = [];
    for (let i = 0; i < n; i++) {
      const full = strides[i] * (xd[2 + i] - 1) + outPad[i] + (kernel[i] - 1) * dil[i] + 1;
      const total = full - target[i];
      if (total < 0) {
        // The requested output is larger than the full result: extend with output padding.
        before.push(0);
        after.push(0);
        extra.push(outPad[i] - total);
        continue;
      }
      const half = Math.floor(total / 2);
      if (auto === 'SAME_UPPER') {
        before.push(half);
        after.push(total - half);
      } else {
        before.push(total - half);
        after.push(half);
      }
      extra.push(outPad[i]);
    }
    pads = [...before, ...after];
  } else if (auto === 'VALID') pads = new Array<number>(2 * n).fill(0);
  const f = [op.conv1dTranspose, op.conv2dTranspose, op.conv3dTranspose][n - 1];
  let y = em(
    ctx,
    f(exprOf(ctx, x), exprOf(ctx, w), {
      strides,
      padding: pads,
      dilation: dil,
      groups: group,
      outputPadding: extra,
    }),
  );
  const b = ctx.input(2);
  if (b) y = em(ctx, op.add(y, channelVector(ctx, b, n + 2)));
  return exprValue(y);
}

function poolConvert(kind: 'max' | 'avg') {
  return (ctx: NodeContext): (OnnxValue | undefined)[] => {
    const x = ctx.req(0);
    const xd = dims(ctx, x);
    const n = xd.length - 2;
    if (n < 1 || n > 3) ctx.unsupported(`${n}-D pooling`);
    const kernel =
      ctx.ints('kernel_shape') ?? ctx.fail(OnnxErrorCodes.ONNX_INVALID, 'kernel_shape is required');
    const strides = ctx.ints('strides') ?? new Array<number>(n).fill(1);
    const dil = ctx.ints('dilations') ?? new Array<number>(n).fill(1);
    let pads = resolvePads(ctx, xd.slice(2), kernel, strides, dil);
    const ceilMode = ctx.int('ceil_mode', 0) === 1;
    const countIncludePad = ctx.int('count_include_pad', 0) === 1;
    const auto = ctx.str('auto_pad', 'NOTSET');
    if (kind === 'avg' && (auto === 'SAME_UPPER' || auto === 'SAME_LOWER')) {
      // ONNX average pooling with SAME padding never counts the padding.
      pads = [...pads];
    }
    const fs =
      kind === 'max'
        ? [op.maxPool1d, op.maxPool2d, op.maxPool3d]
        : [op.avgPool1d, op.avgPool2d, op.avgPool3d];
    const y = exprValue(
      em(
        ctx,
        fs[n - 1](exprOf(ctx, x), kernel, {
          strides,
          padding: pads,
          dilation: dil,
          ceilMode,
          countIncludePad,
        }),
      ),
    );
    if (kind !== 'max' || !ctx.wantsOutput(1)) return [y];
    const ys = staticDims(ctx, y).slice(2);
    return [y, maxPoolIndices(ctx, x, kernel, strides, pads, dil, ys)];
  };
}

/**
 * The Indices output of MaxPool: the flat input index (over N, C and the spatial dims,
 * row-major, or column-major over the spatial dims with storage_order=1) of the first
 * maximum of each window. The windows are gathered with a constant table of input
 * positions (padding reads a -inf column) and reduced with argmax, which keeps the
 * first of equal values.
 */
function maxPoolIndices(
  ctx: NodeContext,
  x: OnnxValue,
  kernel: readonly number[],
  strides: readonly number[],
  pads: readonly number[],
  dil: readonly number[],
  outS: readonly number[],
): OnnxValue {
  const [N, C, ...inS] = staticDims(ctx, x);
  const n = inS.length;
  const P = inS.reduce((a, b) => a * b, 1);
  const O = outS.reduce((a, b) => a * b, 1);
  const K = kernel.reduce((a, b) => a * b, 1);
  const colMajor = ctx.int('storage_order', 0) === 1;
  const unravel = (i: number, shape: readonly number[]) => {
    const r = new Array<number>(shape.length);
    for (let d = shape.length - 1; d >= 0; d--) {
      r[d] = i % shape[d];
      i = Math.floor(i / shape[d]);
    }
    return r;
  };
  const gatherAt = new Array<number>(O * K);
  const report = new Array<number>(O * K);
  for (let o = 0; o < O; o++) {
    const oi = unravel(o, outS);
    for (let k = 0; k < K; k++) {
      const ki = unravel(k, kernel);
      const pos = oi.map((v, d) => v * strides[d] - pads[d] + ki[d] * dil[d]);
      const inside = pos.every((p, d) => p >= 0 && p < inS[d]);
      let row = 0;
      let col = 0;
      for (let d = 0; d < n; d++) row = row * inS[d] + (inside ? pos[d] : 0);
      for (let d = n - 1; d >= 0; d--) col = col * inS[d] + (inside ? pos[d] : 0);
      gatherAt[o * K + k] = inside ? row : P;
      report[o * K + k] = colMajor ? col : row;
    }
  }
  const dt = dtypeOf(x, ctx);
  const flat = em(ctx, op.reshape(exprOf(ctx, x), [N, C, P]));
  const bits = Number(/\d+$/.exec(dt)?.[0] ?? 64);
  const lowest = isFloatName(dt) ? Number.NEGATIVE_INFINITY : dt.startsWith('u') ? 0 : -(2 ** (bits - 1));
  const padded = em(ctx, op.concat([flat, em(ctx, op.full([N, C, 1], scalar(lowest, dt), dt))], 2));
  const konst = (shape: number[], data: number[]) => exprOf(ctx, hostValue(hostTensor('int64', shape, data)));
  const windows = em(ctx, op.reshape(em(ctx, op.take(padded, konst([O * K], gatherAt), 2)), [N, C, O, K]));
  const which = em(ctx, op.argmax(windows, { axis: 3 }));
  const slot = em(
    ctx,
    op.add(
      which,
      konst(
        [O],
        Array.from({ length: O }, (_, o) => o * K),
      ),
    ),
  );
  const spatial = em(ctx, op.take(konst([O * K], report), slot, 0));
  const base = konst(
    [N, C, 1],
    Array.from({ length: N * C }, (_, i) => i * P),
  );
  return exprValue(em(ctx, op.reshape(em(ctx, op.add(spatial, base)), [N, C, ...outS])));
}

function globalPool(kind: 'max' | 'avg') {
  return (ctx: NodeContext): OnnxValue => {
    const x = ctx.req(0);
    const r = rank(ctx, x);
    const axes = Array.from({ length: r - 2 }, (_, i) => i + 2);
    const e = exprOf(ctx, x);
    return exprValue(
      em(
        ctx,
        kind === 'max'
          ? op.max(e, { axis: axes, keepdims: true })
          : op.mean(e, { axis: axes, keepdims: true }),
      ),
    );
  };
}

function batchNormConvert(ctx: NodeContext): OnnxValue[] {
  const training = ctx.int('training_mode', 0) === 1;
  if (training && ctx.opset < 14) ctx.unsupported('training_mode=1 before opset 14');
  if (ctx.opset < 7 && ctx.int('is_test', 1) === 0) ctx.unsupported('is_test=0 (training)');
  const [x, s, b, m, v] = [0, 1, 2, 3, 4].map((i) => exprOf(ctx, ctx.req(i)));
  const epsilon = ctx.float('epsilon', 1e-5);
  if (!training) return [exprValue(em(ctx, op.batchNorm(x, s, b, m, v, { axis: 1, epsilon })))];
  // Training: normalize with the batch statistics (population variance) and also
  // return the updated running statistics, r·momentum + batch·(1 - momentum).
  const r = rank(ctx, ctx.req(0));
  const axes = Array.from({ length: r }, (_, i) => i).filter((i) => i !== 1);
  const statDT = dtypeOf(ctx.req(3), ctx);
  const toStat = (e: Expr) => (dtypeOf(ctx.req(0), ctx) === statDT ? e : em(ctx, op.astype(e, statDT)));
  const mean = em(ctx, op.mean(x, { axis: axes }));
  const variance = em(ctx, op.variance(x, { axis: axes }));
  const y = em(ctx, op.batchNorm(x, s, b, mean, variance, { axis: 1, epsilon }));
  const momentum = ctx.float('momentum', 0.9);
  const update = (running: Expr, batch: Expr) =>
    exprValue(
      em(
        ctx,
        op.add(
          em(ctx, op.multiply(running, scalar(momentum, statDT))),
          em(ctx, op.multiply(toStat(batch), scalar(1 - momentum, statDT))),
        ),
      ),
    );
  return [exprValue(y), update(m, mean), update(v, variance)];
}

function instanceNormConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const c = constDim(dims(ctx, x)[1]);
  if (c === undefined) ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, 'the channel dim must be static');
  return exprValue(
    em(
      ctx,
      op.groupNorm(exprOf(ctx, x), exprOf(ctx, ctx.req(1)), exprOf(ctx, ctx.req(2)), c!, {
        epsilon: ctx.float('epsilon', 1e-5),
      }),
    ),
  );
}

/** gamma/beta broadcast to the normalized dims (ONNX allows broadcastable shapes). */
function fitParam(
  ctx: NodeContext,
  v: OnnxValue | undefined,
  want: readonly PrimExpr[],
  dt: string,
  fill: number,
): Expr {
  if (!v) {
    const s = want.map((d) => constDim(d));
    if (s.some((d) => d === undefined)) return em(ctx, op.full(want as PrimExpr[], scalar(fill, dt), dt));
    const nEl = (s as number[]).reduce((a, b) => a * b, 1);
    return exprOf(ctx, hostValue(hostTensor(dt, s as number[], new Float64Array(nEl).fill(fill))));
  }
  const have = shapeOf(v);
  const same =
    have &&
    have.length === want.length &&
    have.every((d, i) => constDim(d) === constDim(want[i]) && constDim(d) !== undefined);
  if (same) return exprOf(ctx, v);
  return em(ctx, op.broadcastTo(exprOf(ctx, v), want as PrimExpr[]));
}

function layerNormConvert(ctx: NodeContext): (OnnxValue | undefined)[] {
  const x = ctx.req(0);
  const d = dims(ctx, x);
  const r = d.length;
  const axis = normAxis(ctx, ctx.int('axis', -1), r);
  const axes = Array.from({ length: r - axis }, (_, i) => axis + i);
  const eps = ctx.float('epsilon', 1e-5);
  const dt = dtypeOf(x, ctx);
  const xe = exprOf(ctx, x);
  const want = d.slice(axis);
  const gamma = fitParam(ctx, ctx.input(1), want, dt, 1);
  const beta = fitParam(ctx, ctx.input(2), want, dt, 0);
  const y = exprValue(em(ctx, op.layerNorm(xe, gamma, beta, { axes, epsilon: eps })));
  let mean: OnnxValue | undefined;
  let inv: OnnxValue | undefined;
  if (ctx.wantsOutput(1) || ctx.wantsOutput(2)) {
    const m = em(ctx, op.mean(xe, { axis: axes, keepdims: true }));
    mean = exprValue(m);
    const v = em(ctx, op.variance(xe, { axis: axes, keepdims: true }));
    inv = exprValue(em(ctx, op.rsqrt(em(ctx, op.add(v, scalar(eps, dt))))));
  }
  return [y, mean, inv];
}

function groupNormConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const d = dims(ctx, x);
  const g = ctx.int('num_groups', 1);
  const c = constDim(d[1]);
  if (c === undefined) ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, 'the channel dim must be static');
  let scale = exprOf(ctx, ctx.req(1));
  let bias = exprOf(ctx, ctx.req(2));
  if (ctx.opset < 21) {
    // Opset 18: scale and bias are per group; repeat them per channel.
    scale = em(ctx, op.repeat(scale, c! / g, 0));
    bias = em(ctx, op.repeat(bias, c! / g, 0));
  }
  return exprValue(
    em(ctx, op.groupNorm(exprOf(ctx, x), scale, bias, g, { epsilon: ctx.float('epsilon', 1e-5) })),
  );
}

function rmsNormConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const d = dims(ctx, x);
  const axis = normAxis(ctx, ctx.int('axis', -1), d.length);
  const axes = Array.from({ length: d.length - axis }, (_, i) => axis + i);
  const w = fitParam(ctx, ctx.req(1), d.slice(axis), dtypeOf(x, ctx), 1);
  return exprValue(em(ctx, op.rmsNorm(exprOf(ctx, x), w, { axes, epsilon: ctx.float('epsilon', 1e-5) })));
}

function lrnConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const [nb, c, h, w] = staticDims(ctx, x);
  const size = ctx.int('size', 1);
  const alpha = ctx.float('alpha', 1e-4);
  const beta = ctx.float('beta', 0.75);
  const bias = ctx.float('bias', 1);
  const dt = dtypeOf(x, ctx);
  const xe = exprOf(ctx, x);
  const sq = em(ctx, op.multiply(xe, xe));
  const r5 = em(ctx, op.reshape(sq, [nb, 1, c, h, w]));
  const lo = Math.floor((size - 1) / 2);
  const hi = Math.ceil((size - 1) / 2);
  const avg = em(
    ctx,
    op.avgPool3d(r5, [size, 1, 1], { padding: [lo, 0, 0, hi, 0, 0], countIncludePad: true }),
  );
  const sum = em(ctx, op.reshape(avg, [nb, c, h, w]));
  // avg * size = window sum; scale = bias + alpha / size * sum
  const s = em(ctx, op.add(em(ctx, op.multiply(sum, scalar(alpha, dt))), scalar(bias, dt)));
  return exprValue(em(ctx, op.divide(xe, em(ctx, op.power(s, scalar(beta, dt))))));
}

function mvnConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const axes = ctx.ints('axes') ?? [0, 2, 3];
  const dt = dtypeOf(x, ctx);
  const xe = exprOf(ctx, x);
  const m = em(ctx, op.mean(xe, { axis: axes, keepdims: true }));
  const c = em(ctx, op.subtract(xe, m));
  const v = em(ctx, op.mean(em(ctx, op.multiply(c, c)), { axis: axes, keepdims: true }));
  return exprValue(em(ctx, op.divide(c, em(ctx, op.add(em(ctx, op.sqrt(v)), scalar(1e-9, dt))))));
}

function lpNormConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const axis = ctx.int('axis', -1);
  const p = ctx.int('p', 2);
  const xe = exprOf(ctx, x);
  const n =
    p === 1
      ? em(ctx, op.sum(em(ctx, op.abs(xe)), { axis, keepdims: true }))
      : em(ctx, op.sqrt(em(ctx, op.sum(em(ctx, op.multiply(xe, xe)), { axis, keepdims: true }))));
  // A zero norm gives 0, not NaN.
  const dt = dtypeOf(x, ctx);
  const safe = em(ctx, op.where(em(ctx, op.equal(n, scalar(0, dt))), scalar(1, dt), n));
  return exprValue(em(ctx, op.divide(xe, safe)));
}

function softmaxConvert(kind: 'softmax' | 'log_softmax' | 'hardmax') {
  return (ctx: NodeContext): OnnxValue => {
    const x = ctx.req(0);
    const d = dims(ctx, x);
    const r = d.length;
    const xe = exprOf(ctx, x);
    const apply = (e: Expr, axis: number, depth: PrimExpr): Expr => {
      if (kind === 'softmax') return em(ctx, op.softmax(e, axis));
      if (kind === 'log_softmax') return em(ctx, op.logSoftmax(e, axis));
      const dd = constDim(depth);
      if (dd === undefined)
        return ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, 'Hardmax needs a static size along the axis');
      const am = em(ctx, op.argmax(e, { axis }));
      return em(ctx, op.oneHot(am, dd, { axis, dtype: dtypeOf(x, ctx) }));
    };
    if (ctx.opset >= 13) {
      const axis = normAxis(ctx, ctx.int('axis', -1), r);
      return exprValue(apply(xe, axis, d[axis]));
    }
    // Before opset 13 the input is coerced to 2-D [prod(d[:axis]), prod(d[axis:])].
    const axis = ctx.int('axis', 1);
    const a = axis < 0 ? axis + r : axis;
    if (a === r - 1) return exprValue(apply(xe, r - 1, d[r - 1]));
    const inner = dimProduct(d.slice(a));
    const flat = em(ctx, op.reshape(xe, [dimProduct(d.slice(0, a)), inner]));
    const y = apply(flat, 1, inner);
    return exprValue(em(ctx, op.reshape(y, d as PrimExpr[])));
  };
}

/** A 2-D constant with its axes swapped (a Linear layer's [N, K] weights as [K, N]). */
function transposed(c: Constant): Constant {
  const [n, k] = c.shape;
  const src = c.data;
  const out = new (src.constructor as new (len: number) => typeof src)(src.length);
  for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) out[j * n + i] = src[i * k + j];
  return constant(out, [k, n], c.dtype);
}

function gemmConvert(ctx: NodeContext): OnnxValue {
  const a = ctx.req(0);
  const b = ctx.req(1);
  const c = ctx.input(2);
  const alpha = ctx.float('alpha', 1);
  const beta = ctx.float('beta', 1);
  const ta = ctx.int('transA', 0);
  const tb = ctx.int('transB', 0);
  const dt = dtypeOf(a, ctx);
  let ae = exprOf(ctx, a);
  if (ta) ae = em(ctx, op.permuteDims(ae, [1, 0]));
  const be = exprOf(ctx, b);
  // transB (the common Linear layout): constant weights are transposed here, at import, so the layer runs as a matmul, the form the CPU schedules register-block
  // and pack; other weights map to relax.linear without a transpose.
  let y: Expr;
  if (tb && be.kind === 'relax.Constant' && be.shape.length === 2) y = em(ctx, op.matmul(ae, transposed(be)));
  else y = em(ctx, tb ? op.linear(ae, be) : op.matmul(ae, be));
  if (alpha !== 1) y = em(ctx, op.multiply(y, scalar(alpha, dt)));
  if (c && beta !== 0) {
    let ce = exprOf(ctx, c);
    if (beta !== 1) ce = em(ctx, op.multiply(ce, scalar(beta, dt)));
    y = em(ctx, op.add(y, ce));
  }
  return exprValue(y);
}

function matmulConvert(ctx: NodeContext): OnnxValue {
  return exprValue(em(ctx, op.matmul(exprOf(ctx, ctx.req(0)), exprOf(ctx, ctx.req(1)))));
}

function einsumConvert(ctx: NodeContext): OnnxValue {
  const vals = Array.from({ length: ctx.numInputs }, (_, i) => ctx.req(i));
  const eq = expandEllipsis(
    ctx,
    ctx.str('equation', '').replace(/\s+/g, ''),
    vals.map((v) => rank(ctx, v)),
  );
  return exprValue(
    em(
      ctx,
      op.einsum(
        vals.map((v) => exprOf(ctx, v)),
        eq,
      ),
    ),
  );
}

/**
 * Spell out "..." with letters the equation does not use (relax.einsum has no
 * ellipsis): each operand's ellipsis covers its dims not named by letters, aligned
 * from the right; the output gets all of them (first, when the output is implicit).
 */
function expandEllipsis(ctx: NodeContext, eq: string, ranks: readonly number[]): string {
  if (!eq.includes('...')) return eq;
  const [lhs, rhs] = eq.split('->');
  const terms = lhs.split(',');
  if (terms.length !== ranks.length)
    ctx.fail(
      OnnxErrorCodes.ONNX_INVALID,
      `equation '${eq}' has ${terms.length} operands, got ${ranks.length}`,
    );
  const counts = terms.map((t, i) => (t.includes('...') ? ranks[i] - t.replace('...', '').length : 0));
  if (counts.some((c) => c < 0))
    ctx.fail(OnnxErrorCodes.ONNX_INVALID, `equation '${eq}' names more dims than an operand has`);
  const n = Math.max(...counts);
  const free = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'].filter((c) => !eq.includes(c));
  if (free.length < n) ctx.fail(OnnxErrorCodes.ONNX_INVALID, `equation '${eq}' uses too many letters`);
  const ell = free.slice(0, n);
  const sub = (t: string, c: number) => t.replace('...', ell.slice(n - c).join(''));
  const newLhs = terms.map((t, i) => sub(t, counts[i])).join(',');
  if (rhs !== undefined) return `${newLhs}->${sub(rhs, n)}`;
  // Implicit output: the ellipsis dims, then the letters used once, in order.
  const seen = new Map<string, number>();
  for (const ch of terms.join('').replace(/\.\.\./g, '')) seen.set(ch, (seen.get(ch) ?? 0) + 1);
  const once = [...seen.keys()].filter((ch) => seen.get(ch) === 1).sort();
  return `${newLhs}->${ell.join('')}${once.join('')}`;
}

const NEAREST: Record<string, 'round' | 'floor' | 'ceil' | 'round_prefer_floor' | 'round_prefer_ceil'> = {
  round_prefer_floor: 'round_prefer_floor',
  round_prefer_ceil: 'round_prefer_ceil',
  floor: 'floor',
  ceil: 'ceil',
};
const COORD: ReadonlySet<string> = new Set(op.RESIZE_COORDINATE_MODES);

function resizeCommon(
  ctx: NodeContext,
  scales: number[] | undefined,
  sizes: number[] | undefined,
  legacy: boolean,
): OnnxValue {
  const x = ctx.req(0);
  const d = staticDims(ctx, x);
  if (d.length !== 4)
    ctx.unsupported(`Resize of a rank-${d.length} tensor (Relax has image.resize2d on NCHW)`);
  let out: number[];
  // The scale of each axis in the coordinate mapping: the given one, else out / in (or
  // the one kept-aspect-ratio scale).
  let sc = [1, 1, 1, 1];
  const axes = (ctx.ints('axes') ?? [0, 1, 2, 3]).map((a) => (a < 0 ? a + 4 : a));
  if (sizes?.length) {
    out = [...d];
    axes.forEach((a, i) => {
      out[a] = sizes[i];
    });
    sc = out.map((v, i) => v / d[i]);
    const policy = ctx.str('keep_aspect_ratio_policy', 'stretch');
    if (policy !== 'stretch') {
      const ratios = axes.map((a, i) => sizes[i] / d[a]);
      const s = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
      out = [...d];
      sc = [1, 1, 1, 1];
      for (const a of axes) {
        out[a] = Math.floor(d[a] * s + 0.5);
        sc[a] = s;
      }
    }
  } else if (scales?.length) {
    axes.forEach((a, i) => {
      sc[a] = scales[i];
    });
    out = d.map((v, i) => Math.floor(v * sc[i]));
  } else return ctx.fail(OnnxErrorCodes.ONNX_INVALID, 'needs scales or sizes');
  if (out[0] !== d[0] || out[1] !== d[1]) ctx.unsupported('resizing the batch or channel dims');
  const mode = legacy ? ctx.str('mode', 'nearest') : ctx.str('mode', 'nearest');
  const method =
    mode === 'nearest'
      ? 'nearest_neighbor'
      : mode === 'linear' || mode === 'bilinear'
        ? 'linear'
        : mode === 'cubic'
          ? 'cubic'
          : ctx.unsupported(`mode '${mode}'`);
  const ctm = legacy ? 'asymmetric' : ctx.str('coordinate_transformation_mode', 'half_pixel');
  if (!COORD.has(ctm)) ctx.unsupported(`coordinate_transformation_mode '${ctm}'`);
  const antialias = ctx.int('antialias', 0) === 1;
  if (antialias && method === 'nearest_neighbor')
    ctx.fail(OnnxErrorCodes.ONNX_INVALID, 'antialias=1 is not defined for mode nearest');
  let roi: number[] | undefined;
  if (ctm === 'tf_crop_and_resize') {
    const r = floatsOf(ctx, 1);
    if (!r?.length) ctx.fail(OnnxErrorCodes.ONNX_INVALID, 'tf_crop_and_resize needs roi');
    // roi is [starts..., ends...] over `axes` (all dims when absent); keep H and W.
    const full = [0, 0, 0, 0, 1, 1, 1, 1];
    const ax = r.length === 8 ? [0, 1, 2, 3] : axes;
    ax.forEach((a, i) => {
      full[a] = r[i];
      full[4 + a] = r[ax.length + i];
    });
    roi = [full[2], full[3], full[6], full[7]];
  }
  const nm = legacy ? 'floor' : ctx.str('nearest_mode', 'round_prefer_floor');
  return exprValue(
    em(
      ctx,
      op.resize2d(exprOf(ctx, x), [out[2], out[3]], {
        method,
        coordinateTransformationMode: ctm as 'half_pixel',
        roundingMethod: NEAREST[nm] ?? 'round_prefer_floor',
        cubicAlpha: ctx.float('cubic_coeff_a', -0.75),
        cubicExclude: ctx.int('exclude_outside', 0) === 1,
        extrapolationValue: ctx.float('extrapolation_value', 0),
        scales: [sc[2], sc[3]],
        roi,
        antialias,
      }),
    ),
  );
}
function floatsOf(ctx: NodeContext, i: number): number[] | undefined {
  const v = ctx.input(i);
  if (!v) return undefined;
  if (v.kind !== 'host')
    return ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, `input ${i} (scales/sizes) must be known at compile time`);
  return Array.from(v.t.data);
}
function resizeConvert(ctx: NodeContext): OnnxValue {
  if (ctx.opset < 11) return resizeCommon(ctx, floatsOf(ctx, 1), undefined, true);
  return resizeCommon(ctx, floatsOf(ctx, 2), floatsOf(ctx, 3), false);
}
function upsampleConvert(ctx: NodeContext): OnnxValue {
  const scales = ctx.opset < 9 ? ctx.floats('scales') : floatsOf(ctx, 1);
  return resizeCommon(ctx, scales, undefined, true);
}

export const NN_CONVERTERS: ConverterDef[] = [
  ...many('Conv', V(1, 11, 22), convConvert),
  ...many('ConvTranspose', V(1, 11, 22), convTransposeConvert),
  ...many('MaxPool', V(1, 8, 10, 11, 12, 22), poolConvert('max')),
  ...many('AveragePool', V(1, 7, 10, 11, 19, 22), poolConvert('avg')),
  ...many('GlobalAveragePool', V(1, 22), globalPool('avg')),
  ...many('GlobalMaxPool', V(1, 22), globalPool('max')),
  ...many('BatchNormalization', V(1, 6, 7, 9, 14, 15), batchNormConvert),
  ...many('InstanceNormalization', V(1, 6, 22), instanceNormConvert),
  ...many('LayerNormalization', V(17), layerNormConvert),
  ...many('GroupNormalization', V(18, 21), groupNormConvert),
  ...many('RMSNormalization', V(23), rmsNormConvert),
  ...many('LRN', V(1, 13), lrnConvert),
  ...many('MeanVarianceNormalization', V(9, 13), mvnConvert),
  ...many('LpNormalization', V(1, 22), lpNormConvert),
  ...many('Softmax', V(1, 11, 13), softmaxConvert('softmax')),
  ...many('LogSoftmax', V(1, 11, 13), softmaxConvert('log_softmax')),
  ...many('Hardmax', V(1, 11, 13), softmaxConvert('hardmax')),
  ...many('Gemm', V(1, 6, 7, 9, 11, 13), gemmConvert),
  ...many('MatMul', V(1, 9, 13), matmulConvert),
  ...many('Einsum', V(12), einsumConvert),
  ...many('Resize', V(10, 11, 13, 18, 19), resizeConvert),
  ...many('Upsample', V(7, 9), upsampleConvert),
];
