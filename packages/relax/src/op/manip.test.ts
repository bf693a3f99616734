import { primVar } from '@kiln/ir-core';
import type { NDArray } from '@kiln/tensorir';
import { allClose, ndarray } from '@kiln/tensorir';
import { describe, expect, it } from 'vitest';
import type { RelaxValue } from '../eval.js';
import { scalarConstant } from '../ir/expr.js';
import { tensorSInfo } from '../ir/struct-info.js';
import { at, fromFn, infer, inferError, rand, runOp, tensorOut } from '../testing/harness.js';
import * as op from './index.js';

const n = primVar('n');
const m = primVar('m');
const f32 = (shape: readonly (number | typeof n)[]) => tensorSInfo(shape, 'float32');
const i64 = (shape: readonly (number | typeof n)[]) => tensorSInfo(shape, 'int64');
const close = (a: NDArray, b: NDArray | number[], rtol = 1e-5, atol = 1e-6) => {
  const r = allClose(a, b, rtol, atol);
  expect(r.ok, r.message).toBe(true);
};
const flat = (a: NDArray) => Array.from(a.data, Number);
const tupleOut = (v: RelaxValue): NDArray[] => {
  if (typeof v !== 'object' || !('tuple' in v)) throw new Error('expected tuple');
  return v.tuple as NDArray[];
};

describe('manipulation inference', () => {
  it('reshape with -1 and symbolic dims', () => {
    expect(infer([f32([n, 768])], (x) => op.reshape(x, [n, 12, 64]))).toBe(
      'R.Tensor((n, 12, 64), "float32")',
    );
    expect(infer([f32([n, 768])], (x) => op.reshape(x, [-1, 12, 64]))).toBe(
      'R.Tensor((n, 12, 64), "float32")',
    );
    expect(infer([f32([2, 6])], (x) => op.reshape(x, [3, -1]))).toBe('R.Tensor((3, 4), "float32")');
    // Symbolic factors shared by the input size and the given dims cancel (T5/BERT heads).
    expect(infer([f32([n, m, 128])], (x) => op.reshape(x, [n, -1, m, 32]))).toBe(
      'R.Tensor((n, 4, m, 32), "float32")',
    );
    expect(infer([f32([n, m, 96])], (x) => op.reshape(x, [m, -1, 2]))).toBe(
      'R.Tensor((m, n * 48, 2), "float32")',
    );
    expect(inferError([f32([2, 6])], (x) => op.reshape(x, [5, -1]))).toBe('SHAPE_MISMATCH');
    expect(inferError([f32([2, 6])], (x) => op.reshape(x, [5, 2]))).toBe('SHAPE_MISMATCH');
    expect(inferError([f32([2, 6])], (x) => op.reshape(x, [-1, -1]))).toBe('INVALID_ARGUMENT');
  });
  it('permute, expand, squeeze, flatten', () => {
    expect(infer([f32([n, 3, 4])], (x) => op.permuteDims(x, [2, 0, 1]))).toBe(
      'R.Tensor((4, n, 3), "float32")',
    );
    expect(infer([f32([n, 3, 4])], (x) => op.permuteDims(x))).toBe('R.Tensor((4, 3, n), "float32")');
    expect(inferError([f32([n, 3])], (x) => op.permuteDims(x, [0, 0]))).toBe('INVALID_ARGUMENT');
    expect(infer([f32([n, 3])], (x) => op.expandDims(x, [0, -1]))).toBe('R.Tensor((1, n, 3, 1), "float32")');
    expect(infer([f32([1, 3, 1])], (x) => op.squeeze(x))).toBe('R.Tensor((3,), "float32")');
    expect(infer([f32([1, n, 1])], (x) => op.squeeze(x, [0]))).toBe('R.Tensor((n, 1), "float32")');
    expect(inferError([f32([2, 3])], (x) => op.squeeze(x, [0]))).toBe('SHAPE_MISMATCH');
    expect(infer([f32([n, 3, 4])], (x) => op.flatten(x, 1))).toBe('R.Tensor((n, 12), "float32")');
  });
  it('concat / split / strided_slice', () => {
    expect(infer([f32([n, 3]), f32([n, 5])], (a, b) => op.concat([a, b], 1))).toBe(
      'R.Tensor((n, 8), "float32")',
    );
    expect(infer([f32([n, 3]), f32([m, 3])], (a, b) => op.concat([a, b], 0))).toMatch(
      /^R\.Tensor\(\((n \+ m|m \+ n), 3\), "float32"\)$/,
    );
    expect(inferError([f32([2, 3]), f32([2, 4])], (a, b) => op.concat([a, b], 0))).toBe('SHAPE_MISMATCH');
    expect(inferError([f32([2, 3]), f32([2])], (a, b) => op.concat([a, b], 0))).toBe('SHAPE_MISMATCH');
    expect(infer([f32([n, 6])], (x) => op.split(x, 3, 1))).toBe(
      'R.Tuple(R.Tensor((n, 2), "float32"), R.Tensor((n, 2), "float32"), R.Tensor((n, 2), "float32"))',
    );
    expect(infer([f32([10])], (x) => op.split(x, [2, 5]))).toBe(
      'R.Tuple(R.Tensor((2,), "float32"), R.Tensor((3,), "float32"), R.Tensor((5,), "float32"))',
    );
    expect(inferError([f32([10])], (x) => op.split(x, 3))).toBe('SHAPE_MISMATCH');
    expect(infer([f32([10, 8])], (x) => op.stridedSlice(x, [0, 1], [1, -3], [8, 100], [3, 1]))).toBe(
      'R.Tensor((3, 3), "float32")',
    );
    // n may be 0 at run time, so the begin is clamped symbolically.
    expect(infer([f32([n, 8])], (x) => op.stridedSlice(x, [0], [1], [2 ** 31 - 1]))).toBe(
      'R.Tensor((n - T.min(n, 1), 8), "float32")',
    );
    expect(inferError([f32([10])], (x) => op.stridedSlice(x, [0], [0], [5], [0]))).toBe('INVALID_ARGUMENT');
  });
  it('broadcast_to / tile / repeat / pad / triu', () => {
    expect(infer([f32([1, 3])], (x) => op.broadcastTo(x, [n, 4, 3]))).toBe('R.Tensor((n, 4, 3), "float32")');
    expect(inferError([f32([2, 3])], (x) => op.broadcastTo(x, [4, 3]))).toBe('SHAPE_MISMATCH');
    expect(infer([f32([n, 3])], (x) => op.tile(x, [2, 1, 2]))).toBe('R.Tensor((2, n, 6), "float32")');
    expect(infer([f32([n, 3])], (x) => op.repeat(x, 2, 0))).toBe('R.Tensor((n * 2, 3), "float32")');
    expect(infer([f32([n, 3])], (x) => op.pad(x, [1, 2, 0, 1]))).toBe('R.Tensor((n + 3, 4), "float32")');
    expect(inferError([f32([n, 3])], (x) => op.pad(x, [1, 2]))).toBe('INVALID_ARGUMENT');
    expect(inferError([f32([3])], (x) => op.triu(x))).toBe('SHAPE_MISMATCH');
  });
  it('indexing and sorting', () => {
    expect(infer([f32([n, 5, 6]), i64([m, 2])], (x, i) => op.take(x, i, 1))).toBe(
      'R.Tensor((n, m, 2, 6), "float32")',
    );
    expect(inferError([f32([4]), f32([2])], (x, i) => op.take(x, i))).toBe('DTYPE_MISMATCH');
    expect(infer([f32([4, 5]), i64([4, 2])], (x, i) => op.gatherElements(x, i, 1))).toBe(
      'R.Tensor((4, 2), "float32")',
    );
    expect(inferError([f32([4, 5]), i64([4])], (x, i) => op.gatherElements(x, i, 1))).toBe('SHAPE_MISMATCH');
    expect(infer([f32([2, 3, 4]), i64([5, 2])], (x, i) => op.gatherNd(x, i))).toBe(
      'R.Tensor((5, 4), "float32")',
    );
    expect(infer([f32([2, 3, 4]), i64([2, 5, 1])], (x, i) => op.gatherNd(x, i, 1))).toBe(
      'R.Tensor((2, 5, 4), "float32")',
    );
    expect(infer([f32([4, 5]), i64([2, 5]), f32([2, 5])], (x, i, u) => op.scatterElements(x, i, u))).toBe(
      'R.Tensor((4, 5), "float32")',
    );
    expect(infer([i64([n])], (i) => op.oneHot(i, 10))).toBe('R.Tensor((n, 10), "float32")');
    expect(infer([f32([n, 6])], (x) => op.topk(x, 2))).toBe(
      'R.Tuple(R.Tensor((n, 2), "float32"), R.Tensor((n, 2), "int64"))',
    );
    expect(inferError([f32([3, 2])], (x) => op.topk(x, 3))).toBe('SHAPE_MISMATCH');
    expect(infer([f32([n, 6])], (x) => op.argsort(x, 0))).toBe('R.Tensor((n, 6), "int64")');
  });
  it('creation', () => {
    expect(infer([], () => op.zeros([n, 3], 'int32'))).toBe('R.Tensor((n, 3), "int32")');
    expect(infer([tensorSInfo([], 'float32')], (v) => op.full([2, n], v))).toBe(
      'R.Tensor((2, n), "float32")',
    );
    expect(inferError([f32([2])], (v) => op.full([2, n], v))).toBe('SHAPE_MISMATCH');
    expect(infer([f32([n, 2])], (x) => op.onesLike(x, 'int8'))).toBe('R.Tensor((n, 2), "int8")');
    expect(infer([], () => op.arange(0, n))).toBe('R.Tensor((n,), "int64")');
    expect(infer([], () => op.arange(1, 10, 3))).toBe('R.Tensor((3,), "int64")');
    expect(infer([], () => op.arange(0, 1, 0.25, 'float32'))).toBe('R.Tensor((4,), "float32")');
  });
});

describe('manipulation legalization', () => {
  const x = rand('float32', [2, 3, 4], 1);
  it('reshape / flatten / squeeze / expand_dims keep element order', () => {
    for (const build of [
      (a: Parameters<typeof op.exp>[0]) => op.reshape(a, [4, -1]),
      (a: Parameters<typeof op.exp>[0]) => op.flatten(a),
      (a: Parameters<typeof op.exp>[0]) => op.expandDims(a, [1]),
    ]) {
      expect(flat(tensorOut(runOp(build, [x])))).toEqual(flat(x));
    }
    const y = rand('float32', [1, 3, 1], 2);
    const s = tensorOut(runOp((a) => op.squeeze(a), [y]));
    expect(s.shape).toEqual([3]);
    expect(flat(s)).toEqual(flat(y));
  });
  it('reshape with a symbolic dim', () => {
    const a = rand('float32', [3, 8], 3);
    const r = tensorOut(runOp((p) => op.reshape(p, [-1, 2, 4]), [a], [f32([n, 8])]));
    expect(r.shape).toEqual([3, 2, 4]);
    expect(flat(r)).toEqual(flat(a));
  });
  it('permute_dims', () => {
    const r = tensorOut(runOp((a) => op.permuteDims(a, [2, 0, 1]), [x]));
    close(
      r,
      fromFn('float32', [4, 2, 3], ([k, i, j]) => at(x, [i, j, k])),
    );
  });
  it('concat and split', () => {
    const y = rand('float32', [2, 1, 4], 4);
    const z = rand('float32', [2, 2, 4], 5);
    const c = tensorOut(runOp((a, b, d) => op.concat([a, b, d], 1), [x, y, z]));
    close(
      c,
      fromFn('float32', [2, 6, 4], ([i, j, k]) =>
        j < 3 ? at(x, [i, j, k]) : j < 4 ? at(y, [i, 0, k]) : at(z, [i, j - 4, k]),
      ),
    );
    const parts = tupleOut(runOp((a) => op.split(a, [1, 3], 2), [x]).out);
    expect(parts.map((p) => p.shape)).toEqual([
      [2, 3, 1],
      [2, 3, 2],
      [2, 3, 1],
    ]);
    close(
      parts[1],
      fromFn('float32', [2, 3, 2], ([i, j, k]) => at(x, [i, j, k + 1])),
    );
    const eq = tupleOut(runOp((a) => op.split(a, 2, 2), [x]).out);
    close(
      eq[1],
      fromFn('float32', [2, 3, 2], ([i, j, k]) => at(x, [i, j, k + 2])),
    );
  });
  it('strided_slice with negative bounds and steps', () => {
    const a = rand('float32', [10, 6], 6);
    const r = tensorOut(runOp((p) => op.stridedSlice(p, [0, 1], [1, -1], [8, 0], [3, -2]), [a]));
    // rows 1,4,7; cols 5,3,1
    close(
      r,
      fromFn('float32', [3, 3], ([i, j]) => at(a, [1 + 3 * i, 5 - 2 * j])),
    );
  });
  it('broadcast_to / tile / repeat', () => {
    const a = rand('float32', [3, 1], 7);
    close(
      tensorOut(runOp((p) => op.broadcastTo(p, [2, 3, 4]), [a])),
      fromFn('float32', [2, 3, 4], ([, j]) => at(a, [j, 0])),
    );
    const b = rand('float32', [2, 3], 8);
    close(
      tensorOut(runOp((p) => op.tile(p, [2, 1, 2]), [b])),
      fromFn('float32', [2, 2, 6], ([, i, j]) => at(b, [i, j % 3])),
    );
    close(
      tensorOut(runOp((p) => op.repeat(p, 2, 1), [b])),
      fromFn('float32', [2, 6], ([i, j]) => at(b, [i, Math.floor(j / 2)])),
    );
    close(
      tensorOut(runOp((p) => op.repeat(p, 3), [b])),
      fromFn('float32', [18], ([i]) => flat(b)[Math.floor(i / 3)]),
    );
  });
  it('pad constant / edge / reflect', () => {
    const a = rand('float32', [3, 4], 9);
    const pw = [1, 2, 2, 1];
    const ref = (f: (i: number, j: number) => number) =>
      fromFn('float32', [6, 7], ([i, j]) => f(i - 1, j - 2));
    const inb = (i: number, j: number) => i >= 0 && i < 3 && j >= 0 && j < 4;
    close(
      tensorOut(runOp((p) => op.pad(p, pw, 1.5), [a])),
      ref((i, j) => (inb(i, j) ? at(a, [i, j]) : 1.5)),
    );
    const clamp = (v: number, d: number) => Math.max(0, Math.min(d - 1, v));
    close(
      tensorOut(runOp((p) => op.pad(p, pw, 0, 'edge'), [a])),
      ref((i, j) => at(a, [clamp(i, 3), clamp(j, 4)])),
    );
    const refl = (v: number, d: number) => (v < 0 ? -v : v >= d ? 2 * (d - 1) - v : v);
    close(
      tensorOut(runOp((p) => op.pad(p, pw, 0, 'reflect'), [a])),
      ref((i, j) => at(a, [refl(i, 3), refl(j, 4)])),
    );
  });
  it('triu / tril', () => {
    const a = rand('float32', [2, 3, 4], 10);
    close(
      tensorOut(runOp((p) => op.triu(p, 1), [a])),
      fromFn('float32', [2, 3, 4], ([b, i, j]) => (j - i >= 1 ? at(a, [b, i, j]) : 0)),
    );
    close(
      tensorOut(runOp((p) => op.tril(p, -1), [a])),
      fromFn('float32', [2, 3, 4], ([b, i, j]) => (j - i <= -1 ? at(a, [b, i, j]) : 0)),
    );
  });
});

describe('indexing / sorting / creation legalization', () => {
  it('take with negative indices', () => {
    const a = rand('float32', [3, 5], 11);
    const idx = ndarray('int64', [2, 2], [0, -1, 3, 2]);
    const r = tensorOut(runOp((p, i) => op.take(p, i, 1), [a, idx]));
    const iv = [0, 4, 3, 2];
    close(
      r,
      fromFn('float32', [3, 2, 2], ([i, j, k]) => at(a, [i, iv[j * 2 + k]])),
    );
  });
  it('gather_elements / gather_nd', () => {
    const a = rand('float32', [3, 4], 12);
    const idx = ndarray('int64', [3, 2], [0, 3, 1, 1, 2, -1]);
    const iv = [0, 3, 1, 1, 2, 3];
    close(
      tensorOut(runOp((p, i) => op.gatherElements(p, i, 1), [a, idx])),
      fromFn('float32', [3, 2], ([i, j]) => at(a, [i, iv[i * 2 + j]])),
    );
    const b = rand('float32', [2, 3, 4], 13);
    const nd = ndarray('int64', [2, 2], [1, 2, 0, 1]);
    close(
      tensorOut(runOp((p, i) => op.gatherNd(p, i), [b, nd])),
      fromFn('float32', [2, 4], ([q, k]) => (q === 0 ? at(b, [1, 2, k]) : at(b, [0, 1, k]))),
    );
    const nb = ndarray('int64', [2, 1], [2, 0]);
    close(
      tensorOut(runOp((p, i) => op.gatherNd(p, i, 1), [b, nb])),
      fromFn('float32', [2, 4], ([q, k]) => at(b, [q, q === 0 ? 2 : 0, k])),
    );
  });
  it('scatter_elements update / add / mul / min / max', () => {
    const d = rand('float32', [3, 4], 14);
    // Row 1 targets column 2 twice: 'add' accumulates both; 'update' is tested on unique targets.
    const idx = ndarray('int64', [2, 3], [1, 0, 3, 2, 2, 0]);
    const uniq = ndarray('int64', [2, 3], [1, 0, 3, 2, 3, 0]);
    const upd = rand('float32', [2, 3], 15);
    const expectFor = (red: 'update' | 'add', ix: NDArray) => {
      const out = Array.from(d.data as Float32Array);
      for (let i = 0; i < 2; i++)
        for (let j = 0; j < 3; j++) {
          const t = i * 4 + Number(ix.data[i * 3 + j]);
          out[t] = red === 'update' ? at(upd, [i, j]) : out[t] + at(upd, [i, j]);
        }
      return out;
    };
    close(
      tensorOut(runOp((p, i, u) => op.scatterElements(p, i, u, 1), [d, uniq, upd])),
      expectFor('update', uniq),
    );
    close(
      tensorOut(runOp((p, i, u) => op.scatterElements(p, i, u, 1, 'add'), [d, idx, upd])),
      expectFor('add', idx),
    );
    // mul / min / max combine data with every update aimed at it (duplicates included).
    const combineRef = (f: (a: number, b: number) => number) => {
      const out = Array.from(d.data as Float32Array);
      for (let i = 0; i < 2; i++)
        for (let j = 0; j < 3; j++) {
          const t = i * 4 + Number(idx.data[i * 3 + j]);
          out[t] = f(out[t], at(upd, [i, j]));
        }
      return out;
    };
    close(
      tensorOut(runOp((p, i, u) => op.scatterElements(p, i, u, 1, 'mul'), [d, idx, upd])),
      combineRef((a, b) => a * b),
    );
    close(
      tensorOut(runOp((p, i, u) => op.scatterElements(p, i, u, 1, 'min'), [d, idx, upd])),
      combineRef(Math.min),
    );
    close(
      tensorOut(runOp((p, i, u) => op.scatterElements(p, i, u, 1, 'max'), [d, idx, upd])),
      combineRef(Math.max),
    );
  });
  it('one_hot', () => {
    const idx = ndarray('int64', [3], [2, 0, -1]);
    const r = tensorOut(runOp((i) => op.oneHot(i, 4, { onValue: 5, offValue: -1 }), [idx]));
    expect(flat(r)).toEqual([-1, -1, 5, -1, 5, -1, -1, -1, -1, -1, -1, 5]);
  });
  it('sort / argsort / topk (stable, descending)', () => {
    const a = ndarray('float32', [2, 5], [3, 1, 2, 1, 5, 0, -1, 4, 4, 2]);
    expect(flat(tensorOut(runOp((p) => op.sort(p), [a])))).toEqual([1, 1, 2, 3, 5, -1, 0, 2, 4, 4]);
    expect(flat(tensorOut(runOp((p) => op.argsort(p, -1, true), [a])))).toEqual([
      4, 0, 2, 1, 3, 2, 3, 4, 0, 1,
    ]);
    const [v, i] = tupleOut(runOp((p) => op.topk(p, 2), [a]).out);
    expect(flat(v)).toEqual([5, 3, 4, 4]);
    expect(flat(i)).toEqual([4, 0, 2, 3]);
    const small = tensorOut(runOp((p) => op.topk(p, 2, { largest: false, retType: 'values', axis: 0 }), [a]));
    expect(flat(small)).toEqual([0, -1, 2, 1, 2, 3, 1, 4, 4, 5]);
  });
  it('full / zeros / ones / *_like / arange', () => {
    const x = rand('float32', [2, 3], 16);
    expect(flat(tensorOut(runOp(() => op.full([2, 2], scalarConstant(2.5)), [])))).toEqual([
      2.5, 2.5, 2.5, 2.5,
    ]);
    expect(flat(tensorOut(runOp(() => op.ones([3], 'int32'), [])))).toEqual([1, 1, 1]);
    expect(flat(tensorOut(runOp((p) => op.zerosLike(p), [x])))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(flat(tensorOut(runOp((p) => op.fullLike(p, scalarConstant(7, 'int32'), 'int32'), [x])))).toEqual([
      7, 7, 7, 7, 7, 7,
    ]);
    expect(flat(tensorOut(runOp(() => op.arange(2, 11, 3), [])))).toEqual([2, 5, 8]);
    expect(flat(tensorOut(runOp(() => op.arange(0, 1, 0.25, 'float32'), [])))).toEqual([0, 0.25, 0.5, 0.75]);
    // zeros with a symbolic shape bound by an argument
    const r = runOp((p) => op.zeros(op.shapeOf(p), 'float32'), [x]);
    expect(tensorOut(r).shape).toEqual([2, 3]);
  });
});
