// Legalization of the neural-network operators: convolutions, pooling, normalizations,
// softmax, attention, resize2d. Written as plain te stages (padding with guarded loads),
// meant as correct reference kernels that schedules then make fast.
import type { DataType, PrimExpr, Var as PrimVar } from '@kiln/ir-core';
import * as P from '@kiln/ir-core';
import { DType, ErrorCodes, KilnError } from '@kiln/ir-core';
import type { Tensor } from '@kiln/tensorir';
import * as T from '@kiln/tensorir';
import { constDim, dimProduct } from '../arith.js';
import type {
  AdaptivePoolAttrs,
  AttentionAttrs,
  BatchNormAttrs,
  ConvAttrs,
  ConvTransposeAttrs,
  GroupNormAttrs,
  LayerNormAttrs,
  PoolAttrs,
  Resize2dAttrs,
  RmsNormAttrs,
  SoftmaxAttrs,
} from '../op/nn.js';
import type { LegalizeTable } from './common.js';
import { accumulatorOf } from './linalg.js';
import { meanStage, reduceStage, sumStage } from './reduce.js';
import { emitTE, outTensorInfo } from './te-call.js';

const i64 = (v: number) => P.toExpr(v, DType.int64);
const f = (v: number, t: DataType) => P.toExpr(v, t);
const cast = (v: PrimExpr, dt: DataType) => (v.dtype === dt ? v : P.cast(dt, v));
const names = (n: number, p = 'i') => Array.from({ length: n }, (_, k) => `${p}${k}`);

function spatial(v: readonly number[], n: number): number[] {
  return v.length === 1 ? Array(n).fill(v[0]) : [...v];
}
function padding(v: readonly number[], n: number): { before: number[]; after: number[] } {
  if (v.length === 1) return { before: Array(n).fill(v[0]), after: Array(n).fill(v[0]) };
  if (v.length === n) return { before: [...v], after: [...v] };
  return { before: v.slice(0, n), after: v.slice(n) };
}
/** `cond0 && cond1 && ...` (true when empty). */
function all(conds: readonly PrimExpr[]): PrimExpr {
  return conds.length === 0 ? P.boolImm(true) : conds.reduce((a, b) => P.and(a, b));
}
/** Bounds check of an index against [0, extent). */
function inBounds(i: PrimExpr, extent: PrimExpr): PrimExpr[] {
  return [P.ge(i, i64(0)), P.lt(i, extent)];
}

/** `t` itself when already of `dtype`, else a stage rounding it to `dtype`. */
function roundedTo(dtype: DataType, t: Tensor, name: string): Tensor {
  if (t.dtype.str === dtype.str) return t;
  return T.compute(t.shape, (...o) => P.cast(dtype, t.at(...o)), name, { axisNames: names(t.shape.length) });
}

// ---------------------------------------------------------------- convolution

function convLegalize(nsp: number): LegalizeTable[string] {
  return (call, bb, ctx) => {
    const a = ctx.attrs as ConvAttrs;
    const { shape, dtype } = outTensorInfo(call, ctx.op);
    const strides = spatial(a.strides, nsp);
    const dil = spatial(a.dilation, nsp);
    const { before } = padding(a.padding, nsp);
    const acc = accumulatorOf(dtype);
    return emitTE(bb, call, ctx.op.slice(ctx.op.lastIndexOf('.') + 1), (x, w) =>
      roundedTo(
        dtype,
        T.compute(
          shape,
          (nn, oc, ...sp) => {
            const icPerGroup = w.shape[1];
            const ocPerGroup = P.floordiv(w.shape[0], i64(a.groups));
            const ic = T.reduceAxis(icPerGroup, 'rc');
            const ks = w.shape.slice(2).map((k, i) => T.reduceAxis(k, `r${i}`));
            const g = a.groups === 1 ? i64(0) : P.floordiv(oc, ocPerGroup);
            const cin = a.groups === 1 ? ic : P.add(P.mul(g, icPerGroup), ic);
            const pos = sp.map((o, i) =>
              P.sub(P.add(P.mul(o, i64(strides[i])), P.mul(ks[i], i64(dil[i]))), i64(before[i])),
            );
            const conds = pos.flatMap((p, i) =>
              before[i] === 0 && a.padding.every((v) => v === 0) ? [] : inBounds(p, x.shape[2 + i]),
            );
            const xv = cast(x.at(nn, cin, ...pos), acc);
            const val = P.mul(
              conds.length ? T.ifThenElseExpr(all(conds), xv, f(0, acc)) : xv,
              cast(w.at(oc, ic, ...ks), acc),
            );
            return T.sum(val, [ic, ...ks]);
          },
          acc === dtype ? 'T_conv' : 'T_conv_acc',
          { axisNames: names(shape.length) },
        ),
        'T_conv',
      ),
    );
  };
}

function convTransposeLegalize(nsp: number): LegalizeTable[string] {
  return (call, bb, ctx) => {
    const a = ctx.attrs as ConvTransposeAttrs;
    const { shape, dtype } = outTensorInfo(call, ctx.op);
    const strides = spatial(a.strides, nsp);
    const dil = spatial(a.dilation, nsp);
    const { before } = padding(a.padding, nsp);
    const acc = accumulatorOf(dtype);
    return emitTE(bb, call, ctx.op.slice(ctx.op.lastIndexOf('.') + 1), (x, w) =>
      roundedTo(
        dtype,
        T.compute(
          shape,
          (nn, oc, ...sp) => {
            // out[o] = Σ x[i] · w[ci, oc, k] over (i, k) with i*s + k*d - pad = o.
            const ocPerGroup = w.shape[1];
            const icPerGroup = P.floordiv(x.shape[1], i64(a.groups));
            const g = a.groups === 1 ? i64(0) : P.floordiv(oc, ocPerGroup);
            const ocl = a.groups === 1 ? oc : P.floormod(oc, ocPerGroup);
            const ic = T.reduceAxis(icPerGroup, 'rc');
            const ks = w.shape.slice(2).map((k, i) => T.reduceAxis(k, `r${i}`));
            const cin = a.groups === 1 ? ic : P.add(P.mul(g, icPerGroup), ic);
            const num = sp.map((o, i) => P.sub(P.add(o, i64(before[i])), P.mul(ks[i], i64(dil[i]))));
            const idx = num.map((v, i) => P.floordiv(v, i64(strides[i])));
            const conds = num.flatMap((v, i) => [
              ...(strides[i] === 1 ? [] : [P.eq(P.floormod(v, i64(strides[i])), i64(0))]),
              ...inBounds(idx[i], x.shape[2 + i]),
            ]);
            const xv = T.ifThenElseExpr(all(conds), cast(x.at(nn, cin, ...idx), acc), f(0, acc));
            return T.sum(P.mul(xv, cast(w.at(cin, ocl, ...ks), acc)), [ic, ...ks]);
          },
          acc === dtype ? 'T_conv_transpose' : 'T_conv_transpose_acc',
          { axisNames: names(shape.length) },
        ),
        'T_conv_transpose',
      ),
    );
  };
}

// ---------------------------------------------------------------- pooling

function poolLegalize(nsp: number, kind: 'max' | 'avg'): LegalizeTable[string] {
  return (call, bb, ctx) => {
    const a = ctx.attrs as PoolAttrs;
    const { shape } = outTensorInfo(call, ctx.op);
    const k = spatial(a.poolSize, nsp);
    const strides = spatial(a.strides, nsp);
    const dil = spatial(a.dilation, nsp);
    const { before, after } = padding(a.padding, nsp);
    return emitTE(bb, call, ctx.op.slice(ctx.op.lastIndexOf('.') + 1), (x) => {
      const dt = x.dtype;
      const window = (sp: PrimVar[]) => {
        const rs = k.map((kk, i) => T.reduceAxis(kk, `r${i}`));
        const pos = sp.map((o, i) =>
          P.sub(P.add(P.mul(o, i64(strides[i])), P.mul(rs[i], i64(dil[i]))), i64(before[i])),
        );
        return { rs, pos, valid: all(pos.flatMap((p, i) => inBounds(p, x.shape[2 + i]))) };
      };
      if (kind === 'max') {
        return T.compute(
          shape,
          (nn, c, ...sp) => {
            const { rs, pos, valid } = window(sp);
            return T.reduceMax(T.ifThenElseExpr(valid, x.at(nn, c, ...pos), T.minValue(dt)), rs);
          },
          'T_pool_max',
          { axisNames: names(shape.length) },
        );
      }
      const s = T.compute(
        shape,
        (nn, c, ...sp) => {
          const { rs, pos, valid } = window(sp);
          return T.sum(T.ifThenElseExpr(valid, x.at(nn, c, ...pos), f(0, dt)), rs);
        },
        'T_pool_sum',
        { axisNames: names(shape.length) },
      );
      // Divisor: the window's elements inside the input (or inside the padded input with
      // countIncludePad), counted exactly — windows at the edge and in ceil mode differ.
      const cnt = T.compute(
        shape,
        (_nn, _c, ...sp) => {
          const { rs, pos } = window(sp);
          const lim = pos.flatMap((p, i) =>
            a.countIncludePad
              ? [P.ge(p, i64(-before[i])), P.lt(p, P.add(x.shape[2 + i], i64(after[i])))]
              : inBounds(p, x.shape[2 + i]),
          );
          return T.sum(P.select(all(lim), f(1, dt), f(0, dt)), rs);
        },
        'T_pool_count',
        { axisNames: names(shape.length) },
      );
      return T.compute(shape, (...o) => P.div(s.at(...o), P.max(cnt.at(...o), f(1, dt))), 'T_pool_avg', {
        axisNames: names(shape.length),
      });
    });
  };
}

function adaptiveLegalize(_nsp: number, kind: 'max' | 'avg'): LegalizeTable[string] {
  return (call, bb, ctx) => {
    void (ctx.attrs as AdaptivePoolAttrs);
    const { shape } = outTensorInfo(call, ctx.op);
    return emitTE(bb, call, ctx.op.slice(ctx.op.lastIndexOf('.') + 1), (x) => {
      const dt = x.dtype;
      // Window i of n over D: [floor(i*D/n), ceil((i+1)*D/n)), as PyTorch / TVM.
      const bounds = (o: PrimExpr, d: PrimExpr, n: PrimExpr) => ({
        lo: P.floordiv(P.mul(o, d), n),
        hi: P.floordiv(P.add(P.mul(P.add(o, i64(1)), d), P.sub(n, i64(1))), n),
      });
      const stage = (name: string, body: (v: PrimExpr, valid: PrimExpr, rs: PrimVar[]) => T.ReduceExpr) =>
        T.compute(
          shape,
          (nn, c, ...sp) => {
            const rs = sp.map((_, i) => T.reduceAxis(x.shape[2 + i], `r${i}`));
            const valid = all(
              sp.flatMap((o, i) => {
                const b = bounds(o, x.shape[2 + i], shape[2 + i]);
                return [P.ge(rs[i], b.lo), P.lt(rs[i], b.hi)];
              }),
            );
            return body(x.at(nn, c, ...rs), valid, rs);
          },
          name,
          { axisNames: names(shape.length) },
        );
      if (kind === 'max')
        return stage('T_adaptive_max', (v, valid, rs) => T.reduceMax(v, rs, { where: valid }));
      const s = stage('T_adaptive_sum', (v, valid, rs) => T.sum(v, rs, { where: valid }));
      const cnt = stage('T_adaptive_count', (_v, valid, rs) => T.sum(f(1, dt), rs, { where: valid }));
      return T.compute(shape, (...o) => P.div(s.at(...o), cnt.at(...o)), 'T_adaptive_avg', {
        axisNames: names(shape.length),
      });
    });
  };
}

// ---------------------------------------------------------------- normalization / softmax

function mapShape(shape: readonly PrimExpr[], fn: (o: PrimVar[]) => PrimExpr, name: string): Tensor {
  return T.compute(shape, (...o) => fn(o), name, { axisNames: names(shape.length) });
}
/** Index into a kept-dims reduction result: reduced axes read 0. */
function keptIndex(o: readonly PrimExpr[], axes: readonly number[]): PrimExpr[] {
  return o.map((v, i) => (axes.includes(i) ? i64(0) : v));
}
const normAxesOf = (axes: readonly number[], nd: number) => axes.map((a) => (a < 0 ? a + nd : a));

/** Softmax along `axis` as max / exp-sum / divide stages (numerically stable). */
export function softmaxStages(x: Tensor, axis: number, log: boolean): Tensor {
  const ax = [axis];
  const mx = reduceStage(x, ax, true, T.reduceMax, 'T_softmax_max');
  const ex = mapShape(x.shape, (o) => T.exp(P.sub(x.at(...o), mx.at(...keptIndex(o, ax)))), 'T_softmax_exp');
  const sm = sumStage(ex, ax, true, 'T_softmax_sum');
  if (log)
    return mapShape(
      x.shape,
      (o) => P.sub(P.sub(x.at(...o), mx.at(...keptIndex(o, ax))), T.log(sm.at(...keptIndex(o, ax)))),
      'T_log_softmax',
    );
  return mapShape(x.shape, (o) => P.div(ex.at(...o), sm.at(...keptIndex(o, ax))), 'T_softmax');
}

// ---------------------------------------------------------------- resize

/** Resize coordinates and weights are computed in float64, as the ONNX reference does. */
const RF = DType.float64;
const clampIdx = (i: PrimExpr, n: PrimExpr) => P.max(P.min(i, P.sub(n, i64(1))), i64(0));

/** Keys cubic kernel with coefficient A. */
function cubicKernel(t: PrimExpr, A: number): PrimExpr {
  const u = T.fabs(t);
  const u2 = P.mul(u, u);
  const u3 = P.mul(u2, u);
  const near = P.add(P.sub(P.mul(f(A + 2, RF), u3), P.mul(f(A + 3, RF), u2)), f(1, RF));
  const far = P.sub(
    P.add(P.sub(P.mul(f(A, RF), u3), P.mul(f(5 * A, RF), u2)), P.mul(f(8 * A, RF), u)),
    f(4 * A, RF),
  );
  return P.select(P.le(u, f(1, RF)), near, P.select(P.lt(u, f(2, RF)), far, f(0, RF)));
}

/**
 * One axis of resize2d (ONNX Resize semantics): the source coordinate of an output
 * index, the nearest source index, the interpolation taps (unclamped index, weight),
 * and, for tf_crop_and_resize, whether the coordinate falls outside the input.
 */
function resizeAxis(a: Resize2dAttrs, axis: 0 | 1, inS: PrimExpr, outS: PrimExpr) {
  const inF = P.cast(RF, inS);
  const outInt = P.cast(RF, outS);
  const given = a.scales?.[axis];
  const scale = given === undefined ? P.div(outInt, inF) : f(given, RF);
  // The float output length scale·in (not the rounded size) is what the modes use.
  const outF = given === undefined ? outInt : P.mul(scale, inF);
  const one = f(1, RF);
  const half = f(0.5, RF);
  const [r0, r1] = a.roi ? [a.roi[axis], a.roi[axis + 2]] : [0, 1];
  const coord = (o: PrimExpr): PrimExpr => {
    const of = P.cast(RF, o);
    const halfPixel = P.sub(P.div(P.add(of, half), scale), half);
    switch (a.coordinateTransformationMode) {
      case 'align_corners':
        return P.select(P.eq(outF, one), f(0, RF), P.div(P.mul(of, P.sub(inF, one)), P.sub(outF, one)));
      case 'asymmetric':
        return P.div(of, scale);
      case 'pytorch_half_pixel':
        return P.select(P.eq(outF, one), f(-0.5, RF), halfPixel);
      case 'half_pixel_symmetric': {
        const offset = P.mul(P.div(inF, f(2, RF)), P.sub(one, P.div(outInt, outF)));
        return P.add(offset, halfPixel);
      }
      case 'tf_crop_and_resize': {
        const span = P.mul(f(r1 - r0, RF), P.sub(inF, one));
        const start = P.mul(f(r0, RF), P.sub(inF, one));
        return P.add(
          P.select(P.eq(outF, one), P.div(span, f(2, RF)), P.div(P.mul(of, span), P.sub(outF, one))),
          start,
        );
      }
      default:
        return halfPixel;
    }
  };
  const outside = (s: PrimExpr): PrimExpr | undefined =>
    a.coordinateTransformationMode === 'tf_crop_and_resize'
      ? P.or(P.lt(s, f(0, RF)), P.gt(s, P.sub(inF, one)))
      : undefined;
  const nearest = (s: PrimExpr): PrimExpr => {
    switch (a.roundingMethod) {
      case 'floor':
        return P.cast(DType.int64, T.floor(s));
      case 'ceil':
        return P.cast(DType.int64, T.ceil(s));
      case 'round_prefer_ceil':
        return P.cast(DType.int64, T.floor(P.add(s, half)));
      case 'round_prefer_floor':
        return P.cast(DType.int64, T.ceil(P.sub(s, half)));
      default:
        return P.cast(DType.int64, T.round(s));
    }
  };
  // Antialiasing widens the kernel by 1/scale when downsampling, so the tap count
  // depends on the scale: it must be a compile-time number.
  let aa = 1;
  if (a.antialias && a.method !== 'nearest_neighbor') {
    const [o, i] = [constDim(outS), constDim(inS)];
    const s = given ?? (o !== undefined && i !== undefined ? o / i : undefined);
    if (s === undefined)
      throw new KilnError(ErrorCodes.UNSUPPORTED, 'resize2d: antialias needs static sizes or scales');
    aa = Math.min(s, 1);
  }
  // Taps k = start .. start+n-1 around i0, where s = i0 + ratio with ratio in (0, 1].
  const start = a.method === 'cubic' ? Math.floor(-2 / aa) + 1 : Math.floor(-1 / aa) + 1;
  const n = 2 - 2 * start;
  const base = (s: PrimExpr) => {
    const fl = T.floor(s);
    const exact = P.eq(fl, s);
    return {
      i0: P.sub(P.cast(DType.int64, fl), P.select(exact, i64(1), i64(0))),
      ratio: P.select(exact, one, P.sub(s, fl)),
    };
  };
  /** Index and unnormalized weight of tap k (a constant or a loop variable). */
  const tap = (s: PrimExpr, k: PrimExpr): { idx: PrimExpr; w: PrimExpr } => {
    const { i0, ratio } = base(s);
    const d = P.mul(P.sub(P.cast(RF, k), ratio), f(aa, RF));
    let w = a.method === 'cubic' ? cubicKernel(d, a.cubicAlpha) : P.max(P.sub(one, T.fabs(d)), f(0, RF));
    const idx = P.add(i0, k);
    if (a.cubicExclude) w = P.select(P.and(P.ge(idx, i64(0)), P.lt(idx, inS)), w, f(0, RF));
    return { idx, w };
  };
  /** Whether the weights of a position must be divided by their sum. */
  const normalized = aa < 1 || a.cubicExclude;
  const taps = (s: PrimExpr): { idx: PrimExpr; w: PrimExpr }[] => {
    let ts = Array.from({ length: n }, (_, j) => tap(s, i64(start + j)));
    if (normalized) {
      const sum = ts.reduce<PrimExpr>((acc, t) => P.add(acc, t.w), f(0, RF));
      const safe = P.select(P.eq(sum, f(0, RF)), one, sum);
      ts = ts.map((t) => ({ idx: t.idx, w: P.div(t.w, safe) }));
    }
    return ts;
  };
  return { coord, outside, nearest, taps, tap, start, n, normalized };
}

/**
 * resize2d with wide (antialiased) kernels, one axis at a time as the reference does: per
 * axis a weight table [out, taps] and its sums, then a reduction over the taps along H
 * into a float64 intermediate, then along W.
 */
function resizeSeparable(
  a: Resize2dAttrs,
  x: Tensor,
  shape: readonly PrimExpr[],
  dtype: DataType,
  ys: ReturnType<typeof resizeAxis>,
  xs: ReturnType<typeof resizeAxis>,
): Tensor {
  const [N, C, H, W] = x.shape;
  const table = (ax: ReturnType<typeof resizeAxis>, len: PrimExpr, name: string) => {
    const w = T.compute(
      [len, i64(ax.n)],
      (o, j) => ax.tap(ax.coord(o), P.add(j, i64(ax.start))).w,
      `${name}_w`,
    );
    if (!ax.normalized) return (o: PrimExpr, j: PrimExpr) => w.at(o, j);
    const sum = T.compute(
      [len],
      (o) => {
        const j = T.reduceAxis(i64(ax.n), 'j');
        return T.sum(w.at(o, j), j);
      },
      `${name}_wsum`,
    );
    return (o: PrimExpr, j: PrimExpr) =>
      P.div(w.at(o, j), P.select(P.eq(sum.at(o), f(0, RF)), f(1, RF), sum.at(o)));
  };
  const wy = table(ys, shape[2], 'T_resize2d_y');
  const wx = table(xs, shape[3], 'T_resize2d_x');
  const rows = T.compute(
    [N, C, shape[2], W],
    (nn, c, oy, ix) => {
      const j = T.reduceAxis(i64(ys.n), 'ky');
      const iy = ys.tap(ys.coord(oy), P.add(j, i64(ys.start))).idx;
      return T.sum(P.mul(wy(oy, j), cast(x.at(nn, c, clampIdx(iy, H), ix), RF)), j);
    },
    'T_resize2d_rows',
  );
  const cols = T.compute(
    [N, C, shape[2], shape[3]],
    (nn, c, oy, ox) => {
      const j = T.reduceAxis(i64(xs.n), 'kx');
      const ix = xs.tap(xs.coord(ox), P.add(j, i64(xs.start))).idx;
      return T.sum(P.mul(wx(ox, j), rows.at(nn, c, oy, clampIdx(ix, W))), j);
    },
    'T_resize2d_cols',
  );
  return T.compute(
    shape,
    (nn, c, oy, ox) => {
      const outside = [ys.outside(ys.coord(oy)), xs.outside(xs.coord(ox))].filter(
        (e): e is PrimExpr => e !== undefined,
      );
      const v = cols.at(nn, c, oy, ox);
      return cast(
        outside.length
          ? P.select(
              outside.reduce((p, q) => P.or(p, q)),
              f(a.extrapolationValue, RF),
              v,
            )
          : v,
        dtype,
      );
    },
    'T_resize2d',
    { axisNames: ['n', 'c', 'y', 'x'] },
  );
}

export const NN_LEGALIZE: LegalizeTable = {
  'relax.nn.conv1d': convLegalize(1),
  'relax.nn.conv2d': convLegalize(2),
  'relax.nn.conv3d': convLegalize(3),
  'relax.nn.conv1d_transpose': convTransposeLegalize(1),
  'relax.nn.conv2d_transpose': convTransposeLegalize(2),
  'relax.nn.conv3d_transpose': convTransposeLegalize(3),
  'relax.nn.max_pool1d': poolLegalize(1, 'max'),
  'relax.nn.max_pool2d': poolLegalize(2, 'max'),
  'relax.nn.max_pool3d': poolLegalize(3, 'max'),
  'relax.nn.avg_pool1d': poolLegalize(1, 'avg'),
  'relax.nn.avg_pool2d': poolLegalize(2, 'avg'),
  'relax.nn.avg_pool3d': poolLegalize(3, 'avg'),
  'relax.nn.adaptive_avg_pool1d': adaptiveLegalize(1, 'avg'),
  'relax.nn.adaptive_avg_pool2d': adaptiveLegalize(2, 'avg'),
  'relax.nn.adaptive_avg_pool3d': adaptiveLegalize(3, 'avg'),
  'relax.nn.adaptive_max_pool2d': adaptiveLegalize(2, 'max'),
  'relax.nn.softmax': (call, bb, ctx) => {
    const { axis } = ctx.attrs as SoftmaxAttrs;
    return emitTE(bb, call, 'softmax', (x) => softmaxStages(x, axis < 0 ? axis + x.ndim : axis, false));
  },
  'relax.nn.log_softmax': (call, bb, ctx) => {
    const { axis } = ctx.attrs as SoftmaxAttrs;
    return emitTE(bb, call, 'log_softmax', (x) => softmaxStages(x, axis < 0 ? axis + x.ndim : axis, true));
  },
  'relax.nn.batch_norm': (call, bb, ctx) => {
    const a = ctx.attrs as BatchNormAttrs;
    return emitTE(bb, call, 'batch_norm', (x, gamma, beta, mean, variance) => {
      const ax = a.axis < 0 ? a.axis + x.ndim : a.axis;
      const dt = x.dtype;
      return mapShape(
        x.shape,
        (o) => {
          const c = o[ax];
          let v: PrimExpr = P.div(
            P.sub(x.at(...o), mean.at(c)),
            T.sqrt(P.add(variance.at(c), f(a.epsilon, dt))),
          );
          if (a.scale) v = P.mul(v, gamma.at(c));
          if (a.center) v = P.add(v, beta.at(c));
          return v;
        },
        'T_batch_norm',
      );
    });
  },
  'relax.nn.layer_norm': (call, bb, ctx) => {
    const a = ctx.attrs as LayerNormAttrs;
    return emitTE(bb, call, 'layer_norm', (x, gamma, beta) => {
      const axes = normAxesOf(a.axes, x.ndim);
      return normalize(
        x,
        axes,
        a.epsilon,
        (o, v) => {
          const pi = axes.map((ax) => o[ax]);
          let r = v;
          if (a.scale) r = P.mul(r, gamma.at(...pi));
          if (a.center) r = P.add(r, beta.at(...pi));
          return r;
        },
        'T_layer_norm',
      );
    });
  },
  'relax.nn.group_norm': (call, bb, ctx) => {
    const a = ctx.attrs as GroupNormAttrs;
    return emitTE(bb, call, 'group_norm', (x, gamma, beta) => {
      const cax = a.channelAxis < 0 ? a.channelAxis + x.ndim : a.channelAxis;
      const G = a.numGroups;
      const C = x.shape[cax];
      const cpg = P.floordiv(C, i64(G));
      const dt = x.dtype;
      // Statistics per (batch..., group): reduce over channels of the group and spatial dims.
      const others = x.shape.map((_, i) => i).filter((i) => i !== cax && i !== 0);
      const statShape = [x.shape[0], i64(G)];
      const cnt = P.cast(dt, P.mul(cpg, dimProduct(others.map((i) => x.shape[i]))));
      const load = (nIdx: PrimExpr, g: PrimExpr, rc: PrimExpr, rs: PrimVar[]) => {
        const idx: PrimExpr[] = [];
        let k = 0;
        for (let i = 0; i < x.ndim; i++)
          idx.push(i === 0 ? nIdx : i === cax ? P.add(P.mul(g, cpg), rc) : rs[k++]);
        return x.at(...idx);
      };
      const stat = (name: string, val: (v: PrimExpr, nIdx: PrimExpr, g: PrimExpr) => PrimExpr) =>
        T.compute(
          statShape,
          (nIdx, g) => {
            const rc = T.reduceAxis(cpg, 'rc');
            const rs = others.map((i) => T.reduceAxis(x.shape[i], `r${i}`));
            return T.sum(val(load(nIdx, g, rc, rs), nIdx, g), [rc, ...rs]);
          },
          name,
        );
      const sum = stat('T_gn_sum', (v) => v);
      const mean = mapShape(statShape, (o) => P.div(sum.at(...o), cnt), 'T_gn_mean');
      const sq = stat('T_gn_sqsum', (v, nIdx, g) => {
        const d = P.sub(v, mean.at(nIdx, g));
        return P.mul(d, d);
      });
      return mapShape(
        x.shape,
        (o) => {
          const g = P.floordiv(o[cax], cpg);
          const inv = T.rsqrt(P.add(P.div(sq.at(o[0], g), cnt), f(a.epsilon, dt)));
          let r: PrimExpr = P.mul(P.sub(x.at(...o), mean.at(o[0], g)), inv);
          if (a.scale) r = P.mul(r, gamma.at(o[cax]));
          if (a.center) r = P.add(r, beta.at(o[cax]));
          return r;
        },
        'T_group_norm',
      );
    });
  },
  'relax.nn.rms_norm': (call, bb, ctx) => {
    const a = ctx.attrs as RmsNormAttrs;
    return emitTE(bb, call, 'rms_norm', (x, w) => {
      const axes = normAxesOf(a.axes, x.ndim);
      const dt = x.dtype;
      const ms = meanStage(
        mapShape(x.shape, (o) => P.mul(x.at(...o), x.at(...o)), 'T_rms_sq'),
        axes,
        true,
        'T_rms_mean',
      );
      return mapShape(
        x.shape,
        (o) =>
          P.mul(
            P.mul(x.at(...o), T.rsqrt(P.add(ms.at(...keptIndex(o, axes)), f(a.epsilon, dt)))),
            w.at(...axes.map((ax) => o[ax])),
          ),
        'T_rms_norm',
      );
    });
  },
  'relax.nn.attention': (call, bb, ctx) => {
    const a = ctx.attrs as AttentionAttrs;
    const { shape } = outTensorInfo(call, ctx.op);
    return emitTE(bb, call, 'attention', (q, k, v, bias) => {
      const dt = q.dtype;
      const [B, S, H, D] = q.shape;
      const Tk = k.shape[1];
      const scale = a.scale ?? undefined;
      const scoreShape = [B, H, S, Tk];
      const scores = T.compute(
        scoreShape,
        (b, h, s, t) => {
          const d = T.reduceAxis(D, 'd');
          return T.sum(P.mul(q.at(b, s, h, d), k.at(b, t, h, d)), d);
        },
        'T_attn_qk',
        { axisNames: ['b', 'h', 's', 't'] },
      );
      const scaleE = scale !== undefined ? f(scale, dt) : T.rsqrt(P.cast(dt, D));
      const masked = T.compute(
        scoreShape,
        (b, h, s, t) => {
          let val: PrimExpr = P.mul(scores.at(b, h, s, t), scaleE);
          if (bias) val = P.add(val, bias.atBroadcast([b, h, s, t]));
          if (a.causalMask) {
            const limit = a.causalMask === 'TopLeft' ? s : P.add(s, P.sub(Tk, S));
            val = P.select(P.le(t, limit), val, T.minValue(dt));
          }
          return val;
        },
        'T_attn_masked',
        { axisNames: ['b', 'h', 's', 't'] },
      );
      const p = softmaxStages(masked, 3, false);
      return T.compute(
        shape,
        (b, s, h, dv) => {
          const t = T.reduceAxis(Tk, 't');
          return T.sum(P.mul(p.at(b, h, s, t), v.at(b, t, h, dv)), t);
        },
        'T_attention',
        { axisNames: ['b', 's', 'h', 'dv'] },
      );
    });
  },
  'relax.nn.prelu': (call, bb, ctx) => {
    const { axis } = ctx.attrs as { axis: number };
    return emitTE(bb, call, 'prelu', (x, alpha) => {
      const ax = axis < 0 ? axis + x.ndim : axis;
      return mapShape(
        x.shape,
        (o) => {
          const v = x.at(...o);
          return P.select(P.gt(v, f(0, x.dtype)), v, P.mul(v, alpha.at(o[ax])));
        },
        'T_prelu',
      );
    });
  },
  'relax.image.resize2d': (call, bb, ctx) => {
    const a = ctx.attrs as Resize2dAttrs;
    const { shape, dtype } = outTensorInfo(call, ctx.op);
    return emitTE(bb, call, 'resize2d', (x) => {
      const [, , H, W] = x.shape;
      const ys = resizeAxis(a, 0, H, shape[2]);
      const xs = resizeAxis(a, 1, W, shape[3]);
      if (a.method !== 'nearest_neighbor' && ys.n * xs.n > 16)
        return resizeSeparable(a, x, shape, dtype, ys, xs);
      return T.compute(
        shape,
        (nn, c, oy, ox) => {
          const sy = ys.coord(oy);
          const sx = xs.coord(ox);
          let v: PrimExpr;
          if (a.method === 'nearest_neighbor') {
            v = cast(x.at(nn, c, clampIdx(ys.nearest(sy), H), clampIdx(xs.nearest(sx), W)), RF);
          } else {
            // Separable weights: Σ wy·wx·x over the taps (edge-clamped indices).
            const ty = ys.taps(sy);
            const tx = xs.taps(sx);
            v = f(0, RF);
            for (const yy of ty)
              for (const xx of tx)
                v = P.add(
                  v,
                  P.mul(P.mul(yy.w, xx.w), cast(x.at(nn, c, clampIdx(yy.idx, H), clampIdx(xx.idx, W)), RF)),
                );
          }
          const outside = [ys.outside(sy), xs.outside(sx)].filter((e): e is PrimExpr => e !== undefined);
          if (outside.length)
            v = P.select(
              outside.reduce((p, q) => P.or(p, q)),
              f(a.extrapolationValue, RF),
              v,
            );
          return cast(v, dtype);
        },
        'T_resize2d',
        { axisNames: ['n', 'c', 'y', 'x'] },
      );
    });
  },
};

/** (x - mean) / sqrt(var + eps) over `axes`, then `post` (scale/shift). */
function normalize(
  x: Tensor,
  axes: readonly number[],
  eps: number,
  post: (o: PrimVar[], v: PrimExpr) => PrimExpr,
  name: string,
): Tensor {
  const dt = x.dtype;
  const mean = meanStage(x, axes, true, `${name}_mean`);
  const sq = mapShape(
    x.shape,
    (o) => {
      const d = P.sub(x.at(...o), mean.at(...keptIndex(o, axes)));
      return P.mul(d, d);
    },
    `${name}_sq`,
  );
  const variance = meanStage(sq, axes, true, `${name}_var`);
  return mapShape(
    x.shape,
    (o) => {
      const k = keptIndex(o, axes);
      return post(o, P.mul(P.sub(x.at(...o), mean.at(...k)), T.rsqrt(P.add(variance.at(...k), f(eps, dt)))));
    },
    name,
  );
}
