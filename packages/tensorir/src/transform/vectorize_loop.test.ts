import type { PrimExpr } from '@kiln/ir-core';
import {
  add,
  and,
  broadcast,
  buffer,
  bufferLoad,
  call,
  floatImm,
  floordiv,
  gt,
  intImm,
  isKilnError,
  lt,
  mul,
  primVar,
  ramp,
  select,
  sub,
} from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import type { For, PrimFunc } from '../stmt.js';
import { allocate, bufferStore, forLoop, ifThenElse, letStmt, loopVar, primFunc, seqStmt } from '../stmt.js';
import { expectIREqual } from './test_util.js';
import { lanesIndependent, vectorizeLoop } from './vectorize_loop.js';

const A = buffer('A', 'float32', [64]);
const B = buffer('B', 'float32', [64]);
const C = buffer('C', 'float32', [64]);

/** Expect the vectorize fallback for an illegal loop: the same loop, now serial. */
function expectSerialFallback(fn: PrimFunc): void {
  const out = vectorizeLoop(fn);
  const f = fn.body as For;
  expectIREqual(out, primFunc(fn.params, forLoop(f.loopVar, f.min, f.extent, f.body, { kind: 'serial' })));
}

/** Expect a legal loop whose lanes cannot be formed to stay as it is: a `vectorized` hint. */
function expectHintKept(fn: PrimFunc): void {
  expect(vectorizeLoop(fn)).toBe(fn);
  expect(lanesIndependent(fn.body as For)).toBe(true);
}

describe('tir.VectorizeLoop', () => {
  it('turns a contiguous elementwise loop into Ramp loads/stores', () => {
    const [io, v] = [loopVar('io'), loopVar('v')];
    const idx = add(mul(io, 4), v);
    const before = primFunc(
      [A, B, C],
      forLoop(
        io,
        0,
        16,
        forLoop(v, 0, 4, bufferStore(C, add(bufferLoad(A, [idx]), mul(bufferLoad(B, [idx]), 2)), [idx]), {
          kind: 'vectorized',
        }),
      ),
    );
    const io2 = loopVar('io');
    const r = ramp(mul(io2, 4), 1, 4);
    const expected = primFunc(
      [A, B, C],
      forLoop(
        io2,
        0,
        16,
        bufferStore(
          C,
          add(bufferLoad(A, [r]), mul(bufferLoad(B, [r]), broadcast(floatImm(2, 'float32'), 4))),
          [r],
        ),
      ),
    );
    expectIREqual(vectorizeLoop(before), expected);
  });

  it('broadcasts loop-invariant values and keeps strided Ramp loads', () => {
    const s = primVar('s', 'float32');
    const v = loopVar('v');
    const before = primFunc(
      [A, C, s],
      forLoop(v, 0, 8, bufferStore(C, mul(bufferLoad(A, [mul(v, 2)]), s), [v]), { kind: 'vectorized' }),
    );
    const expected = primFunc(
      [A, C, s],
      bufferStore(C, mul(bufferLoad(A, [ramp(0, 2, 8)]), broadcast(s, 8)), [ramp(0, 1, 8)]),
    );
    expectIREqual(vectorizeLoop(before), expected);
  });

  it('vectorizes selects, casts, comparisons and elementwise intrinsics', () => {
    const v = loopVar('v');
    const x = bufferLoad(A, [v]);
    const before = primFunc(
      [A, C],
      forLoop(v, 0, 4, bufferStore(C, select(gt(x, 0), call('float32', 'tir.exp', [x]), 0), [v]), {
        kind: 'vectorized',
      }),
    );
    const out = vectorizeLoop(before);
    const st = out.body;
    expect(st.kind).toBe('BufferStore');
    expect(st.kind === 'BufferStore' && st.value.dtype.str).toBe('float32x4');
    const xv = bufferLoad(A, [ramp(0, 1, 4)]);
    expectIREqual(
      out,
      primFunc(
        [A, C],
        bufferStore(
          C,
          select(
            gt(xv, broadcast(floatImm(0, 'float32'), 4)),
            call('float32x4', 'tir.exp', [xv]),
            broadcast(floatImm(0, 'float32'), 4),
          ),
          [ramp(0, 1, 4)],
        ),
      ),
    );
  });

  it('keeps an inner serial loop when lanes stay independent (row reduction per lane)', () => {
    const M = buffer('M', 'float32', [4, 16]);
    const S = buffer('S', 'float32', [4]);
    const [v, k] = [loopVar('v'), loopVar('k')];
    const before = primFunc(
      [M, S],
      forLoop(
        v,
        0,
        4,
        forLoop(k, 0, 16, bufferStore(S, add(bufferLoad(S, [v]), bufferLoad(M, [v, k])), [v])),
        { kind: 'vectorized' },
      ),
    );
    const k2 = loopVar('k');
    const r = ramp(0, 1, 4);
    expectIREqual(
      vectorizeLoop(before),
      primFunc(
        [M, S],
        forLoop(k2, 0, 16, bufferStore(S, add(bufferLoad(S, [r]), bufferLoad(M, [r, k2])), [r])),
      ),
    );
  });

  it('falls back to serial for a reduction across lanes', () => {
    const S = buffer('S', 'float32', [1]);
    const v = loopVar('v');
    expectSerialFallback(
      primFunc(
        [A, S],
        forLoop(v, 0, 8, bufferStore(S, add(bufferLoad(S, [0]), bufferLoad(A, [v])), [0]), {
          kind: 'vectorized',
        }),
      ),
    );
  });

  it('falls back for a loop-carried dependence between lanes', () => {
    const v = loopVar('v');
    expectSerialFallback(
      primFunc(
        [A],
        forLoop(v, 0, 8, bufferStore(A, add(bufferLoad(A, [v]), 1), [add(v, 1)]), { kind: 'vectorized' }),
      ),
    );
  });

  it('splits lanes at a tail guard affine in the loop var: vector body, scalar tail', () => {
    const n = primVar('n');
    const [io, v] = [loopVar('io'), loopVar('v')];
    const idx = add(mul(io, 4), v);
    const before = primFunc(
      [A, n],
      forLoop(v, 0, 4, ifThenElse(lt(idx, n), bufferStore(A, 1, [idx])), { kind: 'vectorized' }),
    );
    const v2 = loopVar('v');
    const idx2 = add(mul(io, 4), v2);
    const expected = primFunc(
      [A, n],
      ifThenElse(
        and(lt(add(mul(io, 4), 0), n), lt(add(mul(io, 4), 3), n)),
        bufferStore(A, broadcast(floatImm(1, 'float32'), 4), [ramp(mul(io, 4), 1, 4)]),
        forLoop(v2, 0, 4, ifThenElse(lt(idx2, n), bufferStore(A, 1, [idx2])), { kind: 'vectorized' }),
      ),
    );
    expectIREqual(vectorizeLoop(before), expected);
  });

  it('vectorizes an if_then_else whose condition is the same for every lane (scalar condition)', () => {
    const [i, v] = [loopVar('i'), loopVar('v')];
    const P = buffer('P', 'float32', [16, 4]);
    const Q = buffer('Q', 'float32', [16, 4]);
    const guarded = (iv: typeof i, lane: PrimExpr) =>
      call('float32', 'tir.if_then_else', [
        and(gt(iv, 0), lt(iv, 15)),
        bufferLoad(P, [sub(iv, 1), lane]),
        floatImm(0, 'float32'),
      ]);
    const before = primFunc(
      [P, Q],
      forLoop(i, 0, 16, forLoop(v, 0, 4, bufferStore(Q, guarded(i, v), [i, v]), { kind: 'vectorized' })),
    );
    const i2 = loopVar('i');
    const r = ramp(0, 1, 4);
    const expected = primFunc(
      [P, Q],
      forLoop(
        i2,
        0,
        16,
        bufferStore(
          Q,
          call('float32x4', 'tir.if_then_else', [
            and(gt(i2, 0), lt(i2, 15)),
            bufferLoad(P, [sub(i2, 1), r]),
            broadcast(floatImm(0, 'float32'), 4),
          ]),
          [i2, r],
        ),
      ),
    );
    expectIREqual(vectorizeLoop(before), expected);
    // A condition that differs per lane may guard a load out of bounds: not vectorized.
    const perLane = primFunc(
      [P, Q],
      forLoop(
        v,
        0,
        4,
        bufferStore(
          Q,
          call('float32', 'tir.if_then_else', [
            gt(v, 0),
            bufferLoad(P, [0, sub(v, 1)]),
            floatImm(0, 'float32'),
          ]),
          [0, v],
        ),
        { kind: 'vectorized' },
      ),
    );
    expect(vectorizeLoop(perLane)).toBe(perLane);
  });

  it('keeps a legal loop with a data-dependent if as a vectorized hint', () => {
    const v = loopVar('v');
    expectHintKept(
      primFunc(
        [A, C],
        forLoop(v, 0, 4, ifThenElse(gt(bufferLoad(A, [v]), 0), bufferStore(C, 1, [v])), {
          kind: 'vectorized',
        }),
      ),
    );
  });

  it('keeps the hint for a non-constant extent, a gather index, an allocation, an inner loop bound on the var', () => {
    const n = primVar('n');
    const v = loopVar('v');
    expectHintKept(primFunc([A, n], forLoop(v, 0, n, bufferStore(A, 1, [v]), { kind: 'vectorized' })));
    expectHintKept(
      primFunc(
        [A, C],
        forLoop(v, 0, 4, bufferStore(C, bufferLoad(A, [floordiv(v, 2)]), [v]), { kind: 'vectorized' }),
      ),
    );
    const T = buffer('T', 'float32', [4], { scope: 'local' });
    expectHintKept(
      primFunc([A], forLoop(v, 0, 4, allocate(T, bufferStore(A, 1, [v])), { kind: 'vectorized' })),
    );
    const k = loopVar('k');
    expectHintKept(
      primFunc([A], forLoop(v, 0, 4, forLoop(k, 0, v, bufferStore(A, 1, [v])), { kind: 'vectorized' })),
    );
  });

  it('turns illegal loops serial even where lanes could never form anyway', () => {
    const n = primVar('n');
    const v = loopVar('v');
    const S = buffer('S', 'float32', [1]);
    // non-constant extent, and a reduction into S[0]
    expectSerialFallback(
      primFunc(
        [A, S, n],
        forLoop(v, 0, n, bufferStore(S, add(bufferLoad(S, [0]), bufferLoad(A, [v])), [0]), {
          kind: 'vectorized',
        }),
      ),
    );
    // a scatter: two lanes may write one location
    expectSerialFallback(
      primFunc(
        [A, C],
        forLoop(v, 0, 4, bufferStore(C, bufferLoad(A, [v]), [floordiv(v, 2)]), { kind: 'vectorized' }),
      ),
    );
  });

  it('falls back when a written index depends on an inner loop var (lanes could collide)', () => {
    const [v, k] = [loopVar('v'), loopVar('k')];
    expectSerialFallback(
      primFunc(
        [A],
        forLoop(v, 0, 4, forLoop(k, 0, 8, bufferStore(A, 1, [add(mul(v, 4), k)])), { kind: 'vectorized' }),
      ),
    );
  });

  it('inlines Ramp-valued lets and turns extent-1 loops into their body', () => {
    const [v, t, w] = [loopVar('v'), loopVar('t'), loopVar('w')];
    const before = primFunc(
      [A, C],
      seqStmt([
        forLoop(v, 0, 4, letStmt(t, add(v, 8), bufferStore(C, bufferLoad(A, [t]), [t])), {
          kind: 'vectorized',
        }),
        forLoop(w, 5, 1, bufferStore(C, 0, [w]), { kind: 'vectorized' }),
      ]),
    );
    const r = ramp(8, 1, 4);
    expectIREqual(
      vectorizeLoop(before),
      primFunc([A, C], seqStmt([bufferStore(C, bufferLoad(A, [r]), [r]), bufferStore(C, 0, [intImm(5)])])),
    );
  });

  it('respects maxLanes, returns the same function without vectorized loops, and is idempotent', () => {
    const v = loopVar('v');
    const wide = primFunc([A], forLoop(v, 0, 64, bufferStore(A, 1, [v]), { kind: 'vectorized' }));
    expect(vectorizeLoop(wide, { maxLanes: 16 })).toBe(wide);
    expect(vectorizeLoop(wide).body.kind).toBe('BufferStore');
    const plain = primFunc([A], forLoop(v, 0, 64, bufferStore(A, 1, [v])));
    expect(vectorizeLoop(plain)).toBe(plain);
    const once = vectorizeLoop(wide);
    expect(vectorizeLoop(once)).toBe(once);
    try {
      vectorizeLoop(wide, { maxLanes: 0 });
      expect.fail('expected an error');
    } catch (e) {
      expect(isKilnError(e, 'INVALID_ARGUMENT')).toBe(true);
    }
  });
});

describe('tir.VectorizeLoop: reversed and offset accesses', () => {
  it('forms a negative-stride Ramp for a reversed store', () => {
    const v = loopVar('v');
    const before = primFunc(
      [A, C],
      forLoop(v, 0, 4, bufferStore(C, bufferLoad(A, [v]), [sub(7, v)]), { kind: 'vectorized' }),
    );
    expectIREqual(
      vectorizeLoop(before),
      primFunc([A, C], bufferStore(C, bufferLoad(A, [ramp(0, 1, 4)]), [ramp(7, -1, 4)])),
    );
  });
  it('handles a loop with a nonzero min', () => {
    const v = loopVar('v');
    const before = primFunc(
      [A, C],
      forLoop(v, 4, 4, bufferStore(C, bufferLoad(A, [v]), [v]), { kind: 'vectorized' }),
    );
    expectIREqual(
      vectorizeLoop(before),
      primFunc([A, C], bufferStore(C, bufferLoad(A, [ramp(4, 1, 4)]), [ramp(4, 1, 4)])),
    );
  });
});
