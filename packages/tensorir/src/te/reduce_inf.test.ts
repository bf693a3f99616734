import { describe, expect, it } from 'vitest';
import {
  compute,
  createPrimFunc,
  interpret,
  ndarray,
  placeholder,
  reduceAxis,
  reduceMax,
  reduceMin,
} from '../index.js';

describe('max/min reductions over infinities', () => {
  it('a row of -inf reduces to -inf under max (and +inf under min)', () => {
    const X = placeholder([2, 3], 'float32', 'X');
    const k = reduceAxis([0, 3], 'k');
    const M = compute([2], (i) => reduceMax(X.at(i, k), k), 'M');
    const k2 = reduceAxis([0, 3], 'k2');
    const N = compute([2], (i) => reduceMin(X.at(i, k2), k2), 'N');
    const x = ndarray('float32', [2, 3], [-Infinity, -Infinity, -Infinity, 1, 2, Infinity]);
    const m = ndarray('float32', [2]);
    const n = ndarray('float32', [2]);
    interpret(createPrimFunc([X, M]), [x, m]);
    interpret(createPrimFunc([X, N]), [x, n]);
    expect(Array.from(m.data as Float32Array)).toEqual([-Infinity, Infinity]);
    expect(Array.from(n.data as Float32Array)).toEqual([-Infinity, 1]);
  });
});
