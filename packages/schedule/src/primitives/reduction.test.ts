import { describe, expect, it } from 'vitest';
import { ScheduleErrorCodes as C, createSchedule } from '../index.js';
import { expectCode, expectReplays, expectSame } from '../testing/expect.js';
import { conv2d, elementwise, layerNorm, matmul, softmax } from '../testing/kernels.js';

describe('decomposeReduction', () => {
  it('moves the matmul init before the reduction loop', () => {
    const fn = matmul();
    const sch = createSchedule(fn);
    const c = sch.getBlock('C');
    const [, , k] = sch.getLoops(c);
    const init = sch.decomposeReduction(c, k);
    expect(sch.get(init).name).toBe('C_init');
    expect(sch.get(c).init).toBeUndefined();
    expectSame(fn, sch.func);
    expectReplays(sch, matmul());
  });

  it('decomposes at an outer spatial loop of a tiled conv2d', () => {
    const fn = conv2d();
    const sch = createSchedule(fn);
    const conv = sch.getBlock('conv');
    const loops = sch.getLoops(conv);
    sch.split(loops[3], [undefined, 4]);
    const l2 = sch.getLoops(conv);
    sch.decomposeReduction(conv, l2[2]);
    expectSame(fn, sch.func);
  });

  it('refuses a loop below a reduction loop and a block without init', () => {
    const sch = createSchedule(matmul());
    const c = sch.getBlock('C');
    const [i, j, k] = sch.getLoops(c);
    sch.reorder(k, i, j);
    expectCode(() => sch.decomposeReduction(c, j), C.SCHEDULE_ERROR);
    const s2 = createSchedule(elementwise());
    const b = s2.getBlock('B');
    expectCode(() => s2.decomposeReduction(b, s2.getLoops(b)[0]), C.SCHEDULE_NOT_REDUCTION);
  });
});

describe('rfactor', () => {
  it('factors a split matmul reduction and parallelizes the factored loop', () => {
    const fn = matmul();
    const sch = createSchedule(fn);
    const c = sch.getBlock('C');
    const [, , k] = sch.getLoops(c);
    const [, ki] = sch.split(k, [undefined, 4]);
    const rf = sch.rfactor(ki, 0);
    expect(sch.get(rf).name).toBe('C_rf');
    expectSame(fn, sch.func);
    expectReplays(sch, matmul());
  });

  it('lets a row reduction run in parallel after rfactor (softmax max, layer-norm sum)', () => {
    const fn = softmax();
    const sch = createSchedule(fn);
    const [, k] = sch.getLoops(sch.getBlock('maxelem'));
    const [ko] = sch.split(k, [4, undefined]);
    expectCode(() => sch.parallel(ko), C.SCHEDULE_LOOP_DEPENDENCE);
    const rf = sch.rfactor(ko, 1);
    const rfLoops = sch.getLoops(rf);
    sch.reorder(rfLoops[1], rfLoops[0]);
    sch.parallel(rfLoops[1]);
    expectSame(fn, sch.func);

    const ln = layerNorm();
    const s2 = createSchedule(ln);
    const [, k2] = s2.getLoops(s2.getBlock('sum'));
    s2.rfactor(s2.split(k2, [undefined, 8])[1], 0);
    expectSame(ln, s2.func);
  });

  it('refuses spatial loops and non-reductions', () => {
    const sch = createSchedule(matmul());
    const [i] = sch.getLoops(sch.getBlock('C'));
    expectCode(() => sch.rfactor(i, 0), C.SCHEDULE_NOT_REDUCTION);
    const s2 = createSchedule(elementwise());
    expectCode(() => s2.rfactor(s2.getLoops(s2.getBlock('B'))[1], 0), C.SCHEDULE_NOT_REDUCTION);
  });
});
