// Before/Expected tests in the TIR text format: each case parses a Before function,
// runs one pass, and compares with the parsed Expected (structurally, free vars mapped),
// then checks the output is well-formed.
import { describe, expect, it } from 'vitest';
import type { PrimFunc } from '../stmt.js';
import { parsePrimFunc, printPrimFunc } from '../text/index.js';
import { wellFormed } from '../well_formed.js';
import { convertBlocksToLoops } from './convert_blocks_to_loops.js';
import { flattenBuffer } from './flatten_buffer.js';
import { injectThreadBindings } from './inject_thread_bindings.js';
import { lowerInitBlock } from './lower_init_block.js';
import { lowerIntrinsics } from './lower_intrinsics.js';
import { removeNoOp } from './remove_no_op.js';
import { simplifyPrimFunc } from './simplify.js';
import { storageRewrite } from './storage_rewrite.js';
import { expectIREqual } from './test_util.js';
import { unrollLoop } from './unroll_loop.js';
import { vectorizeLoop } from './vectorize_loop.js';

function check(pass: (f: PrimFunc) => PrimFunc, before: string, expected: string): PrimFunc {
  const out = pass(parsePrimFunc(before));
  const exp = parsePrimFunc(expected);
  if (printPrimFunc(out) !== printPrimFunc(exp)) expect(printPrimFunc(out)).toBe(printPrimFunc(exp));
  expectIREqual(out, exp);
  expect(wellFormed(out)).toEqual([]);
  return out;
}

const MATMUL_BLOCKS = `
prim_func(A: float32[4, 3], B: float32[3, 8], C: float32[4, 8]) {
  block root() {
    for i in 0 +: 4 {
      for j in 0 +: 8 {
        for k in 0 +: 3 {
          block C(v_i = spatial(0 +: 4, i), v_j = spatial(0 +: 8, j), v_k = reduce(0 +: 3, k)) {
            reads(A[v_i, v_k], B[v_k, v_j])
            writes(C[v_i, v_j])
            init {
              C[v_i, v_j] = 0.0
            }
            C[v_i, v_j] = C[v_i, v_j] + A[v_i, v_k] * B[v_k, v_j]
          }
        }
      }
    }
  }
}`;

const MATMUL_LOOPS = `
prim_func(A: float32[4, 3], B: float32[3, 8], C: float32[4, 8]) {
  for i in 0 +: 4 {
    for j in 0 +: 8 {
      for k in 0 +: 3 {
        if k == 0 {
          C[i, j] = 0.0
        }
        C[i, j] = C[i, j] + A[i, k] * B[k, j]
      }
    }
  }
}`;

describe('lowering passes, Before/Expected in text', () => {
  it('tir.LowerInitBlock', () => {
    check(
      lowerInitBlock,
      MATMUL_BLOCKS,
      `
prim_func(A: float32[4, 3], B: float32[3, 8], C: float32[4, 8]) {
  block root() {
    for i in 0 +: 4 {
      for j in 0 +: 8 {
        for k in 0 +: 3 {
          block C(v_i = spatial(0 +: 4, i), v_j = spatial(0 +: 8, j), v_k = reduce(0 +: 3, k)) {
            reads(A[v_i, v_k], B[v_k, v_j])
            writes(C[v_i, v_j])
            if v_k == 0 {
              C[v_i, v_j] = 0.0
            }
            C[v_i, v_j] = C[v_i, v_j] + A[v_i, v_k] * B[v_k, v_j]
          }
        }
      }
    }
  }
}`,
    );
  });

  it('tir.ConvertBlocksToLoops', () => {
    check(convertBlocksToLoops, MATMUL_BLOCKS, MATMUL_LOOPS);
  });

  it('tir.FlattenBuffer (row-major)', () => {
    check(
      flattenBuffer,
      MATMUL_LOOPS,
      `
prim_func(A: float32[4, 3], B: float32[3, 8], C: float32[4, 8]) {
  decl_buffer A_1: float32[12] data=A.data
  decl_buffer B_1: float32[24] data=B.data
  decl_buffer C_1: float32[32] data=C.data
  for i in 0 +: 4 {
    for j in 0 +: 8 {
      for k in 0 +: 3 {
        if k == 0 {
          C_1[i * 8 + j] = 0.0
        }
        C_1[i * 8 + j] = C_1[i * 8 + j] + A_1[i * 3 + k] * B_1[k * 8 + j]
      }
    }
  }
}`,
    );
  });

  it('tir.FlattenBuffer (explicit strides, elem_offset, symbolic rows) then tir.Simplify', () => {
    check(
      (f) => simplifyPrimFunc(flattenBuffer(f)),
      `
prim_func[n](X: float32[n, 4] strides=[8, 1] elem_offset=2, n: int64) {
  for i in 0 +: n {
    for j in 0 +: 4 {
      X[i, j] = X[i, j] * 2.0
    }
  }
}`,
      `
prim_func[n](X: float32[n, 4] strides=[8, 1] elem_offset=2, n: int64) {
  decl_buffer X_1: float32[n * 8 - 2] data=X.data
  for i in 0 +: n {
    for j in 0 +: 4 {
      X_1[i * 8 + j + 2] = X_1[i * 8 + j + 2] * 2.0
    }
  }
}`,
    );
  });

  it('tir.VectorizeLoop: vector code where lanes form, serial where they do not', () => {
    check(
      vectorizeLoop,
      `
prim_func(A: float32[64], C: float32[64], S: float32[1]) {
  for io in 0 +: 16 {
    for v in 0 +: 4 vectorized {
      C[io * 4 + v] = A[io * 4 + v] * 2.0 + 1.0
    }
  }
  for w in 0 +: 8 vectorized {
    S[0] = S[0] + A[w]
  }
}`,
      `
prim_func(A: float32[64], C: float32[64], S: float32[1]) {
  for io in 0 +: 16 {
    C[ramp(io * 4, 1, 4)] = A[ramp(io * 4, 1, 4)] * broadcast(2.0, 4) + broadcast(1.0, 4)
  }
  for w in 0 +: 8 {
    S[0] = S[0] + A[w]
  }
}`,
    );
  });

  it('tir.UnrollLoop', () => {
    check(
      unrollLoop,
      `
prim_func(A: float32[64]) {
  for a in 0 +: 2 unrolled {
    for b in 0 +: 2 unrolled {
      A[a * 4 + b] = A[a * 4 + b] + 1.0
    }
  }
}`,
      `
prim_func(A: float32[64]) {
  A[0] = A[0] + 1.0
  A[1] = A[1] + 1.0
  A[4] = A[4] + 1.0
  A[5] = A[5] + 1.0
}`,
    );
  });

  it('tir.StorageRewrite', () => {
    check(
      storageRewrite,
      `
prim_func(A: float32[16]) {
  alloc T1: float32[4] scope="local"
  alloc T2: float32[8] scope="local"
  for i in 0 +: 4 {
    T1[i] = A[i]
  }
  A[0] = T1[3]
  for j in 0 +: 8 {
    T2[j] = A[j]
  }
  A[1] = T2[7]
}`,
      `
prim_func(A: float32[16]) {
  alloc T1: float32[8] scope="local"
  decl_buffer T2: float32[8] scope="local" data=T1.data
  for i in 0 +: 4 {
    T1[i] = A[i]
  }
  A[0] = T1[3]
  for j in 0 +: 8 {
    T2[j] = A[j]
  }
  A[1] = T2[7]
}`,
    );
  });

  it('tir.InjectThreadBindings', () => {
    check(
      injectThreadBindings,
      `
prim_func[n](X: float32[n]) {
  for bx in 0 +: floordiv(n + 63, 64) thread_binding "blockIdx.x" {
    for tx in 1 +: 64 thread_binding "threadIdx.x" {
      if bx * 64 + tx - 1 < n {
        X[bx * 64 + tx - 1] = 1.0
      }
    }
  }
}`,
      `
prim_func[n](X: float32[n]) attrs {kiln.launch: {blockIdx.x: {op: "FloorDiv", args: [{op: "Add", args: [{shape: [0, 0]}, 63]}, 64]}, threadIdx.x: 64}} {
  for bx in 0 +: floordiv(n + 63, 64) thread_binding "blockIdx.x" {
    for tx in 0 +: 64 thread_binding "threadIdx.x" {
      if bx * 64 + (tx + 1) - 1 < n {
        X[bx * 64 + (tx + 1) - 1] = 1.0
      }
    }
  }
}`,
    );
  });

  it('tir.RemoveNoOp', () => {
    check(
      removeNoOp,
      `
prim_func[n](A: float32[8], n: int64) {
  evaluate(0)
  for i in 0 +: 0 {
    A[i] = 1.0
  }
  for j in 0 +: n {
    evaluate(1)
  }
  if n < 4 {
    evaluate(0)
  } else {
    A[0] = 2.0
  }
  A[1] = A[1]
}`,
      `
prim_func[n](A: float32[8], n: int64) {
  if !(n < 4) {
    A[0] = 2.0
  }
}`,
    );
  });

  it('tir.LowerIntrinsics', () => {
    check(
      lowerIntrinsics,
      `
prim_func(A: float32[8], B: float32[8]) {
  for i in 0 +: 8 {
    B[i] = call(float32, "tir.sigmoid", A[i]) + call(float32, "tir.rsqrt", A[i]) + call(float32, "exp", A[i])
  }
}`,
      `
prim_func(A: float32[8], B: float32[8]) {
  for i in 0 +: 8 {
    B[i] = 1.0 / (1.0 + call(float32, "tir.exp", 0.0 - A[i])) + 1.0 / call(float32, "tir.sqrt", A[i]) + call(float32, "tir.exp", A[i])
  }
}`,
    );
  });
});
