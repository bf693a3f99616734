// End to end: import → compile with the default CPU pipeline → run, compared with the
// onnxruntime reference outputs committed next to the fixtures (make_fixtures.py), and
// the repository's digits CNN against its reference logits.
import { join } from 'node:path';
import { readNpy } from '@kiln/cli';
import { describe, expect, it } from 'vitest';
import type { HostTensor } from './host.js';
import { hostTensor } from './host.js';
import { fromOnnx } from './importer.js';
import { buildModel, closeness, compileAndLoad, fixture, fixtureTensor } from './testing.test-util.js';

const ROOT = join(import.meta.dirname, '../../..');

describe('numerics against onnxruntime', () => {
  it('a symbolic batch compiles once and runs at batch 1 and batch 7 from one artifact', () => {
    const run = compileAndLoad(fromOnnx(fixture('mlp_dynamic.onnx')));
    for (const k of [0, 1]) {
      const x = fixtureTensor(`mlp_dynamic.${k}.in0.pb`);
      const want = fixtureTensor(`mlp_dynamic.${k}.out0.pb`);
      const [y] = run(x);
      expect(y.shape).toEqual([k === 0 ? 1 : 7, 4]);
      expect(closeness(y.data, want.data)).toBeLessThanOrEqual(1);
    }
  });

  it('folded shape arithmetic on a symbolic dim', () => {
    const run = compileAndLoad(fromOnnx(fixture('shape_fold.onnx')));
    for (const k of [0, 1]) {
      const [y] = run(fixtureTensor(`shape_fold.${k}.in0.pb`));
      const want = fixtureTensor(`shape_fold.${k}.out0.pb`);
      expect(y.shape).toEqual([...want.shape]);
      expect(closeness(y.data, want.data)).toBeLessThanOrEqual(1);
    }
  });

  it('a small CNN (SAME_UPPER conv, batch norm, pooling, Gemm with alpha)', () => {
    const run = compileAndLoad(fromOnnx(fixture('cnn_small.onnx')));
    const [y] = run(fixtureTensor('cnn_small.0.in0.pb'));
    expect(closeness(y.data, fixtureTensor('cnn_small.0.out0.pb').data, 1e-3)).toBeLessThanOrEqual(1);
  });

  it('external data initializers', () => {
    const run = compileAndLoad(fromOnnx(fixture('external_data.onnx')));
    const [y] = run(fixtureTensor('external_data.0.in0.pb'));
    expect(closeness(y.data, fixtureTensor('external_data.0.out0.pb').data)).toBeLessThanOrEqual(1);
  });

  it('If with a runtime condition takes both branches', () => {
    const run = compileAndLoad(fromOnnx(fixture('if_branch.onnx')));
    for (const k of [0, 1]) {
      const [y] = run(fixtureTensor(`if_branch.${k}.in0.pb`));
      expect(closeness(y.data, fixtureTensor(`if_branch.${k}.out0.pb`).data)).toBeLessThanOrEqual(1);
    }
  });

  it('integer Div truncates toward zero', () => {
    const bytes = buildModel({
      nodes: [{ op: 'Div', inputs: ['a', 'b'], outputs: ['q'] }],
      inputs: [
        { name: 'a', dtype: 'int32', shape: [4] },
        { name: 'b', dtype: 'int32', shape: [4] },
      ],
      outputs: ['q'],
    });
    const run = compileAndLoad(fromOnnx(bytes));
    const [q] = run(hostTensor('int32', [4], [7, -7, 7, -7]), hostTensor('int32', [4], [2, 2, -2, -2]));
    expect(q.data).toEqual([3, -3, -3, 3]);
  });
});

describe('examples/digits', () => {
  const npy = (f: string): HostTensor => {
    const a = readNpy(join(ROOT, 'examples/digits/samples', f));
    expect(a.dtype).toBe('float32');
    return hostTensor(
      'float32',
      a.shape,
      new Float32Array(a.data.buffer, a.data.byteOffset, a.data.byteLength / 4),
    );
  };
  it('digits_cnn.onnx imports and matches its reference logits at batch 8', () => {
    const run = compileAndLoad(fromOnnx(join(ROOT, 'examples/digits/digits_cnn.onnx')));
    const x = npy('batch8.npy');
    const want = npy('batch8_logits.npy');
    const [y] = run(x);
    expect(y.shape).toEqual([...want.shape]);
    expect(closeness(y.data, want.data, 1e-3, 1e-4)).toBeLessThanOrEqual(1);
  });
});
