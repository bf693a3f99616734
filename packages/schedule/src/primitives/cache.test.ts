import { describe, expect, it } from 'vitest';
import { ScheduleErrorCodes as C, createSchedule } from '../index.js';
import { expectCode, expectReplays, expectSame } from '../testing/expect.js';
import { conv2d, elementwise, matmul, softmax } from '../testing/kernels.js';

describe('cacheRead', () => {
  it('stages matmul inputs through shared memory and computes them at a tile', () => {
    const fn = matmul();
    const sch = createSchedule(fn);
    const c = sch.getBlock('C');
    const aShared = sch.cacheRead(c, 0, 'shared');
    const bShared = sch.cacheRead(c, 1, 'shared');
    expect(sch.get(aShared).name).toBe('A_shared');
    const [i, j, k] = sch.getLoops(c);
    const [io, ii] = sch.split(i, [undefined, 4]);
    const [jo, ji] = sch.split(j, [undefined, 4]);
    const [ko, ki] = sch.split(k, [undefined, 4]);
    sch.reorder(io, jo, ko, ii, ji, ki);
    sch.computeAt(aShared, ko);
    sch.computeAt(bShared, ko);
    const aLoops = sch.getLoops(aShared);
    expect(aLoops.map((l) => sch.get(l).extent)).toMatchObject([
      { value: 4 },
      { value: 4 },
      { value: 4 },
      { value: 4 },
      { value: 4 },
    ]);
    expectSame(fn, sch.func);
    expectReplays(sch, matmul());
  });

  it('caches conv2d weights in local memory', () => {
    const fn = conv2d();
    const sch = createSchedule(fn);
    sch.cacheRead(sch.getBlock('conv'), 1, 'local');
    expectSame(fn, sch.func);
  });

  it('refuses an index out of range', () => {
    const sch = createSchedule(matmul());
    expectCode(() => sch.cacheRead(sch.getBlock('C'), 5, 'shared'), C.SCHEDULE_ERROR);
  });
});

describe('cacheWrite', () => {
  it('accumulates matmul in a local buffer and writes back', () => {
    const fn = matmul();
    const sch = createSchedule(fn);
    const c = sch.getBlock('C');
    const wb = sch.cacheWrite(c, 0, 'local');
    const [i] = sch.getLoops(c);
    sch.reverseComputeAt(wb, i);
    expectSame(fn, sch.func);
    expectReplays(sch, matmul());
  });

  it('caches the output of a softmax stage', () => {
    const fn = softmax();
    const sch = createSchedule(fn);
    sch.cacheWrite(sch.getBlock('exp'), 0, 'local');
    expectSame(fn, sch.func);
  });

  it('refuses a buffer read in the same loop nest', () => {
    const sch = createSchedule(elementwise());
    const [i] = sch.getLoops(sch.getBlock('C'));
    sch.reverseComputeAt(sch.getBlock('D'), i);
    expectCode(() => sch.cacheWrite(sch.getBlock('C'), 0, 'local'), C.SCHEDULE_ERROR);
  });
});

describe('setScope and storageAlign', () => {
  it('moves an intermediate to shared memory and aligns it', () => {
    const fn = elementwise();
    const sch = createSchedule(fn);
    const b = sch.getBlock('B');
    sch.setScope(b, 0, 'shared');
    sch.storageAlign(b, 0, 0, 16, 1);
    const blk = sch.get(b);
    expect(blk.writes[0].buffer.scope).toBe('shared');
    expect(blk.annotations.buffer_dim_align).toEqual([[0, 0, 16, 1]]);
    expectSame(fn, sch.func);
    expectReplays(sch, elementwise());
  });

  it('refuses function parameters and bad alignments', () => {
    const sch = createSchedule(elementwise());
    expectCode(() => sch.setScope(sch.getBlock('D'), 0, 'shared'), C.SCHEDULE_ERROR);
    expectCode(() => sch.storageAlign(sch.getBlock('D'), 0, 0, 16, 1), C.SCHEDULE_ERROR);
    expectCode(() => sch.storageAlign(sch.getBlock('B'), 0, 2, 16, 1), C.SCHEDULE_ERROR);
    expectCode(() => sch.storageAlign(sch.getBlock('B'), 0, 0, 16, 16), C.SCHEDULE_ERROR);
  });
});

describe('a GPU-style matmul schedule', () => {
  it('tiles to blocks and threads, stages tiles in shared memory with cooperative fetching', () => {
    // Order: local write-back, bind threadIdx, shared tiles at ko (relaxed over the bound
    // threads), bind blockIdx. A bind that splits a private buffer's writers from its
    // readers is refused.
    const fn = matmul(16, 16, 16);
    const sch = createSchedule(fn);
    const c = sch.getBlock('C');
    const aS = sch.cacheRead(c, 0, 'shared');
    const bS = sch.cacheRead(c, 1, 'shared');
    const cL = sch.cacheWrite(c, 0, 'local');
    const [i, j, k] = sch.getLoops(c);
    const [bx, tx] = sch.split(i, [undefined, 4]);
    const [by, ty] = sch.split(j, [undefined, 4]);
    const [ko, ki] = sch.split(k, [undefined, 4]);
    sch.reorder(bx, by, tx, ty, ko, ki);
    // The write-back of the local accumulator runs once per thread, after the whole reduction.
    expectCode(() => sch.reverseComputeAt(cL, ko), C.SCHEDULE_LOCATION);
    sch.reverseComputeAt(cL, ty);
    sch.bind(tx, 'threadIdx.y');
    sch.bind(ty, 'threadIdx.x');
    // A shared tile read by threads of a block not yet bound would live in another block's memory.
    expectCode(() => sch.bind(bx, 'blockIdx.x'), C.SCHEDULE_STORAGE_SCOPE);
    for (const s of [aS, bS]) {
      sch.computeAt(s, ko);
      const loops = sch.getLoops(s);
      // The shared tile covers what all threads of the block need: 4 x 4.
      expect(loops.slice(-2).map((l) => sch.get(l).extent)).toMatchObject([{ value: 4 }, { value: 4 }]);
      const fused = sch.fuse(...loops.slice(-2));
      const [, t] = sch.split(fused, [undefined, 4]);
      sch.bind(t, 'threadIdx.x');
    }
    sch.bind(bx, 'blockIdx.x');
    sch.bind(by, 'blockIdx.y');
    // Local memory is per thread: moving the write-back out of the thread loops is refused.
    expectCode(() => sch.reverseComputeAt(cL, by), C.SCHEDULE_STORAGE_SCOPE);
    expectSame(fn, sch.func);
    expectReplays(sch, matmul(16, 16, 16));
  });
});

describe('thread-private memory', () => {
  it('refuses binding a loop whose local results are read outside it', () => {
    const fn = elementwise(4, 8);
    const sch = createSchedule(fn);
    const b = sch.getBlock('B');
    sch.setScope(b, 0, 'local');
    const [i] = sch.getLoops(b);
    expectCode(() => sch.bind(i, 'threadIdx.x'), C.SCHEDULE_STORAGE_SCOPE);
    // Computing it inside its consumer's loop first makes the binding legal.
    const [ci] = sch.getLoops(sch.getBlock('C'));
    sch.computeAt(b, ci);
    sch.bind(ci, 'threadIdx.x');
    expectSame(fn, sch.func);
  });
});
