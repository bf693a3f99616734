import { dtype as parseDType, primVar } from '@kiln/ir-core';
import type { NDArray } from '@kiln/tensorir';
import { allClose, roundToDType } from '@kiln/tensorir';
import { describe, expect, it } from 'vitest';
import { tensorSInfo } from '../ir/struct-info.js';
import { at, fromFn, infer, inferError, rand, runOp, size, tensorOut, unravel } from '../testing/harness.js';
import * as op from './index.js';

const n = primVar('n');
const h = primVar('h');
const f32 = (shape: readonly (number | typeof n)[]) => tensorSInfo(shape, 'float32');
const close = (a: NDArray, b: NDArray, rtol = 1e-4, atol = 1e-5) => {
  const r = allClose(a, b, rtol, atol);
  expect(r.ok, r.message).toBe(true);
};

describe('nn inference', () => {
  it('conv output shapes (padding, strides, dilation, groups, symbolic)', () => {
    expect(
      infer([f32([n, 3, 32, 32]), f32([16, 3, 3, 3])], (x, w) => op.conv2d(x, w, { padding: [1] })),
    ).toBe('R.Tensor((n, 16, 32, 32), "float32")');
    expect(
      infer([f32([1, 4, h, 9]), f32([8, 2, 3, 3])], (x, w) => op.conv2d(x, w, { strides: [2], groups: 2 })),
    ).toBe(
      'R.Tensor((1, 8, (h - 3) // 2 + 1, 4), "float32")'.replace(
        '(h - 3) // 2 + 1',
        infer([f32([1, 4, h, 9]), f32([8, 2, 3, 3])], (x, w) =>
          op.conv2d(x, w, { strides: [2], groups: 2 }),
        ).match(/8, (.*), 4\)/)![1],
      ),
    );
    expect(
      infer([f32([1, 2, 10]), f32([4, 2, 3])], (x, w) => op.conv1d(x, w, { dilation: [2], padding: [1, 0] })),
    ).toBe('R.Tensor((1, 4, 7), "float32")');
    expect(infer([f32([1, 2, 4, 4, 4]), f32([3, 2, 2, 2, 2])], (x, w) => op.conv3d(x, w))).toBe(
      'R.Tensor((1, 3, 3, 3, 3), "float32")',
    );
    expect(
      infer([f32([1, 4, 5, 5]), f32([4, 3, 3, 3])], (x, w) =>
        op.conv2dTranspose(x, w, { strides: [2], padding: [1], outputPadding: [1] }),
      ),
    ).toBe('R.Tensor((1, 3, 10, 10), "float32")');
  });
  it('conv errors', () => {
    expect(inferError([f32([1, 3, 8, 8]), f32([4, 2, 3, 3])], (x, w) => op.conv2d(x, w))).toBe(
      'SHAPE_MISMATCH',
    );
    expect(inferError([f32([1, 3, 8]), f32([4, 3, 3, 3])], (x, w) => op.conv2d(x, w))).toBe('SHAPE_MISMATCH');
    expect(inferError([f32([1, 3, 2, 2]), f32([4, 3, 3, 3])], (x, w) => op.conv2d(x, w))).toBe(
      'SHAPE_MISMATCH',
    );
    expect(inferError([f32([1, 4, 8, 8]), f32([3, 2, 3, 3])], (x, w) => op.conv2d(x, w, { groups: 2 }))).toBe(
      'SHAPE_MISMATCH',
    );
    expect(
      inferError([f32([1, 3, 8, 8]), f32([4, 3, 3, 3])], (x, w) => op.conv2d(x, w, { padding: [1, 1, 1] })),
    ).toBe('INVALID_ARGUMENT');
  });
  it('pooling', () => {
    expect(infer([f32([n, 3, 8, 8])], (x) => op.maxPool2d(x, [2, 2], { strides: [2] }))).toBe(
      'R.Tensor((n, 3, 4, 4), "float32")',
    );
    expect(infer([f32([1, 3, 7, 7])], (x) => op.avgPool2d(x, [2], { strides: [2], ceilMode: true }))).toBe(
      'R.Tensor((1, 3, 4, 4), "float32")',
    );
    expect(infer([f32([n, 3, h, 8])], (x) => op.globalAvgPool2d(x))).toBe(
      'R.Tensor((n, 3, 1, 1), "float32")',
    );
    expect(infer([f32([n, 3, h, 8])], (x) => op.adaptiveAvgPool2d(x))).toBe(
      'R.Tensor((n, 3, h, 8), "float32")',
    );
    expect(inferError([f32([1, 3, 8])], (x) => op.maxPool2d(x, [2]))).toBe('SHAPE_MISMATCH');
  });
  it('norms, softmax, attention, resize', () => {
    expect(infer([f32([n, 8]), f32([8]), f32([8])], (x, g, b) => op.layerNorm(x, g, b))).toBe(
      'R.Tensor((n, 8), "float32")',
    );
    expect(inferError([f32([n, 8]), f32([7]), f32([8])], (x, g, b) => op.layerNorm(x, g, b))).toBe(
      'SHAPE_MISMATCH',
    );
    expect(
      infer([f32([2, 4, 3]), f32([4]), f32([4]), f32([4]), f32([4])], (x, g, b, m, v) =>
        op.batchNorm(x, g, b, m, v),
      ),
    ).toBe('R.Tensor((2, 4, 3), "float32")');
    expect(
      inferError([f32([2, 4, 3]), f32([3]), f32([4]), f32([4]), f32([4])], (x, g, b, m, v) =>
        op.batchNorm(x, g, b, m, v),
      ),
    ).toBe('SHAPE_MISMATCH');
    expect(inferError([f32([2, 6, 3]), f32([6]), f32([6])], (x, g, b) => op.groupNorm(x, g, b, 4))).toBe(
      'SHAPE_MISMATCH',
    );
    expect(infer([f32([n, 6])], (x) => op.softmax(x))).toBe('R.Tensor((n, 6), "float32")');
    expect(inferError([tensorSInfo([3], 'int32')], (x) => op.softmax(x))).toBe('DTYPE_MISMATCH');
    expect(inferError([f32([3])], (x) => op.softmax(x, 1))).toBe('INVALID_ARGUMENT');
    expect(
      infer([f32([2, n, 4, 8]), f32([2, 10, 4, 8]), f32([2, 10, 4, 16])], (q, k, v) => op.attention(q, k, v)),
    ).toBe('R.Tensor((2, n, 4, 16), "float32")');
    expect(
      inferError([f32([2, 5, 4, 8]), f32([2, 10, 4, 8]), f32([2, 9, 4, 16])], (q, k, v) =>
        op.attention(q, k, v),
      ),
    ).toBe('SHAPE_MISMATCH');
    expect(infer([f32([1, 3, h, 4])], (x) => op.resize2d(x, [n, 8]))).toBe(
      'R.Tensor((1, 3, n, 8), "float32")',
    );
  });
});

/** N-d grouped convolution reference (NC..., OI...). */
function convRef(
  x: NDArray,
  w: NDArray,
  strides: number[],
  pads: number[],
  dil: number[],
  groups: number,
): NDArray {
  const sp = x.shape.length - 2;
  const out = [
    x.shape[0],
    w.shape[0],
    ...Array.from(
      { length: sp },
      (_, i) =>
        Math.floor((x.shape[2 + i] + 2 * pads[i] - dil[i] * (w.shape[2 + i] - 1) - 1) / strides[i]) + 1,
    ),
  ];
  const icg = w.shape[1];
  const ocg = w.shape[0] / groups;
  const ks = w.shape.slice(2);
  return fromFn('float32', out, ([nn, oc, ...o]) => {
    const g = Math.floor(oc / ocg);
    let s = 0;
    for (let ic = 0; ic < icg; ic++) {
      for (let kf = 0; kf < size(ks); kf++) {
        const k = unravel(kf, ks);
        const pos = o.map((v, i) => v * strides[i] + k[i] * dil[i] - pads[i]);
        if (pos.some((p, i) => p < 0 || p >= x.shape[2 + i])) continue;
        s += at(x, [nn, g * icg + ic, ...pos]) * at(w, [oc, ic, ...k]);
      }
    }
    return s;
  });
}

describe('nn legalization', () => {
  it('conv2d with padding, stride, dilation, groups', () => {
    const x = rand('float32', [2, 4, 7, 6], 1);
    const w = rand('float32', [6, 2, 3, 2], 2);
    const got = tensorOut(
      runOp(
        (a, b) => op.conv2d(a, b, { strides: [2, 1], padding: [1], dilation: [1, 2], groups: 2 }),
        [x, w],
      ),
    );
    close(got, convRef(x, w, [2, 1], [1, 1], [1, 2], 2));
  });
  it('conv1d and conv3d', () => {
    const x1 = rand('float32', [1, 3, 9], 3);
    const w1 = rand('float32', [2, 3, 3], 4);
    close(
      tensorOut(runOp((a, b) => op.conv1d(a, b, { padding: [2], dilation: [2] }), [x1, w1])),
      convRef(x1, w1, [1], [2], [2], 1),
    );
    const x3 = rand('float32', [1, 2, 4, 4, 3], 5);
    const w3 = rand('float32', [2, 2, 2, 2, 2], 6);
    close(
      tensorOut(runOp((a, b) => op.conv3d(a, b, { padding: [1] }), [x3, w3])),
      convRef(x3, w3, [1, 1, 1], [1, 1, 1], [1, 1, 1], 1),
    );
  });
  it('conv2d with a symbolic batch', () => {
    const x = rand('float32', [3, 2, 5, 5], 7);
    const w = rand('float32', [4, 2, 3, 3], 8);
    const got = tensorOut(
      runOp((a, b) => op.conv2d(a, b, { padding: [1] }), [x, w], [tensorSInfo([n, 2, 5, 5], 'float32')]),
    );
    close(got, convRef(x, w, [1, 1], [1, 1], [1, 1], 1));
  });
  it('conv1d in float16 accumulates in float32 and rounds once (numpy)', () => {
    const t = parseDType('float16');
    const x = rand('float16', [1, 8, 20], 21, 0, 1);
    const w = rand('float16', [2, 8, 5], 22, 0, 1);
    const ref = fromFn('float16', [1, 2, 16], ([, o, p]) => {
      let acc = 0;
      for (let c = 0; c < 8; c++)
        for (let k = 0; k < 5; k++)
          acc = Math.fround(acc + Math.fround(at(x, [0, c, p + k]) * at(w, [o, c, k])));
      return roundToDType(acc, t);
    });
    const got = tensorOut(runOp((a, b) => op.conv1d(a, b), [x, w]));
    expect(Array.from({ length: 32 }, (_, i) => at(got, unravel(i, [1, 2, 16])))).toEqual(
      Array.from({ length: 32 }, (_, i) => at(ref, unravel(i, [1, 2, 16]))),
    );
  });
  it('conv3d_transpose (stride, padding)', () => {
    const x = rand('float32', [1, 2, 2, 3, 2], 19);
    const w = rand('float32', [2, 2, 2, 3, 2], 20);
    const s = [2, 1, 2];
    const p = [0, 1, 1];
    const outS = [0, 1, 2].map((i) => (x.shape[2 + i] - 1) * s[i] - 2 * p[i] + w.shape[2 + i]);
    const ref = fromFn('float32', [1, 2, ...outS], ([nn, oc, ...o]) => {
      let acc = 0;
      for (let ic = 0; ic < 2; ic++)
        for (let kd = 0; kd < w.shape[2]; kd++)
          for (let kh = 0; kh < w.shape[3]; kh++)
            for (let kw = 0; kw < w.shape[4]; kw++) {
              const k = [kd, kh, kw];
              const num = o.map((v, i) => v + p[i] - k[i]);
              if (num.some((v, i) => v % s[i] !== 0)) continue;
              const idx = num.map((v, i) => v / s[i]);
              if (idx.some((v, i) => v < 0 || v >= x.shape[2 + i])) continue;
              acc += at(x, [nn, ic, ...idx]) * at(w, [ic, oc, ...k]);
            }
      return acc;
    });
    close(tensorOut(runOp((a, b) => op.conv3dTranspose(a, b, { strides: s, padding: p }), [x, w])), ref);
  });
  it('conv2d_transpose (stride, padding, output padding, groups)', () => {
    const x = rand('float32', [1, 4, 3, 4], 9);
    const w = rand('float32', [4, 3, 3, 2], 10);
    const s = [2, 3];
    const p = [1, 0];
    const op_ = [1, 0];
    const groups = 2;
    const ocg = 3;
    const icg = 2;
    const outS = [0, 1].map(
      (i) => (x.shape[2 + i] - 1) * s[i] - 2 * p[i] + (w.shape[2 + i] - 1) + op_[i] + 1,
    );
    const ref = fromFn('float32', [1, ocg * groups, ...outS], ([nn, oc, oy, ox]) => {
      const g = Math.floor(oc / ocg);
      let acc = 0;
      for (let ic = 0; ic < icg; ic++)
        for (let ky = 0; ky < w.shape[2]; ky++)
          for (let kx = 0; kx < w.shape[3]; kx++) {
            const ny = oy + p[0] - ky;
            const nx = ox + p[1] - kx;
            if (ny % s[0] || nx % s[1]) continue;
            const iy = ny / s[0];
            const ix = nx / s[1];
            if (iy < 0 || ix < 0 || iy >= x.shape[2] || ix >= x.shape[3]) continue;
            acc += at(x, [nn, g * icg + ic, iy, ix]) * at(w, [g * icg + ic, oc % ocg, ky, kx]);
          }
      return acc;
    });
    const got = tensorOut(
      runOp(
        (a, b) => op.conv2dTranspose(a, b, { strides: s, padding: p, outputPadding: op_, groups }),
        [x, w],
      ),
    );
    close(got, ref);
  });
  function poolRef(
    x: NDArray,
    k: number[],
    s: number[],
    p: number[],
    kind: 'max' | 'avg',
    ceil = false,
    includePad = false,
  ): NDArray {
    const sp = x.shape.length - 2;
    const outS = Array.from({ length: sp }, (_, i) => {
      const span = x.shape[2 + i] + 2 * p[i] - k[i];
      let o = (ceil ? Math.ceil(span / s[i]) : Math.floor(span / s[i])) + 1;
      if (ceil && (o - 1) * s[i] >= x.shape[2 + i] + p[i]) o--;
      return o;
    });
    return fromFn('float32', [x.shape[0], x.shape[1], ...outS], ([nn, c, ...o]) => {
      let m = -Infinity;
      let sum = 0;
      let cnt = 0;
      for (let kf = 0; kf < size(k); kf++) {
        const kk = unravel(kf, k);
        const pos = o.map((v, i) => v * s[i] + kk[i] - p[i]);
        const inPad = pos.every((q, i) => q >= -p[i] && q < x.shape[2 + i] + p[i]);
        if (includePad && inPad) cnt++;
        if (pos.some((q, i) => q < 0 || q >= x.shape[2 + i])) continue;
        const v = at(x, [nn, c, ...pos]);
        m = Math.max(m, v);
        sum += v;
        if (!includePad) cnt++;
      }
      return kind === 'max' ? m : sum / cnt;
    });
  }
  it('max / avg pooling incl. padding, ceil mode, count_include_pad', () => {
    const x = rand('float32', [1, 2, 7, 6], 11);
    close(
      tensorOut(runOp((a) => op.maxPool2d(a, [3, 3], { strides: [2], padding: [1] }), [x])),
      poolRef(x, [3, 3], [2, 2], [1, 1], 'max'),
    );
    close(
      tensorOut(runOp((a) => op.avgPool2d(a, [2, 2], { strides: [2], ceilMode: true }), [x])),
      poolRef(x, [2, 2], [2, 2], [0, 0], 'avg', true),
    );
    close(
      tensorOut(
        runOp((a) => op.avgPool2d(a, [3, 3], { strides: [2], padding: [1], countIncludePad: true }), [x]),
      ),
      poolRef(x, [3, 3], [2, 2], [1, 1], 'avg', false, true),
    );
    const x1 = rand('float32', [2, 3, 9], 12);
    close(
      tensorOut(runOp((a) => op.maxPool1d(a, [3], { strides: [2] }), [x1])),
      poolRef(x1, [3], [2], [0], 'max'),
    );
  });
  it('ceil-mode pooling over a symbolic spatial dim runs one kernel for all sizes', () => {
    const sinfo = [tensorSInfo([1, 2, h, 6], 'float32')];
    for (const hv of [5, 6, 7]) {
      const x = rand('float32', [1, 2, hv, 6], hv);
      const got = tensorOut(
        runOp((a) => op.maxPool2d(a, [2, 2], { strides: [2], ceilMode: true }), [x], sinfo),
      );
      close(got, poolRef(x, [2, 2], [2, 2], [0, 0], 'max', true));
    }
  });
  it('adaptive and global pooling', () => {
    const x = rand('float32', [1, 2, 7, 5], 13);
    const ref = (oh: number, ow: number, kind: 'max' | 'avg') =>
      fromFn('float32', [1, 2, oh, ow], ([nn, c, i, j]) => {
        const y0 = Math.floor((i * 7) / oh);
        const y1 = Math.ceil(((i + 1) * 7) / oh);
        const x0 = Math.floor((j * 5) / ow);
        const x1 = Math.ceil(((j + 1) * 5) / ow);
        let m = -Infinity;
        let s = 0;
        for (let y = y0; y < y1; y++)
          for (let z = x0; z < x1; z++) {
            m = Math.max(m, at(x, [nn, c, y, z]));
            s += at(x, [nn, c, y, z]);
          }
        return kind === 'max' ? m : s / ((y1 - y0) * (x1 - x0));
      });
    close(tensorOut(runOp((a) => op.adaptiveAvgPool2d(a, [3, 2]), [x])), ref(3, 2, 'avg'));
    close(tensorOut(runOp((a) => op.adaptiveMaxPool2d(a, [4, 3]), [x])), ref(4, 3, 'max'));
    close(tensorOut(runOp((a) => op.globalAvgPool2d(a), [x])), ref(1, 1, 'avg'));
  });
  it('softmax and log_softmax', () => {
    const x = rand('float32', [3, 5], 14, -4, 4);
    const sm = fromFn('float32', [3, 5], ([i, j]) => {
      let mx = -Infinity;
      for (let k = 0; k < 5; k++) mx = Math.max(mx, at(x, [i, k]));
      let s = 0;
      for (let k = 0; k < 5; k++) s += Math.exp(at(x, [i, k]) - mx);
      return Math.exp(at(x, [i, j]) - mx) / s;
    });
    close(tensorOut(runOp((a) => op.softmax(a), [x])), sm);
    close(
      tensorOut(runOp((a) => op.logSoftmax(a, 1), [x])),
      fromFn('float32', [3, 5], (i) => Math.log(at(sm, i))),
    );
    const sm0 = tensorOut(runOp((a) => op.softmax(a, 0), [x]));
    expect(
      Array.from({ length: 5 }, (_, j) => at(sm0, [0, j]) + at(sm0, [1, j]) + at(sm0, [2, j])).every(
        (v) => Math.abs(v - 1) < 1e-5,
      ),
    ).toBe(true);
  });
  it('softmax in 16-bit floats rounds each step like the ONNX reference', () => {
    for (const dt of ['float16', 'bfloat16'] as const) {
      const t = parseDType(dt);
      const r = (v: number) => roundToDType(v, t);
      const x = rand(dt, [2, 40], 15, -3, 3);
      const want = fromFn(dt, [2, 40], ([i, j]) => {
        let mx = -Infinity;
        for (let k = 0; k < 40; k++) mx = Math.max(mx, at(x, [i, k]));
        const e = (k: number) => r(Math.exp(r(at(x, [i, k]) - mx)));
        let s = 0;
        // float16 sums in float32 (numpy); bfloat16 rounds each partial sum (ml_dtypes)
        for (let k = 0; k < 40; k++) s = dt === 'float16' ? Math.fround(s + e(k)) : r(s + e(k));
        return r(e(j) / r(s));
      });
      const got = tensorOut(runOp((a) => op.softmax(a), [x]));
      expect(Array.from({ length: 80 }, (_, i) => at(got, unravel(i, [2, 40])))).toEqual(
        Array.from({ length: 80 }, (_, i) => at(want, unravel(i, [2, 40]))),
      );
    }
  });
  const meanVar = (vals: number[]) => {
    const m = vals.reduce((a, b) => a + b, 0) / vals.length;
    return [m, vals.reduce((a, b) => a + (b - m) ** 2, 0) / vals.length];
  };
  it('layer_norm / rms_norm / batch_norm / group_norm', () => {
    const x = rand('float32', [2, 3, 4], 15, -2, 2);
    const g = rand('float32', [4], 16);
    const b = rand('float32', [4], 17);
    const ln = fromFn('float32', [2, 3, 4], ([i, j, k]) => {
      const [m, v] = meanVar([0, 1, 2, 3].map((t) => at(x, [i, j, t])));
      return ((at(x, [i, j, k]) - m) / Math.sqrt(v + 1e-5)) * at(g, [k]) + at(b, [k]);
    });
    close(tensorOut(runOp((a, c, d) => op.layerNorm(a, c, d), [x, g, b])), ln);
    const rms = fromFn('float32', [2, 3, 4], ([i, j, k]) => {
      const ms = [0, 1, 2, 3].reduce((a, t) => a + at(x, [i, j, t]) ** 2, 0) / 4;
      return (at(x, [i, j, k]) / Math.sqrt(ms + 1e-6)) * at(g, [k]);
    });
    close(tensorOut(runOp((a, c) => op.rmsNorm(a, c, { epsilon: 1e-6 }), [x, g])), rms);
    const gc = rand('float32', [3], 18);
    const bc = rand('float32', [3], 19);
    const mean = rand('float32', [3], 20);
    const vr = rand('float32', [3], 21, 0.5, 2);
    const bn = fromFn(
      'float32',
      [2, 3, 4],
      ([i, c, k]) =>
        ((at(x, [i, c, k]) - at(mean, [c])) / Math.sqrt(at(vr, [c]) + 1e-5)) * at(gc, [c]) + at(bc, [c]),
    );
    close(tensorOut(runOp((a, c, d, e, f) => op.batchNorm(a, c, d, e, f), [x, gc, bc, mean, vr])), bn);
    const xg = rand('float32', [2, 4, 3], 22, -2, 2);
    const g4 = rand('float32', [4], 23);
    const b4 = rand('float32', [4], 24);
    const gn = fromFn('float32', [2, 4, 3], ([i, c, k]) => {
      const grp = Math.floor(c / 2);
      const vals: number[] = [];
      for (let cc = grp * 2; cc < grp * 2 + 2; cc++)
        for (let t = 0; t < 3; t++) vals.push(at(xg, [i, cc, t]));
      const [m, v] = meanVar(vals);
      return ((at(xg, [i, c, k]) - m) / Math.sqrt(v + 1e-5)) * at(g4, [c]) + at(b4, [c]);
    });
    close(tensorOut(runOp((a, c, d) => op.groupNorm(a, c, d, 2), [xg, g4, b4])), gn);
  });
  function attnRef(
    q: NDArray,
    k: NDArray,
    v: NDArray,
    causal: 'TopLeft' | 'BottomRight' | null,
    bias?: NDArray,
  ): NDArray {
    const [B, S, H, D] = q.shape;
    const T_ = k.shape[1];
    const Dv = v.shape[3];
    return fromFn('float32', [B, S, H, Dv], ([b, s, hh, dv]) => {
      const sc: number[] = [];
      for (let t = 0; t < T_; t++) {
        let x = 0;
        for (let d = 0; d < D; d++) x += at(q, [b, s, hh, d]) * at(k, [b, t, hh, d]);
        x /= Math.sqrt(D);
        if (bias) x += at(bias, [b, hh, s, t]);
        const lim = causal === 'TopLeft' ? s : causal === 'BottomRight' ? s + T_ - S : Infinity;
        sc.push(t <= lim ? x : -Infinity);
      }
      const mx = Math.max(...sc);
      const e = sc.map((x) => Math.exp(x - mx));
      const z = e.reduce((a, c) => a + c, 0);
      return e.reduce((a, w, t) => a + (w / z) * at(v, [b, t, hh, dv]), 0);
    });
  }
  it('attention with and without causal masks and bias', () => {
    const q = rand('float32', [1, 3, 2, 4], 25);
    const k = rand('float32', [1, 5, 2, 4], 26);
    const v = rand('float32', [1, 5, 2, 3], 27);
    close(tensorOut(runOp((a, b, c) => op.attention(a, b, c), [q, k, v])), attnRef(q, k, v, null));
    close(
      tensorOut(runOp((a, b, c) => op.attention(a, b, c, { causalMask: 'BottomRight' }), [q, k, v])),
      attnRef(q, k, v, 'BottomRight'),
    );
    const qs = rand('float32', [1, 4, 2, 4], 28);
    const ks = rand('float32', [1, 4, 2, 4], 29);
    const vs = rand('float32', [1, 4, 2, 3], 30);
    const bias = rand('float32', [1, 2, 4, 4], 31);
    close(
      tensorOut(
        runOp((a, b, c, d) => op.attention(a, b, c, { causalMask: 'TopLeft', bias: d }), [qs, ks, vs, bias]),
      ),
      attnRef(qs, ks, vs, 'TopLeft', bias),
    );
  });
  it('resize2d with scales, half_pixel_symmetric, tf_crop_and_resize and antialias (ONNX semantics)', () => {
    // Reference: one axis at a time in float64, as onnx.reference's Resize does.
    type Mode = 'half_pixel' | 'align_corners' | 'half_pixel_symmetric' | 'tf_crop_and_resize';
    interface Cfg {
      method: 'linear' | 'cubic';
      mode: Mode;
      out: [number, number];
      scales: [number, number];
      roi?: [number, number, number, number];
      antialias?: boolean;
    }
    const keys = (t: number) => {
      const u = Math.abs(t);
      const A = -0.75;
      return u <= 1
        ? (A + 2) * u ** 3 - (A + 3) * u ** 2 + 1
        : u < 2
          ? A * u ** 3 - 5 * A * u ** 2 + 8 * A * u - 4 * A
          : 0;
    };
    const axis1d = (c: Cfg, ax: 0 | 1, inLen: number, o: number) => {
      const scale = c.scales[ax];
      const outF = scale * inLen;
      const outI = c.out[ax];
      let s: number;
      if (c.mode === 'align_corners') s = outF === 1 ? 0 : (o * (inLen - 1)) / (outF - 1);
      else if (c.mode === 'tf_crop_and_resize') {
        const [r0, r1] = [c.roi![ax], c.roi![ax + 2]];
        s =
          (outF === 1 ? ((r1 - r0) * (inLen - 1)) / 2 : (o * (r1 - r0) * (inLen - 1)) / (outF - 1)) +
          r0 * (inLen - 1);
      } else {
        const off = c.mode === 'half_pixel_symmetric' ? (inLen / 2) * (1 - outI / outF) : 0;
        s = off + (o + 0.5) / scale - 0.5;
      }
      const outside = c.mode === 'tf_crop_and_resize' && (s < 0 || s > inLen - 1);
      const i0 = Number.isInteger(s) ? s - 1 : Math.floor(s);
      const ratio = s - i0;
      const aa = c.antialias ? Math.min(scale, 1) : 1;
      const start = Math.floor((c.method === 'cubic' ? -2 : -1) / aa) + 1;
      const taps: { i: number; w: number }[] = [];
      for (let k = start; k < 2 - start; k++) {
        const d = (k - ratio) * aa;
        taps.push({
          i: Math.max(0, Math.min(inLen - 1, i0 + k)),
          w: c.method === 'cubic' ? keys(d) : Math.max(0, 1 - Math.abs(d)),
        });
      }
      const sum = c.antialias ? taps.reduce((acc, t) => acc + t.w, 0) : 1;
      return { outside, taps: taps.map((t) => ({ i: t.i, w: t.w / sum })) };
    };
    const x = rand('float32', [1, 2, 6, 7], 33);
    const [H, W] = [6, 7];
    const reference = (c: Cfg) =>
      fromFn('float32', [1, 2, ...c.out], ([nn, ch, oy, ox]) => {
        const ay = axis1d(c, 0, H, oy);
        const ax = axis1d(c, 1, W, ox);
        if (ay.outside || ax.outside) return 0.25;
        let acc = 0;
        for (const b of ax.taps) {
          let col = 0;
          for (const a of ay.taps) col += a.w * at(x, [nn, ch, a.i, b.i]);
          acc += b.w * col;
        }
        return acc;
      });
    const cfgs: Cfg[] = [
      { method: 'linear', mode: 'half_pixel', out: [3, 4], scales: [0.6, 0.6] },
      { method: 'cubic', mode: 'align_corners', out: [3, 4], scales: [0.6, 0.6] },
      { method: 'linear', mode: 'half_pixel_symmetric', out: [3, 5], scales: [0.6, 0.8] },
      {
        method: 'linear',
        mode: 'tf_crop_and_resize',
        out: [4, 5],
        scales: [4 / 6, 5 / 7],
        roi: [0.4, 0.6, 1.2, 0.8],
      },
      { method: 'linear', mode: 'half_pixel', out: [3, 4], scales: [0.6, 0.6], antialias: true },
      { method: 'cubic', mode: 'half_pixel', out: [2, 3], scales: [2 / 6, 3 / 7], antialias: true },
    ];
    for (const c of cfgs) {
      const got = tensorOut(
        runOp(
          (a) =>
            op.resize2d(a, c.out, {
              method: c.method,
              coordinateTransformationMode: c.mode,
              scales: c.scales,
              roi: c.roi ?? null,
              antialias: c.antialias ?? false,
              extrapolationValue: 0.25,
            }),
          [x],
        ),
      );
      close(got, reference(c));
    }
  });
  it('resize2d nearest, linear and cubic', () => {
    const x = rand('float32', [1, 2, 3, 4], 32);
    const lin = (mode: 'half_pixel' | 'align_corners' | 'asymmetric', oh: number, ow: number) =>
      fromFn('float32', [1, 2, oh, ow], ([nn, c, oy, ox]) => {
        const src = (o: number, i: number, out: number) =>
          mode === 'align_corners'
            ? out > 1
              ? (o * (i - 1)) / (out - 1)
              : 0
            : mode === 'asymmetric'
              ? (o * i) / out
              : ((o + 0.5) * i) / out - 0.5;
        const sy = src(oy, 3, oh);
        const sx = src(ox, 4, ow);
        const y0 = Math.floor(sy);
        const x0 = Math.floor(sx);
        const cl = (v: number, m: number) => Math.max(0, Math.min(m - 1, v));
        const ld = (y: number, z: number) => at(x, [nn, c, cl(y, 3), cl(z, 4)]);
        const wy = sy - y0;
        const wx = sx - x0;
        return (
          (ld(y0, x0) * (1 - wx) + ld(y0, x0 + 1) * wx) * (1 - wy) +
          (ld(y0 + 1, x0) * (1 - wx) + ld(y0 + 1, x0 + 1) * wx) * wy
        );
      });
    for (const mode of ['half_pixel', 'align_corners', 'asymmetric'] as const) {
      close(
        tensorOut(runOp((a) => op.resize2d(a, [5, 7], { coordinateTransformationMode: mode }), [x])),
        lin(mode, 5, 7),
      );
    }
    const keys = (t: number, A: number) => {
      const u = Math.abs(t);
      return u <= 1
        ? (A + 2) * u ** 3 - (A + 3) * u ** 2 + 1
        : u < 2
          ? A * u ** 3 - 5 * A * u ** 2 + 8 * A * u - 4 * A
          : 0;
    };
    const cubicRef = (oh: number, ow: number, A: number, exclude: boolean) =>
      fromFn('float32', [1, 2, oh, ow], ([nn, c, oy, ox]) => {
        const sy = ((oy + 0.5) * 3) / oh - 0.5;
        const sx = ((ox + 0.5) * 4) / ow - 0.5;
        const tap = (s: number, size: number) =>
          [-1, 0, 1, 2].map((k) => {
            const i = Math.floor(s) + k;
            const w = exclude && (i < 0 || i >= size) ? 0 : keys(s - i, A);
            return { i: Math.max(0, Math.min(size - 1, i)), w };
          });
        const ty = tap(sy, 3);
        const tx = tap(sx, 4);
        let acc = 0;
        for (const a of ty) for (const b of tx) acc += a.w * b.w * at(x, [nn, c, a.i, b.i]);
        if (!exclude) return acc;
        return acc / (ty.reduce((s, t) => s + t.w, 0) * tx.reduce((s, t) => s + t.w, 0));
      });
    close(
      tensorOut(runOp((a) => op.resize2d(a, [5, 7], { method: 'cubic' }), [x])),
      cubicRef(5, 7, -0.75, false),
    );
    close(
      tensorOut(
        runOp((a) => op.resize2d(a, [6, 3], { method: 'cubic', cubicAlpha: -0.5, cubicExclude: true }), [x]),
      ),
      cubicRef(6, 3, -0.5, true),
    );
    const near = fromFn('float32', [1, 2, 6, 8], ([nn, c, oy, ox]) =>
      at(x, [nn, c, Math.floor((oy * 3) / 6), Math.floor((ox * 4) / 8)]),
    );
    close(
      tensorOut(
        runOp(
          (a) =>
            op.resize2d(a, [6, 8], {
              method: 'nearest_neighbor',
              coordinateTransformationMode: 'asymmetric',
              roundingMethod: 'floor',
            }),
          [x],
        ),
      ),
      near,
    );
  });
});
