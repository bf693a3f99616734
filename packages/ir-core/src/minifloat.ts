// Bit codes of the low-precision element types as numbers and back: the host-side reference
// for float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz, e8m0fnu), float4 (e2m1fn) and the sub-byte
// integers. Frontends use it to build constants, tests use it as the reference the TIR
// legalization (tir.LegalizeLowPrecision) is checked against. Semantics follow the ONNX
// Cast spec and ml_dtypes: round to nearest even, `saturate` clamps out-of-range values
// (and infinities) to the largest finite value, otherwise they become Inf (e5m2) or NaN.
import type { DataType, LowPrecisionFloatCode } from './dtype.js';
import { isLowPrecisionFloat, isSubByteInt } from './dtype.js';
import { ErrorCodes, KilnError } from './errors.js';

/**
 * How a minifloat spends its special codes:
 *  - `ieee`: all-ones exponent is Inf (mantissa 0) or NaN (e5m2);
 *  - `fn`: no Inf, only S.1111.111 is NaN (e4m3fn);
 *  - `fnuz`: no Inf, no negative zero, 0x80 is the only NaN (e4m3fnuz, e5m2fnuz);
 *  - `finite`: no Inf, no NaN (float4_e2m1fn);
 *  - `e8m0`: unsigned power of two 2^(code-127), 0xFF is NaN (float8_e8m0fnu).
 */
export type MinifloatKind = 'ieee' | 'fn' | 'fnuz' | 'finite' | 'e8m0';

export interface MinifloatFormat {
  readonly code: LowPrecisionFloatCode;
  readonly bits: number;
  readonly expBits: number;
  readonly mantBits: number;
  readonly bias: number;
  readonly kind: MinifloatKind;
  /** The sign bit (0 for e8m0, which is unsigned). */
  readonly signBit: number;
  /** Magnitude code of the largest finite value. */
  readonly maxCode: number;
  /** Largest finite value. */
  readonly max: number;
  /** The code a NaN becomes (float4 has none: NaN becomes +0). */
  readonly nanCode: number;
  /** Magnitude code of +Inf (`ieee` only, else -1). */
  readonly infCode: number;
}

function format(
  code: LowPrecisionFloatCode,
  expBits: number,
  mantBits: number,
  bias: number,
  kind: MinifloatKind,
): MinifloatFormat {
  const bits = kind === 'e8m0' ? 8 : 1 + expBits + mantBits;
  const signBit = kind === 'e8m0' ? 0 : 1 << (expBits + mantBits);
  const allOnes = kind === 'e8m0' ? 0xff : signBit - 1;
  const maxCode =
    kind === 'ieee'
      ? (((1 << expBits) - 2) << mantBits) | ((1 << mantBits) - 1)
      : kind === 'fn' || kind === 'e8m0'
        ? allOnes - 1
        : allOnes;
  const nanCode =
    kind === 'ieee'
      ? allOnes ^ ((1 << (mantBits - 1)) - 1)
      : kind === 'fnuz'
        ? signBit
        : kind === 'finite'
          ? 0
          : allOnes;
  const f: MinifloatFormat = {
    code,
    bits,
    expBits,
    mantBits,
    bias,
    kind,
    signBit,
    maxCode,
    max: 0,
    nanCode,
    infCode: kind === 'ieee' ? ((1 << expBits) - 1) << mantBits : -1,
  };
  return Object.freeze({ ...f, max: decodeWith(f, maxCode) });
}

function decodeWith(f: MinifloatFormat, code: number): number {
  if (f.kind === 'e8m0') return code === 0xff ? Number.NaN : 2 ** (code - 127);
  const neg = (code & f.signBit) !== 0;
  const mag = code & (f.signBit - 1);
  if (f.kind === 'fnuz' && code === f.signBit) return Number.NaN;
  if (f.kind === 'fn' && mag === f.signBit - 1) return Number.NaN;
  const e = mag >> f.mantBits;
  const m = mag & ((1 << f.mantBits) - 1);
  if (f.kind === 'ieee' && e === (1 << f.expBits) - 1)
    return m !== 0 ? Number.NaN : neg ? -Infinity : Infinity;
  const v = e === 0 ? m * 2 ** (1 - f.bias - f.mantBits) : (1 + m / 2 ** f.mantBits) * 2 ** (e - f.bias);
  return neg ? -v : v;
}

export const MINIFLOAT_FORMATS: Readonly<Record<LowPrecisionFloatCode, MinifloatFormat>> = Object.freeze({
  float8_e4m3fn: format('float8_e4m3fn', 4, 3, 7, 'fn'),
  float8_e4m3fnuz: format('float8_e4m3fnuz', 4, 3, 8, 'fnuz'),
  float8_e5m2: format('float8_e5m2', 5, 2, 15, 'ieee'),
  float8_e5m2fnuz: format('float8_e5m2fnuz', 5, 2, 16, 'fnuz'),
  float8_e8m0fnu: format('float8_e8m0fnu', 8, 0, 127, 'e8m0'),
  float4_e2m1fn: format('float4_e2m1fn', 2, 1, 1, 'finite'),
});

/** The format of a float8/float4 dtype; INVALID_ARGUMENT for any other dtype. */
export function minifloatFormat(t: DataType): MinifloatFormat {
  if (!isLowPrecisionFloat(t))
    throw new KilnError(ErrorCodes.INVALID_ARGUMENT, `${t.str} is not a float8/float4 dtype`);
  return MINIFLOAT_FORMATS[t.code as LowPrecisionFloatCode];
}

/** The value of a float8/float4 bit code (exact). */
export function minifloatToNumber(t: DataType, code: number): number {
  return decodeWith(minifloatFormat(t), code);
}

/** Rounding of float → float8_e8m0fnu (ONNX Cast `round_mode`). */
export type E8M0RoundMode = 'up' | 'down' | 'nearest';

export interface MinifloatEncodeOptions {
  /** Out-of-range values and infinities become ±max (default true, ONNX Cast's default). */
  saturate?: boolean;
  /** float8_e8m0fnu only (default 'up'). */
  roundMode?: E8M0RoundMode;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → e8m0 exactly as ONNX's `to_float8e8m0` (the value is first rounded to float32). */
function encodeE8M0(v: number, saturate: boolean, mode: E8M0RoundMode): number {
  f32[0] = v;
  const b = u32[0];
  let e = (b >>> 23) & 0xff;
  if (e === 0xff) return 0xff;
  let up = false;
  if (mode === 'up') up = (b & 0x7fffff) !== 0;
  else if (mode === 'nearest')
    up = (b & 0x400000) !== 0 && ((b & 0x200000) !== 0 || (b & 0x1fffff) !== 0 || e > 0);
  if (up && !(saturate && e === 0xfe)) e += 1;
  return e;
}

/** The bit code of `v` in a float8/float4 dtype: round to nearest even (exact for any float64 `v`). */
export function numberToMinifloat(t: DataType, v: number, opts: MinifloatEncodeOptions = {}): number {
  const f = minifloatFormat(t);
  const saturate = opts.saturate ?? true;
  if (f.kind === 'e8m0') return encodeE8M0(v, saturate, opts.roundMode ?? 'up');
  if (Number.isNaN(v)) return f.nanCode;
  const neg = v < 0 || Object.is(v, -0);
  const sign = neg ? f.signBit : 0;
  const a = Math.abs(v);
  const overflow = (): number =>
    saturate || f.kind === 'finite'
      ? sign | f.maxCode
      : f.kind === 'ieee'
        ? sign | f.infCode
        : sign | f.nanCode;
  if (a === Infinity) return overflow();
  let mag = 0;
  if (a !== 0) {
    let e = Math.floor(Math.log2(a));
    if (2 ** e > a) e -= 1;
    else if (2 ** (e + 1) <= a) e += 1;
    const minExp = 1 - f.bias;
    // The quantum at this binade (subnormals share the smallest normal binade's quantum).
    const q = 2 ** (Math.max(e, minExp) - f.mantBits);
    const n = a / q;
    let r = Math.floor(n);
    const frac = n - r;
    if (frac > 0.5 || (frac === 0.5 && r % 2 === 1)) r += 1;
    mag = e < minExp ? r : ((e + f.bias) << f.mantBits) + r - (1 << f.mantBits);
    if (mag > f.maxCode) return overflow();
  }
  if (f.kind === 'fnuz' && mag === 0) return 0;
  return sign | mag;
}

/** Wrap an integer to a sub-byte integer type (two's complement), like a C cast; NaN/Inf give 0. */
export function wrapSubByteInt(t: DataType, v: number): number {
  if (!isSubByteInt(t))
    throw new KilnError(ErrorCodes.INVALID_ARGUMENT, `${t.str} is not int2/int4/uint2/uint4`);
  if (!Number.isFinite(v)) return 0;
  const m = 2 ** t.bits;
  let w = ((Math.trunc(v) % m) + m) % m;
  if (t.code === 'int' && w >= m / 2) w -= m;
  return w;
}

/**
 * The code that stores `v` as a constant element: representable values (±Inf in e5m2
 * included) map exactly; other values round to nearest even and saturate, like the runtime's
 * Tensor.from. Unlike ONNX Cast, this never turns an infinity the format has into ±max.
 */
export function minifloatStorageOf(t: DataType, v: number): number {
  const f = minifloatFormat(t);
  if (f.kind === 'ieee' && Math.abs(v) === Infinity) return (v < 0 ? f.signBit : 0) | f.infCode;
  return numberToMinifloat(t, v);
}
