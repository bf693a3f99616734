// End to end without the compiler: native C kernels in a `.kiln` file on disk,
// a memory-planned MLP with a symbolic batch dim, loaded by path and run at
// several sizes against an independent float64 reference.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Artifact } from './artifact/format.js';
import { writeArtifactFile } from './artifact/writer.js';
import { parseCSignature } from './module/kernel-module.js';
import { compileSharedLibrary } from './module/testing-cc.js';
import { bufferAddress, tryKoffi } from './native.js';
import { createRuntime } from './runtime.js';
import { Tensor } from './tensor.js';
import { FunctionBuilder } from './vm/builder.js';
import { arg, ie, shapeOp } from './vm/bytecode.js';

const SOURCE = `
#include <stdint.h>
void matmul(const float* A, const float* B, float* C, int64_t n, int64_t k, int64_t m) {
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < m; j++) {
      float s = 0;
      for (int64_t p = 0; p < k; p++) s += A[i * k + p] * B[p * m + j];
      C[i * m + j] = s;
    }
}
void bias_act(const float* X, const float* b, float* Y, int64_t n, int64_t m, int32_t relu) {
  for (int64_t i = 0; i < n * m; i++) {
    float v = X[i] + b[i % m];
    Y[i] = relu && v < 0 ? 0 : v;
  }
}
`;
const DECLS = [
  'void matmul(const float* A, const float* B, float* C, int64_t n, int64_t k, int64_t m)',
  'void bias_act(const float* X, const float* b, float* Y, int64_t n, int64_t m, int32_t relu)',
];

const compiled = tryKoffi()
  ? compileSharedLibrary(SOURCE)
  : ({ ok: false, reason: 'koffi unavailable' } as const);
if (!compiled.ok) console.log(`[runtime] skipping native end-to-end test: ${compiled.reason}`);

const dir = mkdtempSync(join(tmpdir(), 'kiln-e2e-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function rand(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 2 ** 32) * 2 - 1;
  }
  return a;
}

describe.skipIf(!compiled.ok)('native MLP from a .kiln file', () => {
  const [D, H, O] = [16, 32, 10];
  const W1 = rand(D * H, 1);
  const b1 = rand(H, 2);
  const W2 = rand(H * O, 3);
  const b2 = rand(O, 4);

  function build() {
    const b = new FunctionBuilder(
      'main',
      [{ name: 'x', sig: { kind: 'tensor', dtype: 'float32', shape: ['n', D] } }],
      {
        kind: 'tensor',
        dtype: 'float32',
        shape: ['n', O],
      },
    );
    const [x] = b.paramRegs;
    const n = b.heapSlot('n');
    const N = ie.slot(n);
    b.emit({
      op: 'MatchShape',
      reg: x,
      valueKind: 'tensor',
      dtype: 'float32',
      dims: [
        { kind: 'bind', slot: n },
        { kind: 'int', value: D },
      ],
      context: { func: 'main', arg: 'x' },
    });
    const [w1, bb1, w2, bb2] = [0, 1, 2, 3].map((index) => {
      const r = b.reg();
      b.emit({ op: 'LoadConst', dst: r, index });
      return r;
    });
    const s0 = b.storageSlot();
    const s1 = b.storageSlot();
    const h = b.reg();
    const hr = b.reg();
    const o = b.reg();
    const out = b.reg();
    b.emit({ op: 'AllocStorage', slot: s0, bytes: ie.mul(N, ie.int(H * 4)), device: 0 });
    b.emit({
      op: 'AllocTensorFromStorage',
      dst: h,
      slot: s0,
      offset: ie.int(0),
      shape: shapeOp.dims(N, H),
      dtype: 'float32',
    });
    b.emit({
      op: 'CallKernel',
      module: 'cpu',
      symbol: 'matmul',
      args: [arg.reg(x), arg.reg(w1), arg.reg(h), arg.dim(N), arg.imm(D), arg.imm(H)],
    });
    b.emit({ op: 'AllocStorage', slot: s1, bytes: ie.mul(N, ie.int(H * 4)), device: 0 });
    b.emit({
      op: 'AllocTensorFromStorage',
      dst: hr,
      slot: s1,
      offset: ie.int(0),
      shape: shapeOp.dims(N, H),
      dtype: 'float32',
    });
    b.emit({
      op: 'CallKernel',
      module: 'cpu',
      symbol: 'bias_act',
      args: [arg.reg(h), arg.reg(bb1), arg.reg(hr), arg.dim(N), arg.imm(H), arg.imm(1)],
    });
    // s0 is dead: reuse it for the second matmul's output.
    b.emit({
      op: 'AllocTensorFromStorage',
      dst: o,
      slot: s0,
      offset: ie.int(0),
      shape: shapeOp.dims(N, O),
      dtype: 'float32',
    });
    b.emit({
      op: 'CallKernel',
      module: 'cpu',
      symbol: 'matmul',
      args: [arg.reg(hr), arg.reg(w2), arg.reg(o), arg.dim(N), arg.imm(H), arg.imm(O)],
    });
    b.emit({ op: 'AllocTensor', dst: out, shape: shapeOp.dims(N, O), dtype: 'float32', device: 0 });
    b.emit({
      op: 'CallKernel',
      module: 'cpu',
      symbol: 'bias_act',
      args: [arg.reg(o), arg.reg(bb2), arg.reg(out), arg.dim(N), arg.imm(O), arg.imm(0)],
    });
    b.emit({ op: 'Ret', src: out });
    return b.finish();
  }

  function reference(x: Float32Array, n: number): number[] {
    const y: number[] = [];
    for (let i = 0; i < n; i++) {
      const h: number[] = [];
      for (let j = 0; j < H; j++) {
        let s = b1[j];
        for (let p = 0; p < D; p++) s += x[i * D + p] * W1[p * H + j];
        h.push(Math.max(0, s));
      }
      for (let j = 0; j < O; j++) {
        let s = b2[j];
        for (let p = 0; p < H; p++) s += h[p] * W2[p * O + j];
        y.push(s);
      }
    }
    return y;
  }

  const bytes = (a: Float32Array) => new Uint8Array(a.buffer);
  const artifactWith = (data: (a: Float32Array) => Uint8Array): Artifact => ({
    kilnVersion: '0.0.0',
    target: 'llvm',
    devices: ['cpu:0'],
    functions: [build()],
    constants: [
      { name: 'W1', dtype: 'float32', shape: [D, H], data: data(W1) },
      { name: 'b1', dtype: 'float32', shape: [H], data: data(b1) },
      { name: 'W2', dtype: 'float32', shape: [H, O], data: data(W2) },
      { name: 'b2', dtype: 'float32', shape: [O], data: data(b2) },
    ],
    kernelModules: [
      {
        name: 'cpu',
        kind: 'cpu-so',
        device: 0,
        symbols: Object.fromEntries(
          DECLS.map((d) => [parseCSignature(d).symbol, parseCSignature(d).signature]),
        ),
        data: compiled.ok ? compiled.bytes : new Uint8Array(),
      },
    ],
  });

  it('writes, loads by path and runs at several batch sizes', () => {
    const path = join(dir, 'mlp.kiln');
    writeArtifactFile(path, artifactWith(bytes));
    const rt = createRuntime();
    const exe = rt.load(path);
    // Constants are read into aligned memory and viewed in place.
    for (const c of exe.constants) expect(c.isAligned(64)).toBe(true);
    for (const n of [1, 4, 33]) {
      const x = rand(n * D, 100 + n);
      const y = exe.call('main', Tensor.fromTypedArray(x, [n, D])) as Tensor;
      expect(y.shape).toEqual([n, O]);
      const got = y.toTypedArray() as Float32Array;
      const want = reference(x, n);
      for (let i = 0; i < want.length; i++)
        expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(want[i])));
    }
    expect(rt.memoryStats()['cpu:0'].inUseBytes).toBe(0);
    exe.dispose();
  });

  it('copies the unaligned constants of an in-memory artifact to aligned memory once', () => {
    // The compiler's constants live wherever JavaScript put them; kernels read weights as
    // aligned vectors. Place each one 4 bytes past a 64-byte boundary.
    const unaligned = (a: Float32Array): Uint8Array => {
      const buf = new Uint8Array(a.byteLength + 128);
      const base = bufferAddress(buf.buffer) ?? 0n;
      const at = Number((64n - (base % 64n)) % 64n) + 4;
      const view = buf.subarray(at, at + a.byteLength);
      view.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
      return view;
    };
    const a = artifactWith(unaligned);
    expect(
      a.constants.some(
        (c) => (bufferAddress(c.data.buffer as ArrayBuffer)! + BigInt(c.data.byteOffset)) % 64n !== 0n,
      ),
    ).toBe(true);
    const exe = createRuntime().load(a);
    for (const c of exe.constants) expect(c.isAligned(64)).toBe(true);
    const x = rand(3 * D, 7);
    const got = (exe.call('main', Tensor.fromTypedArray(x, [3, D])) as Tensor).toTypedArray() as Float32Array;
    const want = reference(x, 3);
    for (let i = 0; i < want.length; i++)
      expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(want[i])));
    exe.dispose();
  });
});
