// Low-precision element types in the runtime: dtype descriptions, Tensor round trips and
// artifact constants of float8 / float4 / sub-byte integer tensors.
import { describe, expect, it } from 'vitest';
import { readArtifact } from './artifact/reader.js';
import { writeArtifact } from './artifact/writer.js';
import { DLDataTypeCode, dtypeInfo } from './dtype.js';
import { isRuntimeError } from './errors.js';
import { minifloatBitsToNumber, numberToMinifloatBits } from './minifloat.js';
import { Tensor } from './tensor.js';

describe('low-precision dtypes in the runtime', () => {
  it('describes storage, DLPack code and bits', () => {
    const e4 = dtypeInfo('float8_e4m3fn');
    expect([e4.kind, e4.bits, e4.bytes, e4.dl.code]).toEqual([
      'float8_e4m3fn',
      8,
      1,
      DLDataTypeCode.Float8_e4m3fn,
    ]);
    expect(e4.array).toBe(Uint8Array);
    expect(dtypeInfo('float8_e5m2fnuz').dl.code).toBe(13);
    expect(dtypeInfo('float8_e8m0fnu').dl.code).toBe(14);
    const f4 = dtypeInfo('float4_e2m1fn');
    expect([f4.bits, f4.bytes, f4.dl.code]).toEqual([4, 1, 17]);
    const i4 = dtypeInfo('int4');
    expect([i4.kind, i4.bits, i4.bytes, i4.dl.code, i4.array]).toEqual(['int', 4, 1, 0, Int8Array]);
    expect(dtypeInfo('uint2').array).toBe(Uint8Array);
    expect(dtypeInfo('float8_e4m3fnx4').bytes).toBe(4);
    expect(() => dtypeInfo('float8_e4m3fn8')).toThrow();
  });

  it('round-trips float8 / float4 values through Tensor.from and toArray', () => {
    for (const dt of [
      'float8_e4m3fn',
      'float8_e4m3fnuz',
      'float8_e5m2',
      'float8_e5m2fnuz',
      'float4_e2m1fn',
    ] as const) {
      const n = dt === 'float4_e2m1fn' ? 16 : 256;
      const values: number[] = [];
      for (let c = 0; c < n; c++) values.push(minifloatBitsToNumber(dt, c));
      const finite = values.filter((v) => !Number.isNaN(v));
      const t = Tensor.from(finite, [finite.length], dt);
      expect(t.nbytes).toBe(finite.length);
      const back = t.toArray() as number[];
      for (let i = 0; i < finite.length; i++) {
        const want = dt.endsWith('fnuz') && Object.is(finite[i], -0) ? 0 : finite[i];
        expect(back[i], `${dt} ${finite[i]}`).toBe(want);
      }
    }
    expect(Tensor.from([1000, -1000, Number.NaN], [3], 'float8_e4m3fn').toTypedArray()).toEqual(
      new Uint8Array([0x7e, 0xfe, 0x7f]),
    );
    expect(Tensor.from([1.1, 0.124, Number.NaN], [3], 'float8_e8m0fnu').toTypedArray()).toEqual(
      new Uint8Array([128, 124, 255]),
    );
    expect(numberToMinifloatBits('float8_e5m2', 1.125)).toBe(0x3c);
  });

  it('stores sub-byte integers one per byte, wrapping like a cast', () => {
    const t = Tensor.from([-8, 7, 9, -9, 3], [5], 'int4');
    expect(t.nbytes).toBe(5);
    expect(t.toArray()).toEqual([-8, 7, -7, 7, 3]);
    expect(Tensor.from([0, 3, 4, -1], [4], 'uint2').toArray()).toEqual([0, 3, 0, 3]);
    try {
      Tensor.from([1, 2], [2], 'int4').toDLPack();
      expect.unreachable();
    } catch (e) {
      expect(isRuntimeError(e)).toBe(true);
    }
  });

  it('carries low-precision constants in artifacts', () => {
    const codes = new Uint8Array(Array.from({ length: 256 }, (_, i) => i));
    const a = {
      kilnVersion: '0.1.0-test',
      target: 'llvm',
      devices: ['cpu:0'],
      functions: [],
      constants: [
        { name: 'w8', dtype: 'float8_e5m2', shape: [16, 16], data: codes },
        { name: 'w4', dtype: 'int4', shape: [3], data: new Uint8Array(new Int8Array([-8, 0, 7]).buffer) },
      ],
      kernelModules: [],
      metadata: {},
    };
    const r = readArtifact(writeArtifact(a));
    expect(r.constants.map((c) => [c.dtype, c.shape])).toEqual([
      ['float8_e5m2', [16, 16]],
      ['int4', [3]],
    ]);
    expect(Array.from(r.constants[0].data)).toEqual(Array.from(codes));
    expect(Array.from(new Int8Array(r.constants[1].data.buffer, r.constants[1].data.byteOffset, 3))).toEqual([
      -8, 0, 7,
    ]);
  });
});
