// The README example, kept runnable.
import { mul, structuralEqual } from '@kiln/ir-core';
import {
  compute,
  createPrimFunc,
  interpret,
  ndarray,
  placeholder,
  randomNDArray,
  reduceAxis,
  sum,
} from '@kiln/tensorir';
import { expect, it } from 'vitest';
import { applyTrace, createSchedule, parseTrace } from './index.js';
import { expectSame } from './testing/expect.js';

it('runs the README example', () => {
  const A = placeholder([64, 64], 'float32', 'A');
  const B = placeholder([64, 64], 'float32', 'B');
  const k = reduceAxis([0, 64], 'k');
  const C = compute([64, 64], (i, j) => sum(mul(A.at(i, k), B.at(k, j)), k), 'C');
  const matmul = createPrimFunc([A, B, C], { name: 'matmul' });

  const sch = createSchedule(matmul, { seed: 1 });
  const c = sch.getBlock('C');
  const [i, j, kk] = sch.getLoops(c);
  const [io, ii] = sch.split(i, [undefined, 4]);
  const [jo, ji] = sch.split(j, [undefined, 4]);
  const [ko, ki] = sch.split(kk, [undefined, 4]);
  sch.reorder(io, jo, ko, ii, ji, ki);
  const [t0, t1] = sch.samplePerfectTile(io, 2); // sampled, recorded with its decision
  const [outer] = sch.split(io, [t0, t1]);
  sch.parallel(outer);
  sch.decomposeReduction(c, ko);
  sch.tensorize(ii, 'matmul_4x4x4_f32'); // the built-in 4x4x4 float32 micro-kernel
  console.log(sch.trace.toString());

  const replayed = applyTrace(parseTrace(sch.trace.toString()), matmul);
  expect(structuralEqual(replayed.func, sch.func, { mapFreeVars: true })).toBe(true);

  const out = ndarray('float32', [64, 64]);
  interpret(sch.func, [randomNDArray('float32', [64, 64], 1), randomNDArray('float32', [64, 64], 2), out]);
  expectSame(matmul, sch.func);
});
