import { add, buffer, bufferLoad, isKilnError, mul, primVar, ramp } from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import { allocate, block, bufferStore, declBuffer, forLoop, loopVar, primFunc } from '../stmt.js';
import { flatExtent, flattenBuffer, linearIndex } from './flatten_buffer.js';
import { expectIREqual } from './test_util.js';

describe('tir.FlattenBuffer', () => {
  it('linearises a 2-D copy row-major and declares the flat param views', () => {
    const A = buffer('A', 'float32', [4, 5]);
    const B = buffer('B', 'float32', [4, 5]);
    const [i, j] = [loopVar('i'), loopVar('j')];
    const before = primFunc(
      [A, B],
      forLoop(i, 0, 4, forLoop(j, 0, 5, bufferStore(B, bufferLoad(A, [i, j]), [i, j]))),
    );
    const after = flattenBuffer(before);

    const Af = buffer('A', 'float32', [20], { data: A.data });
    const Bf = buffer('B', 'float32', [20], { data: B.data });
    const [i2, j2] = [loopVar('i'), loopVar('j')];
    const idx = add(mul(i2, 5), j2);
    const expected = primFunc(
      [A, B],
      declBuffer(
        Af,
        declBuffer(Bf, forLoop(i2, 0, 4, forLoop(j2, 0, 5, bufferStore(Bf, bufferLoad(Af, [idx]), [idx])))),
      ),
    );
    expectIREqual(after, expected);
    // The flat views alias the params' storage.
    const d1 = after.body.kind === 'DeclBuffer' ? after.body.buffer : undefined;
    expect(d1?.data).toBe(A.data);
  });

  it('honours explicit strides and elem_offset (folded into the index)', () => {
    const s0 = primVar('s0');
    const off = primVar('off');
    const X = buffer('X', 'float32', [3, 4], { strides: [s0, 2], elemOffset: off });
    const [i, j] = [loopVar('i'), loopVar('j')];
    const after = flattenBuffer(
      primFunc([X, s0, off], forLoop(i, 0, 3, forLoop(j, 0, 4, bufferStore(X, 1, [i, j])))),
    );
    const Xf = buffer('X', 'float32', [flatExtent(X)], { data: X.data });
    const [i2, j2] = [loopVar('i'), loopVar('j')];
    const expected = primFunc(
      [X, s0, off],
      declBuffer(
        Xf,
        forLoop(i2, 0, 3, forLoop(j2, 0, 4, bufferStore(Xf, 1, [add(add(mul(i2, s0), mul(j2, 2)), off)]))),
      ),
    );
    expectIREqual(after, expected);
    // extent: off + 1 + 2*s0 + 3*2
    expectIREqual(flatExtent(X), add(off, add(add(1, mul(2, s0)), 6)));
  });

  it('handles symbolic shapes', () => {
    const n = primVar('n');
    const m = primVar('m');
    const A = buffer('A', 'float32', [n, m]);
    expectIREqual(linearIndex(A, [primVar('i'), primVar('j')]), add(mul(primVar('i'), m), primVar('j')));
    expectIREqual(flatExtent(A), mul(n, m));
  });

  it('flattens Allocate over the same data var, and 0-d buffers to one element', () => {
    const A = buffer('A', 'float32', [2, 3]);
    const T = buffer('T', 'float32', [2, 3], { scope: 'local' });
    const S = buffer('S', 'float32', []);
    const [i, j] = [loopVar('i'), loopVar('j')];
    const before = primFunc(
      [A, S],
      allocate(
        T,
        forLoop(i, 0, 2, forLoop(j, 0, 3, bufferStore(S, add(bufferLoad(S, []), bufferLoad(T, [i, j])), []))),
      ),
    );
    const after = flattenBuffer(before);
    const Tf = buffer('T', 'float32', [6], { data: T.data, scope: 'local' });
    const Sf = buffer('S', 'float32', [1], { data: S.data });
    const [i2, j2] = [loopVar('i'), loopVar('j')];
    const expected = primFunc(
      [A, S],
      declBuffer(
        Sf,
        allocate(
          Tf,
          forLoop(
            i2,
            0,
            2,
            forLoop(
              j2,
              0,
              3,
              bufferStore(Sf, add(bufferLoad(Sf, [0]), bufferLoad(Tf, [add(mul(i2, 3), j2)])), [0]),
            ),
          ),
        ),
      ),
    );
    expectIREqual(after, expected);
    expect(
      after.body.kind === 'DeclBuffer' && after.body.body.kind === 'Allocate' && after.body.body.buffer.data,
    ).toBe(T.data);
  });

  it('keeps Ramp indices Ramps (vector accesses of N-d buffers)', () => {
    const A = buffer('A', 'float32', [4, 8]);
    const i = loopVar('i');
    const after = flattenBuffer(primFunc([A], forLoop(i, 0, 4, bufferStore(A, 0, [i, ramp(0, 1, 8)]))));
    const Af = buffer('A', 'float32', [32], { data: A.data });
    const i2 = loopVar('i');
    expectIREqual(
      after,
      primFunc([A], declBuffer(Af, forLoop(i2, 0, 4, bufferStore(Af, 0, [ramp(mul(i2, 8), 1, 8)])))),
    );
  });

  it('returns the same function when every buffer is already flat, and is idempotent', () => {
    const A = buffer('A', 'float32', [8]);
    const i = loopVar('i');
    const fn = primFunc([A], forLoop(i, 0, 8, bufferStore(A, 1, [i])));
    expect(flattenBuffer(fn)).toBe(fn);
    const B = buffer('B', 'float32', [2, 4]);
    const once = flattenBuffer(primFunc([B], forLoop(i, 0, 8, bufferStore(B, 1, [0, i]))));
    expect(flattenBuffer(once)).toBe(once);
  });

  it('requires block-free TIR', () => {
    const A = buffer('A', 'float32', [2, 2]);
    try {
      flattenBuffer(primFunc([A], block('root', bufferStore(A, 1, [0, 0]))));
      expect.fail('expected an error');
    } catch (e) {
      expect(isKilnError(e, 'PASS_REQUIREMENT')).toBe(true);
    }
  });
});
