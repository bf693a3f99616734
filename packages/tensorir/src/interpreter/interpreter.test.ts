// Interpreter tests on hand-written TIR: a lowered function (flat buffers, vector ramps,
// Allocate, parallel loop, aliasing views), block semantics, and the error paths.
import {
  add,
  broadcast,
  buffer,
  bufferLoad,
  cast,
  DType,
  div,
  ErrorCodes,
  floordiv,
  floormod,
  ge,
  isKilnError,
  letExpr,
  lt,
  mul,
  primVar,
  ramp,
  select,
  sub,
  toExpr,
  truncmod,
} from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import { exp, ifThenElseExpr, threadSync } from '../intrinsics.js';
import { allClose, getAt, ndarray, randomNDArray, toNumbers } from '../ndarray.js';
import type { PrimFunc } from '../stmt.js';
import {
  allocate,
  attrStmt,
  block,
  blockRealize,
  bufferStore,
  declBuffer,
  evaluate,
  forLoop,
  ifThenElse,
  iterVar,
  letStmt,
  primFunc,
  seqStmt,
  whileLoop,
} from '../stmt.js';
import { compute, createPrimFunc, placeholder, sizeVar } from '../te/index.js';
import { wellFormed } from '../well_formed.js';
import type { InterpretArg } from './interpreter.js';
import { compilePrimFunc, InterpreterErrorCodes, interpret } from './interpreter.js';

function expectCode(f: () => void, code: string): string {
  try {
    f();
  } catch (e) {
    expect(isKilnError(e), String(e)).toBe(true);
    expect((e as { code: string }).code).toBe(code);
    return (e as Error).message;
  }
  throw new Error(`expected a KilnError ${code}, nothing was thrown`);
}

// Every test runs on both engines (generated JavaScript and closures): same results, same errors.
for (const engine of ['jit', 'closure'] as const) {
  const run = (fn: PrimFunc, args: readonly InterpretArg[]): void => interpret(fn, args, { engine });
  describe(`engine ${engine}`, () => {
    describe('interpreter: a lowered function', () => {
      // C[i] = (A[i] + B[i]) * 2 + bias, for 64 elements, 4 lanes at a time, with a
      // parallel outer loop staging A + B through an allocated 4-element temporary.
      // A is a 2-D [8, 8] parameter read through a flat 1-D view sharing its storage.
      function build() {
        const A2 = buffer('A', 'float32', [8, 8]);
        const A = buffer('A_flat', 'float32', [64], { data: A2.data });
        const B = buffer('B', 'float32', [64]);
        const C = buffer('C', 'float32', [64]);
        const bias = primVar('bias', 'float32');
        const T = buffer('T', 'float32', [4], { scope: 'local' });
        const io = primVar('io', 'int32');
        const base = primVar('base', 'int32');
        const lanes = ramp(0, 1, 4);
        const idx = ramp(base, 1, 4);
        const body = letStmt(
          base,
          mul(io, 4),
          allocate(
            T,
            seqStmt([
              bufferStore(T, add(bufferLoad(A, [idx]), bufferLoad(B, [idx])), [toExpr(lanes)]),
              bufferStore(
                C,
                add(mul(bufferLoad(T, [lanes]), broadcast(toExpr(2, DType.float32), 4)), broadcast(bias, 4)),
                [idx],
              ),
            ]),
          ),
        );
        const loop = forLoop(io, 0, 16, body, { kind: 'parallel' });
        return {
          fn: primFunc([A2, B, C, bias], declBuffer(A, loop), { attrs: { global_symbol: 'lowered' } }),
          A2,
          B,
          C,
        };
      }

      it('computes the same as a TypeScript reference', () => {
        const { fn } = build();
        expect(wellFormed(fn)).toEqual([]);
        const a = randomNDArray('float32', [8, 8], 1);
        const b = randomNDArray('float32', [64], 2);
        const c = ndarray('float32', [64]);
        run(fn, [a, b, c, 0.25]);
        const ref = toNumbers(b).map(
          (v, i) => Math.fround(Math.fround(Math.fround(a.data[i] as number) + v) * 2) + 0.25,
        );
        const r = allClose(c, ref, 1e-6, 0);
        expect(r.ok, r.message).toBe(true);
      });

      it('vector stores read every lane before writing (overlapping shift)', () => {
        const X = buffer('X', 'int32', [8]);
        // X[1..5) = X[0..4): a vector store must not see its own partial writes.
        const fn = primFunc([X], bufferStore(X, bufferLoad(X, [ramp(0, 1, 4)]), [ramp(1, 1, 4)]));
        const x = ndarray('int32', [8], [10, 11, 12, 13, 14, 15, 16, 17]);
        run(fn, [x]);
        expect(toNumbers(x)).toEqual([10, 10, 11, 12, 13, 15, 16, 17]);
      });

      it('While, IfThenElse, Let, Select, thread loops, AttrStmt and thread_sync', () => {
        const Y = buffer('Y', 'int64', [10]);
        const tx = primVar('tx', 'int64');
        const x = primVar('x', 'int64');
        const counter = buffer('counter', 'int64', [1], { scope: 'local' });
        // counter = 0; while counter < 10: Y[counter] = counter odd ? counter*counter : -counter; counter++
        const c0 = bufferLoad(counter, [0]);
        const loop = whileLoop(
          lt(c0, 10),
          seqStmt([
            ifThenElse(
              lt(0, floormod(c0, 2)),
              bufferStore(Y, letExpr(x, c0, mul(x, x)), [c0]),
              bufferStore(Y, select(ge(c0, 0), sub(0, c0), c0), [c0]),
            ),
            bufferStore(counter, add(c0, 1), [0]),
          ]),
        );
        const threads = forLoop(
          tx,
          0,
          1,
          attrStmt(
            'pragma_test',
            1,
            seqStmt([
              evaluate(threadSync('shared')),
              allocate(counter, seqStmt([bufferStore(counter, 0, [0]), loop])),
            ]),
          ),
          { kind: 'thread_binding', threadTag: 'threadIdx.x' },
        );
        const fn = primFunc([Y], threads);
        expect(wellFormed(fn)).toEqual([]);
        const y = ndarray('int64', [10]);
        run(fn, [y]);
        expect(toNumbers(y)).toEqual([0, 1, -2, 9, -4, 25, -6, 49, -8, 81]);
      });

      it('strided views and element offsets', () => {
        // V views the transposed [4, 3] of a [3, 4] parameter, starting at element 1 of the flat view.
        const M = buffer('M', 'float32', [3, 4]);
        const V = buffer('V', 'float32', [3, 3], { data: M.data, strides: [1, 4], elemOffset: 1 });
        const O = buffer('O', 'float32', [3, 3]);
        const i = primVar('i');
        const j = primVar('j');
        const fn = primFunc(
          [M, O],
          declBuffer(V, forLoop(i, 0, 3, forLoop(j, 0, 3, bufferStore(O, bufferLoad(V, [i, j]), [i, j])))),
        );
        const m = randomNDArray('float32', [3, 4], 5);
        const o = ndarray('float32', [3, 3]);
        run(fn, [m, o]);
        const ref: number[] = [];
        for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) ref.push(getAt(m, [b, a + 1]));
        expect(toNumbers(o)).toEqual(ref);
      });

      it('integer division semantics: truncated Div/Mod, floored FloorDiv/FloorMod', () => {
        const A = buffer('A', 'int32', [4]);
        const B = buffer('B', 'int32', [4]);
        const O = buffer('O', 'int32', [4, 4]);
        const i = primVar('i');
        const a = bufferLoad(A, [i]);
        const b = bufferLoad(B, [i]);
        const fn = primFunc(
          [A, B, O],
          forLoop(
            i,
            0,
            4,
            seqStmt([
              bufferStore(O, div(a, b), [i, 0]),
              bufferStore(O, truncmod(a, b), [i, 1]),
              bufferStore(O, floordiv(a, b), [i, 2]),
              bufferStore(O, floormod(a, b), [i, 3]),
            ]),
          ),
        );
        const av = ndarray('int32', [4], [7, -7, 7, -7]);
        const bv = ndarray('int32', [4], [2, 2, -2, -2]);
        const o = ndarray('int32', [4, 4]);
        run(fn, [av, bv, o]);
        expect(toNumbers(o)).toEqual([3, 1, 3, 1, -3, -1, -4, 1, -3, 1, -4, -1, 3, -1, 3, -1]);
        const zero = ndarray('int32', [4], [1, 0, 1, 1]);
        expectCode(() => run(fn, [av, zero, o]), ErrorCodes.DIVIDE_BY_ZERO);
      });
    });

    describe('interpreter: GPU-style thread loops', () => {
      it('local memory is per thread and shared memory per block across sibling thread loops', () => {
        // Out[b, t] = sum_k 2 * A[b, k, t]: each k step stages A[b, k, :] in shared memory with one
        // threadIdx.x loop and accumulates into a per-thread register with another. Both
        // allocations sit outside the blockIdx loop, as root alloc_buffers do.
        const A = buffer('A', 'float32', [2, 8, 4]);
        const Out = buffer('Out', 'float32', [2, 4]);
        const acc = buffer('acc', 'float32', [1], { scope: 'local' });
        const sh = buffer('sh', 'float32', [4], { scope: 'shared' });
        const bx = primVar('bx');
        const ko = primVar('ko');
        const t = [primVar('t0'), primVar('t1'), primVar('t2'), primVar('t3')];
        const tl = (v: ReturnType<typeof primVar>, body: Parameters<typeof forLoop>[3]) =>
          forLoop(v, 0, 4, body, { kind: 'thread_binding', threadTag: 'threadIdx.x' });
        const kernel = forLoop(
          bx,
          0,
          2,
          seqStmt([
            tl(t[0], bufferStore(acc, 0, [0])),
            forLoop(
              ko,
              0,
              8,
              seqStmt([
                tl(t[1], bufferStore(sh, bufferLoad(A, [bx, ko, t[1]]), [t[1]])),
                evaluate(threadSync('shared')),
                tl(t[2], bufferStore(acc, add(bufferLoad(acc, [0]), mul(bufferLoad(sh, [t[2]]), 2)), [0])),
              ]),
            ),
            tl(t[3], bufferStore(Out, bufferLoad(acc, [0]), [bx, t[3]])),
          ]),
          { kind: 'thread_binding', threadTag: 'blockIdx.x' },
        );
        const fn = primFunc([A, Out], allocate(acc, allocate(sh, kernel)));
        expect(wellFormed(fn)).toEqual([]);
        const a = randomNDArray('float32', [2, 8, 4], 12);
        const out = ndarray('float32', [2, 4]);
        run(fn, [a, out]);
        const ref: number[] = [];
        for (let b = 0; b < 2; b++)
          for (let q = 0; q < 4; q++) {
            let sum = 0;
            for (let k = 0; k < 8; k++) sum = Math.fround(sum + Math.fround(getAt(a, [b, k, q]) * 2));
            ref.push(sum);
          }
        expect(toNumbers(out)).toEqual(ref);
      });
    });

    describe('interpreter: barriers', () => {
      it('threads of one loop advance together from barrier to barrier', () => {
        // Out[b, t] = sum_k A[b, k, (t + k) % 4]: each thread stages one element of row k in
        // shared memory, waits, reads a neighbour's element, waits again before the next k.
        const A = buffer('A', 'float32', [2, 3, 4]);
        const Out = buffer('Out', 'float32', [2, 4]);
        const sh = buffer('sh', 'float32', [4], { scope: 'shared' });
        const acc = buffer('acc', 'float32', [1], { scope: 'local' });
        const bx = primVar('bx');
        const tx = primVar('tx');
        const ko = primVar('ko');
        const body = allocate(
          acc,
          seqStmt([
            bufferStore(acc, 0, [0]),
            forLoop(
              ko,
              0,
              3,
              seqStmt([
                bufferStore(sh, bufferLoad(A, [bx, ko, tx]), [tx]),
                evaluate(threadSync('shared')),
                bufferStore(acc, add(bufferLoad(acc, [0]), bufferLoad(sh, [floormod(add(tx, ko), 4)])), [0]),
                evaluate(threadSync('shared')),
              ]),
            ),
            bufferStore(Out, bufferLoad(acc, [0]), [bx, tx]),
          ]),
        );
        const kernel = forLoop(
          bx,
          0,
          2,
          allocate(sh, forLoop(tx, 0, 4, body, { kind: 'thread_binding', threadTag: 'threadIdx.x' })),
          { kind: 'thread_binding', threadTag: 'blockIdx.x' },
        );
        const fn = primFunc([A, Out], kernel);
        expect(wellFormed(fn)).toEqual([]);
        const a = randomNDArray('float32', [2, 3, 4], 21);
        const out = ndarray('float32', [2, 4]);
        run(fn, [a, out]);
        const ref: number[] = [];
        for (let b = 0; b < 2; b++)
          for (let t = 0; t < 4; t++) {
            let sum = 0;
            for (let k = 0; k < 3; k++) sum = Math.fround(sum + getAt(a, [b, k, (t + k) % 4]));
            ref.push(sum);
          }
        expect(toNumbers(out)).toEqual(ref);
      });
    });

    describe('interpreter: block semantics', () => {
      it('init runs when every reduce iter var is at its domain min (not at zero)', () => {
        const A = buffer('A', 'float32', [10]);
        const S = buffer('S', 'float32', [1]);
        const k = primVar('k');
        const vk = primVar('vk');
        const blk = block('S', bufferStore(S, add(bufferLoad(S, [0]), bufferLoad(A, [vk])), [0]), {
          iterVars: [iterVar(vk, [2, 5], 'reduce')],
          init: bufferStore(S, 100, [0]),
        });
        const root = block('root', forLoop(k, 2, 5, blockRealize([k], true, blk)));
        const fn = primFunc([A, S], blockRealize([], true, root));
        expect(wellFormed(fn)).toEqual([]);
        const a = randomNDArray('float32', [10], 3);
        const s = ndarray('float32', [1], [-1]);
        run(fn, [a, s]);
        const r = allClose(
          s,
          [
            100 +
              toNumbers(a)
                .slice(2, 7)
                .reduce((x, y) => x + y, 0),
          ],
          1e-5,
          1e-5,
        );
        expect(r.ok, r.message).toBe(true);
      });

      it('a false predicate skips the block instance', () => {
        const O = buffer('O', 'float32', [5]);
        const i = primVar('i');
        const vi = primVar('vi');
        const blk = block('B', bufferStore(O, 1, [vi]), { iterVars: [iterVar(vi, [0, 5])] });
        // Loop to 8 but guard with vi < 5, as a split with a non-dividing factor does.
        const fn = primFunc(
          [O],
          blockRealize([], true, block('root', forLoop(i, 0, 8, blockRealize([i], lt(i, 5), blk)))),
        );
        const o = ndarray('float32', [5]);
        run(fn, [o]);
        expect(toNumbers(o)).toEqual([1, 1, 1, 1, 1]);
      });

      it('binding an iter var outside its domain is an error', () => {
        const O = buffer('O', 'float32', [8]);
        const i = primVar('i');
        const vi = primVar('vi');
        const blk = block('B', bufferStore(O, 1, [vi]), { iterVars: [iterVar(vi, [0, 5])] });
        const fn = primFunc(
          [O],
          blockRealize([], true, block('root', forLoop(i, 0, 8, blockRealize([i], true, blk)))),
        );
        expectCode(() => run(fn, [ndarray('float32', [8])]), InterpreterErrorCodes.BLOCK_BINDING);
      });

      it('allocated storage starts as NaN so uninitialized reads show up', () => {
        const O = buffer('O', 'float32', [2]);
        const T = buffer('T', 'float32', [2]);
        const fn = primFunc([O], allocate(T, bufferStore(O, add(bufferLoad(T, [1]), 1), [0])));
        const o = ndarray('float32', [2]);
        run(fn, [o]);
        expect(Number.isNaN(o.data[0] as number)).toBe(true);
      });

      it('if_then_else is lazy: the untaken branch may be out of bounds', () => {
        const A = placeholder([4], 'float32', 'A');
        const B = compute([6], (i) => ifThenElseExpr(lt(i, 4), A.at(i), 0), 'B');
        const fn = createPrimFunc([A, B]);
        const a = ndarray('float32', [4], [1, 2, 3, 4]);
        const b = ndarray('float32', [6]);
        run(fn, [a, b]);
        expect(toNumbers(b)).toEqual([1, 2, 3, 4, 0, 0]);
      });
    });

    describe('interpreter: errors', () => {
      const n = sizeVar('n');
      const A = placeholder([n, 4], 'float32', 'A');
      const B = compute([n, 4], (i, j) => exp(A.at(i, j)), 'B');
      const fn = createPrimFunc([A, B]);

      it('wrong argument count', () => {
        expectCode(() => run(fn, [ndarray('float32', [2, 4])]), ErrorCodes.INVALID_ARGUMENT);
      });

      it('shape mismatch against a static dimension, naming buffer and dimension', () => {
        const msg = expectCode(
          () => run(fn, [ndarray('float32', [2, 5]), ndarray('float32', [2, 4])]),
          ErrorCodes.SHAPE_MISMATCH,
        );
        expect(msg).toContain("'A'");
        expect(msg).toContain('dimension 1');
      });

      it('inconsistent symbolic dimension across arguments', () => {
        const msg = expectCode(
          () => run(fn, [ndarray('float32', [2, 4]), ndarray('float32', [3, 4])]),
          ErrorCodes.SHAPE_MISMATCH,
        );
        expect(msg).toContain("'B'");
      });

      it('rank and dtype mismatches', () => {
        expectCode(
          () => run(fn, [ndarray('float32', [8]), ndarray('float32', [2, 4])]),
          ErrorCodes.SHAPE_MISMATCH,
        );
        expectCode(
          () => run(fn, [ndarray('float64', [2, 4]), ndarray('float32', [2, 4])]),
          ErrorCodes.DTYPE_MISMATCH,
        );
        expectCode(() => run(fn, [3, ndarray('float32', [2, 4])]), ErrorCodes.INVALID_ARGUMENT);
      });

      it('out-of-bounds access names the buffer and the index', () => {
        const X = buffer('X', 'float32', [5]);
        const Y = buffer('Y', 'float32', [5]);
        const i = primVar('i');
        const bad = primFunc([X, Y], forLoop(i, 0, 5, bufferStore(Y, bufferLoad(X, [add(i, 1)]), [i])));
        const msg = expectCode(
          () => run(bad, [ndarray('float32', [5]), ndarray('float32', [5])]),
          InterpreterErrorCodes.OUT_OF_BOUNDS,
        );
        expect(msg).toContain("'X'");
        expect(msg).toContain('[5]');
      });

      it('out-of-bounds vector store and negative index', () => {
        const X = buffer('X', 'float32', [6]);
        const vec = primFunc([X], bufferStore(X, broadcast(toExpr(1, DType.float32), 4), [ramp(3, 1, 4)]));
        expectCode(() => run(vec, [ndarray('float32', [6])]), InterpreterErrorCodes.OUT_OF_BOUNDS);
        const neg = primFunc([X], bufferStore(X, 1, [sub(0, 1)]));
        expectCode(() => run(neg, [ndarray('float32', [6])]), InterpreterErrorCodes.OUT_OF_BOUNDS);
      });

      it('an unbound variable is reported when compiling', () => {
        const X = buffer('X', 'float32', [6]);
        const ghost = primVar('ghost');
        const f = primFunc([X], bufferStore(X, 1, [ghost]));
        expectCode(() => compilePrimFunc(f, { engine }), ErrorCodes.WELL_FORMED);
      });

      it('a scalar param given an array', () => {
        const m = sizeVar('m');
        const C = compute([m], (i) => cast('float32', i), 'C');
        const g = createPrimFunc([C]);
        expectCode(
          () => run(g, [ndarray('float32', [3]), ndarray('float32', [3])]),
          ErrorCodes.INVALID_ARGUMENT,
        );
        expectCode(() => run(g, [ndarray('float32', [3]), 4]), ErrorCodes.SHAPE_MISMATCH);
      });
    });
  });
}
