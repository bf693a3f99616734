// Running a scheduled PrimFunc natively (LLVM through @kiln/codegen-llvm, loaded with
// koffi) for the schedule tests, which compare the result with the TIR interpreter's.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCPU } from '@kiln/codegen-llvm';
import type { NDArray, PrimFunc } from '@kiln/tensorir';
import { fullNDArray, lowerPrimFunc } from '@kiln/tensorir';
import koffi from 'koffi';

const C_TYPES: Record<string, string> = { ptr: 'void *', i64: 'int64_t', i32: 'int32_t', f32: 'float' };

/** Libraries loaded by `runNative`; unload them after the tests. */
const loaded: Array<() => void> = [];
export function unloadNative(): void {
  for (const c of loaded.splice(0)) c();
}

/**
 * Lower and compile `scheduled` for x86-64 with `features` (AVX-512 code when they name
 * it), call it on `ins` and float32 outputs of `outShapes` (filled with NaN first), then
 * the symbolic `dims`; returns the outputs.
 */
export function runNative(
  scheduled: PrimFunc,
  ins: readonly NDArray[],
  outShapes: readonly (readonly number[])[],
  features: readonly string[],
  dims: readonly bigint[] = [],
): NDArray[] {
  const target = {
    mtriple: 'x86_64-linux-gnu',
    mcpu: features.includes('+avx512f') ? 'skylake-avx512' : 'x86-64-v3',
    features: [...features],
    numThreads: 2,
  };
  const lib = buildCPU([{ symbol: 'k', fn: lowerPrimFunc(scheduled) }], target);
  const dir = mkdtempSync(join(tmpdir(), 'kiln-sched-'));
  writeFileSync(join(dir, 'k.so'), lib.library);
  const so = koffi.load(join(dir, 'k.so'));
  loaded.push(() => {
    so.unload();
    rmSync(dir, { recursive: true, force: true });
  });
  const f = so.func(
    'k',
    'void',
    lib.kernels[0].cTypes.map((t) => C_TYPES[t]),
  );
  const outs = outShapes.map((s) => fullNDArray('float32', [...s], Number.NaN));
  f(...ins.map((a) => a.data), ...outs.map((o) => o.data), ...dims);
  return outs;
}
