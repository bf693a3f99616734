import { add, and, buffer, bufferLoad, eq, mul } from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import {
  block,
  blockRealize,
  bufferStore,
  forLoop,
  ifThenElse,
  iterVar,
  loopVar,
  primFunc,
  seqStmt,
} from '../stmt.js';
import { lowerInitBlock } from './lower_init_block.js';
import { expectIREqual } from './test_util.js';

function matmul(withInit: boolean) {
  const A = buffer('A', 'float32', [4, 3]);
  const B = buffer('B', 'float32', [3, 5]);
  const C = buffer('C', 'float32', [4, 5]);
  const [i, j, k] = [loopVar('i'), loopVar('j'), loopVar('k')];
  const [vi, vj, vk] = [loopVar('vi'), loopVar('vj'), loopVar('vk')];
  const update = bufferStore(
    C,
    add(bufferLoad(C, [vi, vj]), mul(bufferLoad(A, [vi, vk]), bufferLoad(B, [vk, vj]))),
    [vi, vj],
  );
  const init = bufferStore(C, 0, [vi, vj]);
  const ivs = [iterVar(vi, [0, 4]), iterVar(vj, [0, 5]), iterVar(vk, [0, 3], 'reduce')];
  const blk = withInit
    ? block('C', update, { iterVars: ivs, init })
    : block('C', seqStmt([ifThenElse(eq(vk, 0), init), update]), { iterVars: ivs });
  const body = forLoop(i, 0, 4, forLoop(j, 0, 5, forLoop(k, 0, 3, blockRealize([i, j, k], true, blk))));
  return primFunc([A, B, C], body);
}

describe('tir.LowerInitBlock', () => {
  it('guards the init with "all reduce iter vars at min"', () => {
    expectIREqual(lowerInitBlock(matmul(true)), matmul(false));
  });

  it('returns the same function when no block has an init', () => {
    const fn = matmul(false);
    expect(lowerInitBlock(fn)).toBe(fn);
  });

  it('is idempotent', () => {
    const once = lowerInitBlock(matmul(true));
    expect(lowerInitBlock(once)).toBe(once);
  });

  it('conjoins several reduce vars, each against its own domain min', () => {
    const X = buffer('X', 'float32', [8]);
    const [r0, r1] = [loopVar('r0'), loopVar('r1')];
    const init = bufferStore(X, 0, [0]);
    const upd = bufferStore(X, add(bufferLoad(X, [0]), 1), [0]);
    const ivs = [iterVar(r0, [2, 3], 'reduce'), iterVar(r1, [1, 4], 'reduce')];
    const before = block('R', upd, { iterVars: ivs, init });
    const after = lowerInitBlock(primFunc([X], blockRealize([2, 1], true, before)));
    const expected = primFunc(
      [X],
      blockRealize(
        [2, 1],
        true,
        block('R', seqStmt([ifThenElse(and(eq(r0, 2), eq(r1, 1)), init), upd]), { iterVars: ivs }),
      ),
    );
    expectIREqual(after, expected);
  });

  it('runs the init unconditionally when there is no reduce iter var', () => {
    const X = buffer('X', 'float32', [1]);
    const init = bufferStore(X, 0, [0]);
    const upd = bufferStore(X, add(bufferLoad(X, [0]), 1), [0]);
    const fn = primFunc([X], blockRealize([], true, block('S', upd, { init })));
    expectIREqual(
      lowerInitBlock(fn),
      primFunc([X], blockRealize([], true, block('S', seqStmt([init, upd])))),
    );
  });
});
