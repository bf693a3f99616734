import { describe, expect, it } from 'vitest';
import { ScheduleErrorCodes as C, createSchedule } from '../index.js';
import { expectCode, expectReplays, expectSame } from '../testing/expect.js';
import { conv2d, elementwise, layerNorm, matmul, softmax } from '../testing/kernels.js';

describe('split', () => {
  it('splits matmul loops with an inferred factor', () => {
    const fn = matmul();
    const sch = createSchedule(fn);
    const [i, j, k] = sch.getLoops(sch.getBlock('C'));
    const [io, ii] = sch.split(i, [undefined, 4]);
    sch.split(j, [2, undefined, 2]);
    sch.split(k, [4, 4]);
    expect(sch.get(io).extent).toMatchObject({ value: 4 });
    expect(sch.get(ii).extent).toMatchObject({ value: 4 });
    expect(sch.getLoops(sch.getBlock('C'))).toHaveLength(7);
    expectSame(fn, sch.func);
    expectReplays(sch, matmul());
  });

  it('adds a predicate for a non-divisible extent', () => {
    const fn = elementwise(7, 10);
    const sch = createSchedule(fn);
    const [i, j] = sch.getLoops(sch.getBlock('C'));
    sch.split(i, [undefined, 3]);
    sch.split(j, [4, 3]);
    const r = sch.getRealize(sch.getBlock('C'));
    expect(r.predicate.kind).toBe('And');
    expectSame(fn, sch.func);
  });

  it('splits conv2d reduction loops', () => {
    const fn = conv2d();
    const sch = createSchedule(fn);
    const loops = sch.getLoops(sch.getBlock('conv'));
    sch.split(loops[2], [undefined, 4]);
    sch.split(loops[4], [undefined, 2]);
    expectSame(fn, sch.func);
  });

  it('refuses bad factors', () => {
    const sch = createSchedule(matmul());
    const [i, j] = sch.getLoops(sch.getBlock('C'));
    expectCode(() => sch.split(i, [undefined, undefined]), C.SCHEDULE_INVALID_FACTOR);
    expectCode(() => sch.split(i, [0, 4]), C.SCHEDULE_INVALID_FACTOR);
    expectCode(() => sch.split(i, [2, 4]), C.SCHEDULE_INVALID_FACTOR);
    expectCode(() => sch.split(j, [16]), C.SCHEDULE_INVALID_FACTOR);
    expect(sch.trace.length).toBe(2);
  });

  it('invalidates the handle of a split loop', () => {
    const sch = createSchedule(matmul());
    const [i] = sch.getLoops(sch.getBlock('C'));
    sch.split(i, [4, 4]);
    expectCode(() => sch.split(i, [2, 8]), C.SCHEDULE_INVALID_RV);
  });
});

describe('fuse', () => {
  it('fuses the spatial loops of matmul and of a softmax stage', () => {
    const fn = matmul(8, 12, 8);
    const sch = createSchedule(fn);
    const [i, j] = sch.getLoops(sch.getBlock('C'));
    const f = sch.fuse(i, j);
    expect(sch.get(f).extent).toMatchObject({ value: 96 });
    expectSame(fn, sch.func);
    expectReplays(sch, matmul(8, 12, 8));

    const sm = softmax();
    const s2 = createSchedule(sm);
    const [a, b] = s2.getLoops(s2.getBlock('norm'));
    const g = s2.fuse(a, b);
    s2.split(g, [undefined, 32]);
    expectSame(sm, s2.func);
  });

  it('folds fused indices back when the fused loop is split by an inner extent', () => {
    const fn = matmul(8, 16, 8);
    const sch = createSchedule(fn);
    const c = sch.getBlock('C');
    const [i, j] = sch.getLoops(c);
    const f = sch.fuse(i, j);
    const [fo, fi] = sch.split(f, [undefined, 16]);
    const vals = sch.getRealize(c).iterValues;
    expect(vals[0]).toBe(sch.get(fo).loopVar);
    expect(vals[1]).toBe(sch.get(fi).loopVar);
    expectSame(fn, sch.func);
  });

  it('fuses three loops of conv2d', () => {
    const fn = conv2d();
    const sch = createSchedule(fn);
    const loops = sch.getLoops(sch.getBlock('conv'));
    sch.fuse(loops[1], loops[2], loops[3]);
    expectSame(fn, sch.func);
  });

  it('refuses loops that are not adjacent in a perfect nest', () => {
    const sch = createSchedule(matmul());
    const [i, , k] = sch.getLoops(sch.getBlock('C'));
    expectCode(() => sch.fuse(i, k), C.SCHEDULE_NOT_PERFECT_NEST);
    const s2 = createSchedule(elementwise());
    const [a] = s2.getLoops(s2.getBlock('B'));
    const [, d] = s2.getLoops(s2.getBlock('C'));
    expectCode(() => s2.fuse(a, d), C.SCHEDULE_NOT_PERFECT_NEST);
  });
});

describe('reorder', () => {
  it('reorders matmul loops (reduction outermost too)', () => {
    const fn = matmul();
    const sch = createSchedule(fn);
    const [i, j, k] = sch.getLoops(sch.getBlock('C'));
    const [io, ii] = sch.split(i, [4, 4]);
    const [jo, ji] = sch.split(j, [4, 4]);
    sch.reorder(io, jo, k, ii, ji);
    const names = sch.getLoops(sch.getBlock('C')).map((l) => sch.get(l).loopVar.name);
    expect(names).toEqual(['i_0', 'j_0', 'k', 'i_1', 'j_1']);
    expectSame(fn, sch.func);
    sch.reorder(k, io);
    expectSame(fn, sch.func);
    expectReplays(sch, matmul());
  });

  it('reorders layer-norm output loops', () => {
    const fn = layerNorm();
    const sch = createSchedule(fn);
    const [i, j] = sch.getLoops(sch.getBlock('norm'));
    sch.reorder(j, i);
    expectSame(fn, sch.func);
  });

  it('refuses loops of different chains', () => {
    const sch = createSchedule(elementwise());
    const [a] = sch.getLoops(sch.getBlock('B'));
    const [c] = sch.getLoops(sch.getBlock('C'));
    expectCode(() => sch.reorder(a, c), C.SCHEDULE_NOT_SAME_CHAIN);
  });
});

describe('loop kinds', () => {
  it('parallelizes, vectorizes and unrolls spatial loops', () => {
    const fn = matmul();
    const sch = createSchedule(fn);
    const [i, j, k] = sch.getLoops(sch.getBlock('C'));
    const [, ji] = sch.split(j, [undefined, 4]);
    sch.parallel(i);
    sch.vectorize(ji);
    sch.unroll(k);
    expect(sch.get(i).forKind).toBe('parallel');
    expect(sch.get(ji).forKind).toBe('vectorized');
    expect(sch.get(k).forKind).toBe('unrolled');
    expectSame(fn, sch.func);
    expectReplays(sch, matmul());
  });

  it('refuses to parallelize or vectorize a reduction loop', () => {
    const sch = createSchedule(matmul());
    const [, , k] = sch.getLoops(sch.getBlock('C'));
    expectCode(() => sch.parallel(k), C.SCHEDULE_LOOP_DEPENDENCE);
    expectCode(() => sch.vectorize(k), C.SCHEDULE_LOOP_DEPENDENCE);
    expectCode(() => sch.bind(k, 'threadIdx.x'), C.SCHEDULE_LOOP_DEPENDENCE);
    const s2 = createSchedule(softmax());
    const [, kk] = s2.getLoops(s2.getBlock('maxelem'));
    expectCode(() => s2.parallel(kk), C.SCHEDULE_LOOP_DEPENDENCE);
  });

  it('refuses a loop whose iterations all write the same elements', () => {
    const sch = createSchedule(softmax());
    const [, j] = sch.getLoops(sch.getBlock('norm'));
    // expsum recomputed for every j writes expsum[i] in each iteration of j.
    sch.computeAt(sch.getBlock('expsum'), j);
    expectCode(() => sch.parallel(j), C.SCHEDULE_LOOP_DEPENDENCE);
    sch.unroll(j);
  });

  it('refuses a fused loop that carries a reduction', () => {
    const sch = createSchedule(matmul());
    const [, j, k] = sch.getLoops(sch.getBlock('C'));
    const f = sch.fuse(j, k);
    expectCode(() => sch.parallel(f), C.SCHEDULE_LOOP_DEPENDENCE);
  });

  it('binds loops to GPU threads', () => {
    const fn = elementwise(8, 32);
    const sch = createSchedule(fn);
    const [i, j] = sch.getLoops(sch.getBlock('D'));
    sch.bind(i, 'blockIdx.x');
    sch.bind(j, 'threadIdx.x');
    expect(sch.get(j).threadTag).toBe('threadIdx.x');
    expectSame(fn, sch.func);
    expectCode(() => sch.bind(i, 'warpIdx.q'), C.SCHEDULE_ERROR);
    expectReplays(sch, elementwise(8, 32));
  });
});

describe('annotate and queries', () => {
  it('annotates blocks and loops', () => {
    const fn = matmul();
    const sch = createSchedule(fn);
    const b = sch.getBlock('C');
    const [i] = sch.getLoops(b);
    sch.annotate(b, 'meta_schedule.tiling_structure', 'SSRSRS');
    sch.annotate(i, 'pragma_auto_unroll_max_step', 16);
    expect(sch.get(b).annotations['meta_schedule.tiling_structure']).toBe('SSRSRS');
    expect(sch.get(i).annotations.pragma_auto_unroll_max_step).toBe(16);
    expectSame(fn, sch.func);
    expectReplays(sch, matmul());
  });

  it('lists producers and consumers', () => {
    const sch = createSchedule(softmax());
    const names = (bs: ReturnType<typeof sch.getProducers>) => bs.map((b) => sch.get(b).name);
    expect(names(sch.getProducers(sch.getBlock('norm')))).toEqual(['exp', 'expsum']);
    expect(names(sch.getConsumers(sch.getBlock('exp')))).toEqual(['expsum', 'norm']);
    expect(names(sch.getProducers(sch.getBlock('maxelem')))).toEqual([]);
    expectReplays(sch, softmax());
  });

  it('lists child blocks and refuses unknown names', () => {
    const sch = createSchedule(softmax());
    const root = sch.getBlock('maxelem');
    expect(sch.getChildBlocks(root)).toHaveLength(0);
    const [i] = sch.getLoops(sch.getBlock('exp'));
    expect(sch.getChildBlocks(i).map((b) => sch.get(b).name)).toEqual(['exp']);
    expectCode(() => sch.getBlock('nope'), C.SCHEDULE_UNKNOWN_BLOCK);
  });
});
