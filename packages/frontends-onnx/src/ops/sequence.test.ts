// Sequence operators, imported as Relax tuples with static positions.
import { isKilnError } from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import { hostTensor } from '../host.js';
import { fromOnnx } from '../importer.js';
import { buildModel, compileAndLoad } from '../testing.test-util.js';

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
