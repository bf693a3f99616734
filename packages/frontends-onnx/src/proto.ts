// Reading ONNX protobuf: ModelProto decoding (onnx-proto), int64 normalisation (protobufjs
// hands back Long objects), attributes as plain values, and TensorProto → HostTensor
// (raw_data, typed fields, external data files) with the ONNX → Kiln dtype mapping.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { DataType } from '@kiln/ir-core';
import {
  isLowPrecision,
  isLowPrecisionFloat,
  KilnError,
  minifloatToNumber,
  dtype as parseDType,
} from '@kiln/ir-core';
import onnxProto from 'onnx-proto';
import { OnnxErrorCodes } from './errors.js';
import { type HostTensor, hostTensor, toStorage } from './host.js';

export const onnx = onnxProto.onnx;
export type ModelProto = onnxProto.onnx.ModelProto;
export type GraphProto = onnxProto.onnx.IGraphProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type ValueInfoProto = onnxProto.onnx.IValueInfoProto;
export type AttributeProto = onnxProto.onnx.IAttributeProto;

/** protobufjs decodes int64 as number, Long or string depending on the environment. */
type LongLike = number | string | { toNumber(): number } | { low: number; high: number; unsigned?: boolean };

/** An int64 field as a JS number (values beyond 2^53 lose precision; they only occur as "infinite" bounds). */
export function toNum(v: LongLike | null | undefined): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  if ('toNumber' in v) return v.toNumber();
  const hi = v.unsigned ? v.high >>> 0 : v.high;
  return hi * 4294967296 + (v.low >>> 0);
}

/** Decode a serialized ModelProto; malformed bytes are ONNX_PARSE naming `file`. */
export function decodeModel(bytes: Uint8Array, file: string): ModelProto {
  try {
    return onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new KilnError(
      OnnxErrorCodes.ONNX_PARSE,
      `${file}: not a valid ONNX model (${(e as Error).message})`,
      { cause: e, details: { file } },
    );
  }
}

/** Decode a serialized TensorProto (test data `input_0.pb`). */
export function decodeTensor(bytes: Uint8Array, file: string, baseDir?: string): HostTensor {
  let t: onnxProto.onnx.TensorProto;
  try {
    t = onnx.TensorProto.decode(bytes);
  } catch (e) {
    throw new KilnError(
      OnnxErrorCodes.ONNX_PARSE,
      `${file}: not a valid ONNX TensorProto (${(e as Error).message})`,
      { cause: e, details: { file } },
    );
  }
  return tensorFromProto(t, baseDir);
}

/** ONNX TensorProto.DataType → Kiln dtype name (undefined: no Kiln equivalent). */
export const ONNX_DTYPES: Readonly<Record<number, string>> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  16: 'bfloat16',
  17: 'float8_e4m3fn',
  18: 'float8_e4m3fnuz',
  19: 'float8_e5m2',
  20: 'float8_e5m2fnuz',
  21: 'uint4',
  22: 'int4',
  23: 'float4_e2m1fn',
  24: 'float8_e8m0fnu',
  25: 'uint2',
  26: 'int2',
};
const ONNX_DTYPE_NAMES: Readonly<Record<number, string>> = {
  8: 'string',
  14: 'complex64',
  15: 'complex128',
  27: 'float6e2m3',
  28: 'float6e3m2',
};
export function onnxDTypeName(code: number): string {
  return ONNX_DTYPES[code] ?? ONNX_DTYPE_NAMES[code] ?? `dtype#${code}`;
}
/** The Kiln dtype of an ONNX element type, or ONNX_UNSUPPORTED_DTYPE naming `where`. */
export function kilnDType(code: number, where: string): string {
  const d = ONNX_DTYPES[code];
  if (!d)
    throw new KilnError(
      OnnxErrorCodes.ONNX_UNSUPPORTED_DTYPE,
      `${where}: element type ${onnxDTypeName(code)} is not supported`,
      { details: { dtype: onnxDTypeName(code) } },
    );
  return d;
}
export function onnxDTypeOf(kiln: string): number {
  for (const [k, v] of Object.entries(ONNX_DTYPES)) if (v === kiln) return Number(k);
  return 0;
}

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
export function halfBitsToNumber(bits: number, dt: string): number {
  if (dt === 'bfloat16') {
    const b = new Uint32Array([bits << 16]);
    return new Float32Array(b.buffer)[0];
  }
  return f16ToF32(bits);
}

function externalBytes(
  t: onnxProto.onnx.ITensorProto,
  baseDir: string | undefined,
  name: string,
): Uint8Array {
  const kv = new Map((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  const loc = kv.get('location');
  if (!loc)
    throw new KilnError(
      OnnxErrorCodes.ONNX_INVALID,
      `initializer '${name}': external data without a location`,
      { details: { tensor: name } },
    );
  if (baseDir === undefined) {
    throw new KilnError(
      OnnxErrorCodes.ONNX_EXTERNAL_DATA,
      `initializer '${name}' keeps its data in '${loc}'; pass a file path or { externalDataDir }`,
      { details: { tensor: name } },
    );
  }
  const file = resolve(join(baseDir, loc));
  let buf: Uint8Array;
  try {
    buf = readFileSync(file);
  } catch (e) {
    throw new KilnError(
      OnnxErrorCodes.ONNX_EXTERNAL_DATA,
      `initializer '${name}': cannot read external data file ${file}`,
      { cause: e, details: { tensor: name, file } },
    );
  }
  const offset = Number(kv.get('offset') ?? 0);
  const length = kv.has('length') ? Number(kv.get('length')) : buf.length - offset;
  if (offset + length > buf.length) {
    throw new KilnError(
      OnnxErrorCodes.ONNX_EXTERNAL_DATA,
      `initializer '${name}': ${file} is shorter than offset ${offset} + length ${length}`,
      { details: { tensor: name, file } },
    );
  }
  return buf.subarray(offset, offset + length);
}

/**
 * Bit codes of the low-precision types as stored in a TensorProto (raw_data bytes or one
 * byte per int32_data entry): float8 one code per byte; int4/uint4/float4 two per byte and
 * int2/uint2 four per byte, first element in the low bits. Kiln keeps one per byte.
 */
function lowPrecisionCodes(
  bytes: ArrayLike<number>,
  dt: DataType,
  size: number,
  where: string,
  name: string,
): number[] {
  const per = dt.bits === 8 ? 1 : 8 / dt.bits;
  const need = Math.ceil(size / per);
  if (bytes.length < need)
    throw new KilnError(
      OnnxErrorCodes.ONNX_INVALID,
      `${where}: has ${bytes.length} bytes of ${dt.str} data, ${size} elements need ${need}`,
      { details: { tensor: name } },
    );
  const mask = (1 << dt.bits) - 1;
  const out = new Array<number>(size);
  for (let i = 0; i < size; i++)
    out[i] = ((bytes[Math.floor(i / per)] & 0xff) >> ((i % per) * dt.bits)) & mask;
  return out;
}

/**
 * TensorProto raw_data bytes of a HostTensor: little-endian storage, with int4/uint4/float4
 * packed two per byte and int2/uint2 four per byte (first element in the low bits), as ONNX
 * stores them.
 */
export function toOnnxRawData(t: HostTensor): Uint8Array {
  const dt = parseDType(t.dtype);
  const st = toStorage(t.dtype, t.data);
  const bytes = new Uint8Array(st.buffer, st.byteOffset, st.byteLength);
  if (!isLowPrecision(dt) || dt.bits === 8) return new Uint8Array(bytes);
  const per = 8 / dt.bits;
  const out = new Uint8Array(Math.ceil(bytes.length / per));
  const mask = (1 << dt.bits) - 1;
  for (let i = 0; i < bytes.length; i++)
    out[Math.floor(i / per)] |= (bytes[i] & mask) << ((i % per) * dt.bits);
  return out;
}

/** The value a low-precision code denotes (sub-byte ints sign-extended). */
function lowPrecisionValue(dt: DataType, code: number): number {
  if (isLowPrecisionFloat(dt)) return minifloatToNumber(dt, code);
  return dt.code === 'int' && code >= 2 ** (dt.bits - 1) ? code - 2 ** dt.bits : code;
}

/** Element values of a TensorProto as numbers (bool as 0/1, 16-bit floats and float8 decoded). */
export function tensorFromProto(t: onnxProto.onnx.ITensorProto, baseDir?: string): HostTensor {
  const name = t.name ?? '';
  const where = name ? `tensor '${name}'` : 'tensor';
  const dt = kilnDType(t.dataType ?? 0, where);
  const shape = (t.dims ?? []).map((d) => toNum(d as LongLike));
  const size = shape.reduce((a, b) => a * b, 1);
  let raw: Uint8Array | undefined;
  if (t.dataLocation === 1) raw = externalBytes(t, baseDir, name);
  else if (t.rawData && t.rawData.length > 0) raw = t.rawData;
  const data = new Float64Array(size);
  const ldt = parseDType(dt);
  if (isLowPrecision(ldt)) {
    const src = raw ?? t.int32Data ?? [];
    const codes = lowPrecisionCodes(src, ldt, size, where, name);
    for (let i = 0; i < size; i++) data[i] = lowPrecisionValue(ldt, codes[i]);
  } else if (raw) {
    // Copy so the typed view is aligned.
    const buf = new Uint8Array(raw).buffer;
    const view = new DataView(buf);
    const need = size * bytesOfKiln(dt);
    if (raw.length < need)
      throw new KilnError(
        OnnxErrorCodes.ONNX_INVALID,
        `${where}: raw data has ${raw.length} bytes, shape [${shape.join(', ')}] of ${dt} needs ${need}`,
        { details: { tensor: name } },
      );
    for (let i = 0; i < size; i++) data[i] = readRaw(view, i, dt);
  } else {
    const src = typedField(t, dt);
    if (size > 0 && src.length < size) {
      throw new KilnError(
        OnnxErrorCodes.ONNX_INVALID,
        `${where}: has ${src.length} values, shape [${shape.join(', ')}] needs ${size}`,
        { details: { tensor: name } },
      );
    }
    for (let i = 0; i < size; i++) data[i] = src[i];
  }
  return hostTensor(dt, shape, data);
}

function bytesOfKiln(dt: string): number {
  if (dt === 'bool' || dt.endsWith('8')) return 1;
  if (dt.endsWith('16')) return 2;
  if (dt.endsWith('32')) return 4;
  return 8;
}
function readRaw(v: DataView, i: number, dt: string): number {
  switch (dt) {
    case 'float32':
      return v.getFloat32(i * 4, true);
    case 'float64':
      return v.getFloat64(i * 8, true);
    case 'float16':
    case 'bfloat16':
      return halfBitsToNumber(v.getUint16(i * 2, true), dt);
    case 'int8':
      return v.getInt8(i);
    case 'uint8':
    case 'bool':
      return v.getUint8(i);
    case 'int16':
      return v.getInt16(i * 2, true);
    case 'uint16':
      return v.getUint16(i * 2, true);
    case 'int32':
      return v.getInt32(i * 4, true);
    case 'uint32':
      return v.getUint32(i * 4, true);
    case 'int64':
      return Number(v.getBigInt64(i * 8, true));
    case 'uint64':
      return Number(v.getBigUint64(i * 8, true));
    default:
      return 0;
  }
}
function typedField(t: onnxProto.onnx.ITensorProto, dt: string): number[] {
  switch (dt) {
    case 'float32':
      return [...(t.floatData ?? [])];
    case 'float64':
      return [...(t.doubleData ?? [])];
    case 'int64':
      return (t.int64Data ?? []).map((x) => toNum(x as LongLike));
    case 'uint64':
      return (t.uint64Data ?? []).map((x) => toNum(x as LongLike));
    case 'uint32':
      return (t.uint64Data ?? []).map((x) => toNum(x as LongLike));
    case 'float16':
    case 'bfloat16':
      // 16-bit floats are stored as their bits in int32_data.
      return (t.int32Data ?? []).map((b) => halfBitsToNumber(b, dt));
    default:
      return [...(t.int32Data ?? [])];
  }
}

/** An attribute as a plain value (graphs stay GraphProto). */
export type AttrValue =
  | number
  | string
  | HostTensor
  | GraphProto
  | number[]
  | string[]
  | HostTensor[]
  | GraphProto[];

const TEXT = new TextDecoder();
export function attrValue(a: AttributeProto, baseDir?: string): AttrValue | undefined {
  switch (a.type) {
    case 1:
      return a.f ?? 0;
    case 2:
      return toNum(a.i as LongLike);
    case 3:
      return TEXT.decode(a.s ?? new Uint8Array());
    case 4:
      return a.t ? tensorFromProto(a.t, baseDir) : undefined;
    case 5:
      return a.g ?? undefined;
    case 6:
      return [...(a.floats ?? [])];
    case 7:
      return (a.ints ?? []).map((x) => toNum(x as LongLike));
    case 8:
      return (a.strings ?? []).map((s) => TEXT.decode(s));
    case 9:
      return (a.tensors ?? []).map((x) => tensorFromProto(x, baseDir));
    case 10:
      return [...(a.graphs ?? [])];
    default:
      return undefined;
  }
}
