// End to end on DSL-built kernels: te → block TIR → lowering → LLVM → native, compared
// with the TIR reference interpreter on random inputs.
import { div, mul, primVar, sub } from '@kiln/ir-core';
import type { NDArray, PrimFunc } from '@kiln/tensorir';
import {
  allClose,
  compute,
  createPrimFunc,
  exp,
  interpret,
  lowerPrimFunc,
  ndarray,
  placeholder,
  randomNDArray,
  reduceAxis,
  reduceMax,
  sum,
} from '@kiln/tensorir';
import { afterAll, describe, expect, it } from 'vitest';
import { buildCPU } from './build.js';
import { loadLibrary } from './test_util.js';

const target = { mtriple: 'x86_64-linux-gnu', mcpu: 'x86-64-v3', features: [] as string[] };
const closers: Array<() => void> = [];
afterAll(() => closers.forEach((c) => c()));

/** Run `fn` natively and in the interpreter on the same random inputs; compare outputs. */
function checkNative(fn: PrimFunc, shapes: number[][], nOut: number, dims: number[] = [], rtol = 1e-5) {
  const lib = buildCPU([{ symbol: 'k', fn: lowerPrimFunc(fn) }], target);
  const { kernels, close } = loadLibrary(lib);
  closers.push(close);
  const ins: NDArray[] = shapes
    .slice(0, shapes.length - nOut)
    .map((s, i) => randomNDArray('float32', s, 100 + i));
  const outsRef = shapes.slice(shapes.length - nOut).map((s) => ndarray('float32', s));
  const outsNat = shapes.slice(shapes.length - nOut).map((s) => ndarray('float32', s));
  interpret(fn, [...ins, ...outsRef]);
  kernels.k(...ins.map((a) => a.data), ...outsNat.map((a) => a.data), ...dims.map((d) => BigInt(d)));
  outsNat.forEach((o, i) => {
    const rep = allClose(o, outsRef[i], rtol, 1e-5);
    expect(rep.ok, JSON.stringify(rep)).toBe(true);
  });
}

describe.runIf(process.arch === 'x64')('lowered DSL kernels on LLVM', () => {
  it('matmul with a symbolic M', () => {
    const m = primVar('m');
    const A = placeholder([m, 33], 'float32', 'A');
    const B = placeholder([33, 19], 'float32', 'B');
    const k = reduceAxis([0, 33], 'k');
    const C = compute([m, 19], (i, j) => sum(mul(A.at(i, k), B.at(k, j)), k), 'C');
    const fn = createPrimFunc([A, B, C]);
    for (const mv of [1, 7])
      checkNative(
        fn,
        [
          [mv, 33],
          [33, 19],
          [mv, 19],
        ],
        1,
        [mv],
        1e-4,
      );
  });

  it('a three-stage softmax', () => {
    const X = placeholder([6, 37], 'float32', 'X');
    const k1 = reduceAxis([0, 37], 'k1');
    const mx = compute([6], (i) => reduceMax(X.at(i, k1), k1), 'mx');
    const e = compute([6, 37], (i, j) => exp(sub(X.at(i, j), mx.at(i))), 'e');
    const k2 = reduceAxis([0, 37], 'k2');
    const s = compute([6], (i) => sum(e.at(i, k2), k2), 's');
    const Y = compute([6, 37], (i, j) => div(e.at(i, j), s.at(i)), 'Y');
    checkNative(
      createPrimFunc([X, Y]),
      [
        [6, 37],
        [6, 37],
      ],
      1,
    );
  });
});
