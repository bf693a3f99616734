// DSL + interpreter tests: te stages → createPrimFunc → interpret, checked against
// straightforward TypeScript references on seeded random inputs.

import type { PrimExpr } from '@kiln/ir-core';
import { add, and, cast, div, floordiv, floormod, ge, letExpr, lt, mul, sub } from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import type { NDArray, Tensor } from './index.js';
import {
  allClose,
  argmax,
  argmin,
  broadcastCompute,
  compute,
  constant,
  createPrimFunc,
  exp,
  getAt,
  interpret,
  ndarray,
  pad,
  placeholder,
  prod,
  randomNDArray,
  reduceAxis,
  reduceMax,
  reduceMin,
  rsqrt,
  sizeVar,
  sum,
  tanh,
  toNumbers,
  tupleCommReducer,
  wellFormed,
} from './index.js';

function expectClose(actual: NDArray, expected: ArrayLike<number>, rtol = 1e-5, atol = 1e-6): void {
  const r = allClose(actual, expected, rtol, atol);
  expect(r.ok, r.message).toBe(true);
}

/** Row-major loop over a shape, calling `f` with the multi-index. */
function forEachIndex(shape: readonly number[], f: (idx: number[]) => void): void {
  const n = shape.reduce((a, b) => a * b, 1);
  const idx = new Array<number>(shape.length).fill(0);
  for (let c = 0; c < n; c++) {
    f([...idx]);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

describe('te elementwise', () => {
  it('chains with broadcasting', () => {
    const A = placeholder([4, 1, 5], 'float32', 'A');
    const B = placeholder([3, 1], 'float32', 'B');
    const C = broadcastCompute([A, B], ([a, b]) => add(mul(a, b), 1), 'C');
    const D = compute(C.shape, (i, j, k) => tanh(sub(C.at(i, j, k), 0.5)), 'D');
    const fn = createPrimFunc([A, B, D], { name: 'ew' });
    expect(wellFormed(fn)).toEqual([]);
    // C is an intermediate: an alloc_buffer of the root block.
    expect(
      fn.body.kind === 'BlockRealize' &&
        fn.body.block.name === 'root' &&
        fn.body.block.allocBuffers.map((b) => b.name),
    ).toEqual(['C']);
    const a = randomNDArray('float32', [4, 1, 5], 1);
    const b = randomNDArray('float32', [3, 1], 2);
    const d = ndarray('float32', [4, 3, 5]);
    interpret(fn, [a, b, d]);
    const ref: number[] = [];
    forEachIndex([4, 3, 5], ([i, j, k]) =>
      ref.push(Math.tanh(Math.fround(getAt(a, [i, 0, k]) * getAt(b, [j, 0]) + 1) - 0.5)),
    );
    expectClose(d, ref);
  });

  it('symbolic broadcasting add with a scalar constant', () => {
    const n = sizeVar('n');
    const A = placeholder([n, 3], 'float32', 'A');
    const B = placeholder([3], 'float32', 'B');
    const C = broadcastCompute([A, B], ([a, b]) => sub(mul(a, constant(2, 'float32')), b), 'C');
    const fn = createPrimFunc([A, B, C]);
    expect(wellFormed(fn)).toEqual([]);
    for (const rows of [2, 7]) {
      const a = randomNDArray('float32', [rows, 3], rows);
      const b = randomNDArray('float32', [3], 11);
      const c = ndarray('float32', [rows, 3]);
      interpret(fn, [a, b, c]);
      const ref: number[] = [];
      forEachIndex([rows, 3], ([i, j]) => ref.push(getAt(a, [i, j]) * 2 - getAt(b, [j])));
      expectClose(c, ref);
    }
  });

  it('a cast chain float32 → int32 → int8 → float16 → float32', () => {
    const A = placeholder([50], 'float32', 'A');
    const B = compute(
      [50],
      (i) => cast('float32', cast('float16', cast('int8', cast('int32', A.at(i))))),
      'B',
    );
    const fn = createPrimFunc([A, B]);
    const a = randomNDArray('float32', [50], 5, { low: -300, high: 300 });
    const b = ndarray('float32', [50]);
    interpret(fn, [a, b]);
    const ref = toNumbers(a).map((x) => (Math.trunc(x) << 24) >> 24);
    expect(toNumbers(b)).toEqual(ref);
  });

  it('int32 arithmetic wraps like C', () => {
    const A = placeholder([4], 'int32', 'A');
    const B = compute([4], (i) => add(mul(A.at(i), 65536), 7), 'B');
    const fn = createPrimFunc([A, B]);
    const a = ndarray('int32', [4], [1, 40000, -40000, 32768]);
    const b = ndarray('int32', [4]);
    interpret(fn, [a, b]);
    expect(toNumbers(b)).toEqual([
      65543,
      (40000 * 65536 + 7) | 0,
      (-40000 * 65536 + 7) | 0,
      (32768 * 65536 + 7) | 0,
    ]);
  });

  it('a symbolic var that only appears in the output shape becomes a scalar param', () => {
    const n = sizeVar('n');
    const C = compute([n], (i) => cast('float32', mul(i, 3)), 'C');
    const fn = createPrimFunc([C]);
    expect(fn.params.length).toBe(2);
    expect(fn.params[1]).toBe(n);
    expect(wellFormed(fn)).toEqual([]);
    const c = ndarray('float32', [5]);
    interpret(fn, [c, 5]);
    expect(toNumbers(c)).toEqual([0, 3, 6, 9, 12]);
  });
});

function matmulRef(a: NDArray, b: NDArray, n: number, m: number, k: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++)
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let r = 0; r < k; r++) s += getAt(a, [i, r]) * getAt(b, [r, j]);
      out.push(s);
    }
  return out;
}

describe('te matmul', () => {
  it('static 64x64x64, fast enough', () => {
    const A = placeholder([64, 64], 'float32', 'A');
    const B = placeholder([64, 64], 'float32', 'B');
    const k = reduceAxis([0, 64], 'k');
    const C = compute([64, 64], (i, j) => sum(mul(A.at(i, k), B.at(k, j)), k), 'C');
    const fn = createPrimFunc([A, B, C], { name: 'matmul' });
    expect(wellFormed(fn)).toEqual([]);
    const a = randomNDArray('float32', [64, 64], 3);
    const b = randomNDArray('float32', [64, 64], 4);
    const c = ndarray('float32', [64, 64]);
    const t0 = performance.now();
    interpret(fn, [a, b, c]);
    expect(performance.now() - t0).toBeLessThan(1000);
    expectClose(c, matmulRef(a, b, 64, 64, 64), 1e-5, 1e-5);
  });

  it('symbolic n, run at two sizes', () => {
    const n = sizeVar('n');
    const A = placeholder([n, 16], 'float32', 'A');
    const B = placeholder([16, 8], 'float32', 'B');
    const k = reduceAxis(16, 'k');
    const C = compute([n, 8], (i, j) => sum(mul(A.at(i, k), B.at(k, j)), k), 'C');
    const fn = createPrimFunc([A, B, C]);
    expect(fn.params.length).toBe(3);
    expect(wellFormed(fn)).toEqual([]);
    for (const rows of [1, 9]) {
      const a = randomNDArray('float32', [rows, 16], 10 + rows);
      const b = randomNDArray('float32', [16, 8], 20);
      const c = ndarray('float32', [rows, 8]);
      interpret(fn, [a, b, c]);
      expectClose(c, matmulRef(a, b, rows, 8, 16), 1e-5, 1e-5);
    }
  });

  it('batched matmul', () => {
    const A = placeholder([3, 5, 7], 'float32', 'A');
    const B = placeholder([3, 7, 4], 'float32', 'B');
    const k = reduceAxis([0, 7], 'k');
    const C = compute([3, 5, 4], (b, i, j) => sum(mul(A.at(b, i, k), B.at(b, k, j)), k), 'C');
    const fn = createPrimFunc([A, B, C]);
    const a = randomNDArray('float32', [3, 5, 7], 30);
    const b = randomNDArray('float32', [3, 7, 4], 31);
    const c = ndarray('float32', [3, 5, 4]);
    interpret(fn, [a, b, c]);
    const ref: number[] = [];
    forEachIndex([3, 5, 4], ([bb, i, j]) => {
      let s = 0;
      for (let r = 0; r < 7; r++) s += getAt(a, [bb, i, r]) * getAt(b, [bb, r, j]);
      ref.push(s);
    });
    expectClose(c, ref, 1e-5, 1e-5);
  });
});

interface ConvParams {
  n: number;
  c: number;
  h: number;
  w: number;
  k: number;
  r: number;
  s: number;
  stride: number;
  pad: number;
  dil: number;
  groups: number;
}

function conv2d(p: ConvParams): { fn: ReturnType<typeof createPrimFunc>; oh: number; ow: number } {
  const oh = Math.floor((p.h + 2 * p.pad - p.dil * (p.r - 1) - 1) / p.stride) + 1;
  const ow = Math.floor((p.w + 2 * p.pad - p.dil * (p.s - 1) - 1) / p.stride) + 1;
  const cg = p.c / p.groups;
  const kg = p.k / p.groups;
  const X = placeholder([p.n, p.c, p.h, p.w], 'float32', 'X');
  const W = placeholder([p.k, cg, p.r, p.s], 'float32', 'W');
  const P = pad(X, [0, 0, p.pad, p.pad], [0, 0, p.pad, p.pad], 0, 'X_pad');
  const rc = reduceAxis([0, cg], 'rc');
  const rr = reduceAxis([0, p.r], 'rr');
  const rs = reduceAxis([0, p.s], 'rs');
  const Y = compute(
    [p.n, p.k, oh, ow],
    (nn, kk, y, x) =>
      sum(
        mul(
          P.at(
            nn,
            add(mul(floordiv(kk, kg), cg), rc),
            add(mul(y, p.stride), mul(rr, p.dil)),
            add(mul(x, p.stride), mul(rs, p.dil)),
          ),
          W.at(kk, rc, rr, rs),
        ),
        [rc, rr, rs],
      ),
    'conv',
  );
  return { fn: createPrimFunc([X, W, Y], { name: 'conv2d' }), oh, ow };
}

function conv2dRef(p: ConvParams, x: NDArray, w: NDArray, oh: number, ow: number): number[] {
  const cg = p.c / p.groups;
  const kg = p.k / p.groups;
  const out: number[] = [];
  forEachIndex([p.n, p.k, oh, ow], ([n, k, y, xx]) => {
    let s = 0;
    const g = Math.floor(k / kg);
    for (let c = 0; c < cg; c++)
      for (let r = 0; r < p.r; r++)
        for (let q = 0; q < p.s; q++) {
          const iy = y * p.stride + r * p.dil - p.pad;
          const ix = xx * p.stride + q * p.dil - p.pad;
          if (iy < 0 || iy >= p.h || ix < 0 || ix >= p.w) continue;
          s += getAt(x, [n, g * cg + c, iy, ix]) * getAt(w, [k, c, r, q]);
        }
    out.push(s);
  });
  return out;
}

describe('te conv2d NCHW', () => {
  const cases: Array<[string, ConvParams]> = [
    ['plain 3x3', { n: 1, c: 3, h: 8, w: 8, k: 4, r: 3, s: 3, stride: 1, pad: 0, dil: 1, groups: 1 }],
    [
      'padding + stride 2',
      { n: 2, c: 4, h: 9, w: 7, k: 6, r: 3, s: 3, stride: 2, pad: 1, dil: 1, groups: 1 },
    ],
    ['dilation 2', { n: 1, c: 2, h: 10, w: 10, k: 3, r: 3, s: 3, stride: 1, pad: 2, dil: 2, groups: 1 }],
    ['groups 2', { n: 1, c: 4, h: 6, w: 6, k: 6, r: 3, s: 3, stride: 1, pad: 1, dil: 1, groups: 2 }],
    ['depthwise', { n: 1, c: 4, h: 6, w: 5, k: 4, r: 3, s: 3, stride: 2, pad: 1, dil: 1, groups: 4 }],
  ];
  for (const [name, p] of cases) {
    it(name, () => {
      const { fn, oh, ow } = conv2d(p);
      expect(wellFormed(fn)).toEqual([]);
      const x = randomNDArray('float32', [p.n, p.c, p.h, p.w], 40);
      const w = randomNDArray('float32', [p.k, p.c / p.groups, p.r, p.s], 41);
      const y = ndarray('float32', [p.n, p.k, oh, ow]);
      interpret(fn, [x, w, y]);
      expectClose(y, conv2dRef(p, x, w, oh, ow), 1e-5, 1e-5);
    });
  }
});

describe('te pooling', () => {
  it('max pool 3x3 stride 2 pad 1', () => {
    const X = placeholder([1, 2, 7, 7], 'float32', 'X');
    const P = pad(X, [0, 0, 1, 1], [0, 0, 1, 1], -3.4028234663852886e38, 'X_pad');
    const r = reduceAxis(3, 'r');
    const s = reduceAxis(3, 's');
    const Y = compute(
      [1, 2, 4, 4],
      (n, c, y, x) => reduceMax(P.at(n, c, add(mul(y, 2), r), add(mul(x, 2), s)), [r, s]),
      'pool',
    );
    const fn = createPrimFunc([X, Y]);
    expect(wellFormed(fn)).toEqual([]);
    const x = randomNDArray('float32', [1, 2, 7, 7], 50);
    const y = ndarray('float32', [1, 2, 4, 4]);
    interpret(fn, [x, y]);
    const ref: number[] = [];
    forEachIndex([1, 2, 4, 4], ([n, c, oy, ox]) => {
      let m = -Infinity;
      for (let i = 0; i < 3; i++)
        for (let j = 0; j < 3; j++) {
          const iy = oy * 2 + i - 1;
          const ix = ox * 2 + j - 1;
          if (iy >= 0 && iy < 7 && ix >= 0 && ix < 7) m = Math.max(m, getAt(x, [n, c, iy, ix]));
        }
      ref.push(m);
    });
    expectClose(y, ref);
  });

  it('avg pool 3x3 pad 1 excluding padding (reduction with where)', () => {
    const X = placeholder([2, 6, 5], 'float32', 'X');
    const r = reduceAxis(3, 'r');
    const s = reduceAxis(3, 's');
    const valid = (y: PrimExpr, x: PrimExpr): PrimExpr => {
      const iy = sub(add(y, r), 1);
      const ix = sub(add(x, s), 1);
      return and(and(ge(iy, 0), lt(iy, 6)), and(ge(ix, 0), lt(ix, 5)));
    };
    const S = compute(
      [2, 6, 5],
      (c, y, x) => sum(X.at(c, sub(add(y, r), 1), sub(add(x, s), 1)), [r, s], { where: valid(y, x) }),
      'pool_sum',
    );
    const N = compute(
      [2, 6, 5],
      (_c, y, x) => sum(constant(1, 'float32'), [r, s], { where: valid(y, x) }),
      'pool_count',
    );
    const Y = compute([2, 6, 5], (c, y, x) => div(S.at(c, y, x), N.at(c, y, x)), 'pool_avg');
    const fn = createPrimFunc([X, Y]);
    expect(wellFormed(fn)).toEqual([]);
    const x = randomNDArray('float32', [2, 6, 5], 51);
    const out = ndarray('float32', [2, 6, 5]);
    interpret(fn, [x, out]);
    const ref: number[] = [];
    forEachIndex([2, 6, 5], ([c, y, xx]) => {
      let t = 0;
      let cnt = 0;
      for (let i = -1; i <= 1; i++)
        for (let j = -1; j <= 1; j++) {
          if (y + i >= 0 && y + i < 6 && xx + j >= 0 && xx + j < 5) {
            t += getAt(x, [c, y + i, xx + j]);
            cnt++;
          }
        }
      ref.push(t / cnt);
    });
    expectClose(out, ref);
  });
});

describe('te normalisation', () => {
  it('softmax: three stages in one PrimFunc, numerically stable', () => {
    const X = placeholder([4, 10], 'float32', 'X');
    const k = reduceAxis(10, 'k');
    const M = compute([4], (i) => reduceMax(X.at(i, k), k), 'T_max');
    const E = compute([4, 10], (i, j) => exp(sub(X.at(i, j), M.at(i))), 'T_exp');
    const k2 = reduceAxis(10, 'k');
    const S = compute([4], (i) => sum(E.at(i, k2), k2), 'T_sum');
    const Y = compute([4, 10], (i, j) => div(E.at(i, j), S.at(i)), 'T_softmax');
    const fn = createPrimFunc([X, Y], { name: 'softmax' });
    expect(wellFormed(fn)).toEqual([]);
    const x = randomNDArray('float32', [4, 10], 60, { low: -50, high: 50 });
    // A row with huge values: an unstable softmax would overflow exp.
    for (let j = 0; j < 10; j++) x.data[j] = 100 + j;
    const y = ndarray('float32', [4, 10]);
    interpret(fn, [x, y]);
    const ref: number[] = [];
    for (let i = 0; i < 4; i++) {
      const row = Array.from({ length: 10 }, (_, j) => getAt(x, [i, j]));
      const m = Math.max(...row);
      const e = row.map((v) => Math.exp(v - m));
      const s = e.reduce((a, b) => a + b, 0);
      ref.push(...e.map((v) => v / s));
    }
    expectClose(y, ref, 1e-5, 1e-7);
  });

  it('layer norm over the last axis', () => {
    const B = 3;
    const N = 16;
    const X = placeholder([B, N], 'float32', 'X');
    const G = placeholder([N], 'float32', 'gamma');
    const Be = placeholder([N], 'float32', 'beta');
    const k = reduceAxis(N, 'k');
    const mean = compute([B], (i) => sum(div(X.at(i, k), N), k), 'mean');
    const k2 = reduceAxis(N, 'k');
    const vr = compute(
      [B],
      (i) => sum(div(mul(sub(X.at(i, k2), mean.at(i)), sub(X.at(i, k2), mean.at(i))), N), k2),
      'var',
    );
    const Y = compute(
      [B, N],
      (i, j) => add(mul(mul(sub(X.at(i, j), mean.at(i)), rsqrt(add(vr.at(i), 1e-5))), G.at(j)), Be.at(j)),
      'T_layer_norm',
    );
    const fn = createPrimFunc([X, G, Be, Y]);
    expect(wellFormed(fn)).toEqual([]);
    const x = randomNDArray('float32', [B, N], 70, { low: -3, high: 5 });
    const g = randomNDArray('float32', [N], 71);
    const be = randomNDArray('float32', [N], 72);
    const y = ndarray('float32', [B, N]);
    interpret(fn, [x, g, be, y]);
    const ref: number[] = [];
    for (let i = 0; i < B; i++) {
      const row = Array.from({ length: N }, (_, j) => getAt(x, [i, j]));
      const m = row.reduce((a, b) => a + b, 0) / N;
      const v = row.reduce((a, b) => a + (b - m) * (b - m), 0) / N;
      for (const [j, val] of row.entries())
        ref.push(((val - m) / Math.sqrt(v + 1e-5)) * getAt(g, [j]) + getAt(be, [j]));
    }
    expectClose(y, ref, 1e-5, 1e-5);
  });
});

describe('te reductions', () => {
  it('sum, prod, min, max over several axes', () => {
    const X = placeholder([3, 4, 5], 'float32', 'X');
    const mk = (): [ReturnType<typeof reduceAxis>, ReturnType<typeof reduceAxis>] => [
      reduceAxis(3, 'r0'),
      reduceAxis(5, 'r2'),
    ];
    const [a0, a2] = mk();
    const S = compute([4], (j) => sum(X.at(a0, j, a2), [a0, a2]), 'S');
    const [b0, b2] = mk();
    const P = compute([4], (j) => prod(X.at(b0, j, b2), [b0, b2]), 'P');
    const [c0, c2] = mk();
    const Mn = compute([4], (j) => reduceMin(X.at(c0, j, c2), [c0, c2]), 'Mn');
    const [d0, d2] = mk();
    const Mx = compute([4], (j) => reduceMax(X.at(d0, j, d2), [d0, d2]), 'Mx');
    const fn = createPrimFunc([X, S, P, Mn, Mx]);
    expect(wellFormed(fn)).toEqual([]);
    const x = randomNDArray('float32', [3, 4, 5], 80, { low: 0.5, high: 1.5 });
    const outs = [0, 1, 2, 3].map(() => ndarray('float32', [4]));
    interpret(fn, [x, ...outs]);
    const refs = [[], [], [], []] as number[][];
    for (let j = 0; j < 4; j++) {
      const vals: number[] = [];
      for (let i = 0; i < 3; i++) for (let k = 0; k < 5; k++) vals.push(getAt(x, [i, j, k]));
      refs[0].push(vals.reduce((p, q) => p + q, 0));
      refs[1].push(vals.reduce((p, q) => p * q, 1));
      refs[2].push(Math.min(...vals));
      refs[3].push(Math.max(...vals));
    }
    for (const [i, o] of outs.entries()) expectClose(o, refs[i], 1e-5, 1e-6);
  });

  it('a scalar (rank 0) output summing everything, with an init value', () => {
    const X = placeholder([6, 7], 'float32', 'X');
    const i = reduceAxis(6, 'i');
    const j = reduceAxis(7, 'j');
    const S = compute([], () => sum(X.at(i, j), [i, j], { init: 10 }), 'total');
    const fn = createPrimFunc([X, S]);
    expect(wellFormed(fn)).toEqual([]);
    const x = randomNDArray('float32', [6, 7], 81);
    const s = ndarray('float32', []);
    interpret(fn, [x, s]);
    expectClose(s, [10 + toNumbers(x).reduce((a, b) => a + b, 0)], 1e-5, 1e-5);
  });

  it('argmax and argmin (tuple reductions, two outputs)', () => {
    const X = placeholder([5, 7], 'float32', 'X');
    const k = reduceAxis(7, 'k');
    const [idx, val] = compute([5], (i) => argmax(X.at(i, k), k), 'T_argmax');
    const k2 = reduceAxis(7, 'k');
    const [idx2] = compute([5], (i) => argmin(X.at(i, k2), k2), 'T_argmin');
    expect(idx.dtype.str).toBe('int64');
    const fn = createPrimFunc([X, idx, val, idx2]);
    expect(wellFormed(fn)).toEqual([]);
    const x = randomNDArray('float32', [5, 7], 90);
    // Ties: the first occurrence wins.
    for (let j = 0; j < 7; j++) x.data[j] = j === 2 || j === 5 ? 3 : 0;
    const oi = ndarray('int64', [5]);
    const ov = ndarray('float32', [5]);
    const oi2 = ndarray('int64', [5]);
    interpret(fn, [x, oi, ov, oi2]);
    const refI: number[] = [];
    const refV: number[] = [];
    const refI2: number[] = [];
    for (let i = 0; i < 5; i++) {
      const row = Array.from({ length: 7 }, (_, j) => getAt(x, [i, j]));
      const m = Math.max(...row);
      refI.push(row.indexOf(m));
      refV.push(m);
      refI2.push(row.indexOf(Math.min(...row)));
    }
    expect(toNumbers(oi)).toEqual(refI);
    expect(toNumbers(ov)).toEqual(refV);
    expect(toNumbers(oi2)).toEqual(refI2);
    expect(refI[0]).toBe(2);
  });

  it('reduction axis with a nonzero start', () => {
    const X = placeholder([10], 'float32', 'X');
    const k = reduceAxis([3, 8], 'k');
    const S = compute([1], () => sum(X.at(k), k), 'S');
    const [ai] = compute([1], () => argmax(X.at(k), k), 'A');
    const fn = createPrimFunc([X, S, ai]);
    expect(wellFormed(fn)).toEqual([]);
    const x = randomNDArray('float32', [10], 91);
    const s = ndarray('float32', [1]);
    const a = ndarray('int64', [1]);
    interpret(fn, [x, s, a]);
    const part = toNumbers(x).slice(3, 8);
    expectClose(s, [part.reduce((p, q) => p + q, 0)]);
    expect(toNumbers(a)).toEqual([part.indexOf(Math.max(...part))]);
  });
});

describe('createPrimFunc structure', () => {
  it('one block per stage, reads/writes regions, init for reductions', () => {
    const A = placeholder([8, 8], 'float32', 'A');
    const k = reduceAxis(8, 'k');
    const B = compute([8], (i) => sum(add(A.at(i, k), A.at(i, add(k, 0))), k), 'B');
    const fn = createPrimFunc([A, B]);
    const root = fn.body.kind === 'BlockRealize' ? fn.body.block : undefined;
    expect(root?.name).toBe('root');
    const loopI = root?.body;
    expect(loopI?.kind).toBe('For');
    const br = loopI?.kind === 'For' && loopI.body.kind === 'For' ? loopI.body.body : undefined;
    expect(br?.kind).toBe('BlockRealize');
    if (br?.kind !== 'BlockRealize') return;
    const blk = br.block;
    expect(blk.name).toBe('B');
    expect(blk.iterVars.map((iv) => iv.iterType)).toEqual(['spatial', 'reduce']);
    expect(blk.init?.kind).toBe('BufferStore');
    expect(blk.reads.map((r) => r.buffer.name)).toEqual(['A']);
    expect(blk.writes.map((r) => r.buffer.name)).toEqual(['B']);
    expect(fn.attrs.global_symbol).toBe('main');
  });

  it('refuses a placeholder missing from the arguments', () => {
    const A = placeholder([4], 'float32', 'A');
    const B = compute([4], (i) => A.at(i), 'B');
    expect(() => createPrimFunc([B])).toThrow(/placeholder 'A'/);
  });

  it('gives duplicate names distinct buffers and blocks', () => {
    const A = placeholder([4], 'float32', 'T');
    const B = compute([4], (i) => mul(A.at(i), 2), 'T');
    const C = compute([4], (i) => add(B.at(i), 1), 'T');
    const fn = createPrimFunc([A, C]);
    expect(wellFormed(fn)).toEqual([]);
    const names = fn.params.map((p) => p.name);
    expect(new Set(names).size).toBe(names.length);
    const a = randomNDArray('float32', [4], 3);
    const c = ndarray('float32', [4]);
    interpret(fn, [a, c]);
    expectClose(
      c,
      toNumbers(a).map((v) => v * 2 + 1),
    );
  });

  it('accepts tensors reused across functions', () => {
    const A: Tensor = placeholder([3], 'float32', 'A');
    const B = compute([3], (i) => exp(A.at(i)), 'B');
    const f1 = createPrimFunc([A, B]);
    const f2 = createPrimFunc([A, B], { name: 'again' });
    expect(f1).not.toBe(f2);
    expect(f2.attrs.global_symbol).toBe('again');
  });
});

describe('interpreter engines agree bit for bit', () => {
  it('on conv2d, pooling, softmax and argmax', () => {
    const X = placeholder([2, 3, 6, 6], 'float32', 'X');
    const W = placeholder([4, 3, 3, 3], 'float32', 'W');
    const P = pad(X, [0, 0, 1, 1], [0, 0, 1, 1], 0, 'X_pad');
    const rc = reduceAxis(3, 'rc');
    const rr = reduceAxis(3, 'rr');
    const rs = reduceAxis(3, 'rs');
    const Y = compute(
      [2, 4, 6, 6],
      (n, k, y, x) => sum(mul(P.at(n, rc, add(y, rr), add(x, rs)), W.at(k, rc, rr, rs)), [rc, rr, rs]),
      'conv',
    );
    const kk = reduceAxis(36, 'kk');
    const flat = compute([2, 4, 36], (n, k, j) => Y.at(n, k, floordiv(j, 6), floormod(j, 6)), 'flat');
    const M = compute([2, 4], (n, k) => reduceMax(flat.at(n, k, kk), kk), 'mx');
    const E = compute([2, 4, 36], (n, k, j) => exp(sub(flat.at(n, k, j), M.at(n, k))), 'e');
    const k2 = reduceAxis(36, 'k2');
    const [ai] = compute([2, 4], (n, k) => argmax(E.at(n, k, k2), k2), 'am');
    const fn = createPrimFunc([X, W, E, ai]);
    const x = randomNDArray('float32', [2, 3, 6, 6], 7);
    const w = randomNDArray('float32', [4, 3, 3, 3], 8);
    const outs = (['jit', 'closure'] as const).map((engine) => {
      const e = ndarray('float32', [2, 4, 36]);
      const a = ndarray('int64', [2, 4]);
      interpret(fn, [x, w, e, a], { engine });
      return [toNumbers(e), toNumbers(a)];
    });
    expect(outs[0]).toEqual(outs[1]);
  });
});

describe('te shapes', () => {
  it('constant shape arithmetic is folded', () => {
    const X = placeholder([1, 2, 5, 5], 'float32', 'X');
    const P = pad(X, [0, 0, 1, 1], [0, 0, 1, 1], 0, 'X_pad');
    expect(P.shape.map((s) => (s.kind === 'IntImm' ? s.value : -1))).toEqual([1, 2, 7, 7]);
    const n = sizeVar('n');
    const k = reduceAxis([2, add(n, 2)], 'k');
    const A = placeholder([add(n, 2)], 'float32', 'A');
    const S = compute([1], () => sum(A.at(k), k), 'S');
    const fn = createPrimFunc([A, S]);
    // n only appears inside `n + 2`, which the caller's shape cannot bind: a scalar param.
    expect(fn.params.map((p) => p.name)).toEqual(['A', 'S', 'n']);
    expect(wellFormed(fn)).toEqual([]);
    const a = randomNDArray('float32', [6], 3);
    const s = ndarray('float32', [1]);
    interpret(fn, [a, s, 4]);
    expectClose(s, [
      toNumbers(a)
        .slice(2)
        .reduce((p, q) => p + q, 0),
    ]);
  });
});

describe('te composition', () => {
  it('an output that feeds another output, and a custom tuple reducer (sum and sum of squares)', () => {
    const X = placeholder([3, 8], 'float32', 'X');
    const k = reduceAxis(8, 'k');
    const moments = tupleCommReducer(
      (acc, v) => [add(acc[0], v[0]), add(acc[1], v[1])],
      () => [0, 0],
      'moments',
    );
    const [S, Q] = compute([3], (i) => moments([X.at(i, k), mul(X.at(i, k), X.at(i, k))], k), 'T_moments');
    const V = compute([3], (i) => sub(div(Q.at(i), 8), mul(div(S.at(i), 8), div(S.at(i), 8))), 'T_var');
    const fn = createPrimFunc([X, S, V]);
    expect(wellFormed(fn)).toEqual([]);
    const x = randomNDArray('float32', [3, 8], 5);
    const s = ndarray('float32', [3]);
    const v = ndarray('float32', [3]);
    interpret(fn, [x, s, v]);
    const refS: number[] = [];
    const refV: number[] = [];
    for (let i = 0; i < 3; i++) {
      const row = Array.from({ length: 8 }, (_, j) => getAt(x, [i, j]));
      const m = row.reduce((a, b) => a + b, 0) / 8;
      refS.push(m * 8);
      refV.push(row.reduce((a, b) => a + b * b, 0) / 8 - m * m);
    }
    expectClose(s, refS, 1e-5, 1e-6);
    expectClose(v, refV, 1e-4, 1e-6);
  });

  it('refuses a tensor listed twice', () => {
    const A = placeholder([2], 'float32', 'A');
    expect(() => createPrimFunc([A, A])).toThrow(/listed twice/);
  });
});

describe('te let expressions', () => {
  it('a let-bound var inside a body is not a parameter', () => {
    const A = placeholder([4], 'float32', 'A');
    const t = sizeVar('t', 'float32');
    const B = compute([4], (i) => letExpr(t, mul(A.at(i), 2), add(t, t)), 'B');
    const fn = createPrimFunc([A, B]);
    expect(fn.params.length).toBe(2);
    expect(wellFormed(fn)).toEqual([]);
    const a = randomNDArray('float32', [4], 9);
    const b = ndarray('float32', [4]);
    interpret(fn, [a, b]);
    expectClose(
      b,
      toNumbers(a).map((v) => 4 * v),
    );
  });
});

describe('te dtypes', () => {
  it('float16 matmul accumulating in float32, result cast back to float16', () => {
    const A = placeholder([4, 16], 'float16', 'A');
    const B = placeholder([16, 3], 'float16', 'B');
    const k = reduceAxis(16, 'k');
    const acc = compute(
      [4, 3],
      (i, j) => sum(mul(cast('float32', A.at(i, k)), cast('float32', B.at(k, j))), k),
      'acc',
    );
    const C = compute([4, 3], (i, j) => cast('float16', acc.at(i, j)), 'C');
    const fn = createPrimFunc([A, B, C]);
    const a = randomNDArray('float16', [4, 16], 1);
    const b = randomNDArray('float16', [16, 3], 2);
    const c = ndarray('float16', [4, 3]);
    interpret(fn, [a, b, c]);
    const ref: number[] = [];
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let r = 0; r < 16; r++) s += getAt(a, [i, r]) * getAt(b, [r, j]);
        ref.push(s);
      }
    // float16 has an 11-bit significand: half an ulp is ~2.4e-4 relative.
    expectClose(c, ref, 1e-3, 1e-3);
    expect(toNumbers(c).every((v) => ndarray('float16', [1], [v]).data[0] === v)).toBe(true);
  });

  it('bool outputs from comparisons, and a select', () => {
    const A = placeholder([6], 'int32', 'A');
    const M = compute([6], (i) => lt(A.at(i), 0), 'M');
    const R = compute([6], (i) => cast('int32', M.at(i)), 'R');
    const fn = createPrimFunc([A, M, R]);
    expect(M.dtype.str).toBe('bool');
    const a = ndarray('int32', [6], [-3, 0, 5, -1, 2, -7]);
    const m = ndarray('bool', [6]);
    const r = ndarray('int32', [6]);
    interpret(fn, [a, m, r]);
    expect(toNumbers(m)).toEqual([1, 0, 0, 1, 0, 1]);
    expect(toNumbers(r)).toEqual([1, 0, 0, 1, 0, 1]);
  });
});
