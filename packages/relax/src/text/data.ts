// Element-level helpers for constants in the Relax text: the shortest decimal text of an
// element that reads back to the same stored bits (float32/float16/bfloat16 included),
// the reverse conversion, and base64 of the raw little-endian storage for constants too
// large (or too odd, such as NaN payloads) to print element by element.
import type { DataType } from '@kiln/ir-core';
import {
  formatFloat,
  isLowPrecisionFloat,
  isSubByteInt,
  minifloatStorageOf,
  minifloatToNumber,
  wrapSubByteInt,
} from '@kiln/ir-core';
import { typedArrayFor } from '../ir/expr.js';
import type { TypedArray } from '../ir/nodes.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);
function f64bits(v: number): bigint {
  f64[0] = v;
  return u64[0];
}

/** IEEE binary16 bits of `v` (round to nearest even). */
export function halfBits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 112; // rebias 127 -> 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1) === 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++;
  return sign | h;
}
export function halfValue(h: number): number {
  const s = (h & 0x8000) !== 0 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m !== 0 ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
export function bfloatBits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  if (Number.isNaN(v)) return ((x >>> 16) & 0x8000) | 0x7fc0;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}
export function bfloatValue(h: number): number {
  u32[0] = h << 16;
  return f32[0];
}

/** Is `dt` stored as 16-bit patterns in a Uint16Array (float16, bfloat16)? */
export function isHalfStored(dt: DataType): boolean {
  return (dt.code === 'float' && dt.bits === 16) || dt.code === 'bfloat';
}

/** Element `i` of a constant's storage as the number (or bigint) it denotes. */
export function elementValue(dt: DataType, data: TypedArray, i: number): number | bigint {
  const raw = data[i];
  if (typeof raw === 'bigint') return raw;
  if (dt.code === 'float' && dt.bits === 16) return halfValue(raw);
  if (dt.code === 'bfloat') return bfloatValue(raw);
  if (isLowPrecisionFloat(dt)) return minifloatToNumber(dt, raw);
  return raw;
}

/** Store `v` as element `i` (the inverse of elementValue). */
export function setElement(dt: DataType, data: TypedArray, i: number, v: number | bigint): void {
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    data[i] = typeof v === 'bigint' ? v : BigInt(Math.trunc(v));
    return;
  }
  const n = Number(v);
  if (dt.code === 'float' && dt.bits === 16) data[i] = halfBits(n);
  else if (dt.code === 'bfloat') data[i] = bfloatBits(n);
  else if (isLowPrecisionFloat(dt)) data[i] = minifloatStorageOf(dt, n);
  else if (isSubByteInt(dt)) data[i] = wrapSubByteInt(dt, n);
  else (data as Float64Array)[i] = n;
}

/** Shortest text of a float that `accept` takes back (tries 1..17 significant digits). */
function shortestFloat(v: number, accept: (x: number) => boolean): string {
  if (Number.isNaN(v)) return 'nan';
  if (v === Number.POSITIVE_INFINITY) return 'inf';
  if (v === Number.NEGATIVE_INFINITY) return '-inf';
  if (Object.is(v, -0)) return '-0.0';
  for (let p = 1; p <= 17; p++) {
    const x = Number(v.toPrecision(p));
    if (accept(x)) return formatFloat(x);
  }
  return formatFloat(v);
}

/** The text of element `i`; `undefined` when no element text reproduces its bits. */
export function elementText(dt: DataType, data: TypedArray, i: number): string | undefined {
  const raw = data[i];
  if (typeof raw === 'bigint') return raw.toString();
  switch (dt.code) {
    case 'bool':
      return raw === 0 ? 'False' : raw === 1 ? 'True' : undefined;
    case 'int':
    case 'uint':
      return String(raw);
    case 'bfloat': {
      const v = bfloatValue(raw);
      const s = shortestFloat(v, (x) => bfloatBits(x) === raw);
      return bfloatBits(parseElementNumber(s)) === raw ? s : undefined;
    }
    case 'float': {
      if (dt.bits === 16) {
        const v = halfValue(raw);
        const s = shortestFloat(v, (x) => halfBits(x) === raw);
        return halfBits(parseElementNumber(s)) === raw ? s : undefined;
      }
      if (dt.bits === 32) {
        f32[0] = raw;
        const bits = u32[0];
        const s = shortestFloat(raw, (x) => Math.fround(x) === raw);
        f32[0] = parseElementNumber(s);
        // NaN payloads other than the canonical one have no text.
        return u32[0] === bits ? s : undefined;
      }
      // Only the canonical NaN has a text form; other payloads need the raw bytes.
      if (Number.isNaN(raw)) return f64bits(raw) === f64bits(Number.NaN) ? 'nan' : undefined;
      const s = formatFloat(raw);
      return Object.is(parseElementNumber(s), raw) ? s : undefined;
    }
    default:
      if (isLowPrecisionFloat(dt)) {
        // float8 / float4: the shortest number that stores back to the same code.
        const v = minifloatToNumber(dt, raw);
        const s = shortestFloat(v, (x) => minifloatStorageOf(dt, x) === raw);
        return minifloatStorageOf(dt, parseElementNumber(s)) === raw ? s : undefined;
      }
      return undefined;
  }
}

function parseElementNumber(s: string): number {
  if (s === 'nan') return Number.NaN;
  if (s === 'inf') return Number.POSITIVE_INFINITY;
  if (s === '-inf') return Number.NEGATIVE_INFINITY;
  return Number(s);
}

/** Fresh storage for `n` elements of `dt` (the Constant factory's choice). */
export function allocStorage(dt: DataType, n: number): TypedArray {
  return typedArrayFor(dt, n);
}

function bytesOf(a: TypedArray): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Base64 of the raw (little-endian) storage bytes. */
export function toBase64(a: TypedArray): string {
  const b = bytesOf(a);
  let out = '';
  for (let i = 0; i < b.length; i += 3) {
    const x = (b[i] << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    out += B64[(x >>> 18) & 63] + B64[(x >>> 12) & 63];
    out += i + 1 < b.length ? B64[(x >>> 6) & 63] : '=';
    out += i + 2 < b.length ? B64[x & 63] : '=';
  }
  return out;
}

/** Decode base64 into `out`'s bytes; returns false when the length or alphabet is wrong. */
export function fromBase64(s: string, out: TypedArray): boolean {
  const b = bytesOf(out);
  const clean = s.replace(/=+$/, '');
  if (Math.ceil((b.length * 4) / 3) !== clean.length) return false;
  let acc = 0;
  let nbits = 0;
  let k = 0;
  for (const ch of clean) {
    const d = B64.indexOf(ch);
    if (d < 0) return false;
    acc = ((acc << 6) | d) & 0xffffff;
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      b[k++] = (acc >>> nbits) & 0xff;
    }
  }
  return k === b.length;
}

/** Decode hex (two digits per byte) into `out`'s bytes. */
export function fromHex(s: string, out: TypedArray): boolean {
  const b = bytesOf(out);
  if (s.length !== b.length * 2 || !/^[0-9a-fA-F]*$/.test(s)) return false;
  for (let i = 0; i < b.length; i++) b[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return true;
}
