// Tensor tests: views and strides without copies, alignment, DLPack descriptor,
// copies, error codes.
import { describe, expect, it } from 'vitest';
import { CPU_ALIGNMENT, cpu, DeviceRegistry, DLDeviceType } from './device/device.js';
import { DLDataTypeCode, dtypeInfo } from './dtype.js';
import { isRuntimeError, RuntimeError } from './errors.js';
import { tryKoffi } from './native.js';
import { contiguousStrides, Tensor } from './tensor.js';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (isRuntimeError(e)) return e.code;
    throw e;
  }
  return undefined;
}

function randomF32(n: number, seed = 1): Float32Array {
  const a = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    a[i] = s / 2 ** 31 - 0.5;
  }
  return a;
}

describe('dtype', () => {
  it('maps dtype strings to DLPack codes and arrays', () => {
    expect(dtypeInfo('float32').dl).toEqual({ code: DLDataTypeCode.Float, bits: 32, lanes: 1 });
    expect(dtypeInfo('int64').array).toBe(BigInt64Array);
    expect(dtypeInfo('bool')).toMatchObject({ bytes: 1, dl: { code: DLDataTypeCode.Bool, bits: 8 } });
    expect(dtypeInfo('float16')).toMatchObject({ bytes: 2, array: Uint16Array });
    expect(dtypeInfo('float32x4')).toMatchObject({ bytes: 16, lanes: 4 });
    expect(codeOf(() => dtypeInfo('float7'))).toBe('DTYPE_PARSE');
    expect(codeOf(() => dtypeInfo('complex64'))).toBe('DTYPE_PARSE');
  });
});

describe('Tensor', () => {
  it('fromTypedArray / toTypedArray are views, not copies', () => {
    const data = randomF32(6);
    const t = Tensor.fromTypedArray(data, [2, 3]);
    expect(t.dtype).toBe('float32');
    expect(t.strides).toEqual([3, 1]);
    expect(t.isContiguous()).toBe(true);
    const v = t.toTypedArray() as Float32Array;
    expect(v.buffer).toBe(data.buffer);
    v[4] = 42;
    expect(data[4]).toBe(42);
    data[0] = -7;
    expect(t.toArray()[0]).toBe(-7);
  });

  it('views a subarray at its byte offset', () => {
    const big = randomF32(16, 3);
    const sub = big.subarray(4, 10);
    const t = Tensor.fromTypedArray(sub, [3, 2]);
    expect(Array.from(t.toTypedArray() as Float32Array)).toEqual(Array.from(sub));
    expect(codeOf(() => Tensor.fromTypedArray(sub, [4, 2]))).toBe('SHAPE_MISMATCH');
  });

  it('empty/zeros allocate 64-byte aligned storage', () => {
    const z = Tensor.zeros([3, 5], 'float32');
    expect(z.toArray().every((x) => x === 0)).toBe(true);
    const e = Tensor.empty([7], 'int64', cpu);
    expect(e.toTypedArray()).toBeInstanceOf(BigInt64Array);
    if (tryKoffi()) {
      for (let i = 0; i < 20; i++)
        expect(Tensor.empty([i + 1], 'float32').isAligned(CPU_ALIGNMENT)).toBe(true);
    }
  });

  it('permute and slice are strided views; contiguous() copies correctly', () => {
    const data = randomF32(24, 5);
    const t = Tensor.fromTypedArray(data, [2, 3, 4]);
    const p = t.permute([2, 0, 1]);
    expect(p.shape).toEqual([4, 2, 3]);
    expect(p.strides).toEqual([1, 12, 4]);
    expect(p.isContiguous()).toBe(false);
    expect(p.storage).toBe(t.storage);
    expect(codeOf(() => p.toTypedArray())).toBe('NOT_CONTIGUOUS');
    expect(codeOf(() => p.reshape([24]))).toBe('NOT_CONTIGUOUS');
    const c = p.contiguous();
    expect(c.isContiguous()).toBe(true);
    const vals = c.toArray() as number[];
    for (let a = 0; a < 4; a++)
      for (let b = 0; b < 2; b++)
        for (let d = 0; d < 3; d++) expect(vals[a * 6 + b * 3 + d]).toBe(data[b * 12 + d * 4 + a]);

    const s = t.slice(2, 1, 4, 2); // [:, :, 1:4:2]
    expect(s.shape).toEqual([2, 3, 2]);
    expect(s.strides).toEqual([12, 4, 2]);
    expect(s.byteOffset).toBe(4);
    expect((s.toArray() as number[])[3]).toBe(data[4 + 3]);
    expect(codeOf(() => t.slice(0, 0, 5))).toBe('OUT_OF_BOUNDS');
  });

  it('reshape keeps the storage; size-1 dims do not break contiguity', () => {
    const t = Tensor.fromTypedArray(randomF32(12), [3, 4]);
    const r = t.reshape([2, 1, 6]);
    expect(r.storage).toBe(t.storage);
    expect(r.strides).toEqual(contiguousStrides([2, 1, 6]));
    expect(t.view([2, 1, 6], [6, 99, 1]).isContiguous()).toBe(true);
    expect(codeOf(() => t.reshape([5]))).toBe('SHAPE_MISMATCH');
  });

  it('rejects views that leave their storage', () => {
    const t = Tensor.fromTypedArray(randomF32(4), [4]);
    expect(codeOf(() => t.view([5]))).toBe('OUT_OF_BOUNDS');
    expect(codeOf(() => t.view([2], [4]))).toBe('OUT_OF_BOUNDS');
    expect(t.view([2], [3], 0).shape).toEqual([2]);
    expect(codeOf(() => t.view([2], [1], 12))).toBe('OUT_OF_BOUNDS');
  });

  it('produces a DLPack descriptor with the storage address', () => {
    if (!tryKoffi()) return;
    const t = Tensor.fromTypedArray(randomF32(24), [2, 3, 4]).slice(1, 1, 3);
    const dl = t.toDLPack();
    const k = tryKoffi()!;
    const base = k.address(t.storage.host!.buffer as ArrayBuffer) + BigInt(t.storage.host!.offset);
    expect(dl).toEqual({
      data: base,
      device: { deviceType: DLDeviceType.cpu, deviceId: 0 },
      ndim: 3,
      dtype: { code: 2, bits: 32, lanes: 1 },
      shape: [2, 2, 4],
      strides: [12, 4, 1],
      byteOffset: 16,
    });
    expect(t.address()).toBe(base + 16n);
    // dataPointer() starts at element 0 and shares memory.
    const p = t.dataPointer();
    expect(p.buffer).toBe(t.storage.host!.buffer);
    expect(k.address(p.buffer as ArrayBuffer) + BigInt(p.byteOffset)).toBe(base + 16n);
  });

  it('copies between tensors with checks', () => {
    const a = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]);
    const b = Tensor.empty([3, 2]).permute([1, 0]);
    a.copyInto(b);
    expect(b.toArray()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(codeOf(() => a.copyInto(Tensor.empty([2, 3], 'int32')))).toBe('DTYPE_MISMATCH');
    expect(codeOf(() => a.copyInto(Tensor.empty([3, 3])))).toBe('SHAPE_MISMATCH');
    const i = Tensor.from([1n, -2n], [2], 'int64');
    expect(i.copyTo(cpu).toArray()).toEqual([1n, -2n]);
  });

  it('errors carry the KilnError shape', () => {
    try {
      dtypeInfo('nope');
    } catch (e) {
      expect(e).toBeInstanceOf(RuntimeError);
      expect((e as RuntimeError).name).toBe('KilnError');
      expect((e as RuntimeError).code).toBe('DTYPE_PARSE');
      expect((e as RuntimeError).format()).toContain('error[DTYPE_PARSE]');
    }
  });

  it('device registry resolves names and rejects unknown devices', () => {
    const r = new DeviceRegistry();
    expect(r.get('cpu')).toBe(cpu);
    expect(r.get('cpu:0')).toBe(cpu);
    expect(codeOf(() => r.get('cuda:0'))).toBe('UNKNOWN_DEVICE');
  });
});
