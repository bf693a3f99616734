// Low-precision element types at the ONNX boundary: TensorProto decoding (raw_data and
// int32_data, packed 4-bit / 2-bit), and a model with float8 / int4 initializers compiled
// and run on the CPU pipeline, checked against ir-core's reference codec.
import { DType, isKilnError, minifloatToNumber, numberToMinifloat } from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import { hostTensor } from './host.js';
import { fromOnnx } from './importer.js';
import { decodeTensor, onnx, toOnnxRawData } from './proto.js';
import { buildModel, compileAndLoad } from './testing.test-util.js';

const encode = (o: Record<string, unknown>) =>
  onnx.TensorProto.encode(onnx.TensorProto.fromObject(o)).finish();

describe('ONNX low-precision tensors', () => {
  it('unpack 4-bit and 2-bit raw_data (odd counts, sign extension)', () => {
    // int4 [-8, 7, -1, 3, 5]: nibbles 8,7 | f,3 | 5,0
    const i4 = decodeTensor(
      encode({ dataType: 22, dims: [5], rawData: new Uint8Array([0x78, 0x3f, 0x05]) }),
      'i4',
    );
    expect(i4.dtype).toBe('int4');
    expect(Array.from(i4.data)).toEqual([-8, 7, -1, 3, 5]);
    const u2 = decodeTensor(
      encode({ dataType: 25, dims: [6], rawData: new Uint8Array([0b11100100, 0b0111]) }),
      'u2',
    );
    expect(Array.from(u2.data)).toEqual([0, 1, 2, 3, 3, 1]);
    const i2 = decodeTensor(encode({ dataType: 26, dims: [4], rawData: new Uint8Array([0b11100100]) }), 'i2');
    expect(Array.from(i2.data)).toEqual([0, 1, -2, -1]);
    const f4 = decodeTensor(encode({ dataType: 23, dims: [3], rawData: new Uint8Array([0x2f, 0x07]) }), 'f4');
    expect(Array.from(f4.data)).toEqual([-6, 1, 6]);
    // Packing back gives the same bytes.
    expect(Array.from(toOnnxRawData(i4))).toEqual([0x78, 0x3f, 0x05]);
    expect(Array.from(toOnnxRawData(f4))).toEqual([0x2f, 0x07]);
  });

  it('decode float8 from raw_data and int32_data', () => {
    const codes = [0x00, 0x38, 0xb8, 0x7e, 0x7f, 0x01];
    for (const [dataType, dt] of [
      [17, DType.float8_e4m3fn],
      [19, DType.float8_e5m2],
      [18, DType.float8_e4m3fnuz],
      [20, DType.float8_e5m2fnuz],
      [24, DType.float8_e8m0fnu],
    ] as const) {
      const want = codes.map((c) => minifloatToNumber(dt, c));
      const raw = decodeTensor(encode({ dataType, dims: [6], rawData: new Uint8Array(codes) }), 'raw');
      const typed = decodeTensor(encode({ dataType, dims: [2, 3], int32Data: codes }), 'typed');
      expect(raw.dtype).toBe(dt.str);
      expect(Array.from(raw.data)).toEqual(want);
      expect(Array.from(typed.data)).toEqual(want);
    }
    // int4 in int32_data: one packed byte per entry.
    const i4 = decodeTensor(encode({ dataType: 21, dims: [3], int32Data: [0x21, 0x0f] }), 'u4');
    expect(Array.from(i4.data)).toEqual([1, 2, 15]);
  });

  it('short data is ONNX_INVALID', () => {
    try {
      decodeTensor(
        encode({ name: 'w', dataType: 22, dims: [5], rawData: new Uint8Array([0x11, 0x22]) }),
        'w',
      );
      expect.unreachable();
    } catch (e) {
      expect(isKilnError(e, 'ONNX_INVALID')).toBe(true);
    }
  });

  it('a model with float8 and int4 initializers compiles and runs', () => {
    const e4 = DType.float8_e4m3fn;
    const w8 = [0.5, -1.75, 448, -0.015625, 3, 0, -6, 240];
    const w4 = [-8, -3, 0, 1, 7, 2];
    const model = buildModel({
      opset: 21,
      nodes: [
        // float8 weights dequantized at run time (the initializer stays float8 in the artifact).
        { op: 'DequantizeLinear', inputs: ['W8', 's8'], outputs: ['d8'] },
        { op: 'Mul', inputs: ['x', 'd8'], outputs: ['y0'] },
        // int4 per-tensor with a zero point.
        { op: 'DequantizeLinear', inputs: ['W4', 's4', 'z4'], outputs: ['y1'] },
        // float8 data movement: reshape + transpose of the raw codes.
        { op: 'Reshape', inputs: ['W8', 'shape'], outputs: ['r8'] },
        { op: 'Transpose', inputs: ['r8'], outputs: ['y2'], attrs: { perm: [1, 0] } },
        // Quantize the float input to float8 e5m2 (saturating) and to int4.
        { op: 'QuantizeLinear', inputs: ['x', 's8', 'zq8'], outputs: ['y3'] },
        { op: 'QuantizeLinear', inputs: ['x', 's4', 'z4'], outputs: ['y4'] },
      ],
      inputs: [{ name: 'x', dtype: 'float32', shape: [8] }],
      outputs: ['y0', 'y1', 'y2', 'y3', 'y4'],
      inits: {
        W8: hostTensor('float8_e4m3fn', [8], w8),
        s8: hostTensor('float32', [], [0.25]),
        zq8: hostTensor('float8_e5m2', [], [0]),
        W4: hostTensor('int4', [6], w4),
        s4: hostTensor('float32', [], [0.5]),
        z4: hostTensor('int4', [], [1]),
        shape: hostTensor('int64', [2], [2, 4]),
      },
    });
    const mod = fromOnnx(model);
    const run = compileAndLoad(mod);
    const x = [1.5, -2, 0.1, 1000, -3.3, 7, 0.01, -0.5];
    const [y0, y1, y2, y3, y4] = run(hostTensor('float32', [8], x));
    expect(y0.data).toEqual(x.map((v, i) => Math.fround(v * Math.fround(w8[i] * 0.25))));
    expect(y1.data).toEqual(w4.map((v) => (v - 1) * 0.5));
    // y2 holds float8 codes: the transposed [2, 4] initializer.
    expect(y2.shape).toEqual([4, 2]);
    const t = [0, 4, 1, 5, 2, 6, 3, 7].map((k) => numberToMinifloat(e4, w8[k]));
    expect(y2.data).toEqual(t);
    const e5 = DType.float8_e5m2;
    expect(y3.data).toEqual(x.map((v) => numberToMinifloat(e5, Math.fround(Math.fround(v) / 0.25))));
    const q4 = x.map((v) => {
      const r = Math.round(Math.fround(v) / 0.5);
      const even =
        Math.abs((Math.fround(v) / 0.5) % 1) === 0.5 ? 2 * Math.round(Math.fround(v) / 0.5 / 2) : r;
      return Math.min(7, Math.max(-8, even + 1));
    });
    expect(y4.data).toEqual(q4);
  });

  it('Cast from float64 and int32 rounds exactly in native code', () => {
    const e4 = DType.float8_e4m3fn;
    // Values just off the float8 midpoints, which float32 would round onto the midpoint.
    const x = [
      1.0625 + 2 ** -40,
      1.0625 - 2 ** -40,
      -(1.1875 + 2 ** -40),
      500,
      -1e300,
      2 ** -10,
      Number.NaN,
      3.3,
    ];
    const ints = [-9, -8, 7, 8, 100, -100];
    const model = buildModel({
      opset: 21,
      nodes: [
        { op: 'Cast', inputs: ['x'], outputs: ['y0'], attrs: { to: 17 } },
        { op: 'Cast', inputs: ['x'], outputs: ['y1'], attrs: { to: 17, saturate: 0 } },
        { op: 'Cast', inputs: ['y0'], outputs: ['y2'], attrs: { to: 11 } },
        { op: 'Cast', inputs: ['i'], outputs: ['y3'], attrs: { to: 22 } },
        { op: 'Cast', inputs: ['i'], outputs: ['y4'], attrs: { to: 25 } },
      ],
      inputs: [
        { name: 'x', dtype: 'float64', shape: [8] },
        { name: 'i', dtype: 'int32', shape: [6] },
      ],
      outputs: ['y0', 'y1', 'y2', 'y3', 'y4'],
    });
    const run = compileAndLoad(fromOnnx(model));
    const [y0, y1, y2, y3, y4] = run(hostTensor('float64', [8], x), hostTensor('int32', [6], ints));
    const sat = x.map((v) => numberToMinifloat(e4, v));
    expect(y0.data).toEqual(sat);
    expect(y1.data).toEqual(x.map((v) => numberToMinifloat(e4, v, { saturate: false })));
    expect(y2.data).toEqual(sat.map((c) => minifloatToNumber(e4, c)));
    expect(y3.data).toEqual([7, -8, 7, -8, 4, -4]);
    expect(y4.data).toEqual([3, 0, 3, 0, 0, 0]);
  });
});
