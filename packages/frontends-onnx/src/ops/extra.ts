// Converters composed from several Relax ops: the loss functions (NegativeLogLikelihoodLoss,
// SoftmaxCrossEntropyLoss), Swish, LpPool, CumProd, the window
// generators (Hann, Hamming, Blackman; folded to constants), Compress and NonZero on
// values known at import time, and CenterCropPad.
import type { Expr } from '@kiln/relax';
import { op } from '@kiln/relax';
import type { NodeContext, OnnxValue } from '../context.js';
import { dims, dtypeOf, exprOf, exprValue, hostOf, hostValue, rank, staticDims } from '../context.js';
import { OnnxErrorCodes } from '../errors.js';
import { hostTake, hostTensor } from '../host.js';
import { kilnDType } from '../proto.js';
import type { ConverterDef } from '../registry.js';
import { many } from '../registry.js';
import { em, normAxis, scalar } from './common.js';

const V = (...v: number[]) => v;

/** NLL over class axis 1: returns the loss value (reduction applied). */
function nll(
  ctx: NodeContext,
  logp: Expr,
  target: OnnxValue,
  weight: OnnxValue | undefined,
  dt: string,
): Expr {
  const reduction = ctx.str('reduction', 'mean');
  const t = exprOf(ctx, target);
  const tdt = dtypeOf(target, ctx);
  const hasIgnore = ctx.hasAttr('ignore_index');
  const ignore = ctx.int('ignore_index', -100);
  let mask: Expr | undefined;
  let safe = t;
  if (hasIgnore) {
    mask = em(ctx, op.notEqual(t, scalar(ignore, tdt)));
    safe = em(ctx, op.where(mask, t, scalar(0, tdt)));
  }
  const picked = em(ctx, op.gatherElements(logp, em(ctx, op.expandDims(safe, 1)), 1));
  let loss = em(ctx, op.negative(em(ctx, op.squeeze(picked, [1]))));
  let w: Expr | undefined;
  if (weight) w = em(ctx, op.take(exprOf(ctx, weight), safe, 0));
  if (mask) {
    const mf = em(ctx, op.astype(mask, dt));
    w = w ? em(ctx, op.multiply(w, mf)) : mf;
  }
  if (w) loss = em(ctx, op.multiply(loss, w));
  if (reduction === 'none') return loss;
  const total = em(ctx, op.sum(loss));
  if (reduction === 'sum') return total;
  if (w) return op.divide(total, em(ctx, op.sum(w)));
  return op.mean(loss);
}

function nllConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const dt = dtypeOf(x, ctx);
  return exprValue(em(ctx, nll(ctx, exprOf(ctx, x), ctx.req(1), ctx.input(2), dt)));
}
function sceConvert(ctx: NodeContext): (OnnxValue | undefined)[] {
  const x = ctx.req(0);
  const dt = dtypeOf(x, ctx);
  const logp = em(ctx, op.logSoftmax(exprOf(ctx, x), 1));
  const loss = exprValue(em(ctx, nll(ctx, logp, ctx.req(1), ctx.input(2), dt)));
  return [loss, exprValue(logp)];
}

function lpPoolConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const xd = dims(ctx, x);
  const n = xd.length - 2;
  const p = ctx.int('p', 2);
  const kernel =
    ctx.ints('kernel_shape') ?? ctx.fail(OnnxErrorCodes.ONNX_INVALID, 'kernel_shape is required');
  const strides = ctx.ints('strides') ?? new Array<number>(n).fill(1);
  const dil = ctx.ints('dilations') ?? new Array<number>(n).fill(1);
  const auto = ctx.str('auto_pad', 'NOTSET');
  let pads = ctx.ints('pads') ?? new Array<number>(2 * n).fill(0);
  if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
    const sd = staticDims(ctx, x).slice(2);
    const b: number[] = [];
    const a: number[] = [];
    sd.forEach((d, i) => {
      const out = Math.ceil(d / strides[i]);
      const total = Math.max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dil[i] + 1 - d);
      const s = Math.floor(total / 2);
      b.push(auto === 'SAME_LOWER' ? total - s : s);
      a.push(auto === 'SAME_LOWER' ? s : total - s);
    });
    pads = [...b, ...a];
  }
  const dt = dtypeOf(x, ctx);
  const xe = exprOf(ctx, x);
  const powed = em(ctx, op.power(em(ctx, op.abs(xe)), scalar(p, dt)));
  const f = [op.avgPool1d, op.avgPool2d, op.avgPool3d][n - 1];
  // sum over the window = average with padding counted × window size
  const avg = em(
    ctx,
    f(powed, kernel, {
      strides,
      padding: pads,
      dilation: dil,
      ceilMode: ctx.int('ceil_mode', 0) === 1,
      countIncludePad: true,
    }),
  );
  const sum = em(
    ctx,
    op.multiply(
      avg,
      scalar(
        kernel.reduce((a, b) => a * b, 1),
        dt,
      ),
    ),
  );
  return exprValue(em(ctx, op.power(sum, scalar(1 / p, dt))));
}

function windowConvert(kind: 'hann' | 'hamming' | 'blackman') {
  return (ctx: NodeContext): OnnxValue => {
    const n = hostOf(ctx, 0, 'size').data[0];
    const periodic = ctx.int('periodic', 1) === 1;
    const dt = kilnDType(ctx.int('output_datatype', 1), ctx.where);
    const denom = periodic ? n : n - 1;
    const data = Array.from({ length: n }, (_, i) => {
      const a = (2 * Math.PI * i) / denom;
      if (kind === 'hann') return 0.5 - 0.5 * Math.cos(a);
      if (kind === 'hamming') return 25 / 46 - (21 / 46) * Math.cos(a);
      return 0.42 - 0.5 * Math.cos(a) + 0.08 * Math.cos(2 * a);
    });
    return hostValue(
      hostTensor(
        dt,
        [n],
        data.map((v) => (dt === 'float32' ? Math.fround(v) : v)),
      ),
    );
  };
}

function compressConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const cond = hostOf(ctx, 1, 'condition');
  const idx: number[] = [];
  cond.data.forEach((c, i) => c && idx.push(i));
  const it = hostTensor('int64', [idx.length], idx);
  if (!ctx.hasAttr('axis')) {
    const flat =
      x.kind === 'host'
        ? hostValue(hostTensor(x.t.dtype, [x.t.data.length], x.t.data))
        : exprValue(em(ctx, op.reshape(exprOf(ctx, x), [-1])));
    if (flat.kind === 'host') return hostValue(hostTake(flat.t, it, 0));
    return exprValue(em(ctx, op.take(exprOf(ctx, flat), exprOf(ctx, hostValue(it)), 0)));
  }
  const axis = normAxis(ctx, ctx.int('axis', 0), rank(ctx, x));
  if (x.kind === 'host') return hostValue(hostTake(x.t, it, axis));
  return exprValue(em(ctx, op.take(exprOf(ctx, x), exprOf(ctx, hostValue(it)), axis)));
}

function nonZeroConvert(ctx: NodeContext): OnnxValue {
  // The output size depends on the data: only values known at import time are supported.
  const x = hostOf(ctx, 0, 'the input (NonZero has a data-dependent shape)');
  const r = x.shape.length;
  const hits: number[][] = [];
  const strides = x.shape.map((_, i) => x.shape.slice(i + 1).reduce((a, b) => a * b, 1));
  x.data.forEach((v, k) => {
    if (v) hits.push(strides.map((s, i) => Math.floor(k / s) % x.shape[i]));
  });
  const out: number[] = [];
  for (let d = 0; d < r; d++) for (const h of hits) out.push(h[d]);
  return hostValue(hostTensor('int64', [r, hits.length], out));
}

function centerCropPadConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const d = staticDims(ctx, x);
  const target = Array.from(hostOf(ctx, 1, 'shape').data);
  const axes = (ctx.ints('axes') ?? d.map((_, i) => i)).map((a) => normAxis(ctx, a, d.length));
  let e = exprOf(ctx, x);
  const sAx: number[] = [];
  const sB: number[] = [];
  const sE: number[] = [];
  const pw = new Array<number>(2 * d.length).fill(0);
  axes.forEach((a, i) => {
    const want = target[i];
    if (want < d[a]) {
      const b = Math.floor((d[a] - want) / 2);
      sAx.push(a);
      sB.push(b);
      sE.push(b + want);
    } else if (want > d[a]) {
      const b = Math.floor((want - d[a]) / 2);
      pw[2 * a] = b;
      pw[2 * a + 1] = want - d[a] - b;
    }
  });
  if (sAx.length) e = em(ctx, op.stridedSlice(e, sAx, sB, sE));
  if (pw.some((p) => p > 0)) e = em(ctx, op.pad(e, pw, 0));
  return exprValue(e);
}

function swishConvert(ctx: NodeContext): OnnxValue {
  const x = exprOf(ctx, ctx.req(0));
  const dt = dtypeOf(ctx.req(0), ctx);
  const a = ctx.float('alpha', 1);
  const s = em(ctx, op.sigmoid(a === 1 ? x : em(ctx, op.multiply(x, scalar(a, dt)))));
  return exprValue(em(ctx, op.multiply(x, s)));
}

function cumprodConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const d = dims(ctx, x);
  const axis = normAxis(ctx, hostOf(ctx, 1, 'axis').data[0], d.length);
  const reverse = ctx.int('reverse', 0) === 1;
  let e = exprOf(ctx, x);
  const n = staticDims(ctx, x)[axis];
  const flip = (v: Expr) => em(ctx, op.stridedSlice(v, [axis], [n - 1], [-n - 1], [-1]));
  if (reverse) e = flip(e);
  e = em(ctx, op.cumprod(e, { axis, exclusive: ctx.int('exclusive', 0) === 1 }));
  if (reverse) e = flip(e);
  return exprValue(e);
}

export const EXTRA_CONVERTERS: ConverterDef[] = [
  ...many('NegativeLogLikelihoodLoss', V(12, 13, 22), nllConvert),
  ...many('SoftmaxCrossEntropyLoss', V(12, 13), sceConvert),
  ...many('LpPool', V(2, 11, 18, 22), lpPoolConvert),
  ...many('HannWindow', V(17), windowConvert('hann')),
  ...many('HammingWindow', V(17), windowConvert('hamming')),
  ...many('BlackmanWindow', V(17), windowConvert('blackman')),
  ...many('Compress', V(9, 11), compressConvert),
  ...many('NonZero', V(9, 13), nonZeroConvert),
  ...many('CenterCropPad', V(18), centerCropPadConvert),
  ...many('Swish', V(24), swishConvert),
  ...many('CumProd', V(26), cumprodConvert),
];
