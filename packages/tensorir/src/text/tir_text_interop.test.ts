// The text format on IR built by the rest of tensorir: te-built functions (with
// reductions, padding, tuple reductions, symbolic shapes) and their lowered forms, so
// IR dumps of real pipelines read back to the same functions.

import type { PrimExpr } from '@kiln/ir-core';
import { add, and, floordiv, ge, lt, mul, structuralEqual, sub } from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import type { PrimFunc } from '../stmt.js';
import {
  argmax,
  compute,
  constant,
  createPrimFunc,
  exp,
  pad,
  placeholder,
  reduceAxis,
  reduceMax,
  sizeVar,
  sum,
} from '../te/index.js';
import { lowerPrimFunc } from '../transform/index.js';
import { parsePrimFunc, printPrimFunc } from './index.js';

function roundTrip(fn: PrimFunc, what: string): void {
  const text = printPrimFunc(fn);
  const back = parsePrimFunc(text, { source: what });
  expect(structuralEqual(back, fn, { mapFreeVars: true }), `${what}\n${text}`).toBe(true);
  expect(printPrimFunc(back), what).toBe(text);
}

const kernels: Record<string, () => PrimFunc> = {
  matmul_symbolic: () => {
    const n = sizeVar('n');
    const A = placeholder([n, 16], 'float32', 'A');
    const B = placeholder([16, 8], 'float32', 'B');
    const k = reduceAxis(16, 'k');
    const C = compute([n, 8], (i, j) => sum(mul(A.at(i, k), B.at(k, j)), k), 'C');
    return createPrimFunc([A, B, C]);
  },
  conv2d_pad: () => {
    const X = placeholder([1, 4, 8, 8], 'float32', 'X');
    const W = placeholder([8, 4, 3, 3], 'float32', 'W');
    const P = pad(X, [0, 0, 1, 1], [0, 0, 1, 1], 0, 'X_pad');
    const [rc, rr, rs] = [reduceAxis([0, 4], 'rc'), reduceAxis([0, 3], 'rr'), reduceAxis([0, 3], 'rs')];
    const Y = compute(
      [1, 8, 8, 8],
      (nn, kk, y, x) => sum(mul(P.at(nn, rc, add(y, rr), add(x, rs)), W.at(kk, rc, rr, rs)), [rc, rr, rs]),
      'conv',
    );
    return createPrimFunc([X, W, Y], { name: 'conv2d' });
  },
  softmax: () => {
    const X = placeholder([4, 10], 'float32', 'X');
    const k = reduceAxis(10, 'k');
    const M = compute([4], (i) => reduceMax(X.at(i, k), k), 'T_max');
    const E = compute([4, 10], (i, j) => exp(sub(X.at(i, j), M.at(i))), 'T_exp');
    const k2 = reduceAxis(10, 'k');
    const S = compute([4], (i) => sum(E.at(i, k2), k2), 'T_sum');
    const Y = compute([4, 10], (i, j) => mul(E.at(i, j), S.at(i)), 'T_softmax');
    return createPrimFunc([X, Y]);
  },
  avg_pool_where: () => {
    const X = placeholder([2, 6, 5], 'float32', 'X');
    const [r, s] = [reduceAxis(3, 'r'), reduceAxis(3, 's')];
    const valid = (y: PrimExpr, x: PrimExpr) =>
      and(
        and(ge(sub(add(y, r), 1), 0), lt(sub(add(y, r), 1), 6)),
        and(ge(sub(add(x, s), 1), 0), lt(sub(add(x, s), 1), 5)),
      );
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
    const Y = compute([2, 6, 5], (c, y, x) => mul(S.at(c, y, x), N.at(c, y, x)), 'pool_avg');
    return createPrimFunc([X, Y]);
  },
  argmax_tuple: () => {
    const X = placeholder([5, 7], 'float32', 'X');
    const k = reduceAxis(7, 'k');
    const [idx, val] = compute([5], (i) => argmax(X.at(i, k), k), 'T_argmax');
    return createPrimFunc([X, idx, val]);
  },
  strided_index: () => {
    const n = sizeVar('n', 'int32');
    const A = placeholder([n], 'float32', 'A');
    const B = compute([floordiv(n, 2)], (i) => A.at(mul(i, 2)), 'B');
    return createPrimFunc([A, B]);
  },
};

describe('TIR text on te-built and lowered functions', () => {
  for (const [name, make] of Object.entries(kernels)) {
    it(`${name}: te form and lowered form`, () => {
      const fn = make();
      roundTrip(fn, name);
      roundTrip(lowerPrimFunc(fn), `${name} (lowered)`);
    });
  }
});
