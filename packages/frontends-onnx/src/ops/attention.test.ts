// Attention: sliding windows (opset 25), the qk_matmul_output modes with softcap, and
// bfloat16 inputs computed in bfloat16, against a reference written out here.
import { dtype as parseDType } from '@kiln/ir-core';
import { roundToDType } from '@kiln/tensorir';
import { describe, expect, it } from 'vitest';
import { hostTensor } from '../host.js';
import { fromOnnx } from '../importer.js';
import { halfBitsToNumber } from '../proto.js';
import { buildModel, closeness, compileAndLoad } from '../testing.test-util.js';

function rand(n: number, seed: number, lo = -1, hi = 1): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.fround(lo + ((s >>> 8) / 2 ** 24) * (hi - lo));
  });
}

interface RefOpts {
  causal?: boolean;
  left?: number;
  right?: number;
  past?: number;
  softcap?: number;
  /** Rounds every intermediate (identity for float32 up to fround). */
  r?: (v: number) => number;
}
/** Single-batch, single-head attention: q [S, D], k/v [T, D] → y, qk (softcapped), probs. */
function reference(q: number[], k: number[], v: number[], S: number, T: number, D: number, o: RefOpts) {
  const r = o.r ?? Math.fround;
  const sc = r(Math.sqrt(1 / Math.sqrt(D)));
  const y: number[] = [];
  const qkOut: number[] = [];
  for (let i = 0; i < S; i++) {
    const row: number[] = [];
    for (let j = 0; j < T; j++) {
      let s = 0;
      for (let d = 0; d < D; d++)
        s = Math.fround(s + Math.fround(r(q[i * D + d] * sc) * r(k[j * D + d] * sc)));
      let x = r(s);
      if (o.softcap) x = r(r(Math.tanh(r(x / o.softcap))) * o.softcap);
      qkOut.push(x);
      const p = i + (o.past ?? 0) - j;
      const hidden =
        (o.causal && p < 0) ||
        (o.left !== undefined && o.left >= 0 && p > o.left) ||
        (o.right !== undefined && o.right >= 0 && -p > o.right);
      row.push(hidden ? Number.NEGATIVE_INFINITY : x);
    }
    const mx = Math.max(...row);
    const e = row.map((x) => r(Math.exp(r(x - mx))));
    let sum = 0;
    for (const t of e) sum = r(sum + t);
    const p = e.map((t) => r(t / sum));
    for (let d = 0; d < D; d++) {
      let acc = 0;
      for (let j = 0; j < T; j++) acc = Math.fround(acc + Math.fround(p[j] * v[j * D + d]));
      y.push(r(acc));
    }
  }
  return { y, qkOut };
}

function run(
  dt: string,
  S: number,
  T: number,
  D: number,
  attrs: Record<string, number>,
  opset: number,
  seed: number,
) {
  const q = rand(S * D, seed);
  const k = rand(T * D, seed + 1);
  const v = rand(T * D, seed + 2);
  const t = parseDType(dt);
  const cast = (a: number[]) => a.map((x) => roundToDType(x, t));
  const bytes = buildModel({
    nodes: [{ op: 'Attention', inputs: ['q', 'k', 'v'], outputs: ['y', '', '', 'qk'], attrs }],
    inputs: [
      { name: 'q', dtype: dt, shape: [1, 1, S, D] },
      { name: 'k', dtype: dt, shape: [1, 1, T, D] },
      { name: 'v', dtype: dt, shape: [1, 1, T, D] },
    ],
    outputs: ['y', 'qk'],
    opset,
  });
  const [y, qk] = compileAndLoad(fromOnnx(bytes))(
    hostTensor(dt, [1, 1, S, D], cast(q)),
    hostTensor(dt, [1, 1, T, D], cast(k)),
    hostTensor(dt, [1, 1, T, D], cast(v)),
  );
  return { y: y.data, qk: qk.data, q: cast(q), k: cast(k), v: cast(v) };
}

describe('Attention', () => {
  it('a causal sliding window (left_window_size) and a two-sided window', () => {
    const cases: Record<string, number>[] = [
      { is_causal: 1, left_window_size: 2 },
      { left_window_size: 1, right_window_size: 2 },
    ];
    for (const attrs of cases) {
      const [S, T, D] = [4, 6, 3];
      const got = run('float32', S, T, D, attrs, 25, 31);
      const want = reference(got.q, got.k, got.v, S, T, D, {
        causal: attrs.is_causal === 1,
        left: attrs.left_window_size,
        right: attrs.right_window_size,
      });
      expect(closeness(got.y, want.y)).toBeLessThanOrEqual(1);
    }
  });

  it('qk_matmul_output mode 1 with softcap is the softcapped product (no mask)', () => {
    const [S, T, D] = [3, 5, 4];
    const got = run('float32', S, T, D, { is_causal: 1, softcap: 2, qk_matmul_output_mode: 1 }, 23, 41);
    const want = reference(got.q, got.k, got.v, S, T, D, { causal: true, softcap: 2 });
    expect(closeness(got.qk, want.qkOut)).toBeLessThanOrEqual(1);
    expect(closeness(got.y, want.y)).toBeLessThanOrEqual(1);
  });

  it('bfloat16 inputs are computed in bfloat16, rounding each step', () => {
    const [S, T, D] = [4, 6, 8];
    const got = run('bfloat16', S, T, D, { is_causal: 1 }, 23, 51);
    const want = reference(got.q, got.k, got.v, S, T, D, {
      causal: true,
      r: (x) => roundToDType(x, parseDType('bfloat16')),
    });
    expect(got.y.map((b) => halfBitsToNumber(b, 'bfloat16'))).toEqual(want.y);
  });
});
