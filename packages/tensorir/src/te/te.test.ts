// DSL + interpreter tests: te stages → createPrimFunc → interpret, checked against
// straightforward TypeScript references on seeded random inputs.
import { add, cast, div, DType, ge, lt, and, mul, sub, max as maxE, select, toExpr } from '@kiln/ir-core';
import type { PrimExpr, Var } from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import {
  allClose,
  argmax,
  compute,
  createPrimFunc,
  exp,
  getAt,
  ifThenElseExpr,
  interpret,
  ndarray,
  placeholder,
  randomNDArray,
  reduceAxis,
  reduceMax,
  sizeVar,
  sum,
  toNumbers,
  broadcastCompute,
  sqrt,
  tanh,
  constant,
  reduceMin,
  prod,
  pad,
  argmin,
} from './index.js';
import type { NDArray } from './index.js';
import { wellFormed } from '../well_formed.js';

function expectClose(actual: NDArray, expected: ArrayLike<number>, rtol = 1e-5, atol = 1e-6): void {
  const r = allClose(actual, expected, rtol, atol);
  expect(r.ok, r.message).toBe(true);
}

describe('te elementwise', () => {
  it('chains with broadcasting', () => {
    const A = placeholder([4, 1, 5], 'float32', 'A');
    const B = placeholder([3, 1], 'float32', 'B');
    const C = broadcastCompute([A, B], ([a, b]) => add(mul(a, b), 1), 'C');
    const D = compute(C.shape, (i, j, k) => tanh(sub(C.at(i, j, k), 0.5)), 'D');
    const fn = createPrimFunc([A, B, D], { name: 'ew' });
    expect(wellFormed(fn)).toEqual([]);
    const a = randomNDArray('float32', [4, 1, 5], 1);
    const b = randomNDArray('float32', [3, 1], 2);
    const d = ndarray('float32', [4, 3, 5]);
    interpret(fn, [a, b, d]);
    const ref: number[] = [];
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 3; j++)
        for (let k = 0; k < 5; k++) ref.push(Math.tanh(Math.fround(getAt(a, [i, 0, k]) * getAt(b, [j, 0]) + 1) - 0.5));
    expectClose(d, ref);
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
  it('static 64x64x64', () => {
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
    const dt = performance.now() - t0;
    expect(dt).toBeLessThan(1000);
    expectClose(c, matmulRef(a, b, 64, 64, 64), 1e-5, 1e-5);
  });
});
