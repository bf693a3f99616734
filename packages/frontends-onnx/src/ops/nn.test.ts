// Converters of ops/nn.ts: Einsum with an ellipsis.
import { describe, expect, it } from 'vitest';
import { hostTensor } from '../host.js';
import { fromOnnx } from '../importer.js';
import { buildModel, closeness, compileAndLoad } from '../testing.test-util.js';

function rand(n: number, seed: number, lo = -1, hi = 1): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.fround(lo + ((s >>> 8) / 2 ** 24) * (hi - lo));
  });
}

function einsum(equation: string, shapes: number[][], data: number[][]) {
  const names = shapes.map((_, i) => `x${i}`);
  const bytes = buildModel({
    nodes: [{ op: 'Einsum', inputs: names, outputs: ['y'], attrs: { equation } }],
    inputs: shapes.map((shape, i) => ({ name: names[i], dtype: 'float32', shape })),
    outputs: ['y'],
    opset: 12,
  });
  return compileAndLoad(fromOnnx(bytes))(...shapes.map((s, i) => hostTensor('float32', s, data[i])))[0];
}

describe('Einsum', () => {
  it('an ellipsis stands for the leading dims: batch diagonal and batched matmul', () => {
    const x = rand(2 * 3 * 3, 3);
    const diag = einsum('...ii->...i', [[2, 3, 3]], [x]);
    expect(diag.shape).toEqual([2, 3]);
    expect(
      closeness(
        diag.data,
        [0, 1].flatMap((b) => [0, 1, 2].map((i) => x[b * 9 + i * 4])),
      ),
    ).toBeLessThanOrEqual(1);
    const a = rand(2 * 2 * 3, 4);
    const c = rand(3 * 4, 5);
    // implicit output: ellipsis dims first, then the letters used once (i, k)
    const mm = einsum(
      '...ij,jk',
      [
        [2, 2, 3],
        [3, 4],
      ],
      [a, c],
    );
    expect(mm.shape).toEqual([2, 2, 4]);
    const want: number[] = [];
    for (let b = 0; b < 2; b++)
      for (let i = 0; i < 2; i++)
        for (let k = 0; k < 4; k++) {
          let s = 0;
          for (let j = 0; j < 3; j++) s += a[b * 6 + i * 3 + j] * c[j * 4 + k];
          want.push(s);
        }
    expect(closeness(mm.data, want)).toBeLessThanOrEqual(1);
  });
});

describe('Resize', () => {
  // Linear resize along one axis (ONNX reference semantics, float64).
  function linear1d(
    v: (i: number) => number,
    inLen: number,
    o: number,
    scale: number,
    mode: string,
    roi: [number, number],
  ): number | undefined {
    let s: number;
    if (mode === 'tf_crop_and_resize') {
      s = (o * (roi[1] - roi[0]) * (inLen - 1)) / (scale * inLen - 1) + roi[0] * (inLen - 1);
      if (s < 0 || s > inLen - 1) return undefined;
    } else s = (o + 0.5) / scale - 0.5;
    const i0 = Math.floor(s);
    const cl = (i: number) => Math.max(0, Math.min(inLen - 1, i));
    return v(cl(i0)) * (1 - (s - i0)) + v(cl(i0 + 1)) * (s - i0);
  }

  function resize(
    inputs: { roi?: number[]; scales?: number[]; sizes?: number[] },
    attrs: Record<string, number | number[] | string>,
  ) {
    const x = rand(1 * 1 * 4 * 5, 9);
    const inits: Record<string, ReturnType<typeof hostTensor>> = {};
    const names = ['x', '', '', ''];
    if (inputs.roi) {
      inits.roi = hostTensor('float32', [inputs.roi.length], inputs.roi);
      names[1] = 'roi';
    }
    if (inputs.scales) {
      inits.scales = hostTensor('float32', [inputs.scales.length], inputs.scales);
      names[2] = 'scales';
    }
    if (inputs.sizes) {
      inits.sizes = hostTensor('int64', [inputs.sizes.length], inputs.sizes);
      names[3] = 'sizes';
    }
    const bytes = buildModel({
      nodes: [{ op: 'Resize', inputs: names, outputs: ['y'], attrs: { mode: 'linear', ...attrs } }],
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 1, 4, 5] }],
      outputs: ['y'],
      inits,
      opset: 19,
    });
    return { x, y: compileAndLoad(fromOnnx(bytes))(hostTensor('float32', [1, 1, 4, 5], x))[0] };
  }

  it('scales drive the coordinate mapping (not output / input sizes)', () => {
    const { x, y } = resize({ scales: [0.6, 0.7] }, { axes: [2, 3] });
    expect(y.shape).toEqual([1, 1, 2, 3]);
    const want: number[] = [];
    for (let oy = 0; oy < 2; oy++)
      for (let ox = 0; ox < 3; ox++) {
        const row = (iy: number) =>
          linear1d((ix) => x[iy * 5 + ix], 5, ox, 0.7, 'half_pixel', [0, 1]) as number;
        want.push(linear1d(row, 4, oy, 0.6, 'half_pixel', [0, 1]) as number);
      }
    expect(closeness(y.data, want)).toBeLessThanOrEqual(1);
  });

  it('tf_crop_and_resize takes the roi of the listed axes and extrapolates outside it', () => {
    // axes (3, 2): roi = [x1, y1, x2, y2]
    const { x, y } = resize(
      { roi: [0.2, 0.4, 1.3, 0.9], sizes: [4, 3] },
      { axes: [3, 2], coordinate_transformation_mode: 'tf_crop_and_resize', extrapolation_value: 7 },
    );
    expect(y.shape).toEqual([1, 1, 3, 4]);
    const want: number[] = [];
    for (let oy = 0; oy < 3; oy++)
      for (let ox = 0; ox < 4; ox++) {
        const col = linear1d((ix) => ix, 5, ox, 4 / 5, 'tf_crop_and_resize', [0.2, 1.3]);
        const rowPos = linear1d((iy) => iy, 4, oy, 3 / 4, 'tf_crop_and_resize', [0.4, 0.9]);
        if (col === undefined || rowPos === undefined) {
          want.push(7);
          continue;
        }
        const row = (iy: number) =>
          linear1d((ix) => x[iy * 5 + ix], 5, ox, 4 / 5, 'tf_crop_and_resize', [0.2, 1.3]) as number;
        want.push(linear1d(row, 4, oy, 3 / 4, 'tf_crop_and_resize', [0.4, 0.9]) as number);
      }
    expect(want).toContain(7);
    expect(closeness(y.data, want)).toBeLessThanOrEqual(1);
  });
});

describe('MaxPool Indices, BatchNormalization training, ConvTranspose 3-D', () => {
  it('MaxPool returns the flat index of the first maximum (row- and column-major)', () => {
    // Ties and padding: 1×2×3×4 input with repeated values.
    const x = [3, 1, 3, 2, 0, 5, 5, 1, 4, 4, 2, 0, 1, 1, 1, 1, 9, 2, 2, 9, 0, 0, 7, 7];
    for (const storage_order of [0, 1]) {
      const bytes = buildModel({
        nodes: [
          {
            op: 'MaxPool',
            inputs: ['x'],
            outputs: ['y', 'i'],
            attrs: { kernel_shape: [2, 2], pads: [1, 0, 0, 1], strides: [1, 2], storage_order },
          },
        ],
        inputs: [{ name: 'x', dtype: 'float32', shape: [1, 2, 3, 4] }],
        outputs: ['y', 'i'],
        opset: 12,
      });
      const [y, ind] = compileAndLoad(fromOnnx(bytes))(hostTensor('float32', [1, 2, 3, 4], x));
      const [OH, OW] = [3, 2];
      expect(y.shape).toEqual([1, 2, OH, OW]);
      const wantY: number[] = [];
      const wantI: number[] = [];
      for (let c = 0; c < 2; c++)
        for (let oy = 0; oy < OH; oy++)
          for (let ox = 0; ox < OW; ox++) {
            let best = Number.NEGATIVE_INFINITY;
            let at = -1;
            for (let ky = 0; ky < 2; ky++)
              for (let kx = 0; kx < 2; kx++) {
                const [h, w] = [oy - 1 + ky, ox * 2 + kx];
                if (h < 0 || h >= 3 || w < 0 || w >= 4) continue;
                const v = x[c * 12 + h * 4 + w];
                if (v > best) {
                  best = v;
                  at = c * 12 + (storage_order ? h + w * 3 : h * 4 + w);
                }
              }
            wantY.push(best);
            wantI.push(at);
          }
      expect(y.data).toEqual(wantY);
      expect(ind.data).toEqual(wantI);
    }
  });

  it('BatchNormalization training_mode=1 uses batch statistics and updates the running ones', () => {
    const [N, C, L] = [2, 3, 4];
    const x = rand(N * C * L, 61);
    const [s, b, m, v] = [rand(C, 62), rand(C, 63), rand(C, 64), rand(C, 65, 0.5, 1.5)];
    const bytes = buildModel({
      nodes: [
        {
          op: 'BatchNormalization',
          inputs: ['x', 's', 'b', 'm', 'v'],
          outputs: ['y', 'rm', 'rv'],
          attrs: { training_mode: 1, momentum: 0.8, epsilon: 0.01 },
        },
      ],
      inputs: [{ name: 'x', dtype: 'float32', shape: [N, C, L] }],
      outputs: ['y', 'rm', 'rv'],
      inits: {
        s: hostTensor('float32', [C], s),
        b: hostTensor('float32', [C], b),
        m: hostTensor('float32', [C], m),
        v: hostTensor('float32', [C], v),
      },
      opset: 15,
    });
    const [y, rm, rv] = compileAndLoad(fromOnnx(bytes))(hostTensor('float32', [N, C, L], x));
    const wantY = new Array<number>(N * C * L);
    const wantM: number[] = [];
    const wantV: number[] = [];
    for (let c = 0; c < C; c++) {
      const vals: number[] = [];
      for (let n = 0; n < N; n++) for (let l = 0; l < L; l++) vals.push(x[(n * C + c) * L + l]);
      const mean = vals.reduce((p, q) => p + q, 0) / vals.length;
      const variance = vals.reduce((p, q) => p + (q - mean) ** 2, 0) / vals.length;
      for (let n = 0; n < N; n++)
        for (let l = 0; l < L; l++) {
          const i = (n * C + c) * L + l;
          wantY[i] = (s[c] * (x[i] - mean)) / Math.sqrt(variance + 0.01) + b[c];
        }
      wantM.push(m[c] * 0.8 + mean * 0.2);
      wantV.push(v[c] * 0.8 + variance * 0.2);
    }
    expect(closeness(y.data, wantY)).toBeLessThanOrEqual(1);
    expect(closeness(rm.data, wantM)).toBeLessThanOrEqual(1);
    expect(closeness(rv.data, wantV)).toBeLessThanOrEqual(1);
  });

  it('ConvTranspose on a 3-D volume (strides)', () => {
    const x = rand(1 * 2 * 2 * 3 * 2, 71);
    const w = rand(2 * 1 * 2 * 2 * 2, 72);
    const bytes = buildModel({
      nodes: [{ op: 'ConvTranspose', inputs: ['x', 'w'], outputs: ['y'], attrs: { strides: [2, 1, 2] } }],
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 2, 2, 3, 2] }],
      outputs: ['y'],
      inits: { w: hostTensor('float32', [2, 1, 2, 2, 2], w) },
      opset: 11,
    });
    const [y] = compileAndLoad(fromOnnx(bytes))(hostTensor('float32', [1, 2, 2, 3, 2], x));
    const out = [4, 4, 4];
    expect(y.shape).toEqual([1, 1, ...out]);
    const want = new Array<number>(64).fill(0);
    for (let c = 0; c < 2; c++)
      for (let d = 0; d < 2; d++)
        for (let h = 0; h < 3; h++)
          for (let ww = 0; ww < 2; ww++)
            for (let kd = 0; kd < 2; kd++)
              for (let kh = 0; kh < 2; kh++)
                for (let kw = 0; kw < 2; kw++) {
                  const [od, oh, ow] = [d * 2 + kd, h + kh, ww * 2 + kw];
                  want[(od * 4 + oh) * 4 + ow] +=
                    x[((c * 2 + d) * 3 + h) * 2 + ww] * w[((c * 2 + kd) * 2 + kh) * 2 + kw];
                }
    expect(closeness(y.data, want)).toBeLessThanOrEqual(1);
  });
});
