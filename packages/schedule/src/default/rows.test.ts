import type { PrimExpr } from '@kiln/ir-core';
import { add, div, mul, sub } from '@kiln/ir-core';
import type { NDArray, PrimFunc } from '@kiln/tensorir';
import {
  allClose,
  compute,
  createPrimFunc,
  exp,
  fullNDArray,
  interpret,
  placeholder,
  randomNDArray,
  reduceAxis,
  reduceMax,
  sizeVar,
  sqrt,
  sum,
  wellFormed,
} from '@kiln/tensorir';
import { afterAll, describe, expect, it } from 'vitest';
import { loops, loopsOfKind } from '../testing/loops.js';
import { runNative, unloadNative } from '../testing/native.js';
import { defaultCPUSchedule } from './cpu.js';

const AVX512 = { numThreads: 2, features: ['+avx2', '+fma', '+avx512f'] };

/** softmax over the last axis of [d0, d1, m] (d0 may be symbolic). */
function softmax3(d0: PrimExpr | number, d1: number, m: number): PrimFunc {
  const X = placeholder([d0, d1, m], 'float32', 'X');
  const k1 = reduceAxis([0, m], 'k1');
  const mx = compute([d0, d1], (a, b) => reduceMax(X.at(a, b, k1), k1), 'mx');
  const e = compute([d0, d1, m], (a, b, j) => exp(sub(X.at(a, b, j), mx.at(a, b))), 'e');
  const k2 = reduceAxis([0, m], 'k2');
  const sm = compute([d0, d1], (a, b) => sum(e.at(a, b, k2), k2), 'sm');
  const Y = compute([d0, d1, m], (a, b, j) => div(e.at(a, b, j), sm.at(a, b)), 'Y');
  return createPrimFunc([X, Y]);
}

/** layer norm over the last axis of [n, m], as relax legalizes it (mean, squared deviations, variance). */
function layerNorm(n: number, m: number): PrimFunc {
  const A = placeholder([n, m], 'float32', 'A');
  const g = placeholder([m], 'float32', 'g');
  const b = placeholder([m], 'float32', 'b');
  const k = reduceAxis([0, m], 'k');
  const s = compute([n], (i) => sum(A.at(i, k), k), 'mean_sum');
  const mean = compute([n], (i) => div(s.at(i), m), 'mean');
  const sq = compute([n, m], (i, j) => mul(sub(A.at(i, j), mean.at(i)), sub(A.at(i, j), mean.at(i))), 'sq');
  const k2 = reduceAxis([0, m], 'k2');
  const vs = compute([n], (i) => sum(sq.at(i, k2), k2), 'var_sum');
  const v = compute([n], (i) => div(vs.at(i), m), 'var');
  const Y = compute(
    [n, m],
    (i, j) => add(mul(div(sub(A.at(i, j), mean.at(i)), sqrt(add(v.at(i), 1e-5))), g.at(j)), b.at(j)),
    'Y',
  );
  return createPrimFunc([A, g, b, Y]);
}

function checkInterpreter(fn: PrimFunc, s: PrimFunc, inShapes: number[][], outShape: number[]) {
  expect(wellFormed(s)).toEqual([]);
  const ins = inShapes.map((sh, i) => randomNDArray('float32', sh, 20 + i));
  const want = fullNDArray('float32', outShape, Number.NaN);
  const got = fullNDArray('float32', outShape, Number.NaN);
  interpret(fn, [...ins, want]);
  interpret(s, [...ins, got]);
  const rep = allClose(got, want, 1e-5, 1e-6);
  expect(rep.ok, rep.message).toBe(true);
  return { ins, want };
}

afterAll(unloadNative);
/** Compile natively (AVX2 code, so it runs on any x86-64 host) and compare. */
function checkNative(s: PrimFunc, ins: NDArray[], want: NDArray, dims: bigint[] = []) {
  if (process.arch !== 'x64') return;
  const [out] = runNative(s, ins, [want.shape], ['+avx2', '+fma'], dims);
  const rep = allClose(out, want, 1e-5, 1e-6);
  expect(rep.ok, rep.message).toBe(true);
}

describe('defaultCPUSchedule: row-wise kernels', () => {
  it('runs softmax as one parallel loop over the rows with vector lanes of partial max and sum', () => {
    const fn = softmax3(4, 16, 80);
    const s = defaultCPUSchedule(fn, AVX512);
    const par = loopsOfKind(s, 'parallel');
    expect(par.length).toBe(1);
    expect(par[0].extent.kind === 'IntImm' && par[0].extent.value).toBe(64);
    // Everything is under that loop.
    expect(loops(s.body).length).toBe(loops(par[0]).length);
    // max and sum lanes (plus their inits), exp and the division: all 16 wide.
    const vec = loopsOfKind(s, 'vectorized');
    expect(vec.length).toBe(6);
    expect(vec.every((l) => l.extent.kind === 'IntImm' && l.extent.value === 16)).toBe(true);
    const { ins, want } = checkInterpreter(fn, s, [[4, 16, 80]], [4, 16, 80]);
    checkNative(s, ins, want);
  });

  it('keeps rows that the vector width does not divide scalar, still one loop over the rows', () => {
    for (const m of [100, 7, 24]) {
      const fn = softmax3(2, 3, m);
      const s = defaultCPUSchedule(fn, AVX512);
      expect(loopsOfKind(s, 'parallel').length).toBeLessThanOrEqual(1);
      const { ins, want } = checkInterpreter(fn, s, [[2, 3, m]], [2, 3, m]);
      checkNative(s, ins, want);
    }
  });

  it('computes a layer norm row by row (sums in vector lanes, 1 and 2 threads)', () => {
    for (const [n, m] of [
      [64, 256],
      [33, 100],
      [5, 48],
    ]) {
      const fn = layerNorm(n, m);
      for (const numThreads of [1, 2]) {
        const s = defaultCPUSchedule(fn, { ...AVX512, numThreads });
        expect(loopsOfKind(s, 'parallel').length).toBeLessThanOrEqual(1);
        const { ins, want } = checkInterpreter(fn, s, [[n, m], [m], [m]], [n, m]);
        checkNative(s, ins, want);
      }
      if (m % 16 === 0 && n * m >= 1 << 14) {
        const s = defaultCPUSchedule(fn, AVX512);
        expect(loopsOfKind(s, 'parallel').length).toBe(1);
        expect(loopsOfKind(s, 'vectorized').length).toBeGreaterThanOrEqual(5);
      }
    }
  });

  it('schedules a softmax with a symbolic number of rows', () => {
    const n = sizeVar('n');
    const fn = softmax3(n, 4, 64);
    const s = defaultCPUSchedule(fn, AVX512);
    expect(wellFormed(s)).toEqual([]);
    expect(loopsOfKind(s, 'parallel').length).toBe(1);
    for (const rows of [1, 3, 6]) {
      const { ins, want } = checkInterpreter(
        softmax3(rows, 4, 64),
        defaultCPUSchedule(softmax3(rows, 4, 64), AVX512),
        [[rows, 4, 64]],
        [rows, 4, 64],
      );
      const x = ins[0];
      const a = fullNDArray('float32', [rows, 4, 64], Number.NaN);
      const b = fullNDArray('float32', [rows, 4, 64], Number.NaN);
      interpret(fn, [x, a]);
      interpret(s, [x, b]);
      const rep = allClose(b, want, 1e-5, 1e-6);
      expect(rep.ok, rep.message).toBe(true);
      checkNative(s, [x], want, [BigInt(rows)]);
    }
  });
});
