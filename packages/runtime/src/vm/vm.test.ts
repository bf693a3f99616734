// VM tests on hand-written bytecode with `js` kernels: an MLP chain with a
// symbolic batch dim, shape/dtype errors, control flow and builtins, storage
// reuse by a memory plan, load-time validation.
import { describe, expect, it } from 'vitest';
import type { Artifact } from '../artifact/format.js';
import { writeArtifact } from '../artifact/writer.js';
import { cpu, hostBytes } from '../device/device.js';
import { isRuntimeError } from '../errors.js';
import type { JsKernels, KernelArg } from '../module/kernel-module.js';
import { createRuntime } from '../runtime.js';
import { Tensor } from '../tensor.js';
import { arg, type Instr, ie, shapeOp, type VMFunction } from './bytecode.js';
import type { Shape, Value } from './value.js';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (isRuntimeError(e)) return e.code;
    throw e;
  }
  return undefined;
}
function errOf(f: () => unknown): Error & { code: string } {
  try {
    f();
  } catch (e) {
    return e as Error & { code: string };
  }
  throw new Error('expected an error');
}

let seed = 12345;
function rand(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    a[i] = (seed / 2 ** 31) * 2 - 1;
  }
  return a;
}

const f32 = (a: KernelArg) => (a as Tensor).toTypedArray() as Float32Array;
const int = (a: KernelArg) => Number(a);

// The "kernel executor" the compiler's tests will use is the TIR interpreter; here, plain JS.
const kernels: JsKernels = {
  matmul: ([A, B, C, n, k, m]) => {
    const a = f32(A);
    const b = f32(B);
    const c = f32(C);
    for (let i = 0; i < int(n); i++)
      for (let j = 0; j < int(m); j++) {
        let s = 0;
        for (let p = 0; p < int(k); p++) s += a[i * int(k) + p] * b[p * int(m) + j];
        c[i * int(m) + j] = s;
      }
  },
  bias_act: ([X, bias, Y, n, m, relu]) => {
    const x = f32(X);
    const b = f32(bias);
    const y = f32(Y);
    for (let i = 0; i < int(n) * int(m); i++) {
      const v = x[i] + b[i % int(m)];
      y[i] = relu && v < 0 ? 0 : v;
    }
  },
  scale: ([X, Y, n, s]) => {
    const x = f32(X);
    const y = f32(Y);
    for (let i = 0; i < int(n); i++) y[i] = x[i] * Number(s);
  },
};

const N = ie.slot(0);
const fnDefaults = { numStorageSlots: 0, heapSize: 0 };

function mlpArtifact(): {
  artifact: Artifact;
  W1: Float32Array;
  b1: Float32Array;
  W2: Float32Array;
  b2: Float32Array;
} {
  const W1 = rand(4 * 8);
  const b1 = rand(8);
  const W2 = rand(8 * 3);
  const b2 = rand(3);
  const bytes = (a: Float32Array) => new Uint8Array(a.buffer);
  const code: Instr[] = [
    {
      op: 'MatchShape',
      reg: 0,
      valueKind: 'tensor',
      dtype: 'float32',
      dims: [
        { kind: 'bind', slot: 0, name: 'n' },
        { kind: 'int', value: 4 },
      ],
      context: { func: 'main', arg: 'x' },
    },
    { op: 'LoadConst', dst: 1, index: 0 },
    { op: 'LoadConst', dst: 2, index: 1 },
    { op: 'LoadConst', dst: 3, index: 2 },
    { op: 'LoadConst', dst: 4, index: 3 },
    { op: 'AllocStorage', slot: 0, bytes: ie.mul(N, ie.int(32)), device: 0 },
    {
      op: 'AllocTensorFromStorage',
      dst: 5,
      slot: 0,
      offset: ie.int(0),
      shape: shapeOp.dims(N, 8),
      dtype: 'float32',
    },
    {
      op: 'CallKernel',
      module: 'ref',
      symbol: 'matmul',
      args: [arg.reg(0), arg.reg(1), arg.reg(5), arg.dim(N), arg.imm(4), arg.imm(8)],
    },
    { op: 'AllocStorage', slot: 1, bytes: ie.mul(N, ie.int(32)), device: 0 },
    {
      op: 'AllocTensorFromStorage',
      dst: 6,
      slot: 1,
      offset: ie.int(0),
      shape: shapeOp.dims(N, 8),
      dtype: 'float32',
    },
    {
      op: 'CallKernel',
      module: 'ref',
      symbol: 'bias_act',
      args: [arg.reg(5), arg.reg(2), arg.reg(6), arg.dim(N), arg.imm(8), arg.imm(true)],
    },
    { op: 'KillStorage', slot: 0 },
    { op: 'AllocStorage', slot: 0, bytes: ie.mul(N, ie.int(12)), device: 0 },
    {
      op: 'AllocTensorFromStorage',
      dst: 7,
      slot: 0,
      offset: ie.int(0),
      shape: shapeOp.dims(N, 3),
      dtype: 'float32',
    },
    {
      op: 'CallKernel',
      module: 'ref',
      symbol: 'matmul',
      args: [arg.reg(6), arg.reg(3), arg.reg(7), arg.dim(N), arg.imm(8), arg.imm(3)],
    },
    { op: 'AllocTensor', dst: 8, shape: shapeOp.dims(N, 3), dtype: 'float32', device: 0 },
    {
      op: 'CallKernel',
      module: 'ref',
      symbol: 'bias_act',
      args: [arg.reg(7), arg.reg(4), arg.reg(8), arg.dim(N), arg.imm(3), arg.imm(false)],
    },
    { op: 'Ret', src: 8 },
  ];
  const main: VMFunction = {
    name: 'main',
    params: [{ name: 'x', sig: { kind: 'tensor', dtype: 'float32', shape: ['n', 4] } }],
    ret: { kind: 'tensor', dtype: 'float32', shape: ['n', 3] },
    numRegisters: 9,
    heapSize: 1,
    heapNames: ['n'],
    numStorageSlots: 2,
    code,
  };
  return {
    W1,
    b1,
    W2,
    b2,
    artifact: {
      kilnVersion: 'test',
      target: 'llvm',
      devices: ['cpu:0'],
      functions: [main],
      constants: [
        { name: 'W1', dtype: 'float32', shape: [4, 8], data: bytes(W1) },
        { name: 'b1', dtype: 'float32', shape: [8], data: bytes(b1) },
        { name: 'W2', dtype: 'float32', shape: [8, 3], data: bytes(W2) },
        { name: 'b2', dtype: 'float32', shape: [3], data: bytes(b2) },
      ],
      kernelModules: [{ name: 'ref', kind: 'js', device: 0, symbols: {} }],
    },
  };
}

/** Independent float64 reference of the MLP. */
function mlpReference(
  x: Float32Array,
  n: number,
  W1: Float32Array,
  b1: Float32Array,
  W2: Float32Array,
  b2: Float32Array,
): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const h = Array.from({ length: 8 }, (_, j) => {
      let s = b1[j];
      for (let p = 0; p < 4; p++) s += x[i * 4 + p] * W1[p * 8 + j];
      return Math.max(0, s);
    });
    for (let j = 0; j < 3; j++) {
      let s = b2[j];
      for (let p = 0; p < 8; p++) s += h[p] * W2[p * 3 + j];
      out.push(s);
    }
  }
  return out;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-4): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    expect(Math.abs(actual[i] - expected[i])).toBeLessThanOrEqual(rtol * Math.max(1, Math.abs(expected[i])));
  }
}

describe('VM: MLP chain with a symbolic batch dim', () => {
  it('runs at two sizes from the same executable (in-memory and serialised)', () => {
    const { artifact, W1, b1, W2, b2 } = mlpArtifact();
    const rt = createRuntime();
    for (const exe of [
      rt.load(artifact, { jsModules: { ref: kernels } }),
      rt.load(writeArtifact(artifact), { jsModules: { ref: kernels } }),
    ]) {
      expect(exe.functions()).toEqual([
        {
          name: 'main',
          params: [{ name: 'x', sig: { kind: 'tensor', dtype: 'float32', shape: ['n', 4] } }],
          ret: { kind: 'tensor', dtype: 'float32', shape: ['n', 3] },
        },
      ]);
      for (const n of [2, 5, 1]) {
        const x = rand(n * 4);
        const y = exe.call('main', Tensor.fromTypedArray(x, [n, 4])) as Tensor;
        expect(y.shape).toEqual([n, 3]);
        expectClose(y.toTypedArray() as Float32Array, mlpReference(x, n, W1, b1, W2, b2));
      }
    }
  });

  it('constants from serialised bytes are views into the artifact', () => {
    const { artifact } = mlpArtifact();
    const written = writeArtifact(artifact);
    // Bytes that start 64-byte aligned in memory are used in place (no copy at all).
    const bytes = hostBytes(cpu.allocate(written.byteLength), 0, written.byteLength);
    bytes.set(written);
    const exe = createRuntime().load(bytes, { jsModules: { ref: kernels } });
    for (const c of exe.constants) expect(c.storage.host!.buffer).toBe(bytes.buffer);
    expect(exe.constants[0].shape).toEqual([4, 8]);
  });

  it('returned tensors escape the pool; a second call does not clobber them and reuses memory', () => {
    const { artifact } = mlpArtifact();
    const rt = createRuntime();
    const exe = rt.load(artifact, { jsModules: { ref: kernels } });
    const main = exe.getFunction('main');
    const y1 = main(Tensor.fromTypedArray(rand(12), [3, 4])) as Tensor;
    const saved = Array.from(y1.toTypedArray() as Float32Array);
    const s1 = rt.memoryStats()['cpu:0'];
    const y2 = main(Tensor.fromTypedArray(rand(12), [3, 4])) as Tensor;
    const s2 = rt.memoryStats()['cpu:0'];
    expect(Array.from(y1.toTypedArray() as Float32Array)).toEqual(saved);
    expect(y2.storage).not.toBe(y1.storage);
    expect(s2.reuses).toBeGreaterThan(s1.reuses);
    // Only the escaping output needed a new device allocation.
    expect(s2.deviceAllocations - s1.deviceAllocations).toBe(1);
    expect(s2.inUseBytes).toBe(0);
    rt.trim();
    expect(rt.memoryStats()['cpu:0'].allocatedBytes).toBe(0);
  });
});

describe('VM: per-kernel profile', () => {
  it('counts calls and time per kernel only while profiling is on', () => {
    const { artifact } = mlpArtifact();
    const exe = createRuntime().load(artifact, { jsModules: { ref: kernels } });
    const x = Tensor.fromTypedArray(rand(12), [3, 4]);
    exe.call('main', x);
    expect(exe.kernelProfile()).toEqual([]);
    exe.setProfiling(true);
    const before = exe.call('main', x) as Tensor;
    exe.call('main', x);
    const prof = exe.kernelProfile();
    // The MLP calls matmul and bias_act twice per run.
    expect(prof.map((e) => e.kernel).sort()).toEqual(['ref.bias_act', 'ref.matmul']);
    for (const e of prof) {
      expect(e.calls).toBe(4);
      expect(e.ms).toBeGreaterThanOrEqual(0);
    }
    expect(prof[0].ms).toBeGreaterThanOrEqual(prof[1].ms);
    exe.setProfiling(false);
    expect(exe.kernelProfile()).toEqual([]);
    // Profiling does not change results.
    expect(Array.from((exe.call('main', x) as Tensor).toTypedArray() as Float32Array)).toEqual(
      Array.from(before.toTypedArray() as Float32Array),
    );
  });
});

describe('VM: shape and dtype checks', () => {
  const { artifact } = mlpArtifact();
  const exe = createRuntime().load(artifact, { jsModules: { ref: kernels } });

  it('dtype mismatch names function and argument', () => {
    const e = errOf(() => exe.call('main', Tensor.zeros([2, 4], 'float64')));
    expect(e.code).toBe('DTYPE_MISMATCH');
    expect(e.message).toContain("function 'main'");
    expect(e.message).toContain("argument 'x'");
  });

  it('static dim mismatch names the dimension', () => {
    const e = errOf(() => exe.call('main', Tensor.zeros([2, 5])));
    expect(e.code).toBe('SHAPE_MISMATCH');
    expect(e.message).toContain('dimension 1');
    expect(e.message).toContain("argument 'x'");
    expect((e as unknown as { details: Record<string, unknown> }).details).toMatchObject({
      func: 'main',
      arg: 'x',
      dim: 1,
      expected: 4,
      actual: 5,
    });
  });

  it('rank mismatch, kind mismatch and arity', () => {
    expect(codeOf(() => exe.call('main', Tensor.zeros([8])))).toBe('SHAPE_MISMATCH');
    expect(codeOf(() => exe.call('main', 3))).toBe('TYPE_MISMATCH');
    expect(codeOf(() => exe.call('main'))).toBe('ARITY_MISMATCH');
    expect(codeOf(() => exe.call('nope'))).toBe('UNKNOWN_FUNCTION');
  });

  it('a symbolic dim bound by one argument is checked on the next', () => {
    const f: VMFunction = {
      name: 'pair',
      params: [
        { name: 'a', sig: { kind: 'tensor', shape: ['n', 2] } },
        { name: 'b', sig: { kind: 'tensor', shape: ['n'] } },
      ],
      ret: { kind: 'shape', dims: ['n'] },
      numRegisters: 3,
      heapSize: 2,
      numStorageSlots: 0,
      heapNames: ['n', 'twice_n'],
      code: [
        {
          op: 'MatchShape',
          reg: 0,
          valueKind: 'tensor',
          dims: [
            { kind: 'bind', slot: 0, name: 'n' },
            { kind: 'int', value: 2 },
          ],
          context: { func: 'pair', arg: 'a' },
        },
        {
          op: 'MatchShape',
          reg: 1,
          valueKind: 'tensor',
          dims: [{ kind: 'bind', slot: 0, name: 'n' }],
          context: { func: 'pair', arg: 'b' },
        },
        { op: 'ShapeExpr', dst: 1, expr: ie.mul(ie.slot(0), ie.int(2)) },
        {
          op: 'MakeShape',
          dst: 2,
          dims: [
            ie.slot(0),
            ie.slot(1),
            ie.floordiv(ie.add(ie.slot(0), ie.int(1)), ie.int(2)),
            ie.floormod(ie.int(-7), ie.int(3)),
          ],
        },
        { op: 'Ret', src: 2 },
      ],
    };
    const ex = createRuntime().load({ ...artifact, functions: [f], constants: [], kernelModules: [] });
    expect((ex.call('pair', Tensor.zeros([3, 2]), Tensor.zeros([3])) as Shape).dims).toEqual([3, 6, 2, 2]);
    const e = errOf(() => ex.call('pair', Tensor.zeros([3, 2]), Tensor.zeros([4])));
    expect(e.code).toBe('SHAPE_MISMATCH');
    expect(e.message).toContain("argument 'b'");
    expect(e.message).toContain('n = 3');
  });
});

describe('VM: control flow, builtins, calls', () => {
  const fns: VMFunction[] = [
    {
      // main(x, flag): y = flag ? double(x) : x reshaped to [n]; return (y, shape_of(x), x.shape[0])
      name: 'main',
      params: [
        { name: 'x', sig: { kind: 'tensor', dtype: 'float32' } },
        { name: 'flag', sig: { kind: 'scalar', dtype: 'bool' } },
      ],
      ret: {
        kind: 'tuple',
        fields: [{ kind: 'tensor' }, { kind: 'shape' }, { kind: 'scalar', dtype: 'int64' }],
      },
      numRegisters: 8,
      heapSize: 0,
      numStorageSlots: 0,
      code: [
        /* 0 */ { op: 'If', cond: 1, else: 3 },
        /* 1 */ { op: 'CallFunc', func: 'double', args: [0], dst: 2 },
        /* 2 */ { op: 'Goto', target: 5 },
        /* 3 */ { op: 'MakeShape', dst: 3, dims: [ie.int(6)] },
        /* 4 */ { op: 'CallBuiltin', name: 'reshape', args: [arg.reg(0), arg.reg(3)], dst: 2 },
        /* 5 */ { op: 'CallBuiltin', name: 'shape_of', args: [arg.reg(0)], dst: 4 },
        /* 6 */ { op: 'CallBuiltin', name: 'shape.get', args: [arg.reg(4), arg.imm(0)], dst: 5 },
        /* 7 */ { op: 'CallBuiltin', name: 'tuple.make', args: [arg.reg(2), arg.reg(4), arg.reg(5)], dst: 6 },
        /* 8 */ { op: 'CallBuiltin', name: 'tuple.get', args: [arg.reg(6), arg.imm(1)], dst: 7 },
        /* 9 */ { op: 'Ret', src: 6 },
      ],
    },
    {
      name: 'double',
      params: [{ name: 'x', sig: { kind: 'tensor', dtype: 'float32' } }],
      ret: { kind: 'tensor', dtype: 'float32' },
      numRegisters: 3,
      heapSize: 2,
      numStorageSlots: 0,
      code: [
        {
          op: 'MatchShape',
          reg: 0,
          valueKind: 'tensor',
          dims: [
            { kind: 'bind', slot: 0 },
            { kind: 'bind', slot: 1 },
          ],
          context: { func: 'double', arg: 'x' },
        },
        {
          op: 'AllocTensor',
          dst: 1,
          shape: shapeOp.dims(ie.slot(0), ie.slot(1)),
          dtype: 'float32',
          device: 0,
        },
        {
          op: 'CallKernel',
          module: 'ref',
          symbol: 'scale',
          args: [arg.reg(0), arg.reg(1), arg.dim(ie.mul(ie.slot(0), ie.slot(1))), arg.imm(2)],
        },
        { op: 'CallBuiltin', name: 'copy', args: [arg.reg(1)], dst: 2 },
        { op: 'Ret', src: 2 },
      ],
    },
  ];
  const artifact: Artifact = {
    kilnVersion: 't',
    target: 'llvm',
    devices: ['cpu'],
    functions: fns,
    constants: [],
    kernelModules: [{ name: 'ref', kind: 'js', device: 0, symbols: {} }],
  };

  it('takes both branches and returns tuples/shapes/scalars', () => {
    const rt = createRuntime();
    const exe = rt.load(artifact, { jsModules: { ref: kernels } });
    const x = Tensor.fromTypedArray(rand(6), [2, 3]);
    const [y, s, d] = exe.call('main', x, true) as readonly Value[];
    expectClose(
      (y as Tensor).toTypedArray() as Float32Array,
      Array.from(x.toTypedArray() as Float32Array, (v) => v * 2),
    );
    expect((s as Shape).dims).toEqual([2, 3]);
    expect(d).toBe(2);
    const [z] = exe.call('main', x, false) as readonly Value[];
    expect((z as Tensor).shape).toEqual([6]);
    expect((z as Tensor).storage).toBe(x.storage); // reshape is a view
    // The callee's temp went back to the pool; only returned memory is outstanding (detached).
    expect(rt.memoryStats()['cpu:0'].inUseBytes).toBe(0);
  });
});

describe('VM: storage reuse by a memory plan', () => {
  const K = 6;
  function chain(planned: boolean): Artifact {
    const code: Instr[] = [
      {
        op: 'MatchShape',
        reg: 0,
        valueKind: 'tensor',
        dtype: 'float32',
        dims: [{ kind: 'bind', slot: 0, name: 'n' }],
        context: { func: 'chain', arg: 'x' },
      },
    ];
    for (let i = 0; i < K; i++) {
      const last = i === K - 1;
      if (planned && !last) {
        // The static plan: two storages allocated once, intermediates ping-pong between them.
        if (i < 2) code.push({ op: 'AllocStorage', slot: i % 2, bytes: ie.mul(N, ie.int(4)), device: 0 });
        code.push({
          op: 'AllocTensorFromStorage',
          dst: i + 1,
          slot: i % 2,
          offset: ie.int(0),
          shape: shapeOp.dims(N),
          dtype: 'float32',
        });
      } else {
        code.push({ op: 'AllocTensor', dst: i + 1, shape: shapeOp.dims(N), dtype: 'float32', device: 0 });
      }
      code.push({
        op: 'CallKernel',
        module: 'ref',
        symbol: 'scale',
        args: [arg.reg(i), arg.reg(i + 1), arg.dim(N), arg.imm(1.5)],
      });
    }
    code.push({ op: 'Ret', src: K });
    return {
      kilnVersion: 't',
      target: 'llvm',
      devices: ['cpu:0'],
      functions: [
        {
          name: 'chain',
          params: [{ name: 'x', sig: { kind: 'tensor' } }],
          ret: { kind: 'tensor' },
          numRegisters: K + 1,
          heapSize: 1,
          numStorageSlots: 2,
          code,
        },
      ],
      constants: [],
      kernelModules: [{ name: 'ref', kind: 'js', device: 0, symbols: {} }],
    };
  }

  it('the planned version computes the same result with a lower peak', () => {
    const n = 1000;
    const x = Tensor.fromTypedArray(rand(n), [n]);
    const peaks: number[] = [];
    const results: Float32Array[] = [];
    for (const planned of [false, true]) {
      const rt = createRuntime();
      const y = rt.load(chain(planned), { jsModules: { ref: kernels } }).call('chain', x) as Tensor;
      results.push(y.toTypedArray() as Float32Array);
      peaks.push(rt.memoryStats()['cpu:0'].peakInUseBytes);
    }
    expect(Array.from(results[1])).toEqual(Array.from(results[0]));
    expectClose(
      results[0],
      Array.from(x.toTypedArray() as Float32Array, (v) => v * 1.5 ** K),
    );
    expect(peaks[1]).toBeLessThan(peaks[0]);
    expect(peaks[0]).toBe(K * 4096);
    expect(peaks[1]).toBe(3 * 4096);
  });
});

describe('VM: load-time validation', () => {
  const base: VMFunction = {
    name: 'f',
    params: [],
    ret: { kind: 'object' },
    numRegisters: 1,
    ...fnDefaults,
    code: [
      { op: 'LoadImm', dst: 0, value: 1 },
      { op: 'Ret', src: 0 },
    ],
  };
  const art = (fn: VMFunction, mods: Artifact['kernelModules'] = []): Artifact => ({
    kilnVersion: 't',
    target: 'llvm',
    devices: ['cpu'],
    functions: [fn],
    constants: [],
    kernelModules: mods,
  });
  const rt = createRuntime();

  it('accepts a valid function', () => {
    expect(rt.load(art(base)).call('f')).toBe(1);
  });
  it('rejects malformed signatures', () => {
    expect(codeOf(() => rt.load(art({ ...base, ret: { kind: 'weird' } as never })))).toBe('BYTECODE_INVALID');
    expect(codeOf(() => rt.load(art({ ...base, numRegisters: 2, params: [{ name: 'x' } as never] })))).toBe(
      'BYTECODE_INVALID',
    );
  });
  it('rejects bad registers, jumps, constants, devices, opcodes', () => {
    expect(codeOf(() => rt.load(art({ ...base, code: [{ op: 'Ret', src: 3 }] })))).toBe('BYTECODE_INVALID');
    expect(codeOf(() => rt.load(art({ ...base, code: [{ op: 'Goto', target: 9 }] })))).toBe(
      'BYTECODE_INVALID',
    );
    expect(codeOf(() => rt.load(art({ ...base, code: [{ op: 'LoadConst', dst: 0, index: 0 }] })))).toBe(
      'BYTECODE_INVALID',
    );
    expect(
      codeOf(() =>
        rt.load(
          art({
            ...base,
            code: [{ op: 'AllocTensor', dst: 0, shape: shapeOp.dims(1), dtype: 'float32', device: 2 }],
          }),
        ),
      ),
    ).toBe('BYTECODE_INVALID');
    expect(codeOf(() => rt.load(art({ ...base, code: [{ op: 'Bogus' } as unknown as Instr] })))).toBe(
      'BYTECODE_INVALID',
    );
    expect(
      codeOf(() => rt.load(art({ ...base, code: [{ op: 'ShapeExpr', dst: 0, expr: ie.int(1) }] }))),
    ).toBe('BYTECODE_INVALID');
  });
  it('rejects unknown functions, builtins, kernels, loaders and missing js modules', () => {
    expect(
      codeOf(() => rt.load(art({ ...base, code: [{ op: 'CallFunc', func: 'g', args: [], dst: 0 }] }))),
    ).toBe('UNKNOWN_FUNCTION');
    expect(
      codeOf(() => rt.load(art({ ...base, code: [{ op: 'CallBuiltin', name: 'nope', args: [] }] }))),
    ).toBe('UNKNOWN_BUILTIN');
    const mod = [{ name: 'm', kind: 'js', device: 0, symbols: {} }];
    const callK: VMFunction = {
      ...base,
      code: [{ op: 'CallKernel', module: 'm', symbol: 'missing', args: [] }],
    };
    expect(codeOf(() => rt.load(art(callK, mod), { jsModules: { m: kernels } }))).toBe('UNKNOWN_KERNEL');
    expect(codeOf(() => rt.load(art(callK, mod)))).toBe('MODULE_LOAD');
    expect(codeOf(() => rt.load(art(base, [{ name: 'm', kind: 'cuda-ptx', device: 0, symbols: {} }])))).toBe(
      'UNKNOWN_LOADER',
    );
    expect(codeOf(() => rt.load({ ...art(base), devices: ['vulkan:0'] }))).toBe('UNKNOWN_DEVICE');
  });
  it('pluggable loaders and builtins are per runtime', () => {
    const rt2 = createRuntime();
    rt2.registerLoader('custom', () => ({
      kind: 'custom',
      getFunction: (s) => (s === 'k' ? ([t]) => void ((t as Tensor).toTypedArray()[0] = 9) : undefined),
    }));
    rt2.registerBuiltin('answer', () => 42);
    const fn: VMFunction = {
      ...base,
      numRegisters: 2,
      code: [
        { op: 'AllocTensor', dst: 0, shape: shapeOp.dims(1), dtype: 'float32', device: 0 },
        { op: 'CallKernel', module: 'c', symbol: 'k', args: [arg.reg(0)] },
        { op: 'CallBuiltin', name: 'answer', args: [], dst: 1 },
        { op: 'CallBuiltin', name: 'tuple.make', args: [arg.reg(0), arg.reg(1)], dst: 1 },
        { op: 'Ret', src: 1 },
      ],
    };
    const a = art(fn, [{ name: 'c', kind: 'custom', device: 0, symbols: {} }]);
    const [t, v] = rt2.load(a).call('f') as readonly Value[];
    expect((t as Tensor).toArray()).toEqual([9]);
    expect(v).toBe(42);
    expect(codeOf(() => rt.load(a))).toBe('UNKNOWN_LOADER');
  });
  it('catches use of storage after KillStorage', () => {
    const r = createRuntime();
    const mk = (last: Instr[]): VMFunction => ({
      ...base,
      numRegisters: 1,
      numStorageSlots: 1,
      code: [
        { op: 'AllocStorage', slot: 0, bytes: ie.int(64), device: 0 },
        {
          op: 'AllocTensorFromStorage',
          dst: 0,
          slot: 0,
          offset: ie.int(0),
          shape: shapeOp.dims(4),
          dtype: 'float32',
        },
        { op: 'KillStorage', slot: 0 },
        ...last,
        { op: 'Ret', src: 0 },
      ],
    });
    const mods = [{ name: 'm', kind: 'js', device: 0, symbols: {} }];
    const opts = { jsModules: { m: kernels } };
    expect(codeOf(() => r.load(art(mk([]))).call('f'))).toBe('BYTECODE_INVALID');
    const use = mk([
      {
        op: 'CallKernel',
        module: 'm',
        symbol: 'scale',
        args: [arg.reg(0), arg.reg(0), arg.imm(4), arg.imm(1)],
      },
    ]);
    expect(codeOf(() => r.load(art(use, mods), opts).call('f'))).toBe('BYTECODE_INVALID');
    // Re-allocating (the pool hands the same buffer back) makes it live again.
    const again = mk([
      { op: 'AllocStorage', slot: 0, bytes: ie.int(64), device: 0 },
      {
        op: 'AllocTensorFromStorage',
        dst: 0,
        slot: 0,
        offset: ie.int(0),
        shape: shapeOp.dims(4),
        dtype: 'float32',
      },
      {
        op: 'CallKernel',
        module: 'm',
        symbol: 'scale',
        args: [arg.reg(0), arg.reg(0), arg.imm(4), arg.imm(1)],
      },
    ]);
    expect((r.load(art(again, mods), opts).call('f') as Tensor).shape).toEqual([4]);
    expect(r.memoryStats()['cpu:0'].inUseBytes).toBe(0);
  });
  it('runtime errors inside a run: unbound dims, kernel failures; memory is released', () => {
    const r = createRuntime();
    const fn: VMFunction = {
      ...base,
      numRegisters: 1,
      heapSize: 1,
      code: [
        { op: 'AllocTensor', dst: 0, shape: shapeOp.dims(16), dtype: 'float32', device: 0 },
        { op: 'AllocTensor', dst: 0, shape: shapeOp.dims(ie.slot(0)), dtype: 'float32', device: 0 },
        { op: 'Ret', src: 0 },
      ],
    };
    expect(codeOf(() => r.load(art(fn)).call('f'))).toBe('VM_UNBOUND_DIM');
    expect(r.memoryStats()['cpu:0'].inUseBytes).toBe(0);
    const boom: VMFunction = {
      ...base,
      code: [{ op: 'CallKernel', module: 'm', symbol: 'boom', args: [] }, ...base.code],
    };
    const e = errOf(() =>
      r
        .load(art(boom, [{ name: 'm', kind: 'js', device: 0, symbols: {} }]), {
          jsModules: {
            m: {
              boom: () => {
                throw new TypeError('bad');
              },
            },
          },
        })
        .call('f'),
    );
    expect(e.code).toBe('KERNEL_FAILED');
    expect(e.message).toContain('m.boom');
  });
});
