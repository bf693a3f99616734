// misc.ts converters, compiled for the CPU and checked against TypeScript references of
// the ONNX definitions on random inputs.
import { describe, expect, it } from 'vitest';
import { hostTensor } from '../host.js';
import { fromOnnx } from '../importer.js';
import { buildModel, closeness, compileAndLoad } from '../testing.test-util.js';

function rand(n: number, seed: number, lo = -1, hi = 1): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.fround(lo + ((s >>> 8) / 2 ** 24) * (hi - lo));
  });
}

describe('ScatterND', () => {
  it('slice updates with add reduction, duplicate and negative indices', () => {
    const data = rand(4 * 3, 1);
    const upd = rand(3 * 3, 2);
    const idx = [1, -1, 1];
    const bytes = buildModel({
      nodes: [{ op: 'ScatterND', inputs: ['d', 'i', 'u'], outputs: ['y'], attrs: { reduction: 'add' } }],
      inputs: [
        { name: 'd', dtype: 'float32', shape: [4, 3] },
        { name: 'i', dtype: 'int64', shape: [3, 1] },
        { name: 'u', dtype: 'float32', shape: [3, 3] },
      ],
      outputs: ['y'],
      opset: 18,
    });
    const [y] = compileAndLoad(fromOnnx(bytes))(hostTensor('float32', [4, 3], data), hostTensor('int64', [3, 1], idx), hostTensor('float32', [3, 3], upd));
    const want = [...data];
    idx.forEach((r, n) => {
      const row = r < 0 ? r + 4 : r;
      for (let c = 0; c < 3; c++) want[row * 3 + c] += upd[n * 3 + c];
    });
    expect(closeness(y.data, want)).toBeLessThanOrEqual(1);
  });
});

describe('ReverseSequence', () => {
  it('reverses each batch row up to its run-time length (time axis 1, batch axis 0)', () => {
    const x = rand(3 * 4 * 2, 3);
    const lens = [4, 2, 1];
    const bytes = buildModel({
      nodes: [{ op: 'ReverseSequence', inputs: ['x', 'l'], outputs: ['y'], attrs: { time_axis: 1, batch_axis: 0 } }],
      inputs: [
        { name: 'x', dtype: 'float32', shape: [3, 4, 2] },
        { name: 'l', dtype: 'int64', shape: [3] },
      ],
      outputs: ['y'],
      opset: 10,
    });
    const [y] = compileAndLoad(fromOnnx(bytes))(hostTensor('float32', [3, 4, 2], x), hostTensor('int64', [3], lens));
    const want: number[] = [];
    for (let b = 0; b < 3; b++)
      for (let t = 0; t < 4; t++) for (let c = 0; c < 2; c++) want.push(x[(b * 4 + (t < lens[b] ? lens[b] - 1 - t : t)) * 2 + c]);
    expect(y.data).toEqual(want);
  });
});

describe('DFT', () => {
  it('forward complex DFT along axis 1 and a onesided real DFT with dft_length padding', () => {
    const n = 6;
    const x = rand(2 * n * 2, 4);
    const xr = rand(2 * 5, 5);
    const bytes = buildModel({
      nodes: [
        { op: 'DFT', inputs: ['x'], outputs: ['y'], attrs: { axis: 1 } },
        { op: 'DFT', inputs: ['xr', 'len'], outputs: ['yr'], attrs: { axis: 1, onesided: 1 } },
      ],
      inputs: [
        { name: 'x', dtype: 'float32', shape: [2, n, 2] },
        { name: 'xr', dtype: 'float32', shape: [2, 5, 1] },
      ],
      outputs: ['y', 'yr'],
      inits: { len: hostTensor('int64', [], [8]) },
      opset: 17,
    });
    const [y, yr] = compileAndLoad(fromOnnx(bytes))(hostTensor('float32', [2, n, 2], x), hostTensor('float32', [2, 5, 1], xr));
    const dft = (re: number[], im: number[], m: number, bins: number) => {
      const out: number[] = [];
      for (let k = 0; k < bins; k++) {
        let a = 0;
        let b = 0;
        for (let j = 0; j < m; j++) {
          const th = (-2 * Math.PI * j * k) / m;
          a += (re[j] ?? 0) * Math.cos(th) - (im[j] ?? 0) * Math.sin(th);
          b += (re[j] ?? 0) * Math.sin(th) + (im[j] ?? 0) * Math.cos(th);
        }
        out.push(a, b);
      }
      return out;
    };
    const want: number[] = [];
    for (let b = 0; b < 2; b++) {
      const re = Array.from({ length: n }, (_, j) => x[(b * n + j) * 2]);
      const im = Array.from({ length: n }, (_, j) => x[(b * n + j) * 2 + 1]);
      want.push(...dft(re, im, n, n));
    }
    expect(closeness(y.data, want, 1e-4, 1e-5)).toBeLessThanOrEqual(1);
    const wantR: number[] = [];
    for (let b = 0; b < 2; b++) wantR.push(...dft(xr.slice(b * 5, b * 5 + 5), [], 8, 5));
    expect(yr.shape).toEqual([2, 5, 2]);
    expect(closeness(yr.data, wantR, 1e-4, 1e-5)).toBeLessThanOrEqual(1);
  });
});

describe('RotaryEmbedding', () => {
  it('interleaved rotation of a 4-D input with position ids and a partial rotary dim', () => {
    const [B, N, S, D, rot] = [1, 2, 3, 6, 4];
    const x = rand(B * N * S * D, 6);
    const cos = rand(5 * 2, 7);
    const sin = rand(5 * 2, 8);
    const pos = [4, 0, 2];
    const bytes = buildModel({
      nodes: [{ op: 'RotaryEmbedding', inputs: ['x', 'c', 's', 'p'], outputs: ['y'], attrs: { interleaved: 1, rotary_embedding_dim: rot } }],
      inputs: [{ name: 'x', dtype: 'float32', shape: [B, N, S, D] }],
      outputs: ['y'],
      inits: { c: hostTensor('float32', [5, 2], cos), s: hostTensor('float32', [5, 2], sin), p: hostTensor('int64', [1, 3], pos) },
      opset: 23,
    });
    const [y] = compileAndLoad(fromOnnx(bytes))(hostTensor('float32', [B, N, S, D], x));
    const want = [...x];
    for (let h = 0; h < N; h++)
      for (let s = 0; s < S; s++)
        for (let i = 0; i < rot / 2; i++) {
          const base = (h * S + s) * D;
          const a = x[base + 2 * i];
          const b = x[base + 2 * i + 1];
          const c = cos[pos[s] * 2 + i];
          const sn = sin[pos[s] * 2 + i];
          want[base + 2 * i] = c * a - sn * b;
          want[base + 2 * i + 1] = sn * a + c * b;
        }
    expect(closeness(y.data, want)).toBeLessThanOrEqual(1);
  });
});
