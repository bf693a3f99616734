import {
  add,
  broadcast,
  buffer,
  bufferLoad,
  call,
  cast,
  div,
  floatImm,
  floordiv,
  floormod,
  gt,
  intImm,
  isKilnError,
  lt,
  max,
  mul,
  primVar,
  ramp,
  select,
  sub,
} from '@kiln/ir-core';
import {
  allocate,
  block,
  blockRealize,
  bufferStore,
  forLoop,
  ifThenElse,
  loopVar,
  primFunc,
  seqStmt,
} from '@kiln/tensorir';
import { afterAll, describe, expect, it } from 'vitest';
import { buildCPU } from './build.js';
import { codegenLLVM } from './codegen.js';
import { loadLibrary } from './test_util.js';

const target = { mtriple: 'x86_64-linux-gnu', mcpu: 'x86-64-v3', features: [] as string[] };
const hostOk = process.arch === 'x64';

function rand(n: number, seed: number, lo = -2, hi = 2): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + (s / 2 ** 32) * (hi - lo);
  }
  return out;
}

describe.runIf(hostOk)('codegen-llvm on lowered TIR', () => {
  const closers: Array<() => void> = [];
  afterAll(() => closers.forEach((c) => c()));

  it('runs a symbolic-length parallel, vectorized elementwise kernel with a scalar tail', () => {
    const n = primVar('n');
    const A = buffer('A', 'float32', [n]);
    const B = buffer('B', 'float32', [n]);
    const C = buffer('C', 'float32', [n]);
    const io = loopVar('io');
    const t = loopVar('t');
    const lanes = 8;
    const vecBody = bufferStore(
      C,
      max(
        add(
          bufferLoad(A, [ramp(mul(io, lanes), 1, lanes)]),
          mul(bufferLoad(B, [ramp(mul(io, lanes), 1, lanes)]), 2.0),
        ),
        0.0,
      ),
      [ramp(mul(io, lanes), 1, lanes)],
    );
    const tailIdx = add(mul(floordiv(n, lanes), lanes), t);
    const tail = bufferStore(C, max(add(bufferLoad(A, [tailIdx]), mul(bufferLoad(B, [tailIdx]), 2.0)), 0.0), [
      tailIdx,
    ]);
    const fn = primFunc(
      [A, B, C],
      seqStmt([
        forLoop(io, 0, floordiv(n, lanes), vecBody, { kind: 'parallel' }),
        forLoop(t, 0, floormod(n, lanes), tail),
      ]),
    );
    const lib = buildCPU([{ symbol: 'fused_add_relu', fn }], target);
    expect(lib.kernels[0].args.map((a) => a.kind)).toEqual(['buffer', 'buffer', 'buffer', 'dim']);
    const { kernels, close } = loadLibrary(lib);
    closers.push(close);
    for (const len of [1, 7, 8, 37, 1000]) {
      const a = rand(len, 1);
      const b = rand(len, 2);
      const c = new Float32Array(len).fill(Number.NaN);
      kernels.fused_add_relu(a, b, c, BigInt(len));
      for (let i = 0; i < len; i++)
        expect(c[i]).toBeCloseTo(Math.max(0, Math.fround(a[i] + Math.fround(b[i] * 2))), 5);
    }
  });

  it('compiles a module in concurrent parts (llvm-split) with every kernel intact', () => {
    // Three parallel kernels (each with an outlined internal body) in two parts.
    const make = (k: number) => {
      const A = buffer('A', 'float32', [64]);
      const B = buffer('B', 'float32', [64]);
      const i = loopVar('i');
      return primFunc(
        [A, B],
        forLoop(i, 0, 64, bufferStore(B, mul(bufferLoad(A, [i]), k + 1), [i]), { kind: 'parallel' }),
      );
    };
    const funcs = [0, 1, 2].map((k) => ({ symbol: `scale_${k}`, fn: make(k) }));
    const lib = buildCPU(funcs, target, { parts: 2 });
    expect(lib.parts).toBe(2);
    const { kernels, close } = loadLibrary(lib);
    closers.push(close);
    const a = rand(64, 7);
    for (let k = 0; k < 3; k++) {
      const b = new Float32Array(64);
      kernels[`scale_${k}`](a, b);
      for (let i = 0; i < 64; i++) expect(b[i]).toBe(Math.fround(a[i] * (k + 1)));
    }
  });

  it('joins the thread pool when a library is unloaded (load/run/unload repeatedly)', () => {
    const n = 4096;
    const A = buffer('A', 'float32', [n]);
    const i = loopVar('i');
    const fn = primFunc(
      [A],
      forLoop(i, 0, n, bufferStore(A, add(bufferLoad(A, [i]), 1.0), [i]), { kind: 'parallel' }),
    );
    const lib = buildCPU([{ symbol: 'inc', fn }], target);
    const a = new Float32Array(n);
    for (let round = 0; round < 6; round++) {
      const { kernels, close } = loadLibrary(lib);
      kernels.inc(a);
      close(); // a worker left running in unmapped code would crash the process here
    }
    expect(a.every((v) => v === 6)).toBe(true);
  });

  it('runs a matmul over 2-d buffers with a stack accumulator', () => {
    const M = 13;
    const N = 9;
    const K = 17;
    const A = buffer('A', 'float32', [M, K]);
    const B = buffer('B', 'float32', [K, N]);
    const C = buffer('C', 'float32', [M, N]);
    const acc = buffer('acc', 'float32', [1], { scope: 'local' });
    const i = loopVar('i');
    const j = loopVar('j');
    const k = loopVar('k');
    const body = allocate(
      acc,
      seqStmt([
        bufferStore(acc, floatImm(0), [0]),
        forLoop(
          k,
          0,
          K,
          bufferStore(acc, add(bufferLoad(acc, [0]), mul(bufferLoad(A, [i, k]), bufferLoad(B, [k, j]))), [0]),
        ),
        bufferStore(C, bufferLoad(acc, [0]), [i, j]),
      ]),
    );
    const fn = primFunc([A, B, C], forLoop(i, 0, M, forLoop(j, 0, N, body), { kind: 'parallel' }));
    const lib = buildCPU([{ symbol: 'matmul', fn }], target);
    const { kernels, close } = loadLibrary(lib);
    closers.push(close);
    const a = rand(M * K, 3);
    const b = rand(K * N, 4);
    const c = new Float32Array(M * N);
    kernels.matmul(a, b, c);
    for (let x = 0; x < M; x++)
      for (let y = 0; y < N; y++) {
        let s = 0;
        for (let z = 0; z < K; z++) s += a[x * K + z] * b[z * N + y];
        expect(Math.abs(c[x * N + y] - s)).toBeLessThan(1e-4 * Math.max(1, Math.abs(s)));
      }
  });

  it('computes math intrinsics, floor division of negatives, casts and selects', () => {
    const n = 64;
    const X = buffer('X', 'float32', [n]);
    const Y = buffer('Y', 'float32', [n, 5]);
    const I = buffer('I', 'int32', [n]);
    const J = buffer('J', 'int32', [n, 2]);
    const H = buffer('H', 'float16', [n]);
    const i = loopVar('i');
    const x = bufferLoad(X, [i]);
    const fn = primFunc(
      [X, I, Y, J, H],
      forLoop(
        i,
        0,
        n,
        seqStmt([
          bufferStore(Y, call('float32', 'exp', [x]), [i, 0]),
          bufferStore(Y, call('float32', 'tanh', [x]), [i, 1]),
          bufferStore(Y, call('float32', 'sigmoid', [x]), [i, 2]),
          bufferStore(Y, call('float32', 'erf', [x]), [i, 3]),
          bufferStore(Y, select(gt(x, 0.5), cast('float32', cast('int32', mul(x, 10.0))), sub(x, 1.0)), [
            i,
            4,
          ]),
          bufferStore(J, floordiv(bufferLoad(I, [i]), intImm(7, 'int32')), [i, 0]),
          bufferStore(J, floormod(bufferLoad(I, [i]), intImm(7, 'int32')), [i, 1]),
          bufferStore(H, cast('float16', mul(x, 3.0)), [i]),
        ]),
      ),
    );
    const lib = buildCPU([{ symbol: 'mathk', fn }], target);
    const { kernels, close } = loadLibrary(lib);
    closers.push(close);
    const xs = rand(n, 5, -3, 3);
    const is = new Int32Array(n).map((_, k) => k * 3 - 90);
    const ys = new Float32Array(n * 5);
    const js = new Int32Array(n * 2);
    const hs = new Uint16Array(n);
    kernels.mathk(xs, is, ys, js, hs);
    const erf = (v: number) => {
      // Abramowitz-Stegun 7.1.26 is too coarse; use a series for the reference
      let sum = 0;
      let term = v;
      for (let k = 0; k < 60; k++) {
        sum += term / (2 * k + 1);
        term *= (-v * v) / (k + 1);
      }
      return (2 / Math.sqrt(Math.PI)) * sum;
    };
    for (let k = 0; k < n; k++) {
      const v = xs[k];
      expect(ys[k * 5 + 0]).toBeCloseTo(Math.exp(v), 4);
      expect(ys[k * 5 + 1]).toBeCloseTo(Math.tanh(v), 5);
      expect(ys[k * 5 + 2]).toBeCloseTo(1 / (1 + Math.exp(-v)), 5);
      expect(ys[k * 5 + 3]).toBeCloseTo(erf(v), 5);
      expect(ys[k * 5 + 4]).toBeCloseTo(v > 0.5 ? Math.trunc(Math.fround(v * 10)) : v - 1, 5);
      expect(js[k * 2]).toBe(Math.floor(is[k] / 7));
      expect(js[k * 2 + 1]).toBe(((is[k] % 7) + 7) % 7);
      const h = hs[k];
      const sign = h >> 15 ? -1 : 1;
      const e = (h >> 10) & 31;
      const f = h & 1023;
      const hv = e === 0 ? sign * 2 ** -14 * (f / 1024) : sign * 2 ** (e - 15) * (1 + f / 1024);
      expect(Math.abs(hv - v * 3)).toBeLessThan(Math.abs(v * 3) * 1e-3 + 1e-4);
    }
  });

  it('rounds every float16 / bfloat16 operation to its type (not only at stores)', () => {
    // (a + b) - b in one expression: with a float register kept unrounded the result
    // would be a; rounded to 16 bits after the add it loses a's low bits, as IEEE does.
    const n = 8;
    const toBits = (v: number, bf: boolean) => {
      const f = new Float32Array([v]);
      const u = new Uint32Array(f.buffer)[0];
      if (bf) return (u + 0x7fff + ((u >> 16) & 1)) >>> 16;
      throw new Error('only bfloat16 here');
    };
    const fromBits = (b: number, bf: boolean) => {
      if (bf) return new Float32Array(new Uint32Array([b << 16]).buffer)[0];
      const e = (b >> 10) & 31;
      const f = b & 1023;
      const sign = b >> 15 ? -1 : 1;
      return e === 0 ? sign * 2 ** -14 * (f / 1024) : sign * 2 ** (e - 15) * (1 + f / 1024);
    };
    for (const dt of ['float16', 'bfloat16'] as const) {
      const bf = dt === 'bfloat16';
      const A = buffer('A', dt, [n]);
      const B = buffer('B', dt, [n]);
      const C = buffer('C', dt, [n]);
      const i = loopVar('i');
      const a = bufferLoad(A, [i]);
      const b = bufferLoad(B, [i]);
      const fn = primFunc([A, B, C], forLoop(i, 0, n, bufferStore(C, sub(add(a, b), b), [i])));
      const lib = buildCPU([{ symbol: `round_${dt}`, fn }], target);
      const { kernels, close } = loadLibrary(lib);
      closers.push(close);
      // a = 0.25 + one ulp; a + b is within half a spacing of b (2 at 256 in bfloat16,
      // 1 at 1024 in float16), so it rounds to b
      const av = bf ? 0.25 + 2 ** -9 : 0.25 + 2 ** -12;
      const bv = bf ? 256 : 1024;
      const half = (v: number) => {
        if (bf) return toBits(v, true);
        // float16 bits of the exact values used here
        const e = Math.floor(Math.log2(Math.abs(v)));
        return ((e + 15) << 10) | Math.round((v / 2 ** e - 1) * 1024);
      };
      const as = new Uint16Array(n).fill(half(av));
      const bs = new Uint16Array(n).fill(half(bv));
      const cs = new Uint16Array(n);
      kernels[`round_${dt}`](as, bs, cs);
      // IEEE in the 16-bit type: (a + b) rounds to b, minus b is 0 (unrounded it would be a).
      for (const c of cs) expect(fromBits(c, bf)).toBe(0);
    }
  });

  it('divides floats exactly: floor(k*c / c) is k (a reciprocal multiply gives k - 1 for c = 41)', () => {
    const n = 64;
    const X = buffer('X', 'float32', [n]);
    const Y = buffer('Y', 'float32', [n]);
    const i = loopVar('i');
    const idx = ramp(mul(i, 8), 1, 8);
    const q = call('float32x8', 'floor', [div(bufferLoad(X, [idx]), broadcast(floatImm(41, 'float32'), 8))]);
    const fn = primFunc([X, Y], forLoop(i, 0, n / 8, bufferStore(Y, q, [idx])));
    const { kernels, close } = loadLibrary(buildCPU([{ symbol: 'fdivk', fn }], target));
    closers.push(close);
    const xs = Float32Array.from({ length: n }, (_, k) => (k + 1) * 41);
    const ys = new Float32Array(n);
    kernels.fdivk(xs, ys);
    ys.forEach((v, k) => expect(v).toBe(k + 1));
  });

  it('survives an integer division by zero (no trap), dividing correctly elsewhere', () => {
    const n = 16;
    const X = buffer('X', 'int32', [n]);
    const D = buffer('D', 'int32', [n]);
    const Q = buffer('Q', 'int32', [n]);
    const i = loopVar('i');
    const fn = primFunc(
      [X, D, Q],
      forLoop(i, 0, n, bufferStore(Q, floordiv(bufferLoad(X, [i]), bufferLoad(D, [i])), [i])),
    );
    const { kernels, close } = loadLibrary(buildCPU([{ symbol: 'divk', fn }], target));
    closers.push(close);
    const x = new Int32Array(n).map((_, k) => k * 7 - 50);
    const d = new Int32Array(n).map((_, k) => (k % 4 === 0 ? 0 : k - 8));
    const q = new Int32Array(n);
    kernels.divk(x, d, q);
    for (let k = 0; k < n; k++) if (d[k] !== 0) expect(q[k]).toBe(Math.floor(x[k] / d[k]));
  });

  it('refuses block-structured TIR with a clear error naming the function', () => {
    const A = buffer('A', 'float32', [4]);
    const blk = block('compute', bufferStore(A, floatImm(1), [0]));
    const fn = primFunc([A], blockRealize([], lt(0, 1), blk));
    try {
      codegenLLVM([{ symbol: 'unlowered', fn }], target);
      expect.unreachable();
    } catch (e) {
      expect(isKilnError(e, 'CODEGEN_ERROR')).toBe(true);
      expect((e as Error).message).toContain('unlowered');
    }
  });

  it('emits a conditional store and a vector gather', () => {
    const n = 32;
    const A = buffer('A', 'float32', [n]);
    const B = buffer('B', 'float32', [n]);
    const io = loopVar('io');
    // B[io*4 .. +4] = A[ramp(io, 8, 4)] (strided gather) where in bounds, else 0
    const idx = ramp(io, 8, 4);
    const fn = primFunc(
      [A, B],
      forLoop(
        io,
        0,
        8,
        ifThenElse(
          lt(io, 4),
          bufferStore(B, bufferLoad(A, [idx]), [ramp(mul(io, 4), 1, 4)]),
          bufferStore(B, bufferLoad(A, [ramp(0, 0, 4)]), [ramp(mul(io, 4), 1, 4)]),
        ),
      ),
    );
    const lib = buildCPU([{ symbol: 'gather', fn }], target, { dump: ['llvm', 'asm'] });
    expect(lib.dumps.llvm).toContain('define void @gather');
    expect(lib.dumps.asm).toBeDefined();
    const { kernels, close } = loadLibrary(lib);
    closers.push(close);
    const a = rand(n, 9);
    const b = new Float32Array(n);
    kernels.gather(a, b);
    for (let o = 0; o < 8; o++)
      for (let l = 0; l < 4; l++) expect(b[o * 4 + l]).toBe(o < 4 ? a[o + 8 * l] : a[0]);
  });
});
