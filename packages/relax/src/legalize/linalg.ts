// Legalization of matmul, linear and einsum.
import type { DataType, PrimExpr, Var as PrimVar } from '@kiln/ir-core';
import * as P from '@kiln/ir-core';
import { DType, isConstInt } from '@kiln/ir-core';
import type { Tensor } from '@kiln/tensorir';
import * as T from '@kiln/tensorir';
import { parseEinsum } from '../op/linalg.js';
import type { LegalizeTable } from './common.js';
import { emitTE, outTensorInfo } from './te-call.js';

const zero = () => P.toExpr(0, DType.int64);
const cast = (v: PrimExpr, dt: DataType) => (v.dtype === dt ? v : P.cast(dt, v));

/** Batch index of `t` (right-aligned against the output batch index; size-1 dims read 0). */
function batchIndex(t: Tensor, nBatch: number, outBatch: readonly PrimExpr[]): PrimExpr[] {
  const off = outBatch.length - nBatch;
  return Array.from({ length: nBatch }, (_, i) => (isConstInt(t.shape[i], 1) ? zero() : outBatch[off + i]));
}

/** 16-bit floats accumulate products in float32, as numpy (the ONNX reference) does. */
export function accumulatorOf(dtype: DataType): DataType {
  return (dtype.code === 'float' || dtype.code === 'bfloat') && dtype.bits === 16 ? DType.float32 : dtype;
}
function roundTo(t: Tensor, dtype: DataType, name: string): Tensor {
  return T.compute(t.shape, (...o) => P.cast(dtype, t.at(...o)), name, {
    axisNames: t.shape.map((_, i) => `i${i}`),
  });
}

export const LINALG_LEGALIZE: LegalizeTable = {
  'relax.matmul': (call, bb) => {
    const { shape, dtype } = outTensorInfo(call, 'relax.matmul');
    const acc = accumulatorOf(dtype);
    return emitTE(bb, call, 'matmul', (a, b) => {
      const mm = T.compute(
        shape,
        (...o) => {
          const aVec = a.ndim === 1;
          const bVec = b.ndim === 1;
          const nOutBatch = shape.length - (aVec ? 0 : 1) - (bVec ? 0 : 1);
          const ob = o.slice(0, nOutBatch);
          const kDim = a.shape[a.ndim - 1];
          const k = T.reduceAxis(kDim, 'k');
          const ai = aVec ? [k] : [...batchIndex(a, a.ndim - 2, ob), o[nOutBatch], k];
          const bi = bVec ? [k] : [...batchIndex(b, b.ndim - 2, ob), k, o[shape.length - 1]];
          return T.sum(P.mul(cast(a.at(...ai), acc), cast(b.at(...bi), acc)), k);
        },
        acc === dtype ? 'T_matmul' : 'T_matmul_acc',
        { axisNames: shape.map((_, i) => `i${i}`) },
      );
      return acc === dtype ? mm : roundTo(mm, dtype, 'T_matmul');
    });
  },
  'relax.linear': (call, bb) => {
    const { shape, dtype } = outTensorInfo(call, 'relax.linear');
    return emitTE(bb, call, 'linear', (x, w, bias) => {
      const mm = T.compute(
        shape,
        (...o) => {
          const k = T.reduceAxis(w.shape[1], 'k');
          return T.sum(
            P.mul(cast(x.at(...o.slice(0, -1), k), dtype), cast(w.at(o[o.length - 1], k), dtype)),
            k,
          );
        },
        bias ? 'T_linear_mm' : 'T_linear',
        { axisNames: shape.map((_, i) => `i${i}`) },
      );
      if (!bias) return mm;
      return T.compute(shape, (...o) => P.add(mm.at(...o), cast(bias.atBroadcast(o), dtype)), 'T_linear', {
        axisNames: shape.map((_, i) => `i${i}`),
      });
    });
  },
  'relax.einsum': (call, bb, ctx) => {
    const { subscripts } = ctx.attrs as { subscripts: string };
    const { shape, dtype } = outTensorInfo(call, 'relax.einsum');
    return emitTE(bb, call, 'einsum', (...ins) => {
      const spec = parseEinsum(subscripts, ins.length);
      const sizes = new Map<string, PrimExpr>();
      ins.forEach((t, i) => {
        [...spec.inputs[i]].forEach((ch, j) => {
          if (!sizes.has(ch) || isConstInt(sizes.get(ch)!, 1)) sizes.set(ch, t.shape[j]);
        });
      });
      const reduced = [...sizes.keys()].filter((ch) => !spec.output.includes(ch));
      return T.compute(
        shape,
        (...o) => {
          const env = new Map<string, PrimVar>();
          [...spec.output].forEach((ch, i) => {
            env.set(ch, o[i]);
          });
          const raxes = reduced.map((ch) => {
            const r = T.reduceAxis(sizes.get(ch)!, ch);
            env.set(ch, r);
            return r;
          });
          const prod = ins
            .map((t, i) =>
              cast(
                t.at(
                  ...[...spec.inputs[i]].map((ch, j) => (isConstInt(t.shape[j], 1) ? zero() : env.get(ch)!)),
                ),
                dtype,
              ),
            )
            .reduce((acc, v) => P.mul(acc, v));
          return raxes.length ? T.sum(prod, raxes) : prod;
        },
        'T_einsum',
        { axisNames: [...spec.output].map((ch) => `i_${ch}`) },
      );
    });
  },
};
