// Loop and Scan unrolling: models with body subgraphs built with onnx-proto, compiled for
// the CPU and checked against the recurrences computed in TypeScript.
import { describe, expect, it } from 'vitest';
import { hostTensor } from '../host.js';
import { fromOnnx } from '../importer.js';
import { onnx, onnxDTypeOf } from '../proto.js';
import { closeness, compileAndLoad, onnxNode } from '../testing.test-util.js';

type VI = { name: string; dtype: string; shape: number[] };
const vi = (v: VI) => ({
  name: v.name,
  type: {
    tensorType: { elemType: onnxDTypeOf(v.dtype), shape: { dim: v.shape.map((d) => ({ dimValue: d })) } },
  },
});
const node = onnxNode;

function model(nodes: object[], inputs: VI[], outputs: string[], opset: number): Uint8Array {
  const m = onnx.ModelProto.fromObject({
    irVersion: 8,
    opsetImport: [{ domain: '', version: opset }],
    graph: { name: 'g', node: nodes, input: inputs.map(vi), output: outputs.map((name) => ({ name })) },
  });
  return onnx.ModelProto.encode(m).finish();
}

function rand(n: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.fround((s >>> 8) / 2 ** 24 - 0.5);
  });
}

describe('Scan', () => {
  it('opset 9: a running product-sum state, one input scanned in reverse, output stacked on axis 1', () => {
    // state s: s' = s * 0.5 + x_t ; scan output y_t = tanh(s')
    const bodyG = {
      name: 'body',
      node: [
        node(
          'Constant',
          [],
          ['half'],
          [{ name: 'value', type: 4, t: { dataType: 1, dims: [], floatData: [0.5] } }],
        ),
        node('Mul', ['s_in', 'half'], ['sh']),
        node('Add', ['sh', 'x_t'], ['s_out']),
        node('Tanh', ['s_out'], ['y_t']),
      ],
      input: [
        vi({ name: 's_in', dtype: 'float32', shape: [3] }),
        vi({ name: 'x_t', dtype: 'float32', shape: [3] }),
      ],
      output: [{ name: 's_out' }, { name: 'y_t' }],
    };
    const bytes = model(
      [
        node(
          'Scan',
          ['s0', 'x'],
          ['s', 'y'],
          [
            { name: 'body', type: 5, g: bodyG },
            { name: 'num_scan_inputs', type: 2, i: 1 },
            { name: 'scan_input_axes', type: 7, ints: [1] },
            { name: 'scan_input_directions', type: 7, ints: [1] },
            { name: 'scan_output_axes', type: 7, ints: [1] },
          ],
        ),
      ],
      [
        { name: 's0', dtype: 'float32', shape: [3] },
        { name: 'x', dtype: 'float32', shape: [3, 4] },
      ],
      ['s', 'y'],
      11,
    );
    const s0 = rand(3, 1);
    const x = rand(12, 2);
    const [s, y] = compileAndLoad(fromOnnx(bytes))(
      hostTensor('float32', [3], s0),
      hostTensor('float32', [3, 4], x),
    );
    let st = [...s0];
    const ys: number[][] = [];
    for (let t = 0; t < 4; t++) {
      const col = 3 - t; // reversed scan over axis 1
      st = st.map((v, i) => v * 0.5 + x[i * 4 + col]);
      ys.push(st.map(Math.tanh));
    }
    expect(closeness(s.data, st)).toBeLessThanOrEqual(1);
    expect(y.shape).toEqual([3, 4]);
    const want: number[] = [];
    for (let i = 0; i < 3; i++) for (let t = 0; t < 4; t++) want.push(ys[t][i]);
    expect(closeness(y.data, want)).toBeLessThanOrEqual(1);
  });
});

describe('Loop', () => {
  const bodyG = {
    name: 'body',
    node: [
      node('Identity', ['c_in'], ['c_out']),
      node('Cast', ['i'], ['fi'], [{ name: 'to', type: 2, i: 1 }]),
      node('Mul', ['acc_in', 'fi'], ['m']),
      node('Add', ['m', 'v'], ['acc_out']),
      node('Identity', ['acc_out'], ['scan_t']),
    ],
    input: [
      vi({ name: 'i', dtype: 'int64', shape: [] }),
      vi({ name: 'c_in', dtype: 'bool', shape: [] }),
      vi({ name: 'acc_in', dtype: 'float32', shape: [2] }),
    ],
    output: [{ name: 'c_out' }, { name: 'acc_out' }, { name: 'scan_t' }],
  };
  const build = (trip: number | undefined) => {
    const nodes: object[] = [];
    if (trip !== undefined)
      nodes.push(
        node(
          'Constant',
          [],
          ['M'],
          [{ name: 'value', type: 4, t: { dataType: 7, dims: [], int64Data: [trip] } }],
        ),
      );
    nodes.push(
      node(
        'Loop',
        [trip !== undefined ? 'M' : 'Mrt', '', 'a0'],
        ['acc', 'scan'],
        [{ name: 'body', type: 5, g: bodyG }],
      ),
    );
    const inputs: VI[] = [
      { name: 'a0', dtype: 'float32', shape: [2] },
      { name: 'v', dtype: 'float32', shape: [2] },
    ];
    if (trip === undefined) inputs.push({ name: 'Mrt', dtype: 'int64', shape: [] });
    return model(nodes, inputs, ['acc', 'scan'], 13);
  };

  it('unrolls a constant trip count; the iteration number folds into each step', () => {
    const a0 = rand(2, 3);
    const v = rand(2, 4);
    const [acc, scan] = compileAndLoad(fromOnnx(build(4)))(
      hostTensor('float32', [2], a0),
      hostTensor('float32', [2], v),
    );
    let a = [...a0];
    const rows: number[] = [];
    for (let i = 0; i < 4; i++) {
      a = a.map((x, k) => x * i + v[k]);
      rows.push(...a);
    }
    expect(closeness(acc.data, a)).toBeLessThanOrEqual(1);
    expect(scan.shape).toEqual([4, 2]);
    expect(closeness(scan.data, rows)).toBeLessThanOrEqual(1);
  });

  it('refuses a run-time trip count with ONNX_DYNAMIC', () => {
    expect(() => fromOnnx(build(undefined))).toThrow(expect.objectContaining({ code: 'ONNX_DYNAMIC' }));
  });

  it('refuses a trip count above the unroll limit as unsupported', () => {
    expect(() => fromOnnx(build(100000))).toThrow(expect.objectContaining({ code: 'ONNX_UNSUPPORTED_OP' }));
  });
});
