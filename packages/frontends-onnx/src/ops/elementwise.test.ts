// BitShift with signed types and shift amounts outside [0, bits) (opset 28 semantics).
import { dtype as parseDType } from '@kiln/ir-core';
import { roundToDType } from '@kiln/tensorir';
import { describe, expect, it } from 'vitest';
import { hostTensor } from '../host.js';
import { fromOnnx } from '../importer.js';
import { halfBitsToNumber } from '../proto.js';
import { buildModel, compileAndLoad } from '../testing.test-util.js';

function shift(dt: string, direction: string, x: number[], y: number[]): number[] {
  const bytes = buildModel({
    nodes: [{ op: 'BitShift', inputs: ['x', 'y'], outputs: ['z'], attrs: { direction } }],
    inputs: [
      { name: 'x', dtype: dt, shape: [x.length] },
      { name: 'y', dtype: dt, shape: [y.length] },
    ],
    outputs: ['z'],
    opset: 28,
  });
  return compileAndLoad(fromOnnx(bytes))(hostTensor(dt, [x.length], x), hostTensor(dt, [y.length], y))[0]
    .data;
}

describe('BitShift', () => {
  it('signed right shifts are arithmetic; out-of-range amounts fill with the sign', () => {
    const x = [-8, 4, -1, 100, -100, -128, 127];
    const y = [1, 2, 7, 6, 3, -1, 8];
    expect(shift('int8', 'RIGHT', x, y)).toEqual([-4, 1, -1, 1, -13, -1, 0]);
    expect(shift('int32', 'RIGHT', [-8, 4, -1, -(2 ** 31)], [-1, 32, 64, 31])).toEqual([-1, 0, -1, -1]);
  });
  it('left shifts wrap in the type and give 0 out of range', () => {
    expect(shift('int8', 'LEFT', [-8, 3, 1, 5, -1], [2, 6, 7, 8, -3])).toEqual([-32, -64, -128, 0, 0]);
    expect(shift('int32', 'LEFT', [-8, 4, 1], [32, 33, 31])).toEqual([0, 0, -(2 ** 31)]);
    expect(shift('uint8', 'LEFT', [255, 1], [1, 9])).toEqual([254, 0]);
    expect(shift('uint8', 'RIGHT', [255, 200], [7, 8])).toEqual([1, 0]);
  });
});

describe('Celu / Elu in bfloat16', () => {
  it('use expm1, so small negative inputs keep their bfloat16 precision', () => {
    const x = [-3, -0.5, -0.01, 0, 0.75];
    for (const [name, attrs, f] of [
      ['Celu', { alpha: 2 }, (v: number) => Math.max(0, v) + Math.min(0, 2 * Math.expm1(v / 2))],
      ['Elu', { alpha: 1 }, (v: number) => (v > 0 ? v : Math.expm1(v))],
    ] as const) {
      const bytes = buildModel({
        nodes: [{ op: name, inputs: ['x'], outputs: ['y'], attrs }],
        inputs: [{ name: 'x', dtype: 'bfloat16', shape: [5] }],
        outputs: ['y'],
        opset: 13,
      });
      const [y] = compileAndLoad(fromOnnx(bytes))(hostTensor('bfloat16', [5], x));
      const bf = parseDType('bfloat16');
      expect(y.data.map((b) => halfBitsToNumber(b, 'bfloat16'))).toEqual(
        x.map((v) => roundToDType(f(roundToDType(v, bf)), bf)),
      );
    }
  });
});
