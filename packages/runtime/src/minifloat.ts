// float8 / float4 bit codes <-> numbers at the runtime's edges (Tensor.from, toArray), kept
// independent of the compiler like half.ts. Round to nearest even; out-of-range values and
// infinities saturate to the largest finite value (ONNX Cast's default); NaN becomes the
// format's NaN (float4_e2m1fn has none: +0); ±Inf stay infinite in float8_e5m2 and
// saturate in the formats without infinities. float8_e8m0fnu rounds up to a power of two.
import type { LowPrecisionFloatKind } from './dtype.js';

interface Format {
  readonly exp: number;
  readonly mant: number;
  readonly bias: number;
  /** ieee: Inf and NaN at the top exponent; fn: only all-ones is NaN; fnuz: 0x80 is NaN; finite: neither. */
  readonly kind: 'ieee' | 'fn' | 'fnuz' | 'finite';
}
const FORMATS: Readonly<Record<Exclude<LowPrecisionFloatKind, 'float8_e8m0fnu'>, Format>> = {
  float8_e4m3fn: { exp: 4, mant: 3, bias: 7, kind: 'fn' },
  float8_e4m3fnuz: { exp: 4, mant: 3, bias: 8, kind: 'fnuz' },
  float8_e5m2: { exp: 5, mant: 2, bias: 15, kind: 'ieee' },
  float8_e5m2fnuz: { exp: 5, mant: 2, bias: 16, kind: 'fnuz' },
  float4_e2m1fn: { exp: 2, mant: 1, bias: 1, kind: 'finite' },
};

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The number a bit code of `kind` denotes. */
export function minifloatBitsToNumber(kind: LowPrecisionFloatKind, code: number): number {
  if (kind === 'float8_e8m0fnu') return code === 0xff ? Number.NaN : 2 ** (code - 127);
  const f = FORMATS[kind];
  const signBit = 1 << (f.exp + f.mant);
  const mag = code & (signBit - 1);
  const e = mag >> f.mant;
  const m = mag & ((1 << f.mant) - 1);
  if (f.kind === 'fnuz' && code === signBit) return Number.NaN;
  if (f.kind === 'fn' && mag === signBit - 1) return Number.NaN;
  if (f.kind === 'ieee' && e === (1 << f.exp) - 1)
    return m ? Number.NaN : code & signBit ? -Infinity : Infinity;
  const v = e === 0 ? m * 2 ** (1 - f.bias - f.mant) : (1 + m / 2 ** f.mant) * 2 ** (e - f.bias);
  return code & signBit ? -v : v;
}

/** The bit code of `v` in `kind` (nearest, ties to even, finite values saturating). */
export function numberToMinifloatBits(kind: LowPrecisionFloatKind, v: number): number {
  if (kind === 'float8_e8m0fnu') {
    f32[0] = v;
    const e = (u32[0] >>> 23) & 0xff;
    if (e === 0xff) return 0xff;
    return (u32[0] & 0x7fffff) !== 0 && e !== 0xfe ? e + 1 : e;
  }
  const f = FORMATS[kind];
  const signBit = 1 << (f.exp + f.mant);
  const maxCode =
    f.kind === 'ieee'
      ? (((1 << f.exp) - 2) << f.mant) | ((1 << f.mant) - 1)
      : f.kind === 'fn'
        ? signBit - 2
        : signBit - 1;
  if (Number.isNaN(v))
    return f.kind === 'fnuz'
      ? signBit
      : f.kind === 'finite'
        ? 0
        : f.kind === 'fn'
          ? signBit - 1
          : signBit - 2;
  const sign = v < 0 || Object.is(v, -0) ? signBit : 0;
  const a = Math.abs(v);
  if (a === Infinity) return sign | (f.kind === 'ieee' ? ((1 << f.exp) - 1) << f.mant : maxCode);
  let mag = 0;
  if (a > 0) {
    let e = Math.floor(Math.log2(a));
    if (2 ** e > a) e -= 1;
    else if (2 ** (e + 1) <= a) e += 1;
    const minExp = 1 - f.bias;
    const n = a / 2 ** (Math.max(e, minExp) - f.mant);
    let r = Math.floor(n);
    if (n - r > 0.5 || (n - r === 0.5 && r % 2 === 1)) r += 1;
    mag = Math.min(maxCode, e < minExp ? r : ((e + f.bias) << f.mant) + r - (1 << f.mant));
  }
  if (f.kind === 'fnuz' && mag === 0) return 0;
  return sign | mag;
}
