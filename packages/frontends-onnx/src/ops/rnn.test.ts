// RNN / GRU / LSTM converters, compiled for the CPU and checked against a direct
// TypeScript transcription of the ONNX recurrence equations on random weights.
import { describe, expect, it } from 'vitest';
import { hostTensor } from '../host.js';
import { fromOnnx } from '../importer.js';
import { buildModel, closeness, compileAndLoad } from '../testing.test-util.js';

function rand(n: number, lo: number, hi: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.fround(lo + ((s >>> 8) / 2 ** 24) * (hi - lo));
  });
}
const sig = (v: number) => 1 / (1 + Math.exp(-v));

type Kind = 'RNN' | 'GRU' | 'LSTM';
const G: Record<Kind, number> = { RNN: 1, GRU: 3, LSTM: 4 };

/**
 * Reference: X [S,B,I], W [D,gH,I], R [D,gH,H], Bias [D,2gH]; default activations.
 * Returns Y [S,D,B,H], Yh [D,B,H], Yc [D,B,H].
 */
function reference(
  kind: Kind,
  o: {
    S: number;
    B: number;
    I: number;
    H: number;
    D: number;
    x: number[];
    w: number[];
    r: number[];
    b: number[];
    lens?: number[];
    lbr?: boolean;
    p?: number[];
    direction: string;
  },
) {
  const { S, B, I, H, D } = o;
  const g = G[kind];
  const Y = new Array<number>(S * D * B * H).fill(0);
  const Yh: number[] = [];
  const Yc: number[] = [];
  for (let d = 0; d < D; d++) {
    const hs = Array.from({ length: B }, () => new Array<number>(H).fill(0));
    const cs = Array.from({ length: B }, () => new Array<number>(H).fill(0));
    const W = (row: number, col: number) => o.w[(d * g * H + row) * I + col];
    const R = (row: number, col: number) => o.r[(d * g * H + row) * H + col];
    const Wb = (row: number) => o.b[d * 2 * g * H + row];
    const Rb = (row: number) => o.b[d * 2 * g * H + g * H + row];
    for (let b = 0; b < B; b++) {
      const len = o.lens ? o.lens[b] : S;
      for (let k = 0; k < len; k++) {
        const t = d === 1 || o.direction === 'reverse' ? len - 1 - k : k;
        const x = (c: number) => o.x[(t * B + b) * I + c];
        const hp = hs[b];
        const xw = (gi: number, j: number) => {
          let acc = Wb(gi * H + j);
          for (let c = 0; c < I; c++) acc += x(c) * W(gi * H + j, c);
          return acc;
        };
        const hr = (gi: number, j: number, hv: number[]) => {
          let acc = 0;
          for (let c = 0; c < H; c++) acc += hv[c] * R(gi * H + j, c);
          return acc;
        };
        const nh = new Array<number>(H);
        if (kind === 'RNN') for (let j = 0; j < H; j++) nh[j] = Math.tanh(xw(0, j) + hr(0, j, hp) + Rb(j));
        else if (kind === 'GRU') {
          const z = Array.from({ length: H }, (_, j) => sig(xw(0, j) + hr(0, j, hp) + Rb(j)));
          const r = Array.from({ length: H }, (_, j) => sig(xw(1, j) + hr(1, j, hp) + Rb(H + j)));
          const rh = hp.map((v, j) => r[j] * v);
          for (let j = 0; j < H; j++) {
            const ht = o.lbr
              ? Math.tanh(xw(2, j) + r[j] * (hr(2, j, hp) + Rb(2 * H + j)))
              : Math.tanh(xw(2, j) + hr(2, j, rh) + Rb(2 * H + j));
            nh[j] = (1 - z[j]) * ht + z[j] * hp[j];
          }
        } else {
          const cp = cs[b];
          const P = (k2: number, j: number) => (o.p ? o.p[d * 3 * H + k2 * H + j] : 0);
          const nc = new Array<number>(H);
          for (let j = 0; j < H; j++) {
            const pre = (gi: number) => xw(gi, j) + hr(gi, j, hp) + Rb(gi * H + j);
            const i = sig(pre(0) + P(0, j) * cp[j]);
            const f = sig(pre(2) + P(2, j) * cp[j]);
            const c = Math.tanh(pre(3));
            nc[j] = f * cp[j] + i * c;
            const ot = sig(pre(1) + P(1, j) * nc[j]);
            nh[j] = ot * Math.tanh(nc[j]);
          }
          cs[b] = nc;
        }
        hs[b] = nh;
        for (let j = 0; j < H; j++) Y[((t * D + d) * B + b) * H + j] = nh[j];
      }
    }
    for (let b = 0; b < B; b++) {
      Yh.push(...hs[b]);
      Yc.push(...cs[b]);
    }
  }
  return { Y, Yh, Yc };
}

function run(
  kind: Kind,
  o: {
    S: number;
    B: number;
    I: number;
    H: number;
    direction: string;
    lens?: number[];
    lbr?: boolean;
    peep?: boolean;
    /** Declare the batch symbolic and run the one artifact at batch B and at batch 1. */
    symBatch?: boolean;
  },
  seed: number,
) {
  const D = o.direction === 'bidirectional' ? 2 : 1;
  const g = G[kind];
  const x = rand(o.S * o.B * o.I, -1, 1, seed);
  const w = rand(D * g * o.H * o.I, -0.6, 0.6, seed + 1);
  const r = rand(D * g * o.H * o.H, -0.6, 0.6, seed + 2);
  const b = rand(D * 2 * g * o.H, -0.3, 0.3, seed + 3);
  const p = o.peep ? rand(D * 3 * o.H, -0.5, 0.5, seed + 4) : undefined;
  const inputs = [
    'x',
    'w',
    'r',
    'b',
    o.lens ? 'lens' : '',
    '',
    ...(kind === 'LSTM' ? ['', p ? 'p' : ''] : []),
  ];
  while (inputs[inputs.length - 1] === '') inputs.pop();
  const outputs = kind === 'LSTM' ? ['y', 'yh', 'yc'] : ['y', 'yh'];
  const attrs: Record<string, number | string> = { hidden_size: o.H, direction: o.direction };
  if (o.lbr) attrs.linear_before_reset = 1;
  const bytes = buildModel({
    nodes: [{ op: kind, inputs, outputs, attrs }],
    inputs: [
      { name: 'x', dtype: 'float32', shape: [o.S, o.symBatch ? 'batch' : o.B, o.I] },
      { name: 'w', dtype: 'float32', shape: [D, g * o.H, o.I] },
      ...(o.lens ? [{ name: 'lens', dtype: 'int32', shape: [o.symBatch ? 'batch' : o.B] }] : []),
    ],
    outputs,
    inits: {
      r: hostTensor('float32', [D, g * o.H, o.H], r),
      b: hostTensor('float32', [D, 2 * g * o.H], b),
      ...(p ? { p: hostTensor('float32', [D, 3 * o.H], p) } : {}),
    },
    opset: 14,
  });
  const args = [
    hostTensor('float32', [o.S, o.B, o.I], x),
    hostTensor('float32', [D, g * o.H, o.I], w),
    ...(o.lens ? [hostTensor('int32', [o.B], o.lens)] : []),
  ];
  const runner = compileAndLoad(fromOnnx(bytes));
  const got = runner(...args);
  const want = reference(kind, { ...o, D, x, w, r, b, p });
  expect(got[0].shape).toEqual([o.S, D, o.B, o.H]);
  expect(closeness(got[0].data, want.Y)).toBeLessThanOrEqual(1);
  expect(closeness(got[1].data, want.Yh)).toBeLessThanOrEqual(1);
  if (kind === 'LSTM') expect(closeness(got[2].data, want.Yc)).toBeLessThanOrEqual(1);
  if (o.symBatch) {
    // The first sequence of the batch alone, through the same artifact.
    const x1 = Array.from({ length: o.S * o.I }, (_, i) => x[Math.floor(i / o.I) * o.B * o.I + (i % o.I)]);
    const lens1 = o.lens?.slice(0, 1);
    const one = runner(
      hostTensor('float32', [o.S, 1, o.I], x1),
      hostTensor('float32', [D, g * o.H, o.I], w),
      ...(lens1 ? [hostTensor('int32', [1], lens1)] : []),
    );
    const want1 = reference(kind, { ...o, B: 1, lens: lens1, D, x: x1, w, r, b, p });
    expect(one[0].shape).toEqual([o.S, D, 1, o.H]);
    expect(closeness(one[0].data, want1.Y)).toBeLessThanOrEqual(1);
  }
}

describe('recurrent converters', () => {
  it('RNN, reverse', () => run('RNN', { S: 4, B: 2, I: 3, H: 5, direction: 'reverse' }, 10));
  it('GRU, bidirectional, linear_before_reset', () =>
    run('GRU', { S: 3, B: 2, I: 3, H: 4, direction: 'bidirectional', lbr: true }, 20));
  it('GRU, forward, default reset', () => run('GRU', { S: 3, B: 3, I: 2, H: 3, direction: 'forward' }, 30));
  it('LSTM, bidirectional with peepholes and run-time sequence_lens', () =>
    run('LSTM', { S: 4, B: 3, I: 3, H: 2, direction: 'bidirectional', lens: [4, 2, 1], peep: true }, 40));

  it('LSTM and GRU with a symbolic batch: one artifact, batch 3 and batch 1', () => {
    run('LSTM', { S: 3, B: 3, I: 2, H: 3, direction: 'bidirectional', lens: [3, 1, 2], symBatch: true }, 50);
    run('GRU', { S: 2, B: 3, I: 3, H: 2, direction: 'forward', symBatch: true }, 60);
  });

  it('refuses a symbolic sequence length (nothing to unroll over) with ONNX_DYNAMIC', () => {
    const bytes = buildModel({
      nodes: [{ op: 'RNN', inputs: ['x', 'w', 'r'], outputs: ['y'], attrs: { hidden_size: 2 } }],
      inputs: [{ name: 'x', dtype: 'float32', shape: ['seq', 1, 2] }],
      outputs: ['y'],
      inits: {
        w: hostTensor('float32', [1, 2, 2], [1, 2, 3, 4]),
        r: hostTensor('float32', [1, 2, 2], [1, 2, 3, 4]),
      },
      opset: 14,
    });
    expect(() => fromOnnx(bytes)).toThrow(expect.objectContaining({ code: 'ONNX_DYNAMIC' }));
  });
});
