// Shared execution semantics of the interpreter's two engines (closures and generated
// JavaScript): storage, frames, per-operation rounding, integer division, casts, and
// per-thread memory for thread-bound kernels.
import type { DataType } from '@kiln/ir-core';
import { ErrorCodes, elementOf, KilnError } from '@kiln/ir-core';
import type { TypedArray } from '../ndarray.js';
import { roundToBFloat16, roundToFloat16, wrapInt } from '../ndarray.js';

export interface Storage {
  /** The memory (for per-thread storage: a template of the right length, never written). */
  readonly data: TypedArray;
  readonly big: boolean;
  readonly name: string;
  /**
   * Per-thread / per-block copies for `local` / `shared` allocations in kernels with
   * thread-bound loops (keyed by the current blockIdx, and threadIdx for `local`), so
   * that sequential execution of the thread loops still gives each thread its own memory.
   */
  readonly parts?: Map<number, Map<number, TypedArray>>;
  readonly perThread?: boolean;
}
export interface Frame {
  readonly v: Float64Array;
  readonly s: Array<Storage | undefined>;
  /** Current thread coordinates: blockIdx.x/y/z, threadIdx.x/y/z. */
  readonly t: Float64Array;
}

export const THREAD_REGS: Readonly<Record<string, number>> = {
  'blockIdx.x': 0,
  'blockIdx.y': 1,
  'blockIdx.z': 2,
  'threadIdx.x': 3,
  'threadIdx.y': 4,
  'threadIdx.z': 5,
};

/** The memory of `st` as seen by the current thread. */
export function memOf(st: Storage, f: Frame): TypedArray {
  const parts = st.parts;
  if (!parts) return st.data;
  const t = f.t;
  // Two levels (block, then thread) keep each key well inside the exact-integer range.
  const bkey = t[0] + 65536 * (t[1] + 65536 * t[2]);
  let inner = parts.get(bkey);
  if (!inner) {
    inner = new Map();
    parts.set(bkey, inner);
  }
  const tkey = st.perThread ? t[3] + 1024 * (t[4] + 1024 * t[5]) : 0;
  let m = inner.get(tkey);
  if (!m) {
    m = st.data.slice() as TypedArray;
    inner.set(tkey, m);
  }
  return m;
}
export type SFn = (f: Frame) => number;
export type XFn = (f: Frame) => void;

// ---------------------------------------------------------------- scalar operations

export type BinOp = (a: number, b: number) => number;

export function rounder(t: DataType): (x: number) => number {
  const e = elementOf(t);
  switch (e.code) {
    case 'float':
      return e.bits === 32 ? Math.fround : e.bits === 16 ? roundToFloat16 : (x) => x;
    case 'bfloat':
      return roundToBFloat16;
    case 'bool':
      return (x) => (x !== 0 ? 1 : 0); // like C: NaN converts to true
    case 'int':
    case 'uint':
      if (e.bits === 32) return e.code === 'int' ? (x) => x | 0 : (x) => x >>> 0;
      if (e.bits === 64) return (x) => x;
      return (x) => wrapInt(x, e);
    default:
      return (x) => x;
  }
}

export function divZero(what: string): never {
  throw new KilnError(ErrorCodes.DIVIDE_BY_ZERO, `integer ${what} by zero`);
}

export function binOp(kind: string, operand: DataType, result: DataType): BinOp {
  const isF = operand.code === 'float' || operand.code === 'bfloat';
  const r = rounder(result);
  const e = elementOf(operand);
  switch (kind) {
    case 'Add':
      if (!isF && e.bits === 32 && e.code === 'int') return (a, b) => (a + b) | 0;
      return (a, b) => r(a + b);
    case 'Sub':
      if (!isF && e.bits === 32 && e.code === 'int') return (a, b) => (a - b) | 0;
      return (a, b) => r(a - b);
    case 'Mul':
      if (!isF && e.bits === 32) return e.code === 'int' ? Math.imul : (a, b) => Math.imul(a, b) >>> 0;
      if (!isF && e.bits < 32) return (a, b) => r(Math.imul(a, b));
      return (a, b) => r(a * b);
    case 'Div':
      if (isF) return (a, b) => r(a / b);
      return (a, b) => (b === 0 ? divZero('division') : r(Math.trunc(a / b)));
    case 'Mod':
      if (isF) return (a, b) => r(a % b);
      return (a, b) => (b === 0 ? divZero('modulo') : r(a % b));
    case 'FloorDiv':
      if (isF) return (a, b) => r(Math.floor(a / b));
      return (a, b) => (b === 0 ? divZero('floordiv') : r(Math.floor(a / b)));
    case 'FloorMod':
      if (isF) return (a, b) => r(a - Math.floor(a / b) * b);
      return (a, b) => {
        if (b === 0) divZero('floormod');
        const m = a % b;
        return r(m !== 0 && m < 0 !== b < 0 ? m + b : m);
      };
    case 'Min':
      return (a, b) => Math.min(a, b);
    case 'Max':
      return (a, b) => Math.max(a, b);
    case 'EQ':
      return (a, b) => (a === b ? 1 : 0);
    case 'NE':
      return (a, b) => (a !== b ? 1 : 0);
    case 'LT':
      return (a, b) => (a < b ? 1 : 0);
    case 'LE':
      return (a, b) => (a <= b ? 1 : 0);
    case 'GT':
      return (a, b) => (a > b ? 1 : 0);
    case 'GE':
      return (a, b) => (a >= b ? 1 : 0);
    default:
      throw new KilnError(ErrorCodes.INTERNAL, `internal error: no binary operator '${kind}'`);
  }
}

/**
 * Inlined closures for the hottest cases (index arithmetic in int64/int32, float32 and
 * float64 add/mul, comparisons), saving a call per node; undefined for the rest.
 */
export function fastBinary(
  kind: string,
  operand: DataType,
  a: SFn,
  b: SFn,
  bConst: number | undefined,
): SFn | undefined {
  const e = elementOf(operand);
  const exact =
    (e.code === 'int' || e.code === 'uint') && e.bits === 64 ? true : e.code === 'float' && e.bits === 64;
  const f32 = e.code === 'float' && e.bits === 32;
  const i32 = e.code === 'int' && e.bits === 32;
  if (bConst !== undefined && (exact || i32)) {
    const c = bConst;
    switch (kind) {
      case 'Add':
        return i32 ? (f) => (a(f) + c) | 0 : (f) => a(f) + c;
      case 'Sub':
        return i32 ? (f) => (a(f) - c) | 0 : (f) => a(f) - c;
      case 'Mul':
        return i32 ? (f) => Math.imul(a(f), c) : (f) => a(f) * c;
      case 'LT':
        return (f) => (a(f) < c ? 1 : 0);
      case 'GE':
        return (f) => (a(f) >= c ? 1 : 0);
      default:
        break;
    }
  }
  switch (kind) {
    case 'Add':
      if (exact) return (f) => a(f) + b(f);
      if (f32) return (f) => Math.fround(a(f) + b(f));
      if (i32) return (f) => (a(f) + b(f)) | 0;
      return undefined;
    case 'Sub':
      if (exact) return (f) => a(f) - b(f);
      if (f32) return (f) => Math.fround(a(f) - b(f));
      if (i32) return (f) => (a(f) - b(f)) | 0;
      return undefined;
    case 'Mul':
      if (exact) return (f) => a(f) * b(f);
      if (f32) return (f) => Math.fround(a(f) * b(f));
      if (i32) return (f) => Math.imul(a(f), b(f));
      return undefined;
    case 'LT':
      return (f) => (a(f) < b(f) ? 1 : 0);
    case 'GE':
      return (f) => (a(f) >= b(f) ? 1 : 0);
    default:
      return undefined;
  }
}

export function castFn(from: DataType, to: DataType): (x: number) => number {
  const f = elementOf(from);
  const t = elementOf(to);
  const r = rounder(t);
  const fromFloat = f.code === 'float' || f.code === 'bfloat';
  const toInt = t.code === 'int' || t.code === 'uint';
  if (fromFloat && toInt) return (x) => (Number.isFinite(x) ? r(Math.trunc(x)) : 0);
  return r;
}

export function compactStride(shape: readonly number[], d: number): number {
  let s = 1;
  for (let k = d + 1; k < shape.length; k++) s *= shape[k];
  return s;
}
