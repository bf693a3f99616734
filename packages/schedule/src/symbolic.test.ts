// Primitives on kernels with a symbolic dimension: inferred split factors get a
// predicate, computeAt guards the producer's domain.
import { add, mul } from '@kiln/ir-core';
import type { PrimFunc } from '@kiln/tensorir';
import {
  allClose,
  compute,
  createPrimFunc,
  fullNDArray,
  interpret,
  placeholder,
  randomNDArray,
  sizeVar,
  wellFormed,
} from '@kiln/tensorir';
import { describe, expect, it } from 'vitest';
import { ScheduleErrorCodes as C, createSchedule } from './index.js';
import { expectCode, expectReplays } from './testing/expect.js';

function kernel(): PrimFunc {
  const n = sizeVar('n');
  const A = placeholder([n, 6], 'float32', 'A');
  const B = compute([n, 6], (i, j) => mul(A.at(i, j), 3), 'B');
  const D = compute([n, 6], (i, j) => add(B.at(i, j), 1), 'D');
  return createPrimFunc([A, D], { name: 'sym' });
}

function check(orig: PrimFunc, fn: PrimFunc): void {
  expect(wellFormed(fn)).toEqual([]);
  for (const n of [1, 5, 8]) {
    const a = randomNDArray('float32', [n, 6], n);
    const d0 = fullNDArray('float32', [n, 6], Number.NaN);
    const d1 = fullNDArray('float32', [n, 6], Number.NaN);
    interpret(orig, [a, d0]);
    interpret(fn, [a, d1]);
    const r = allClose(d1, d0, 1e-5, 1e-6);
    expect(r.ok, r.message).toBe(true);
  }
}

describe('symbolic shapes', () => {
  it('splits a symbolic loop with an inferred factor, computes the producer at it', () => {
    const fn = kernel();
    const sch = createSchedule(fn);
    const d = sch.getBlock('D');
    const [i, j] = sch.getLoops(d);
    const [io] = sch.split(i, [undefined, 4]);
    sch.computeAt(sch.getBlock('B'), io);
    sch.parallel(io);
    sch.vectorize(j);
    check(fn, sch.func);
    expectReplays(sch, kernel());
  });

  it('inlines and fuses over a symbolic extent; refuses what it cannot infer', () => {
    const fn = kernel();
    const sch = createSchedule(fn);
    sch.computeInline(sch.getBlock('B'));
    const [i, j] = sch.getLoops(sch.getBlock('D'));
    expectCode(() => sch.split(i, [2, 4]), C.SCHEDULE_INVALID_FACTOR);
    expectCode(() => sch.samplePerfectTile(i, 2), C.SCHEDULE_ERROR);
    const f = sch.fuse(i, j);
    sch.split(f, [undefined, 8]);
    check(fn, sch.func);
  });
});
