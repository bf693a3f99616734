// The README example, run through the package entry point.
import { mul } from '@kiln/ir-core';
import { expect, it } from 'vitest';
import {
  allClose,
  compute,
  createPrimFunc,
  getAt,
  interpret,
  ndarray,
  placeholder,
  randomNDArray,
  reduceAxis,
  sizeVar,
  sum,
} from '../index.js';

it('runs the README example', () => {
  const n = sizeVar('n');
  const A = placeholder([n, 64], 'float32', 'A');
  const B = placeholder([64, 32], 'float32', 'B');
  const k = reduceAxis([0, 64], 'k');
  const C = compute([n, 32], (i, j) => sum(mul(A.at(i, k), B.at(k, j)), k), 'C');
  const matmul = createPrimFunc([A, B, C], { name: 'matmul' });
  const a = randomNDArray('float32', [8, 64], 1);
  const b = randomNDArray('float32', [64, 32], 2);
  const c = ndarray('float32', [8, 32]);
  interpret(matmul, [a, b, c]);
  const ref: number[] = [];
  for (let i = 0; i < 8; i++)
    for (let j = 0; j < 32; j++) {
      let s = 0;
      for (let r = 0; r < 64; r++) s += getAt(a, [i, r]) * getAt(b, [r, j]);
      ref.push(s);
    }
  const rep = allClose(c, ref, 1e-5, 1e-5);
  expect(rep.ok, rep.message).toBe(true);
});
