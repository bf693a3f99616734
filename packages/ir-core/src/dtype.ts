// Data types: scalar element types with an optional vector lane count ("float32x8").
// DataType objects are interned, so two equal dtypes are the same object.
import { ErrorCodes, KilnError } from './errors.js';

export type DTypeCode = 'int' | 'uint' | 'float' | 'bfloat' | 'bool' | 'handle' | 'void';

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
    code === 'bool' ? 'bool' : code === 'handle' ? 'handle' : code === 'void' ? 'void' : `${code}${bits}`;
  return lanes === 1 ? base : `${base}x${lanes}`;
}

const VALID_BITS: Record<DTypeCode, readonly number[]> = {
  int: [8, 16, 32, 64],
  uint: [1, 8, 16, 32, 64],
  float: [16, 32, 64],
  bfloat: [16],
  bool: [1],
  handle: [64],
  void: [0],
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

/** Parse `float32`, `int8`, `bool`, `float32x8`, `bfloat16`, `handle`. Accepts a DataType as is. */
export function dtype(s: string | DataType): DataType {
  if (typeof s !== 'string') return s;
  const hit = interned.get(s);
  if (hit) return hit;
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
} as const;

export function withLanes(t: DataType, lanes: number): DataType {
  return makeDType(t.code, t.bits, lanes);
}
export function elementOf(t: DataType): DataType {
  return t.lanes === 1 ? t : makeDType(t.code, t.bits, 1);
}
export const isFloat = (t: DataType): boolean => t.code === 'float' || t.code === 'bfloat';
export const isInt = (t: DataType): boolean => t.code === 'int';
export const isUInt = (t: DataType): boolean => t.code === 'uint';
/** Integer-like: int, uint or bool. */
export const isIntegral = (t: DataType): boolean =>
  t.code === 'int' || t.code === 'uint' || t.code === 'bool';
export const isBool = (t: DataType): boolean => t.code === 'bool';
export const isVector = (t: DataType): boolean => t.lanes > 1;
/** Storage bytes of one element (all lanes); bool is stored as one byte. */
export function bytesOf(t: DataType): number {
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
