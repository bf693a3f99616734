import { describe, expect, it } from 'vitest';
import { add, buffer, bufferLoad, letExpr, mul, primVar } from './expr.js';
import type { Node } from './node.js';
import { structuralEqual, structuralHash } from './structural.js';
import { rewriteNode, substitute } from './visitor.js';

describe('structural equality', () => {
  it('treats let-bound variables as renamable', () => {
    const x = primVar('x');
    const y = primVar('y');
    const n = primVar('n');
    const a = letExpr(x, add(n, 1), mul(x, x));
    const b = letExpr(y, add(n, 1), mul(y, y));
    expect(structuralEqual(a, b)).toBe(true);
    expect(structuralHash(a)).toBe(structuralHash(b));
    const c = letExpr(y, add(n, 1), mul(y, n));
    expect(structuralEqual(a, c)).toBe(false);
  });

  it('compares free variables by identity unless mapping is asked for', () => {
    const n1 = primVar('n');
    const n2 = primVar('n');
    expect(structuralEqual(add(n1, 1), add(n2, 1))).toBe(false);
    expect(structuralEqual(add(n1, 1), add(n2, 1), { mapFreeVars: true })).toBe(true);
    expect(structuralHash(add(n1, 1), { mapFreeVars: true })).toBe(
      structuralHash(add(n2, 1), { mapFreeVars: true }),
    );
    // one-to-one: n1 cannot map to both n2 and m
    const m = primVar('m');
    expect(structuralEqual(add(n1, n1), add(n2, m), { mapFreeVars: true })).toBe(false);
  });

  it('checks dtypes and buffer shapes when mapping', () => {
    const i32 = primVar('i', 'int32');
    const i64 = primVar('i', 'int64');
    expect(structuralEqual(i32, i64, { mapFreeVars: true })).toBe(false);
    const A = buffer('A', 'float32', [4, 8]);
    const B = buffer('B', 'float32', [4, 8]);
    const C = buffer('C', 'float32', [8, 4]);
    expect(structuralEqual(bufferLoad(A, [0, 1]), bufferLoad(B, [0, 1]), { mapFreeVars: true })).toBe(true);
    expect(structuralEqual(bufferLoad(A, [0, 1]), bufferLoad(C, [0, 1]), { mapFreeVars: true })).toBe(false);
  });
});

describe('rewriting', () => {
  it('returns the same object when nothing changes', () => {
    const x = primVar('x');
    const e = add(mul(x, 2), 3);
    expect(rewriteNode(e, [() => undefined])).toBe(e);
    expect(substitute(e, new Map())).toBe(e);
  });
  it('substitutes variable uses', () => {
    const x = primVar('x');
    const y = primVar('y');
    const e = add(mul(x, 2), x);
    const s = substitute(e, new Map<Node, Node>([[x, y]]));
    expect(structuralEqual(s, add(mul(y, 2), y))).toBe(true);
  });
});

describe('free-variable mapping is one-to-one', () => {
  it('does not let a variable seen on both sides map to another one later', () => {
    const n = primVar('n');
    const m = primVar('m');
    expect(structuralEqual(add(n, n), add(n, m), { mapFreeVars: true })).toBe(false);
    expect(structuralEqual(add(n, m), add(n, m), { mapFreeVars: true })).toBe(true);
  });
});
