import {
  add,
  and,
  buffer,
  bufferLoad,
  collect,
  floordiv,
  floormod,
  ge,
  intImm,
  le,
  lt,
  mul,
  primVar,
  sub,
} from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import type { For } from '../stmt.js';
import { bufferStore, forLoop, ifThenElse, loopVar, primFunc } from '../stmt.js';
import { flattenBuffer } from './flatten_buffer.js';
import { constantFold, createConstantFoldAnalyzer, simplifyPrimFunc } from './simplify.js';
import { expectIREqual } from './test_util.js';
import { verifyLowered } from './verify_lowered.js';

describe('tir.Simplify', () => {
  it('folds index arithmetic using loop ranges (split/fuse leftovers)', () => {
    const A = buffer('A', 'float32', [32]);
    const [io, ii] = [loopVar('io'), loopVar('ii')];
    // floordiv(io*4 + ii, 4) == io and floormod(io*4 + ii, 4) == ii given ii in [0, 4)
    const fused = add(mul(io, 4), ii);
    const idx = add(mul(floordiv(fused, 4), 4), floormod(fused, 4));
    const before = primFunc([A], forLoop(io, 0, 8, forLoop(ii, 0, 4, bufferStore(A, 1, [idx]))));
    const out = simplifyPrimFunc(before);
    const st = out.body.kind === 'For' && out.body.body.kind === 'For' ? out.body.body.body : undefined;
    expect(st?.kind).toBe('BufferStore');
    // Some canonical form of io*4 + ii; check by value instead of shape.
    const [io2, ii2] = [loopVar('io'), loopVar('ii')];
    const a = simplifyPrimFunc(
      primFunc([A], forLoop(io2, 0, 8, forLoop(ii2, 0, 4, bufferStore(A, 1, [add(mul(io2, 4), ii2)])))),
    );
    expectIREqual(out, a);
  });

  it('drops an if the loop ranges prove, keeps one they do not', () => {
    const n = primVar('n');
    const A = buffer('A', 'float32', [n]);
    const [i, j] = [loopVar('i'), loopVar('j')];
    const before = primFunc(
      [A, n],
      forLoop(i, 0, 8, ifThenElse(lt(i, 10), forLoop(j, 0, n, ifThenElse(lt(j, n), bufferStore(A, 1, [j]))))),
    );
    const [i2, j2] = [loopVar('i'), loopVar('j')];
    const expected = primFunc([A, n], forLoop(i2, 0, 8, forLoop(j2, 0, n, bufferStore(A, 1, [j2]))));
    expectIREqual(simplifyPrimFunc(before), expected);
    const keep = primFunc([A, n], forLoop(i, 0, 8, ifThenElse(lt(i, n), bufferStore(A, 1, [i]))));
    expect(simplifyPrimFunc(keep)).toBe(keep);
  });

  it('uses the condition of an if inside its branches', () => {
    const n = primVar('n');
    const A = buffer('A', 'float32', [n]);
    const i = loopVar('i');
    const before = primFunc(
      [A, n],
      forLoop(i, 0, n, ifThenElse(ge(i, 2), ifThenElse(ge(i, 1), bufferStore(A, 1, [i])))),
    );
    const i2 = loopVar('i');
    expectIREqual(
      simplifyPrimFunc(before),
      primFunc([A, n], forLoop(i2, 0, n, ifThenElse(le(2, i2), bufferStore(A, 1, [i2])))),
    );
  });

  it('replaces a loop of extent 1 by its body', () => {
    const A = buffer('A', 'float32', [8]);
    const [i, j] = [loopVar('i'), loopVar('j')];
    const before = primFunc([A], forLoop(i, 0, 8, forLoop(j, 3, 1, bufferStore(A, 1, [sub(add(i, j), 3)]))));
    const i2 = loopVar('i');
    expectIREqual(simplifyPrimFunc(before), primFunc([A], forLoop(i2, 0, 8, bufferStore(A, 1, [i2]))));
  });

  it('returns the same function when already simple, and is idempotent', () => {
    const A = buffer('A', 'float32', [8]);
    const i = loopVar('i');
    const fn = primFunc([A], forLoop(i, 0, 8, bufferStore(A, add(bufferLoad(A, [i]), 1), [i])));
    expect(simplifyPrimFunc(fn)).toBe(fn);
    const [io, ii] = [loopVar('io'), loopVar('ii')];
    const once = simplifyPrimFunc(
      primFunc(
        [A],
        forLoop(
          io,
          0,
          2,
          forLoop(
            ii,
            0,
            4,
            ifThenElse(and(lt(add(mul(io, 4), ii), 8), lt(ii, 4)), bufferStore(A, 1, [add(mul(io, 4), ii)])),
          ),
        ),
      ),
    );
    expect(simplifyPrimFunc(once)).toBe(once);
  });

  it('has a constant-folding fallback analyzer', () => {
    const x = primVar('x');
    expectIREqual(constantFold(add(mul(x, 1), mul(intImm(3), intImm(4)))), add(x, 12));
    const A = buffer('A', 'float32', [8]);
    const i = loopVar('i');
    const out = simplifyPrimFunc(
      primFunc([A], forLoop(i, 0, 8, ifThenElse(lt(intImm(2), intImm(3)), bufferStore(A, 1, [add(i, 0)])))),
      { analyzer: createConstantFoldAnalyzer },
    );
    const i2 = loopVar('i');
    expectIREqual(out, primFunc([A], forLoop(i2, 0, 8, bufferStore(A, 1, [i2]))));
  });
});

describe('tir.Simplify and vectorized loops', () => {
  it('turns a vectorized loop serial when facts fold its var out of a store index', () => {
    const C = buffer('C', 'float32', [32]);
    const [o, v] = [loopVar('o'), loopVar('v')];
    const idx = add(mul(o, 8), v);
    // Under o >= 2 and o*8 + v < 17 only v = 0 runs: the index folds to o*8 (correct,
    // but lanes no longer visibly write distinct locations).
    const fn = primFunc(
      [C],
      forLoop(
        o,
        0,
        4,
        ifThenElse(
          ge(o, 2),
          forLoop(v, 0, 8, ifThenElse(lt(idx, 17), bufferStore(C, 1, [idx])), { kind: 'vectorized' }),
        ),
      ),
    );
    const out = simplifyPrimFunc(fn);
    const loops = collect(out, (n): n is For => n.kind === 'For');
    expect(loops.map((l) => l.forKind)).toEqual(['serial', 'serial']);
    expect(verifyLowered(flattenBuffer(out))).toEqual([]);
  });
});
