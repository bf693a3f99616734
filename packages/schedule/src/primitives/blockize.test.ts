import { bufferLoad, mul, primVar } from '@kiln/ir-core';
import {
  block,
  blockRealize,
  buffer,
  bufferStore,
  compute,
  createPrimFunc,
  forLoop,
  iterVar,
  placeholder,
  primFunc,
  range,
  reduceAxis,
  seqStmt,
  sum,
} from '@kiln/tensorir';
import { describe, expect, it } from 'vitest';
import { ScheduleErrorCodes as C, createSchedule, createTensorIntrinRegistry } from '../index.js';
import { expectCode, expectReplays, expectSame } from '../testing/expect.js';
import { elementwise, matmul } from '../testing/kernels.js';

function tiledMatmul(n = 16) {
  const fn = matmul(n, n, n);
  const sch = createSchedule(fn);
  const c = sch.getBlock('C');
  const [i, j, k] = sch.getLoops(c);
  const [io, ii] = sch.split(i, [undefined, 4]);
  const [jo, ji] = sch.split(j, [undefined, 4]);
  const [ko, ki] = sch.split(k, [undefined, 4]);
  sch.reorder(io, jo, ko, ii, ji, ki);
  return { fn, sch, c, io, jo, ko, ii };
}

describe('blockize', () => {
  it('wraps a 4x4x4 tile in an outer block', () => {
    const { fn, sch, ii } = tiledMatmul();
    const outer = sch.blockize(ii);
    const blk = sch.get(outer);
    expect(blk.name).toBe('C_o');
    expect(blk.iterVars.map((iv) => iv.iterType)).toEqual(['spatial', 'spatial', 'reduce']);
    expect(sch.getChildBlocks(outer).map((b) => sch.get(b).name)).toEqual(['C']);
    expectSame(fn, sch.func);
    expectReplays(sch, matmul());
  });

  it('refuses a loop whose body is not a perfect nest over one block', () => {
    const sch = createSchedule(elementwise());
    const [i] = sch.getLoops(sch.getBlock('D'));
    sch.computeAt(sch.getBlock('C'), i);
    expectCode(() => sch.blockize(i), C.SCHEDULE_ERROR);
  });
});

describe('tensorize', () => {
  it('replaces the inner tile with the built-in 4x4x4 matmul micro-kernel', () => {
    const { fn, sch, c, ko, ii } = tiledMatmul();
    sch.decomposeReduction(c, ko);
    sch.tensorize(ii, 'matmul_4x4x4_f32');
    const outer = sch.getBlock('C_o');
    expect(sch.get(outer).annotations['kiln.tensorized']).toBe('matmul_4x4x4_f32');
    expectSame(fn, sch.func);
    expectReplays(sch, matmul());
  });

  it('tensorizes a blockized block', () => {
    const { fn, sch, c, ko, ii } = tiledMatmul(8);
    sch.decomposeReduction(c, ko);
    const outer = sch.blockize(ii);
    sch.tensorize(outer, 'matmul_4x4x4_f32');
    expectSame(fn, sch.func);
  });

  it('uses intrinsics registered on the schedule', () => {
    // A 4-wide "vector scale" intrinsic: Y[i] = X[i] * 2, implemented unrolled.
    const mk = (unrolled: boolean) => {
      const X = buffer('X', 'float32', [4]);
      const Y = buffer('Y', 'float32', [4]);
      if (unrolled) {
        const stores = [0, 1, 2, 3].map((q) => bufferStore(Y, mul(bufferLoad(X, [q]), 2), [q]));
        const blk = block('scale4', seqStmt(stores));
        return primFunc([X, Y], blockRealize([], true, block('root', blockRealize([], true, blk))));
      }
      const i = primVar('i');
      const vi = primVar('vi');
      const blk = block('scale', bufferStore(Y, mul(bufferLoad(X, [vi]), 2), [vi]), {
        iterVars: [iterVar(vi, range(0, 4))],
      });
      return primFunc(
        [X, Y],
        blockRealize([], true, block('root', forLoop(i, 0, 4, blockRealize([i], true, blk)))),
      );
    };
    const fn = elementwise(8, 12);
    const sch = createSchedule(fn);
    sch.registerTensorIntrin('scale4_f32', mk(false), mk(true));
    const [, j] = sch.getLoops(sch.getBlock('B'));
    const [, ji] = sch.split(j, [undefined, 4]);
    sch.tensorize(ji, 'scale4_f32');
    expectSame(fn, sch.func);
    expectCode(
      () =>
        createSchedule(elementwise()).tensorize(createSchedule(elementwise()).getBlock('B'), 'scale4_f32'),
      C.SCHEDULE_UNKNOWN_INTRIN,
    );
    expect(createTensorIntrinRegistry().has('scale4_f32')).toBe(false);
  });

  it('refuses a tile that does not match', () => {
    const { sch, c, ko, ii } = tiledMatmul();
    // The init is still in the block: the description has none.
    expectCode(() => sch.tensorize(ii, 'matmul_4x4x4_f32'), C.SCHEDULE_TENSORIZE_MISMATCH);
    sch.decomposeReduction(c, ko);
    const s2 = createSchedule(matmul());
    const c2 = s2.getBlock('C');
    const [i2] = s2.getLoops(c2);
    s2.decomposeReduction(c2, i2);
    // A 16-wide loop does not match the 4-wide description.
    expectCode(() => s2.tensorize(s2.getLoops(c2)[1], 'matmul_4x4x4_f32'), C.SCHEDULE_TENSORIZE_MISMATCH);
    expectCode(
      () =>
        createSchedule(elementwise()).tensorize(
          createSchedule(elementwise()).getBlock('B'),
          'matmul_4x4x4_f32',
        ),
      C.SCHEDULE_INVALID_RV,
    );
  });
});

describe('tensorize with the dot intrinsic', () => {
  it('replaces 4-wide chunks of a dot product', () => {
    const make = () => {
      const A = placeholder([16], 'float32', 'A');
      const B = placeholder([16], 'float32', 'B');
      const k = reduceAxis([0, 16], 'k');
      const Cc = compute([1], () => sum(mul(A.at(k), B.at(k)), k), 'C');
      return createPrimFunc([A, B, Cc], { name: 'dot' });
    };
    const fn = make();
    const sch = createSchedule(fn);
    const c = sch.getBlock('C');
    const [, k] = sch.getLoops(c);
    const [ko, ki] = sch.split(k, [undefined, 4]);
    sch.decomposeReduction(c, ko);
    sch.tensorize(ki, 'dot_4_f32');
    expectSame(fn, sch.func);
    expectReplays(sch, make());
  });
});
