// The default CPU schedules: structure (what each op class gets) and numerics (the TIR
// interpreter on random inputs, and the native backend through codegen-llvm + koffi).
import { readFileSync } from 'node:fs';
import type { PrimExpr } from '@kiln/ir-core';
import { add, and, div, ge, lt, max, mul, primVar, sub } from '@kiln/ir-core';
import type { For, NDArray, PrimFunc, Stmt } from '@kiln/tensorir';
import {
  allClose,
  compute,
  constant,
  createPrimFunc,
  exp,
  ifThenElseExpr,
  interpret,
  ndarray,
  placeholder,
  randomNDArray,
  reduceAxis,
  reduceMax,
  sum,
  wellFormed,
} from '@kiln/tensorir';
import { afterAll, describe, expect, it } from 'vitest';
import { loops, loopsOfKind } from '../testing/loops.js';
import { runNative, unloadNative } from '../testing/native.js';
import { defaultCPUSchedule } from './cpu.js';

const AVX512 = { numThreads: 2, features: ['+avx2', '+fma', '+avx512f'] };
const AVX2 = { numThreads: 2, features: ['+avx2', '+fma'] };

/** Every allocated buffer (root and inner blocks) as `name:shape`. */
function allocs(fn: PrimFunc): string[] {
  const out: string[] = [];
  const walk = (s: Stmt): void => {
    if (s.kind === 'BlockRealize') {
      for (const b of s.block.allocBuffers) out.push(`${b.name}:${b.shape.map(extentOfExpr).join(',')}`);
      walk(s.block.body);
    } else if (s.kind === 'For') walk(s.body);
    else if (s.kind === 'SeqStmt') for (const x of s.seq) walk(x);
  };
  walk(fn.body);
  return out;
}

const unrolledRows = (fn: PrimFunc) => loopsOfKind(fn, 'unrolled').map(extentOf)[0];

const extentOfExpr = (e: PrimExpr) => (e.kind === 'IntImm' ? e.value : -1);
const extentOf = (l: For) => extentOfExpr(l.extent);

/** Inputs are random; every output is compared between `fn` and its schedule in the interpreter. */
function checkInterpreter(fn: PrimFunc, scheduled: PrimFunc, shapes: number[][], nOut = 1, rtol = 1e-5) {
  expect(wellFormed(scheduled)).toEqual([]);
  const ins = shapes.slice(0, shapes.length - nOut).map((s, i) => randomNDArray('float32', s, 10 + i));
  const want = shapes.slice(shapes.length - nOut).map((s) => ndarray('float32', s));
  const got = shapes.slice(shapes.length - nOut).map((s) => ndarray('float32', s));
  interpret(fn, [...ins, ...want]);
  interpret(scheduled, [...ins, ...got]);
  want.forEach((w, i) => {
    const rep = allClose(got[i], w, rtol, 1e-5);
    expect(rep.ok, rep.message).toBe(true);
  });
  return { ins, want };
}

afterAll(unloadNative);
/** Compile the scheduled function natively and compare with the interpreter's outputs. */
function checkNative(scheduled: PrimFunc, ins: NDArray[], want: NDArray[], features: string[], rtol = 1e-5) {
  const outs = runNative(
    scheduled,
    ins,
    want.map((w) => w.shape),
    features,
  );
  outs.forEach((o, i) => {
    const rep = allClose(o, want[i], rtol, 1e-5);
    expect(rep.ok, rep.message).toBe(true);
  });
}

const hasAVX512 =
  process.arch === 'x64' &&
  (() => {
    try {
      return /\bavx512f\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
    } catch {
      return false;
    }
  })();

function matmul(m: number, k: number, n: number): PrimFunc {
  const A = placeholder([m, k], 'float32', 'A');
  const B = placeholder([k, n], 'float32', 'B');
  const r = reduceAxis([0, k], 'k');
  const C = compute([m, n], (i, j) => sum(mul(A.at(i, r), B.at(r, j)), r), 'C');
  return createPrimFunc([A, B, C]);
}

describe('defaultCPUSchedule', () => {
  it('register-blocks, packs, vectorizes and parallelizes a matmul', () => {
    const fn = matmul(48, 70, 128);
    const s = defaultCPUSchedule(fn, AVX512);
    const vec = loopsOfKind(s, 'vectorized');
    // the update and the init of the accumulator tile are both 16-lane vectors
    expect(vec.length).toBeGreaterThanOrEqual(2);
    for (const l of vec) expect(extentOf(l)).toBe(16);
    expect(loopsOfKind(s, 'unrolled').length).toBeGreaterThanOrEqual(2);
    expect(loopsOfKind(s, 'parallel').length).toBeGreaterThanOrEqual(1);
    // B is copied into [N/64, K, 64] panels
    const alloc = s.body.kind === 'BlockRealize' ? s.body.block.allocBuffers : [];
    expect(
      alloc.some((b) => b.shape.map((e) => (e.kind === 'IntImm' ? e.value : -1)).join(',') === '2,70,64'),
    ).toBe(true);
    const { ins, want } = checkInterpreter(
      fn,
      s,
      [
        [48, 70],
        [70, 128],
        [48, 128],
      ],
      1,
      1e-4,
    );
    if (process.arch === 'x64') checkNative(s, ins, want, AVX2.features, 1e-4);
    if (hasAVX512) checkNative(s, ins, want, AVX512.features, 1e-4);
  });

  it('packs a single-row matmul only when its weights are constant (layout_free_buffers)', () => {
    const fn = matmul(1, 96, 256);
    const rootAllocs = (f: PrimFunc) =>
      f.body.kind === 'BlockRealize' ? f.body.block.allocBuffers.length : -1;
    expect(rootAllocs(defaultCPUSchedule(fn, AVX512))).toBe(0);
    const marked = Object.freeze({ ...fn, attrs: Object.freeze({ ...fn.attrs, layout_free_buffers: [1] }) });
    const s = defaultCPUSchedule(marked, AVX512);
    expect(rootAllocs(s)).toBe(1);
    // Two threads share the panels of the one row (and the copy, until PrepackWeights lifts it).
    expect(loopsOfKind(s, 'parallel').length).toBe(2);
    checkInterpreter(
      fn,
      s,
      [
        [1, 96],
        [96, 256],
        [1, 256],
      ],
      1,
      1e-4,
    );
  });

  it('uses the AVX2 width without AVX-512 and leaves a small matmul unpacked', () => {
    const fn = matmul(8, 33, 24);
    const s = defaultCPUSchedule(fn, AVX2);
    for (const l of loopsOfKind(s, 'vectorized')) expect(extentOf(l)).toBe(8);
    const alloc = s.body.kind === 'BlockRealize' ? s.body.block.allocBuffers : [];
    expect(alloc.length).toBe(0);
    const { ins, want } = checkInterpreter(
      fn,
      s,
      [
        [8, 33],
        [33, 24],
        [8, 24],
      ],
      1,
      1e-4,
    );
    if (process.arch === 'x64') checkNative(s, ins, want, AVX2.features, 1e-4);
  });

  it('schedules a batch matmul with a broadcast batch dimension', () => {
    const A = placeholder([3, 32, 40], 'float32', 'A');
    const B = placeholder([1, 40, 32], 'float32', 'B');
    const r = reduceAxis([0, 40], 'k');
    const C = compute([3, 32, 32], (b, i, j) => sum(mul(A.at(b, i, r), B.at(0, r, j)), r), 'C');
    const fn = createPrimFunc([A, B, C]);
    const s = defaultCPUSchedule(fn, AVX512);
    expect(loopsOfKind(s, 'vectorized').length).toBeGreaterThanOrEqual(2);
    const { ins, want } = checkInterpreter(
      fn,
      s,
      [
        [3, 32, 40],
        [1, 40, 32],
        [3, 32, 32],
      ],
      1,
      1e-4,
    );
    if (process.arch === 'x64') checkNative(s, ins, want, AVX2.features, 1e-4);
  });

  it('vectorizes a stride-1 convolution over the output width, blocked over output channels', () => {
    const X = placeholder([1, 8, 18, 18], 'float32', 'X');
    const W = placeholder([16, 8, 3, 3], 'float32', 'W');
    const rc = reduceAxis([0, 8], 'rc');
    const ry = reduceAxis([0, 3], 'ry');
    const rx = reduceAxis([0, 3], 'rx');
    const Y = compute(
      [1, 16, 16, 16],
      (n, co, h, w) => sum(mul(X.at(n, rc, add(h, ry), add(w, rx)), W.at(co, rc, ry, rx)), [rc, ry, rx]),
      'Y',
    );
    const fn = createPrimFunc([X, W, Y]);
    const s = defaultCPUSchedule(fn, AVX512);
    const vec = loopsOfKind(s, 'vectorized');
    expect(vec.length).toBeGreaterThanOrEqual(1);
    for (const l of vec) expect(extentOf(l)).toBe(16);
    const { ins, want } = checkInterpreter(
      fn,
      s,
      [
        [1, 8, 18, 18],
        [16, 8, 3, 3],
        [1, 16, 16, 16],
      ],
      1,
      1e-4,
    );
    if (process.arch === 'x64') checkNative(s, ins, want, AVX2.features, 1e-4);
    if (hasAVX512) checkNative(s, ins, want, AVX512.features, 1e-4);
  });

  it('rfactors a dense layer ([N, K] weights) into vector lanes of partial sums', () => {
    const X = placeholder([2, 96], 'float32', 'X');
    const W = placeholder([40, 96], 'float32', 'W');
    const r = reduceAxis([0, 96], 'k');
    const Y = compute([2, 40], (i, j) => sum(mul(X.at(i, r), W.at(j, r)), r), 'Y');
    const fn = createPrimFunc([X, W, Y]);
    const s = defaultCPUSchedule(fn, AVX512);
    const vec = loopsOfKind(s, 'vectorized');
    expect(vec.length).toBe(2);
    for (const l of vec) expect(extentOf(l)).toBe(16);
    expect(loopsOfKind(s, 'unrolled').map(extentOf)).toEqual([4]);
    const { ins, want } = checkInterpreter(
      fn,
      s,
      [
        [2, 96],
        [40, 96],
        [2, 40],
      ],
      1,
      1e-4,
    );
    if (process.arch === 'x64') checkNative(s, ins, want, AVX2.features, 1e-4);
    if (hasAVX512) checkNative(s, ins, want, AVX512.features, 1e-4);
  });

  it('hoists the zero padding of a padded convolution into its own block, then vectorizes the convolution', () => {
    const X = placeholder([1, 4, 16, 16], 'float32', 'X');
    const W = placeholder([8, 4, 3, 3], 'float32', 'W');
    const rc = reduceAxis([0, 4], 'rc');
    const ry = reduceAxis([0, 3], 'ry');
    const rx = reduceAxis([0, 3], 'rx');
    const Y = compute(
      [1, 8, 16, 16],
      (n, co, h, w) => {
        const y = sub(add(h, ry), 1);
        const x = sub(add(w, rx), 1);
        const inside = and(and(ge(y, 0), lt(y, 16)), and(ge(x, 0), lt(x, 16)));
        return sum(
          mul(ifThenElseExpr(inside, X.at(n, rc, y, x), constant(0, 'float32')), W.at(co, rc, ry, rx)),
          [rc, ry, rx],
        );
      },
      'Y',
    );
    const fn = createPrimFunc([X, W, Y]);
    const s = defaultCPUSchedule(fn, AVX512);
    const alloc = s.body.kind === 'BlockRealize' ? s.body.block.allocBuffers : [];
    expect(alloc.map((b) => b.shape.map(extentOfExpr).join(','))).toContain('1,4,18,18');
    expect(loopsOfKind(s, 'vectorized').map(extentOf)).toContain(16);
    const { ins, want } = checkInterpreter(
      fn,
      s,
      [
        [1, 4, 16, 16],
        [8, 4, 3, 3],
        [1, 8, 16, 16],
      ],
      1,
      1e-4,
    );
    if (process.arch === 'x64') checkNative(s, ins, want, AVX2.features, 1e-4);
    if (hasAVX512) checkNative(s, ins, want, AVX512.features, 1e-4);
  });

  it('vectorizes a stride-2 depthwise convolution with strided vector loads', () => {
    const X = placeholder([1, 4, 33, 33], 'float32', 'X');
    const W = placeholder([4, 1, 3, 3], 'float32', 'W');
    const ry = reduceAxis([0, 3], 'ry');
    const rx = reduceAxis([0, 3], 'rx');
    const Y = compute(
      [1, 4, 16, 16],
      (n, c, h, w) => {
        const y = add(mul(h, 2), ry);
        const x = add(mul(w, 2), rx);
        return sum(mul(X.at(n, c, y, x), W.at(c, 0, ry, rx)), [ry, rx]);
      },
      'Y',
    );
    const fn = createPrimFunc([X, W, Y]);
    const s = defaultCPUSchedule(fn, AVX512);
    expect(loopsOfKind(s, 'vectorized').map(extentOf)).toContain(16);
    const { ins, want } = checkInterpreter(
      fn,
      s,
      [
        [1, 4, 33, 33],
        [4, 1, 3, 3],
        [1, 4, 16, 16],
      ],
      1,
      1e-4,
    );
    if (process.arch === 'x64') checkNative(s, ins, want, AVX2.features, 1e-4);
    if (hasAVX512) checkNative(s, ins, want, AVX512.features, 1e-4);
  });

  it('register-blocks a padded depthwise convolution in NCHW8c along the width, without a padded copy, its epilogue fused into the tile', () => {
    // 24 channels (three blocks of 8), odd spatial sizes; stride 1, stride 2, dilation 2.
    for (const [stride, dil, pad] of [
      [1, 1, 1],
      [2, 1, 1],
      [1, 2, 2],
    ]) {
      const [h, w] = [11, 9];
      const oh = Math.floor((h + 2 * pad - dil * 2 - 1) / stride) + 1;
      const ow = Math.floor((w + 2 * pad - dil * 2 - 1) / stride) + 1;
      const X = placeholder([1, 3, h, w, 8], 'float32', 'X');
      const W = placeholder([3, 3, 3, 8], 'float32', 'W');
      const B = placeholder([1, 3, 1, 1, 8], 'float32', 'B');
      const ry = reduceAxis([0, 3], 'ry');
      const rx = reduceAxis([0, 3], 'rx');
      const D = compute(
        [1, 3, oh, ow, 8],
        (n, c, i, j, ci) => {
          const y = sub(add(mul(i, stride), mul(ry, dil)), pad);
          const x = sub(add(mul(j, stride), mul(rx, dil)), pad);
          const inside = and(and(ge(y, 0), lt(y, h)), and(ge(x, 0), lt(x, w)));
          return sum(
            mul(ifThenElseExpr(inside, X.at(n, c, y, x, ci), constant(0, 'float32')), W.at(c, ry, rx, ci)),
            [ry, rx],
          );
        },
        'D',
      );
      const Y = compute(
        [1, 3, oh, ow, 8],
        (n, c, i, j, ci) => max(add(D.at(n, c, i, j, ci), B.at(0, c, 0, 0, ci)), constant(0, 'float32')),
        'Y',
      );
      const fn = createPrimFunc([X, W, B, Y]);
      const s = defaultCPUSchedule(fn, AVX512);
      // No padded copy of X, and the accumulator D shrinks to one tile allocated inside
      // the tile loop (rows x 8 lanes).
      expect(allocs(s)).toEqual([`D_tile:${unrolledRows(s)},8`]);
      expect(loopsOfKind(s, 'vectorized').map(extentOf)).toContain(8);
      // Rows of the register tile along the output width (a divisor of it).
      const unrolled = loopsOfKind(s, 'unrolled').map(extentOf);
      expect(unrolled.length).toBe(1);
      expect(ow % unrolled[0]).toBe(0);
      expect(unrolled[0]).toBeGreaterThan(1);
      // The epilogue runs inside the tile's loop nest: one nest at the top.
      const root = s.body.kind === 'BlockRealize' ? s.body.block.body : s.body;
      expect(root.kind).toBe('For');
      // Too little work (under 1.5M multiply-adds) to pay for a parallel region.
      expect(loopsOfKind(s, 'parallel')).toEqual([]);
      const { ins, want } = checkInterpreter(
        fn,
        s,
        [
          [1, 3, h, w, 8],
          [3, 3, 3, 8],
          [1, 3, 1, 1, 8],
          [1, 3, oh, ow, 8],
        ],
        1,
        1e-4,
      );
      if (process.arch === 'x64') checkNative(s, ins, want, AVX2.features, 1e-4);
      if (hasAVX512) checkNative(s, ins, want, AVX512.features, 1e-4);
    }
  });

  it('tiles a 3x3 NCHW16c convolution over rows and output-channel blocks, input-channel chunks outside the rows of a small map', () => {
    // 7x7 map, 2 input-channel blocks, 4 output-channel blocks; bias, residual, relu.
    const X = placeholder([1, 2, 7, 7, 16], 'float32', 'X');
    const W = placeholder([4, 2, 3, 3, 16, 16], 'float32', 'W');
    const B = placeholder([1, 4, 1, 1, 16], 'float32', 'B');
    const R = placeholder([1, 4, 7, 7, 16], 'float32', 'R');
    const io = reduceAxis([0, 2], 'ic_o');
    const ii = reduceAxis([0, 16], 'ic_i');
    const ry = reduceAxis([0, 3], 'ry');
    const rx = reduceAxis([0, 3], 'rx');
    const C = compute(
      [1, 4, 7, 7, 16],
      (n, oo, h, w, oi) => {
        const y = sub(add(h, ry), 1);
        const x = sub(add(w, rx), 1);
        const inside = and(and(ge(y, 0), lt(y, 7)), and(ge(x, 0), lt(x, 7)));
        return sum(
          mul(
            ifThenElseExpr(inside, X.at(n, io, y, x, ii), constant(0, 'float32')),
            W.at(oo, io, ry, rx, ii, oi),
          ),
          [io, ry, rx, ii],
        );
      },
      'C',
    );
    const Y = compute(
      [1, 4, 7, 7, 16],
      (n, oo, h, w, oi) =>
        max(
          add(add(C.at(n, oo, h, w, oi), B.at(0, oo, 0, 0, oi)), R.at(n, oo, h, w, oi)),
          constant(0, 'float32'),
        ),
      'Y',
    );
    const fn = createPrimFunc([X, W, B, R, Y]);
    // One thread: nothing limits the loops above the chunk loop.
    const s = defaultCPUSchedule(fn, { ...AVX512, numThreads: 1 });
    // Register tile: 7 rows (the map's width) x 2 output-channel blocks x 16 lanes.
    expect(loopsOfKind(s, 'unrolled').map(extentOf).sort()).toEqual([2, 7]);
    // The accumulators of a whole column block (2 x 7 x 7 x 16) live inside its loop.
    expect(allocs(s)).toEqual(['X_pad:1,2,9,9,16', 'C_tile:2,7,7,16']);
    // The input-channel chunk loop sits above the output-row loop.
    const order = loops(s.body).map((l) => l.loopVar.name);
    expect(order.indexOf('ic_o')).toBeLessThan(order.indexOf('h'));
    // Two threads: the 2 column-block iterations above the chunk loop would leave a
    // thread idle, so the chunk loop stays inside the rows, which run in parallel.
    const s2 = defaultCPUSchedule(fn, AVX512);
    const order2 = loops(s2.body).map((l) => l.loopVar.name);
    expect(order2.findIndex((n) => n.startsWith('ic_o'))).toBeGreaterThan(
      order2.findIndex((n) => n.includes('h')),
    );
    expect(loopsOfKind(s2, 'parallel').some((l) => extentOf(l) >= 8)).toBe(true);
    checkInterpreter(
      fn,
      s2,
      [
        [1, 2, 7, 7, 16],
        [4, 2, 3, 3, 16, 16],
        [1, 4, 1, 1, 16],
        [1, 4, 7, 7, 16],
        [1, 4, 7, 7, 16],
      ],
      1,
      1e-4,
    );
    const { ins, want } = checkInterpreter(
      fn,
      s,
      [
        [1, 2, 7, 7, 16],
        [4, 2, 3, 3, 16, 16],
        [1, 4, 1, 1, 16],
        [1, 4, 7, 7, 16],
        [1, 4, 7, 7, 16],
      ],
      1,
      1e-4,
    );
    if (process.arch === 'x64') checkNative(s, ins, want, AVX2.features, 1e-4);
    if (hasAVX512) checkNative(s, ins, want, AVX512.features, 1e-4);
  });

  it('runs the input-channel chunks above bands of output rows on a larger map', () => {
    // 16x16 map, 2 input-channel blocks, 4 output-channel blocks: the accumulators of
    // the whole map (64 KiB) exceed the limit, bands of 8 rows (32 KiB) do not.
    const X = placeholder([1, 2, 18, 18, 16], 'float32', 'X');
    const W = placeholder([4, 2, 3, 3, 16, 16], 'float32', 'W');
    const io = reduceAxis([0, 2], 'ic_o');
    const ii = reduceAxis([0, 16], 'ic_i');
    const ry = reduceAxis([0, 3], 'ry');
    const rx = reduceAxis([0, 3], 'rx');
    const C = compute(
      [1, 4, 16, 16, 16],
      (n, oo, h, w, oi) =>
        sum(mul(X.at(n, io, add(h, ry), add(w, rx), ii), W.at(oo, io, ry, rx, ii, oi)), [io, ry, rx, ii]),
      'C',
    );
    const Y = compute(
      [1, 4, 16, 16, 16],
      (n, oo, h, w, oi) => max(C.at(n, oo, h, w, oi), constant(0, 'float32')),
      'Y',
    );
    const fn = createPrimFunc([X, W, Y]);
    for (const numThreads of [1, 2]) {
      const s = defaultCPUSchedule(fn, { ...AVX512, numThreads });
      expect(allocs(s)).toEqual(['C_tile:4,8,16,16']);
      const order = loops(s.body).map((l) => l.loopVar.name);
      const chunk = order.findIndex((n) => n.startsWith('ic_o'));
      // (with 2 threads the band loop is fused into the parallel loop above)
      const band = order.findIndex((n) => n === 'h_0' || n.endsWith('_h_0_fused'));
      expect(band).toBeGreaterThanOrEqual(0);
      expect(band).toBeLessThan(chunk);
      expect(order.indexOf('h_1')).toBeGreaterThan(chunk);
      const { ins, want } = checkInterpreter(
        fn,
        s,
        [
          [1, 2, 18, 18, 16],
          [4, 2, 3, 3, 16, 16],
          [1, 4, 16, 16, 16],
        ],
        1,
        1e-4,
      );
      if (hasAVX512) checkNative(s, ins, want, AVX512.features, 1e-4);
    }
  });

  it('parallelizes a depthwise convolution with enough work', () => {
    // 64 channels on a 56x56 map: 1.8M multiply-adds.
    const X = placeholder([1, 4, 58, 58, 16], 'float32', 'X');
    const W = placeholder([4, 3, 3, 16], 'float32', 'W');
    const ry = reduceAxis([0, 3], 'ry');
    const rx = reduceAxis([0, 3], 'rx');
    const D = compute(
      [1, 4, 56, 56, 16],
      (n, c, i, j, ci) => sum(mul(X.at(n, c, add(i, ry), add(j, rx), ci), W.at(c, ry, rx, ci)), [ry, rx]),
      'D',
    );
    const s = defaultCPUSchedule(createPrimFunc([X, W, D]), AVX512);
    expect(loopsOfKind(s, 'parallel').length).toBe(1);
    expect(
      loopsOfKind(defaultCPUSchedule(createPrimFunc([X, W, D]), { ...AVX512, numThreads: 1 }), 'parallel'),
    ).toEqual([]);
  });

  it('register-blocks a 1x1 convolution in NCHW16c (extent-1 kernel loops)', () => {
    const X = placeholder([1, 2, 7, 7, 16], 'float32', 'X');
    const W = placeholder([3, 2, 1, 1, 16, 16], 'float32', 'W');
    const co = reduceAxis([0, 2], 'ic_o');
    const ci = reduceAxis([0, 16], 'ic_i');
    const ry = reduceAxis([0, 1], 'ry');
    const rx = reduceAxis([0, 1], 'rx');
    const Y = compute(
      [1, 3, 7, 7, 16],
      (n, oo, h, w, oi) =>
        sum(mul(X.at(n, co, add(h, ry), add(w, rx), ci), W.at(oo, co, ry, rx, ci, oi)), [co, ci, ry, rx]),
      'Y',
    );
    const fn = createPrimFunc([X, W, Y]);
    const s = defaultCPUSchedule(fn, AVX512);
    expect(loopsOfKind(s, 'vectorized').map(extentOf)).toContain(16);
    expect(loopsOfKind(s, 'unrolled').map(extentOf)).toContain(7);
    // W is already in 16-wide output-channel panels (packed at compile time): no copy.
    expect(allocs(s)).toEqual([]);
    const { ins, want } = checkInterpreter(
      fn,
      s,
      [
        [1, 2, 7, 7, 16],
        [3, 2, 1, 1, 16, 16],
        [1, 3, 7, 7, 16],
      ],
      1,
      1e-4,
    );
    if (process.arch === 'x64') checkNative(s, ins, want, AVX2.features, 1e-4);
    if (hasAVX512) checkNative(s, ins, want, AVX512.features, 1e-4);
  });

  it('register-blocks a dense layer over a symbolic number of rows; only the epilogue guards the partial last tile', () => {
    const m = primVar('m');
    const X = placeholder([m, 64], 'float32', 'X');
    const W = placeholder([64, 128], 'float32', 'W');
    const bias = placeholder([128], 'float32', 'bias');
    const r = reduceAxis([0, 64], 'k');
    const C = compute([m, 128], (i, j) => sum(mul(X.at(i, r), W.at(r, j)), r), 'C');
    const Y = compute([m, 128], (i, j) => max(add(C.at(i, j), bias.at(j)), constant(0, 'float32')), 'Y');
    const fn = createPrimFunc([X, W, bias, Y]);
    const s = defaultCPUSchedule(fn, AVX512);
    // A tile of several rows (unrolled), a parallel loop over the symbolic rows.
    expect(unrolledRows(s)).toBeGreaterThan(1);
    expect(loopsOfKind(s, 'parallel').length).toBe(1);
    // The accumulating block carries no guard; the epilogue writing Y does.
    const guarded: Record<string, boolean> = {};
    const walk = (st: Stmt): void => {
      if (st.kind === 'BlockRealize') {
        guarded[st.block.name] = st.predicate.kind !== 'IntImm';
        walk(st.block.body);
      } else if (st.kind === 'For') walk(st.body);
      else if (st.kind === 'SeqStmt') for (const x of st.seq) walk(x);
    };
    walk(s.body);
    expect(guarded.C).toBe(false);
    expect(guarded.Y).toBe(true);
    for (const rows of [1, 7, 13, 32]) {
      const { ins, want } = checkInterpreter(fn, s, [[rows, 64], [64, 128], [128], [rows, 128]]);
      if (process.arch === 'x64') {
        const outs = runNative(s, ins, [[rows, 128]], AVX2.features, [BigInt(rows)]);
        const rep = allClose(outs[0], want[0], 1e-5, 1e-5);
        expect(rep.ok, rep.message).toBe(true);
      }
    }
  });

  it('vectorizes elementwise kernels along the innermost axis and parallelizes the rest', () => {
    const X = placeholder([64, 512], 'float32', 'X');
    const Y = placeholder([512], 'float32', 'Y');
    const Z = compute([64, 512], (i, j) => max(add(X.at(i, j), Y.at(j)), constant(0, 'float32')), 'Z');
    const fn = createPrimFunc([X, Y, Z]);
    const s = defaultCPUSchedule(fn, AVX512);
    expect(loopsOfKind(s, 'vectorized').map(extentOf)).toEqual([16]);
    expect(loopsOfKind(s, 'parallel').length).toBe(1);
    const { ins, want } = checkInterpreter(fn, s, [[64, 512], [512], [64, 512]]);
    if (process.arch === 'x64') checkNative(s, ins, want, AVX2.features);
  });

  it('keeps softmax and other reductions correct (outer loops parallel)', () => {
    const X = placeholder([64, 300], 'float32', 'X');
    const k1 = reduceAxis([0, 300], 'k1');
    const mx = compute([64], (i) => reduceMax(X.at(i, k1), k1), 'mx');
    const e = compute([64, 300], (i, j) => exp(sub(X.at(i, j), mx.at(i))), 'e');
    const k2 = reduceAxis([0, 300], 'k2');
    const sm = compute([64], (i) => sum(e.at(i, k2), k2), 'sm');
    const Y = compute([64, 300], (i, j) => div(e.at(i, j), sm.at(i)), 'Y');
    const fn = createPrimFunc([X, Y]);
    const s = defaultCPUSchedule(fn, AVX512);
    expect(loopsOfKind(s, 'parallel').length).toBeGreaterThanOrEqual(1);
    const { ins, want } = checkInterpreter(fn, s, [
      [64, 300],
      [64, 300],
    ]);
    if (process.arch === 'x64') checkNative(s, ins, want, AVX2.features);
  });

  it('moves the reduction of an unvectorizable sum above its inner spatial loops and parallelizes the outer ones', () => {
    const A = placeholder([2, 3, 2048], 'float32', 'A');
    const B = placeholder([2048, 5], 'float32', 'B');
    const k = reduceAxis([0, 2048], 'k');
    const C = compute([2, 3, 5], (b, i, j) => sum(mul(A.at(b, i, k), B.at(k, j)), k), 'C');
    const D = compute([2, 3, 5], (b, i, j) => exp(C.at(b, i, j)), 'D');
    const fn = createPrimFunc([A, B, D]);
    const s = defaultCPUSchedule(fn, { numThreads: 2 });
    const par = loopsOfKind(s, 'parallel');
    // the matmul block: b outermost (parallel), then k, then the 3 x 5 output tile;
    // the 30-element exp stays serial
    expect(par.length).toBe(1);
    expect(extentOf(par[0])).toBe(2);
    const order = loops(s.body).map((l) => l.loopVar.name);
    const kAt = order.findIndex((n) => n.startsWith('k'));
    expect(kAt).toBeGreaterThan(order.indexOf(par[0].loopVar.name));
    expect(
      loops(par[0].body)
        .map((l) => extentOf(l))
        .slice(-3),
    ).toEqual([2048, 3, 5]);
    checkInterpreter(fn, s, [
      [2, 3, 2048],
      [2048, 5],
      [2, 3, 5],
    ]);
    expect(loopsOfKind(defaultCPUSchedule(fn, { numThreads: 1 }), 'parallel').length).toBe(0);
  });
});
