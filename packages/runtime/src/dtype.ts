// Runtime data types: dtype strings ('float32', 'int64', 'bool', 'float16',
// 'float32x4') mapped to DLPack type codes, element sizes and the TypedArray
// used to view tensor memory. Kept independent of ir-core's DataType on purpose.
import { RuntimeErrorCodes, runtimeError } from './errors.js';

/** DLPack DLDataTypeCode values. */
export const DLDataTypeCode = {
  Int: 0,
  UInt: 1,
  Float: 2,
  OpaqueHandle: 3,
  Bfloat: 4,
  Complex: 5,
  Bool: 6,
  Float8_e4m3fn: 10,
  Float8_e4m3fnuz: 11,
  Float8_e5m2: 12,
  Float8_e5m2fnuz: 13,
  Float8_e8m0fnu: 14,
  Float4_e2m1fn: 17,
} as const;

/** The low-precision float formats (stored as their bit codes, one element per byte). */
export type LowPrecisionFloatKind =
  | 'float8_e4m3fn'
  | 'float8_e4m3fnuz'
  | 'float8_e5m2'
  | 'float8_e5m2fnuz'
  | 'float8_e8m0fnu'
  | 'float4_e2m1fn';

export interface DLDataType {
  readonly code: number;
  readonly bits: number;
  readonly lanes: number;
}

export type TypedArray =
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

export type TypedArrayConstructor =
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

export interface DTypeInfo {
  /** Canonical string. */
  readonly str: string;
  readonly kind: 'int' | 'uint' | 'float' | 'bfloat' | 'bool' | 'handle' | LowPrecisionFloatKind;
  /** Bits per lane as DLPack records them (bool is stored as 8; int4 is 4, float8_e5m2 is 8). */
  readonly bits: number;
  readonly lanes: number;
  /**
   * Bytes per element (all lanes). Types narrower than a byte (int2/int4/uint2/uint4,
   * float4_e2m1fn) take one byte per element in Kiln memory: not packed.
   */
  readonly bytes: number;
  readonly dl: DLDataType;
  /**
   * The TypedArray whose element is one lane. float16/bfloat16 have no native
   * array in Node 20, so they are viewed as raw Uint16 bits; bool as Uint8; float8/float4
   * as their Uint8 bit codes; int2/int4 as sign-extended Int8, uint2/uint4 as Uint8.
   */
  readonly array: TypedArrayConstructor;
}

const ARRAYS: Record<string, TypedArrayConstructor> = {
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  uint64: BigUint64Array,
  float16: Uint16Array,
  float32: Float32Array,
  float64: Float64Array,
  bfloat16: Uint16Array,
  bool8: Uint8Array,
  handle64: BigUint64Array,
  int2: Int8Array,
  int4: Int8Array,
  uint2: Uint8Array,
  uint4: Uint8Array,
  float8_e4m3fn: Uint8Array,
  float8_e4m3fnuz: Uint8Array,
  float8_e5m2fnuz: Uint8Array,
  float8_e5m2: Uint8Array,
  float8_e8m0fnu: Uint8Array,
  float4_e2m1fn: Uint8Array,
};

const CODES = {
  int: 0,
  uint: 1,
  float: 2,
  handle: 3,
  bfloat: 4,
  bool: 6,
  float8_e4m3fn: DLDataTypeCode.Float8_e4m3fn,
  float8_e4m3fnuz: DLDataTypeCode.Float8_e4m3fnuz,
  float8_e5m2: DLDataTypeCode.Float8_e5m2,
  float8_e5m2fnuz: DLDataTypeCode.Float8_e5m2fnuz,
  float8_e8m0fnu: DLDataTypeCode.Float8_e8m0fnu,
  float4_e2m1fn: DLDataTypeCode.Float4_e2m1fn,
} as const;
const LOW_BITS: Readonly<Record<LowPrecisionFloatKind, number>> = {
  float8_e4m3fn: 8,
  float8_e4m3fnuz: 8,
  float8_e5m2: 8,
  float8_e5m2fnuz: 8,
  float8_e8m0fnu: 8,
  float4_e2m1fn: 4,
};

const cache = new Map<string, DTypeInfo>();
const DTYPE_RE =
  /^(float8_e4m3fnuz|float8_e4m3fn|float8_e5m2fnuz|float8_e5m2|float8_e8m0fnu|float4_e2m1fn|int|uint|float|bfloat|bool|handle)(\d+)?(?:x(\d+))?$/;

/** Whether a dtype is one of the low-precision float formats. */
export function isLowPrecisionFloatKind(kind: string): kind is LowPrecisionFloatKind {
  return Object.hasOwn(LOW_BITS, kind);
}

/** Parse and describe a dtype string. Throws DTYPE_PARSE on anything unknown. */
export function dtypeInfo(dtype: string): DTypeInfo {
  const hit = cache.get(dtype);
  if (hit) return hit;
  const m = DTYPE_RE.exec(dtype);
  if (!m) runtimeError(RuntimeErrorCodes.DTYPE_PARSE, `unknown dtype '${dtype}'`);
  const kind = m[1] as DTypeInfo['kind'];
  const low = isLowPrecisionFloatKind(kind);
  if (low && m[2] !== undefined) runtimeError(RuntimeErrorCodes.DTYPE_PARSE, `unknown dtype '${dtype}'`);
  const bits = kind === 'bool' ? 8 : kind === 'handle' ? 64 : low ? LOW_BITS[kind] : Number(m[2]);
  if (kind === 'bool' && m[2] !== undefined && m[2] !== '1' && m[2] !== '8') {
    runtimeError(RuntimeErrorCodes.DTYPE_PARSE, `unknown dtype '${dtype}'`);
  }
  const lanes = m[3] === undefined ? 1 : Number(m[3]);
  const array = ARRAYS[low ? kind : `${kind}${bits}`];
  if (!array || !(lanes >= 1)) runtimeError(RuntimeErrorCodes.DTYPE_PARSE, `unsupported dtype '${dtype}'`);
  const base = kind === 'bool' || kind === 'handle' || low ? kind : `${kind}${bits}`;
  const str = lanes === 1 ? base : `${base}x${lanes}`;
  const info: DTypeInfo = Object.freeze({
    str,
    kind,
    bits,
    lanes,
    bytes: Math.max(1, bits / 8) * lanes,
    dl: Object.freeze({ code: CODES[kind], bits, lanes }),
    array,
  });
  cache.set(dtype, info);
  return info;
}

/** The dtype a TypedArray holds by default (Uint16Array → uint16; use a dtype argument for float16). */
export function dtypeOfTypedArray(a: TypedArray): string {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof BigInt64Array) return 'int64';
  if (a instanceof Uint8Array || a instanceof Uint8ClampedArray) return 'uint8';
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof Int16Array) return 'int16';
  if (a instanceof Uint16Array) return 'uint16';
  if (a instanceof Uint32Array) return 'uint32';
  if (a instanceof BigUint64Array) return 'uint64';
  return runtimeError(RuntimeErrorCodes.INVALID_ARGUMENT, 'unsupported TypedArray');
}
