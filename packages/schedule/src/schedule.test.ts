// The Schedule object: hand-built TIR, handles, copies.
import type { PrimExpr } from '@kiln/ir-core';
import { add, bufferLoad, mul, structuralEqual } from '@kiln/ir-core';
import type { PrimFunc } from '@kiln/tensorir';
import {
  block,
  blockRealize,
  buffer,
  bufferRegion,
  bufferStore,
  forLoop,
  iterVar,
  loopVar,
  primFunc,
  range,
  seqStmt,
} from '@kiln/tensorir';
import { describe, expect, it } from 'vitest';
import { ScheduleErrorCodes as C, createSchedule } from './index.js';
import { expectCode, expectReplays, expectSame } from './testing/expect.js';
import { matmul } from './testing/kernels.js';

/** Two stages sharing one loop variable object, and no root block. */
function handBuilt(dupNames = false): PrimFunc {
  const A = buffer('A', 'float32', [8]);
  const T = buffer('T', 'float32', [8]);
  const B = buffer('B', 'float32', [8]);
  const i = loopVar('i');
  const stage = (
    name: string,
    src: typeof A,
    dst: typeof A,
    f: (x: ReturnType<typeof bufferLoad>) => PrimExpr,
  ) => {
    const v = loopVar('v');
    const blk = block(name, bufferStore(dst, f(bufferLoad(src, [v])), [v]), {
      iterVars: [iterVar(v, range(0, 8))],
      reads: [bufferRegion(src, [range(v, 1)])],
      writes: [bufferRegion(dst, [range(v, 1)])],
    });
    return forLoop(i, 0, 8, blockRealize([i], true, blk));
  };
  const body = seqStmt([
    stage('T', A, T, (x) => mul(x, 2)),
    stage(dupNames ? 'T' : 'B', T, B, (x) => add(x, 1)),
  ]);
  return primFunc([A, B], block('root', body, { allocBuffers: [T] }) as never);
}

function handBuiltFn(): PrimFunc {
  const f = handBuilt();
  // The root block as a realize, as TIR requires.
  return primFunc(f.params, blockRealize([], true, f.body as never));
}

describe('Schedule', () => {
  it('schedules hand-built TIR whose loops share a variable', () => {
    const fn = handBuiltFn();
    const sch = createSchedule(fn);
    const [i] = sch.getLoops(sch.getBlock('B'));
    const [j] = sch.getLoops(sch.getBlock('T'));
    expect(sch.get(i)).not.toBe(sch.get(j));
    sch.split(i, [undefined, 4]);
    sch.computeAt(sch.getBlock('T'), sch.getLoops(sch.getBlock('B'))[0]);
    expectSame(fn, sch.func);
    expectReplays(sch, handBuiltFn());
  });

  it('refuses duplicate block names and wraps a body without a root block', () => {
    const dup = handBuilt(true);
    expectCode(
      () => createSchedule(primFunc(dup.params, blockRealize([], true, dup.body as never))),
      C.SCHEDULE_ERROR,
    );
    const bare = handBuiltFn();
    const inner = (bare.body as unknown as { block: { body: PrimFunc['body'] } }).block.body;
    const sch = createSchedule(primFunc(bare.params, inner));
    expect(sch.func.body.kind).toBe('BlockRealize');
  });

  it('copies a schedule into an independent one', () => {
    const sch = createSchedule(matmul(), { seed: 4 });
    const c = sch.getBlock('C');
    const [i, j] = sch.getLoops(c);
    const fork = sch.copy();
    sch.split(i, [undefined, 4]);
    const t1 = sch.samplePerfectTile(j, 2);
    fork.parallel(i);
    const t2 = fork.samplePerfectTile(j, 2);
    expect(sch.get(t1[0])).toBe(fork.get(t2[0]));
    expect(sch.trace.toString()).not.toBe(fork.trace.toString());
    expect(fork.trace.instructions.slice(0, 2)).toEqual(sch.trace.instructions.slice(0, 2));
    expect(structuralEqual(sch.func, fork.func)).toBe(false);
    expect(fork.get(i).forKind).toBe('parallel');
    expectCode(() => sch.get(i), C.SCHEDULE_INVALID_RV);
  });

  it('refuses handles from another schedule', () => {
    const a = createSchedule(matmul());
    const b = createSchedule(matmul());
    const c = a.getBlock('C');
    expectCode(() => b.getLoops(c), C.SCHEDULE_INVALID_RV);
  });
});
