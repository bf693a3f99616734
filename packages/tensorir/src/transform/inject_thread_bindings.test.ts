import { add, buffer, bufferLoad, floordiv, isKilnError, mul, primVar } from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import { bufferStore, forLoop, loopVar, primFunc, seqStmt } from '../stmt.js';
import { injectThreadBindings, LAUNCH_ATTR, THREAD_BINDING } from './inject_thread_bindings.js';
import { expectIREqual } from './test_util.js';

const tb = (tag: string) => ({ kind: 'thread_binding' as const, threadTag: tag });

function expectCode(f: () => unknown, code: string): void {
  try {
    f();
    expect.fail('expected an error');
  } catch (e) {
    expect(isKilnError(e, code)).toBe(true);
  }
}

describe('tir.InjectThreadBindings', () => {
  const A = buffer('A', 'float32', [1024]);

  it('records launch extents and validates sibling loops of one tag', () => {
    const [bx, tx, tx2] = [loopVar('bx'), loopVar('tx'), loopVar('tx2')];
    const body = forLoop(
      bx,
      0,
      8,
      seqStmt([
        forLoop(tx, 0, 128, bufferStore(A, 1, [add(mul(bx, 128), tx)]), tb('threadIdx.x')),
        forLoop(
          tx2,
          0,
          128,
          bufferStore(A, add(bufferLoad(A, [add(mul(bx, 128), tx2)]), 1), [add(mul(bx, 128), tx2)]),
          tb('threadIdx.x'),
        ),
      ]),
      tb('blockIdx.x'),
    );
    const fn = primFunc([A], body);
    const out = injectThreadBindings(fn);
    expect(out.attrs[LAUNCH_ATTR]).toEqual({ 'blockIdx.x': 8, 'threadIdx.x': 128 });
    expect(out.body).toBe(fn.body);
    // idempotent
    expect(injectThreadBindings(out)).toBe(out);
  });

  it('shifts a nonzero min to 0', () => {
    const tx = loopVar('tx');
    const fn = primFunc([A], forLoop(tx, 4, 32, bufferStore(A, 1, [tx]), tb('threadIdx.x')));
    const tx2 = loopVar('tx');
    const expected = primFunc([A], forLoop(tx2, 0, 32, bufferStore(A, 1, [add(tx2, 4)]), tb('threadIdx.x')), {
      attrs: { [LAUNCH_ATTR]: { 'threadIdx.x': 32 } },
    });
    expectIREqual(injectThreadBindings(fn), expected);
  });

  it('encodes symbolic launch extents over the params', () => {
    const n = primVar('n');
    const X = buffer('X', 'float32', [n]);
    const [bx, tx] = [loopVar('bx'), loopVar('tx')];
    const fn = primFunc(
      [X],
      forLoop(
        bx,
        0,
        floordiv(add(n, 63), 64),
        forLoop(tx, 0, 64, bufferStore(X, 1, [add(mul(bx, 64), tx)]), tb('threadIdx.x')),
        tb('blockIdx.x'),
      ),
    );
    expect(injectThreadBindings(fn).attrs[LAUNCH_ATTR]).toEqual({
      'blockIdx.x': { op: 'FloorDiv', args: [{ op: 'Add', args: [{ shape: [0, 0] }, 63] }, 64] },
      'threadIdx.x': 64,
    });
  });

  it('errors when a tag is bound with two different extents', () => {
    const [t1, t2] = [loopVar('t1'), loopVar('t2')];
    const fn = primFunc(
      [A],
      seqStmt([
        forLoop(t1, 0, 64, bufferStore(A, 1, [t1]), tb('threadIdx.x')),
        forLoop(t2, 0, 32, bufferStore(A, 2, [t2]), tb('threadIdx.x')),
      ]),
    );
    expectCode(() => injectThreadBindings(fn), THREAD_BINDING);
  });

  it('errors on nested same-tag loops, blockIdx under a serial loop, unknown tags', () => {
    const [a, b, k] = [loopVar('a'), loopVar('b'), loopVar('k')];
    expectCode(
      () =>
        injectThreadBindings(
          primFunc(
            [A],
            forLoop(
              a,
              0,
              4,
              forLoop(b, 0, 4, bufferStore(A, 1, [add(a, b)]), tb('threadIdx.x')),
              tb('threadIdx.x'),
            ),
          ),
        ),
      THREAD_BINDING,
    );
    expectCode(
      () =>
        injectThreadBindings(
          primFunc([A], forLoop(k, 0, 4, forLoop(b, 0, 4, bufferStore(A, 1, [b]), tb('blockIdx.x')))),
        ),
      THREAD_BINDING,
    );
    expectCode(
      () => injectThreadBindings(primFunc([A], forLoop(a, 0, 4, bufferStore(A, 1, [a]), tb('warpIdx.q')))),
      THREAD_BINDING,
    );
  });

  it('turns vthread loops into serial loops; identity without thread bindings', () => {
    const v = loopVar('v');
    const out = injectThreadBindings(primFunc([A], forLoop(v, 0, 2, bufferStore(A, 1, [v]), tb('vthread'))));
    expect(out.body.kind === 'For' && out.body.forKind).toBe('serial');
    expect(out.attrs[LAUNCH_ATTR]).toBeUndefined();
    const plain = primFunc([A], forLoop(v, 0, 2, bufferStore(A, 1, [v])));
    expect(injectThreadBindings(plain)).toBe(plain);
  });
});

describe('tir.InjectThreadBindings with symbolic extents', () => {
  it('accepts extents that are equal but spelled differently', () => {
    const n = primVar('n');
    const X = buffer('X', 'float32', [n]);
    const [a, b] = [loopVar('a'), loopVar('b')];
    const fn = primFunc(
      [X],
      seqStmt([
        forLoop(a, 0, add(n, 1), bufferStore(X, 1, [0]), {
          kind: 'thread_binding',
          threadTag: 'threadIdx.x',
        }),
        forLoop(b, 0, add(1, n), bufferStore(X, 2, [0]), {
          kind: 'thread_binding',
          threadTag: 'threadIdx.x',
        }),
      ]),
    );
    expect(injectThreadBindings(fn).attrs[LAUNCH_ATTR]).toEqual({
      'threadIdx.x': { op: 'Add', args: [{ shape: [0, 0] }, 1] },
    });
  });
});
