// Refusals and fixes found by the fuzz test, pinned down.
import { describe, expect, it } from 'vitest';
import { ScheduleErrorCodes as C, createSchedule } from './index.js';
import { expectCode, expectReplays, expectSame } from './testing/expect.js';
import { conv2d, elementwise, matmul, matmulRelu, softmax } from './testing/kernels.js';

describe('fuzz regressions', () => {
  it('decomposeReduction refuses loops that repeat the reduction', () => {
    const sch = createSchedule(softmax(4, 8));
    const [, j] = sch.getLoops(sch.getBlock('norm'));
    sch.computeAt(sch.getBlock('expsum'), j);
    const es = sch.getBlock('expsum');
    const [i] = sch.getLoops(es);
    // expsum is recomputed for every j: hoisting its init above j would sum 8 times.
    expectCode(() => sch.decomposeReduction(es, i), C.SCHEDULE_ERROR);
    const f = sch.fuse(i, sch.getLoops(es)[1]);
    expectCode(() => sch.decomposeReduction(es, f), C.SCHEDULE_ERROR);
  });

  it('rfactor refuses a non-divisible reduction split', () => {
    const sch = createSchedule(matmul(8, 8, 8));
    const [, , k] = sch.getLoops(sch.getBlock('C'));
    const [ko] = sch.split(k, [undefined, 3]);
    expectCode(() => sch.rfactor(ko, 0), C.SCHEDULE_ERROR);
  });

  it('rfactor of the only reduction loop gives a plain spatial rf block', () => {
    const fn = softmax(4, 8);
    const sch = createSchedule(fn);
    const [, k] = sch.getLoops(sch.getBlock('maxelem'));
    const rf = sch.rfactor(k, 0);
    expect(sch.get(rf).init).toBeUndefined();
    expectSame(fn, sch.func);
  });

  it('reorder refuses to move a loop fused across spatial and reduction variables', () => {
    const sch = createSchedule(softmax(4, 8));
    const es = sch.getBlock('expsum');
    const f = sch.fuse(...sch.getLoops(es));
    const [a, b] = sch.split(f, [undefined, 4]);
    expectCode(() => sch.reorder(b, a), C.SCHEDULE_LOOP_DEPENDENCE);
  });

  it('blockize moves outer predicates out and refuses coupled ones', () => {
    const fn = conv2d(1, 2, 5, 5, 2, 3, 3, 1);
    const sch = createSchedule(fn);
    const pad = sch.getBlock('pad');
    const [n] = sch.getLoops(pad);
    const [, n1] = sch.split(n, [2, undefined]);
    sch.blockize(n1);
    expectSame(fn, sch.func);
    const s2 = createSchedule(elementwise(7, 8));
    const [i] = s2.getLoops(s2.getBlock('B'));
    const [, i1] = s2.split(i, [undefined, 4]);
    expectCode(() => s2.blockize(i1), C.SCHEDULE_ERROR);
  });

  it('keeps the regions of a blockized consumer in its own variables when a producer is inlined', () => {
    const fn = elementwise(6, 8);
    const sch = createSchedule(fn);
    const [i] = sch.getLoops(sch.getBlock('C'));
    const outer = sch.blockize(i);
    sch.computeInline(sch.getBlock('B'));
    expect(sch.get(outer).reads.map((r) => r.buffer.name)).toEqual(['A']);
    expectSame(fn, sch.func);
    expectReplays(sch, elementwise(6, 8));
  });

  it('refuses data-flow primitives on blocks nested in a blockized block', () => {
    const sch = createSchedule(matmulRelu(8, 8, 8));
    const [i] = sch.getLoops(sch.getBlock('C'));
    sch.blockize(i);
    const c = sch.getBlock('C');
    expectCode(() => sch.cacheRead(c, 0, 'shared'), C.SCHEDULE_ERROR);
    expectCode(() => sch.cacheWrite(c, 0, 'local'), C.SCHEDULE_ERROR);
    expectCode(() => sch.decomposeReduction(c, sch.getLoops(c)[0]), C.SCHEDULE_ERROR);
    expectCode(() => sch.computeAt(c, sch.getLoops(sch.getBlock('D'))[0]), C.SCHEDULE_LOCATION);
  });

  it('reverseComputeAt into the loop around a blockized producer', () => {
    const fn = matmulRelu(8, 8, 8);
    const sch = createSchedule(fn);
    const [i, j] = sch.getLoops(sch.getBlock('C'));
    sch.blockize(j);
    sch.reverseComputeAt(sch.getBlock('D'), i);
    expectSame(fn, sch.func);
  });
});
