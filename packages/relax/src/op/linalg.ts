// Linear algebra: matmul (batched, broadcasting, NumPy 1-D promotion), linear
// (x · Wᵀ + b, the ONNX Gemm / torch Linear form) and einsum.
import type { DataType, PrimExpr } from '@kiln/ir-core';
import { ErrorCodes, dtype as parseDType } from '@kiln/ir-core';
import { dim, provablyEqual, provablyNotEqual } from '../arith.js';
import { call, tuple } from '../ir/expr.js';
import type { Call, Expr } from '../ir/nodes.js';
import { broadcastShapes, shapeToString } from '../ir/struct-info.js';
import { result, unifyDType, z, zDType } from './common.js';
import type { OpContext, OpDef, TensorArg } from './registry.js';
import { argShapeText, defineOp } from './registry.js';

const matmulAttrs = z.object({ outDtype: zDType.nullable().default(null) });
export type MatmulAttrs = z.output<typeof matmulAttrs>;

function checkReduceDim(
  ctx: OpContext<unknown>,
  a: TensorArg,
  b: TensorArg,
  ka: PrimExpr,
  kb: PrimExpr,
): void {
  if (provablyNotEqual(ka, kb)) {
    ctx.fail(
      ErrorCodes.SHAPE_MISMATCH,
      `reduction dims differ: ${shapeToString([ka])} vs ${shapeToString([kb])} (shapes ${argShapeText(a)} and ${argShapeText(b)})`,
    );
  }
}

function outDType(ctx: OpContext<{ outDtype: string | null }>, ts: TensorArg[]): DataType | undefined {
  const dt = unifyDType(ctx as OpContext<unknown>, ts);
  return ctx.attrs.outDtype ? parseDType(ctx.attrs.outDtype) : dt;
}

export const matmulOp = defineOp<MatmulAttrs>({
  name: 'relax.matmul',
  attrs: matmulAttrs,
  numArgs: 2,
  pattern: 'out_elemwise_fusable',
  inferStructInfo(_c, ctx) {
    const a = ctx.tensor(0);
    const b = ctx.tensor(1);
    const dt = outDType(ctx, [a, b]);
    if (a.ndim === 0 || b.ndim === 0)
      ctx.fail(
        ErrorCodes.SHAPE_MISMATCH,
        `operands must have rank >= 1, got ${argShapeText(a)} and ${argShapeText(b)}`,
      );
    if (!a.shape || !b.shape) {
      if (a.ndim < 0 || b.ndim < 0) return result(undefined, dt, -1);
      const nd = Math.max(a.ndim, b.ndim, 2) - (a.ndim === 1 ? 1 : 0) - (b.ndim === 1 ? 1 : 0);
      return result(undefined, dt, nd);
    }
    const as = a.ndim === 1 ? [dim(1), a.shape[0]] : [...a.shape];
    const bs = b.ndim === 1 ? [b.shape[0], dim(1)] : [...b.shape];
    checkReduceDim(ctx as OpContext<unknown>, a, b, as[as.length - 1], bs[bs.length - 2]);
    const batch = broadcastShapes(ctx.op, [as.slice(0, -2), bs.slice(0, -2)]);
    const nBatch = Math.max(as.length, bs.length) - 2;
    const tail: PrimExpr[] = [];
    if (a.ndim !== 1) tail.push(as[as.length - 2]);
    if (b.ndim !== 1) tail.push(bs[bs.length - 1]);
    if (!batch) return result(undefined, dt, nBatch + tail.length);
    return result([...batch, ...tail], dt);
  },
});

/** `linear(x, w, b?)` = x · wᵀ (+ b): x [..., k], w [m, k], b [m] → [..., m]. */
export const linearOp = defineOp<MatmulAttrs>({
  name: 'relax.linear',
  attrs: matmulAttrs,
  numArgs: [2, 3],
  pattern: 'out_elemwise_fusable',
  inferStructInfo(c, ctx) {
    const x = ctx.tensor(0);
    const w = ctx.tensor(1);
    const ts = [x, w];
    if (c.args.length === 3) ts.push(ctx.tensor(2));
    const dt = outDType(ctx, ts);
    if (w.ndim >= 0 && w.ndim !== 2)
      ctx.fail(ErrorCodes.SHAPE_MISMATCH, `weight must be 2-D [out, in], got ${argShapeText(w)}`);
    if (x.ndim === 0) ctx.fail(ErrorCodes.SHAPE_MISMATCH, 'input must have rank >= 1');
    if (!x.shape || !w.shape) return result(undefined, dt, x.ndim);
    checkReduceDim(ctx as OpContext<unknown>, x, w, x.shape[x.ndim - 1], w.shape[1]);
    const out = [...x.shape.slice(0, -1), w.shape[0]];
    if (ts.length === 3) {
      const bias = ts[2];
      if (bias.shape) broadcastShapes(ctx.op, [out, bias.shape]);
    }
    return result(out, dt);
  },
});

/** Parse `ij,jk->ik` (explicit) or `ij,jk` (implicit: sorted letters used once). */
export function parseEinsum(subscripts: string, nInputs: number): { inputs: string[]; output: string } {
  const s = subscripts.replace(/\s+/g, '');
  if (s.includes('.')) throw new Error('ellipsis ("...") is not supported');
  const [lhs, rhs] = s.split('->');
  const inputs = lhs.split(',');
  if (inputs.length !== nInputs) throw new Error(`subscripts name ${inputs.length} operands, got ${nInputs}`);
  for (const t of [...inputs, rhs ?? ''])
    if (!/^[A-Za-z]*$/.test(t)) throw new Error(`bad subscript term '${t}'`);
  let output = rhs;
  if (output === undefined) {
    const counts = new Map<string, number>();
    for (const t of inputs) for (const ch of t) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    output = [...counts.keys()]
      .filter((k) => counts.get(k) === 1)
      .sort()
      .join('');
  }
  return { inputs, output };
}

const einsumAttrs = z.object({ subscripts: z.string() });
export type EinsumAttrs = z.output<typeof einsumAttrs>;
/** `einsum((a, b, ...), subscripts)`: operands as one tuple argument. */
export const einsumOp = defineOp<EinsumAttrs>({
  name: 'relax.einsum',
  attrs: einsumAttrs,
  numArgs: 1,
  pattern: 'out_elemwise_fusable',
  inferStructInfo(_c, ctx) {
    const ts = ctx.arg(0);
    if (ts.kind !== 'relax.TupleStructInfo')
      return ctx.fail(ErrorCodes.INVALID_ARGUMENT, 'operands must be a tuple of tensors');
    const tensors = ts.fields.map((f, i) => {
      if (f.kind !== 'relax.TensorStructInfo')
        ctx.fail(ErrorCodes.INVALID_ARGUMENT, `operand ${i} is not a tensor`);
      return f;
    });
    let spec: { inputs: string[]; output: string };
    try {
      spec = parseEinsum(ctx.attrs.subscripts, tensors.length);
    } catch (e) {
      return ctx.fail(
        ErrorCodes.INVALID_ARGUMENT,
        `subscripts '${ctx.attrs.subscripts}': ${(e as Error).message}`,
      );
    }
    let dt: DataType | undefined;
    for (const t of tensors) {
      if (t.kind !== 'relax.TensorStructInfo') continue;
      if (dt && t.dtype && t.dtype !== dt)
        ctx.fail(ErrorCodes.DTYPE_MISMATCH, 'operands have different dtypes');
      dt = dt ?? t.dtype;
    }
    const sizes = new Map<string, PrimExpr>();
    let known = true;
    tensors.forEach((t, i) => {
      if (t.kind !== 'relax.TensorStructInfo') return;
      const term = spec.inputs[i];
      if (t.ndim >= 0 && t.ndim !== term.length)
        ctx.fail(ErrorCodes.SHAPE_MISMATCH, `operand ${i} has rank ${t.ndim} but subscript '${term}'`);
      const shape = t.shape && t.shape.kind === 'relax.ShapeExpr' ? t.shape.values : undefined;
      if (!shape) {
        known = false;
        return;
      }
      [...term].forEach((ch, j) => {
        const prev = sizes.get(ch);
        if (prev === undefined || provablyEqual(prev, 1)) sizes.set(ch, shape[j]);
        else if (!provablyEqual(shape[j], 1) && provablyNotEqual(prev, shape[j])) {
          ctx.fail(
            ErrorCodes.SHAPE_MISMATCH,
            `index '${ch}' has sizes ${shapeToString([prev])} and ${shapeToString([shape[j]])}`,
          );
        }
      });
    });
    for (const ch of spec.output)
      if (!spec.inputs.some((t) => t.includes(ch)))
        ctx.fail(ErrorCodes.INVALID_ARGUMENT, `output index '${ch}' appears in no operand`);
    if (!known) return result(undefined, dt, spec.output.length);
    return result(
      [...spec.output].map((ch) => sizes.get(ch)!),
      dt,
    );
  },
});

export const LINALG_OPS: readonly OpDef<unknown>[] = [
  matmulOp,
  linearOp,
  einsumOp,
] as readonly OpDef<unknown>[];

export function matmul(a: Expr, b: Expr, outDtype: string | null = null): Call {
  return call('relax.matmul', [a, b], { attrs: { outDtype } });
}
export function linear(x: Expr, w: Expr, bias?: Expr, outDtype: string | null = null): Call {
  return call('relax.linear', bias ? [x, w, bias] : [x, w], { attrs: { outDtype } });
}
export function einsum(operands: readonly Expr[], subscripts: string): Call {
  return call('relax.einsum', [tuple(operands)], { attrs: { subscripts } });
}
/** `dense(x, w, b?)` = `linear` (x · wᵀ + b), the name Relay users know. */
export const dense = linear;
