// Default-domain ops not covered by the other converter files, composed from existing
// Relax operators: ScatterND (flattened to a 1-D scatter_elements), ReverseSequence (a
// gather_elements with per-row reversed time indices), RotaryEmbedding, DFT (matmuls with
// DFT matrices built at import time), AffineGrid, Det (cofactor expansion for n ≤ 3),
// MaxUnpool and Col2Im (scatters with import-time index maps), and Unique on values known
// at import time. Static shapes are required where the result's shape or an index map
// depends on them; such cases fail with ONNX_DYNAMIC rather than guessing.
import type { Expr } from '@kiln/relax';
import { op } from '@kiln/relax';
import type { NodeContext, OnnxValue } from '../context.js';
import { dtypeOf, exprOf, exprValue, hostValue, isFloatName, staticDims } from '../context.js';
import { OnnxErrorCodes } from '../errors.js';
import { hostTensor, numel, stridesOf } from '../host.js';
import type { ConverterDef } from '../registry.js';
import { conv } from '../registry.js';
import { castTo, em, normAxis, scalar } from './common.js';

const V = (...v: number[]) => v;
const many = (name: string, versions: number[], f: ConverterDef['convert']): ConverterDef[] => versions.map((s) => conv(name, s, f));
/** An int64 constant tensor. */
const i64c = (ctx: NodeContext, shape: readonly number[], data: ArrayLike<number>): Expr => exprOf(ctx, hostValue(hostTensor('int64', shape, data)));

const REDUCTIONS: Record<string, 'update' | 'add' | 'mul' | 'min' | 'max'> = { none: 'update', add: 'add', mul: 'mul', min: 'min', max: 'max' };

// ---------------------------------------------------------------- ScatterND

function scatterNdConvert(ctx: NodeContext): OnnxValue {
  const data = ctx.req(0);
  const dd = staticDims(ctx, data);
  const id = staticDims(ctx, ctx.req(1));
  const k = id[id.length - 1];
  if (k === undefined || k > dd.length) ctx.fail(OnnxErrorCodes.ONNX_INVALID, `indices' last dim ${k} exceeds the data rank ${dd.length}`);
  const red = REDUCTIONS[ctx.str('reduction', 'none')] ?? ctx.unsupported(`reduction '${ctx.str('reduction', 'none')}'`);
  const n = numel(id.slice(0, -1));
  const slice = numel(dd.slice(k));
  const st = stridesOf(dd).slice(0, k);
  // Linear offsets of each indexed slice: Σ_j wrap(idx_j) · stride_j.
  let idx = castTo(ctx, ctx.req(1), 'int64');
  const dimVec = i64c(ctx, [k], dd.slice(0, k));
  idx = em(ctx, op.where(em(ctx, op.less(idx, scalar(0, 'int64'))), em(ctx, op.add(idx, dimVec)), idx));
  const lin = em(ctx, op.sum(em(ctx, op.multiply(idx, i64c(ctx, [k], st))), { axis: [id.length - 1], keepdims: false }));
  const offs = em(ctx, op.add(em(ctx, op.reshape(lin, [n, 1])), i64c(ctx, [1, slice], Array.from({ length: slice }, (_, i) => i))));
  const flatIdx = em(ctx, op.reshape(offs, [n * slice]));
  const flatUpd = em(ctx, op.reshape(exprOf(ctx, ctx.req(2)), [n * slice]));
  const flat = em(ctx, op.reshape(exprOf(ctx, data), [numel(dd)]));
  const out = em(ctx, op.scatterElements(flat, flatIdx, flatUpd, 0, red));
  return exprValue(em(ctx, op.reshape(out, dd)));
}

// ---------------------------------------------------------------- ReverseSequence

function reverseSequenceConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const d = staticDims(ctx, x);
  const r = d.length;
  const ta = normAxis(ctx, ctx.int('time_axis', 0), r);
  const ba = normAxis(ctx, ctx.int('batch_axis', 1), r);
  if (ta === ba) ctx.fail(OnnxErrorCodes.ONNX_INVALID, 'time_axis and batch_axis must differ');
  const T = d[ta];
  const tShape = d.map((_, i) => (i === ta ? T : 1));
  const t = i64c(ctx, tShape, Array.from({ length: T }, (_, i) => i));
  const lens = em(ctx, op.reshape(castTo(ctx, ctx.req(1), 'int64'), d.map((v, i) => (i === ba ? v : 1))));
  // Source index: len - 1 - t inside the row's length, t past it.
  const rev = em(ctx, op.subtract(em(ctx, op.subtract(lens, scalar(1, 'int64'))), t));
  const src = em(ctx, op.where(em(ctx, op.less(t, lens)), rev, t));
  const full = em(ctx, op.broadcastTo(src, d));
  return exprValue(em(ctx, op.gatherElements(exprOf(ctx, x), full, ta)));
}

// ---------------------------------------------------------------- RotaryEmbedding

function rotaryConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const xd = staticDims(ctx, x);
  const dt = dtypeOf(x, ctx);
  let xe = exprOf(ctx, x);
  let B: number;
  let S: number;
  let N: number;
  let D: number;
  // Work in [B, S, N, D].
  if (xd.length === 4) {
    [B, N, S, D] = xd;
    xe = em(ctx, op.permuteDims(xe, [0, 2, 1, 3]));
  } else if (xd.length === 3) {
    N = ctx.int('num_heads', 0);
    if (N <= 0) ctx.fail(OnnxErrorCodes.ONNX_INVALID, 'num_heads is required for a 3-D input');
    [B, S] = xd;
    D = xd[2] / N;
    xe = em(ctx, op.reshape(xe, [B, S, N, D]));
  } else return ctx.fail(OnnxErrorCodes.ONNX_INVALID, `input must be 3-D or 4-D, got rank ${xd.length}`);
  const rot = ctx.int('rotary_embedding_dim', 0) || D;
  const half = rot / 2;
  let cos = exprOf(ctx, ctx.req(1));
  let sin = exprOf(ctx, ctx.req(2));
  const pos = ctx.input(3);
  if (pos) {
    const p = castTo(ctx, pos, 'int64');
    cos = em(ctx, op.take(cos, p, 0));
    sin = em(ctx, op.take(sin, p, 0));
  }
  const cd = pos ? [...staticDims(ctx, pos), staticDims(ctx, ctx.req(1)).slice(-1)[0]] : staticDims(ctx, ctx.req(1));
  if (cd[cd.length - 1] !== half) ctx.fail(OnnxErrorCodes.ONNX_INVALID, `the cos/sin caches' last dim ${cd[cd.length - 1]} is not rotary_embedding_dim/2 = ${half}`);
  cos = em(ctx, op.expandDims(castTo(ctx, exprValue(cos), dt), 2));
  sin = em(ctx, op.expandDims(castTo(ctx, exprValue(sin), dt), 2));
  const interleaved = ctx.int('interleaved', 0) === 1;
  const x1 = em(ctx, interleaved ? op.stridedSlice(xe, [3], [0], [rot], [2]) : op.stridedSlice(xe, [3], [0], [half]));
  const x2 = em(ctx, interleaved ? op.stridedSlice(xe, [3], [1], [rot], [2]) : op.stridedSlice(xe, [3], [half], [rot]));
  const real = em(ctx, op.subtract(em(ctx, op.multiply(cos, x1)), em(ctx, op.multiply(sin, x2))));
  const imag = em(ctx, op.add(em(ctx, op.multiply(sin, x1)), em(ctx, op.multiply(cos, x2))));
  let rotated: Expr;
  if (interleaved) {
    const pair = em(ctx, op.concat([em(ctx, op.expandDims(real, 4)), em(ctx, op.expandDims(imag, 4))], 4));
    rotated = em(ctx, op.reshape(pair, [B, S, N, rot]));
  } else rotated = em(ctx, op.concat([real, imag], 3));
  let y = rot < D ? em(ctx, op.concat([rotated, em(ctx, op.stridedSlice(xe, [3], [rot], [D]))], 3)) : rotated;
  y = xd.length === 4 ? em(ctx, op.permuteDims(y, [0, 2, 1, 3])) : em(ctx, op.reshape(y, xd));
  return exprValue(y);
}

// ---------------------------------------------------------------- DFT

/**
 * DFT along one axis as matmuls: the signal (real, or [re, im] in the last dim) is moved
 * so the transformed axis is last, multiplied by cos / sin matrices of the (static) length.
 */
function dftConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const xd = staticDims(ctx, x);
  const r = xd.length;
  const dt = dtypeOf(x, ctx);
  if (!isFloatName(dt)) ctx.fail(OnnxErrorCodes.ONNX_INVALID, `input must be float, got ${dt}`);
  const inverse = ctx.int('inverse', 0) === 1;
  const onesided = ctx.int('onesided', 0) === 1;
  let axis: number;
  if (ctx.opset >= 20) {
    const a = ctx.input(2);
    if (a && a.kind !== 'host') ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, 'axis must be known at compile time');
    axis = a && a.kind === 'host' ? a.t.data[0] : -2;
  } else axis = ctx.int('axis', 1);
  // The axis counts over the signal dims, i.e. not the trailing [re, im] dim.
  const sigAx = axis < 0 ? r + axis : axis;
  if (sigAx < 0 || sigAx >= r - 1) ctx.fail(OnnxErrorCodes.ONNX_INVALID, `axis ${axis} is not a signal axis of a rank-${r} input`);
  const complexIn = xd[r - 1] === 2;
  if (xd[r - 1] !== 1 && xd[r - 1] !== 2) ctx.fail(OnnxErrorCodes.ONNX_INVALID, `the last dim must be 1 (real) or 2 (complex), got ${xd[r - 1]}`);
  const nIn = xd[sigAx];
  let n = nIn;
  const lenV = ctx.input(1);
  if (lenV) {
    if (lenV.kind !== 'host') ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, 'dft_length must be known at compile time');
    n = (lenV as { t: { data: Float64Array } }).t.data[0];
  }
  const irfft = onesided && inverse;
  // An inverse one-sided DFT reads n/2 + 1 bins of a Hermitian spectrum and returns n reals.
  if (irfft && !lenV) n = 2 * (nIn - 1);
  const nSig = irfft ? Math.floor(n / 2) + 1 : n;
  const nOut = irfft ? n : onesided ? Math.floor(n / 2) + 1 : n;
  let xe = exprOf(ctx, x);
  // Pad or crop the signal axis to the DFT length.
  if (nSig < nIn) xe = em(ctx, op.stridedSlice(xe, [sigAx], [0], [nSig]));
  else if (nSig > nIn) xe = em(ctx, op.pad(xe, xd.flatMap((_, i) => (i === sigAx ? [0, nSig - nIn] : [0, 0])), 0));
  // Move the signal axis to just before the [re, im] dim: [..., n, c].
  const perm = Array.from({ length: r }, (_, i) => i).filter((i) => i !== sigAx && i !== r - 1);
  perm.push(sigAx, r - 1);
  const moved = em(ctx, op.permuteDims(xe, perm));
  const re = em(ctx, op.squeeze(em(ctx, op.stridedSlice(moved, [r - 1], [0], [1])), [r - 1]));
  const im = complexIn ? em(ctx, op.squeeze(em(ctx, op.stridedSlice(moved, [r - 1], [1], [2])), [r - 1])) : undefined;
  // y_k = Σ_j x_j e^{∓2πi jk/n}: with C = cos, S = ±sin, y = (C·re + S·im) + i(C·im - S·re).
  // For irfft, bin k counts twice (it stands for its conjugate n - k) except DC and Nyquist.
  const sign = inverse ? -1 : 1;
  const Cm = new Float64Array(nSig * nOut);
  const Sm = new Float64Array(nSig * nOut);
  for (let j = 0; j < nSig; j++)
    for (let k = 0; k < nOut; k++) {
      const ang = (2 * Math.PI * ((j * k) % n)) / n;
      const w = irfft && j > 0 && 2 * j !== n ? 2 : 1;
      const scale = (inverse ? 1 / n : 1) * w;
      Cm[j * nOut + k] = Math.cos(ang) * scale;
      Sm[j * nOut + k] = sign * Math.sin(ang) * scale;
    }
  const C = exprOf(ctx, hostValue(hostTensor(dt, [nSig, nOut], Cm)));
  const S = exprOf(ctx, hostValue(hostTensor(dt, [nSig, nOut], Sm)));
  // re/im are [rest..., nSig] with the signal last after the squeeze.
  let yr = em(ctx, op.matmul(re, C));
  let yi = em(ctx, op.negative(em(ctx, op.matmul(re, S))));
  if (im) {
    yr = em(ctx, op.add(yr, em(ctx, op.matmul(im, S))));
    yi = em(ctx, op.add(yi, em(ctx, op.matmul(im, C))));
  }
  if (irfft) {
    const inv0 = new Array<number>(r);
    perm.forEach((p, i) => (inv0[p] = i));
    return exprValue(em(ctx, op.permuteDims(em(ctx, op.expandDims(yr, r - 1)), inv0)));
  }
  const y = em(ctx, op.concat([em(ctx, op.expandDims(yr, r - 1)), em(ctx, op.expandDims(yi, r - 1))], r - 1));
  // Back to the input's axis order.
  const inv = new Array<number>(r);
  perm.forEach((p, i) => (inv[p] = i));
  return exprValue(em(ctx, op.permuteDims(y, inv)));
}

export const MISC_CONVERTERS: ConverterDef[] = [
  ...many('ScatterND', V(11, 13, 16, 18), scatterNdConvert),
  ...many('ReverseSequence', V(10), reverseSequenceConvert),
  ...many('RotaryEmbedding', V(23), rotaryConvert),
  ...many('DFT', V(17, 20), dftConvert),
];
