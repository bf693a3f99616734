// Data types: scalar element types with an optional vector lane count ("float32x8").
// DataType objects are interned, so two equal dtypes are the same object.
import { ErrorCodes, KilnError } from './errors.js';

/**
 * Low-precision float formats (OCP / ONNX names, as TVM and ml_dtypes spell them). They are
 * storage types: tensors hold their bit codes (one element per byte, see docs/contracts.md)
 * and tir.LegalizeLowPrecision turns every computation on them into integer bit arithmetic
 * on the storage type plus float32 arithmetic.
 */
export type LowPrecisionFloatCode =
  | 'float8_e4m3fn'
  | 'float8_e4m3fnuz'
  | 'float8_e5m2'
  | 'float8_e5m2fnuz'
  | 'float8_e8m0fnu'
  | 'float4_e2m1fn';
export type DTypeCode =
  | 'int'
  | 'uint'
  | 'float'
  | 'bfloat'
  | 'bool'
  | 'handle'
  | 'void'
  | LowPrecisionFloatCode;

/** Every low-precision float code with its bit width. */
export const LOW_PRECISION_FLOAT_BITS: Readonly<Record<LowPrecisionFloatCode, number>> = Object.freeze({
  float8_e4m3fn: 8,
  float8_e4m3fnuz: 8,
  float8_e5m2: 8,
  float8_e5m2fnuz: 8,
  float8_e8m0fnu: 8,
  float4_e2m1fn: 4,
});
const isLowCode = (c: string): c is LowPrecisionFloatCode => Object.hasOwn(LOW_PRECISION_FLOAT_BITS, c);

export interface DataType {
  readonly code: DTypeCode;
  readonly bits: number;
  readonly lanes: number;
  /** Canonical text form, e.g. `float32`, `int64x4`, `bool`. */
  readonly str: string;
}

const interned = new Map<string, DataType>();

function canonical(code: DTypeCode, bits: number, lanes: number): string {
  const base =
    code === 'bool' || code === 'handle' || code === 'void' || isLowCode(code) ? code : `${code}${bits}`;
  return lanes === 1 ? base : `${base}x${lanes}`;
}

const VALID_BITS: Record<DTypeCode, readonly number[]> = {
  int: [2, 4, 8, 16, 32, 64],
  uint: [1, 2, 4, 8, 16, 32, 64],
  float: [16, 32, 64],
  bfloat: [16],
  bool: [1],
  handle: [64],
  void: [0],
  float8_e4m3fn: [8],
  float8_e4m3fnuz: [8],
  float8_e5m2: [8],
  float8_e5m2fnuz: [8],
  float8_e8m0fnu: [8],
  float4_e2m1fn: [4],
};

/** Build (or fetch the interned) DataType. */
export function makeDType(code: DTypeCode, bits: number, lanes = 1): DataType {
  if (!VALID_BITS[code].includes(bits)) {
    throw new KilnError(ErrorCodes.DTYPE_PARSE, `invalid bit width ${bits} for dtype kind '${code}'`);
  }
  if (!Number.isInteger(lanes) || lanes < 1) {
    throw new KilnError(ErrorCodes.DTYPE_PARSE, `invalid lane count ${lanes}`);
  }
  const str = canonical(code, bits, lanes);
  let t = interned.get(str);
  if (!t) {
    t = Object.freeze({ code, bits, lanes, str });
    interned.set(str, t);
  }
  return t;
}

const DTYPE_RE = /^(int|uint|float|bfloat|bool|handle|void)(\d+)?(?:x(\d+))?$/;
// Longest names first: `float8_e4m3fnuz` before `float8_e4m3fn`.
const LOW_RE =
  /^(float8_e4m3fnuz|float8_e4m3fn|float8_e5m2fnuz|float8_e5m2|float8_e8m0fnu|float4_e2m1fn)(?:x(\d+))?$/;

/** Parse `float32`, `int8`, `bool`, `float32x8`, `bfloat16`, `handle`. Accepts a DataType as is. */
export function dtype(s: string | DataType): DataType {
  if (typeof s !== 'string') return s;
  const hit = interned.get(s);
  if (hit) return hit;
  const low = LOW_RE.exec(s);
  if (low) {
    const code = low[1] as LowPrecisionFloatCode;
    return makeDType(code, LOW_PRECISION_FLOAT_BITS[code], low[2] !== undefined ? Number(low[2]) : 1);
  }
  const m = DTYPE_RE.exec(s);
  if (!m) throw new KilnError(ErrorCodes.DTYPE_PARSE, `cannot parse dtype '${s}'`);
  const code = m[1] as DTypeCode;
  const bits =
    m[2] !== undefined
      ? Number(m[2])
      : code === 'bool'
        ? 1
        : code === 'handle'
          ? 64
          : code === 'void'
            ? 0
            : NaN;
  if (Number.isNaN(bits)) throw new KilnError(ErrorCodes.DTYPE_PARSE, `dtype '${s}' needs a bit width`);
  const lanes = m[3] !== undefined ? Number(m[3]) : 1;
  try {
    return makeDType(code, bits, lanes);
  } catch (e) {
    throw new KilnError(ErrorCodes.DTYPE_PARSE, `cannot parse dtype '${s}': ${(e as Error).message}`);
  }
}

export const DType = {
  bool: makeDType('bool', 1),
  int8: makeDType('int', 8),
  int16: makeDType('int', 16),
  int32: makeDType('int', 32),
  int64: makeDType('int', 64),
  uint8: makeDType('uint', 8),
  uint16: makeDType('uint', 16),
  uint32: makeDType('uint', 32),
  uint64: makeDType('uint', 64),
  float16: makeDType('float', 16),
  bfloat16: makeDType('bfloat', 16),
  float32: makeDType('float', 32),
  float64: makeDType('float', 64),
  handle: makeDType('handle', 64),
  void: makeDType('void', 0),
  int2: makeDType('int', 2),
  int4: makeDType('int', 4),
  uint2: makeDType('uint', 2),
  uint4: makeDType('uint', 4),
  float8_e4m3fn: makeDType('float8_e4m3fn', 8),
  float8_e4m3fnuz: makeDType('float8_e4m3fnuz', 8),
  float8_e5m2: makeDType('float8_e5m2', 8),
  float8_e5m2fnuz: makeDType('float8_e5m2fnuz', 8),
  float8_e8m0fnu: makeDType('float8_e8m0fnu', 8),
  float4_e2m1fn: makeDType('float4_e2m1fn', 4),
} as const;

export function withLanes(t: DataType, lanes: number): DataType {
  return makeDType(t.code, t.bits, lanes);
}
export function elementOf(t: DataType): DataType {
  return t.lanes === 1 ? t : makeDType(t.code, t.bits, 1);
}
/** IEEE-style float (float16/32/64, bfloat16); the low-precision storage floats are not. */
export const isFloat = (t: DataType): boolean => t.code === 'float' || t.code === 'bfloat';
/** One of the 8-bit float formats (float8_e4m3fn, float8_e4m3fnuz, float8_e5m2, float8_e5m2fnuz, float8_e8m0fnu). */
export const isFloat8 = (t: DataType): boolean => t.code.startsWith('float8_');
export const isFloat4 = (t: DataType): boolean => t.code === 'float4_e2m1fn';
/** A float8 / float4 storage float. */
export const isLowPrecisionFloat = (t: DataType): boolean => isLowCode(t.code);
/** int2, int4, uint2, uint4: integers narrower than a byte (stored one per byte). */
export const isSubByteInt = (t: DataType): boolean =>
  (t.code === 'int' || t.code === 'uint') && (t.bits === 2 || t.bits === 4);
/**
 * A storage-only element type: a float8/float4 format or a sub-byte integer. Such values are
 * held as their storage integer (`storageDType`) once tir.LegalizeLowPrecision has run.
 */
export const isLowPrecision = (t: DataType): boolean => isLowPrecisionFloat(t) || isSubByteInt(t);
/**
 * The integer type that holds a low-precision element in memory (one per byte): uint8 for the
 * float formats and uint2/uint4, int8 for int2/int4 (sign-extended). Other dtypes: themselves.
 */
export function storageDType(t: DataType): DataType {
  if (!isLowPrecision(t)) return t;
  return makeDType(t.code === 'int' ? 'int' : 'uint', 8, t.lanes);
}
export const isInt = (t: DataType): boolean => t.code === 'int';
export const isUInt = (t: DataType): boolean => t.code === 'uint';
/** Integer-like: int, uint or bool. */
export const isIntegral = (t: DataType): boolean =>
  t.code === 'int' || t.code === 'uint' || t.code === 'bool';
export const isBool = (t: DataType): boolean => t.code === 'bool';
export const isVector = (t: DataType): boolean => t.lanes > 1;
/** Storage bytes of one element (all lanes); bool and the low-precision types take one byte per lane. */
export function bytesOf(t: DataType): number {
  if (isLowPrecision(t)) return t.lanes;
  const bits = t.code === 'bool' ? 8 : t.bits;
  return Math.ceil((bits * t.lanes) / 8);
}
/** Inclusive range of an integer dtype as numbers (int64/uint64 clamp to the safe integer range). */
export function intRange(t: DataType): [number, number] {
  if (t.code === 'bool') return [0, 1];
  if (t.code === 'int') {
    if (t.bits >= 53) return [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER];
    return [-(2 ** (t.bits - 1)), 2 ** (t.bits - 1) - 1];
  }
  if (t.code === 'uint') return [0, t.bits >= 53 ? Number.MAX_SAFE_INTEGER : 2 ** t.bits - 1];
  throw new KilnError(ErrorCodes.INVALID_ARGUMENT, `intRange of non-integer dtype ${t.str}`);
}
