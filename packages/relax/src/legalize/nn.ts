// Legalization of the neural-network operators: convolutions, pooling, normalizations,
// softmax, attention, resize2d. Written as plain te stages (padding with guarded loads),
// meant as correct reference kernels that schedules then make fast.
import type { DataType, PrimExpr, Var as PrimVar } from '@kiln/ir-core';
import * as P from '@kiln/ir-core';
import { DType } from '@kiln/ir-core';
import type { Tensor } from '@kiln/tensorir';
import * as T from '@kiln/tensorir';
import { dimProduct } from '../arith.js';
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

// ---------------------------------------------------------------- convolution

function convLegalize(nsp: number): LegalizeTable[string] {
  return (call, bb, ctx) => {
    const a = ctx.attrs as ConvAttrs;
    const { shape, dtype } = outTensorInfo(call, ctx.op);
    const strides = spatial(a.strides, nsp);
    const dil = spatial(a.dilation, nsp);
    const { before } = padding(a.padding, nsp);
    return emitTE(bb, call, ctx.op.slice(ctx.op.lastIndexOf('.') + 1), (x, w) =>
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
          const xv = cast(x.at(nn, cin, ...pos), dtype);
          const val = P.mul(
            conds.length ? T.ifThenElseExpr(all(conds), xv, f(0, dtype)) : xv,
            cast(w.at(oc, ic, ...ks), dtype),
          );
          return T.sum(val, [ic, ...ks]);
        },
        'T_conv',
        { axisNames: names(shape.length) },
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
    return emitTE(bb, call, ctx.op.slice(ctx.op.lastIndexOf('.') + 1), (x, w) =>
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
          const xv = T.ifThenElseExpr(all(conds), cast(x.at(nn, cin, ...idx), dtype), f(0, dtype));
          return T.sum(P.mul(xv, cast(w.at(cin, ocl, ...ks), dtype)), [ic, ...ks]);
        },
        'T_conv_transpose',
        { axisNames: names(shape.length) },
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

export const NN_LEGALIZE: LegalizeTable = {
  'relax.nn.conv1d': convLegalize(1),
  'relax.nn.conv2d': convLegalize(2),
  'relax.nn.conv3d': convLegalize(3),
  'relax.nn.conv1d_transpose': convTransposeLegalize(1),
  'relax.nn.conv2d_transpose': convTransposeLegalize(2),
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
      const ft = DType.float32;
      // Source coordinate of output index `o` along an axis of input size `inS`, output size `outS`.
      const src = (o: PrimExpr, inS: PrimExpr, outS: PrimExpr): PrimExpr => {
        const of = P.cast(ft, o);
        const ins = P.cast(ft, inS);
        const outs = P.cast(ft, outS);
        switch (a.coordinateTransformationMode) {
          case 'align_corners':
            return P.select(
              P.gt(outS, i64(1)),
              P.div(P.mul(of, P.sub(ins, f(1, ft))), P.sub(outs, f(1, ft))),
              f(0, ft),
            );
          case 'asymmetric':
            return P.div(P.mul(of, ins), outs);
          case 'pytorch_half_pixel':
            return P.select(
              P.gt(outS, i64(1)),
              P.sub(P.div(P.mul(P.add(of, f(0.5, ft)), ins), outs), f(0.5, ft)),
              f(0, ft),
            );
          default:
            return P.sub(P.div(P.mul(P.add(of, f(0.5, ft)), ins), outs), f(0.5, ft));
        }
      };
      const clampI = (i: PrimExpr, n: PrimExpr) => P.max(P.min(i, P.sub(n, i64(1))), i64(0));
      // Bicubic (Keys kernel with coefficient A): 4×4 taps around floor(s); with
      // cubicExclude, taps outside the input get weight 0 and the weights are renormalized.
      const A = a.cubicAlpha;
      const kernel = (t: PrimExpr): PrimExpr => {
        const u = T.fabs(t);
        const u2 = P.mul(u, u);
        const u3 = P.mul(u2, u);
        const near = P.add(P.sub(P.mul(f(A + 2, ft), u3), P.mul(f(A + 3, ft), u2)), f(1, ft));
        const far = P.sub(
          P.add(P.sub(P.mul(f(A, ft), u3), P.mul(f(5 * A, ft), u2)), P.mul(f(8 * A, ft), u)),
          f(4 * A, ft),
        );
        return P.select(P.le(u, f(1, ft)), near, P.select(P.lt(u, f(2, ft)), far, f(0, ft)));
      };
      const taps = (s: PrimExpr, size: PrimExpr) => {
        const i0 = P.cast(DType.int64, T.floor(s));
        return [-1, 0, 1, 2].map((k) => {
          const idx = P.add(i0, i64(k));
          let w = kernel(P.sub(s, P.cast(ft, idx)));
          if (a.cubicExclude) w = P.select(P.and(P.ge(idx, i64(0)), P.lt(idx, size)), w, f(0, ft));
          return { idx, w };
        });
      };
      const cubic = (sy: PrimExpr, sx: PrimExpr, ld: (yy: PrimExpr, xx: PrimExpr) => PrimExpr): PrimExpr => {
        const ty = taps(sy, x.shape[2]);
        const tx = taps(sx, x.shape[3]);
        let acc: PrimExpr = f(0, ft);
        for (const yy of ty)
          for (const xx of tx) acc = P.add(acc, P.mul(P.mul(yy.w, xx.w), ld(yy.idx, xx.idx)));
        if (!a.cubicExclude) return acc;
        const norm = (ts: typeof ty) => ts.reduce<PrimExpr>((s, t) => P.add(s, t.w), f(0, ft));
        return P.div(acc, P.mul(norm(ty), norm(tx)));
      };
      const [, , H, W] = x.shape;
      return T.compute(
        shape,
        (nn, c, oy, ox) => {
          const sy = src(oy, H, shape[2]);
          const sx = src(ox, W, shape[3]);
          if (a.method === 'nearest_neighbor') {
            const pick = (s: PrimExpr): PrimExpr => {
              switch (a.roundingMethod) {
                case 'floor':
                  return T.floor(s);
                case 'ceil':
                  return T.ceil(s);
                case 'round_prefer_ceil':
                  return T.floor(P.add(s, f(0.5, ft)));
                case 'round_prefer_floor':
                  return T.ceil(P.sub(s, f(0.5, ft)));
                default:
                  return T.round(s);
              }
            };
            const iy = clampI(P.cast(DType.int64, pick(sy)), H);
            const ix = clampI(P.cast(DType.int64, pick(sx)), W);
            return cast(x.at(nn, c, iy, ix), dtype);
          }
          if (a.method === 'cubic')
            return cast(
              cubic(sy, sx, (yy, xx) => P.cast(ft, x.at(nn, c, clampI(yy, H), clampI(xx, W)))),
              dtype,
            );
          const y0f = T.floor(sy);
          const x0f = T.floor(sx);
          const wy = P.sub(sy, y0f);
          const wx = P.sub(sx, x0f);
          const y0 = P.cast(DType.int64, y0f);
          const x0 = P.cast(DType.int64, x0f);
          const ld = (yy: PrimExpr, xx: PrimExpr) => P.cast(ft, x.at(nn, c, clampI(yy, H), clampI(xx, W)));
          const top = P.add(P.mul(ld(y0, x0), P.sub(f(1, ft), wx)), P.mul(ld(y0, P.add(x0, i64(1))), wx));
          const bot = P.add(
            P.mul(ld(P.add(y0, i64(1)), x0), P.sub(f(1, ft), wx)),
            P.mul(ld(P.add(y0, i64(1)), P.add(x0, i64(1))), wx),
          );
          return cast(P.add(P.mul(top, P.sub(f(1, ft), wy)), P.mul(bot, wy)), dtype);
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
