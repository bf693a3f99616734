import type { Let } from '@kiln/ir-core';
import { add, buffer, bufferLoad, collect, isKilnError, letExpr, mul, primVar } from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import { allocate, bufferStore, forLoop, loopVar, primFunc, seqStmt } from '../stmt.js';
import { expectIREqual } from './test_util.js';
import { unrollLoop } from './unroll_loop.js';
import { verifyLowered } from './verify_lowered.js';

describe('tir.UnrollLoop', () => {
  const A = buffer('A', 'float32', [12]);

  it('fully unrolls an `unrolled` loop, substituting the loop var', () => {
    const i = loopVar('i');
    const before = primFunc(
      [A],
      forLoop(i, 2, 3, bufferStore(A, add(bufferLoad(A, [i]), 1), [i]), { kind: 'unrolled' }),
    );
    const st = (k: number) => bufferStore(A, add(bufferLoad(A, [k]), 1), [k]);
    expectIREqual(unrollLoop(before), primFunc([A], seqStmt([st(2), st(3), st(4)])));
  });

  it('gives each copy fresh inner binders (no Var bound twice)', () => {
    const [i, j] = [loopVar('i'), loopVar('j')];
    const T = buffer('T', 'float32', [4], { scope: 'local' });
    const body = allocate(
      T,
      forLoop(
        j,
        0,
        4,
        seqStmt([bufferStore(T, j, [j]), bufferStore(A, bufferLoad(T, [j]), [add(mul(i, 4), j)])]),
      ),
    );
    const out = unrollLoop(primFunc([A], forLoop(i, 0, 3, body, { kind: 'unrolled' })));
    expect(verifyLowered(out)).toEqual([]);
    const copy = (k: number) => {
      const jj = loopVar('j');
      const TT = buffer('T', 'float32', [4], { scope: 'local' });
      const idx = k === 0 ? jj : add(k * 4, jj);
      return allocate(
        TT,
        forLoop(jj, 0, 4, seqStmt([bufferStore(TT, jj, [jj]), bufferStore(A, bufferLoad(TT, [jj]), [idx])])),
      );
    };
    expectIREqual(out, primFunc([A], seqStmt([copy(0), copy(1), copy(2)])));
  });

  it('renames let-expression binders in each copy too', () => {
    const i = loopVar('i');
    const t = primVar('t');
    const out = unrollLoop(
      primFunc(
        [A],
        forLoop(i, 0, 2, bufferStore(A, letExpr(t, bufferLoad(A, [i]), mul(t, t)), [i]), {
          kind: 'unrolled',
        }),
      ),
    );
    const lets = collect(out, (n): n is Let => n.kind === 'Let');
    expect(lets.length).toBe(2);
    expect(lets[0].var).not.toBe(lets[1].var);
  });

  it('unrolls small serial loops only under maxExtent; leaves symbolic unrolled loops', () => {
    const n = primVar('n');
    const [i, j] = [loopVar('i'), loopVar('j')];
    const fn = primFunc(
      [A, n],
      seqStmt([
        forLoop(i, 0, 2, bufferStore(A, 0, [i])),
        forLoop(j, 0, n, bufferStore(A, 1, [j]), { kind: 'unrolled' }),
      ]),
    );
    expect(unrollLoop(fn)).toBe(fn);
    const out = unrollLoop(fn, { maxExtent: 2 });
    const j2 = loopVar('j');
    expectIREqual(
      out,
      primFunc(
        [A, n],
        seqStmt([
          bufferStore(A, 0, [0]),
          bufferStore(A, 0, [1]),
          forLoop(j2, 0, n, bufferStore(A, 1, [j2]), { kind: 'unrolled' }),
        ]),
      ),
    );
    expect(unrollLoop(out, { maxExtent: 2 })).toBe(out);
  });

  it('unrolls nested unrolled loops', () => {
    const [i, j] = [loopVar('i'), loopVar('j')];
    const fn = primFunc(
      [A],
      forLoop(i, 0, 2, forLoop(j, 0, 2, bufferStore(A, 1, [add(mul(i, 2), j)]), { kind: 'unrolled' }), {
        kind: 'unrolled',
      }),
    );
    const out = unrollLoop(fn);
    expect(out.body.kind === 'SeqStmt' && out.body.seq.length).toBe(4);
  });

  it('rejects a bad maxExtent', () => {
    try {
      unrollLoop(primFunc([A], bufferStore(A, 1, [0])), { maxExtent: -1 });
      expect.fail('expected an error');
    } catch (e) {
      expect(isKilnError(e, 'INVALID_ARGUMENT')).toBe(true);
    }
  });
});
