// The elementwise rule of the default CPU schedule: blocks calling math that the backend
// vectorizes (GELU's erf, exp) are vectorized, and the run-time panel copy of a matmul's
// weights is split by the panel width so that it copies whole vectors.
import type { PrimExpr } from '@kiln/ir-core';
import { add, call, div, mul } from '@kiln/ir-core';
import type { PrimFunc } from '@kiln/tensorir';
import {
  allClose,
  compute,
  createPrimFunc,
  fullNDArray,
  interpret,
  lowerPrimFunc,
  placeholder,
  randomNDArray,
  reduceAxis,
  sum,
  wellFormed,
} from '@kiln/tensorir';
import { describe, expect, it } from 'vitest';
import { loops } from '../testing/loops.js';
import { defaultCPUSchedule } from './cpu.js';

const AVX512 = { numThreads: 2, features: ['+avx2', '+fma', '+avx512f'] };

const ext = (e: PrimExpr) => (e.kind === 'IntImm' ? e.value : -1);

function check(fn: PrimFunc, s: PrimFunc, inShapes: number[][], outShape: number[], rtol = 1e-5) {
  expect(wellFormed(s)).toEqual([]);
  const ins = inShapes.map((sh, i) => randomNDArray('float32', sh, 40 + i));
  const want = fullNDArray('float32', outShape, Number.NaN);
  const got = fullNDArray('float32', outShape, Number.NaN);
  interpret(fn, [...ins, want]);
  interpret(s, [...ins, got]);
  const rep = allClose(got, want, rtol, 1e-5);
  expect(rep.ok, rep.message).toBe(true);
}

describe('defaultCPUSchedule: elementwise rule', () => {
  it('vectorizes an elementwise block that calls erf (GELU) along its innermost axis', () => {
    const X = placeholder([24, 96], 'float32', 'X');
    const Y = compute(
      [24, 96],
      (i, j) => mul(mul(X.at(i, j), add(call('float32', 'erf', [div(X.at(i, j), Math.SQRT2)]), 1)), 0.5),
      'Y',
    );
    const fn = createPrimFunc([X, Y]);
    const s = defaultCPUSchedule(fn, AVX512);
    expect(
      loops(s.body)
        .filter((l) => l.forKind === 'vectorized')
        .map((l) => ext(l.extent)),
    ).toEqual([16]);
    check(fn, s, [[24, 96]], [24, 96]);
  });

  it('copies the packed panels of a matmul a vector at a time, panels outermost', () => {
    for (const [m, k, n] of [
      [64, 48, 256],
      [32, 20, 192],
    ]) {
      const A = placeholder([m, k], 'float32', 'A');
      const B = placeholder([k, n], 'float32', 'B');
      const r = reduceAxis([0, k], 'k');
      const C = compute([m, n], (i, j) => sum(mul(A.at(i, r), B.at(r, j)), r), 'C');
      const fn = createPrimFunc([A, B, C]);
      const s = defaultCPUSchedule(fn, { ...AVX512, numThreads: 1 });
      // The first loop nest is the copy: panels, then rows of B, then vectors of a panel row.
      const root = s.body.kind === 'BlockRealize' ? s.body.block.body : s.body;
      const first = root.kind === 'SeqStmt' ? root.seq[0] : root;
      const copy = loops(first);
      const [panels, rows, vectors, lanes] = copy.map((l) => ext(l.extent));
      expect(rows).toBe(k);
      expect(lanes).toBe(16);
      expect(panels * vectors * lanes).toBe(n);
      expect(copy[3].forKind).toBe('vectorized');
      expect(lowerPrimFunc(s)).toBeDefined();
      check(
        fn,
        s,
        [
          [m, k],
          [k, n],
        ],
        [m, n],
        1e-4,
      );
    }
  });
});
