// TIR text on hand-written functions: matmul with a reduction block and init, a conv2d
// nest, a thread-bound kernel with shared memory, a symbolic-shape elementwise function.
import type { Buffer, ExprLike, PrimExpr, Var } from '@kiln/ir-core';
import {
  add,
  buffer,
  bufferLoad,
  call,
  cast,
  DType,
  floatImm,
  floordiv,
  floormod,
  intImm,
  irModule,
  lt,
  max,
  mul,
  parseModule,
  primVar,
  printModule,
  range,
  structuralEqual,
} from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import type { PrimFunc, Stmt } from '../stmt.js';
import {
  allocate,
  attrStmt,
  block,
  blockRealize,
  bufferRegion,
  bufferStore,
  declBuffer,
  evaluate,
  forLoop,
  ifThenElse,
  iterVar,
  letStmt,
  loopVar,
  primFunc,
  seqStmt,
  whileLoop,
} from '../stmt.js';
import { parsePrimFunc, printPrimFunc } from './index.js';

function roundTrip(fn: PrimFunc): string {
  const text = printPrimFunc(fn);
  const back = parsePrimFunc(text);
  expect(structuralEqual(back, fn, { mapFreeVars: true }), text).toBe(true);
  expect(printPrimFunc(back)).toBe(text);
  return text;
}

const ld = (b: Buffer, ...ix: ExprLike[]) => bufferLoad(b, ix);

/** C[i, j] += A[i, k] * B[k, j] with a reduction block and init. */
function matmul(): PrimFunc {
  const A = buffer('A', 'float32', [128, 128]);
  const B = buffer('B', 'float32', [128, 128]);
  const C = buffer('C', 'float32', [128, 128]);
  const [i, j, k] = [loopVar('i'), loopVar('j'), loopVar('k')];
  const [vi, vj, vk] = [loopVar('vi'), loopVar('vj'), loopVar('vk')];
  const blk = block('C', bufferStore(C, add(ld(C, vi, vj), mul(ld(A, vi, vk), ld(B, vk, vj))), [vi, vj]), {
    iterVars: [iterVar(vi, [0, 128]), iterVar(vj, [0, 128]), iterVar(vk, [0, 128], 'reduce')],
    reads: [bufferRegion(A, [range(vi, 1), range(vk, 1)]), bufferRegion(B, [range(vk, 1), range(vj, 1)])],
    writes: [bufferRegion(C, [range(vi, 1), range(vj, 1)])],
    init: bufferStore(C, floatImm(0), [vi, vj]),
  });
  const nest = forLoop(i, 0, 128, forLoop(j, 0, 128, forLoop(k, 0, 128, blockRealize([i, j, k], true, blk))));
  const root = block('root', nest);
  return primFunc([A, B, C], blockRealize([], true, root), {
    attrs: { global_symbol: 'matmul', 'tir.noalias': true },
  });
}

/** NCHW conv2d with padding through a predicate-free select, 3x3 kernel. */
function conv2d(): PrimFunc {
  const X = buffer('X', 'float32', [1, 16, 34, 34]);
  const W = buffer('W', 'float32', [32, 16, 3, 3]);
  const Y = buffer('Y', 'float32', [1, 32, 32, 32]);
  const loops = ['n', 'f', 'y', 'x', 'rc', 'ry', 'rx'].map((s) => loopVar(s));
  const ivs = ['vn', 'vf', 'vy', 'vx', 'vrc', 'vry', 'vrx'].map((s) => loopVar(s));
  const extents = [1, 32, 32, 32, 16, 3, 3];
  const [vn, vf, vy, vx, vrc, vry, vrx] = ivs;
  const body = bufferStore(
    Y,
    add(ld(Y, vn, vf, vy, vx), mul(ld(X, vn, vrc, add(vy, vry), add(vx, vrx)), ld(W, vf, vrc, vry, vrx))),
    [vn, vf, vy, vx],
  );
  const blk = block('conv', body, {
    iterVars: ivs.map((v, q) => iterVar(v, [0, extents[q]], q < 4 ? 'spatial' : 'reduce')),
    reads: [
      bufferRegion(X, [range(vn, 1), range(vrc, 1), range(add(vy, vry), 1), range(add(vx, vrx), 1)]),
      bufferRegion(W, [range(vf, 1), range(vrc, 1), range(vry, 1), range(vrx, 1)]),
    ],
    writes: [bufferRegion(Y, [range(vn, 1), range(vf, 1), range(vy, 1), range(vx, 1)])],
    init: bufferStore(Y, 0, [vn, vf, vy, vx]),
    annotations: { schedule_rule: 'conv2d_nchw' },
  });
  let s: Stmt = blockRealize(loops, true, blk);
  for (let q = loops.length - 1; q >= 0; q--)
    s = forLoop(loops[q], 0, extents[q], s, q === 1 ? { kind: 'parallel' } : {});
  return primFunc([X, W, Y], s);
}

/** A thread-bound reduction over shared memory, with Allocate/DeclBuffer aliasing. */
function sharedKernel(): PrimFunc {
  const A = buffer('A', 'float32', [4096]);
  const B = buffer('B', 'float32', [16]);
  const bx = loopVar('bx', 'int32');
  const tx = loopVar('tx', 'int32');
  const S = buffer('S', 'float32', [256], { scope: 'shared', align: 16 });
  const S2 = buffer('S2', 'float32', [16, 16], { data: S.data, scope: 'shared' });
  const gi = add(mul(cast('int64', bx), 256), cast('int64', tx));
  const stride = primVar('stride', 'int32');
  const reduceLoop = letStmt(
    stride,
    intImm(128, 'int32'),
    whileLoop(
      lt(intImm(0, 'int32'), stride),
      seqStmt([
        ifThenElse(
          lt(tx, stride),
          bufferStore(S, add(ld(S, cast('int64', tx)), ld(S, cast('int64', add(tx, stride)))), [
            cast('int64', tx),
          ]),
        ),
        evaluate(call('void', 'tir.tvm_storage_sync', [])),
      ]),
    ),
  );
  const body = allocate(
    S,
    declBuffer(
      S2,
      seqStmt([
        bufferStore(S, ld(A, gi), [cast('int64', tx)]),
        evaluate(call('void', 'tir.tvm_storage_sync', [])),
        reduceLoop,
        ifThenElse(
          lt(tx, intImm(1, 'int32')),
          bufferStore(B, ld(S2, 0, 0), [cast('int64', bx)]),
          bufferStore(S2, floatImm(0), [floordiv(cast('int64', tx), 16), floormod(cast('int64', tx), 16)]),
        ),
      ]),
    ),
  );
  const k = forLoop(
    bx,
    intImm(0, 'int32'),
    intImm(16, 'int32'),
    forLoop(tx, intImm(0, 'int32'), intImm(256, 'int32'), attrStmt('pragma_sync', 1, body), {
      kind: 'thread_binding',
      threadTag: 'threadIdx.x',
    }),
    {
      kind: 'thread_binding',
      threadTag: 'blockIdx.x',
    },
  );
  return primFunc([A, B], k, { attrs: { target: { kind: 'cuda', arch: 'sm_90' } } });
}

/** B[i] = exp(A[i]) + x for i < n, with a symbolic n and a scalar param. */
function symbolic(nType = 'int64'): PrimFunc {
  const n = primVar('n', nType);
  const A = buffer('A', 'float32', [n]);
  const B = buffer('B', 'float32', [n], { strides: [1], elemOffset: 0 });
  const x = primVar('x', 'float32');
  const i = loopVar('i', nType);
  const v = primVar('v', 'float32');
  const body = letStmt(
    v,
    call('float32', 'exp', [bufferLoad(A, [i])]),
    bufferStore(B, add(max(v, x), 1.5), [i]),
  );
  return primFunc(
    [A, B, x],
    forLoop(i, toZero(n), n, body, { kind: 'vectorized', annotations: { 'pragma.unroll': 4 } }),
    { retType: DType.int32 },
  );
}
function toZero(n: Var): PrimExpr {
  return intImm(0, n.dtype);
}

describe('TIR text: hand-written functions', () => {
  it('matmul with a reduction block and init', () => {
    const text = roundTrip(matmul());
    expect(text).toMatchInlineSnapshot(`
      "prim_func(A: float32[128, 128], B: float32[128, 128], C: float32[128, 128]) attrs {global_symbol: "matmul", tir.noalias: true} {
        block root() {
          for i in 0 +: 128 {
            for j in 0 +: 128 {
              for k in 0 +: 128 {
                block C(vi = spatial(0 +: 128, i), vj = spatial(0 +: 128, j), vk = reduce(0 +: 128, k)) {
                  reads(A[vi, vk], B[vk, vj])
                  writes(C[vi, vj])
                  init {
                    C[vi, vj] = 0.0
                  }
                  C[vi, vj] = C[vi, vj] + A[vi, vk] * B[vk, vj]
                }
              }
            }
          }
        }
      }"
    `);
  });
  it('conv2d-like nest', () => {
    roundTrip(conv2d());
  });
  it('thread-bound kernel with a shared-memory Allocate and an aliasing DeclBuffer', () => {
    const text = roundTrip(sharedKernel());
    expect(text).toMatchInlineSnapshot(`
      "prim_func(A: float32[4096], B: float32[16]) attrs {target: {kind: "cuda", arch: "sm_90"}} {
        for bx: int32 in 0i32 +: 16i32 thread_binding "blockIdx.x" {
          for tx: int32 in 0i32 +: 256i32 thread_binding "threadIdx.x" {
            attr pragma_sync = 1
            alloc S: float32[256] scope="shared" align=16
            decl_buffer S2: float32[16, 16] scope="shared" data=S.data
            S[cast(int64, tx)] = A[cast(int64, bx) * 256 + cast(int64, tx)]
            evaluate(call(void, "tir.tvm_storage_sync"))
            let stride = 128i32 {
              while 0i32 < stride {
                if tx < stride {
                  S[cast(int64, tx)] = S[cast(int64, tx)] + S[cast(int64, tx + stride)]
                }
                evaluate(call(void, "tir.tvm_storage_sync"))
              }
            }
            if tx < 1i32 {
              B[cast(int64, bx)] = S2[0, 0]
            } else {
              S2[floordiv(cast(int64, tx), 16), floormod(cast(int64, tx), 16)] = 0.0
            }
          }
        }
      }"
    `);
  });
  it('symbolic-shape elementwise function', () => {
    const text = roundTrip(symbolic());
    expect(text).toMatchInlineSnapshot(`
      "prim_func[n](A: float32[n], B: float32[n] strides=[1], x: float32) -> int32 {
        for i in 0 +: n vectorized annotations {pragma.unroll: 4} {
          let v = exp(A[i])
          B[i] = max(v, x) + 1.5
        }
      }"
    `);
    roundTrip(symbolic('int32'));
  });
  it('module of several PrimFuncs', () => {
    const mod = irModule({ matmul: matmul(), conv: conv2d(), add: symbolic() }, { 'kiln.version': 1 });
    const text = printModule(mod);
    const back = parseModule(text);
    expect(structuralEqual(back, mod, { mapFreeVars: true })).toBe(true);
    expect(printModule(back)).toBe(text);
  });
});
