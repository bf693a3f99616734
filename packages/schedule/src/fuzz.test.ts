// Property: whatever sequence of primitives a schedule accepts, on any of the test
// kernels, the result computes the same values and its trace replays. Refusals must be
// KilnErrors; anything else is a bug.

import { isKilnError, structuralEqual } from '@kiln/ir-core';
import type { PrimFunc } from '@kiln/tensorir';
import { printPrimFunc, wellFormed } from '@kiln/tensorir';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { BlockRV, LoopRV, Schedule } from './index.js';
import { applyTrace, createSchedule, parseTrace } from './index.js';
import {
  conv2d,
  elementwise,
  layerNorm,
  matmulRelu,
  sameResults,
  softmax,
  stencil,
} from './testing/kernels.js';

const KERNELS: Record<string, () => PrimFunc> = {
  elementwise: () => elementwise(6, 8),
  matmulRelu: () => matmulRelu(8, 8, 8),
  softmax: () => softmax(4, 8),
  layerNorm: () => layerNorm(4, 8),
  stencil: () => stencil(10),
  conv2d: () => conv2d(1, 2, 5, 5, 2, 3, 3, 1),
};

const OPS = [
  'split',
  'fuse',
  'reorder',
  'parallel',
  'vectorize',
  'unroll',
  'computeAt',
  'reverseComputeAt',
  'computeInline',
  'reverseComputeInline',
  'cacheRead',
  'cacheWrite',
  'decomposeReduction',
  'rfactor',
  'blockize',
  'setScope',
  'bind',
] as const;
const TAGS = ['blockIdx.x', 'threadIdx.x', 'blockIdx.y', 'threadIdx.y'];

interface Op {
  op: (typeof OPS)[number];
  a: number;
  b: number;
  c: number;
}
const op: fc.Arbitrary<Op> = fc.record({
  op: fc.constantFrom(...OPS),
  a: fc.nat(50),
  b: fc.nat(50),
  c: fc.integer({ min: 2, max: 5 }),
});

function blocks(sch: Schedule): BlockRV[] {
  const names: string[] = [];
  const walk = (s: PrimFunc['body']): void => {
    if (s.kind === 'BlockRealize') {
      if (s.block.name !== 'root') names.push(s.block.name);
      walk(s.block.body);
    } else if (s.kind === 'For') walk(s.body);
    else if (s.kind === 'SeqStmt') s.seq.forEach(walk);
  };
  walk(sch.func.body);
  return names.map((n) => sch.getBlock(n));
}

function allLoops(sch: Schedule, bs: BlockRV[]): LoopRV[] {
  return bs.flatMap((b) => sch.getLoops(b));
}

function apply(sch: Schedule, o: Op): void {
  const bs = blocks(sch);
  if (bs.length === 0) return;
  const blk = bs[o.a % bs.length];
  const ls = sch.getLoops(blk);
  const every = allLoops(sch, bs);
  const loop = ls.length ? ls[o.b % ls.length] : undefined;
  const anyLoop = every.length ? every[o.b % every.length] : undefined;
  switch (o.op) {
    case 'split':
      if (loop) sch.split(loop, o.a % 2 ? [undefined, o.c] : [o.c, undefined]);
      break;
    case 'fuse':
      if (ls.length >= 2) {
        const k = o.b % (ls.length - 1);
        sch.fuse(ls[k], ls[k + 1]);
      }
      break;
    case 'reorder':
      if (ls.length >= 2) sch.reorder(ls[(o.b + 1) % ls.length], ls[o.b % ls.length]);
      break;
    case 'parallel':
      if (loop) sch.parallel(loop);
      break;
    case 'vectorize':
      if (loop) sch.vectorize(loop);
      break;
    case 'unroll':
      if (loop) sch.unroll(loop);
      break;
    case 'computeAt':
      if (anyLoop) sch.computeAt(blk, anyLoop);
      break;
    case 'reverseComputeAt':
      if (anyLoop) sch.reverseComputeAt(blk, anyLoop);
      break;
    case 'computeInline':
      sch.computeInline(blk);
      break;
    case 'reverseComputeInline':
      sch.reverseComputeInline(blk);
      break;
    case 'cacheRead':
      sch.cacheRead(blk, o.b % 3, o.c % 2 ? 'shared' : 'local');
      break;
    case 'cacheWrite':
      sch.cacheWrite(blk, 0, 'local');
      break;
    case 'decomposeReduction':
      if (loop) sch.decomposeReduction(blk, loop);
      break;
    case 'rfactor':
      if (loop) sch.rfactor(loop, o.c % 2);
      break;
    case 'blockize':
      if (loop) sch.blockize(loop);
      break;
    case 'setScope':
      sch.setScope(blk, 0, o.c % 2 ? 'shared' : 'local');
      break;
    case 'bind':
      if (loop) sch.bind(loop, TAGS[o.c % TAGS.length]);
      break;
  }
}

// How often each primitive was accepted, over all kernels: the property must not be vacuous.
const accepted = new Map<string, number>();

describe('random primitive sequences on the test kernels', () => {
  afterAll(() => {
    for (const o of OPS) expect(accepted.get(o) ?? 0, `${o} was never accepted`).toBeGreaterThan(0);
  });

  for (const [name, make] of Object.entries(KERNELS)) {
    it(`${name}: accepted schedules keep results and replay`, () => {
      fc.assert(
        fc.property(
          fc.array(op, { minLength: 1, maxLength: Number(process.env.KILN_FUZZ_LEN ?? 8) }),
          (ops) => {
            const fn = make();
            const sch = createSchedule(fn);
            const log: string[] = [];
            for (const o of ops) {
              try {
                apply(sch, o);
                log.push(`ok ${o.op}`);
                accepted.set(o.op, (accepted.get(o.op) ?? 0) + 1);
              } catch (e) {
                if (!isKilnError(e)) throw e;
                log.push(`refused ${o.op}: ${(e as Error).message}`);
              }
            }
            const problems = wellFormed(sch.func);
            expect(problems, `${log.join('\n')}\n${printPrimFunc(sch.func)}`).toEqual([]);
            const r = sameResults(fn, sch.func, 5, 1e-5);
            expect(
              r.ok,
              `${r.message}\n${log.join('\n')}\n${sch.trace.toString()}\n${printPrimFunc(sch.func)}`,
            ).toBe(true);
            const again = applyTrace(parseTrace(sch.trace.toString()), make());
            expect(structuralEqual(again.func, sch.func, { mapFreeVars: true }), sch.trace.toString()).toBe(
              true,
            );
          },
        ),
        {
          numRuns: Number(process.env.KILN_FUZZ_RUNS ?? 40),
          seed: Number(process.env.KILN_FUZZ_SEED ?? 1234),
        },
      );
    });
  }
});
