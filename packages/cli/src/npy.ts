// NumPy .npy files (format 1.0/2.0/3.0): the CLI's input and output format. Little-endian
// numeric dtypes and bool, C order; anything else is refused with a clear error.
import { readFileSync } from 'node:fs';
import { ErrorCodes, KilnError } from '@kiln/ir-core';

const DESCR_TO_DTYPE: Record<string, string> = {
  '<f4': 'float32',
  '<f8': 'float64',
  '<f2': 'float16',
  '<i1': 'int8',
  '|i1': 'int8',
  '<i2': 'int16',
  '<i4': 'int32',
  '<i8': 'int64',
  '|u1': 'uint8',
  '<u1': 'uint8',
  '<u2': 'uint16',
  '<u4': 'uint32',
  '<u8': 'uint64',
  '|b1': 'bool',
};
const DTYPE_TO_DESCR: Record<string, string> = {
  float32: '<f4',
  float64: '<f8',
  float16: '<f2',
  int8: '|i1',
  int16: '<i2',
  int32: '<i4',
  int64: '<i8',
  uint8: '|u1',
  uint16: '<u2',
  uint32: '<u4',
  uint64: '<u8',
  bool: '|b1',
};

export interface NpyArray {
  dtype: string;
  shape: number[];
  /** Raw little-endian element bytes (a copy, 8-byte aligned). */
  data: Uint8Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export function parseNpy(bytes: Uint8Array, source = '<npy>'): NpyArray {
  const bad = (why: string): never => {
    throw new KilnError('NPY_FORMAT', `${source}: not a supported .npy file: ${why}`);
  };
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) bad('missing the \\x93NUMPY magic');
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  if (headerStart + headerLen > bytes.length) bad('truncated header');
  const header = new TextDecoder('latin1').decode(bytes.subarray(headerStart, headerStart + headerLen));
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) bad('malformed header');
  if (fortran === 'True') bad('Fortran-ordered arrays are not supported (save with np.ascontiguousarray)');
  const dtype = DESCR_TO_DTYPE[descr!] ?? bad(`dtype '${descr}' is not supported`);
  const shape = shapeText!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) bad(`bad shape (${shapeText})`);
  const count = shape.reduce((a, b) => a * b, 1);
  const itemSize = dtype === 'bool' ? 1 : Number(/\d+$/.exec(descr!)![0]);
  const start = headerStart + headerLen;
  if (bytes.length - start < count * itemSize)
    bad(`data is truncated (${bytes.length - start} of ${count * itemSize} bytes)`);
  const data = new Uint8Array(count * itemSize);
  data.set(bytes.subarray(start, start + count * itemSize));
  return { dtype, shape, data };
}

export function readNpy(path: string): NpyArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new KilnError(ErrorCodes.INVALID_ARGUMENT, `cannot read '${path}': ${(e as Error).message}`);
  }
  return parseNpy(bytes, path);
}

export function encodeNpy(dtype: string, shape: readonly number[], data: Uint8Array): Uint8Array {
  const descr = DTYPE_TO_DESCR[dtype];
  if (!descr) throw new KilnError('NPY_FORMAT', `cannot write dtype '${dtype}' to .npy`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(data, 10 + header.length);
  return out;
}
