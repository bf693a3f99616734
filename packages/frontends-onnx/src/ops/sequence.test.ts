// Sequence operators, imported as Relax tuples with static positions.
import { compileModule } from '@kiln/cli';
import { isKilnError } from '@kiln/ir-core';
import type { Tensor, Value } from '@kiln/runtime';
import { createRuntime } from '@kiln/runtime';
import { describe, expect, it } from 'vitest';
import { hostTensor } from '../host.js';
import { fromOnnx } from '../importer.js';
import { onnx } from '../proto.js';
import { buildModel, compileAndLoad, toRuntime } from '../testing.test-util.js';

const ints = (vals: number[]) => hostTensor('int64', [], vals);
const x = (k: number) => Array.from({ length: 6 }, (_, i) => k * 10 + i);
const inputs = ['a', 'b', 'c'].map((name) => ({ name, dtype: 'float32', shape: [2, 3] }));

describe('sequence operators', () => {
  it('Construct, Insert, Erase, At and Length with constant positions', () => {
    const bytes = buildModel({
      nodes: [
        { op: 'SequenceConstruct', inputs: ['a', 'b'], outputs: ['s1'] },
        { op: 'SequenceInsert', inputs: ['s1', 'c', 'p0'], outputs: ['s2'] },
        { op: 'SequenceErase', inputs: ['s2', 'pm1'], outputs: ['s3'] },
        { op: 'SequenceAt', inputs: ['s3', 'p1'], outputs: ['y'] },
        { op: 'SequenceLength', inputs: ['s3'], outputs: ['n'] },
      ],
      inputs,
      outputs: ['y', 'n'],
      inits: { p0: ints([0]), pm1: ints([-1]), p1: ints([1]) },
      opset: 12,
    });
    const run = compileAndLoad(fromOnnx(bytes));
    // [a, b] → [c, a, b] → [c, a] → at 1 = a; length 2
    const [y, n] = run(...[1, 2, 3].map((k) => hostTensor('float32', [2, 3], x(k))));
    expect(y.data).toEqual(x(1));
    expect(n.data).toEqual([2]);
  });

  it('SplitToSequence (sizes, keepdims=0) and ConcatFromSequence (new_axis)', () => {
    const bytes = buildModel({
      nodes: [
        { op: 'SplitToSequence', inputs: ['a', 'sizes'], outputs: ['s'], attrs: { axis: 1 } },
        { op: 'ConcatFromSequence', inputs: ['s'], outputs: ['y'], attrs: { axis: 1 } },
        { op: 'SplitToSequence', inputs: ['a'], outputs: ['t'], attrs: { axis: 0, keepdims: 0 } },
        { op: 'ConcatFromSequence', inputs: ['t'], outputs: ['z'], attrs: { axis: -1, new_axis: 1 } },
      ],
      inputs: inputs.slice(0, 1),
      outputs: ['y', 'z'],
      inits: { sizes: hostTensor('int64', [2], [1, 2]) },
      opset: 12,
    });
    const [y, z] = compileAndLoad(fromOnnx(bytes))(hostTensor('float32', [2, 3], x(1)));
    // pieces [2, 1] and [2, 2] joined again along axis 1
    expect(y.shape).toEqual([2, 3]);
    expect(y.data).toEqual(x(1));
    expect(z.shape).toEqual([3, 2]);
    expect(z.data).toEqual([10, 13, 11, 14, 12, 15]);
  });

  it('a position only known at run time is refused naming the node', () => {
    const bytes = buildModel({
      nodes: [
        { op: 'SequenceConstruct', inputs: ['a', 'b'], outputs: ['s'] },
        { op: 'SequenceAt', inputs: ['s', 'p'], outputs: ['y'], name: 'pick' },
      ],
      inputs: [...inputs.slice(0, 2), { name: 'p', dtype: 'int64', shape: [] }],
      outputs: ['y'],
      opset: 12,
    });
    let err: unknown;
    try {
      fromOnnx(bytes);
    } catch (e) {
      err = e;
    }
    expect(isKilnError(err) && err.code).toBe('ONNX_DYNAMIC');
    expect((err as Error).message).toMatch(/pick/);
  });
});

describe('sequence graph inputs and outputs, SequenceMap', () => {
  // A model with a sequence input `s` (float32 elements) and sequence outputs.
  function seqModel(nodes: object[], outputs: { name: string; seq: boolean }[], opset = 17) {
    const seqType = { sequenceType: { elemType: { tensorType: { elemType: 1 } } } };
    const tensorType = { tensorType: { elemType: 1 } };
    return onnx.ModelProto.encode(
      onnx.ModelProto.fromObject({
        irVersion: 8,
        opsetImport: [{ domain: '', version: opset }],
        graph: {
          name: 'g',
          node: nodes,
          input: [
            { name: 's', type: seqType },
            { name: 'b', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }] } } } },
          ],
          output: outputs.map((o) => ({ name: o.name, type: o.seq ? seqType : tensorType })),
        },
      }),
    ).finish();
  }
  function run(bytes: Uint8Array, seqShapes: number[][], seq: number[][], b: number) {
    const mod = fromOnnx(bytes, { sequenceInputs: { s: seqShapes } });
    const exe = createRuntime().load(compileModule(mod).artifact);
    const r = exe.call(
      'main',
      seq.map((d, k) => toRuntime(hostTensor('float32', seqShapes[k], d))),
      toRuntime(hostTensor('float32', [1], [b])),
    ) as Value;
    const flat = (v: Value): unknown =>
      Array.isArray(v)
        ? v.map(flat)
        : Array.from((v as Tensor).contiguous().toTypedArray() as ArrayLike<number | bigint>, Number);
    return flat(r);
  }

  it('a sequence input is a tuple of the given element shapes; SequenceInsert returns a sequence', () => {
    const bytes = seqModel(
      [
        { opType: 'SequenceInsert', input: ['s', 'b'], output: ['t'] },
        { opType: 'SequenceLength', input: ['t'], output: ['n'] },
      ],
      [
        { name: 't', seq: true },
        { name: 'n', seq: false },
      ],
    );
    expect(
      run(
        bytes,
        [[2], [3]],
        [
          [1, 2],
          [3, 4, 5],
        ],
        7,
      ),
    ).toEqual([[[1, 2], [3, 4, 5], [7]], [3]]);
  });

  it('SequenceMap applies the body to each element, with the tensor input as is', () => {
    const body = {
      name: 'body',
      node: [{ opType: 'Add', input: ['x', 'y'], output: ['z'] }],
      input: [{ name: 'x' }, { name: 'y' }],
      output: [{ name: 'z' }],
    };
    const bytes = seqModel(
      [
        {
          opType: 'SequenceMap',
          input: ['s', 'b'],
          output: ['t'],
          attribute: [{ name: 'body', type: 5, g: body }],
        },
      ],
      [{ name: 't', seq: true }],
    );
    expect(run(bytes, [[2], [1]], [[1, 2], [3]], 10)).toEqual([[11, 12], [13]]);
  });

  it('without the element shapes, a sequence input is ONNX_DYNAMIC', () => {
    const bytes = seqModel([{ opType: 'Identity', input: ['s'], output: ['t'] }], [{ name: 't', seq: true }]);
    let code: string | undefined;
    try {
      fromOnnx(bytes);
    } catch (e) {
      code = isKilnError(e) ? e.code : undefined;
    }
    expect(code).toBe('ONNX_DYNAMIC');
  });
});
