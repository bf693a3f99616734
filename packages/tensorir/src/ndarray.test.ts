// NDArray helpers: construction and storage kinds, seeded random data, allClose reports.

import { ErrorCodes, isKilnError } from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import { allClose, getAt, ndarray, randomNDArray, seededRandom, toNumbers } from './ndarray.js';

describe('NDArray', () => {
  it('picks storage per dtype and rounds values', () => {
    expect(ndarray('float32', [2]).data).toBeInstanceOf(Float32Array);
    expect(ndarray('float16', [2]).data).toBeInstanceOf(Float32Array);
    expect(ndarray('int64', [2]).data).toBeInstanceOf(BigInt64Array);
    expect(ndarray('bool', [2]).data).toBeInstanceOf(Uint8Array);
    expect(toNumbers(ndarray('int8', [3], [127, 128, -129]))).toEqual([127, -128, 127]);
    expect(toNumbers(ndarray('float16', [1], [0.1]))).toEqual([0.0999755859375]);
    expect(toNumbers(ndarray('bool', [3], [true, false, 5]))).toEqual([1, 0, 1]);
    expect(toNumbers(ndarray('int64', [2], [2n ** 40n, -3]))).toEqual([2 ** 40, -3]);
    expect(getAt(ndarray('float32', [2, 3], [0, 1, 2, 3, 4, 5]), [1, 2])).toBe(5);
    try {
      ndarray('float32', [2, 2], [1, 2, 3]);
      expect.unreachable();
    } catch (e) {
      expect(isKilnError(e, ErrorCodes.SHAPE_MISMATCH)).toBe(true);
    }
  });

  it('random data is seeded, in range, and never all zeros', () => {
    const a = randomNDArray('float32', [100], 7);
    const b = randomNDArray('float32', [100], 7);
    const c = randomNDArray('float32', [100], 8);
    expect(toNumbers(a)).toEqual(toNumbers(b));
    expect(toNumbers(a)).not.toEqual(toNumbers(c));
    expect(toNumbers(a).every((v) => v >= -1 && v < 1)).toBe(true);
    expect(toNumbers(randomNDArray('bool', [1], 3)).some((v) => v !== 0)).toBe(true);
    expect(toNumbers(randomNDArray('int32', [1], 5, { low: 0, high: 1 }))).toEqual([1]);
    const ints = toNumbers(randomNDArray('int64', [50], 1));
    expect(ints.every((v) => Number.isInteger(v) && v >= -8 && v < 8)).toBe(true);
    const r = seededRandom(1);
    expect(r()).not.toBe(r());
  });

  it('allClose reports errors and the first mismatch', () => {
    const a = ndarray('float32', [2, 2], [1, 2, 3, 4]);
    expect(allClose(a, [1, 2, 3, 4]).ok).toBe(true);
    const r = allClose(a, ndarray('float32', [2, 2], [1, 2, 3.1, 4.5]), 1e-5, 0);
    expect(r.ok).toBe(false);
    expect(r.firstMismatch).toBe(2);
    expect(r.firstMismatchIndex).toEqual([1, 0]);
    expect(r.maxAbsError).toBeCloseTo(0.5, 5);
    expect(r.maxRelError).toBeCloseTo(0.5 / 4.5, 5);
    expect(r.message).toContain('[1, 0]');
    expect(allClose(ndarray('float32', [1], [NaN]), [NaN]).ok).toBe(true);
    expect(allClose(ndarray('float32', [1], [Infinity]), [1e30]).ok).toBe(false);
    expect(allClose(a, ndarray('float32', [4], [1, 2, 3, 4])).ok).toBe(false);
  });
});
