// Default-domain ops not covered by the other converter files, composed from existing
// Relax operators: ScatterND and TensorScatter (scatter_elements, ScatterND flattened to
// 1-D), ReverseSequence (gather_elements with per-row reversed time indices),
// RotaryEmbedding, SwiGLU, DFT / STFT (matmuls with DFT matrices built at import time),
// AffineGrid, GridSample, DeformConv and RoiAlign (per-tap gathers from the flattened
// image), Det (cofactor expansion for n ≤ 3), MaxUnpool and Col2Im (scatters with
// import-time index maps), the opset-27 CausalConvWithState and LinearAttention
// (unrolled over the sequence), the Optional ops on plain tensors, and Unique,
// NonMaxSuppression and MelWeightMatrix on values known at import time (their output shapes depend on them).
// Static shapes are required where an index map or the result's shape depends on them;
// such cases fail with ONNX_DYNAMIC rather than guessing. Also the preview.training
// optimizers (Adagrad, Adam, Momentum) and ai.onnx.ml Binarizer / ArrayFeatureExtractor.
import type { Expr } from '@kiln/relax';
import { op } from '@kiln/relax';
import type { NodeContext, OnnxValue } from '../context.js';
import { dtypeOf, exprOf, exprValue, hostValue, isFloatName, staticDims } from '../context.js';
import { OnnxErrorCodes } from '../errors.js';
import { hostTensor, numel, stridesOf } from '../host.js';
import { kilnDType } from '../proto.js';
import type { ConverterDef } from '../registry.js';
import { many } from '../registry.js';
import { castTo, em, normAxis, scalar } from './common.js';

const V = (...v: number[]) => v;
/** An int64 constant tensor. */
const i64c = (ctx: NodeContext, shape: readonly number[], data: ArrayLike<number>): Expr =>
  exprOf(ctx, hostValue(hostTensor('int64', shape, data)));

/**
 * Scalar constants of one dtype, one object per value: a fused kernel then takes each
 * distinct value once instead of one buffer per use (kernels have a parameter limit).
 */
function scalarCache(dt: string): (v: number) => Expr {
  const m = new Map<number, Expr>();
  return (v) => {
    let e = m.get(v);
    if (!e) m.set(v, (e = scalar(v, dt)));
    return e;
  };
}

const REDUCTIONS: Record<string, 'update' | 'add' | 'mul' | 'min' | 'max'> = {
  none: 'update',
  add: 'add',
  mul: 'mul',
  min: 'min',
  max: 'max',
};

// ---------------------------------------------------------------- ScatterND

function scatterNdConvert(ctx: NodeContext): OnnxValue {
  const data = ctx.req(0);
  const dd = staticDims(ctx, data);
  const id = staticDims(ctx, ctx.req(1));
  const k = id[id.length - 1];
  if (k === undefined || k > dd.length)
    ctx.fail(OnnxErrorCodes.ONNX_INVALID, `indices' last dim ${k} exceeds the data rank ${dd.length}`);
  const red =
    REDUCTIONS[ctx.str('reduction', 'none')] ??
    ctx.unsupported(`reduction '${ctx.str('reduction', 'none')}'`);
  const n = numel(id.slice(0, -1));
  const slice = numel(dd.slice(k));
  const st = stridesOf(dd).slice(0, k);
  // Linear offsets of each indexed slice: Σ_j wrap(idx_j) · stride_j.
  let idx = castTo(ctx, ctx.req(1), 'int64');
  const dimVec = i64c(ctx, [k], dd.slice(0, k));
  idx = em(ctx, op.where(em(ctx, op.less(idx, scalar(0, 'int64'))), em(ctx, op.add(idx, dimVec)), idx));
  const lin = em(
    ctx,
    op.sum(em(ctx, op.multiply(idx, i64c(ctx, [k], st))), { axis: [id.length - 1], keepdims: false }),
  );
  const offs = em(
    ctx,
    op.add(
      em(ctx, op.reshape(lin, [n, 1])),
      i64c(
        ctx,
        [1, slice],
        Array.from({ length: slice }, (_, i) => i),
      ),
    ),
  );
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
  const t = i64c(
    ctx,
    tShape,
    Array.from({ length: T }, (_, i) => i),
  );
  const lens = em(
    ctx,
    op.reshape(
      castTo(ctx, ctx.req(1), 'int64'),
      d.map((v, i) => (i === ba ? v : 1)),
    ),
  );
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
  const cd = pos
    ? [...staticDims(ctx, pos), staticDims(ctx, ctx.req(1)).slice(-1)[0]]
    : staticDims(ctx, ctx.req(1));
  if (cd[cd.length - 1] !== half)
    ctx.fail(
      OnnxErrorCodes.ONNX_INVALID,
      `the cos/sin caches' last dim ${cd[cd.length - 1]} is not rotary_embedding_dim/2 = ${half}`,
    );
  cos = em(ctx, op.expandDims(castTo(ctx, exprValue(cos), dt), 2));
  sin = em(ctx, op.expandDims(castTo(ctx, exprValue(sin), dt), 2));
  const interleaved = ctx.int('interleaved', 0) === 1;
  const x1 = em(
    ctx,
    interleaved ? op.stridedSlice(xe, [3], [0], [rot], [2]) : op.stridedSlice(xe, [3], [0], [half]),
  );
  const x2 = em(
    ctx,
    interleaved ? op.stridedSlice(xe, [3], [1], [rot], [2]) : op.stridedSlice(xe, [3], [half], [rot]),
  );
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
  if (sigAx < 0 || sigAx >= r - 1)
    ctx.fail(OnnxErrorCodes.ONNX_INVALID, `axis ${axis} is not a signal axis of a rank-${r} input`);
  const complexIn = xd[r - 1] === 2;
  if (xd[r - 1] !== 1 && xd[r - 1] !== 2)
    ctx.fail(OnnxErrorCodes.ONNX_INVALID, `the last dim must be 1 (real) or 2 (complex), got ${xd[r - 1]}`);
  const nIn = xd[sigAx];
  let n = nIn;
  const lenV = ctx.input(1);
  if (lenV) {
    if (lenV.kind !== 'host')
      ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, 'dft_length must be known at compile time');
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
  else if (nSig > nIn)
    xe = em(
      ctx,
      op.pad(
        xe,
        xd.flatMap((_, i) => (i === sigAx ? [0, nSig - nIn] : [0, 0])),
        0,
      ),
    );
  // Move the signal axis to just before the [re, im] dim: [..., n, c].
  const perm = Array.from({ length: r }, (_, i) => i).filter((i) => i !== sigAx && i !== r - 1);
  perm.push(sigAx, r - 1);
  const moved = em(ctx, op.permuteDims(xe, perm));
  const re = em(ctx, op.squeeze(em(ctx, op.stridedSlice(moved, [r - 1], [0], [1])), [r - 1]));
  const im = complexIn
    ? em(ctx, op.squeeze(em(ctx, op.stridedSlice(moved, [r - 1], [1], [2])), [r - 1]))
    : undefined;
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

// ---------------------------------------------------------------- AffineGrid

/** Normalized sample coordinates of `n` points in [-1, 1]. */
function linspace(n: number, alignCorners: boolean): number[] {
  return Array.from({ length: n }, (_, i) =>
    alignCorners ? (n > 1 ? -1 + (2 * i) / (n - 1) : 0) : -1 + (2 * i + 1) / n,
  );
}

function affineGridConvert(ctx: NodeContext): OnnxValue {
  const theta = ctx.req(0);
  const size = hostInts(ctx, 1, 'size');
  const dt = dtypeOf(theta, ctx);
  const ac = ctx.int('align_corners', 0) === 1;
  const sp = size.slice(2);
  if (sp.length !== 2 && sp.length !== 3)
    ctx.fail(OnnxErrorCodes.ONNX_INVALID, `size must have 4 or 5 values, got ${size.length}`);
  const k = sp.length;
  // Base grid rows (x, y[, z], 1) with x along the last spatial dim.
  const axes = sp.map((n) => linspace(n, ac));
  const count = numel(sp);
  const base = new Float64Array(count * (k + 1));
  for (let p = 0; p < count; p++) {
    let rem = p;
    const idx = new Array<number>(k);
    for (let a = k - 1; a >= 0; a--) {
      idx[a] = rem % sp[a];
      rem = Math.floor(rem / sp[a]);
    }
    for (let c = 0; c < k; c++) base[p * (k + 1) + c] = axes[k - 1 - c][idx[k - 1 - c]];
    base[p * (k + 1) + k] = 1;
  }
  const b = exprOf(ctx, hostValue(hostTensor(dt, [count, k + 1], base)));
  const tT = em(ctx, op.permuteDims(exprOf(ctx, theta), [0, 2, 1]));
  const g = em(ctx, op.matmul(b, tT));
  return exprValue(em(ctx, op.reshape(g, [size[0], ...sp, k])));
}

/** Int values of an input known at import time. */
function hostInts(ctx: NodeContext, i: number, what: string): number[] {
  const v = ctx.req(i);
  if (v.kind !== 'host')
    return ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, `${what} must be known at compile time`);
  return Array.from(v.t.data);
}

// ---------------------------------------------------------------- Det

function detConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const d = staticDims(ctx, x);
  const n = d[d.length - 1];
  if (d.length < 2 || d[d.length - 2] !== n)
    ctx.fail(OnnxErrorCodes.ONNX_INVALID, 'input must be [..., n, n]');
  if (n > 3) ctx.unsupported(`Det of ${n}×${n} matrices (only n ≤ 3, by cofactor expansion)`);
  const r = d.length;
  const xe = exprOf(ctx, x);
  const a = (i: number, j: number): Expr =>
    em(ctx, op.reshape(em(ctx, op.stridedSlice(xe, [r - 2, r - 1], [i, j], [i + 1, j + 1])), d.slice(0, -2)));
  const mul = (p: Expr, q: Expr) => em(ctx, op.multiply(p, q));
  const sub = (p: Expr, q: Expr) => em(ctx, op.subtract(p, q));
  if (n === 1) return exprValue(a(0, 0));
  const det2 = (i0: number, i1: number, j0: number, j1: number) =>
    sub(mul(a(i0, j0), a(i1, j1)), mul(a(i0, j1), a(i1, j0)));
  if (n === 2) return exprValue(det2(0, 1, 0, 1));
  const t0 = mul(a(0, 0), det2(1, 2, 1, 2));
  const t1 = mul(a(0, 1), det2(1, 2, 0, 2));
  const t2 = mul(a(0, 2), det2(1, 2, 0, 1));
  return exprValue(em(ctx, op.add(sub(t0, t1), t2)));
}

// ---------------------------------------------------------------- MaxUnpool

function maxUnpoolConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const xd = staticDims(ctx, x);
  const n = xd.length - 2;
  const kernel =
    ctx.ints('kernel_shape') ?? ctx.fail(OnnxErrorCodes.ONNX_INVALID, 'kernel_shape is required');
  const strides = ctx.ints('strides') ?? new Array<number>(n).fill(1);
  const pads = ctx.ints('pads') ?? new Array<number>(2 * n).fill(0);
  const inferred = [
    xd[0],
    xd[1],
    ...xd.slice(2).map((v, i) => (v - 1) * strides[i] - pads[i] - pads[i + n] + kernel[i]),
  ];
  // The indices address the flattened inferred output (N and C included), as MaxPool
  // produces them; a larger output_shape holds that result in its leading corner.
  const total = numel(inferred);
  const vals = em(ctx, op.reshape(exprOf(ctx, x), [numel(xd)]));
  const idx = em(ctx, op.reshape(castTo(ctx, ctx.req(1), 'int64'), [numel(xd)]));
  const zeros = em(ctx, op.zeros([total], dtypeOf(x, ctx)));
  const y = em(ctx, op.reshape(em(ctx, op.scatterElements(zeros, idx, vals, 0, 'update')), inferred));
  if (!ctx.input(2)) return exprValue(y);
  const out = hostInts(ctx, 2, 'output_shape');
  if (out.length !== inferred.length || out.some((v, i) => v < inferred[i]))
    ctx.unsupported(`output_shape [${out.join(', ')}] smaller than the unpooled [${inferred.join(', ')}]`);
  if (out.every((v, i) => v === inferred[i])) return exprValue(y);
  return exprValue(
    em(
      ctx,
      op.pad(
        y,
        out.flatMap((v, i) => [0, v - inferred[i]]),
        0,
      ),
    ),
  );
}

// ---------------------------------------------------------------- Col2Im

function col2imConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const [N, CK, L] = staticDims(ctx, x);
  const img = hostInts(ctx, 1, 'image_shape');
  const blk = hostInts(ctx, 2, 'block_shape');
  const k = img.length;
  const dil = ctx.ints('dilations') ?? new Array<number>(k).fill(1);
  const pads = ctx.ints('pads') ?? new Array<number>(2 * k).fill(0);
  const strides = ctx.ints('strides') ?? new Array<number>(k).fill(1);
  const K = numel(blk);
  const C = CK / K;
  if (!Number.isInteger(C))
    ctx.fail(OnnxErrorCodes.ONNX_INVALID, `input dim 1 (${CK}) is not a multiple of the block size ${K}`);
  const nb = img.map(
    (v, i) => Math.floor((v + pads[i] + pads[i + k] - dil[i] * (blk[i] - 1) - 1) / strides[i]) + 1,
  );
  if (numel(nb) !== L)
    ctx.fail(
      OnnxErrorCodes.ONNX_INVALID,
      `input dim 2 (${L}) does not match the ${numel(nb)} blocks of the image`,
    );
  const P = numel(img);
  // Import-time map from each input element (c, kernel offset, block) to its image position;
  // positions in the padding go to an extra slot that is dropped afterwards.
  const map = new Float64Array(CK * L);
  const ist = stridesOf(img);
  for (let c = 0; c < C; c++)
    for (let ko = 0; ko < K; ko++)
      for (let l = 0; l < L; l++) {
        let remK = ko;
        let remL = l;
        let pos = 0;
        let inside = true;
        for (let a = k - 1; a >= 0; a--) {
          const kk = remK % blk[a];
          remK = Math.floor(remK / blk[a]);
          const bl = remL % nb[a];
          remL = Math.floor(remL / nb[a]);
          const p = bl * strides[a] + kk * dil[a] - pads[a];
          if (p < 0 || p >= img[a]) inside = false;
          pos += p * ist[a];
        }
        map[(c * K + ko) * L + l] = inside ? c * P + pos : C * P;
      }
  const idx = em(ctx, op.broadcastTo(i64c(ctx, [1, CK * L], map), [N, CK * L]));
  const vals = em(ctx, op.reshape(exprOf(ctx, x), [N, CK * L]));
  const zeros = em(ctx, op.zeros([N, C * P + 1], dtypeOf(x, ctx)));
  const sum = em(ctx, op.scatterElements(zeros, idx, vals, 1, 'add'));
  const cut = em(ctx, op.stridedSlice(sum, [1], [0], [C * P]));
  return exprValue(em(ctx, op.reshape(cut, [N, C, ...img])));
}

// ---------------------------------------------------------------- Unique

/** Unique on a value known at import time (the output shapes depend on the data). */
function uniqueConvert(ctx: NodeContext): OnnxValue[] {
  const x = ctx.req(0);
  if (x.kind !== 'host')
    ctx.fail(
      OnnxErrorCodes.ONNX_DYNAMIC,
      'Unique needs its input at compile time (its output shape depends on the values)',
    );
  const t = (x as { t: { dtype: string; shape: readonly number[]; data: Float64Array } }).t;
  const sorted = ctx.int('sorted', 1) === 1;
  const hasAxis = ctx.hasAttr('axis');
  const shape = hasAxis ? t.shape : [t.data.length];
  const axis = hasAxis ? normAxis(ctx, ctx.int('axis', 0), shape.length) : 0;
  const outer = numel(shape.slice(0, axis));
  const n = shape[axis];
  const inner = numel(shape.slice(axis + 1));
  const sliceOf = (i: number): number[] => {
    const v: number[] = [];
    for (let o = 0; o < outer; o++) for (let q = 0; q < inner; q++) v.push(t.data[(o * n + i) * inner + q]);
    return v;
  };
  const slices = Array.from({ length: n }, (_, i) => sliceOf(i));
  const key = (v: number[]) => v.join(',');
  const first = new Map<string, number>();
  const counts = new Map<string, number>();
  slices.forEach((v, i) => {
    const kk = key(v);
    if (!first.has(kk)) first.set(kk, i);
    counts.set(kk, (counts.get(kk) ?? 0) + 1);
  });
  let order = [...first.values()];
  if (sorted) {
    order = order.sort((a, b) => {
      const va = slices[a];
      const vb = slices[b];
      for (let q = 0; q < va.length; q++) if (va[q] !== vb[q]) return va[q] - vb[q];
      return 0;
    });
  }
  const pos = new Map(order.map((i, j) => [key(slices[i]), j]));
  const m = order.length;
  const yShape = [...shape];
  yShape[axis] = m;
  const y = new Float64Array(numel(yShape));
  order.forEach((src, j) => {
    for (let o = 0; o < outer; o++)
      for (let q = 0; q < inner; q++) y[(o * m + j) * inner + q] = t.data[(o * n + src) * inner + q];
  });
  return [
    hostValue(hostTensor(t.dtype, yShape, y)),
    hostValue(hostTensor('int64', [m], order)),
    hostValue(
      hostTensor(
        'int64',
        [n],
        slices.map((v) => pos.get(key(v))!),
      ),
    ),
    hostValue(
      hostTensor(
        'int64',
        [m],
        order.map((i) => counts.get(key(slices[i]))!),
      ),
    ),
  ];
}

// ---------------------------------------------------------------- Optional (tensors only)

/** Kiln has no optional values: a present tensor is "some", an absent input is "none". */
function optionalHasElementConvert(ctx: NodeContext): OnnxValue {
  return hostValue(hostTensor('bool', [], [ctx.input(0) ? 1 : 0]));
}
function optionalGetElementConvert(ctx: NodeContext): OnnxValue {
  const v = ctx.input(0);
  if (!v) return ctx.fail(OnnxErrorCodes.ONNX_INVALID, 'OptionalGetElement of an empty optional');
  return v;
}
function optionalConvert(ctx: NodeContext): OnnxValue {
  const v = ctx.input(0);
  if (!v) return ctx.unsupported('an empty optional (Kiln has no optional values)');
  return v;
}

// ---------------------------------------------------------------- SwiGLU, TensorScatter

function swigluConvert(ctx: NodeContext): OnnxValue {
  const a = exprOf(ctx, ctx.req(0));
  const b = exprOf(ctx, ctx.req(1));
  const dt = dtypeOf(ctx.req(0), ctx);
  const alpha = ctx.float('alpha', 1);
  const gate = em(ctx, op.sigmoid(alpha === 1 ? a : em(ctx, op.multiply(a, scalar(alpha, dt)))));
  return exprValue(em(ctx, op.multiply(em(ctx, op.multiply(a, gate)), b)));
}

/** Writes `update` into the cache along `axis` at each batch row's write index (mod the length if circular). */
function tensorScatterConvert(ctx: NodeContext): OnnxValue {
  const cache = ctx.req(0);
  const cd = staticDims(ctx, cache);
  const ud = staticDims(ctx, ctx.req(1));
  const r = cd.length;
  const axis = normAxis(ctx, ctx.int('axis', -2), r);
  if (axis === 0) ctx.fail(OnnxErrorCodes.ONNX_INVALID, 'axis must not be the batch axis');
  const mode = ctx.str('mode', 'linear');
  if (mode !== 'linear' && mode !== 'circular') ctx.fail(OnnxErrorCodes.ONNX_INVALID, `mode '${mode}'`);
  const S = ud[axis];
  const s = i64c(
    ctx,
    ud.map((_, i) => (i === axis ? S : 1)),
    Array.from({ length: S }, (_, i) => i),
  );
  const w = ctx.input(2);
  let idx = s;
  if (w)
    idx = em(
      ctx,
      op.add(
        em(
          ctx,
          op.reshape(
            castTo(ctx, w, 'int64'),
            ud.map((v, i) => (i === 0 ? v : 1)),
          ),
        ),
        s,
      ),
    );
  if (mode === 'circular') idx = em(ctx, op.floorMod(idx, scalar(cd[axis], 'int64')));
  const full = em(ctx, op.broadcastTo(idx, ud));
  return exprValue(
    em(ctx, op.scatterElements(exprOf(ctx, cache), full, exprOf(ctx, ctx.req(1)), axis, 'update')),
  );
}

// ---------------------------------------------------------------- GridSample

/**
 * GridSample on 2-D or 3-D images: per output point and spatial dim the grid value is
 * turned into a pixel coordinate (with border clamping or reflection when it falls outside),
 * then every interpolation tap (1 nearest, 2^k linear, 4^k cubic) gathers its pixel from
 * the flattened image with padding applied to the tap index, weighted and summed.
 */
function gridSampleConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const xd = staticDims(ctx, x);
  const gd = staticDims(ctx, ctx.req(1));
  const k = xd.length - 2;
  if (k < 1 || gd[gd.length - 1] !== k)
    ctx.fail(
      OnnxErrorCodes.ONNX_INVALID,
      `grid's last dim ${gd[gd.length - 1]} must equal the ${k} spatial dims`,
    );
  let mode = ctx.str('mode', ctx.opset >= 20 ? 'linear' : 'bilinear');
  if (mode === 'bilinear') mode = 'linear';
  if (mode === 'bicubic') mode = 'cubic';
  if (!['nearest', 'linear', 'cubic'].includes(mode)) ctx.fail(OnnxErrorCodes.ONNX_INVALID, `mode '${mode}'`);
  if (mode === 'cubic' && k !== 2) ctx.unsupported('cubic GridSample of a non-2-D image');
  const pad = ctx.str('padding_mode', 'zeros');
  if (!['zeros', 'border', 'reflection'].includes(pad))
    ctx.fail(OnnxErrorCodes.ONNX_INVALID, `padding_mode '${pad}'`);
  const ac = ctx.int('align_corners', 0) === 1;
  const [N, C] = xd;
  const sp = xd.slice(2);
  const outSp = gd.slice(1, -1);
  const P = numel(outSp);
  const dt = 'float32';
  const c = scalarCache(dt);
  const e = (v: Expr): Expr => em(ctx, v);
  const grid = e(op.reshape(castTo(ctx, ctx.req(1), dt), [N, P, k]));
  /** Reflect v into [lo, hi] by bouncing off the near border (as the onnx reference does). */
  const reflect = (v: Expr, lo: number, hi: number): Expr => {
    const rng = hi - lo;
    if (rng <= 0) return e(op.fullLike(v, c(lo)));
    const below = e(op.less(v, c(lo)));
    const above = e(op.greater(v, c(hi)));
    const dx = e(op.where(below, e(op.subtract(c(lo), v)), e(op.subtract(v, c(hi)))));
    const nb = e(op.floor(e(op.divide(dx, c(rng)))));
    const rem = e(op.subtract(dx, e(op.multiply(nb, c(rng)))));
    const even = e(op.equal(e(op.floorMod(nb, c(2))), c(0)));
    const lowSide = e(op.where(even, e(op.add(c(lo), rem)), e(op.subtract(c(hi), rem))));
    const highSide = e(op.where(even, e(op.subtract(c(hi), rem)), e(op.add(c(lo), rem))));
    return e(op.where(below, lowSide, e(op.where(above, highSide, v))));
  };
  // Pixel coordinates per spatial dim i (0 = outermost), [N, P]; the grid lists x (innermost) first.
  const coords = sp.map((d, i) => {
    const g = e(op.squeeze(e(op.stridedSlice(grid, [2], [k - 1 - i], [k - i])), [2]));
    let v = ac
      ? e(op.multiply(e(op.add(g, c(1))), c((d - 1) / 2)))
      : e(op.divide(e(op.subtract(e(op.multiply(e(op.add(g, c(1))), c(d))), c(1))), c(2)));
    if (mode === 'nearest') v = e(op.round(v));
    const lo = ac ? 0 : -0.5;
    const hi = ac ? d - 1 : d - 0.5;
    if (pad === 'border')
      v = e(
        op.where(e(op.logicalOr(e(op.less(v, c(lo))), e(op.greater(v, c(hi))))), e(op.clip(v, 0, d - 1)), v),
      );
    else if (pad === 'reflection') v = reflect(v, lo, hi);
    return v;
  });
  /** An integer-valued tap coordinate → clamped index and (zeros padding) validity. */
  const tapIndex = (j: Expr, i: number): [Expr, Expr | undefined] => {
    const d = sp[i];
    if (pad === 'zeros')
      return [e(op.clip(j, 0, d - 1)), e(op.logicalAnd(e(op.greaterEqual(j, c(0))), e(op.less(j, c(d)))))];
    if (pad === 'border') return [e(op.clip(j, 0, d - 1)), undefined];
    const lo = ac ? 0 : -0.5;
    const hi = ac ? d - 1 : d - 0.5;
    return [e(op.clip(e(op.trunc(reflect(j, lo, hi))), 0, d - 1)), undefined];
  };
  // Per dim: the tap coordinates and their weights.
  const A = -0.75;
  const taps = coords.map((v) => {
    if (mode === 'nearest') return [{ j: e(op.trunc(v)), w: undefined as Expr | undefined }];
    const x0 = e(op.floor(v));
    const t = e(op.subtract(v, x0));
    if (mode === 'linear')
      return [
        { j: x0, w: e(op.subtract(c(1), t)) },
        { j: e(op.add(x0, c(1))), w: t },
      ];
    // Keys cubic kernel with A = -0.75 at distances 1 + t, t, 1 - t, 2 - t.
    const far = (s: Expr) =>
      e(
        op.subtract(
          e(
            op.multiply(
              e(op.add(e(op.multiply(e(op.subtract(e(op.multiply(s, c(A))), c(5 * A))), s)), c(8 * A))),
              s,
            ),
          ),
          c(4 * A),
        ),
      );
    const near = (s: Expr) =>
      e(
        op.add(
          e(op.multiply(e(op.multiply(e(op.subtract(e(op.multiply(s, c(A + 2))), c(A + 3))), s)), s)),
          c(1),
        ),
      );
    const omt = e(op.subtract(c(1), t));
    return [
      { j: e(op.subtract(x0, c(1))), w: far(e(op.add(t, c(1)))) },
      { j: x0, w: near(t) },
      { j: e(op.add(x0, c(1))), w: near(omt) },
      { j: e(op.add(x0, c(2))), w: far(e(op.subtract(c(2), t))) },
    ];
  });
  const st = stridesOf(sp);
  const img = e(op.reshape(castTo(ctx, x, dt), [N, C, numel(sp)]));
  let acc: Expr | undefined;
  const combos = taps.reduce<number[][]>((cs, tl) => cs.flatMap((cc) => tl.map((_, q) => [...cc, q])), [[]]);
  for (const combo of combos) {
    let lin: Expr | undefined;
    let valid: Expr | undefined;
    let w: Expr | undefined;
    combo.forEach((q, i) => {
      const tp = taps[i][q];
      const [ji, ok] = tapIndex(tp.j, i);
      const term = st[i] === 1 ? ji : e(op.multiply(ji, c(st[i])));
      lin = lin ? e(op.add(lin, term)) : term;
      if (ok) valid = valid ? e(op.logicalAnd(valid, ok)) : ok;
      if (tp.w) w = w ? e(op.multiply(w, tp.w)) : tp.w;
    });
    const li = e(op.broadcastTo(e(op.reshape(e(op.astype(lin!, 'int64')), [N, 1, P])), [N, C, P]));
    let val = e(op.gatherElements(img, li, 2));
    let f: Expr | undefined = w;
    if (valid) {
      const m = e(op.astype(valid, dt));
      f = f ? e(op.multiply(f, m)) : m;
    }
    if (f) val = e(op.multiply(val, e(op.reshape(f, [N, 1, P]))));
    acc = acc ? e(op.add(acc, val)) : val;
  }
  let y = e(op.reshape(acc!, [N, C, ...outSp]));
  const xdt = dtypeOf(x, ctx);
  if (xdt !== dt) y = e(op.astype(y, xdt));
  return exprValue(y);
}

// ---------------------------------------------------------------- CausalConvWithState, LinearAttention

/** Depthwise causal conv1d over [past_state, input]; the new state is the last k-1 steps. */
function causalConvConvert(ctx: NodeContext): OnnxValue[] {
  const x = ctx.req(0);
  const [B, C] = staticDims(ctx, x);
  const wd = staticDims(ctx, ctx.req(1));
  const k = wd[2];
  const dt = dtypeOf(x, ctx);
  const act = ctx.str('activation', 'none');
  if (!['none', 'silu', 'swish'].includes(act)) ctx.fail(OnnxErrorCodes.ONNX_INVALID, `activation '${act}'`);
  const past = ctx.input(3);
  const xe = exprOf(ctx, x);
  const padded =
    k > 1 ? em(ctx, op.concat([past ? exprOf(ctx, past) : em(ctx, op.zeros([B, C, k - 1], dt)), xe], 2)) : xe;
  // The reference accumulates half-precision convolutions in float32 and rounds once.
  const f32 = (v: Expr): Expr => (dt === 'float32' ? v : em(ctx, op.astype(v, 'float32')));
  let y = em(ctx, op.conv1d(f32(padded), castTo(ctx, ctx.req(1), 'float32'), { groups: C }));
  const b = ctx.input(2);
  if (b) y = em(ctx, op.add(y, em(ctx, op.reshape(castTo(ctx, b, 'float32'), [C, 1]))));
  if (dt !== 'float32') y = em(ctx, op.astype(y, dt));
  if (act !== 'none') {
    // SiLU in float32 on the conv result rounded to the input type.
    const yf = f32(y);
    const s = em(ctx, op.multiply(yf, em(ctx, op.sigmoid(yf))));
    y = dt === 'float32' ? s : em(ctx, op.astype(s, dt));
  }
  const total = staticDims(ctx, x)[2] + k - 1;
  const state = em(ctx, op.stridedSlice(padded, [2], [total - (k - 1)], [total]));
  return [exprValue(y), exprValue(state)];
}

/**
 * LinearAttention unrolled over the (static) sequence: a [d_k, d_v] state per kv head is
 * decayed (gated rules), corrected by the delta rule, updated with kᵀv and read by q.
 */
function linearAttentionConvert(ctx: NodeContext): OnnxValue[] {
  const q = ctx.req(0);
  const [B, T, qhd] = staticDims(ctx, q);
  const vd = staticDims(ctx, ctx.req(2));
  const hq = ctx.int('q_num_heads', 0);
  const hkv = ctx.int('kv_num_heads', 0);
  if (hq <= 0 || hkv <= 0 || hq % hkv !== 0)
    ctx.fail(
      OnnxErrorCodes.ONNX_INVALID,
      `q_num_heads ${hq} must be a positive multiple of kv_num_heads ${hkv}`,
    );
  const rule = ctx.str('update_rule', 'gated_delta');
  if (!['linear', 'gated', 'delta', 'gated_delta'].includes(rule))
    ctx.fail(OnnxErrorCodes.ONNX_INVALID, `update_rule '${rule}'`);
  const gating = rule.startsWith('gated');
  const delta = rule.endsWith('delta');
  const dk = qhd / hq;
  const dv = vd[2] / hkv;
  const group = hq / hkv;
  const f = 'float32';
  const e = (v: Expr): Expr => em(ctx, v);
  const heads = (v: OnnxValue, h: number, d: number): Expr =>
    e(op.permuteDims(e(op.reshape(castTo(ctx, v, f), [B, T, h, d])), [0, 2, 1, 3]));
  const q4 = heads(q, hq, dk);
  const k4 = heads(ctx.req(1), hkv, dk);
  const v4 = heads(ctx.req(2), hkv, dv);
  let decay4: Expr | undefined;
  if (gating) {
    const dv0 = ctx.input(4) ?? ctx.fail(OnnxErrorCodes.ONNX_INVALID, `update_rule '${rule}' needs decay`);
    const last = staticDims(ctx, dv0)[2];
    decay4 = heads(dv0, hkv, last === hkv ? 1 : dk);
  }
  let beta4: Expr | undefined;
  if (delta) {
    const bv = ctx.input(5) ?? ctx.fail(OnnxErrorCodes.ONNX_INVALID, `update_rule '${rule}' needs beta`);
    beta4 = heads(bv, staticDims(ctx, bv)[2], 1);
  }
  const past = ctx.input(3);
  let state = past ? castTo(ctx, past, f) : e(op.zeros([B, hkv, dk, dv], f));
  const sc = ctx.float('scale', 0) || 1 / Math.sqrt(dk);
  const at = (x: Expr, t: number): Expr => e(op.squeeze(e(op.stridedSlice(x, [2], [t], [t + 1])), [2]));
  const outs: Expr[] = [];
  for (let t = 0; t < T; t++) {
    const kt = at(k4, t);
    let vt = at(v4, t);
    if (decay4) state = e(op.multiply(state, e(op.expandDims(e(op.exp(at(decay4, t))), 3))));
    if (beta4) {
      const retrieved = e(op.squeeze(e(op.matmul(e(op.expandDims(kt, 2)), state)), [2]));
      vt = e(op.multiply(at(beta4, t), e(op.subtract(vt, retrieved))));
    }
    state = e(op.add(state, e(op.multiply(e(op.expandDims(kt, 3)), e(op.expandDims(vt, 2))))));
    const read = group === 1 ? state : e(op.repeat(state, group, 1));
    outs.push(e(op.multiply(e(op.matmul(e(op.expandDims(at(q4, t), 2)), read)), scalar(sc, f))));
  }
  const all = outs.length === 1 ? outs[0] : e(op.concat(outs, 2)); // [B, Hq, T, dv]
  const y = e(op.reshape(e(op.permuteDims(all, [0, 2, 1, 3])), [B, T, hq * dv]));
  const qdt = dtypeOf(q, ctx);
  const sdt = past ? dtypeOf(past, ctx) : qdt;
  return [
    exprValue(qdt === f ? y : e(op.astype(y, qdt))),
    exprValue(sdt === f ? state : e(op.astype(state, sdt))),
  ];
}

// ---------------------------------------------------------------- NonMaxSuppression

/** IoU-suppression test of two boxes, in float32 arithmetic like the onnx reference. */
function suppressed(a: ArrayLike<number>, b: ArrayLike<number>, center: boolean, thr: number): boolean {
  const f = Math.fround;
  const span = (box: ArrayLike<number>, i: number): [number, number] => {
    if (center) {
      const h = f(box[i + 2] / 2);
      return [f(box[i] - h), f(box[i] + h)];
    }
    // Corner boxes: (y1, x1, y2, x2) with either corner first.
    const p = box[i === 0 ? 1 : 0];
    const q = box[i === 0 ? 3 : 2];
    return p >= q ? [q, p] : [p, q];
  };
  const [ax0, ax1] = span(a, 0);
  const [bx0, bx1] = span(b, 0);
  const ix0 = Math.max(ax0, bx0);
  const ix1 = Math.min(ax1, bx1);
  if (ix1 <= ix0) return false;
  const [ay0, ay1] = span(a, 1);
  const [by0, by1] = span(b, 1);
  const iy0 = Math.max(ay0, by0);
  const iy1 = Math.min(ay1, by1);
  if (iy1 <= iy0) return false;
  const inter = f(f(ix1 - ix0) * f(iy1 - iy0));
  if (inter <= 0) return false;
  const area1 = f(f(ax1 - ax0) * f(ay1 - ay0));
  const area2 = f(f(bx1 - bx0) * f(by1 - by0));
  const union = f(f(area1 + area2) - inter);
  if (area1 <= 0 || area2 <= 0 || union <= 0) return false;
  return f(inter / union) > thr;
}

/** NonMaxSuppression on boxes and scores known at import time (the output length depends on them). */
function nmsConvert(ctx: NodeContext): OnnxValue {
  const host = (i: number): Float64Array | undefined => {
    const v = ctx.input(i);
    if (!v) return undefined;
    if (v.kind !== 'host')
      return ctx.fail(
        OnnxErrorCodes.ONNX_DYNAMIC,
        'NonMaxSuppression needs its inputs at compile time (the number of selected boxes depends on them)',
      );
    return v.t.data;
  };
  const boxes = host(0)!;
  const scores = host(1)!;
  const [nb, nBox] = staticDims(ctx, ctx.req(0));
  const nCls = staticDims(ctx, ctx.req(1))[1];
  const maxOut = Math.max(0, host(2)?.[0] ?? 0);
  const iou = host(3)?.[0] ?? 0;
  const st = host(4);
  const center = ctx.int('center_point_box', 0) === 1;
  const sel: number[] = [];
  for (let b = 0; b < nb; b++)
    for (let c = 0; c < nCls; c++) {
      const sc = (i: number) => scores[(b * nCls + c) * nBox + i];
      let cand = Array.from({ length: nBox }, (_, i) => i);
      if (st) cand = cand.filter((i) => sc(i) > st[0]);
      // Highest score first; ties keep the lower box index first.
      cand.sort((i, j) => sc(j) - sc(i) || i - j);
      const kept: number[] = [];
      for (const i of cand) {
        if (kept.length >= maxOut) break;
        const bi = boxes.subarray((b * nBox + i) * 4, (b * nBox + i) * 4 + 4);
        if (
          kept.some((j) =>
            suppressed(bi, boxes.subarray((b * nBox + j) * 4, (b * nBox + j) * 4 + 4), center, iou),
          )
        )
          continue;
        kept.push(i);
        sel.push(b, c, i);
      }
    }
  return hostValue(hostTensor('int64', [sel.length / 3, 3], sel));
}

// ---------------------------------------------------------------- STFT, MelWeightMatrix

/** Forward DFT of [..., n, c] (c = 1 real or 2 complex) along the n axis → [..., bins, 2]. */
function forwardDftLast(
  ctx: NodeContext,
  xe: Expr,
  r: number,
  n: number,
  complexIn: boolean,
  onesided: boolean,
  dt: string,
): Expr {
  const bins = onesided ? Math.floor(n / 2) + 1 : n;
  const Cm = new Float64Array(n * bins);
  const Sm = new Float64Array(n * bins);
  for (let j = 0; j < n; j++)
    for (let k = 0; k < bins; k++) {
      const ang = (2 * Math.PI * ((j * k) % n)) / n;
      Cm[j * bins + k] = Math.cos(ang);
      Sm[j * bins + k] = Math.sin(ang);
    }
  const C = exprOf(ctx, hostValue(hostTensor(dt, [n, bins], Cm)));
  const S = exprOf(ctx, hostValue(hostTensor(dt, [n, bins], Sm)));
  const part = (i: number): Expr =>
    em(ctx, op.squeeze(em(ctx, op.stridedSlice(xe, [r - 1], [i], [i + 1])), [r - 1]));
  const re = part(0);
  let yr = em(ctx, op.matmul(re, C));
  let yi = em(ctx, op.negative(em(ctx, op.matmul(re, S))));
  if (complexIn) {
    const im = part(1);
    yr = em(ctx, op.add(yr, em(ctx, op.matmul(im, S))));
    yi = em(ctx, op.add(yi, em(ctx, op.matmul(im, C))));
  }
  return em(ctx, op.concat([em(ctx, op.expandDims(yr, r - 1)), em(ctx, op.expandDims(yi, r - 1))], r - 1));
}

function stftConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const [B, L, c] = staticDims(ctx, x);
  const dt = dtypeOf(x, ctx);
  const step = hostInts(ctx, 1, 'frame_step')[0];
  const win = ctx.input(2);
  const fl = ctx.input(3) ? hostInts(ctx, 3, 'frame_length')[0] : win ? staticDims(ctx, win)[0] : L;
  const onesided = ctx.int('onesided', 1) === 1;
  if (step <= 0 || fl <= 0 || fl > L)
    ctx.fail(
      OnnxErrorCodes.ONNX_INVALID,
      `frame_step ${step} / frame_length ${fl} do not fit a signal of length ${L}`,
    );
  const frames = 1 + Math.floor((L - fl) / step);
  const idx = Array.from({ length: frames * fl }, (_, p) => Math.floor(p / fl) * step + (p % fl));
  let fr = em(ctx, op.take(exprOf(ctx, x), i64c(ctx, [frames, fl], idx), 1)); // [B, frames, fl, c]
  if (win) fr = em(ctx, op.multiply(fr, em(ctx, op.reshape(castTo(ctx, win, dt), [fl, 1]))));
  void B;
  return exprValue(forwardDftLast(ctx, fr, 4, fl, c === 2, onesided, dt));
}

function melWeightConvert(ctx: NodeContext): OnnxValue {
  const num = (i: number, what: string): number => {
    const v = ctx.req(i);
    if (v.kind !== 'host')
      return ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, `${what} must be known at compile time`);
    return v.t.data[0];
  };
  const nMel = num(0, 'num_mel_bins');
  const dftLen = num(1, 'dft_length');
  const rate = num(2, 'sample_rate');
  const lo = num(3, 'lower_edge_hertz');
  const hi = num(4, 'upper_edge_hertz');
  const outDT = ctx.hasAttr('output_datatype')
    ? kilnDType(ctx.int('output_datatype', 1), `${ctx.where} 'output_datatype'`)
    : 'float32';
  const nSpec = Math.floor(dftLen / 2) + 1;
  const toMel = (hz: number) => (2595 * Math.log1p(hz / 700)) / Math.LN10;
  const mlo = toMel(lo);
  const step = (toMel(hi) - mlo) / (nMel + 2);
  // Triangle corners as spectrogram bin numbers.
  const bins = Array.from({ length: nMel + 2 }, (_, i) =>
    Math.trunc(Math.floor(((dftLen + 1) * 700 * Math.expm1(((i * step + mlo) / 2595) * Math.LN10)) / rate)),
  );
  const out = new Float64Array(nSpec * nMel);
  for (let i = 0; i < nMel; i++) {
    const [l, cpt, h] = [bins[i], bins[i + 1], bins[i + 2]];
    if (cpt === l) out[cpt * nMel + i] = 1;
    else for (let j = l; j <= cpt; j++) out[j * nMel + i] = (j - l) / (cpt - l);
    if (h > cpt) for (let j = cpt; j < h; j++) out[j * nMel + i] = (h - j) / (h - cpt);
  }
  return hostValue(hostTensor(outDT, [nSpec, nMel], out));
}

// ---------------------------------------------------------------- DeformConv

/**
 * 2-D deformable convolution: every (offset group, kernel tap) samples the input
 * bilinearly at its run-time offset position (corners outside the image read 0), the
 * samples (times the optional mask) form an im2col matrix, and a grouped matmul with the
 * weights finishes the convolution.
 */
function deformConvConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const xd = staticDims(ctx, x);
  if (xd.length !== 4) ctx.unsupported(`DeformConv of a rank-${xd.length} input (only 2-D images)`);
  const [N, C, H, W] = xd;
  const wd = staticDims(ctx, ctx.req(1));
  const [OC, Cg] = wd;
  const kernel = ctx.ints('kernel_shape') ?? wd.slice(2);
  const [kH, kW] = kernel;
  const strides = ctx.ints('strides') ?? [1, 1];
  const dil = ctx.ints('dilations') ?? [1, 1];
  const pads = ctx.ints('pads') ?? [0, 0, 0, 0];
  const group = ctx.int('group', 1);
  const og = ctx.int('offset_group', 1);
  if (Cg * group !== C || OC % group !== 0 || C % og !== 0)
    ctx.fail(
      OnnxErrorCodes.ONNX_INVALID,
      `channel counts C=${C}, W=[${wd.join(', ')}], group=${group}, offset_group=${og} disagree`,
    );
  const oH = Math.floor((H + pads[0] + pads[2] - dil[0] * (kH - 1) - 1) / strides[0]) + 1;
  const oW = Math.floor((W + pads[1] + pads[3] - dil[1] * (kW - 1) - 1) / strides[1]) + 1;
  const P = oH * oW;
  const K = kH * kW;
  const dt = dtypeOf(x, ctx);
  const c = scalarCache(dt);
  const e = (v: Expr): Expr => em(ctx, v);
  const off = e(op.reshape(exprOf(ctx, ctx.req(2)), [N, og * K * 2, P]));
  const maskV = ctx.input(4);
  const mask = maskV ? e(op.reshape(exprOf(ctx, maskV), [N, og * K, P])) : undefined;
  const img = e(op.reshape(exprOf(ctx, x), [N, C, H * W]));
  const Cog = C / og;
  // Base sampling positions of the output grid (before offsets), [1, P].
  const baseY = Array.from({ length: P }, (_, p) => Math.floor(p / oW) * strides[0] - pads[0]);
  const baseX = Array.from({ length: P }, (_, p) => (p % oW) * strides[1] - pads[1]);
  const row = (ch: number, t: Expr): Expr => e(op.stridedSlice(t, [1], [ch], [ch + 1])); // [N, 1, P]
  // A base position row moved by one kernel tap, as a [1, 1, P] constant.
  const shifted = (base: readonly number[], d: number): Expr =>
    exprOf(
      ctx,
      hostValue(
        hostTensor(
          dt,
          [1, 1, P],
          base.map((v) => v + d),
        ),
      ),
    );
  const perGroup: Expr[] = [];
  for (let g = 0; g < og; g++) {
    const chans = e(op.stridedSlice(img, [1], [g * Cog], [(g + 1) * Cog])); // [N, Cog, HW]
    const taps: Expr[] = [];
    for (let i = 0; i < kH; i++)
      for (let j = 0; j < kW; j++) {
        const k = i * kW + j;
        const by = shifted(baseY, i * dil[0]);
        const bx = shifted(baseX, j * dil[1]);
        const y = e(op.add(by, row((g * K + k) * 2, off)));
        const xx = e(op.add(bx, row((g * K + k) * 2 + 1, off)));
        const y0 = e(op.floor(y));
        const x0 = e(op.floor(xx));
        const ty = e(op.subtract(y, y0));
        const tx = e(op.subtract(xx, x0));
        let acc: Expr | undefined;
        for (const [dy, dx] of [
          [0, 0],
          [0, 1],
          [1, 0],
          [1, 1],
        ]) {
          const yi = dy ? e(op.add(y0, c(1))) : y0;
          const xi = dx ? e(op.add(x0, c(1))) : x0;
          const wy = dy ? ty : e(op.subtract(c(1), ty));
          const wx = dx ? tx : e(op.subtract(c(1), tx));
          const inside = e(
            op.logicalAnd(
              e(op.logicalAnd(e(op.greaterEqual(yi, c(0))), e(op.less(yi, c(H))))),
              e(op.logicalAnd(e(op.greaterEqual(xi, c(0))), e(op.less(xi, c(W))))),
            ),
          );
          const lin = e(op.add(e(op.multiply(e(op.clip(yi, 0, H - 1)), c(W))), e(op.clip(xi, 0, W - 1))));
          const li = e(op.broadcastTo(e(op.astype(lin, 'int64')), [N, Cog, P]));
          const wgt = e(op.multiply(e(op.multiply(wy, wx)), e(op.astype(inside, dt))));
          const v = e(op.multiply(e(op.gatherElements(chans, li, 2)), wgt));
          acc = acc ? e(op.add(acc, v)) : v;
        }
        if (mask) acc = e(op.multiply(acc!, row(g * K + k, mask)));
        taps.push(e(op.expandDims(acc!, 2))); // [N, Cog, 1, P]
      }
    perGroup.push(e(op.concat(taps, 2))); // [N, Cog, K, P]
  }
  const cols = e(
    op.reshape(perGroup.length === 1 ? perGroup[0] : e(op.concat(perGroup, 1)), [N, group, Cg * K, P]),
  );
  const wm = e(op.reshape(exprOf(ctx, ctx.req(1)), [group, OC / group, Cg * K]));
  let y = e(op.reshape(e(op.matmul(wm, cols)), [N, OC, oH, oW]));
  const b = ctx.input(3);
  if (b) y = e(op.add(y, e(op.reshape(exprOf(ctx, b), [OC, 1, 1]))));
  return exprValue(y);
}

// ---------------------------------------------------------------- RoiAlign

/**
 * RoiAlign with a fixed sampling_ratio: sample positions are computed from the run-time
 * rois, each sample reads its 4 bilinear corners of the roi's image (clamped at the last
 * row/column, zero outside [-1, size]), and bins average (or take the max of the weighted
 * corners, as ONNX defines max mode) over their sampling grid.
 */
function roiAlignConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const [, C, H, W] = staticDims(ctx, x);
  const [R] = staticDims(ctx, ctx.req(1));
  const oh = ctx.int('output_height', 1);
  const ow = ctx.int('output_width', 1);
  const sr = ctx.int('sampling_ratio', 0);
  if (sr <= 0) ctx.unsupported('sampling_ratio 0 (the adaptive sample count depends on the roi values)');
  const scale = ctx.float('spatial_scale', 1);
  const mode = ctx.str('mode', 'avg');
  if (mode !== 'avg' && mode !== 'max') ctx.fail(OnnxErrorCodes.ONNX_INVALID, `mode '${mode}'`);
  const halfPixel =
    (ctx.opset >= 16 ? ctx.str('coordinate_transformation_mode', 'half_pixel') : 'output_half_pixel') ===
    'half_pixel';
  const dt = dtypeOf(x, ctx);
  const c = scalarCache(dt);
  const e = (v: Expr): Expr => em(ctx, v);
  const rois = castTo(ctx, ctx.req(1), dt);
  const col = (i: number): Expr =>
    e(
      op.subtract(
        e(op.multiply(e(op.stridedSlice(rois, [1], [i], [i + 1])), c(scale))),
        c(halfPixel ? 0.5 : 0),
      ),
    ); // [R, 1]
  const [x1, y1, x2, y2] = [0, 1, 2, 3].map(col);
  let rw = e(op.subtract(x2, x1));
  let rh = e(op.subtract(y2, y1));
  if (!halfPixel) {
    rw = e(op.maximum(rw, c(1)));
    rh = e(op.maximum(rh, c(1)));
  }
  const frac = (n: number): Expr =>
    exprOf(
      ctx,
      hostValue(
        hostTensor(
          dt,
          [1, n * sr],
          Array.from({ length: n * sr }, (_, q) => Math.floor(q / sr) + ((q % sr) + 0.5) / sr),
        ),
      ),
    );
  // Sample coordinates: y [R, oh·sr, 1], x [R, 1, ow·sr].
  const ys = e(op.expandDims(e(op.add(y1, e(op.multiply(frac(oh), e(op.divide(rh, c(oh))))))), 2));
  const xs = e(op.expandDims(e(op.add(x1, e(op.multiply(frac(ow), e(op.divide(rw, c(ow))))))), 1));
  const S = oh * sr * ow * sr;
  const full = [R, oh * sr, ow * sr];
  const yb = e(op.broadcastTo(ys, full));
  const xb = e(op.broadcastTo(xs, full));
  const outside = e(
    op.logicalOr(
      e(op.logicalOr(e(op.less(yb, c(-1))), e(op.greater(yb, c(H))))),
      e(op.logicalOr(e(op.less(xb, c(-1))), e(op.greater(xb, c(W))))),
    ),
  );
  const keep = e(op.astype(e(op.logicalNot(outside)), dt));
  /** Low/high corner and fraction along one axis of size d. */
  const axisOf = (v: Expr, d: number): [Expr, Expr, Expr] => {
    const vc = e(op.maximum(v, c(0)));
    const lo0 = e(op.floor(vc));
    const atEnd = e(op.greaterEqual(lo0, c(d - 1)));
    const lo = e(op.where(atEnd, c(d - 1), lo0));
    const hi = e(op.where(atEnd, c(d - 1), e(op.add(lo0, c(1)))));
    const l = e(op.subtract(e(op.where(atEnd, lo, vc)), lo));
    return [lo, hi, l];
  };
  const [yl, yh, ly] = axisOf(yb, H);
  const [xl, xh, lx] = axisOf(xb, W);
  const hy = e(op.subtract(c(1), ly));
  const hx = e(op.subtract(c(1), lx));
  const bidx = castTo(ctx, ctx.req(2), 'int64');
  const img = e(op.take(e(op.reshape(exprOf(ctx, x), [staticDims(ctx, x)[0], C, H * W])), bidx, 0)); // [R, C, HW]
  const corner = (yy: Expr, xx: Expr, w: Expr): Expr => {
    const pos = e(op.astype(e(op.add(e(op.multiply(yy, c(W))), xx)), 'int64'));
    const idx = e(op.broadcastTo(e(op.reshape(pos, [R, 1, S])), [R, C, S]));
    const wk = e(op.reshape(e(op.multiply(w, keep)), [R, 1, S]));
    return e(op.multiply(e(op.gatherElements(img, idx, 2)), wk));
  };
  const vs = [
    corner(yl, xl, e(op.multiply(hy, hx))),
    corner(yl, xh, e(op.multiply(hy, lx))),
    corner(yh, xl, e(op.multiply(ly, hx))),
    corner(yh, xh, e(op.multiply(ly, lx))),
  ];
  const comb =
    mode === 'avg'
      ? e(op.add(e(op.add(vs[0], vs[1])), e(op.add(vs[2], vs[3]))))
      : e(op.maximum(e(op.maximum(vs[0], vs[1])), e(op.maximum(vs[2], vs[3]))));
  const grid = e(op.reshape(comb, [R, C, oh, sr, ow, sr]));
  const red =
    mode === 'avg'
      ? e(op.divide(e(op.sum(grid, { axis: [3, 5], keepdims: false })), c(sr * sr)))
      : e(op.max(grid, { axis: [3, 5], keepdims: false }));
  return exprValue(red);
}

// ---------------------------------------------------------------- optimizers (ai.onnx.preview.training)

/** Training-optimizer steps: elementwise updates; T (the step count) may be a run-time value. */
type Step = (ctx: NodeContext, r: Expr, t: Expr, ins: Expr[], dt: string) => Expr[];

function optimizer(perTensor: number, step: Step) {
  return (ctx: NodeContext): OnnxValue[] => {
    const n = (ctx.numInputs - 2) / perTensor;
    if (!Number.isInteger(n) || n < 1)
      ctx.fail(
        OnnxErrorCodes.ONNX_INVALID,
        `${ctx.numInputs} inputs do not form groups of ${perTensor} tensors after R and T`,
      );
    const dt = dtypeOf(ctx.req(2), ctx);
    const r = castTo(ctx, ctx.req(0), dt);
    const t = castTo(ctx, ctx.req(1), dt);
    const outs: Expr[][] = [];
    for (let i = 0; i < n; i++)
      outs.push(
        step(
          ctx,
          r,
          t,
          Array.from({ length: perTensor }, (_, k) => exprOf(ctx, ctx.req(2 + k * n + i))),
          dt,
        ),
      );
    // Outputs are grouped by kind: all X_new, then all of the next state, ...
    const kinds = outs[0].length;
    return Array.from({ length: kinds * n }, (_, o) => exprValue(outs[o % n][Math.floor(o / n)]));
  };
}

const adagradStep: Step = (ctx, r, t, [x, g, h], dt) => {
  const c = scalarCache(dt);
  const e = (v: Expr): Expr => em(ctx, v);
  const rr = e(op.divide(r, e(op.add(c(1), e(op.multiply(t, c(ctx.float('decay_factor', 0))))))));
  const gr = e(op.add(e(op.multiply(x, c(ctx.float('norm_coefficient', 0)))), g));
  const hn = e(op.add(h, e(op.multiply(gr, gr))));
  const hs = e(op.add(e(op.sqrt(hn)), c(ctx.float('epsilon', 1e-6))));
  return [e(op.subtract(x, e(op.divide(e(op.multiply(rr, gr)), hs)))), hn];
};

const adamStep: Step = (ctx, r, t, [x, g, v, h], dt) => {
  const c = (v0: number): Expr => scalar(v0, dt);
  const e = (v0: Expr): Expr => em(ctx, v0);
  const alpha = ctx.float('alpha', 0.9);
  const beta = ctx.float('beta', 0.999);
  const gr = e(op.add(e(op.multiply(x, c(ctx.float('norm_coefficient', 0)))), g));
  const vn = e(op.add(e(op.multiply(v, c(alpha))), e(op.multiply(gr, c(1 - alpha)))));
  const hn = e(op.add(e(op.multiply(h, c(beta))), e(op.multiply(e(op.multiply(gr, gr)), c(1 - beta)))));
  const hs = e(op.add(e(op.sqrt(hn)), c(ctx.float('epsilon', 1e-6))));
  // Bias correction from step 1 on: r · sqrt(1 - βᵗ) / (1 - αᵗ).
  const corr = e(
    op.divide(
      e(op.multiply(r, e(op.sqrt(e(op.subtract(c(1), e(op.power(c(beta), t)))))))),
      e(op.subtract(c(1), e(op.power(c(alpha), t)))),
    ),
  );
  const ra = e(op.where(e(op.greater(t, c(0))), corr, r));
  const xn = e(op.subtract(x, e(op.multiply(ra, e(op.divide(vn, hs))))));
  const post = ctx.float('norm_coefficient_post', 0);
  return [post === 0 ? xn : e(op.multiply(xn, c(1 - post))), vn, hn];
};

const momentumStep: Step = (ctx, r, t, [x, g, v], dt) => {
  const c = (v0: number): Expr => scalar(v0, dt);
  const e = (v0: Expr): Expr => em(ctx, v0);
  const alpha = ctx.float('alpha', 0);
  const mode = ctx.str('mode', 'standard');
  if (mode !== 'standard' && mode !== 'nesterov') ctx.fail(OnnxErrorCodes.ONNX_INVALID, `mode '${mode}'`);
  const gr = e(op.add(e(op.multiply(x, c(ctx.float('norm_coefficient', 0)))), g));
  // The first step (T = 0) uses beta = 1.
  const ba = e(op.where(e(op.greater(t, c(0))), c(ctx.float('beta', 0)), c(1)));
  const vn = e(op.add(e(op.multiply(v, c(alpha))), e(op.multiply(gr, ba))));
  const dir = mode === 'standard' ? vn : e(op.add(gr, e(op.multiply(vn, c(alpha)))));
  return [e(op.subtract(x, e(op.multiply(r, dir)))), vn];
};

// ---------------------------------------------------------------- ai.onnx.ml: Binarizer, ArrayFeatureExtractor

function binarizerConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const dt = dtypeOf(x, ctx);
  return exprValue(
    em(ctx, op.astype(em(ctx, op.greater(exprOf(ctx, x), scalar(ctx.float('threshold', 0), dt))), dt)),
  );
}

function arrayFeatureExtractorConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const xd = staticDims(ctx, x);
  const id = staticDims(ctx, ctx.req(1));
  const k = numel(id);
  const idx = em(ctx, op.reshape(castTo(ctx, ctx.req(1), 'int64'), [k]));
  const xe = xd.length === 1 ? em(ctx, op.reshape(exprOf(ctx, x), [1, xd[0]])) : exprOf(ctx, x);
  return exprValue(em(ctx, op.take(xe, idx, Math.max(xd.length, 2) - 1)));
}

export const MISC_CONVERTERS: ConverterDef[] = [
  ...many('ScatterND', V(11, 13, 16, 18), scatterNdConvert),
  ...many('ReverseSequence', V(10, 28), reverseSequenceConvert),
  ...many('RotaryEmbedding', V(23), rotaryConvert),
  ...many('DFT', V(17, 20), dftConvert),
  ...many('AffineGrid', V(20), affineGridConvert),
  ...many('Det', V(11, 22), detConvert),
  ...many('MaxUnpool', V(9, 11, 22), maxUnpoolConvert),
  ...many('Col2Im', V(18), col2imConvert),
  ...many('Unique', V(11, 28), uniqueConvert),
  ...many('OptionalHasElement', V(15, 18, 28), optionalHasElementConvert),
  ...many('OptionalGetElement', V(15, 18, 28), optionalGetElementConvert),
  ...many('Optional', V(15, 28), optionalConvert),
  ...many('SwiGLU', V(28), swigluConvert),
  ...many('TensorScatter', V(24), tensorScatterConvert),
  ...many('GridSample', V(16, 20, 22), gridSampleConvert),
  ...many('CausalConvWithState', V(27), causalConvConvert),
  ...many('LinearAttention', V(27), linearAttentionConvert),
  ...many('NonMaxSuppression', V(10, 11), nmsConvert),
  ...many('STFT', V(17), stftConvert),
  ...many('MelWeightMatrix', V(17), melWeightConvert),
  ...many('DeformConv', V(19, 22), deformConvConvert),
  ...many('RoiAlign', V(10, 16, 22), roiAlignConvert),
  { op: 'Adagrad', domain: 'ai.onnx.preview.training', since: 1, convert: optimizer(3, adagradStep) },
  { op: 'Adam', domain: 'ai.onnx.preview.training', since: 1, convert: optimizer(4, adamStep) },
  { op: 'Momentum', domain: 'ai.onnx.preview.training', since: 1, convert: optimizer(3, momentumStep) },
  { op: 'Binarizer', domain: 'ai.onnx.ml', since: 1, convert: binarizerConvert },
  { op: 'ArrayFeatureExtractor', domain: 'ai.onnx.ml', since: 1, convert: arrayFeatureExtractorConvert },
];
