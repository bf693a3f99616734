// Well-formedness checker tests: functions built by the DSL and by hand are accepted;
// each kind of defect is reported.

import * as core from '@kiln/ir-core';
import { add, buffer, bufferLoad, DType, irModule, mul, primVar, toExpr } from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import {
  allocate,
  block,
  blockRealize,
  bufferStore,
  declBuffer,
  forLoop,
  iterVar,
  letStmt,
  primFunc,
  seqStmt,
} from './stmt.js';
import { compute, createPrimFunc, placeholder, reduceAxis, sum } from './te/index.js';
import { wellFormed } from './well_formed.js';

function matmul() {
  const A = placeholder([8, 8], 'float32', 'A');
  const B = placeholder([8, 8], 'float32', 'B');
  const k = reduceAxis(8, 'k');
  const C = compute([8, 8], (i, j) => sum(mul(A.at(i, k), B.at(k, j)), k), 'C');
  return createPrimFunc([A, B, C]);
}

function expectProblem(problems: string[], pattern: RegExp): void {
  expect(
    problems.some((p) => pattern.test(p)),
    `problems: ${JSON.stringify(problems)}`,
  ).toBe(true);
}

describe('wellFormed', () => {
  it('accepts DSL output and a hand-written lowered function', () => {
    expect(wellFormed(matmul())).toEqual([]);
    const X = buffer('X', 'float32', [16]);
    const T = buffer('T', 'float32', [4]);
    const i = primVar('i');
    const t = primVar('t', 'float32');
    const fn = primFunc(
      [X],
      allocate(
        T,
        forLoop(
          i,
          0,
          4,
          letStmt(
            t,
            bufferLoad(X, [i]),
            seqStmt([bufferStore(T, t, [i]), bufferStore(X, bufferLoad(T, [i]), [add(i, 4)])]),
          ),
        ),
      ),
    );
    expect(wellFormed(fn)).toEqual([]);
  });

  it('reports an unbound variable', () => {
    const X = buffer('X', 'float32', [4]);
    const ghost = primVar('ghost');
    expectProblem(wellFormed(primFunc([X], bufferStore(X, 1, [ghost]))), /'ghost' is used but not bound/);
  });

  it('reports a variable bound twice', () => {
    const X = buffer('X', 'float32', [4]);
    const i = primVar('i');
    const fn = primFunc(
      [X],
      seqStmt([forLoop(i, 0, 4, bufferStore(X, 1, [i])), forLoop(i, 0, 4, bufferStore(X, 2, [i]))]),
    );
    expectProblem(wellFormed(fn), /'i' is bound more than once/);
  });

  it('reports a block body that reads an outer loop var directly', () => {
    const X = buffer('X', 'float32', [4]);
    const i = primVar('i');
    const vi = primVar('vi');
    const blk = block('B', bufferStore(X, 1, [i]), { iterVars: [iterVar(vi, [0, 4])] });
    const fn = primFunc(
      [X],
      blockRealize([], true, block('root', forLoop(i, 0, 4, blockRealize([i], true, blk)))),
    );
    expectProblem(wellFormed(fn), /loop variable 'i' is used inside a block/);
  });

  it('reports iter values that use vars not in scope', () => {
    const X = buffer('X', 'float32', [4]);
    const i = primVar('i');
    const j = primVar('j');
    const vi = primVar('vi');
    const blk = block('B', bufferStore(X, 1, [vi]), { iterVars: [iterVar(vi, [0, 4])] });
    const fn = primFunc(
      [X],
      blockRealize([], true, block('root', forLoop(i, 0, 4, blockRealize([j], true, blk)))),
    );
    expectProblem(wellFormed(fn), /'j' is used but not bound/);
  });

  it('reports an undeclared buffer', () => {
    const X = buffer('X', 'float32', [4]);
    const Y = buffer('Y', 'float32', [4]);
    const fn = primFunc([X], bufferStore(Y, bufferLoad(X, [0]), [0]));
    expectProblem(wellFormed(fn), /buffer 'Y' is used \(store\) but not declared/);
  });

  it('accepts a view of bound storage and a DeclBuffer; rejects a DeclBuffer of unbound storage', () => {
    const X = buffer('X', 'float32', [2, 2]);
    const flat = buffer('X_flat', 'float32', [4], { data: X.data });
    expect(wellFormed(primFunc([X], bufferStore(flat, 1, [3])))).toEqual([]);
    expect(wellFormed(primFunc([X], declBuffer(flat, bufferStore(flat, 1, [3]))))).toEqual([]);
    const orphan = buffer('orphan', 'float32', [4]);
    expectProblem(
      wellFormed(primFunc([X], declBuffer(orphan, bufferStore(orphan, 1, [0])))),
      /DeclBuffer 'orphan'/,
    );
  });

  it('reports a store whose dtype does not match the buffer, and a wrong index count', () => {
    const X = buffer('X', 'float32', [4, 4]);
    const Y = buffer('Y', 'int32', [4]);
    const v = bufferLoad(Y, [0]);
    const fn = primFunc(
      [X, Y],
      seqStmt([bufferStore(X, toExpr(1, DType.float64), [0, 0]), bufferStore(Y, v, [0, 1])]),
    );
    const p = wellFormed(fn);
    expectProblem(p, /store of float64 into buffer 'X' of float32/);
    expectProblem(p, /buffer 'Y' has 1 dimensions but a store uses 2 indices/);
  });

  it('reports duplicate block names and an init without reduce iter vars', () => {
    const X = buffer('X', 'float32', [4]);
    const b1 = block('same', bufferStore(X, 1, [0]), { init: bufferStore(X, 0, [0]) });
    const b2 = block('same', bufferStore(X, 2, [1]));
    const fn = primFunc(
      [X],
      blockRealize(
        [],
        true,
        block('root', seqStmt([blockRealize([], true, b1), blockRealize([], true, b2)])),
      ),
    );
    const p = wellFormed(fn);
    expectProblem(p, /block name 'same' is not unique/);
    expectProblem(p, /init but no reduce iter var/);
  });

  it('checks alloc_buffer shapes and scopes them to their block', () => {
    const X = buffer('X', 'float32', [4]);
    const n = primVar('n');
    const T = buffer('T', 'float32', [n]);
    const fn = primFunc(
      [X],
      blockRealize([], true, block('root', bufferStore(T, 1, [0]), { allocBuffers: [T] })),
    );
    expectProblem(wellFormed(fn), /'n' is used but not bound/);
    const U = buffer('U', 'float32', [4]);
    const inner = blockRealize([], true, block('inner', bufferStore(U, 1, [0]), { allocBuffers: [U] }));
    const outside = bufferStore(U, 2, [0]);
    const fn2 = primFunc([X], blockRealize([], true, block('root', seqStmt([inner, outside]))));
    expectProblem(wellFormed(fn2), /buffer 'U' is used \(store\) but not declared/);
  });

  it('symbolic shape vars of parameter buffers are defined', () => {
    const n = primVar('n');
    const X = buffer('X', 'float32', [n, mul(n, 2)]);
    const i = primVar('i');
    expect(wellFormed(primFunc([X], forLoop(i, 0, n, bufferStore(X, 0, [i, 0]))))).toEqual([]);
  });

  it('is registered with the well-formed checker table', () => {
    const table = core as unknown as {
      checkWellFormed?: (m: unknown) => Array<{ problems: readonly string[] }>;
    };
    if (!table.checkWellFormed) return; // an ir-core without the table
    const X = buffer('X', 'float32', [4]);
    const bad = primFunc([X], bufferStore(X, 1, [primVar('ghost')]));
    const found = table.checkWellFormed(irModule({ good: matmul(), bad }));
    expect(found.length).toBe(1);
  });
});
