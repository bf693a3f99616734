// Property: any legal sequence of split / reorder / fuse on a matmul keeps its results, and
// its trace replays to the same function.

import { isKilnError, structuralEqual } from '@kiln/ir-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LoopRV } from './index.js';
import { applyTrace, createSchedule, parseTrace } from './index.js';
import { matmul, sameResults } from './testing/kernels.js';

type Step =
  | { op: 'split'; loop: number; factor: number; inferOuter: boolean }
  | { op: 'reorder'; perm: number[] }
  | { op: 'fuse'; at: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    op: fc.constant('split' as const),
    loop: fc.nat(7),
    factor: fc.integer({ min: 1, max: 6 }),
    inferOuter: fc.boolean(),
  }),
  fc.record({
    op: fc.constant('reorder' as const),
    perm: fc.array(fc.nat(100), { minLength: 2, maxLength: 5 }),
  }),
  fc.record({ op: fc.constant('fuse' as const), at: fc.nat(7) }),
);

describe('random split/reorder/fuse on matmul', () => {
  it('keeps results equal and replays', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 6 }), (steps) => {
        const fn = matmul(6, 8, 5);
        const sch = createSchedule(fn);
        const c = sch.getBlock('C');
        for (const s of steps) {
          const loops: LoopRV[] = sch.getLoops(c);
          try {
            if (s.op === 'split') {
              const l = loops[s.loop % loops.length];
              sch.split(l, s.inferOuter ? [undefined, s.factor] : [s.factor, undefined]);
            } else if (s.op === 'reorder') {
              const picked = [...new Set(s.perm.map((p) => p % loops.length))];
              if (picked.length < 2) continue;
              const order = [...picked].sort((a, b) => s.perm.indexOf(b) - s.perm.indexOf(a));
              sch.reorder(...order.map((p) => loops[p]));
            } else {
              const a = s.at % loops.length;
              if (a + 1 >= loops.length) continue;
              sch.fuse(loops[a], loops[a + 1]);
            }
          } catch (e) {
            // Refusals are fine (e.g. fusing a loop with a split-predicate nest); they must be KilnErrors.
            if (!isKilnError(e)) throw e;
          }
        }
        const r = sameResults(fn, sch.func, 3, 1e-5);
        expect(r.ok, r.message).toBe(true);
        const again = applyTrace(parseTrace(sch.trace.toString()), matmul(6, 8, 5));
        expect(structuralEqual(again.func, sch.func, { mapFreeVars: true })).toBe(true);
      }),
      { numRuns: 60, seed: 20261122 },
    );
  });
});
