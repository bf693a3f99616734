// Test-only: every legalized module an op test evaluates in the TIR interpreter is also
// compiled for the host CPU (default schedule, lowering, LLVM) and run natively on the
// VM with the same inputs; the two results must agree. Registered for every relax test
// file by vitest.setup.ts, which runs `checkNativeCases` after the file's tests, so each
// op's legalized kernels go through the native backend once, in one shared library.
import { writeSync } from 'node:fs';
import { buildCPU, sanitizeSymbol } from '@kiln/codegen-llvm';
import type { IRModule, Node } from '@kiln/ir-core';
import { getFunction, hostTarget, sequential, withFunction } from '@kiln/ir-core';
import type { Artifact, Instr, KernelModule, NativeArgKind, Value } from '@kiln/runtime';
import { cpuSoLoader, createRuntime, Tensor } from '@kiln/runtime';
import { defaultCPUSchedule } from '@kiln/schedule';
import type { NDArray, PrimFunc } from '@kiln/tensorir';
import { allClose, lowerPrimFunc } from '@kiln/tensorir';
import type { RelaxValue } from '../eval.js';
import { isNDArray } from '../eval.js';
import { lowerToVM } from '../vm/codegen.js';
import { CallTIRRewrite, ToNonDataflow } from '../vm/lower-passes.js';
import { StaticPlanBlockMemory } from '../vm/memory-plan.js';

export interface NativeCase {
  readonly label: string;
  readonly mod: IRModule;
  readonly inputs: readonly NDArray[];
  readonly out: RelaxValue;
}

const NATIVE_ARGS: ReadonlySet<string> = new Set(['ptr', 'i32', 'i64', 'f32', 'f64']);

/** Cases recorded by the harness in the current test file. */
export const NATIVE_CASES: NativeCase[] = [];

export function recordNativeCase(c: NativeCase): void {
  NATIVE_CASES.push(c);
}

// 16-bit floats are held as rounded float32 values by NDArray but as raw bits by the
// runtime; those cases are compared through the interpreter only.
function nativeComparable(a: NDArray): boolean {
  return !(a.dtype.bits === 16 && (a.dtype.code === 'float' || a.dtype.code === 'bfloat'));
}

function toTensor(a: NDArray): Tensor {
  return Tensor.fromTypedArray(a.data, [...a.shape], a.dtype.str);
}

function compare(label: string, got: Value, want: RelaxValue, problems: string[]): void {
  if (isNDArray(want)) {
    if (!(got instanceof Tensor)) {
      problems.push(`${label}: expected a tensor, got ${typeof got}`);
      return;
    }
    if (got.shape.join(',') !== want.shape.join(',')) {
      problems.push(`${label}: shape [${got.shape}] vs interpreter [${want.shape}]`);
      return;
    }
    const g = { dtype: want.dtype, shape: want.shape, data: got.contiguous().toTypedArray() } as NDArray;
    const exact = want.dtype.code !== 'float' && want.dtype.code !== 'bfloat';
    const rep = allClose(g, want, exact ? 0 : 1e-4, exact ? 0 : 1e-5);
    if (!rep.ok) problems.push(`${label}: native differs from the interpreter: ${rep.message}`);
    return;
  }
  if (Array.isArray(want)) {
    if (!Array.isArray(got) || got.length !== want.length) {
      problems.push(`${label}: tuple arity differs`);
      return;
    }
    for (const [i, w] of want.entries())
      compare(`${label}[${i}]`, (got as Value[])[i], w as RelaxValue, problems);
  }
}

/** Compile every recorded case natively, run it and compare; returns the problems found. */
export function checkNativeCases(cases: readonly NativeCase[] = NATIVE_CASES): {
  checked: number;
  skipped: number;
  problems: string[];
} {
  const problems: string[] = [];
  const target = { ...hostTarget(), numThreads: 2 };
  const prepared: Array<{ c: NativeCase; artifact: Artifact }> = [];
  const kernels: Array<{ symbol: string; fn: PrimFunc }> = [];
  let skipped = 0;
  const only = process.env.KILN_NATIVE_ONLY ? new RegExp(process.env.KILN_NATIVE_ONLY) : undefined;
  cases.forEach((c, i) => {
    if (only && !only.test(c.label)) return;
    if (!c.inputs.every(nativeComparable) || (isNDArray(c.out) && !nativeComparable(c.out))) {
      skipped++;
      return;
    }
    try {
      let mod = sequential([ToNonDataflow, CallTIRRewrite, StaticPlanBlockMemory]).run(c.mod);
      const program = lowerToVM(mod);
      const rename = new Map<string, string>();
      for (const k of program.kernels) {
        const sym = sanitizeSymbol(`c${i}_${k}`);
        rename.set(k, sym);
        const fn = lowerPrimFunc(defaultCPUSchedule(getFunction(mod, k) as unknown as PrimFunc, target));
        mod = withFunction(mod, k, fn as unknown as Node);
        kernels.push({ symbol: sym, fn });
      }
      const functions = program.functions.map((f) => ({
        ...f,
        code: f.code.map(
          (ins): Instr =>
            ins.op === 'CallKernel' ? { ...ins, symbol: rename.get(ins.symbol) ?? ins.symbol } : ins,
        ),
      }));
      prepared.push({
        c,
        artifact: {
          kilnVersion: '0.0.0',
          target: 'llvm',
          devices: ['cpu:0'],
          functions,
          constants: program.constants,
          kernelModules: [{ name: 'cpu', kind: 'js', device: 0, symbols: {} }],
        },
      });
    } catch (e) {
      problems.push(`${c.label}: cannot prepare for native code: ${(e as Error).message}`);
    }
  });
  if (kernels.length === 0) return { checked: 0, skipped, problems };
  let shared: KernelModule;
  try {
    const lib = buildCPU(kernels, target, { name: 'op_tests' });
    const symbols: Record<string, { args: NativeArgKind[] }> = {};
    for (const k of lib.kernels) {
      if (k.cTypes.some((t) => !NATIVE_ARGS.has(t)))
        throw new Error(`kernel ${k.symbol} takes arguments (${k.cTypes}) the runtime cannot pass`);
      symbols[k.symbol] = { args: k.cTypes as NativeArgKind[], ...(k.packed ? { packed: true } : {}) };
    }
    shared = cpuSoLoader(
      { name: 'cpu', kind: 'cpu-so', device: 0, symbols, data: lib.library, meta: { numThreads: 2 } },
      { source: 'op tests', jsModules: {} },
    );
  } catch (e) {
    problems.push(`building the native library failed: ${(e as Error).message}`);
    return { checked: 0, skipped, problems };
  }
  const rt = createRuntime();
  for (const { c, artifact } of prepared) {
    // A crash in native code kills the worker; KILN_NATIVE_DEBUG names the case first.
    if (process.env.KILN_NATIVE_DEBUG) writeSync(2, `native: ${c.label}\n`);
    try {
      const exe = rt.load(artifact, { jsModules: { cpu: shared } });
      const got = exe.call('main', ...c.inputs.map(toTensor));
      compare(c.label, got, c.out, problems);
    } catch (e) {
      problems.push(`${c.label}: native run failed: ${(e as Error).message}`);
    }
  }
  shared.dispose?.();
  return { checked: prepared.length, skipped, problems };
}
