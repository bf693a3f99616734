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
} as const;

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
  readonly kind: 'int' | 'uint' | 'float' | 'bfloat' | 'bool' | 'handle';
  /** Bits per lane as DLPack records them (bool is stored as 8). */
  readonly bits: number;
  readonly lanes: number;
  /** Bytes per element (all lanes). */
  readonly bytes: number;
  readonly dl: DLDataType;
  /**
   * The TypedArray whose element is one lane. float16/bfloat16 have no native
   * array in Node 20, so they are viewed as raw Uint16 bits; bool as Uint8.
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
};

const CODES = { int: 0, uint: 1, float: 2, handle: 3, bfloat: 4, bool: 6 } as const;

const cache = new Map<string, DTypeInfo>();
const DTYPE_RE = /^(int|uint|float|bfloat|bool|handle)(\d+)?(?:x(\d+))?$/;

/** Parse and describe a dtype string. Throws DTYPE_PARSE on anything unknown. */
export function dtypeInfo(dtype: string): DTypeInfo {
  const hit = cache.get(dtype);
  if (hit) return hit;
  const m = DTYPE_RE.exec(dtype);
  if (!m) runtimeError(RuntimeErrorCodes.DTYPE_PARSE, `unknown dtype '${dtype}'`);
  const kind = m[1] as DTypeInfo['kind'];
  const bits = kind === 'bool' ? 8 : kind === 'handle' ? 64 : Number(m[2]);
  if (kind === 'bool' && m[2] !== undefined && m[2] !== '1' && m[2] !== '8') {
    runtimeError(RuntimeErrorCodes.DTYPE_PARSE, `unknown dtype '${dtype}'`);
  }
  const lanes = m[3] === undefined ? 1 : Number(m[3]);
  const array = ARRAYS[`${kind}${bits}`];
  if (!array || !(lanes >= 1)) runtimeError(RuntimeErrorCodes.DTYPE_PARSE, `unsupported dtype '${dtype}'`);
  const base = kind === 'bool' ? 'bool' : kind === 'handle' ? 'handle' : `${kind}${bits}`;
  const str = lanes === 1 ? base : `${base}x${lanes}`;
  const info: DTypeInfo = Object.freeze({
    str,
    kind,
    bits,
    lanes,
    bytes: (bits / 8) * lanes,
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
