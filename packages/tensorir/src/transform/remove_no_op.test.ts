import { add, boolImm, buffer, bufferLoad, call, lt, not, primVar } from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import {
  allocate,
  bufferStore,
  declBuffer,
  evaluate,
  forLoop,
  ifThenElse,
  letStmt,
  loopVar,
  primFunc,
  seqStmt,
  whileLoop,
} from '../stmt.js';
import { removeNoOp } from './remove_no_op.js';
import { expectIREqual } from './test_util.js';

describe('tir.RemoveNoOp', () => {
  const A = buffer('A', 'float32', [8]);
  const n = primVar('n');
  const store = (v: number) => bufferStore(A, v, [0]);

  it('drops Evaluate(const), zero-extent and empty loops, if(false), while(false)', () => {
    const [i, j, k] = [loopVar('i'), loopVar('j'), loopVar('k')];
    const T = buffer('T', 'float32', [4], { scope: 'local' });
    const before = primFunc(
      [A, n],
      seqStmt([
        evaluate(0),
        forLoop(i, 0, 0, store(1)),
        forLoop(j, 0, n, evaluate(3)),
        ifThenElse(boolImm(false), store(2)),
        whileLoop(boolImm(false), store(3)),
        allocate(T, evaluate(0)),
        letStmt(k, 4, seqStmt([evaluate(1), evaluate(2)])),
        store(5),
      ]),
    );
    expectIREqual(removeNoOp(before), primFunc([A, n], store(5)));
  });

  it('keeps the taken branch of a constant if and flips an if with an empty then', () => {
    const c = lt(n, 4);
    const before = primFunc(
      [A, n],
      seqStmt([
        ifThenElse(boolImm(true), store(1), store(2)),
        ifThenElse(c, evaluate(0), store(3)),
        ifThenElse(c, store(4), evaluate(0)),
      ]),
    );
    const expected = primFunc(
      [A, n],
      seqStmt([store(1), ifThenElse(not(c), store(3)), ifThenElse(c, store(4))]),
    );
    expectIREqual(removeNoOp(before), expected);
  });

  it('removes a store of a location to itself, keeps calls with effects', () => {
    const i = loopVar('i');
    const sync = evaluate(call('int32', 'tir.thread_sync', []));
    const before = primFunc([A], seqStmt([forLoop(i, 0, 8, bufferStore(A, bufferLoad(A, [i]), [i])), sync]));
    expectIREqual(removeNoOp(before), primFunc([A], sync));
  });

  it('turns an all-empty body into one Evaluate(0)', () => {
    const out = removeNoOp(primFunc([A], seqStmt([evaluate(1), evaluate(2)])));
    expect(out.body.kind === 'Evaluate' && out.body.value.kind === 'IntImm' && out.body.value.value).toBe(0);
  });

  it('returns the same function when nothing is removed, and is idempotent', () => {
    const i = loopVar('i');
    const fn = primFunc([A, n], forLoop(i, 0, n, bufferStore(A, add(bufferLoad(A, [i]), 1), [i])));
    expect(removeNoOp(fn)).toBe(fn);
    const once = removeNoOp(
      primFunc([A, n], seqStmt([evaluate(0), ifThenElse(lt(n, 2), evaluate(0), store(1))])),
    );
    expect(removeNoOp(once)).toBe(once);
  });
});

describe('tir.RemoveNoOp on declarations', () => {
  it('drops an Allocate / DeclBuffer whose storage the body never touches', () => {
    const A = buffer('A', 'float32', [8]);
    const T = buffer('T', 'float32', [4], { scope: 'local' });
    const V = buffer('V', 'float32', [2, 4], { data: A.data });
    const st = bufferStore(A, 1, [0]);
    expectIREqual(removeNoOp(primFunc([A], allocate(T, st))), primFunc([A], st));
    const kept = primFunc([A], allocate(T, bufferStore(T, 1, [0])));
    expect(removeNoOp(kept)).toBe(kept);
    // A view over A's storage that is used through A only: A's data var is still touched.
    const view = primFunc([A], declBuffer(V, st));
    expect(removeNoOp(view)).toBe(view);
  });
});
