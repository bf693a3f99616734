import { describe, expect, it } from 'vitest';
import { ScheduleErrorCodes as C, createSchedule } from '../index.js';
import { expectCode, expectReplays, expectSame } from '../testing/expect.js';
import { conv2d, elementwise, layerNorm, matmulRelu, softmax, stencil } from '../testing/kernels.js';

describe('computeInline', () => {
  it('inlines an elementwise chain', () => {
    const fn = elementwise();
    const sch = createSchedule(fn);
    sch.computeInline(sch.getBlock('B'));
    sch.computeInline(sch.getBlock('C'));
    expect(sch.getChildBlocks(sch.getLoops(sch.getBlock('D'))[0])).toHaveLength(1);
    expect(
      (sch.func.body as unknown as { block: { allocBuffers: readonly unknown[] } }).block.allocBuffers,
    ).toHaveLength(0);
    expectSame(fn, sch.func);
    expectReplays(sch, elementwise());
  });

  it('inlines the padding of conv2d and the exp of softmax', () => {
    const fn = conv2d();
    const sch = createSchedule(fn);
    sch.computeInline(sch.getBlock('pad'));
    expectSame(fn, sch.func);
    const sm = softmax();
    const s2 = createSchedule(sm);
    s2.computeInline(s2.getBlock('exp'));
    expectSame(sm, s2.func);
  });

  it('refuses reductions, outputs and stale handles', () => {
    const sch = createSchedule(softmax());
    expectCode(() => sch.computeInline(sch.getBlock('maxelem')), C.SCHEDULE_NOT_INJECTIVE);
    expectCode(() => sch.computeInline(sch.getBlock('norm')), C.SCHEDULE_OUTPUT_BLOCK);
    const s2 = createSchedule(elementwise());
    const b = s2.getBlock('B');
    s2.computeInline(b);
    expectCode(() => s2.computeInline(b), C.SCHEDULE_INVALID_RV);
  });
});

describe('reverseComputeInline', () => {
  it('folds the epilogue into its producer', () => {
    const fn = elementwise();
    const sch = createSchedule(fn);
    sch.reverseComputeInline(sch.getBlock('D'));
    sch.reverseComputeInline(sch.getBlock('C'));
    expectSame(fn, sch.func);
    expectReplays(sch, elementwise());
  });

  it('folds layer-norm-free epilogues: bias + relu after matmul', () => {
    const fn = matmulRelu();
    const sch = createSchedule(fn);
    sch.reverseComputeInline(sch.getBlock('E'));
    expectSame(fn, sch.func);
    // D now stores E directly; its producer C is a reduction, so folding D into C is refused.
    expectCode(() => sch.reverseComputeInline(sch.getBlock('D')), C.SCHEDULE_NOT_INJECTIVE);
  });

  it('refuses a consumer that reads its input at shifted points', () => {
    const sch = createSchedule(stencil());
    expectCode(() => sch.reverseComputeInline(sch.getBlock('C')), C.SCHEDULE_NOT_INJECTIVE);
  });
});

describe('computeAt', () => {
  it('computes a producer inside its consumer loop (elementwise)', () => {
    const fn = elementwise();
    const sch = createSchedule(fn);
    const [i, j] = sch.getLoops(sch.getBlock('D'));
    sch.computeAt(sch.getBlock('C'), j);
    sch.computeAt(sch.getBlock('B'), i);
    expectSame(fn, sch.func);
    expectReplays(sch, elementwise());
  });

  it('derives a halo region from the consumer accesses (stencil)', () => {
    const fn = stencil(20);
    const sch = createSchedule(fn);
    const [i] = sch.getLoops(sch.getBlock('C'));
    const [io] = sch.split(i, [undefined, 5]);
    sch.computeAt(sch.getBlock('B'), io);
    const [, ax] = sch.getLoops(sch.getBlock('B'));
    expect(sch.get(ax).extent).toMatchObject({ value: 7 });
    expectSame(fn, sch.func);
  });

  it('computes conv2d padding per output row', () => {
    const fn = conv2d();
    const sch = createSchedule(fn);
    const loops = sch.getLoops(sch.getBlock('conv'));
    sch.computeAt(sch.getBlock('pad'), loops[2]);
    expectSame(fn, sch.func);
    expectReplays(sch, conv2d());
  });

  it('computes softmax stages per row', () => {
    const fn = softmax();
    const sch = createSchedule(fn);
    const [i] = sch.getLoops(sch.getBlock('norm'));
    sch.computeAt(sch.getBlock('expsum'), i);
    sch.computeAt(sch.getBlock('exp'), i);
    sch.computeAt(sch.getBlock('maxelem'), i);
    sch.parallel(i);
    expectSame(fn, sch.func);
    expectReplays(sch, softmax());
  });

  it('computes layer-norm statistics per row', () => {
    const fn = layerNorm();
    const sch = createSchedule(fn);
    const [i] = sch.getLoops(sch.getBlock('norm'));
    sch.computeAt(sch.getBlock('sqsum'), i);
    sch.computeAt(sch.getBlock('mean'), i);
    sch.computeAt(sch.getBlock('sum'), i);
    expectSame(fn, sch.func);
  });

  it('refuses outputs, consumers outside the loop and wrong order', () => {
    const sch = createSchedule(softmax());
    const [i] = sch.getLoops(sch.getBlock('norm'));
    expectCode(() => sch.computeAt(sch.getBlock('norm'), i), C.SCHEDULE_OUTPUT_BLOCK);
    // exp is consumed by expsum and by norm: a loop of norm does not hold every consumer.
    expectCode(() => sch.computeAt(sch.getBlock('exp'), i), C.SCHEDULE_LOCATION);
    const s2 = createSchedule(elementwise());
    const [a] = s2.getLoops(s2.getBlock('B'));
    expectCode(() => s2.computeAt(s2.getBlock('C'), a), C.SCHEDULE_LOCATION);
  });
});

describe('reverseComputeAt', () => {
  it('moves an epilogue under the producer loop', () => {
    const fn = elementwise();
    const sch = createSchedule(fn);
    const [i, j] = sch.getLoops(sch.getBlock('B'));
    sch.reverseComputeAt(sch.getBlock('C'), j);
    sch.reverseComputeAt(sch.getBlock('D'), i);
    expectSame(fn, sch.func);
    expectReplays(sch, elementwise());
  });

  it('moves a matmul epilogue under the output tile', () => {
    const fn = matmulRelu();
    const sch = createSchedule(fn);
    const [i, j] = sch.getLoops(sch.getBlock('C'));
    const [io] = sch.split(i, [undefined, 4]);
    const [jo] = sch.split(j, [undefined, 4]);
    const loops = sch.getLoops(sch.getBlock('C'));
    sch.reorder(io, jo, loops[1], loops[3]);
    sch.reverseComputeAt(sch.getBlock('D'), jo);
    sch.reverseComputeAt(sch.getBlock('E'), jo);
    expectSame(fn, sch.func);
  });

  it('moves a row reduction under its producer row loop', () => {
    const fn = softmax();
    const sch = createSchedule(fn);
    const [i] = sch.getLoops(sch.getBlock('exp'));
    sch.reverseComputeAt(sch.getBlock('expsum'), i);
    expectSame(fn, sch.func);
  });

  it('refuses to split a reduction across the producer loop', () => {
    const sch = createSchedule(softmax());
    const [, j] = sch.getLoops(sch.getBlock('exp'));
    expectCode(() => sch.reverseComputeAt(sch.getBlock('expsum'), j), C.SCHEDULE_LOCATION);
    const s2 = createSchedule(elementwise());
    const [a] = s2.getLoops(s2.getBlock('D'));
    expectCode(() => s2.reverseComputeAt(s2.getBlock('B'), a), C.SCHEDULE_LOCATION);
  });
});
