// Quantization converters, compiled for the CPU and checked against TypeScript
// references of the ONNX formulas (round half to even, saturation) on random inputs.
import { describe, expect, it } from 'vitest';
import { hostTensor } from '../host.js';
import { fromOnnx } from '../importer.js';
import { buildModel, closeness, compileAndLoad } from '../testing.test-util.js';

/** Deterministic uniform values in [lo, hi). */
function rand(n: number, lo: number, hi: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + ((s >>> 8) / 2 ** 24) * (hi - lo);
  });
}
const randInt = (n: number, lo: number, hi: number, seed: number): number[] =>
  rand(n, lo, hi + 1, seed).map(Math.floor);
const f32 = Math.fround;
function rintEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

describe('QuantizeLinear / DequantizeLinear', () => {
  it('per-axis quantize to int8 with zero points', () => {
    const x = rand(2 * 3 * 4, -30, 30, 1).map(f32);
    const scale = [0.25, 0.5, 0.125];
    const zp = [-3, 0, 7];
    const bytes = buildModel({
      nodes: [{ op: 'QuantizeLinear', inputs: ['x', 's', 'z'], outputs: ['y'], attrs: { axis: 1 } }],
      inputs: [{ name: 'x', dtype: 'float32', shape: [2, 3, 4] }],
      outputs: ['y'],
      inits: { s: hostTensor('float32', [3], scale), z: hostTensor('int8', [3], zp) },
      opset: 19,
    });
    const [y] = compileAndLoad(fromOnnx(bytes))(hostTensor('float32', [2, 3, 4], x));
    const want = x.map((v, i) => {
      const c = Math.floor(i / 4) % 3;
      return clamp(rintEven(f32(v / scale[c])) + zp[c], -128, 127);
    });
    expect(y.data).toEqual(want);
  });

  it('blocked quantize (block 2 along the last axis, a remainder block) to uint8', () => {
    const x = rand(2 * 5, -4, 4, 2).map(f32);
    const scale = rand(2 * 3, 0.02, 0.05, 3).map(f32);
    const bytes = buildModel({
      nodes: [
        { op: 'QuantizeLinear', inputs: ['x', 's', 'z'], outputs: ['y'], attrs: { axis: 1, block_size: 2 } },
      ],
      inputs: [{ name: 'x', dtype: 'float32', shape: [2, 5] }],
      outputs: ['y'],
      inits: {
        s: hostTensor('float32', [2, 3], scale),
        z: hostTensor('uint8', [2, 3], [128, 120, 130, 100, 140, 128]),
      },
      opset: 21,
    });
    const z = [128, 120, 130, 100, 140, 128];
    const [y] = compileAndLoad(fromOnnx(bytes))(hostTensor('float32', [2, 5], x));
    const want = x.map((v, i) => {
      const r = Math.floor(i / 5);
      const b = Math.floor((i % 5) / 2);
      return clamp(rintEven(f32(v / scale[r * 3 + b])) + z[r * 3 + b], 0, 255);
    });
    expect(y.data).toEqual(want);
  });

  it('dequantize uint8 per-tensor and int32 without zero point', () => {
    const q = randInt(12, 0, 255, 4);
    const bytes = buildModel({
      nodes: [
        { op: 'DequantizeLinear', inputs: ['q', 's', 'z'], outputs: ['y'] },
        { op: 'DequantizeLinear', inputs: ['q32', 's'], outputs: ['y32'] },
      ],
      inputs: [
        { name: 'q', dtype: 'uint8', shape: [3, 4] },
        { name: 'q32', dtype: 'int32', shape: [5] },
      ],
      outputs: ['y', 'y32'],
      inits: { s: hostTensor('float32', [], [0.0375]), z: hostTensor('uint8', [], [131]) },
      opset: 13,
    });
    const q32 = randInt(5, -100000, 100000, 5);
    const [y, y32] = compileAndLoad(fromOnnx(bytes))(
      hostTensor('uint8', [3, 4], q),
      hostTensor('int32', [5], q32),
    );
    expect(
      closeness(
        y.data,
        q.map((v) => f32(f32(v - 131) * f32(0.0375))),
      ),
    ).toBeLessThanOrEqual(1);
    expect(
      closeness(
        y32.data,
        q32.map((v) => f32(v * f32(0.0375))),
      ),
    ).toBeLessThanOrEqual(1);
  });

  it('refuses a quantized type Kiln cannot represent as unsupported', () => {
    const bytes = buildModel({
      nodes: [{ op: 'QuantizeLinear', inputs: ['x', 's', 'z'], outputs: ['y'] }],
      inputs: [{ name: 'x', dtype: 'float32', shape: [4] }],
      outputs: ['y'],
      inits: { s: hostTensor('float32', [], [0.5]), z: hostTensor('int32', [], [0]) },
      opset: 19,
    });
    expect(() => fromOnnx(bytes)).toThrow(expect.objectContaining({ code: 'ONNX_UNSUPPORTED_OP' }));
  });
});

describe('DynamicQuantizeLinear', () => {
  it('computes scale, zero point and the uint8 tensor like the onnx reference', () => {
    const x = rand(3 * 4, -1.5, 4.25, 6).map(f32);
    const bytes = buildModel({
      nodes: [{ op: 'DynamicQuantizeLinear', inputs: ['x'], outputs: ['y', 's', 'z'] }],
      inputs: [{ name: 'x', dtype: 'float32', shape: [3, 4] }],
      outputs: ['y', 's', 'z'],
      opset: 11,
    });
    const [y, s, z] = compileAndLoad(fromOnnx(bytes))(hostTensor('float32', [3, 4], x));
    const mx = Math.max(0, ...x);
    const mn = Math.min(0, ...x);
    const scale = f32(f32(mx - mn) / 255);
    const zp = rintEven(clamp(f32(0 - f32(mn / scale)), 0, 255));
    expect(s.data[0]).toBeCloseTo(scale, 7);
    expect(z.data[0]).toBe(zp);
    expect(y.data).toEqual(x.map((v) => clamp(rintEven(f32(v / scale)) + zp, 0, 255)));
  });
});

/** Plain int matmul [m,k]x[k,n]. */
function matmulRef(a: number[], b: number[], m: number, k: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let t = 0; t < k; t++) acc += a[i * k + t] * b[t * n + j];
      out.push(acc);
    }
  return out;
}

describe('integer matmul and conv', () => {
  it('MatMulInteger with uint8 zero points accumulates in int32', () => {
    const a = randInt(3 * 5, 0, 255, 7);
    const b = randInt(5 * 2, 0, 255, 8);
    const bytes = buildModel({
      nodes: [{ op: 'MatMulInteger', inputs: ['a', 'b', 'za', 'zb'], outputs: ['y'] }],
      inputs: [
        { name: 'a', dtype: 'uint8', shape: [3, 5] },
        { name: 'b', dtype: 'uint8', shape: [5, 2] },
      ],
      outputs: ['y'],
      inits: { za: hostTensor('uint8', [], [12]), zb: hostTensor('uint8', [], [200]) },
      opset: 10,
    });
    const [y] = compileAndLoad(fromOnnx(bytes))(
      hostTensor('uint8', [3, 5], a),
      hostTensor('uint8', [5, 2], b),
    );
    expect(y.data).toEqual(
      matmulRef(
        a.map((v) => v - 12),
        b.map((v) => v - 200),
        3,
        5,
        2,
      ),
    );
  });

  it('QLinearMatMul int8 requantizes with round half to even and saturation', () => {
    const a = randInt(2 * 4, -128, 127, 9);
    const b = randInt(4 * 3, -128, 127, 10);
    const [sa, sb, sy] = [0.02, 0.015, 0.11].map(f32);
    const bytes = buildModel({
      nodes: [
        { op: 'QLinearMatMul', inputs: ['a', 'sa', 'za', 'b', 'sb', 'zb', 'sy', 'zy'], outputs: ['y'] },
      ],
      inputs: [
        { name: 'a', dtype: 'int8', shape: [2, 4] },
        { name: 'b', dtype: 'int8', shape: [4, 3] },
      ],
      outputs: ['y'],
      inits: {
        sa: hostTensor('float32', [], [sa]),
        za: hostTensor('int8', [], [3]),
        sb: hostTensor('float32', [], [sb]),
        zb: hostTensor('int8', [], [-5]),
        sy: hostTensor('float32', [], [sy]),
        zy: hostTensor('int8', [], [10]),
      },
      opset: 10,
    });
    const [y] = compileAndLoad(fromOnnx(bytes))(hostTensor('int8', [2, 4], a), hostTensor('int8', [4, 3], b));
    const m = f32(f32(sa * sb) / sy);
    const want = matmulRef(
      a.map((v) => v - 3),
      b.map((v) => v + 5),
      2,
      4,
      3,
    ).map((c) => clamp(rintEven(c * m + 10), -128, 127));
    expect(y.data).toEqual(want);
  });

  it('ConvInteger with padding and a weight zero point', () => {
    const x = randInt(1 * 2 * 4 * 4, 0, 255, 11);
    const w = randInt(3 * 2 * 3 * 3, 0, 255, 12);
    const bytes = buildModel({
      nodes: [
        { op: 'ConvInteger', inputs: ['x', 'w', 'zx', 'zw'], outputs: ['y'], attrs: { pads: [1, 1, 1, 1] } },
      ],
      inputs: [
        { name: 'x', dtype: 'uint8', shape: [1, 2, 4, 4] },
        { name: 'w', dtype: 'uint8', shape: [3, 2, 3, 3] },
      ],
      outputs: ['y'],
      inits: { zx: hostTensor('uint8', [], [100]), zw: hostTensor('uint8', [], [128]) },
      opset: 10,
    });
    const [y] = compileAndLoad(fromOnnx(bytes))(
      hostTensor('uint8', [1, 2, 4, 4], x),
      hostTensor('uint8', [3, 2, 3, 3], w),
    );
    const want: number[] = [];
    for (let o = 0; o < 3; o++)
      for (let i = 0; i < 4; i++)
        for (let j = 0; j < 4; j++) {
          let acc = 0;
          for (let c = 0; c < 2; c++)
            for (let p = 0; p < 3; p++)
              for (let q = 0; q < 3; q++) {
                const ii = i + p - 1;
                const jj = j + q - 1;
                // Padding holds the zero point, i.e. 0 after centering.
                if (ii < 0 || jj < 0 || ii >= 4 || jj >= 4) continue;
                acc += (x[c * 16 + ii * 4 + jj] - 100) * (w[((o * 2 + c) * 3 + p) * 3 + q] - 128);
              }
          want.push(acc);
        }
    expect(y.shape).toEqual([1, 3, 4, 4]);
    expect(y.data).toEqual(want);
  });
});
