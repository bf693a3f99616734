// Slice (opset ≥ 10) whose starts or ends come from a shape computation rather than a
// constant, e.g. `position_ids[:, :Shape(input_ids)[1]]` in Hugging Face encoders exported
// with a dynamic sequence length. Axes with constant bounds become one strided_slice;
// each axis with a symbolic bound becomes `take(x, arange(start, end, step), axis)`, whose
// length is the symbolic `end - start` (so it unifies with the other uses of that dim).
// As with TVM's `assume_inbound`, symbolic bounds are taken to lie within the axis:
// the clamping ONNX specifies can only be applied to constant bounds.
import type { PrimExpr } from '@kiln/ir-core';
import { DType, intImm } from '@kiln/ir-core';
import type { Expr } from '@kiln/relax';
import { constDim, op } from '@kiln/relax';
import type { NodeContext, OnnxValue } from '../context.js';
import { dims, exprOf, exprValue, optInts, symInts } from '../context.js';
import { OnnxErrorCodes } from '../errors.js';
import { em, normAxis } from './common.js';

const INT32_MAX = 2 ** 31 - 1;

/** Whether Slice's starts or ends are known only symbolically (shape-derived). */
export function hasSymbolicBounds(ctx: NodeContext): boolean {
  const s = ctx.input(1);
  const e = ctx.input(2);
  return s?.kind === 'sym' || e?.kind === 'sym';
}

export function symbolicSlice(ctx: NodeContext, x: OnnxValue): OnnxValue {
  const starts = symInts(ctx, 1, 'starts');
  const ends = symInts(ctx, 2, 'ends');
  if (starts.length !== ends.length)
    ctx.fail(OnnxErrorCodes.ONNX_INVALID, `starts has ${starts.length} values but ends has ${ends.length}`);
  const d = dims(ctx, x);
  const axes = (optInts(ctx, 3, 'axes') ?? starts.map((_, i) => i)).map((a) => normAxis(ctx, a, d.length));
  const steps = optInts(ctx, 4, 'steps') ?? starts.map(() => 1);
  if (axes.length !== starts.length || steps.length !== starts.length)
    ctx.fail(OnnxErrorCodes.ONNX_INVALID, 'starts, ends, axes and steps must have the same length');
  if (steps.some((s) => s === 0)) ctx.fail(OnnxErrorCodes.ONNX_INVALID, 'slice step 0');

  const cAx: number[] = [];
  const cBegin: number[] = [];
  const cEnd: number[] = [];
  const cStep: number[] = [];
  const symbolic: { axis: number; begin: PrimExpr; end: PrimExpr; step: number }[] = [];
  axes.forEach((a, i) => {
    const b = constDim(starts[i]);
    const e = constDim(ends[i]);
    if (b !== undefined && e !== undefined) {
      const c = (v: number) => Math.max(-INT32_MAX, Math.min(INT32_MAX, v));
      cAx.push(a);
      cBegin.push(c(b));
      cEnd.push(c(e));
      cStep.push(steps[i]);
      return;
    }
    // A constant bound on the other side is resolved against the axis when it is static
    // (negative = from the end, huge = to the end); a symbolic one is used as it is.
    const n = constDim(d[a]);
    const resolve = (v: PrimExpr): PrimExpr => {
      const k = constDim(v);
      if (k === undefined) return v;
      if (n === undefined) {
        if (k < 0 || k >= INT32_MAX)
          ctx.fail(
            OnnxErrorCodes.ONNX_DYNAMIC,
            `a slice of axis ${a} mixes a symbolic bound with ${k}, which needs the axis length`,
          );
        return intImm(k, DType.int64);
      }
      let r = k < 0 ? k + n : k;
      r = steps[i] > 0 ? Math.max(0, Math.min(n, r)) : Math.max(-1, Math.min(n - 1, r));
      return intImm(r, DType.int64);
    };
    symbolic.push({ axis: a, begin: resolve(starts[i]), end: resolve(ends[i]), step: steps[i] });
  });

  let y: Expr = exprOf(ctx, x);
  if (cAx.length) y = em(ctx, op.stridedSlice(y, cAx, cBegin, cEnd, cStep));
  for (const s of symbolic) {
    const idx = em(ctx, op.arange(s.begin, s.end, s.step, 'int64'));
    y = em(ctx, op.take(y, idx, s.axis));
  }
  return exprValue(y);
}
