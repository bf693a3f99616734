// FlexAttention (ai.onnx.preview): models built with onnx-proto, compiled for the CPU and
// checked against attention computed in TypeScript, with the score_mod / prob_mod graphs
// applied by hand.
import { describe, expect, it } from 'vitest';
import { hostTensor } from '../host.js';
import { fromOnnx } from '../importer.js';
import { onnx, onnxDTypeOf } from '../proto.js';
import { closeness, compileAndLoad, int64Tensor, onnxNode } from '../testing.test-util.js';

type VI = { name: string; dtype: string; shape: (number | string)[] };
const vi = (v: VI) => ({
  name: v.name,
  type: {
    tensorType: {
      elemType: onnxDTypeOf(v.dtype),
      shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
    },
  },
});
const node = onnxNode;
const i64 = int64Tensor;
const f32 = (name: string, v: number) => ({ name, dataType: 1, dims: [], floatData: [v] });

/** score_mod: causal mask (keys after the query get -inf) plus a constant bias. */
const causalBias = {
  name: 'score_mod',
  node: [
    node('Shape', ['s'], ['shp']),
    node('Gather', ['shp', 'two'], ['L'], [{ name: 'axis', type: 2, i: 0 }]),
    node('Gather', ['shp', 'three'], ['S'], [{ name: 'axis', type: 2, i: 0 }]),
    node('Range', ['zero', 'L', 'one'], ['qr']),
    node('Reshape', ['qr', 'qshape'], ['qi']),
    node('Range', ['zero', 'S', 'one'], ['kr']),
    node('GreaterOrEqual', ['qi', 'kr'], ['keep']),
    node('Add', ['s', 'bias'], ['sb']),
    node('Where', ['keep', 'sb', 'ninf'], ['out']),
  ],
  initializer: [
    i64('zero', [], [0]),
    i64('one', [], [1]),
    i64('two', [], [2]),
    i64('three', [], [3]),
    i64('qshape', [2], [-1, 1]),
    f32('bias', 0.25),
    f32('ninf', Number.NEGATIVE_INFINITY),
  ],
  input: [vi({ name: 's', dtype: 'float32', shape: ['B', 'H', 'L', 'S'] })],
  output: [{ name: 'out' }],
};
/** prob_mod: probabilities times 2. */
const double = {
  name: 'prob_mod',
  node: [node('Mul', ['p', 'two'], ['out'])],
  initializer: [f32('two', 2)],
  input: [vi({ name: 'p', dtype: 'float32', shape: ['B', 'H', 'L', 'S'] })],
  output: [{ name: 'out' }],
};

function model(attrs: object[], q: number[], k: number[], v: number[], dtype = 'float32'): Uint8Array {
  const m = onnx.ModelProto.fromObject({
    irVersion: 10,
    opsetImport: [
      { domain: '', version: 26 },
      { domain: 'ai.onnx.preview', version: 1 },
    ],
    graph: {
      name: 'g',
      node: [node('FlexAttention', ['Q', 'K', 'V'], ['Y'], attrs, 'ai.onnx.preview')],
      input: [
        vi({ name: 'Q', dtype, shape: q }),
        vi({ name: 'K', dtype, shape: k }),
        vi({ name: 'V', dtype, shape: v }),
      ],
      output: [{ name: 'Y' }],
    },
  });
  return onnx.ModelProto.encode(m).finish();
}

function rand(n: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.fround((s >>> 8) / 2 ** 24);
  });
}

/** Reference: Q [B,Hq,L,E], K [B,Hkv,S,E], V [B,Hkv,S,Ev]. */
function reference(
  q: number[],
  k: number[],
  v: number[],
  [B, Hq, L, E, Hkv, S, Ev]: number[],
  o: { scale?: number; causalBias?: number; probScale?: number },
): number[] {
  const scale = o.scale ?? 1 / Math.sqrt(E);
  const y: number[] = [];
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      const hk = Math.floor(h / (Hq / Hkv));
      for (let i = 0; i < L; i++) {
        const sc: number[] = [];
        for (let j = 0; j < S; j++) {
          let d = 0;
          for (let e = 0; e < E; e++)
            d += q[((b * Hq + h) * L + i) * E + e] * k[((b * Hkv + hk) * S + j) * E + e];
          let s = d * scale;
          if (o.causalBias !== undefined) s = j <= i ? s + o.causalBias : Number.NEGATIVE_INFINITY;
          sc.push(s);
        }
        const mx = Math.max(...sc);
        const ex = sc.map((s) => Math.exp(s - mx));
        const sum = ex.reduce((a, c) => a + c, 0);
        const p = ex.map((x) => (x / sum) * (o.probScale ?? 1));
        for (let e = 0; e < Ev; e++) {
          let acc = 0;
          for (let j = 0; j < S; j++) acc += p[j] * v[((b * Hkv + hk) * S + j) * Ev + e];
          y.push(acc);
        }
      }
    }
  return y;
}

describe('FlexAttention', () => {
  it('grouped-query attention with an explicit scale and a different value head size', () => {
    const [B, Hq, L, E, Hkv, S, Ev] = [2, 4, 5, 8, 2, 7, 12];
    const q = rand(B * Hq * L * E, 1);
    const k = rand(B * Hkv * S * E, 2);
    const v = rand(B * Hkv * S * Ev, 3);
    const bytes = model([{ name: 'scale', type: 1, f: 0.3 }], [B, Hq, L, E], [B, Hkv, S, E], [B, Hkv, S, Ev]);
    const [y] = compileAndLoad(fromOnnx(bytes))(
      hostTensor('float32', [B, Hq, L, E], q),
      hostTensor('float32', [B, Hkv, S, E], k),
      hostTensor('float32', [B, Hkv, S, Ev], v),
    );
    expect(y.shape).toEqual([B, Hq, L, Ev]);
    const want = reference(q, k, v, [B, Hq, L, E, Hkv, S, Ev], { scale: 0.3 });
    expect(closeness(y.data, want)).toBeLessThanOrEqual(1);
  });

  it('inlines score_mod (causal mask built from Shape/Range, plus a bias) and prob_mod graphs', () => {
    const [B, H, L, E, S] = [1, 2, 6, 4, 6];
    const q = rand(B * H * L * E, 4);
    const k = rand(B * H * S * E, 5);
    const v = rand(B * H * S * E, 6);
    const bytes = model(
      [
        { name: 'score_mod', type: 5, g: causalBias },
        { name: 'prob_mod', type: 5, g: double },
      ],
      [B, H, L, E],
      [B, H, S, E],
      [B, H, S, E],
    );
    const [y] = compileAndLoad(fromOnnx(bytes))(
      hostTensor('float32', [B, H, L, E], q),
      hostTensor('float32', [B, H, S, E], k),
      hostTensor('float32', [B, H, S, E], v),
    );
    const want = reference(q, k, v, [B, H, L, E, H, S, E], { causalBias: 0.25, probScale: 2 });
    expect(closeness(y.data, want)).toBeLessThanOrEqual(1);
    // The first query row sees only the first key: y = 2 * v[0].
    expect(
      closeness(
        y.data.slice(0, E),
        v.slice(0, E).map((x) => 2 * x),
      ),
    ).toBeLessThanOrEqual(1);
  });

  it('refuses non-rank-4 inputs, mismatched head sizes and bad head counts, naming the node', () => {
    const bad = [
      model([], [2, 5, 8], [2, 7, 8], [2, 7, 8]),
      model([], [1, 2, 5, 8], [1, 2, 7, 6], [1, 2, 7, 8]),
      model([], [1, 3, 5, 8], [1, 2, 7, 8], [1, 2, 7, 8]),
      model([{ name: 'softmax_precision', type: 2, i: 7 }], [1, 2, 5, 8], [1, 2, 7, 8], [1, 2, 7, 8]),
    ];
    for (const b of bad)
      expect(() => fromOnnx(b)).toThrow(
        expect.objectContaining({ code: 'ONNX_INVALID', message: expect.stringContaining('FlexAttention') }),
      );
  });
});
