// Shape computations over symbolic dims in the patterns exporters produce for models with
// a dynamic batch and sequence (Hugging Face encoders): a constant buffer sliced to the
// sequence length, torch's expand guarded by Where(Equal(shape, -1), ...), and a dim used
// as tensor data. One artifact must serve every batch and sequence length.
import { describe, expect, it } from 'vitest';
import { hostTensor } from '../host.js';
import { fromOnnx } from '../importer.js';
import { onnx, onnxDTypeOf } from '../proto.js';
import { closeness, compileAndLoad, int64Tensor, onnxNode } from '../testing.test-util.js';

const node = onnxNode;
const i64 = int64Tensor;
const MAXLEN = 32;

function buildModel(): Uint8Array {
  const pos = {
    name: 'pos',
    dataType: 1,
    dims: [1, MAXLEN],
    floatData: Array.from({ length: MAXLEN }, (_, i) => i * 0.5),
  };
  const m = onnx.ModelProto.fromObject({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'g',
      node: [
        node('Shape', ['x'], ['shp']),
        node('Gather', ['shp', 'zero'], ['b'], [{ name: 'axis', type: 2, i: 0 }]),
        node('Gather', ['shp', 'one'], ['s'], [{ name: 'axis', type: 2, i: 0 }]),
        node('Unsqueeze', ['b', 'ax0'], ['b1']),
        node('Unsqueeze', ['s', 'ax0'], ['s1']),
        // pos[:, 0:s]
        node('Slice', ['pos', 'zero1', 's1', 'one1'], ['pslice']),
        node('Add', ['x', 'pslice'], ['y0']),
        // expand guarded the way torch exports expand(b, s)
        node('Concat', ['b1', 's1'], ['want'], [{ name: 'axis', type: 2, i: 0 }]),
        node('Equal', ['want', 'minus1'], ['isneg']),
        node('Where', ['isneg', 'ones2', 'want'], ['eshape']),
        node('Expand', ['c11', 'eshape'], ['bias']),
        node('Add', ['y0', 'bias'], ['y1']),
        // the sequence length as data: y = y1 * float(s)
        node('Cast', ['s'], ['sf'], [{ name: 'to', type: 2, i: 1 }]),
        node('Mul', ['y1', 'sf'], ['y']),
      ],
      initializer: [
        pos,
        i64('zero', [], [0]),
        i64('one', [], [1]),
        i64('ax0', [1], [0]),
        i64('zero1', [1], [0]),
        i64('one1', [1], [1]),
        i64('minus1', [2], [-1, -1]),
        i64('ones2', [2], [1, 1]),
        { name: 'c11', dataType: 1, dims: [1, 1], floatData: [0.25] },
      ],
      input: [
        {
          name: 'x',
          type: {
            tensorType: {
              elemType: onnxDTypeOf('float32'),
              shape: { dim: [{ dimParam: 'batch' }, { dimParam: 'seq' }] },
            },
          },
        },
      ],
      output: [{ name: 'y' }],
    },
  });
  return onnx.ModelProto.encode(m).finish();
}

function shapeOutputModel(): Uint8Array {
  const m = onnx.ModelProto.fromObject({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'g',
      node: [node('Shape', ['x'], ['shp']), node('Mul', ['shp', 'two'], ['y'])],
      initializer: [i64('two', [], [2])],
      input: [
        {
          name: 'x',
          type: {
            tensorType: {
              elemType: onnxDTypeOf('float32'),
              shape: { dim: [{ dimParam: 'batch' }, { dimValue: 3 }, { dimParam: 'seq' }] },
            },
          },
        },
      ],
      output: [{ name: 'y' }],
    },
  });
  return onnx.ModelProto.encode(m).finish();
}

describe('symbolic shape computations', () => {
  it('returns a shape computation as a graph output', () => {
    const run = compileAndLoad(fromOnnx(shapeOutputModel()));
    const [y] = run(hostTensor('float32', [4, 3, 7], new Array(84).fill(0)));
    expect(y.shape).toEqual([3]);
    expect(y.data).toEqual([8, 6, 14]);
  });

  it('slices a buffer to the sequence length, folds the guarded expand, and uses a dim as data', () => {
    const run = compileAndLoad(fromOnnx(buildModel()));
    for (const [b, s] of [
      [2, 5],
      [3, 9],
      [1, MAXLEN],
    ]) {
      const x = Array.from({ length: b * s }, (_, i) => Math.fround(Math.sin(i)));
      const [y] = run(hostTensor('float32', [b, s], x));
      expect(y.shape).toEqual([b, s]);
      const want = x.map((v, i) => (v + (i % s) * 0.5 + 0.25) * s);
      expect(closeness(y.data, want)).toBeLessThanOrEqual(1);
    }
  });
});
