// Property tests: NumPy broadcasting (inference and kernels) and matmul on random shapes,
// against the TS references.
import { allClose } from '@kiln/tensorir';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tensorSInfo } from '../ir/struct-info.js';
import {
  at,
  binaryRef,
  broadcastShape,
  fromFn,
  infer,
  inferError,
  rand,
  runOp,
  tensorOut,
} from '../testing/harness.js';
import * as op from './index.js';

/** A pair of broadcast-compatible shapes: a common shape, each side dropping leading dims and setting some dims to 1. */
const compatiblePair = fc
  .record({
    base: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 4 }),
    dropA: fc.nat(4),
    dropB: fc.nat(4),
    onesA: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    onesB: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
  })
  .map(({ base, dropA, dropB, onesA, onesB }) => {
    const a = base.slice(Math.min(dropA, base.length)).map((d, i) => (onesA[i] ? 1 : d));
    const b = base.slice(Math.min(dropB, base.length)).map((d, i) => (onesB[i] ? 1 : d));
    return { a, b };
  });

describe('broadcasting properties', () => {
  it('inferred shape is the NumPy broadcast; the kernel matches the reference', () => {
    fc.assert(
      fc.property(compatiblePair, fc.integer({ min: 1, max: 1000 }), ({ a, b }, seed) => {
        const want = broadcastShape(a, b);
        const text = infer([tensorSInfo(a, 'float32'), tensorSInfo(b, 'float32')], (x, y) =>
          op.subtract(x, y),
        );
        expect(text).toBe(`R.Tensor((${want.join(', ')}${want.length === 1 ? ',' : ''}), "float32")`);
        const xa = rand('float32', a, seed);
        const xb = rand('float32', b, seed + 1);
        const r = allClose(
          tensorOut(runOp((x, y) => op.subtract(x, y), [xa, xb])),
          binaryRef('float32', xa, xb, (u, v) => u - v),
        );
        expect(r.ok, r.message).toBe(true);
      }),
      { numRuns: 40 },
    );
  });
  it('incompatible constant dims are SHAPE_MISMATCH', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 5 }), fc.integer({ min: 2, max: 5 }), fc.nat(2), (p, q, lead) => {
        fc.pre(p !== q);
        const a = [...Array(lead).fill(2), p];
        expect(
          inferError([tensorSInfo(a, 'float32'), tensorSInfo([q], 'float32')], (x, y) => op.add(x, y)),
        ).toBe('SHAPE_MISMATCH');
      }),
      { numRuns: 30 },
    );
  });
  it('batched matmul with broadcast batch dims matches the reference', () => {
    fc.assert(
      fc.property(
        fc.record({
          m: fc.integer({ min: 1, max: 3 }),
          k: fc.integer({ min: 1, max: 3 }),
          nn: fc.integer({ min: 1, max: 3 }),
        }),
        compatiblePair,
        fc.integer({ min: 1, max: 1000 }),
        ({ m, k, nn }, { a: ba, b: bb }, seed) => {
          const A = rand('float32', [...ba.slice(-2), m, k], seed);
          const B = rand('float32', [...bb.slice(-2), k, nn], seed + 7);
          const batch = broadcastShape(ba.slice(-2), bb.slice(-2));
          const ref = fromFn('float32', [...batch, m, nn], (idx) => {
            const bi = idx.slice(0, batch.length);
            const pick = (s: readonly number[]) =>
              s.map((d, i) => (d === 1 ? 0 : bi[batch.length - s.length + i]));
            let acc = 0;
            for (let t = 0; t < k; t++) {
              acc +=
                at(A, [...pick(ba.slice(-2)), idx[batch.length], t]) *
                at(B, [...pick(bb.slice(-2)), t, idx[batch.length + 1]]);
            }
            return acc;
          });
          const r = allClose(tensorOut(runOp((x, y) => op.matmul(x, y), [A, B])), ref, 1e-4, 1e-5);
          expect(r.ok, r.message).toBe(true);
        },
      ),
      { numRuns: 25 },
    );
  });
  it('reshape then permute round-trips', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 99 }),
        (shape, seed) => {
          const x = rand('float32', shape, seed);
          const perm = shape.map((_, i) => i).reverse();
          const inv = perm.map((_, i) => perm.indexOf(i));
          const out = tensorOut(
            runOp((p) => op.permuteDims(op.permuteDims(op.reshape(p, [-1]), null), null), [x]),
          );
          expect(Array.from(out.data as Float32Array)).toEqual(Array.from(x.data as Float32Array));
          const t = tensorOut(runOp((p) => op.permuteDims(op.permuteDims(p, perm), inv), [x]));
          expect(Array.from(t.data as Float32Array)).toEqual(Array.from(x.data as Float32Array));
        },
      ),
      { numRuns: 20 },
    );
  });
});
