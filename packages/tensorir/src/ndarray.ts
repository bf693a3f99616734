// NDArray: the host tensor the reference interpreter reads and writes, and the value
// numerical tests compare. Storage choices (one typed array per dtype):
// - float32 / float16 / bfloat16 → Float32Array. float16 and bfloat16 hold float32
//   values already rounded to the narrow type (round half to even), so the interpreter
//   computes in float32 and rounds every stored result back to the narrow grid.
// - float64 → Float64Array.
// - int64 / uint64 → BigInt64Array / BigUint64Array (the memory layout the runtime and
//   ONNX tensors use). The interpreter converts to JS numbers on load, so int64 index
//   arithmetic is exact within ±2^53 only.
// - int8/16/32, uint8/16/32 → the matching typed array; bool and uint1 → Uint8Array (0/1).
import type { DataType } from '@kiln/ir-core';
import { ErrorCodes, isLowPrecision, KilnError, dtype as parseDType, storageDType } from '@kiln/ir-core';

export type TypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array;

export interface NDArray {
  readonly dtype: DataType;
  readonly shape: readonly number[];
  /** Row-major, compact; `data.length === product(shape)`. */
  readonly data: TypedArray;
}

/** Whether a dtype's storage holds bigints (int64/uint64). */
export function isBigIntDType(t: DataType): boolean {
  return (t.code === 'int' || t.code === 'uint') && t.bits === 64;
}

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** A fresh zero-filled typed array of the storage kind for `t` (scalar element type). */
export function allocTypedArray(t: DataType, length: number): TypedArray {
  if (t.lanes !== 1)
    throw new KilnError(ErrorCodes.UNSUPPORTED, `NDArray of vector dtype ${t.str} is not supported`);
  if (isLowPrecision(t))
    throw new KilnError(
      ErrorCodes.UNSUPPORTED,
      `no NDArray of ${t.str}: run tir.LegalizeLowPrecision and pass its storage (${storageDType(t).str})`,
    );
  switch (t.code) {
    case 'float':
      return t.bits === 64 ? new Float64Array(length) : new Float32Array(length);
    case 'bfloat':
      return new Float32Array(length);
    case 'int':
      return t.bits === 8
        ? new Int8Array(length)
        : t.bits === 16
          ? new Int16Array(length)
          : t.bits === 32
            ? new Int32Array(length)
            : new BigInt64Array(length);
    case 'uint':
      return t.bits <= 8
        ? new Uint8Array(length)
        : t.bits === 16
          ? new Uint16Array(length)
          : t.bits === 32
            ? new Uint32Array(length)
            : new BigUint64Array(length);
    case 'bool':
      return new Uint8Array(length);
    default:
      throw new KilnError(ErrorCodes.UNSUPPORTED, `no NDArray storage for dtype ${t.str}`);
  }
}

// ---------------------------------------------------------------- narrow float rounding

/**
 * Round `x` to the nearest value of a binary float format with `mant` explicit mantissa
 * bits and normal exponents in [minExp, maxExp] (round half to even, overflow → ±Inf).
 */
function roundToFormat(x: number, mant: number, minExp: number, maxExp: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  let e = Math.floor(Math.log2(a));
  // log2 can be off by one near powers of two; fix it exactly.
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  if (e < minExp) e = minExp; // subnormal: fixed quantum
  const q = 2 ** (e - mant);
  const r = roundHalfEven(a / q) * q;
  const maxVal = (2 - 2 ** -mant) * 2 ** maxExp;
  const out = r > maxVal ? Infinity : r;
  return x < 0 ? -out : out;
}

/** Round to nearest integer, ties to even (IEEE default; ONNX Round). */
export function roundHalfEven(x: number): number {
  if (!Number.isFinite(x)) return x;
  const f = Math.floor(x);
  const d = x - f;
  const r = d < 0.5 ? f : d > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1;
  // Keep the sign of a negative input that rounds to zero (C's nearbyint(-0.4) is -0).
  return r === 0 && (x < 0 || Object.is(x, -0)) ? -0 : r;
}

export function roundToFloat16(x: number): number {
  return roundToFormat(x, 10, -14, 15);
}
export function roundToBFloat16(x: number): number {
  return roundToFormat(Math.fround(x), 7, -126, 127);
}

/** Round a JS number to what a scalar of dtype `t` can hold (wrapping integers like C). */
export function roundToDType(x: number, t: DataType): number {
  switch (t.code) {
    case 'float':
      return t.bits === 32 ? Math.fround(x) : t.bits === 16 ? roundToFloat16(x) : x;
    case 'bfloat':
      return roundToBFloat16(x);
    case 'bool':
      return x !== 0 ? 1 : 0; // like C: NaN converts to true
    case 'int':
    case 'uint':
      return wrapInt(x, t);
    default:
      return x;
  }
}

/**
 * Wrap an integral JS number to the range of an integer dtype (two's complement, like C).
 * 64-bit types are not wrapped: values are exact only within ±2^53.
 */
export function wrapInt(x: number, t: DataType): number {
  if (!Number.isFinite(x)) return 0;
  const v = Math.trunc(x);
  switch (t.bits) {
    case 1:
      return v & 1;
    case 8:
      return t.code === 'int' ? (v << 24) >> 24 : v & 0xff;
    case 16:
      return t.code === 'int' ? (v << 16) >> 16 : v & 0xffff;
    case 32:
      return t.code === 'int' ? v | 0 : v >>> 0;
    default:
      // `| 0` would lose the high bits of a 64-bit value; beyond 2^53 exactness is gone anyway.
      return v === 0 ? 0 : v;
  }
}

// ---------------------------------------------------------------- construction

export type NDArrayInit = TypedArray | ArrayLike<number | bigint | boolean>;

/**
 * Build an NDArray. `data` (row-major) is copied and converted to the dtype's storage
 * (values rounded to the dtype); without it the array is zero-filled.
 */
export function ndarray(dt: DataType | string, shape: readonly number[], data?: NDArrayInit): NDArray {
  const t = parseDType(dt);
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0)
      throw new KilnError(ErrorCodes.INVALID_ARGUMENT, `invalid NDArray shape [${shape.join(', ')}]`);
  }
  const n = shapeSize(shape);
  const arr = allocTypedArray(t, n);
  if (data !== undefined) {
    if (data.length !== n) {
      throw new KilnError(
        ErrorCodes.SHAPE_MISMATCH,
        `NDArray data has ${data.length} elements but shape [${shape.join(', ')}] needs ${n}`,
      );
    }
    const big = isBigIntDType(t);
    for (let i = 0; i < n; i++) {
      const v = (data as ArrayLike<number | bigint | boolean>)[i];
      if (big) {
        (arr as BigInt64Array)[i] = typeof v === 'bigint' ? v : BigInt(Math.trunc(Number(v)));
      } else {
        (arr as Float64Array)[i] = roundToDType(Number(v), t);
      }
    }
  }
  return Object.freeze({ dtype: t, shape: Object.freeze([...shape]), data: arr });
}

/** An NDArray with every element `value`. */
export function fullNDArray(dt: DataType | string, shape: readonly number[], value: number): NDArray {
  const t = parseDType(dt);
  const a = ndarray(t, shape);
  for (let i = 0; i < a.data.length; i++) setFlat(a, i, value);
  return a;
}

/** Element `i` (row-major) as a JS number (int64 converted, exact within ±2^53). */
export function getFlat(a: NDArray, i: number): number {
  return Number(a.data[i]);
}
export function setFlat(a: NDArray, i: number, v: number): void {
  if (isBigIntDType(a.dtype)) (a.data as BigInt64Array)[i] = BigInt(Math.trunc(v));
  else (a.data as Float64Array)[i] = roundToDType(v, a.dtype);
}

/** Row-major element at a multi-index. */
export function getAt(a: NDArray, index: readonly number[]): number {
  let off = 0;
  for (let d = 0; d < a.shape.length; d++) off = off * a.shape[d] + index[d];
  return getFlat(a, off);
}

/** The elements as plain numbers. */
export function toNumbers(a: NDArray): number[] {
  const out = new Array<number>(a.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Number(a.data[i]);
  return out;
}

export function cloneNDArray(a: NDArray): NDArray {
  return Object.freeze({ dtype: a.dtype, shape: a.shape, data: a.data.slice() as TypedArray });
}

// ---------------------------------------------------------------- random data

/** mulberry32: a small, fast, seeded PRNG returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RandomOptions {
  /** Value range for floats (default [-1, 1)) and integers (default [-8, 8) / [0, 16)). */
  low?: number;
  high?: number;
}

/**
 * Seeded random data: floats uniform in [low, high), integers uniform in [low, high),
 * bools random. Never all zeros (a zero-filled draw is patched) so tests cannot pass
 * vacuously.
 */
export function randomNDArray(
  dt: DataType | string,
  shape: readonly number[],
  seed = 1,
  opts: RandomOptions = {},
): NDArray {
  const t = parseDType(dt);
  const rnd = seededRandom(seed);
  const n = shapeSize(shape);
  const a = ndarray(t, shape);
  const isF = t.code === 'float' || t.code === 'bfloat';
  const low = opts.low ?? (isF ? -1 : t.code === 'int' ? -8 : 0);
  const high = opts.high ?? (isF ? 1 : t.code === 'bool' ? 2 : t.code === 'int' ? 8 : 16);
  let nonzero = false;
  for (let i = 0; i < n; i++) {
    const r = rnd();
    const v = isF ? low + (high - low) * r : Math.floor(low + (high - low) * r);
    setFlat(a, i, v);
    if (getFlat(a, i) !== 0) nonzero = true;
  }
  if (!nonzero && n > 0) setFlat(a, 0, 1);
  return a;
}

// ---------------------------------------------------------------- comparison

export interface AllCloseReport {
  readonly ok: boolean;
  readonly maxAbsError: number;
  readonly maxRelError: number;
  /** Row-major index of the first element outside tolerance (-1 when none). */
  readonly firstMismatch: number;
  /** Multi-index of the first mismatch, for messages. */
  readonly firstMismatchIndex?: readonly number[];
  readonly expected?: number;
  readonly actual?: number;
  /** Human-readable summary. */
  readonly message: string;
}

function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length).fill(0);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return idx;
}

/**
 * Compare `actual` against `expected` elementwise: |a - e| <= atol + rtol * |e| (numpy's
 * rule). NaNs match NaNs, infinities must match exactly. Shapes must agree.
 */
export function allClose(
  actual: NDArray,
  expected: NDArray | ArrayLike<number>,
  rtol = 1e-5,
  atol = 1e-6,
): AllCloseReport {
  const exp: ArrayLike<number> =
    'data' in expected && 'shape' in expected
      ? toNumbers(expected as NDArray)
      : (expected as ArrayLike<number>);
  if ('shape' in expected && (expected as NDArray).shape.join(',') !== actual.shape.join(',')) {
    const m = `shape mismatch: actual [${actual.shape.join(', ')}] vs expected [${(expected as NDArray).shape.join(', ')}]`;
    return { ok: false, maxAbsError: Infinity, maxRelError: Infinity, firstMismatch: 0, message: m };
  }
  if (exp.length !== actual.data.length) {
    const m = `size mismatch: actual ${actual.data.length} vs expected ${exp.length}`;
    return { ok: false, maxAbsError: Infinity, maxRelError: Infinity, firstMismatch: 0, message: m };
  }
  let maxAbs = 0;
  let maxRel = 0;
  let first = -1;
  for (let i = 0; i < exp.length; i++) {
    const a = Number(actual.data[i]);
    const e = exp[i];
    let bad: boolean;
    let abs: number;
    if (Number.isNaN(a) || Number.isNaN(e)) {
      bad = !(Number.isNaN(a) && Number.isNaN(e));
      abs = bad ? Infinity : 0;
    } else if (!Number.isFinite(a) || !Number.isFinite(e)) {
      bad = a !== e;
      abs = bad ? Infinity : 0;
    } else {
      abs = Math.abs(a - e);
      bad = abs > atol + rtol * Math.abs(e);
    }
    const rel = abs === 0 ? 0 : abs / Math.max(Math.abs(e), Number.MIN_VALUE);
    if (abs > maxAbs) maxAbs = abs;
    if (rel > maxRel) maxRel = rel;
    if (bad && first < 0) first = i;
  }
  if (first < 0) {
    return {
      ok: true,
      maxAbsError: maxAbs,
      maxRelError: maxRel,
      firstMismatch: -1,
      message: `ok (max abs ${maxAbs}, max rel ${maxRel})`,
    };
  }
  const idx = unravel(first, actual.shape);
  const a = Number(actual.data[first]);
  const e = exp[first];
  return {
    ok: false,
    maxAbsError: maxAbs,
    maxRelError: maxRel,
    firstMismatch: first,
    firstMismatchIndex: idx,
    actual: a,
    expected: e,
    message: `mismatch at [${idx.join(', ')}]: actual ${a}, expected ${e} (max abs ${maxAbs}, max rel ${maxRel}, rtol ${rtol}, atol ${atol})`,
  };
}
