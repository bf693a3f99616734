// Free-variable and buffer-access analyses.
import { add, buffer, bufferLoad, letExpr, mul, primVar } from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import { block, blockRealize, bufferStore, forLoop, iterVar, primFunc, seqStmt } from '../stmt.js';
import { collectBufferAccesses, freeVars, usesVar, varsIn } from './vars.js';

describe('freeVars', () => {
  it('excludes vars bound by loops, lets and block iter vars', () => {
    const X = buffer('X', 'float32', [8]);
    const i = primVar('i');
    const n = primVar('n');
    const vi = primVar('vi');
    const t = primVar('t');
    const blk = block('B', bufferStore(X, 1, [add(vi, letExpr(t, n, t))]), {
      iterVars: [iterVar(vi, [0, n])],
    });
    const s = forLoop(i, 0, n, blockRealize([i], true, blk));
    const free = freeVars(s, { skipHandles: true });
    expect(free).toEqual([n]);
    expect(
      freeVars(s)
        .map((v) => v.name)
        .sort(),
    ).toEqual(['X', 'n']);
  });

  it('treats PrimFunc params and their shape vars as bound', () => {
    const n = primVar('n');
    const m = primVar('m');
    const X = buffer('X', 'float32', [n]);
    const i = primVar('i');
    const fn = primFunc([X], forLoop(i, 0, n, bufferStore(X, m, [i])));
    expect(freeVars(fn)).toEqual([m]);
  });
});

describe('varsIn / usesVar / collectBufferAccesses', () => {
  it('finds every var and groups loads and stores by buffer', () => {
    const A = buffer('A', 'float32', [4]);
    const B = buffer('B', 'float32', [4]);
    const i = primVar('i');
    const j = primVar('j');
    const s = seqStmt([
      bufferStore(B, add(bufferLoad(A, [i]), bufferLoad(A, [j])), [i]),
      bufferStore(B, mul(bufferLoad(B, [j]), 2), [j]),
    ]);
    expect(varsIn(s)).toContain(i);
    expect(usesVar(s, j)).toBe(true);
    expect(usesVar(s, primVar('k'))).toBe(false);
    const acc = collectBufferAccesses(s);
    expect(acc.reads.get(A)?.length).toBe(2);
    expect(acc.reads.get(B)?.length).toBe(1);
    expect(acc.writes.get(B)?.length).toBe(2);
  });
});
