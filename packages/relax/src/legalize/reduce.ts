// Legalization of reductions, index reductions and scans.
import type { DataType, PrimExpr, Var as PrimVar } from '@kiln/ir-core';
import * as P from '@kiln/ir-core';
import { DType, dtype as parseDType } from '@kiln/ir-core';
import type { Reducer, Tensor } from '@kiln/tensorir';
import * as T from '@kiln/tensorir';
import { dimProduct } from '../arith.js';
import type { ArgReduceAttrs, ReduceAttrs, ScanAttrs } from '../op/reduce.js';
import type { LegalizeTable } from './common.js';
import { emitTE } from './te-call.js';

/** Normalized reduced axes (all when null). */
export function axesOf(axis: readonly number[] | null, ndim: number): number[] {
  return axis === null ? Array.from({ length: ndim }, (_, i) => i) : axis.map((a) => (a < 0 ? a + ndim : a));
}

/**
 * A reduction stage: the output index maps to input indices, reduced axes iterate over
 * fresh reduce axes. `src` turns the input element (and its index) into the reduced value.
 */
export function reduceStage(
  x: Tensor,
  axes: readonly number[],
  keepdims: boolean,
  reducer: Reducer,
  name: string,
  src: (v: PrimExpr, idx: PrimExpr[]) => PrimExpr = (v) => v,
): Tensor {
  const outShape: PrimExpr[] = [];
  x.shape.forEach((d, i) => {
    if (!axes.includes(i)) outShape.push(d);
    else if (keepdims) outShape.push(P.toExpr(1, DType.int64));
  });
  return T.compute(
    outShape,
    (...o) => {
      const raxes: PrimVar[] = [];
      const idx: PrimExpr[] = [];
      let k = 0;
      x.shape.forEach((d, i) => {
        if (axes.includes(i)) {
          const r = T.reduceAxis(d, `k${i}`);
          raxes.push(r);
          idx.push(r);
          if (keepdims) k++;
        } else idx.push(o[k++]);
      });
      return reducer(src(x.at(...idx), idx), raxes);
    },
    name,
    { axisNames: outShape.map((_, i) => `i${i}`) },
  );
}

/**
 * A sum stage. float16 accumulates in float32 and rounds once, as numpy (the ONNX
 * reference) does; other dtypes accumulate in their own type.
 */
export function sumStage(
  x: Tensor,
  axes: readonly number[],
  keepdims: boolean,
  name: string,
  src: (v: PrimExpr, idx: PrimExpr[]) => PrimExpr = (v) => v,
): Tensor {
  if (!isHalf(x.dtype)) return reduceStage(x, axes, keepdims, T.sum, name, src);
  const acc = reduceStage(x, axes, keepdims, T.sum, `${name}_acc`, (v, idx) =>
    P.cast(DType.float32, src(v, idx)),
  );
  return mapT(acc, (v) => P.cast(x.dtype, v), name);
}
/** IEEE float16 (not bfloat16). */
export function isHalf(dt: DataType): boolean {
  return dt.code === 'float' && dt.bits === 16;
}

function countOf(x: Tensor, axes: readonly number[], dt: DataType): PrimExpr {
  return P.cast(dt, dimProduct(axes.map((a) => x.shape[a])));
}
function mapT(t: Tensor, f: (v: PrimExpr, i: PrimVar[]) => PrimExpr, name: string): Tensor {
  return T.compute(t.shape, (...i) => f(t.at(...i), i), name, { axisNames: t.shape.map((_, k) => `i${k}`) });
}

/** Mean over axes, keeping dims (for variance / norms). */
export function meanStage(x: Tensor, axes: readonly number[], keepdims: boolean, name = 'T_mean'): Tensor {
  if (isHalf(x.dtype)) {
    // float32 intermediates, like numpy's mean of float16
    const s = reduceStage(x, axes, keepdims, T.sum, `${name}_sum`, (v) => P.cast(DType.float32, v));
    const cnt = countOf(x, axes, DType.float32);
    return mapT(s, (v) => P.cast(x.dtype, P.div(v, cnt)), name);
  }
  const s = reduceStage(x, axes, keepdims, T.sum, `${name}_sum`);
  const cnt = countOf(x, axes, x.dtype);
  return mapT(s, (v) => P.div(v, cnt), name);
}
/** Population variance over axes. */
export function varianceStage(x: Tensor, axes: readonly number[], keepdims: boolean, name = 'T_var'): Tensor {
  const mu = meanStage(x, axes, true, `${name}_mean`);
  const sq = reduceStage(x, axes, keepdims, T.sum, `${name}_sqsum`, (v, idx) => {
    const d = P.sub(v, mu.at(...idx.map((e, i) => (axes.includes(i) ? P.toExpr(0, DType.int64) : e))));
    return P.mul(d, d);
  });
  const cnt = countOf(x, axes, x.dtype);
  return mapT(sq, (v) => P.div(v, cnt), name);
}

export const REDUCE_LEGALIZE: LegalizeTable = {};
const simple: Record<string, Reducer> = {
  'relax.sum': T.sum,
  'relax.max': T.reduceMax,
  'relax.min': T.reduceMin,
  'relax.prod': T.prod,
};
for (const [name, reducer] of Object.entries(simple)) {
  const short = name.slice(6);
  REDUCE_LEGALIZE[name] = (call, bb, ctx) => {
    const { axis, keepdims } = ctx.attrs as ReduceAttrs;
    return emitTE(bb, call, short, (x) =>
      reducer === T.sum
        ? sumStage(x, axesOf(axis, x.ndim), keepdims, `T_${short}`)
        : reduceStage(x, axesOf(axis, x.ndim), keepdims, reducer, `T_${short}`),
    );
  };
}
REDUCE_LEGALIZE['relax.mean'] = (call, bb, ctx) => {
  const { axis, keepdims } = ctx.attrs as ReduceAttrs;
  return emitTE(bb, call, 'mean', (x) => meanStage(x, axesOf(axis, x.ndim), keepdims));
};
REDUCE_LEGALIZE['relax.variance'] = (call, bb, ctx) => {
  const { axis, keepdims } = ctx.attrs as ReduceAttrs;
  return emitTE(bb, call, 'variance', (x) => varianceStage(x, axesOf(axis, x.ndim), keepdims));
};
REDUCE_LEGALIZE['relax.std'] = (call, bb, ctx) => {
  const { axis, keepdims } = ctx.attrs as ReduceAttrs;
  return emitTE(bb, call, 'std', (x) =>
    mapT(varianceStage(x, axesOf(axis, x.ndim), keepdims), (v) => T.sqrt(v), 'T_std'),
  );
};

/** Unravel a flat index over `shape` (row-major). */
export function unravelIndex(flat: PrimExpr, shape: readonly PrimExpr[]): PrimExpr[] {
  const out: PrimExpr[] = [];
  let rest = flat;
  for (let d = shape.length - 1; d >= 0; d--) {
    out.unshift(d === 0 ? rest : P.floormod(rest, shape[d]));
    rest = P.floordiv(rest, shape[d]);
  }
  return out;
}

for (const name of ['relax.argmax', 'relax.argmin'] as const) {
  const short = name.slice(6);
  REDUCE_LEGALIZE[name] = (call, bb, ctx) => {
    const { axis, keepdims } = ctx.attrs as ArgReduceAttrs;
    const tr = name === 'relax.argmax' ? T.argmax : T.argmin;
    return emitTE(bb, call, short, (x) => {
      if (axis === null) {
        const total = dimProduct(x.shape);
        const outShape = keepdims ? x.shape.map(() => P.toExpr(1, DType.int64)) : [];
        const [idx] = T.compute(
          outShape,
          () => {
            const k = T.reduceAxis(total, 'k');
            return tr(x.at(...unravelIndex(k, x.shape)), k);
          },
          `T_${short}`,
        );
        return idx;
      }
      const a = axis < 0 ? axis + x.ndim : axis;
      const outShape = x.shape
        .filter((_, i) => i !== a || keepdims)
        .map((d, i) => (keepdims && i === a ? P.toExpr(1, DType.int64) : d));
      const [idx] = T.compute(
        outShape,
        (...o) => {
          const k = T.reduceAxis(x.shape[a], 'k');
          const ix: PrimExpr[] = [];
          let j = 0;
          for (let i = 0; i < x.ndim; i++) {
            if (i === a) {
              ix.push(k);
              if (keepdims) j++;
            } else ix.push(o[j++]);
          }
          return tr(x.at(...ix), k);
        },
        `T_${short}`,
        { axisNames: outShape.map((_, i) => `i${i}`) },
      );
      return idx;
    });
  };
}

for (const name of ['relax.cumsum', 'relax.cumprod'] as const) {
  const short = name.slice(6);
  REDUCE_LEGALIZE[name] = (call, bb, ctx) => {
    const { axis, dtype, exclusive } = ctx.attrs as ScanAttrs;
    const reducer = name === 'relax.cumsum' ? T.sum : T.prod;
    return emitTE(bb, call, short, (x) => {
      const dt = dtype ? parseDType(dtype) : x.dtype;
      const flat = axis === null;
      const shape = flat ? [dimProduct(x.shape)] : x.shape;
      const a = flat ? 0 : axis < 0 ? axis + x.ndim : axis;
      const load = (idx: PrimExpr[]) => (flat ? x.at(...unravelIndex(idx[0], x.shape)) : x.at(...idx));
      // O(n²) scan as a masked reduction: simple and exact for a reference kernel.
      return T.compute(
        shape,
        (...o) => {
          const k = T.reduceAxis(shape[a], 'k');
          const idx = o.map((v, i) => (i === a ? k : v));
          const cond = exclusive ? P.lt(k, o[a]) : P.le(k, o[a]);
          return reducer(P.cast(dt, load(idx)), k, { where: cond });
        },
        `T_${short}`,
        { axisNames: shape.map((_, i) => `i${i}`) },
      );
    });
  };
}
