// Legalization of shape manipulation, indexing, sorting and creation operators.
import type { DataType, PrimExpr, Var as PrimVar } from '@kiln/ir-core';
import * as P from '@kiln/ir-core';
import { DType, isConstInt, dtype as parseDType } from '@kiln/ir-core';
import type { Tensor } from '@kiln/tensorir';
import * as T from '@kiln/tensorir';
import type { Call } from '../ir/nodes.js';
import { tensorShape } from '../ir/struct-info.js';
import type { PadAttrs, StridedSliceAttrs } from '../op/manip.js';
import { sliceBound } from '../op/manip.js';
import type { LegalizeTable } from './common.js';
import { castValue } from './elemwise.js';
import { unravelIndex } from './reduce.js';
import { emitTE, outTensorInfo } from './te-call.js';

const i64 = (v: number) => P.toExpr(v, DType.int64);
const names = (n: number) => Array.from({ length: n }, (_, k) => `i${k}`);
const norm = (a: number, nd: number) => (a < 0 ? a + nd : a);
function stage(
  shape: readonly PrimExpr[],
  fn: (o: PrimVar[]) => PrimExpr | T.ReduceExpr,
  name: string,
): Tensor {
  return T.compute(shape, (...o) => fn(o), name, { axisNames: names(shape.length) });
}
/** Row-major flat index of `idx` in `shape`. */
function ravel(idx: readonly PrimExpr[], shape: readonly PrimExpr[]): PrimExpr {
  return idx.reduce<PrimExpr>((acc, v, d) => (d === 0 ? v : P.add(P.mul(acc, shape[d]), v)), i64(0));
}
/** Same elements in the same order, new shape (reshape, flatten, squeeze, expand_dims). */
function reshapeStage(x: Tensor, shape: readonly PrimExpr[], name: string): Tensor {
  return stage(shape, (o) => x.at(...unravelIndex(shape.length ? ravel(o, shape) : i64(0), x.shape)), name);
}
function reshapeLegalize(short: string): LegalizeTable[string] {
  return (call, bb, ctx) => {
    const { shape } = outTensorInfo(call, ctx.op);
    return emitTE(bb, call, short, (x) => reshapeStage(x, shape, `T_${short}`));
  };
}
/** An index converted to int64 with negative values wrapped by `extent`. */
function wrapIndex(v: PrimExpr, extent: PrimExpr): PrimExpr {
  const i = v.dtype === DType.int64 ? v : P.cast(DType.int64, v);
  return v.dtype.code === 'uint' ? i : P.select(P.lt(i, i64(0)), P.add(i, extent), i);
}
function tupleOutShapes(call: Call): PrimExpr[][] {
  const s = call.structInfo!;
  const fields = s.kind === 'relax.TupleStructInfo' ? s.fields : [s];
  return fields.map((f) => (f.kind === 'relax.TensorStructInfo' ? [...tensorShape(f)!] : []));
}

export const MANIP_LEGALIZE: LegalizeTable = {
  'relax.reshape': reshapeLegalize('reshape'),
  'relax.flatten': reshapeLegalize('flatten'),
  'relax.squeeze': reshapeLegalize('squeeze'),
  'relax.expand_dims': reshapeLegalize('expand_dims'),
  'relax.permute_dims': (call, bb, ctx) => {
    const { axes } = ctx.attrs as { axes: number[] | null };
    const { shape } = outTensorInfo(call, ctx.op);
    return emitTE(bb, call, 'transpose', (x) => {
      const perm = axes
        ? axes.map((a) => norm(a, x.ndim))
        : Array.from({ length: x.ndim }, (_, i) => x.ndim - 1 - i);
      return stage(
        shape,
        (o) => {
          const idx: PrimExpr[] = new Array(x.ndim);
          perm.forEach((p, j) => {
            idx[p] = o[j];
          });
          return x.at(...idx);
        },
        'T_transpose',
      );
    });
  },
  'relax.concat': (call, bb, ctx) => {
    const { axis } = ctx.attrs as { axis: number };
    const { shape } = outTensorInfo(call, ctx.op);
    return emitTE(bb, call, 'concatenate', (...xs) => {
      const a = norm(axis, shape.length);
      return stage(
        shape,
        (o) => {
          // Nested guarded selects from the last part backwards; only the taken branch is read.
          const offsets: PrimExpr[] = [];
          let off: PrimExpr = i64(0);
          for (const x of xs) {
            offsets.push(off);
            off = P.add(off, x.shape[a]);
          }
          let val: PrimExpr | undefined;
          for (let k = xs.length - 1; k >= 0; k--) {
            const idx = o.map((v, i) => (i === a ? P.sub(v, offsets[k]) : v));
            const ld = xs[k].at(...idx);
            val =
              val === undefined
                ? ld
                : T.ifThenElseExpr(P.lt(o[a], P.add(offsets[k], xs[k].shape[a])), ld, val);
          }
          return val!;
        },
        'T_concat',
      );
    });
  },
  'relax.split': (call, bb, ctx) => {
    const { axis } = ctx.attrs as { axis: number };
    const outs = tupleOutShapes(call);
    return emitTE(bb, call, 'split', (x) => {
      const a = norm(axis, x.ndim);
      let off: PrimExpr = i64(0);
      return outs.map((shape, k) => {
        const start = off;
        off = P.add(off, shape[a]);
        return stage(shape, (o) => x.at(...o.map((v, i) => (i === a ? P.add(v, start) : v))), `T_split_${k}`);
      });
    });
  },
  'relax.strided_slice': (call, bb, ctx) => {
    const a = ctx.attrs as StridedSliceAttrs;
    const { shape } = outTensorInfo(call, ctx.op);
    return emitTE(bb, call, 'strided_slice', (x) => {
      const begin = new Map<number, { b: PrimExpr; s: number }>();
      a.axes.forEach((ax, i) => {
        const st = a.strides ? a.strides[i] : 1;
        begin.set(norm(ax, x.ndim), { b: sliceBound(a.begin[i], x.shape[norm(ax, x.ndim)], st), s: st });
      });
      return stage(
        shape,
        (o) =>
          x.at(
            ...o.map((v, i) => {
              const bs = begin.get(i);
              return bs ? P.add(bs.b, P.mul(v, i64(bs.s))) : v;
            }),
          ),
        'T_strided_slice',
      );
    });
  },
  'relax.broadcast_to': (call, bb, ctx) => {
    const { shape } = outTensorInfo(call, ctx.op);
    return emitTE(bb, call, 'broadcast_to', (x) => stage(shape, (o) => x.atBroadcast(o), 'T_broadcast_to'));
  },
  'relax.tile': (call, bb, ctx) => {
    const { shape } = outTensorInfo(call, ctx.op);
    return emitTE(bb, call, 'tile', (x) =>
      stage(
        shape,
        (o) => {
          const off = shape.length - x.ndim;
          return x.at(...x.shape.map((d, i) => (isConstInt(d, 1) ? i64(0) : P.floormod(o[off + i], d))));
        },
        'T_tile',
      ),
    );
  },
  'relax.repeat': (call, bb, ctx) => {
    const { repeats, axis } = ctx.attrs as { repeats: number; axis: number | null };
    const { shape } = outTensorInfo(call, ctx.op);
    return emitTE(bb, call, 'repeat', (x) => {
      if (axis === null)
        return stage(
          shape,
          (o) => x.at(...unravelIndex(P.floordiv(o[0], i64(repeats)), x.shape)),
          'T_repeat',
        );
      const a = norm(axis, x.ndim);
      return stage(
        shape,
        (o) => x.at(...o.map((v, i) => (i === a ? P.floordiv(v, i64(repeats)) : v))),
        'T_repeat',
      );
    });
  },
  'relax.nn.pad': (call, bb, ctx) => {
    const a = ctx.attrs as PadAttrs;
    const { shape } = outTensorInfo(call, ctx.op);
    return emitTE(bb, call, 'pad', (x) => {
      const before = x.shape.map((_, i) => a.padWidth[2 * i]);
      const after = x.shape.map((_, i) => a.padWidth[2 * i + 1]);
      if (a.mode === 'constant') return T.pad(x, before, after, P.toExpr(a.padValue, x.dtype), 'T_pad');
      return stage(
        shape,
        (o) =>
          x.at(
            ...o.map((v, i) => {
              const d = x.shape[i];
              const j = P.sub(v, i64(before[i]));
              if (a.mode === 'edge') return P.max(P.min(j, P.sub(d, i64(1))), i64(0));
              // reflect (no edge repeat): -j below 0, 2(d-1) - j above.
              const lo = P.select(P.lt(j, i64(0)), P.sub(i64(0), j), j);
              return P.select(P.gt(lo, P.sub(d, i64(1))), P.sub(P.mul(P.sub(d, i64(1)), i64(2)), lo), lo);
            }),
          ),
        'T_pad',
      );
    });
  },
  'relax.triu': triLegalize(true),
  'relax.tril': triLegalize(false),

  // ------------------------------------------------------------ indexing
  'relax.take': (call, bb, ctx) => {
    const { axis } = ctx.attrs as { axis: number };
    const { shape } = outTensorInfo(call, ctx.op);
    return emitTE(bb, call, 'take', (x, idx) => {
      const a = norm(axis, x.ndim);
      return stage(
        shape,
        (o) => {
          const ii = wrapIndex(idx.at(...o.slice(a, a + idx.ndim)), x.shape[a]);
          return x.at(...o.slice(0, a), ii, ...o.slice(a + idx.ndim));
        },
        'T_take',
      );
    });
  },
  'relax.gather_elements': (call, bb, ctx) => {
    const { axis } = ctx.attrs as { axis: number };
    return emitTE(bb, call, 'gather_elements', (x, idx) => {
      const a = norm(axis, x.ndim);
      return stage(
        idx.shape,
        (o) => x.at(...o.map((v, i) => (i === a ? wrapIndex(idx.at(...o), x.shape[a]) : v))),
        'T_gather_elements',
      );
    });
  },
  'relax.gather_nd': (call, bb, ctx) => {
    const { batchDims } = ctx.attrs as { batchDims: number };
    const { shape } = outTensorInfo(call, ctx.op);
    return emitTE(bb, call, 'gather_nd', (x, idx) => {
      const m = (idx.shape[idx.ndim - 1] as P.IntImm).value;
      const q = idx.ndim - 1;
      return stage(
        shape,
        (o) => {
          const head = o.slice(0, q);
          const di: PrimExpr[] = [...o.slice(0, batchDims)];
          for (let j = 0; j < m; j++) di.push(wrapIndex(idx.at(...head, i64(j)), x.shape[batchDims + j]));
          di.push(...o.slice(q));
          return x.at(...di);
        },
        'T_gather_nd',
      );
    });
  },
  'relax.scatter_elements': (call, bb, ctx) => {
    const { axis, reduction } = ctx.attrs as {
      axis: number;
      reduction: 'update' | 'add' | 'mul' | 'min' | 'max';
    };
    return emitTE(bb, call, 'scatter_elements', (x, idx, upd) => {
      const a = norm(axis, x.ndim);
      // out[p] combines the updates whose target (index along `axis`, same other coords) is p.
      const matchStage = (name: string, red: T.Reducer, val: (u: PrimExpr) => PrimExpr) =>
        stage(
          x.shape,
          (o) => {
            const k = T.reduceAxis(idx.shape[a], 'k');
            const src = o.map((v, i) => (i === a ? k : v));
            const inRange = o.flatMap((v, i) => (i === a ? [] : [P.lt(v, idx.shape[i])]));
            const safe = src.map((v, i) => (i === a ? v : P.min(v, P.sub(idx.shape[i], i64(1)))));
            const conds: PrimExpr[] = [...inRange, P.eq(wrapIndex(idx.at(...safe), x.shape[a]), o[a])];
            const hit = conds.reduce((p, c) => P.and(p, c));
            return red(val(upd.at(...safe)), k, { where: hit });
          },
          name,
        );
      const count = matchStage('T_scatter_count', T.sum, () => P.toExpr(1, DType.int64));
      const combineOf = {
        update: T.sum,
        add: T.sum,
        mul: T.prod,
        min: T.reduceMin,
        max: T.reduceMax,
      } as const;
      const comb = matchStage('T_scatter_combine', combineOf[reduction], (u) => u);
      return stage(
        x.shape,
        (o) => {
          const d = x.at(...o);
          const u = comb.at(...o);
          const has = P.gt(count.at(...o), i64(0));
          switch (reduction) {
            case 'update':
              return P.select(has, u, d);
            case 'add':
              return P.add(d, u);
            case 'mul':
              return P.select(has, P.mul(d, u), d);
            case 'min':
              return P.select(has, P.min(d, u), d);
            default:
              return P.select(has, P.max(d, u), d);
          }
        },
        'T_scatter_elements',
      );
    });
  },
  'relax.one_hot': (call, bb, ctx) => {
    const a = ctx.attrs as { depth: number; axis: number; onValue: number; offValue: number; dtype: string };
    const { shape, dtype } = outTensorInfo(call, ctx.op);
    return emitTE(bb, call, 'one_hot', (idx) => {
      const ax = norm(a.axis, idx.ndim + 1);
      return stage(
        shape,
        (o) => {
          const ii = wrapIndex(idx.at(...o.filter((_, i) => i !== ax)), i64(a.depth));
          return P.select(P.eq(ii, o[ax]), P.toExpr(a.onValue, dtype), P.toExpr(a.offValue, dtype));
        },
        'T_one_hot',
      );
    });
  },
  'relax.sort': sortLegalize('sort'),
  'relax.argsort': sortLegalize('argsort'),
  'relax.topk': sortLegalize('topk'),

  // ------------------------------------------------------------ creation
  'relax.full': (call, bb, ctx) => {
    const { shape, dtype } = outTensorInfo(call, ctx.op);
    return emitTE(bb, call, 'full', (v) => stage(shape, () => castValue(v.at(), dtype), 'T_full'));
  },
  'relax.full_like': (call, bb, ctx) => {
    const { shape, dtype } = outTensorInfo(call, ctx.op);
    return emitTE(bb, call, 'full', (v) => stage(shape, () => castValue(v.at(), dtype), 'T_full'), {
      tensorArgs: [call.args[1]],
    });
  },
  'relax.zeros': constLegalize(0),
  'relax.ones': constLegalize(1),
  'relax.zeros_like': constLegalize(0),
  'relax.ones_like': constLegalize(1),
  'relax.arange': (call, bb, ctx) => {
    const { shape, dtype } = outTensorInfo(call, ctx.op);
    const pv = (i: number) => {
      const s = call.args[i].structInfo;
      return s?.kind === 'relax.PrimStructInfo' && s.value ? s.value : P.toExpr(0, DType.int64);
    };
    const [start, , step] = [pv(0), pv(1), pv(2)];
    return emitTE(
      bb,
      call,
      'arange',
      () =>
        stage(
          shape,
          (o) =>
            castValue(
              P.add(castValue(start, dtype), P.mul(castValue(o[0], dtype), castValue(step, dtype))),
              dtype,
            ),
          'T_arange',
        ),
      {
        tensorArgs: [],
      },
    );
  },
};

function constLegalize(v: number): LegalizeTable[string] {
  return (call, bb, ctx) => {
    const { shape, dtype } = outTensorInfo(call, ctx.op);
    return emitTE(
      bb,
      call,
      v === 0 ? 'zeros' : 'ones',
      () => stage(shape, () => P.toExpr(v, dtype), v === 0 ? 'T_zeros' : 'T_ones'),
      { tensorArgs: [] },
    );
  };
}

function triLegalize(upper: boolean): LegalizeTable[string] {
  return (call, bb, ctx) => {
    const { k } = ctx.attrs as { k: number };
    return emitTE(bb, call, upper ? 'triu' : 'tril', (x) =>
      stage(
        x.shape,
        (o) => {
          const r = o[o.length - 2];
          const c = o[o.length - 1];
          const keep = upper ? P.ge(P.sub(c, r), i64(k)) : P.le(P.sub(c, r), i64(k));
          return P.select(keep, x.at(...o), P.toExpr(0, x.dtype));
        },
        upper ? 'T_triu' : 'T_tril',
      ),
    );
  };
}

/**
 * Sorting as rank computation (O(n²) per line, exact and stable): rank[i] = #{j : x[j]
 * before x[i]}; the output at position p is the element whose rank is p.
 */
function sortLegalize(kind: 'sort' | 'argsort' | 'topk'): LegalizeTable[string] {
  return (call, bb, ctx) => {
    const at = ctx.attrs as {
      axis: number;
      descending?: boolean;
      largest?: boolean;
      k?: number;
      retType?: string;
      dtype?: string;
    };
    const outs =
      call.structInfo!.kind === 'relax.TupleStructInfo'
        ? tupleOutShapes(call)
        : [outTensorInfo(call, ctx.op).shape as PrimExpr[]];
    return emitTE(bb, call, kind, (x) => {
      const a = norm(at.axis, x.ndim);
      const desc = kind === 'topk' ? at.largest !== false : !!at.descending;
      const n = x.shape[a];
      const before = (xi: PrimExpr, xj: PrimExpr, i: PrimExpr, j: PrimExpr) =>
        P.or(desc ? P.gt(xj, xi) : P.lt(xj, xi), P.and(P.eq(xj, xi), P.lt(j, i)));
      const rank = stage(
        x.shape,
        (o) => {
          const j = T.reduceAxis(n, 'j');
          const oj = o.map((v, d) => (d === a ? j : v));
          return T.sum(P.select(before(x.at(...o), x.at(...oj), o[a], j), i64(1), i64(0)), j);
        },
        `T_${kind}_rank`,
      );
      const pick = (
        shape: readonly PrimExpr[],
        val: (i: PrimVar, oi: PrimExpr[]) => PrimExpr,
        dt: DataType,
        name: string,
      ) =>
        stage(
          shape,
          (o) => {
            const i = T.reduceAxis(n, 'i');
            const oi = o.map((v, d) => (d === a ? i : v));
            return T.sum(P.select(P.eq(rank.at(...oi), o[a]), val(i, oi), P.toExpr(0, dt)), i);
          },
          name,
        );
      const idt = parseDType(at.dtype ?? 'int64');
      const values = (shape: readonly PrimExpr[]) =>
        pick(shape, (_i, oi) => x.at(...oi), x.dtype, `T_${kind}_values`);
      const indices = (shape: readonly PrimExpr[]) =>
        pick(shape, (i) => castValue(i, idt), idt, `T_${kind}_indices`);
      if (kind === 'sort') return values(x.shape);
      if (kind === 'argsort') return indices(x.shape);
      if (at.retType === 'values') return values(outs[0]);
      if (at.retType === 'indices') return indices(outs[0]);
      return [values(outs[0]), indices(outs[1])];
    });
  };
}
