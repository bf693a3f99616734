import { add, buffer, bufferLoad, max, primVar } from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import { allocate, bufferStore, declBuffer, forLoop, loopVar, primFunc, seqStmt } from '../stmt.js';
import { storageRewrite } from './storage_rewrite.js';
import { expectIREqual } from './test_util.js';
import { verifyLowered } from './verify_lowered.js';

const A = buffer('A', 'float32', [16]);

type Size = number | ReturnType<typeof primVar>;
function body(T1: ReturnType<typeof buffer>, T2: ReturnType<typeof buffer>) {
  const [i, j] = [loopVar('i'), loopVar('j')];
  const s1 = seqStmt([
    forLoop(i, 0, 4, bufferStore(T1, bufferLoad(A, [i]), [i])),
    forLoop(j, 0, 4, bufferStore(A, bufferLoad(T1, [j]), [j])),
  ]);
  const [k, l] = [loopVar('k'), loopVar('l')];
  const s2 = seqStmt([
    forLoop(k, 0, 8, bufferStore(T2, k, [k])),
    forLoop(l, 0, 8, bufferStore(A, bufferLoad(T2, [l]), [l])),
  ]);
  return seqStmt([s1, s2]);
}
/** T1 then T2: disjoint lifetimes. */
function program(sizes: [Size, Size], dt2 = 'float32', scope2 = 'local') {
  const T1 = buffer('T1', 'float32', [sizes[0]], { scope: 'local' });
  const T2 = buffer('T2', dt2, [sizes[1]], { scope: scope2 });
  return { T1, T2, fn: primFunc([A], allocate(T1, allocate(T2, body(T1, T2)))) };
}

describe('tir.StorageRewrite', () => {
  it('lets two temporaries with disjoint lifetimes share one allocation of the larger size', () => {
    const { fn, T1, T2 } = program([4, 8]);
    const out = storageRewrite(fn);
    expect(verifyLowered(out)).toEqual([]);
    // one Allocate (T1's data var, size 8), T2 a view on it
    const allocs: string[] = [];
    let cur = out.body;
    while (cur.kind === 'Allocate' || cur.kind === 'DeclBuffer') {
      allocs.push(
        `${cur.kind}:${cur.buffer.name}:${cur.buffer.shape[0].kind === 'IntImm' ? cur.buffer.shape[0].value : '?'}`,
      );
      if (cur.kind === 'Allocate') expect(cur.buffer.data).toBe(T1.data);
      if (cur.kind === 'DeclBuffer') expect(cur.buffer.data).toBe(T1.data);
      cur = cur.body;
    }
    expect(allocs).toEqual(['Allocate:T1:8', 'DeclBuffer:T2:8']);
    // Expected, built independently: one storage D of 8 floats, T2 a view on it.
    const D = primVar('D', 'handle');
    const T1x = buffer('T1', 'float32', [8], { scope: 'local', data: D });
    const T2v = buffer('T2', 'float32', [8], { scope: 'local', data: D });
    expectIREqual(out, primFunc([A], allocate(T1x, declBuffer(T2v, body(T1x, T2v)))));
    void T2;
  });

  it('uses max() for symbolic sizes', () => {
    const n = primVar('n');
    const m = primVar('m');
    const { fn } = program([n, m]);
    const out = storageRewrite(primFunc([A, n, m], fn.body));
    expect(out.body.kind).toBe('Allocate');
    if (out.body.kind === 'Allocate') expectIREqual(out.body.buffer.shape[0], max(n, m));
  });

  it('does not share across dtypes or scopes, or with overlapping lifetimes (identity)', () => {
    const d = program([4, 8], 'int32').fn;
    expect(storageRewrite(d)).toBe(d);
    const s = program([4, 8], 'float32', 'shared').fn;
    expect(storageRewrite(s)).toBe(s);
    // overlapping: T1 used in both halves
    const T1 = buffer('T1', 'float32', [4], { scope: 'local' });
    const T2 = buffer('T2', 'float32', [4], { scope: 'local' });
    const i = loopVar('i');
    const ov = primFunc(
      [A],
      allocate(
        T1,
        allocate(
          T2,
          seqStmt([
            forLoop(i, 0, 4, bufferStore(T1, 1, [i])),
            bufferStore(T2, bufferLoad(T1, [0]), [0]),
            bufferStore(A, add(bufferLoad(T1, [1]), bufferLoad(T2, [0])), [0]),
          ]),
        ),
      ),
    );
    expect(storageRewrite(ov)).toBe(ov);
  });

  it('honours the scopes option and is idempotent', () => {
    const { fn } = program([4, 8]);
    expect(storageRewrite(fn, { scopes: ['shared'] })).toBe(fn);
    const once = storageRewrite(fn);
    expect(storageRewrite(once)).toBe(once);
  });
});

describe('tir.StorageRewrite in GPU kernels', () => {
  it('shares only local buffers when the function has thread bindings', () => {
    const mk = (scope: string) => {
      const T1 = buffer('T1', 'float32', [4], { scope });
      const T2 = buffer('T2', 'float32', [8], { scope });
      const tx = loopVar('tx');
      return primFunc(
        [A],
        forLoop(tx, 0, 4, allocate(T1, allocate(T2, body(T1, T2))), {
          kind: 'thread_binding',
          threadTag: 'threadIdx.x',
        }),
      );
    };
    const shared = mk('shared');
    expect(storageRewrite(shared)).toBe(shared);
    const local = mk('local');
    expect(storageRewrite(local)).not.toBe(local);
  });
});

describe('tir.StorageRewrite on sibling allocations', () => {
  it('merges seq[Allocate(T1, s1), Allocate(T2, s2)] into one allocation', () => {
    const T1 = buffer('T1', 'float32', [4], { scope: 'local' });
    const T2 = buffer('T2', 'float32', [8], { scope: 'local' });
    const U = buffer('U', 'int32', [8], { scope: 'local' });
    const [i, j, k] = [loopVar('i'), loopVar('j'), loopVar('k')];
    const s1 = (t: typeof T1) => forLoop(i, 0, 4, bufferStore(t, bufferLoad(A, [i]), [i]));
    const s2 = (t: typeof T2) => forLoop(j, 0, 8, bufferStore(A, add(bufferLoad(t, [j]), 1), [j]));
    const su = forLoop(k, 0, 8, bufferStore(U, k, [k]));
    const before = primFunc([A], seqStmt([allocate(T1, s1(T1)), allocate(U, su), allocate(T2, s2(T2))]));
    const out = storageRewrite(before);
    expect(verifyLowered(out)).toEqual([]);
    const D = primVar('D', 'handle');
    const T1x = buffer('T1', 'float32', [8], { scope: 'local', data: D });
    const T2v = buffer('T2', 'float32', [8], { scope: 'local', data: D });
    expectIREqual(
      out,
      primFunc([A], allocate(T1x, seqStmt([s1(T1x), allocate(U, su), declBuffer(T2v, s2(T2v))]))),
    );
    expect(storageRewrite(out)).toBe(out);
  });
});
