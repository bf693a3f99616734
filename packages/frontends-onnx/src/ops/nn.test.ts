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
