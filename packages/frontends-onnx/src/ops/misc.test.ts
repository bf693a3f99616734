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
    const [y] = compileAndLoad(fromOnnx(bytes))(
      hostTensor('float32', [4, 3], data),
      hostTensor('int64', [3, 1], idx),
      hostTensor('float32', [3, 3], upd),
    );
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
      nodes: [
        { op: 'ReverseSequence', inputs: ['x', 'l'], outputs: ['y'], attrs: { time_axis: 1, batch_axis: 0 } },
      ],
      inputs: [
        { name: 'x', dtype: 'float32', shape: [3, 4, 2] },
        { name: 'l', dtype: 'int64', shape: [3] },
      ],
      outputs: ['y'],
      opset: 10,
    });
    const [y] = compileAndLoad(fromOnnx(bytes))(
      hostTensor('float32', [3, 4, 2], x),
      hostTensor('int64', [3], lens),
    );
    const want: number[] = [];
    for (let b = 0; b < 3; b++)
      for (let t = 0; t < 4; t++)
        for (let c = 0; c < 2; c++) want.push(x[(b * 4 + (t < lens[b] ? lens[b] - 1 - t : t)) * 2 + c]);
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
    const [y, yr] = compileAndLoad(fromOnnx(bytes))(
      hostTensor('float32', [2, n, 2], x),
      hostTensor('float32', [2, 5, 1], xr),
    );
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
      nodes: [
        {
          op: 'RotaryEmbedding',
          inputs: ['x', 'c', 's', 'p'],
          outputs: ['y'],
          attrs: { interleaved: 1, rotary_embedding_dim: rot },
        },
      ],
      inputs: [{ name: 'x', dtype: 'float32', shape: [B, N, S, D] }],
      outputs: ['y'],
      inits: {
        c: hostTensor('float32', [5, 2], cos),
        s: hostTensor('float32', [5, 2], sin),
        p: hostTensor('int64', [1, 3], pos),
      },
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

describe('Det, AffineGrid, MaxUnpool, Col2Im, Unique', () => {
  it('Det of a batch of 3×3 and 2×2 matrices', () => {
    const a = rand(2 * 9, 9);
    const b = rand(4, 10);
    const bytes = buildModel({
      nodes: [
        { op: 'Det', inputs: ['a'], outputs: ['da'] },
        { op: 'Det', inputs: ['b'], outputs: ['db'] },
      ],
      inputs: [
        { name: 'a', dtype: 'float32', shape: [2, 3, 3] },
        { name: 'b', dtype: 'float32', shape: [2, 2] },
      ],
      outputs: ['da', 'db'],
      opset: 11,
    });
    const [da, db] = compileAndLoad(fromOnnx(bytes))(
      hostTensor('float32', [2, 3, 3], a),
      hostTensor('float32', [2, 2], b),
    );
    const det3 = (m: number[]) =>
      m[0] * (m[4] * m[8] - m[5] * m[7]) -
      m[1] * (m[3] * m[8] - m[5] * m[6]) +
      m[2] * (m[3] * m[7] - m[4] * m[6]);
    expect(da.shape).toEqual([2]);
    expect(closeness(da.data, [det3(a.slice(0, 9)), det3(a.slice(9))])).toBeLessThanOrEqual(1);
    expect(closeness(db.data, [b[0] * b[3] - b[1] * b[2]])).toBeLessThanOrEqual(1);
  });

  it('AffineGrid 2-D without align_corners', () => {
    const theta = rand(2 * 6, 11);
    const bytes = buildModel({
      nodes: [{ op: 'AffineGrid', inputs: ['t', 'size'], outputs: ['g'] }],
      inputs: [{ name: 't', dtype: 'float32', shape: [2, 2, 3] }],
      outputs: ['g'],
      inits: { size: hostTensor('int64', [4], [2, 1, 3, 4]) },
      opset: 20,
    });
    const [g] = compileAndLoad(fromOnnx(bytes))(hostTensor('float32', [2, 2, 3], theta));
    const want: number[] = [];
    for (let n = 0; n < 2; n++)
      for (let i = 0; i < 3; i++)
        for (let j = 0; j < 4; j++) {
          const xs = -1 + (2 * j + 1) / 4;
          const ys = -1 + (2 * i + 1) / 3;
          for (let r = 0; r < 2; r++)
            want.push(theta[n * 6 + r * 3] * xs + theta[n * 6 + r * 3 + 1] * ys + theta[n * 6 + r * 3 + 2]);
        }
    expect(g.shape).toEqual([2, 3, 4, 2]);
    expect(closeness(g.data, want)).toBeLessThanOrEqual(1);
  });

  it('MaxUnpool scatters to the pooled positions and pads to output_shape', () => {
    const x = rand(4, 12);
    const bytes = buildModel({
      nodes: [
        {
          op: 'MaxUnpool',
          inputs: ['x', 'i', 'os'],
          outputs: ['y'],
          attrs: { kernel_shape: [2, 2], strides: [2, 2] },
        },
      ],
      inputs: [
        { name: 'x', dtype: 'float32', shape: [1, 1, 2, 2] },
        { name: 'i', dtype: 'int64', shape: [1, 1, 2, 2] },
      ],
      outputs: ['y'],
      inits: { os: hostTensor('int64', [4], [1, 1, 5, 5]) },
      opset: 11,
    });
    const idx = [5, 3, 8, 15];
    const [y] = compileAndLoad(fromOnnx(bytes))(
      hostTensor('float32', [1, 1, 2, 2], x),
      hostTensor('int64', [1, 1, 2, 2], idx),
    );
    const want = new Array<number>(25).fill(0);
    idx.forEach((p, k) => (want[Math.floor(p / 4) * 5 + (p % 4)] = x[k]));
    expect(y.data).toEqual(want);
  });

  it('Col2Im sums overlapping 2×2 blocks with padding 1 and stride 1', () => {
    const [C, H, W] = [2, 3, 3];
    const nb = [H + 2 - 1, W + 2 - 1];
    const L = nb[0] * nb[1];
    const x = rand(C * 4 * L, 13);
    const bytes = buildModel({
      nodes: [{ op: 'Col2Im', inputs: ['x', 'img', 'blk'], outputs: ['y'], attrs: { pads: [1, 1, 1, 1] } }],
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, C * 4, L] }],
      outputs: ['y'],
      inits: { img: hostTensor('int64', [2], [H, W]), blk: hostTensor('int64', [2], [2, 2]) },
      opset: 18,
    });
    const [y] = compileAndLoad(fromOnnx(bytes))(hostTensor('float32', [1, C * 4, L], x));
    const want = new Array<number>(C * H * W).fill(0);
    for (let c = 0; c < C; c++)
      for (let ki = 0; ki < 2; ki++)
        for (let kj = 0; kj < 2; kj++)
          for (let bi = 0; bi < nb[0]; bi++)
            for (let bj = 0; bj < nb[1]; bj++) {
              const i = bi + ki - 1;
              const j = bj + kj - 1;
              if (i < 0 || j < 0 || i >= H || j >= W) continue;
              want[(c * H + i) * W + j] += x[((c * 4 + ki * 2 + kj) * nb[0] + bi) * nb[1] + bj];
            }
    expect(closeness(y.data, want)).toBeLessThanOrEqual(1);
  });

  it('Unique (sorted, no axis) on a constant folds every output; a run-time input is ONNX_DYNAMIC', () => {
    const vals = [2, 1, 1, 3, 4, 3];
    const bytes = buildModel({
      nodes: [
        { op: 'Unique', inputs: ['c'], outputs: ['u', 'i', 'inv', 'cnt'] },
        { op: 'Add', inputs: ['x', 'u'], outputs: ['y'] },
      ],
      inputs: [{ name: 'x', dtype: 'float32', shape: [4] }],
      outputs: ['y', 'i', 'inv', 'cnt'],
      inits: { c: hostTensor('float32', [6], vals) },
      opset: 11,
    });
    const [y, i, inv, cnt] = compileAndLoad(fromOnnx(bytes))(hostTensor('float32', [4], [0.5, 0.25, -1, 2]));
    expect(y.data).toEqual([1.5, 2.25, 2, 6]);
    expect(i.data).toEqual([1, 0, 3, 4]);
    expect(inv.data).toEqual([1, 0, 0, 2, 3, 2]);
    expect(cnt.data).toEqual([2, 1, 2, 1]);
    const dyn = buildModel({
      nodes: [{ op: 'Unique', inputs: ['x'], outputs: ['u'] }],
      inputs: [{ name: 'x', dtype: 'float32', shape: [4] }],
      outputs: ['u'],
      opset: 11,
    });
    expect(() => fromOnnx(dyn)).toThrow(expect.objectContaining({ code: 'ONNX_DYNAMIC' }));
  });
});

describe('GridSample, SwiGLU, TensorScatter', () => {
  /** Scalar 2-D reference following the ONNX definition (linear / nearest). */
  function gridSampleRef(
    x: number[],
    H: number,
    W: number,
    g: [number, number],
    mode: string,
    pad: string,
    ac: boolean,
  ): number {
    const reflect = (v: number, lo: number, hi: number) => {
      const rng = hi - lo;
      if (v < lo) {
        const dx = lo - v;
        const n = Math.floor(dx / rng);
        const r = dx - n * rng;
        return n % 2 === 0 ? lo + r : hi - r;
      }
      if (v > hi) {
        const dx = v - hi;
        const n = Math.floor(dx / rng);
        const r = dx - n * rng;
        return n % 2 === 0 ? hi - r : lo + r;
      }
      return v;
    };
    const dimsHW = [H, W];
    const lo = (_d: number) => (ac ? 0 : -0.5);
    const hi = (d: number) => (ac ? d - 1 : d - 0.5);
    const coord = (n: number, d: number) => {
      let v = ac ? ((n + 1) / 2) * (d - 1) : ((n + 1) * d - 1) / 2;
      if (mode === 'nearest')
        v = Math.round(v) - (Math.abs(v % 1) === 0.5 && Math.round(v) % 2 !== 0 ? 1 : 0);
      if (v < lo(d) || v > hi(d)) {
        if (pad === 'border') v = Math.min(d - 1, Math.max(0, v));
        else if (pad === 'reflection') v = reflect(v, lo(d), hi(d));
      }
      return v;
    };
    const pix = (i: number, j: number) => {
      const idx = [i, j].map((v, a) => {
        const d = dimsHW[a];
        if (pad === 'zeros') return v >= 0 && v < d ? v : -1;
        if (pad === 'border') return Math.min(d - 1, Math.max(0, v));
        return Math.trunc(reflect(v, lo(d), hi(d)));
      });
      return idx[0] < 0 || idx[1] < 0 ? 0 : x[idx[0] * W + idx[1]];
    };
    const yv = coord(g[1], H);
    const xv = coord(g[0], W);
    if (mode === 'nearest') return pix(Math.trunc(yv), Math.trunc(xv));
    const y0 = Math.floor(yv);
    const x0 = Math.floor(xv);
    const ty = yv - y0;
    const tx = xv - x0;
    return (
      (1 - ty) * ((1 - tx) * pix(y0, x0) + tx * pix(y0, x0 + 1)) +
      ty * ((1 - tx) * pix(y0 + 1, x0) + tx * pix(y0 + 1, x0 + 1))
    );
  }

  for (const [mode, pad, ac] of [
    ['linear', 'zeros', false],
    ['linear', 'reflection', true],
    ['nearest', 'border', false],
    ['nearest', 'reflection', false],
  ] as const) {
    // Generous timeout: the linear + reflection graph compiles in ~20 s since the 01:2x
    // schedule changes (it took ~1.5 s before), and longer when the suite runs in parallel.
    it(`GridSample ${mode}, ${pad} padding, align_corners=${ac}`, { timeout: 180_000 }, () => {
      const [H, W, Ho, Wo] = [3, 4, 2, 5];
      const x = rand(H * W, 14);
      const grid = rand(Ho * Wo * 2, 15, -1.7, 1.7);
      const bytes = buildModel({
        nodes: [
          {
            op: 'GridSample',
            inputs: ['x', 'g'],
            outputs: ['y'],
            attrs: { mode, padding_mode: pad, align_corners: ac ? 1 : 0 },
          },
        ],
        inputs: [
          { name: 'x', dtype: 'float32', shape: [1, 1, H, W] },
          { name: 'g', dtype: 'float32', shape: [1, Ho, Wo, 2] },
        ],
        outputs: ['y'],
        opset: 20,
      });
      const [y] = compileAndLoad(fromOnnx(bytes))(
        hostTensor('float32', [1, 1, H, W], x),
        hostTensor('float32', [1, Ho, Wo, 2], grid),
      );
      const want = Array.from({ length: Ho * Wo }, (_, p) =>
        gridSampleRef(x, H, W, [grid[2 * p], grid[2 * p + 1]], mode, pad, ac),
      );
      expect(closeness(y.data, want)).toBeLessThanOrEqual(1);
    });
  }

  it('SwiGLU with alpha and a circular TensorScatter', () => {
    const a = rand(6, 16);
    const b = rand(6, 17);
    const cache = rand(2 * 4 * 3, 18);
    const upd = rand(2 * 2 * 3, 19);
    const bytes = buildModel({
      nodes: [
        { op: 'SwiGLU', inputs: ['a', 'b'], outputs: ['s'], attrs: { alpha: 0.5 } },
        { op: 'TensorScatter', inputs: ['c', 'u', 'w'], outputs: ['t'], attrs: { mode: 'circular' } },
      ],
      inputs: [
        { name: 'a', dtype: 'float32', shape: [6] },
        { name: 'b', dtype: 'float32', shape: [6] },
        { name: 'c', dtype: 'float32', shape: [2, 4, 3] },
        { name: 'u', dtype: 'float32', shape: [2, 2, 3] },
        { name: 'w', dtype: 'int64', shape: [2] },
      ],
      outputs: ['s', 't'],
      opset: 28,
    });
    const [s, t] = compileAndLoad(fromOnnx(bytes))(
      hostTensor('float32', [6], a),
      hostTensor('float32', [6], b),
      hostTensor('float32', [2, 4, 3], cache),
      hostTensor('float32', [2, 2, 3], upd),
      hostTensor('int64', [2], [1, 3]),
    );
    expect(
      closeness(
        s.data,
        a.map((v, i) => (v / (1 + Math.exp(-0.5 * v))) * b[i]),
      ),
    ).toBeLessThanOrEqual(1);
    const want = [...cache];
    [1, 3].forEach((w, bi) => {
      for (let q = 0; q < 2; q++)
        for (let c = 0; c < 3; c++) want[(bi * 4 + ((w + q) % 4)) * 3 + c] = upd[(bi * 2 + q) * 3 + c];
    });
    expect(t.data).toEqual(want);
  });
});

describe('CausalConvWithState, LinearAttention', () => {
  it('CausalConvWithState with past state, bias and SiLU', () => {
    const [B, C, L, k] = [2, 3, 4, 3];
    const x = rand(B * C * L, 20);
    const w = rand(C * k, 21);
    const bias = rand(C, 22);
    const past = rand(B * C * (k - 1), 23);
    const bytes = buildModel({
      nodes: [
        {
          op: 'CausalConvWithState',
          inputs: ['x', 'w', 'b', 'p'],
          outputs: ['y', 's'],
          attrs: { activation: 'silu' },
        },
      ],
      inputs: [
        { name: 'x', dtype: 'float32', shape: [B, C, L] },
        { name: 'p', dtype: 'float32', shape: [B, C, k - 1] },
      ],
      outputs: ['y', 's'],
      inits: { w: hostTensor('float32', [C, 1, k], w), b: hostTensor('float32', [C], bias) },
      opset: 27,
    });
    const [y, s] = compileAndLoad(fromOnnx(bytes))(
      hostTensor('float32', [B, C, L], x),
      hostTensor('float32', [B, C, k - 1], past),
    );
    const wantY: number[] = [];
    const wantS: number[] = [];
    for (let b = 0; b < B; b++)
      for (let c = 0; c < C; c++) {
        const seq = [
          ...past.slice((b * C + c) * (k - 1), (b * C + c + 1) * (k - 1)),
          ...x.slice((b * C + c) * L, (b * C + c + 1) * L),
        ];
        for (let t = 0; t < L; t++) {
          let acc = bias[c];
          for (let j = 0; j < k; j++) acc += seq[t + j] * w[c * k + j];
          wantY.push(acc / (1 + Math.exp(-acc)));
        }
        wantS.push(...seq.slice(seq.length - (k - 1)));
      }
    expect(closeness(y.data, wantY)).toBeLessThanOrEqual(1);
    expect(s.data).toEqual(wantS);
  });

  it('LinearAttention gated_delta with grouped query heads', () => {
    const [B, T, hq, hkv, dk, dv] = [1, 3, 2, 1, 2, 3];
    const q = rand(B * T * hq * dk, 24);
    const kk = rand(B * T * hkv * dk, 25);
    const v = rand(B * T * hkv * dv, 26);
    const decay = rand(B * T * hkv, 27, -0.5, 0);
    const beta = rand(B * T * hkv, 28, 0.2, 0.9);
    const bytes = buildModel({
      nodes: [
        {
          op: 'LinearAttention',
          inputs: ['q', 'k', 'v', '', 'g', 'beta'],
          outputs: ['y', 's'],
          attrs: { q_num_heads: hq, kv_num_heads: hkv },
        },
      ],
      inputs: [
        { name: 'q', dtype: 'float32', shape: [B, T, hq * dk] },
        { name: 'k', dtype: 'float32', shape: [B, T, hkv * dk] },
        { name: 'v', dtype: 'float32', shape: [B, T, hkv * dv] },
        { name: 'g', dtype: 'float32', shape: [B, T, hkv] },
        { name: 'beta', dtype: 'float32', shape: [B, T, hkv] },
      ],
      outputs: ['y', 's'],
      opset: 27,
    });
    const [y, s] = compileAndLoad(fromOnnx(bytes))(
      hostTensor('float32', [B, T, hq * dk], q),
      hostTensor('float32', [B, T, hkv * dk], kk),
      hostTensor('float32', [B, T, hkv * dv], v),
      hostTensor('float32', [B, T, hkv], decay),
      hostTensor('float32', [B, T, hkv], beta),
    );
    // One kv head, B = 1: state S[dk][dv].
    const S = Array.from({ length: dk }, () => new Array<number>(dv).fill(0));
    const wantY: number[] = [];
    for (let t = 0; t < T; t++) {
      const kt = kk.slice(t * dk, t * dk + dk);
      const g = Math.exp(decay[t]);
      for (const row of S) for (let m = 0; m < dv; m++) row[m] *= g;
      const vt = Array.from(
        { length: dv },
        (_, m) => beta[t] * (v[t * dv + m] - kt.reduce((a, kd, d) => a + kd * S[d][m], 0)),
      );
      for (let d = 0; d < dk; d++) for (let m = 0; m < dv; m++) S[d][m] += kt[d] * vt[m];
      for (let h = 0; h < hq; h++) {
        const qt = q.slice(t * hq * dk + h * dk, t * hq * dk + h * dk + dk);
        for (let m = 0; m < dv; m++) wantY.push(qt.reduce((a, qd, d) => a + qd * S[d][m], 0) / Math.sqrt(dk));
      }
    }
    expect(closeness(y.data, wantY)).toBeLessThanOrEqual(1);
    expect(closeness(s.data, S.flat())).toBeLessThanOrEqual(1);
  });
});

describe('NonMaxSuppression', () => {
  it('folds on constant boxes: IoU suppression, score threshold, per-class limit', () => {
    // Corner boxes (y1, x1, y2, x2): 0 and 1 overlap heavily, 2 is apart, 3 is flipped and overlaps 2.
    const boxes = [0, 0, 1, 1, 0, 0.1, 1, 1.1, 0, 5, 1, 6, 1, 6.05, 0, 5.05, 0, 10, 1, 11];
    const scores = [0.9, 0.95, 0.3, 0.5, 0.05];
    const bytes = buildModel({
      nodes: [
        { op: 'NonMaxSuppression', inputs: ['b', 's', 'm', 'iou', 'st'], outputs: ['sel'] },
        { op: 'Cast', inputs: ['sel'], outputs: ['self'], attrs: { to: 1 } },
        { op: 'Add', inputs: ['self', 'x'], outputs: ['y'] },
      ],
      inputs: [{ name: 'x', dtype: 'float32', shape: [1] }],
      outputs: ['y'],
      inits: {
        b: hostTensor('float32', [1, 5, 4], boxes),
        s: hostTensor('float32', [1, 1, 5], scores),
        m: hostTensor('int64', [1], [3]),
        iou: hostTensor('float32', [1], [0.5]),
        st: hostTensor('float32', [1], [0.1]),
      },
      opset: 11,
    });
    const [y] = compileAndLoad(fromOnnx(bytes))(hostTensor('float32', [1], [0]));
    // Order by score: 1 (0.95), 0 (suppressed by 1), 3 (0.5), 2 (suppressed by 3); 4 is under the threshold.
    expect(y.shape).toEqual([2, 3]);
    expect(y.data).toEqual([0, 0, 1, 0, 0, 3]);
  });
});

describe('STFT, MelWeightMatrix', () => {
  it('STFT of a real signal with a window, onesided', () => {
    const [L, fl, step] = [10, 4, 3];
    const x = rand(L, 29);
    const win = [0.25, 1, 1, 0.25];
    const bytes = buildModel({
      nodes: [{ op: 'STFT', inputs: ['x', 'step', 'w'], outputs: ['y'] }],
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, L, 1] }],
      outputs: ['y'],
      inits: { step: hostTensor('int64', [], [step]), w: hostTensor('float32', [fl], win) },
      opset: 17,
    });
    const [y] = compileAndLoad(fromOnnx(bytes))(hostTensor('float32', [1, L, 1], x));
    const frames = 1 + Math.floor((L - fl) / step);
    const want: number[] = [];
    for (let f = 0; f < frames; f++)
      for (let k = 0; k <= fl / 2; k++) {
        let a = 0;
        let b = 0;
        for (let j = 0; j < fl; j++) {
          const v = x[f * step + j] * win[j];
          a += v * Math.cos((-2 * Math.PI * j * k) / fl);
          b += v * Math.sin((-2 * Math.PI * j * k) / fl);
        }
        want.push(a, b);
      }
    expect(y.shape).toEqual([1, frames, fl / 2 + 1, 2]);
    expect(closeness(y.data, want, 1e-4, 1e-5)).toBeLessThanOrEqual(1);
  });

  it('MelWeightMatrix folds to triangles whose columns peak at 1', () => {
    const bytes = buildModel({
      nodes: [
        { op: 'MelWeightMatrix', inputs: ['n', 'd', 'r', 'lo', 'hi'], outputs: ['m'] },
        { op: 'Add', inputs: ['m', 'x'], outputs: ['y'] },
      ],
      inputs: [{ name: 'x', dtype: 'float32', shape: [1] }],
      outputs: ['y'],
      inits: {
        n: hostTensor('int64', [], [4]),
        d: hostTensor('int64', [], [32]),
        r: hostTensor('int64', [], [8000]),
        lo: hostTensor('float32', [], [0]),
        hi: hostTensor('float32', [], [4000]),
      },
      opset: 17,
    });
    const [y] = compileAndLoad(fromOnnx(bytes))(hostTensor('float32', [1], [0]));
    expect(y.shape).toEqual([17, 4]);
    for (let i = 0; i < 4; i++)
      expect(Math.max(...Array.from({ length: 17 }, (_, j) => y.data[j * 4 + i]))).toBeCloseTo(1, 6);
  });
});

describe('DeformConv', () => {
  it('samples at fractional run-time offsets with a mask and padding', () => {
    const [C, H, W, OC, k] = [2, 3, 4, 2, 2];
    const pads = [1, 0, 0, 1];
    const oH = H + pads[0] + pads[2] - k + 1;
    const oW = W + pads[1] + pads[3] - k + 1;
    const K = k * k;
    const x = rand(C * H * W, 30);
    const w = rand(OC * C * K, 31);
    const off = rand(2 * K * oH * oW, 32, -1.3, 1.3);
    const mask = rand(K * oH * oW, 33, 0, 1);
    const bytes = buildModel({
      nodes: [{ op: 'DeformConv', inputs: ['x', 'w', 'o', '', 'm'], outputs: ['y'], attrs: { pads } }],
      inputs: [
        { name: 'x', dtype: 'float32', shape: [1, C, H, W] },
        { name: 'o', dtype: 'float32', shape: [1, 2 * K, oH, oW] },
        { name: 'm', dtype: 'float32', shape: [1, K, oH, oW] },
      ],
      outputs: ['y'],
      inits: { w: hostTensor('float32', [OC, C, k, k], w) },
      opset: 19,
    });
    const [y] = compileAndLoad(fromOnnx(bytes))(
      hostTensor('float32', [1, C, H, W], x),
      hostTensor('float32', [1, 2 * K, oH, oW], off),
      hostTensor('float32', [1, K, oH, oW], mask),
    );
    const px = (c: number, i: number, j: number) =>
      i >= 0 && j >= 0 && i < H && j < W ? x[(c * H + i) * W + j] : 0;
    const bil = (c: number, py: number, pxx: number) => {
      const y0 = Math.floor(py);
      const x0 = Math.floor(pxx);
      const ty = py - y0;
      const tx = pxx - x0;
      return (
        (1 - ty) * ((1 - tx) * px(c, y0, x0) + tx * px(c, y0, x0 + 1)) +
        ty * ((1 - tx) * px(c, y0 + 1, x0) + tx * px(c, y0 + 1, x0 + 1))
      );
    };
    const want: number[] = [];
    for (let o = 0; o < OC; o++)
      for (let i = 0; i < oH; i++)
        for (let j = 0; j < oW; j++) {
          let acc = 0;
          for (let c = 0; c < C; c++)
            for (let a = 0; a < k; a++)
              for (let b = 0; b < k; b++) {
                const t = a * k + b;
                const py = i - pads[0] + a + off[(2 * t * oH + i) * oW + j];
                const pxx = j - pads[1] + b + off[((2 * t + 1) * oH + i) * oW + j];
                acc += w[((o * C + c) * k + a) * k + b] * bil(c, py, pxx) * mask[(t * oH + i) * oW + j];
              }
          want.push(acc);
        }
    expect(closeness(y.data, want)).toBeLessThanOrEqual(1);
  });
});

describe('RoiAlign', () => {
  for (const mode of ['avg', 'max'] as const) {
    it(`${mode} mode, half_pixel, run-time rois spilling over the border`, () => {
      const [H, W, oh, ow, sr] = [5, 6, 2, 3, 2];
      const x = rand(2 * H * W, 34);
      const rois = [0.5, 1, 4.5, 4, -1.5, -0.5, 3, 2.5, 2, 2, 7.5, 6];
      const bi = [0, 1, 1];
      const bytes = buildModel({
        nodes: [
          {
            op: 'RoiAlign',
            inputs: ['x', 'r', 'b'],
            outputs: ['y'],
            attrs: { output_height: oh, output_width: ow, sampling_ratio: sr, mode },
          },
        ],
        inputs: [
          { name: 'x', dtype: 'float32', shape: [2, 1, H, W] },
          { name: 'r', dtype: 'float32', shape: [3, 4] },
          { name: 'b', dtype: 'int64', shape: [3] },
        ],
        outputs: ['y'],
        opset: 16,
      });
      const [y] = compileAndLoad(fromOnnx(bytes))(
        hostTensor('float32', [2, 1, H, W], x),
        hostTensor('float32', [3, 4], rois),
        hostTensor('int64', [3], bi),
      );
      const want: number[] = [];
      for (let r = 0; r < 3; r++) {
        const [sx, sy, ex, ey] = rois.slice(r * 4, r * 4 + 4).map((v) => v - 0.5);
        const bh = (ey - sy) / oh;
        const bw = (ex - sx) / ow;
        const at = (i: number, j: number) => x[(bi[r] * H + i) * W + j];
        for (let ph = 0; ph < oh; ph++)
          for (let pw = 0; pw < ow; pw++) {
            let acc = mode === 'avg' ? 0 : -Infinity;
            for (let iy = 0; iy < sr; iy++)
              for (let ix = 0; ix < sr; ix++) {
                let yy = sy + ph * bh + ((iy + 0.5) * bh) / sr;
                let xx = sx + pw * bw + ((ix + 0.5) * bw) / sr;
                let vals = [0, 0, 0, 0];
                if (!(yy < -1 || yy > H || xx < -1 || xx > W)) {
                  yy = Math.max(yy, 0);
                  xx = Math.max(xx, 0);
                  let yl = Math.floor(yy);
                  let xl = Math.floor(xx);
                  let yh = yl + 1;
                  let xh = xl + 1;
                  if (yl >= H - 1) yh = yl = yy = H - 1;
                  if (xl >= W - 1) xh = xl = xx = W - 1;
                  const ly = yy - yl;
                  const lx = xx - xl;
                  vals = [
                    (1 - ly) * (1 - lx) * at(yl, xl),
                    (1 - ly) * lx * at(yl, xh),
                    ly * (1 - lx) * at(yh, xl),
                    ly * lx * at(yh, xh),
                  ];
                }
                acc = mode === 'avg' ? acc + vals.reduce((a, b) => a + b, 0) : Math.max(acc, ...vals);
              }
            want.push(mode === 'avg' ? acc / (sr * sr) : acc);
          }
      }
      expect(closeness(y.data, want)).toBeLessThanOrEqual(1);
    });
  }
});

describe('training optimizers and ai.onnx.ml', () => {
  it('Adam with two tensors at step 3 (bias correction) matches the update formula', async () => {
    const { onnx } = await import('../proto.js');
    const x = [rand(1, 40), rand(2, 41)];
    const g = [rand(1, 42), rand(2, 43)];
    const v = [rand(1, 44), rand(2, 45)];
    const h = [rand(1, 46, 0, 1), rand(2, 47, 0, 1)];
    const [alpha, beta, eps, nc] = [0.95, 0.85, 0.01, 0.001];
    const names = ['R', 'T', 'X1', 'X2', 'G1', 'G2', 'V1', 'V2', 'H1', 'H2'];
    const shapes: Record<string, number[]> = {
      R: [],
      T: [],
      X1: [1],
      X2: [2],
      G1: [1],
      G2: [2],
      V1: [1],
      V2: [2],
      H1: [1],
      H2: [2],
    };
    const outs = ['X1n', 'X2n', 'V1n', 'V2n', 'H1n', 'H2n'];
    const m = onnx.ModelProto.fromObject({
      irVersion: 8,
      opsetImport: [
        { domain: '', version: 17 },
        { domain: 'ai.onnx.preview.training', version: 1 },
      ],
      graph: {
        name: 'g',
        node: [
          {
            opType: 'Adam',
            domain: 'ai.onnx.preview.training',
            input: names,
            output: outs,
            name: 'adam',
            attribute: [
              { name: 'alpha', type: 1, f: alpha },
              { name: 'beta', type: 1, f: beta },
              { name: 'epsilon', type: 1, f: eps },
              { name: 'norm_coefficient', type: 1, f: nc },
            ],
          },
        ],
        input: names.map((n) => ({
          name: n,
          type: {
            tensorType: {
              elemType: n === 'T' ? 7 : 1,
              shape: { dim: shapes[n].map((d) => ({ dimValue: d })) },
            },
          },
        })),
        output: outs.map((n) => ({ name: n })),
      },
    });
    const run = compileAndLoad(fromOnnx(onnx.ModelProto.encode(m).finish()));
    const r = 0.1;
    const t = 3;
    const got = run(
      hostTensor('float32', [], [r]),
      hostTensor('int64', [], [t]),
      hostTensor('float32', [1], x[0]),
      hostTensor('float32', [2], x[1]),
      hostTensor('float32', [1], g[0]),
      hostTensor('float32', [2], g[1]),
      hostTensor('float32', [1], v[0]),
      hostTensor('float32', [2], v[1]),
      hostTensor('float32', [1], h[0]),
      hostTensor('float32', [2], h[1]),
    );
    const ra = (r * Math.sqrt(1 - beta ** t)) / (1 - alpha ** t);
    for (let i = 0; i < 2; i++) {
      const gr = x[i].map((xv, k) => nc * xv + g[i][k]);
      const vn = v[i].map((vv, k) => alpha * vv + (1 - alpha) * gr[k]);
      const hn = h[i].map((hv, k) => beta * hv + (1 - beta) * gr[k] * gr[k]);
      const xn = x[i].map((xv, k) => xv - (ra * vn[k]) / (Math.sqrt(hn[k]) + eps));
      expect(closeness(got[i].data, xn)).toBeLessThanOrEqual(1);
      expect(closeness(got[2 + i].data, vn)).toBeLessThanOrEqual(1);
      expect(closeness(got[4 + i].data, hn)).toBeLessThanOrEqual(1);
    }
  });
});
