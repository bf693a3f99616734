import { add, buffer, bufferLoad, eq, isKilnError, lt, mul } from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import {
  allocate,
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
import { convertBlocksToLoops } from './convert_blocks_to_loops.js';
import { flattenBuffer } from './flatten_buffer.js';
import { expectIREqual } from './test_util.js';
import { verifyLowered } from './verify_lowered.js';

describe('tir.ConvertBlocksToLoops', () => {
  it('substitutes iter vars by their bindings and keeps the predicate as an if', () => {
    const A = buffer('A', 'float32', [10]);
    const B = buffer('B', 'float32', [10]);
    const [io, ii, vi] = [loopVar('io'), loopVar('ii'), loopVar('vi')];
    const blk = block('B', bufferStore(B, mul(bufferLoad(A, [vi]), 2), [vi]), {
      iterVars: [iterVar(vi, [0, 10])],
    });
    const pred = lt(add(mul(io, 4), ii), 10);
    const before = primFunc(
      [A, B],
      forLoop(io, 0, 3, forLoop(ii, 0, 4, blockRealize([add(mul(io, 4), ii)], pred, blk))),
    );

    const [io2, ii2] = [loopVar('io'), loopVar('ii')];
    const v = add(mul(io2, 4), ii2);
    const expected = primFunc(
      [A, B],
      forLoop(
        io2,
        0,
        3,
        forLoop(
          ii2,
          0,
          4,
          ifThenElse(lt(add(mul(io2, 4), ii2), 10), bufferStore(B, mul(bufferLoad(A, [v]), 2), [v])),
        ),
      ),
    );
    expectIREqual(convertBlocksToLoops(before), expected);
  });

  it('turns alloc_buffers into Allocate at the block, keeping scope', () => {
    const A = buffer('A', 'float32', [4]);
    const T = buffer('T', 'float32', [4], { scope: 'shared' });
    const i = loopVar('i');
    const j = loopVar('j');
    const body = seqStmt([
      forLoop(i, 0, 4, bufferStore(T, bufferLoad(A, [i]), [i])),
      forLoop(j, 0, 4, bufferStore(A, add(bufferLoad(T, [j]), 1), [j])),
    ]);
    const root = block('root', body, { allocBuffers: [T] });
    const before = primFunc([A], blockRealize([], true, root));
    const after = convertBlocksToLoops(before);
    expectIREqual(after, primFunc([A], allocate(T, body)));
    expect(after.body.kind === 'Allocate' && after.body.buffer.scope).toBe('shared');
  });

  it('lowers a leftover init and handles nested blocks', () => {
    const A = buffer('A', 'float32', [4, 3]);
    const S = buffer('S', 'float32', [4]);
    const [i, k, vi, vk] = [loopVar('i'), loopVar('k'), loopVar('vi'), loopVar('vk')];
    const inner = block('S', bufferStore(S, add(bufferLoad(S, [vi]), bufferLoad(A, [vi, vk])), [vi]), {
      iterVars: [iterVar(vi, [0, 4]), iterVar(vk, [0, 3], 'reduce')],
      init: bufferStore(S, 0, [vi]),
    });
    const before = primFunc(
      [A, S],
      blockRealize(
        [],
        true,
        block('root', forLoop(i, 0, 4, forLoop(k, 0, 3, blockRealize([i, k], true, inner)))),
      ),
    );
    const [i2, k2] = [loopVar('i'), loopVar('k')];
    const expected = primFunc(
      [A, S],
      forLoop(
        i2,
        0,
        4,
        forLoop(
          k2,
          0,
          3,
          seqStmt([
            ifThenElse(eq(k2, 0), bufferStore(S, 0, [i2])),
            bufferStore(S, add(bufferLoad(S, [i2]), bufferLoad(A, [i2, k2])), [i2]),
          ]),
        ),
      ),
    );
    expectIREqual(convertBlocksToLoops(before), expected);
  });

  it('returns the same function when there is no block, and is idempotent', () => {
    const A = buffer('A', 'float32', [4]);
    const i = loopVar('i');
    const fn = primFunc([A], forLoop(i, 0, 4, bufferStore(A, 1, [i])));
    expect(convertBlocksToLoops(fn)).toBe(fn);
  });

  it('rejects a bare block with iteration variables', () => {
    const A = buffer('A', 'float32', [4]);
    const v = loopVar('v');
    const fn = primFunc([A], block('b', bufferStore(A, 1, [v]), { iterVars: [iterVar(v, [0, 4])] }));
    try {
      convertBlocksToLoops(fn);
      expect.fail('expected an error');
    } catch (e) {
      expect(isKilnError(e, 'WELL_FORMED')).toBe(true);
    }
  });
});

describe('tir.ConvertBlocksToLoops binder uniqueness', () => {
  it('renames a loop var bound twice', () => {
    const A = buffer('A', 'float32', [4]);
    const i = loopVar('i');
    const loop = forLoop(i, 0, 4, bufferStore(A, 1, [i]));
    const out = convertBlocksToLoops(primFunc([A], seqStmt([loop, loop])));
    expect(verifyLowered(flattenBuffer(out))).toEqual([]);
    const [a, b] = [loopVar('i'), loopVar('i')];
    expectIREqual(
      out,
      primFunc(
        [A],
        seqStmt([forLoop(a, 0, 4, bufferStore(A, 1, [a])), forLoop(b, 0, 4, bufferStore(A, 1, [b]))]),
      ),
    );
  });
});
