// Converters of ops/tensor.ts: OneHot with negative and out-of-range indices.
import { describe, expect, it } from 'vitest';
import { hostTensor } from '../host.js';
import { fromOnnx } from '../importer.js';
import { halfBitsToNumber } from '../proto.js';
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

describe('Pad wrap, Dropout training', () => {
  it("Pad mode 'wrap' reads the opposite side, also for pads larger than the axis", () => {
    const bytes = buildModel({
      nodes: [{ op: 'Pad', inputs: ['x', 'pads'], outputs: ['y'], attrs: { mode: 'wrap' } }],
      inputs: [{ name: 'x', dtype: 'float32', shape: [2, 3] }],
      outputs: ['y'],
      inits: { pads: hostTensor('int64', [4], [1, 4, 0, 1]) },
      opset: 19,
    });
    const [y] = compileAndLoad(fromOnnx(bytes))(hostTensor('float32', [2, 3], [1, 2, 3, 4, 5, 6]));
    expect(y.shape).toEqual([3, 8]);
    const row = (r: number[]) => [r[2], r[0], r[1], r[2], r[0], r[1], r[2], r[0]];
    expect(y.data).toEqual([...row([4, 5, 6]), ...row([1, 2, 3]), ...row([4, 5, 6])]);
  });

  it('Dropout in training mode with ratio 0 is the identity with an all-true mask; other ratios are refused', () => {
    const model = (ratio: number) =>
      buildModel({
        nodes: [{ op: 'Dropout', inputs: ['x', 'r', 't'], outputs: ['y', 'm'] }],
        inputs: [{ name: 'x', dtype: 'float32', shape: [2, 2] }],
        outputs: ['y', 'm'],
        inits: { r: hostTensor('float32', [], [ratio]), t: hostTensor('bool', [], [1]) },
        opset: 13,
      });
    const [y, m] = compileAndLoad(fromOnnx(model(0)))(hostTensor('float32', [2, 2], [1, -2, 3, 0.5]));
    expect(y.data).toEqual([1, -2, 3, 0.5]);
    expect(m.data).toEqual([1, 1, 1, 1]);
    let code: string | undefined;
    try {
      fromOnnx(model(0.5));
    } catch (e) {
      code = (e as { code?: string }).code;
    }
    expect(code).toBe('ONNX_UNSUPPORTED_OP');
  });
});

describe('folding at import time', () => {
  it('a bfloat16 result folded at import time keeps its values (OneHot with constant indices)', () => {
    const bytes = buildModel({
      nodes: [{ op: 'OneHot', inputs: ['i', 'depth', 'vals'], outputs: ['y'], attrs: { axis: 1 } }],
      inputs: [],
      outputs: ['y'],
      inits: {
        i: hostTensor('int64', [2], [0, 2]),
        depth: hostTensor('float32', [], [4]),
        vals: hostTensor('bfloat16', [2], [1, 3]),
      },
      opset: 11,
    });
    const [y] = compileAndLoad(fromOnnx(bytes))();
    expect(y.data.map((b) => halfBitsToNumber(b, 'bfloat16'))).toEqual([3, 1, 1, 1, 1, 1, 3, 1]);
  });
});
