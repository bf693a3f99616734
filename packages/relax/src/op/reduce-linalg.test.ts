import { dtype as parseDType, primVar } from '@kiln/ir-core';
import type { NDArray } from '@kiln/tensorir';
import { allClose, roundToDType } from '@kiln/tensorir';
import { describe, expect, it } from 'vitest';
import { tensorSInfo } from '../ir/struct-info.js';
import { at, fromFn, infer, inferError, rand, runOp, size, tensorOut, unravel } from '../testing/harness.js';
import * as op from './index.js';

const n = primVar('n');
const f32 = (shape: readonly (number | typeof n)[]) => tensorSInfo(shape, 'float32');

describe('reduction inference', () => {
  it('axes, keepdims, all', () => {
    expect(infer([f32([n, 3, 4])], (x) => op.sum(x, { axis: [1] }))).toBe('R.Tensor((n, 4), "float32")');
    expect(infer([f32([n, 3, 4])], (x) => op.mean(x, { axis: [-1], keepdims: true }))).toBe(
      'R.Tensor((n, 3, 1), "float32")',
    );
    expect(infer([f32([n, 3])], (x) => op.max(x))).toBe('R.Tensor((), "float32")');
    expect(infer([f32([n, 3])], (x) => op.argmax(x, { axis: 0 }))).toBe('R.Tensor((3,), "int64")');
    expect(infer([f32([n, 3])], (x) => op.cumsum(x))).toBe('R.Tensor((n * 3,), "float32")');
    expect(infer([f32([n, 3])], (x) => op.cumsum(x, { axis: 1, dtype: 'float64' }))).toBe(
      'R.Tensor((n, 3), "float64")',
    );
    expect(infer([tensorSInfo(undefined, 'float32', { ndim: 3 })], (x) => op.sum(x, { axis: [0, 1] }))).toBe(
      'R.Tensor("float32", ndim=1)',
    );
  });
  it('errors', () => {
    expect(inferError([f32([2, 3])], (x) => op.sum(x, { axis: [2] }))).toBe('INVALID_ARGUMENT');
    expect(inferError([f32([2, 3])], (x) => op.sum(x, { axis: [1, -1] }))).toBe('INVALID_ARGUMENT');
    expect(inferError([tensorSInfo([2], 'int32')], (x) => op.mean(x))).toBe('DTYPE_MISMATCH');
  });
});

describe('matmul / linear / einsum inference', () => {
  it('batched, broadcast, vector promotion, symbolic', () => {
    expect(infer([f32([n, 4, 8]), f32([8, 5])], (a, b) => op.matmul(a, b))).toBe(
      'R.Tensor((n, 4, 5), "float32")',
    );
    expect(infer([f32([2, 1, 4, 8]), f32([3, 8, 5])], (a, b) => op.matmul(a, b))).toBe(
      'R.Tensor((2, 3, 4, 5), "float32")',
    );
    expect(infer([f32([8]), f32([n, 8, 5])], (a, b) => op.matmul(a, b))).toBe('R.Tensor((n, 5), "float32")');
    expect(infer([f32([4, 8]), f32([8])], (a, b) => op.matmul(a, b))).toBe('R.Tensor((4,), "float32")');
    expect(infer([f32([8]), f32([8])], (a, b) => op.matmul(a, b))).toBe('R.Tensor((), "float32")');
    expect(
      infer([tensorSInfo([4, 8], 'int8'), tensorSInfo([8, 2], 'int8')], (a, b) => op.matmul(a, b, 'int32')),
    ).toBe('R.Tensor((4, 2), "int32")');
    expect(infer([f32([n, 768]), f32([3072, 768]), f32([3072])], (x, w, b) => op.linear(x, w, b))).toBe(
      'R.Tensor((n, 3072), "float32")',
    );
    expect(infer([f32([n, 4]), f32([4, 5])], (a, b) => op.einsum([a, b], 'ij,jk->ik'))).toBe(
      'R.Tensor((n, 5), "float32")',
    );
    expect(infer([f32([3, 4]), f32([4, 5])], (a, b) => op.einsum([a, b], 'ij,jk'))).toBe(
      'R.Tensor((3, 5), "float32")',
    );
  });
  it('errors', () => {
    expect(inferError([f32([4, 8]), f32([7, 5])], (a, b) => op.matmul(a, b))).toBe('SHAPE_MISMATCH');
    expect(inferError([f32([2, 4, 8]), f32([3, 8, 5])], (a, b) => op.matmul(a, b))).toBe('SHAPE_MISMATCH');
    expect(inferError([f32([4, 8]), tensorSInfo([8, 5], 'float16')], (a, b) => op.matmul(a, b))).toBe(
      'DTYPE_MISMATCH',
    );
    expect(inferError([f32([4, 8]), f32([5, 7])], (x, w) => op.linear(x, w))).toBe('SHAPE_MISMATCH');
    expect(inferError([f32([3, 4]), f32([5, 6])], (a, b) => op.einsum([a, b], 'ij,jk->ik'))).toBe(
      'SHAPE_MISMATCH',
    );
    expect(inferError([f32([3, 4])], (a) => op.einsum([a], 'ijk->i'))).toBe('SHAPE_MISMATCH');
    expect(inferError([f32([3, 4])], (a) => op.einsum([a], 'ij->z'))).toBe('INVALID_ARGUMENT');
  });
});

function reduceRef(
  x: NDArray,
  axes: number[],
  keep: boolean,
  init: number,
  f: (acc: number, v: number) => number,
  fin = (v: number, _cnt: number) => v,
): NDArray {
  const outShape = x.shape.flatMap((d, i) => (axes.includes(i) ? (keep ? [1] : []) : [d]));
  const acc = new Map<number, number>();
  const cnt = axes.reduce((a, i) => a * x.shape[i], 1);
  for (let f0 = 0; f0 < size(x.shape); f0++) {
    const idx = unravel(f0, x.shape);
    const o = idx.flatMap((v, i) => (axes.includes(i) ? (keep ? [0] : []) : [v]));
    const key = o.reduce((a, v, i) => a * outShape[i] + v, 0);
    acc.set(key, f(acc.get(key) ?? init, at(x, idx)));
  }
  return fromFn(x.dtype.str, outShape, (o) =>
    fin(acc.get(o.reduce((a, v, i) => a * outShape[i] + v, 0)) ?? init, cnt),
  );
}

describe('reduction legalization', () => {
  const x = rand('float32', [3, 4, 5], 11);
  const cases: Array<[string, (e: Parameters<typeof op.sum>[0]) => ReturnType<typeof op.sum>, NDArray]> = [
    ['sum axis 1', (e) => op.sum(e, { axis: [1] }), reduceRef(x, [1], false, 0, (a, v) => a + v)],
    ['sum all', (e) => op.sum(e), reduceRef(x, [0, 1, 2], false, 0, (a, v) => a + v)],
    [
      'max keepdims',
      (e) => op.max(e, { axis: [0, 2], keepdims: true }),
      reduceRef(x, [0, 2], true, -Infinity, Math.max),
    ],
    ['min', (e) => op.min(e, { axis: [2] }), reduceRef(x, [2], false, Infinity, Math.min)],
    ['prod', (e) => op.prod(e, { axis: [0] }), reduceRef(x, [0], false, 1, (a, v) => a * v)],
    [
      'mean',
      (e) => op.mean(e, { axis: [1, 2] }),
      reduceRef(
        x,
        [1, 2],
        false,
        0,
        (a, v) => a + v,
        (v, c) => v / c,
      ),
    ],
  ];
  for (const [title, build, ref] of cases) {
    it(title, () => {
      const rep = allClose(tensorOut(runOp((p) => build(p), [x])), ref, 1e-4, 1e-5);
      expect(rep.ok, rep.message).toBe(true);
    });
  }
  it('variance and std (population)', () => {
    const mean = reduceRef(
      x,
      [2],
      true,
      0,
      (a, v) => a + v,
      (v, c) => v / c,
    );
    const dev = fromFn('float32', x.shape, (i) => (at(x, i) - at(mean, [i[0], i[1], 0])) ** 2);
    const varRef = reduceRef(
      dev,
      [2],
      false,
      0,
      (a, v) => a + v,
      (v, c) => v / c,
    );
    expect(allClose(tensorOut(runOp((p) => op.variance(p, { axis: [2] }), [x])), varRef, 1e-4, 1e-5).ok).toBe(
      true,
    );
    const stdRef = fromFn('float32', varRef.shape, (i) => Math.sqrt(at(varRef, i)));
    expect(allClose(tensorOut(runOp((p) => op.std(p, { axis: [-1] }), [x])), stdRef, 1e-4, 1e-5).ok).toBe(
      true,
    );
  });
  it('argmax / argmin with axis and over everything', () => {
    const am = tensorOut(runOp((p) => op.argmax(p, { axis: 1 }), [x]));
    const ref = fromFn('int64', [3, 5], ([i, k]) => {
      let best = 0;
      for (let j = 1; j < 4; j++) if (at(x, [i, j, k]) > at(x, [i, best, k])) best = j;
      return best;
    });
    expect(Array.from(am.data, Number)).toEqual(Array.from(ref.data, Number));
    const all = tensorOut(runOp((p) => op.argmin(p), [x]));
    const flat = Array.from(x.data as Float32Array);
    expect(Number(all.data[0])).toBe(flat.indexOf(Math.min(...flat)));
    const keep = tensorOut(runOp((p) => op.argmax(p, { axis: -1, keepdims: true }), [x]));
    expect(keep.shape).toEqual([3, 4, 1]);
  });
  it('cumsum / cumprod, exclusive, flattened', () => {
    const y = rand('float32', [3, 4], 5);
    const cs = tensorOut(runOp((p) => op.cumsum(p, { axis: 1 }), [y]));
    const ref = fromFn('float32', [3, 4], ([i, j]) => {
      let s = 0;
      for (let k = 0; k <= j; k++) s += at(y, [i, k]);
      return s;
    });
    expect(allClose(cs, ref, 1e-5, 1e-6).ok).toBe(true);
    const ex = tensorOut(runOp((p) => op.cumprod(p, { axis: 0, exclusive: true }), [y]));
    const exRef = fromFn('float32', [3, 4], ([i, j]) => {
      let s = 1;
      for (let k = 0; k < i; k++) s *= at(y, [k, j]);
      return s;
    });
    expect(allClose(ex, exRef, 1e-5, 1e-6).ok).toBe(true);
    const fl = tensorOut(runOp((p) => op.cumsum(p), [y]));
    const flat = Array.from(y.data as Float32Array);
    expect(
      allClose(
        fl,
        flat.map((_, i) => flat.slice(0, i + 1).reduce((a, b) => a + b, 0)),
        1e-5,
        1e-5,
      ).ok,
    ).toBe(true);
  });
  it('symbolic reduction kernel', () => {
    const sinfo = [tensorSInfo([n, 4], 'float32')];
    for (const rows of [2, 5]) {
      const a = rand('float32', [rows, 4], rows);
      const r = tensorOut(runOp((p) => op.sum(p, { axis: [0] }), [a], sinfo));
      expect(
        allClose(
          r,
          reduceRef(a, [0], false, 0, (u, v) => u + v),
          1e-5,
          1e-6,
        ).ok,
      ).toBe(true);
    }
  });
});

function matmulRef(a: NDArray, b: NDArray): NDArray {
  const A = a.shape.length === 1 ? fromFn('float32', [1, a.shape[0]], ([, k]) => at(a, [k])) : a;
  const B = b.shape.length === 1 ? fromFn('float32', [b.shape[0], 1], ([k]) => at(b, [k])) : b;
  const ab = A.shape.slice(0, -2);
  const bb = B.shape.slice(0, -2);
  const nb = Math.max(ab.length, bb.length);
  const batch = Array.from({ length: nb }, (_, i) =>
    Math.max(ab[ab.length - nb + i] ?? 1, bb[bb.length - nb + i] ?? 1),
  );
  const [M, K] = A.shape.slice(-2);
  const N = B.shape[B.shape.length - 1];
  const full = fromFn('float32', [...batch, M, N], (idx) => {
    const bi = idx.slice(0, nb);
    const pick = (_t: NDArray, tb: readonly number[]) =>
      tb.map((d, i) => (d === 1 ? 0 : bi[nb - tb.length + i]));
    let s = 0;
    for (let k = 0; k < K; k++)
      s += at(A, [...pick(A, ab), idx[nb], k]) * at(B, [...pick(B, bb), k, idx[nb + 1]]);
    return s;
  });
  let shape = [...batch, M, N];
  if (a.shape.length === 1) shape = shape.filter((_, i) => i !== nb);
  if (b.shape.length === 1) shape = shape.slice(0, -1);
  return fromFn(
    'float32',
    shape,
    (i) => full.data[i.length ? i.reduce((acc, v, d) => acc * shape[d] + v, 0) : 0] as number,
  );
}

describe('matmul / linear / einsum legalization', () => {
  const shapes: Array<[number[], number[]]> = [
    [
      [3, 4],
      [4, 5],
    ],
    [
      [2, 3, 4],
      [4, 5],
    ],
    [
      [2, 1, 3, 4],
      [3, 4, 2],
    ],
    [[4], [2, 4, 3]],
    [[3, 4], [4]],
  ];
  for (const [sa, sb] of shapes) {
    it(`matmul [${sa}] x [${sb}]`, () => {
      const a = rand('float32', sa, 1);
      const b = rand('float32', sb, 2);
      const rep = allClose(tensorOut(runOp((x, y) => op.matmul(x, y), [a, b])), matmulRef(a, b), 1e-4, 1e-5);
      expect(rep.ok, rep.message).toBe(true);
    });
  }
  it('matmul with a symbolic batch', () => {
    const sinfo = [tensorSInfo([n, 3, 4], 'float32'), tensorSInfo([4, 2], 'float32')];
    const a = rand('float32', [2, 3, 4], 3);
    const b = rand('float32', [4, 2], 4);
    expect(
      allClose(tensorOut(runOp((x, y) => op.matmul(x, y), [a, b], sinfo)), matmulRef(a, b), 1e-4, 1e-5).ok,
    ).toBe(true);
  });
  it('linear with and without bias', () => {
    const x = rand('float32', [2, 3, 4], 5);
    const w = rand('float32', [6, 4], 6);
    const bias = rand('float32', [6], 7);
    const ref = (withBias: boolean) =>
      fromFn('float32', [2, 3, 6], ([i, j, o]) => {
        let s = withBias ? at(bias, [o]) : 0;
        for (let k = 0; k < 4; k++) s += at(x, [i, j, k]) * at(w, [o, k]);
        return s;
      });
    expect(
      allClose(tensorOut(runOp((a, b, c) => op.linear(a, b, c), [x, w, bias])), ref(true), 1e-4, 1e-5).ok,
    ).toBe(true);
    expect(allClose(tensorOut(runOp((a, b) => op.linear(a, b), [x, w])), ref(false), 1e-4, 1e-5).ok).toBe(
      true,
    );
  });
  it('einsum: batched matmul, trace-like reduction, outer product', () => {
    const a = rand('float32', [2, 3, 4], 8);
    const b = rand('float32', [2, 4, 5], 9);
    const bmm = tensorOut(runOp((x, y) => op.einsum([x, y], 'bij,bjk->bik'), [a, b]));
    const ref = fromFn('float32', [2, 3, 5], ([z, i, k]) => {
      let s = 0;
      for (let j = 0; j < 4; j++) s += at(a, [z, i, j]) * at(b, [z, j, k]);
      return s;
    });
    expect(allClose(bmm, ref, 1e-4, 1e-5).ok).toBe(true);
    const u = rand('float32', [3], 1);
    const v = rand('float32', [4], 2);
    const outer = tensorOut(runOp((x, y) => op.einsum([x, y], 'i,j->ij'), [u, v]));
    expect(
      allClose(
        outer,
        fromFn('float32', [3, 4], ([i, j]) => at(u, [i]) * at(v, [j])),
        1e-5,
        1e-6,
      ).ok,
    ).toBe(true);
    const red = tensorOut(runOp((x) => op.einsum([x], 'bij->b'), [a]));
    expect(
      allClose(
        red,
        fromFn('float32', [2], ([z]) => {
          let s = 0;
          for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) s += at(a, [z, i, j]);
          return s;
        }),
        1e-4,
        1e-5,
      ).ok,
    ).toBe(true);
  });
});

describe('16-bit float accumulation (as the ONNX reference, numpy, computes)', () => {
  const toF = (a: NDArray) => Array.from({ length: size(a.shape) }, (_, i) => at(a, unravel(i, a.shape)));
  for (const dt of ['float16', 'bfloat16'] as const) {
    it(`matmul in ${dt} accumulates in float32 and rounds once`, () => {
      const a = rand(dt, [3, 96], 11, 0, 1);
      const b = rand(dt, [96, 4], 12, 0, 1);
      const ref = fromFn(dt, [3, 4], ([i, j]) => {
        let s = 0;
        for (let k = 0; k < 96; k++) s = Math.fround(s + Math.fround(at(a, [i, k]) * at(b, [k, j])));
        return roundToDType(s, parseDType(dt));
      });
      expect(toF(tensorOut(runOp((x, y) => op.matmul(x, y), [a, b])))).toEqual(toF(ref));
    });
  }
  it('sum in float16 accumulates in float32; bfloat16 rounds every partial sum', () => {
    for (const dt of ['float16', 'bfloat16'] as const) {
      const t = parseDType(dt);
      const x = rand(dt, [2, 200], 13, 0, 1);
      const ref = fromFn(dt, [2], ([i]) => {
        let s = 0;
        for (let k = 0; k < 200; k++)
          s = dt === 'float16' ? Math.fround(s + at(x, [i, k])) : roundToDType(s + at(x, [i, k]), t);
        return roundToDType(s, t);
      });
      expect(toF(tensorOut(runOp((p) => op.sum(p, { axis: [1] }), [x])))).toEqual(toF(ref));
    }
  });
});
