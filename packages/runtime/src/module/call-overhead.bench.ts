// Call-overhead benchmark for native kernels (not a test; nothing is asserted).
// Run: cd packages/runtime && npx vitest bench --run
// Compares a raw koffi call, the KernelFunction wrapper, and a full VM call of a
// one-kernel function, on a tiny (n=16) add so the fixed cost dominates.
import { bench, describe } from 'vitest';
import type { Artifact } from '../artifact/format.js';
import { tryKoffi } from '../native.js';
import { createRuntime } from '../runtime.js';
import { Tensor } from '../tensor.js';
import { arg, ie, type VMFunction } from '../vm/bytecode.js';
import { cpuSoLoader } from './cpu-so.js';
import { parseCSignature } from './kernel-module.js';
import { compileSharedLibrary } from './testing-cc.js';

const koffi = tryKoffi();
const compiled = koffi
  ? compileSharedLibrary(
      '#include <stdint.h>\nvoid add_f32(const float* a, const float* b, float* c, int64_t n) { for (int64_t i = 0; i < n; i++) c[i] = a[i] + b[i]; }\n',
    )
  : ({ ok: false, reason: 'koffi unavailable' } as const);

if (!compiled.ok) {
  console.log(`[runtime bench] skipped: ${compiled.reason}`);
  describe('call overhead (skipped)', () => bench('noop', () => {}));
} else {
  const { symbol, signature } = parseCSignature(
    'void add_f32(const float* a, const float* b, float* c, int64_t n)',
  );
  const entry = {
    name: 'native',
    kind: 'cpu-so',
    device: 0,
    symbols: { [symbol]: signature },
    data: compiled.bytes,
  };
  const n = 16;
  const a = Tensor.from(
    Array.from({ length: n }, (_, i) => i),
    [n],
  );
  const b = Tensor.from(
    Array.from({ length: n }, (_, i) => 2 * i),
    [n],
  );
  const c = Tensor.empty([n]);

  const mod = cpuSoLoader(entry, { source: 'bench', jsModules: {} });
  const kernel = mod.getFunction(symbol)!;
  const fn: VMFunction = {
    name: 'add',
    params: ['a', 'b', 'c'].map((name) => ({ name, sig: { kind: 'tensor' } as const })),
    ret: { kind: 'tensor' },
    numRegisters: 3,
    heapSize: 1,
    numStorageSlots: 0,
    code: [
      {
        op: 'MatchShape',
        reg: 0,
        valueKind: 'tensor',
        dtype: 'float32',
        dims: [{ kind: 'bind', slot: 0 }],
        context: { func: 'add', arg: 'a' },
      },
      {
        op: 'CallKernel',
        module: 'native',
        symbol,
        args: [arg.reg(0), arg.reg(1), arg.reg(2), arg.dim(ie.slot(0))],
      },
      { op: 'Ret', src: 2 },
    ],
  };
  const artifact: Artifact = {
    kilnVersion: 'bench',
    target: 'llvm',
    devices: ['cpu:0'],
    functions: [fn],
    constants: [],
    kernelModules: [entry],
  };
  const call = createRuntime().load(artifact).getFunction('add');

  // The same library loaded directly with koffi, for the floor.
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-'));
  writeFileSync(join(dir, 'k.so'), compiled.bytes);
  const raw = koffi!
    .load(join(dir, 'k.so'))
    .func('add_f32', 'void', ['void *', 'void *', 'void *', 'int64_t']);
  rmSync(dir, { recursive: true, force: true });
  const ra = a.toTypedArray();
  const rb = b.toTypedArray();
  const rc = c.toTypedArray();

  describe(`native add_f32, n=${n}`, () => {
    bench('raw koffi call (typed arrays)', () => {
      raw(ra, rb, rc, n);
    });
    bench('KernelFunction (tensor → pointer views)', () => {
      kernel([a, b, c, n]);
    });
    bench('VM call (MatchShape + CallKernel + Ret)', () => {
      call(a, b, c);
    });
  });
}
