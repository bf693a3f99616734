// liftParamStages: a leading stage that only rearranges one parameter is split off as a
// PrimFunc of its own; running it and then the rest gives the original results. Stages
// that read more than one parameter, parameters used elsewhere and parameters the caller
// does not allow stay in the kernel.
import { add, floordiv, floormod, mul } from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import { interpret } from '../interpreter/interpreter.js';
import type { NDArray } from '../ndarray.js';
import { allClose, ndarray, randomNDArray } from '../ndarray.js';
import type { PrimFunc } from '../stmt.js';
import { createPrimFunc } from '../te/create_prim_func.js';
import { compute, placeholder, reduceAxis, sum } from '../te/tensor.js';
import { liftParamStages } from './lift_param_stages.js';

const [M, K, N, P] = [6, 5, 8, 4];

/** C = A · B with B first copied into [N/P, K, P] panels (what the CPU schedule does). */
function packedMatmul(extraUseOfB = false): PrimFunc {
  const A = placeholder([M, K], 'float32', 'A');
  const B = placeholder([K, N], 'float32', 'B');
  const Bp = compute([N / P, K, P], (jo, k, ji) => B.at(k, add(mul(jo, P), ji)), 'Bp');
  const r = reduceAxis([0, K], 'k');
  const C = compute(
    [M, N],
    (i, j) => {
      const prod = mul(A.at(i, r), Bp.at(floordiv(j, P), r, floormod(j, P)));
      return sum(extraUseOfB ? add(prod, B.at(r, j)) : prod, r);
    },
    'C',
  );
  return createPrimFunc([A, B, C]);
}

function run(fn: PrimFunc, args: NDArray[], outShape: number[]): NDArray {
  const out = ndarray('float32', outShape);
  interpret(fn, [...args, out]);
  return out;
}

const shapeOf = (b: unknown) => (b as { shape: { value: number }[] }).shape.map((e) => e.value);

describe('liftParamStages', () => {
  it('splits the packing of a parameter off the kernel, with unchanged results', () => {
    const fn = packedMatmul();
    const { fn: main, stages } = liftParamStages(fn, () => true);
    expect(stages.length).toBe(1);
    expect(stages[0].param).toBe(1);
    // The kernel now takes the packed panels and allocates nothing.
    expect(shapeOf(main.params[1])).toEqual([N / P, K, P]);
    expect(main.body.kind === 'BlockRealize' && main.body.block.allocBuffers.length).toBe(0);
    expect(shapeOf(stages[0].transform.params[0])).toEqual([K, N]);
    expect(stages[0].transform.attrs.global_symbol).toBe('main_B_transform');

    const a = randomNDArray('float32', [M, K], 1);
    const b = randomNDArray('float32', [K, N], 2);
    const want = run(fn, [a, b], [M, N]);
    const packed = run(stages[0].transform, [b], [N / P, K, P]);
    const got = run(main, [a, packed], [M, N]);
    const rep = allClose(got, want, 0, 0);
    expect(rep.ok, rep.message).toBe(true);
  });

  it('leaves a parameter the caller does not allow', () => {
    const fn = packedMatmul();
    const res = liftParamStages(fn, (i) => i !== 1);
    expect(res.stages.length).toBe(0);
    expect(res.fn).toBe(fn);
  });

  it('leaves a parameter that the rest of the kernel reads too', () => {
    const fn = packedMatmul(true);
    expect(liftParamStages(fn, () => true).stages.length).toBe(0);
  });

  it('leaves a stage that reads two parameters', () => {
    const A = placeholder([K, N], 'float32', 'A');
    const B = placeholder([K, N], 'float32', 'B');
    const S = compute([K, N], (k, j) => add(A.at(k, j), B.at(k, j)), 'S');
    const C = compute([K, N], (k, j) => mul(S.at(k, j), 2), 'C');
    expect(liftParamStages(createPrimFunc([A, B, C]), () => true).stages.length).toBe(0);
  });

  it('lifts a chain of stages over the same parameter', () => {
    const A = placeholder([K, N], 'float32', 'A');
    const W = placeholder([K, N], 'float32', 'W');
    const W2 = compute([N, K], (j, k) => W.at(k, j), 'W2');
    const W3 = compute([N, K], (j, k) => mul(W2.at(j, k), 3), 'W3');
    const C = compute([K, N], (k, j) => add(A.at(k, j), W3.at(j, k)), 'C');
    const fn = createPrimFunc([A, W, C]);
    const { fn: main, stages } = liftParamStages(fn, (i) => i === 1);
    expect(stages.map((s) => s.param)).toEqual([1, 1]);
    const a = randomNDArray('float32', [K, N], 3);
    const w = randomNDArray('float32', [K, N], 4);
    const want = run(fn, [a, w], [K, N]);
    let cur = w;
    for (const s of stages) cur = run(s.transform, [cur], [N, K]);
    const rep = allClose(run(main, [a, cur], [K, N]), want, 0, 0);
    expect(rep.ok, rep.message).toBe(true);
  });
});
