// Native kernel tests: a C library compiled with `cc` at test time (skipped with
// a printed reason when there is none), shipped as a `cpu-so` module and called
// from the VM on tensors in place.
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { Artifact } from '../artifact/format.js';
import { writeArtifact } from '../artifact/writer.js';
import { isRuntimeError } from '../errors.js';
import { tryKoffi } from '../native.js';
import { createRuntime } from '../runtime.js';
import { Tensor } from '../tensor.js';
import { arg, ie, shapeOp, type VMFunction } from '../vm/bytecode.js';
import { parseCSignature } from './kernel-module.js';
import { compileSharedLibrary } from './testing-cc.js';

const SOURCE = `
#include <stdint.h>
void add_f32(const float* a, const float* b, float* c, int64_t n) {
  for (int64_t i = 0; i < n; i++) c[i] = a[i] + b[i];
}
void record_addr(const float* p, int64_t* out) { out[0] = (int64_t)(intptr_t)p; }
int32_t axpy_checked(float* y, const float* x, float alpha, int64_t n) {
  if (n < 0) return 7;
  for (int64_t i = 0; i < n; i++) y[i] += alpha * x[i];
  return 0;
}
typedef struct { int32_t device_type, device_id; } DLDevice;
typedef struct { uint8_t code, bits; uint16_t lanes; } DLDataType;
typedef struct {
  void* data; DLDevice device; int32_t ndim; DLDataType dtype;
  int64_t* shape; int64_t* strides; uint64_t byte_offset;
} DLTensor;
/* Row sums of a strided 2-D float32 view described by a DLTensor. */
int32_t rowsum_dl(const DLTensor* x, DLTensor* out) {
  if (x->ndim != 2 || x->dtype.code != 2 || x->dtype.bits != 32 || x->dtype.lanes != 1 || x->device.device_type != 1) return 1;
  if (out->ndim != 1 || out->shape[0] != x->shape[0]) return 2;
  const float* base = (const float*)((const char*)x->data + x->byte_offset);
  float* o = (float*)((char*)out->data + out->byte_offset);
  for (int64_t i = 0; i < x->shape[0]; i++) {
    float s = 0;
    for (int64_t j = 0; j < x->shape[1]; j++) s += base[i * x->strides[0] + j * x->strides[1]];
    o[i * out->strides[0]] = s;
  }
  return 0;
}
`;

const DECLS = [
  'void add_f32(const float* a, const float* b, float* c, int64_t n)',
  'void record_addr(const float* p, int64_t* out)',
  'int32_t axpy_checked(float* y, const float* x, float alpha, int64_t n)',
  'int32_t rowsum_dl(const DLTensor* x, DLTensor* out)',
];

const compiled = tryKoffi()
  ? compileSharedLibrary(SOURCE)
  : ({ ok: false, reason: 'koffi unavailable' } as const);
if (!compiled.ok) console.log(`[runtime] skipping native kernel tests: ${compiled.reason}`);

function rand(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    a[i] = (s / 2 ** 31) * 4 - 2;
  }
  return a;
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (isRuntimeError(e)) return e.code;
    throw e;
  }
  return undefined;
}

describe('parseCSignature', () => {
  it('maps C declarations to arg kinds', () => {
    expect(parseCSignature(DECLS[0])).toEqual({
      symbol: 'add_f32',
      signature: { args: ['ptr', 'ptr', 'ptr', 'i64'], ret: 'void' },
    });
    expect(parseCSignature(DECLS[2]).signature).toEqual({ args: ['ptr', 'ptr', 'f32', 'i64'], ret: 'i32' });
    expect(parseCSignature('void f(void)').signature.args).toEqual([]);
    expect(parseCSignature(DECLS[3]).signature.args).toEqual(['dltensor', 'dltensor']);
    expect(parseCSignature('void g(double x, int32_t n, long long m)').signature.args).toEqual([
      'f64',
      'i32',
      'i64',
    ]);
    expect(codeOf(() => parseCSignature('float* f(int)'))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => parseCSignature('void f(struct s)'))).toBe('INVALID_ARGUMENT');
  });
});

describe.skipIf(!compiled.ok)('cpu-so kernels through the VM', () => {
  const bytes = compiled.ok ? compiled.bytes : new Uint8Array();
  const symbols = Object.fromEntries(
    DECLS.map((d) => {
      const { symbol, signature } = parseCSignature(d);
      return [symbol, signature];
    }),
  );
  const N = ie.slot(0);
  const fns: VMFunction[] = [
    {
      // add(a[n], b[n], out[n]) -> out   (destination passed in by the caller)
      name: 'add',
      params: ['a', 'b', 'out'].map((name) => ({
        name,
        sig: { kind: 'tensor', dtype: 'float32', shape: ['n'] } as const,
      })),
      ret: { kind: 'tensor', dtype: 'float32', shape: ['n'] },
      numRegisters: 3,
      heapSize: 1,
      numStorageSlots: 0,
      code: [
        ...[0, 1, 2].map(
          (r) =>
            ({
              op: 'MatchShape',
              reg: r,
              valueKind: 'tensor',
              dtype: 'float32',
              dims: [{ kind: 'bind', slot: 0, name: 'n' }],
              context: { func: 'add', arg: ['a', 'b', 'out'][r] },
            }) as const,
        ),
        {
          op: 'CallKernel',
          module: 'native',
          symbol: 'add_f32',
          args: [arg.reg(0), arg.reg(1), arg.reg(2), arg.dim(N)],
        },
        { op: 'Ret', src: 2 },
      ],
    },
    {
      // add_alloc(a, b) -> fresh tensor
      name: 'add_alloc',
      params: ['a', 'b'].map((name) => ({
        name,
        sig: { kind: 'tensor', dtype: 'float32', shape: ['n'] } as const,
      })),
      ret: { kind: 'tensor', dtype: 'float32', shape: ['n'] },
      numRegisters: 3,
      heapSize: 1,
      numStorageSlots: 0,
      code: [
        {
          op: 'MatchShape',
          reg: 0,
          valueKind: 'tensor',
          dtype: 'float32',
          dims: [{ kind: 'bind', slot: 0, name: 'n' }],
          context: { func: 'add_alloc', arg: 'a' },
        },
        { op: 'AllocTensor', dst: 2, shape: shapeOp.dims(N), dtype: 'float32', device: 0 },
        {
          op: 'CallKernel',
          module: 'native',
          symbol: 'add_f32',
          args: [arg.reg(0), arg.reg(1), arg.reg(2), arg.dim(N)],
        },
        { op: 'Ret', src: 2 },
      ],
    },
    {
      name: 'addr',
      params: [
        { name: 'p', sig: { kind: 'tensor' } },
        { name: 'out', sig: { kind: 'tensor', dtype: 'int64', shape: [1] } },
      ],
      ret: { kind: 'tensor' },
      numRegisters: 2,
      heapSize: 0,
      numStorageSlots: 0,
      code: [
        { op: 'CallKernel', module: 'native', symbol: 'record_addr', args: [arg.reg(0), arg.reg(1)] },
        { op: 'Ret', src: 1 },
      ],
    },
    {
      name: 'axpy',
      params: [
        { name: 'y', sig: { kind: 'tensor' } },
        { name: 'x', sig: { kind: 'tensor' } },
        { name: 'n', sig: { kind: 'scalar', dtype: 'int64' } },
      ],
      ret: { kind: 'tensor' },
      numRegisters: 3,
      heapSize: 0,
      numStorageSlots: 0,
      code: [
        {
          op: 'CallKernel',
          module: 'native',
          symbol: 'axpy_checked',
          args: [arg.reg(0), arg.reg(1), arg.imm(0.5), arg.reg(2)],
        },
        { op: 'Ret', src: 0 },
      ],
    },
  ];
  fns.push({
    name: 'rowsum',
    params: [
      { name: 'x', sig: { kind: 'tensor' } },
      { name: 'out', sig: { kind: 'tensor' } },
    ],
    ret: { kind: 'tensor' },
    numRegisters: 2,
    heapSize: 0,
    numStorageSlots: 0,
    code: [
      { op: 'CallKernel', module: 'native', symbol: 'rowsum_dl', args: [arg.reg(0), arg.reg(1)] },
      { op: 'Ret', src: 1 },
    ],
  });
  const artifact: Artifact = {
    kilnVersion: 'test',
    target: 'llvm',
    devices: ['cpu:0'],
    functions: fns,
    constants: [],
    kernelModules: [{ name: 'native', kind: 'cpu-so', device: 0, symbols, data: bytes }],
  };

  it('runs a native kernel on tensors in place (no copies), at two sizes', () => {
    const tmpBefore = readdirSync(tmpdir()).filter((f) => f.startsWith('kiln-so-')).length;
    const exe = createRuntime().load(writeArtifact(artifact));
    // The library's temp file is removed as soon as it is loaded.
    expect(readdirSync(tmpdir()).filter((f) => f.startsWith('kiln-so-')).length).toBe(tmpBefore);
    for (const n of [7, 1000]) {
      const a = rand(n, n);
      const b = rand(n, n + 1);
      const outData = new Float32Array(n);
      const out = Tensor.fromTypedArray(outData, [n]);
      const r = exe.call('add', Tensor.fromTypedArray(a, [n]), Tensor.fromTypedArray(b, [n]), out) as Tensor;
      expect(r).toBe(out);
      // The kernel wrote into the caller's own Float32Array.
      for (let i = 0; i < n; i++) expect(outData[i]).toBe(Math.fround(a[i] + b[i]));
    }
    const y = exe.call(
      'add_alloc',
      Tensor.fromTypedArray(new Float32Array([1, 2, 3])),
      Tensor.fromTypedArray(new Float32Array([10, 20, 30])),
    ) as Tensor;
    expect(y.toArray()).toEqual([11, 22, 33]);
    exe.dispose();
  });

  it('passes the address of element 0, honouring views with a byte offset', () => {
    const exe = createRuntime().load(artifact);
    const base = Tensor.empty([16], 'float32');
    for (const t of [base, base.slice(0, 4, 16)]) {
      const out = Tensor.zeros([1], 'int64');
      exe.call('addr', t, out);
      expect(BigInt.asUintN(64, out.toArray()[0] as bigint)).toBe(t.address());
    }
    expect(base.isAligned(64)).toBe(true);
    exe.dispose();
  });

  it('scalar arguments, checked return codes, argument checks', () => {
    const exe = createRuntime().load(artifact);
    const y = Tensor.from([1, 1, 1], [3]);
    exe.call('axpy', y, Tensor.from([2, 4, 6], [3]), 3);
    expect(y.toArray()).toEqual([2, 3, 4]);
    exe.call('axpy', y, Tensor.from([2, 4, 6], [3]), 2n);
    expect(y.toArray()).toEqual([3, 5, 4]);
    expect(codeOf(() => exe.call('axpy', y, y, -1))).toBe('KERNEL_FAILED');
    const strided = Tensor.zeros([6]).slice(0, 0, 6, 2);
    expect(codeOf(() => exe.call('axpy', strided, strided, 3))).toBe('NOT_CONTIGUOUS');
    const e = codeOf(() => exe.call('add', Tensor.zeros([3]), Tensor.zeros([4]), Tensor.zeros([3])));
    expect(e).toBe('SHAPE_MISMATCH');
    exe.dispose();
    expect(codeOf(() => exe.call('add_alloc', Tensor.zeros([3]), Tensor.zeros([3])))).toBe(
      'INVALID_ARGUMENT',
    );
  });

  it('passes DLTensor* descriptors: strided, offset views read correctly in C', () => {
    const exe = createRuntime().load(artifact);
    const data = rand(4 * 6, 99);
    // x = data[4, 6] transposed and sliced: shape [5, 3] over columns 1..5 of every other row... as a view.
    const x = Tensor.fromTypedArray(data, [4, 6]).permute([1, 0]).slice(0, 1, 6).slice(1, 0, 4, 2);
    expect(x.shape).toEqual([5, 2]);
    expect(x.isContiguous()).toBe(false);
    const outBase = Tensor.zeros([10]);
    const out = outBase.slice(0, 0, 10, 2); // strided output, stride 2
    exe.call('rowsum', x, out);
    const xs = x.toArray() as number[];
    const got = outBase.toArray() as number[];
    for (let i = 0; i < 5; i++) {
      expect(got[2 * i]).toBeCloseTo(xs[2 * i] + xs[2 * i + 1], 5);
      expect(got[2 * i + 1]).toBe(0);
    }
    expect(codeOf(() => exe.call('rowsum', Tensor.zeros([3]), Tensor.zeros([3])))).toBe('KERNEL_FAILED');
    exe.dispose();
  });

  it('reports missing symbols and unloadable libraries', () => {
    const rt = createRuntime();
    const bad: Artifact = {
      ...artifact,
      kernelModules: [{ ...artifact.kernelModules[0], symbols: { ...symbols, nope: { args: [] } } }],
    };
    const withCall: Artifact = {
      ...bad,
      functions: [
        {
          ...fns[2],
          code: [
            { op: 'CallKernel', module: 'native', symbol: 'nope', args: [] },
            { op: 'Ret', src: 0 },
          ],
        },
      ],
    };
    expect(codeOf(() => rt.load(withCall))).toBe('UNKNOWN_KERNEL');
    const garbage: Artifact = {
      ...artifact,
      kernelModules: [{ ...artifact.kernelModules[0], data: new Uint8Array([1, 2, 3, 4]) }],
    };
    expect(codeOf(() => rt.load(garbage))).toBe('MODULE_LOAD');
  });
});
