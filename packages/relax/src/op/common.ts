// Shared pieces of StructInfo inference: axis normalization, result construction,
// dtype unification, reading ShapeExpr / PrimValue arguments, and zod attr helpers.
import type { DataType, PrimExpr } from '@kiln/ir-core';
import { DType, ErrorCodes } from '@kiln/ir-core';
import { z } from 'zod';
import { simplifyDim } from '../arith.js';
import type { Expr, StructInfo, TensorStructInfo } from '../ir/nodes.js';
import { shapeValues, tensorSInfo } from '../ir/struct-info.js';
import type { OpContext, TensorArg } from './registry.js';

export { z };

/** zod: a dtype name (`float32`); validated by parsing later. */
export const zDType = z
  .string()
  .regex(
    /^((int|uint|float|bfloat|bool)\d*|float8_e4m3fnuz|float8_e4m3fn|float8_e5m2fnuz|float8_e5m2|float8_e8m0fnu|float4_e2m1fn)$/,
    'expected a dtype name like float32',
  );
export const zInts = z.array(z.number().int());
export const zAxis = z.number().int();

/** Normalize a possibly negative axis against `ndim` (INVALID_ARGUMENT when out of range). */
export function normAxis(ctx: OpContext<unknown>, axis: number, ndim: number): number {
  const a = axis < 0 ? axis + ndim : axis;
  if (a < 0 || a >= ndim)
    ctx.fail(ErrorCodes.INVALID_ARGUMENT, `axis ${axis} is out of range for a tensor of rank ${ndim}`);
  return a;
}
/** Normalize a list of axes, rejecting repeats. */
export function normAxes(ctx: OpContext<unknown>, axes: readonly number[], ndim: number): number[] {
  const out = axes.map((a) => normAxis(ctx, a, ndim));
  if (new Set(out).size !== out.length)
    ctx.fail(ErrorCodes.INVALID_ARGUMENT, `repeated axis in [${axes.join(', ')}]`);
  return out;
}

/** A result tensor: known dims, or just the rank (`ndim`, -1 unknown). */
export function result(
  shape: readonly PrimExpr[] | undefined,
  dt: DataType | undefined,
  ndim = -1,
): TensorStructInfo {
  return shape ? tensorSInfo(shape.map(simplifyDim), dt) : tensorSInfo(undefined, dt, { ndim });
}

/** The common dtype of tensors (DTYPE_MISMATCH when two known dtypes differ). */
export function unifyDType(ctx: OpContext<unknown>, ts: readonly TensorArg[]): DataType | undefined {
  let dt: DataType | undefined;
  for (const t of ts) {
    if (!t.dtype) continue;
    if (dt && dt !== t.dtype) {
      ctx.fail(
        ErrorCodes.DTYPE_MISMATCH,
        `operands have different dtypes: ${ts.map((x) => x.dtype?.str ?? '?').join(', ')}`,
      );
    }
    dt = t.dtype;
  }
  return dt;
}

/** The values of a shape argument (a ShapeExpr or a var of ShapeStructInfo), if known. */
export function shapeArg(ctx: OpContext<unknown>, i: number): { values?: readonly PrimExpr[]; ndim: number } {
  const s = ctx.arg(i);
  if (s.kind !== 'relax.ShapeStructInfo')
    ctx.fail(ErrorCodes.INVALID_ARGUMENT, `argument ${i} must be a shape`);
  return { values: shapeValues(s), ndim: s.ndim };
}

/** The symbolic value of a PrimValue argument (or 0-d int shape value), if known. */
export function primArg(ctx: OpContext<unknown>, i: number): PrimExpr | undefined {
  const s = ctx.arg(i);
  if (s.kind !== 'relax.PrimStructInfo')
    ctx.fail(ErrorCodes.INVALID_ARGUMENT, `argument ${i} must be a scalar value`);
  return s.value;
}

export function isTensorSInfo(s: StructInfo): s is TensorStructInfo {
  return s.kind === 'relax.TensorStructInfo';
}
export function isFloatDType(dt: DataType | undefined): boolean {
  return dt !== undefined && (dt.code === 'float' || dt.code === 'bfloat');
}
export const I64 = DType.int64;
export type { Expr };
