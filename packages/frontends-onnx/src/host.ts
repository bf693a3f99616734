// HostTensor: small tensors known at import time (initializers, Constant nodes, folded
// shape computations). Values are kept as float64 numbers whatever the dtype, which is
// exact for every integer a shape computation produces; `toConstant` converts to the
// dtype's storage for the Relax constant.

import {
  isLowPrecision,
  isLowPrecisionFloat,
  isSubByteInt,
  minifloatStorageOf,
  minifloatToNumber,
  numberToMinifloat,
  dtype as parseDType,
  wrapSubByteInt,
} from '@kiln/ir-core';
import type { Constant } from '@kiln/relax';
import { constant, typedArrayFor } from '@kiln/relax';

export interface HostTensor {
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

export function hostTensor(dtype: string, shape: readonly number[], data: ArrayLike<number>): HostTensor {
  return { dtype, shape: [...shape], data: data instanceof Float64Array ? data : Float64Array.from(data) };
}
export function scalarHost(dtype: string, v: number): HostTensor {
  return hostTensor(dtype, [], [v]);
}
export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

const I64_MAX = 2n ** 63n - 1n;
const I64_MIN = -(2n ** 63n);

function f32ToHalfBits(v: number, bf16: boolean): number {
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer)[0];
  if (bf16) {
    // round to nearest even on the dropped 16 bits
    if (Number.isNaN(v)) return 0x7fc0;
    return ((u + 0x7fff + ((u >> 16) & 1)) >>> 16) & 0xffff;
  }
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  e = half;
  return sign | e;
}

/** Values converted to the storage TypedArray of `dtype` (bool as bytes, halves as bits, int64 saturating). */
export function toStorage(dtype: string, data: ArrayLike<number>): ReturnType<typeof typedArrayFor> {
  const dt = parseDType(dtype);
  const arr = typedArrayFor(dt, data.length);
  if (arr instanceof BigInt64Array || arr instanceof BigUint64Array) {
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      let b = Number.isFinite(v) ? BigInt(Math.trunc(v)) : v > 0 ? I64_MAX : I64_MIN;
      if (arr instanceof BigInt64Array) b = b > I64_MAX ? I64_MAX : b < I64_MIN ? I64_MIN : b;
      else b = b < 0n ? 0n : b;
      arr[i] = b;
    }
  } else if (dtype === 'float16' || dtype === 'bfloat16') {
    for (let i = 0; i < data.length; i++) arr[i] = f32ToHalfBits(data[i], dtype === 'bfloat16');
  } else if (dtype === 'bool') {
    for (let i = 0; i < data.length; i++) arr[i] = data[i] ? 1 : 0;
  } else if (isLowPrecisionFloat(dt)) {
    // float8 / float4: bit codes, one per byte (values here are exact, so this is lossless).
    for (let i = 0; i < data.length; i++) arr[i] = minifloatStorageOf(dt, data[i]);
  } else if (isSubByteInt(dt)) {
    for (let i = 0; i < data.length; i++) arr[i] = wrapSubByteInt(dt, data[i]);
  } else {
    (arr as Float64Array).set(
      Array.from(data, (v) => (Number.isNaN(v) && !dtype.startsWith('float') ? 0 : v)),
    );
  }
  return arr;
}

export function toConstant(t: HostTensor): Constant {
  return constant(toStorage(t.dtype, t.data), t.shape, t.dtype);
}

/** Wrap integer results to the range of `dtype` and truncate, like a C cast would. */
export function castValue(v: number, dtype: string): number {
  if (dtype.startsWith('float8') || dtype.startsWith('float4') || /^u?int[24]$/.test(dtype))
    return castLowPrecision(v, dtype);
  switch (dtype) {
    case 'bool':
      return v !== 0 && !Number.isNaN(v) ? 1 : 0;
    case 'int8':
      return (Math.trunc(v) << 24) >> 24;
    case 'uint8':
      return Math.trunc(v) & 0xff;
    case 'int16':
      return (Math.trunc(v) << 16) >> 16;
    case 'uint16':
      return Math.trunc(v) & 0xffff;
    case 'int32':
      return Math.trunc(v) | 0;
    case 'uint32':
      return Math.trunc(v) >>> 0;
    case 'int64':
    case 'uint64':
      return Number.isFinite(v) ? Math.trunc(v) : v;
    case 'float32':
      return Math.fround(v);
    default:
      return v;
  }
}

/**
 * The value `v` becomes when cast to a low-precision type with ONNX Cast semantics
 * (float8: round to nearest even, saturating unless `saturate` is false; e8m0: `roundMode`;
 * sub-byte ints: truncate and wrap).
 */
export function castLowPrecision(
  v: number,
  dtype: string,
  opts: { saturate?: boolean; roundMode?: 'up' | 'down' | 'nearest' } = {},
): number {
  const dt = parseDType(dtype);
  if (!isLowPrecision(dt)) return castValue(v, dtype);
  if (isSubByteInt(dt)) return wrapSubByteInt(dt, v);
  const f32 = dtype === 'float8_e8m0fnu' ? Math.fround(v) : v;
  return minifloatToNumber(dt, numberToMinifloat(dt, f32, opts));
}

/** Strides of a row-major shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/** numpy broadcasting of static shapes; undefined when incompatible. */
export function broadcastStatic(a: readonly number[], b: readonly number[]): number[] | undefined {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return undefined;
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Elementwise map over broadcast operands. */
export function broadcastMap(
  ts: readonly HostTensor[],
  dtype: string,
  f: (...v: number[]) => number,
): HostTensor | undefined {
  let shape: number[] = [];
  for (const t of ts) {
    const s = broadcastStatic(shape, t.shape);
    if (!s) return undefined;
    shape = s;
  }
  const n = numel(shape);
  const out = new Float64Array(n);
  const st = ts.map((t) => {
    const ts0 = stridesOf(t.shape);
    const off = shape.length - t.shape.length;
    return shape.map((_, i) => (i < off || t.shape[i - off] === 1 ? 0 : ts0[i - off]));
  });
  const idx = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    const args = ts.map((t, j) => {
      let o = 0;
      for (let d = 0; d < shape.length; d++) o += idx[d] * st[j][d];
      return t.data[o];
    });
    out[k] = castValue(f(...args), dtype);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return hostTensor(dtype, shape, out);
}

/** Gather along `axis` with (already wrapped) integer indices. */
export function hostTake(x: HostTensor, indices: HostTensor, axis: number): HostTensor {
  const outer = numel(x.shape.slice(0, axis));
  const inner = numel(x.shape.slice(axis + 1));
  const d = x.shape[axis];
  const ni = indices.data.length;
  const out = new Float64Array(outer * ni * inner);
  for (let o = 0; o < outer; o++)
    for (let j = 0; j < ni; j++) {
      let ix = indices.data[j];
      if (ix < 0) ix += d;
      for (let i = 0; i < inner; i++) out[(o * ni + j) * inner + i] = x.data[(o * d + ix) * inner + i];
    }
  return hostTensor(x.dtype, [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)], out);
}

/** Transpose by a permutation. */
export function hostTranspose(x: HostTensor, perm: readonly number[]): HostTensor {
  const shape = perm.map((p) => x.shape[p]);
  const inSt = stridesOf(x.shape);
  const n = numel(shape);
  const out = new Float64Array(n);
  const idx = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    let o = 0;
    for (let d = 0; d < shape.length; d++) o += idx[d] * inSt[perm[d]];
    out[k] = x.data[o];
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return hostTensor(x.dtype, shape, out);
}

/** Slice with normalized begin/stride per axis and the result extents. */
export function hostSlice(
  x: HostTensor,
  begin: readonly number[],
  step: readonly number[],
  outShape: readonly number[],
): HostTensor {
  const inSt = stridesOf(x.shape);
  const n = numel(outShape);
  const out = new Float64Array(n);
  const idx = new Array<number>(outShape.length).fill(0);
  for (let k = 0; k < n; k++) {
    let o = 0;
    for (let d = 0; d < outShape.length; d++) o += (begin[d] + idx[d] * step[d]) * inSt[d];
    out[k] = x.data[o];
    for (let d = outShape.length - 1; d >= 0; d--) {
      if (++idx[d] < outShape[d]) break;
      idx[d] = 0;
    }
  }
  return hostTensor(x.dtype, outShape, out);
}

/** Concatenate along `axis`. */
export function hostConcat(ts: readonly HostTensor[], axis: number): HostTensor {
  const shape = [...ts[0].shape];
  shape[axis] = ts.reduce((a, t) => a + t.shape[axis], 0);
  const outer = numel(shape.slice(0, axis));
  const out: number[] = [];
  for (let o = 0; o < outer; o++)
    for (const t of ts) {
      const blk = numel(t.shape.slice(axis));
      for (let i = 0; i < blk; i++) out.push(t.data[o * blk + i]);
    }
  return hostTensor(ts[0].dtype, shape, out);
}
