// Converters of ops/tensor.ts: OneHot with negative and out-of-range indices.
import { describe, expect, it } from 'vitest';
import { hostTensor } from '../host.js';
import { fromOnnx } from '../importer.js';
import { buildModel, compileAndLoad } from '../testing.test-util.js';

describe('OneHot', () => {
  it('negative indices count from the end once; out-of-range ones give all off values', () => {
    const bytes = buildModel({
      nodes: [{ op: 'OneHot', inputs: ['i', 'depth', 'vals'], outputs: ['y'], attrs: { axis: 1 } }],
      inputs: [{ name: 'i', dtype: 'int64', shape: [4] }],
      outputs: ['y'],
      inits: { depth: hostTensor('float32', [], [5]), vals: hostTensor('float32', [2], [1, 3]) },
      opset: 11,
    });
    const [y] = compileAndLoad(fromOnnx(bytes))(hostTensor('int64', [4], [5, -6, -1, 2]));
    expect(y.shape).toEqual([4, 5]);
    expect(y.data).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 1, 1, 3, 1, 1]);
  });
});
