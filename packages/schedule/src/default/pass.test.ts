// tir.DefaultCPUSchedule: the default schedule as a pass takes the vector width and threads
// from the PassContext's target, marks what it scheduled, and leaves marked kernels alone.
import { createPassContext, irModule, mul, parseTarget } from '@kiln/ir-core';
import type { PrimFunc } from '@kiln/tensorir';
import { compute, createPrimFunc, placeholder, reduceAxis, sum } from '@kiln/tensorir';
import { describe, expect, it } from 'vitest';
import { loopsOfKind } from '../testing/loops.js';
import { DefaultCPUSchedule, SCHEDULED_ATTR } from './pass.js';

function matmul(): PrimFunc {
  const A = placeholder([64, 32], 'float32', 'A');
  const B = placeholder([32, 128], 'float32', 'B');
  const r = reduceAxis([0, 32], 'k');
  return createPrimFunc([A, B, compute([64, 128], (i, j) => sum(mul(A.at(i, r), B.at(r, j)), r), 'C')]);
}

function scheduleFor(target: string): PrimFunc {
  const mod = irModule([['mm', matmul()]]);
  const out = DefaultCPUSchedule.run(mod, createPassContext({ optLevel: 3, target: parseTarget(target) }));
  return out.funcs[0] as unknown as PrimFunc;
}

const lanesOf = (f: PrimFunc) => [
  ...new Set(loopsOfKind(f, 'vectorized').map((l) => (l.extent as { value: number }).value)),
];

describe('tir.DefaultCPUSchedule', () => {
  it('vectorizes with the target width: 8 lanes for AVX2, 16 for AVX-512, 4 for NEON', () => {
    const avx2 = scheduleFor('llvm -mtriple=x86_64-linux-gnu -mcpu=haswell -mattr=+avx2,+fma -num-threads=2');
    expect(avx2.attrs[SCHEDULED_ATTR]).toBe(true);
    expect(lanesOf(avx2)).toEqual([8]);
    expect(loopsOfKind(avx2, 'parallel').length).toBeGreaterThan(0);
    expect(
      lanesOf(scheduleFor('llvm -mtriple=x86_64-linux-gnu -mcpu=skylake-avx512 -mattr=+avx2,+fma,+avx512f')),
    ).toEqual([16]);
    const neon = scheduleFor('llvm -mtriple=aarch64-linux-gnu -mattr=+neon -num-threads=1');
    expect(lanesOf(neon)).toEqual([4]);
    expect(loopsOfKind(neon, 'parallel').length).toBe(0);
  });

  it('leaves a kernel that is already scheduled, and runs only from opt level 1', () => {
    const mod = irModule([['mm', matmul()]]);
    const ctx = createPassContext({ optLevel: 3, target: parseTarget('llvm -mattr=+avx2') });
    const once = DefaultCPUSchedule.run(mod, ctx);
    expect(DefaultCPUSchedule.run(once, ctx)).toBe(once);
    expect(DefaultCPUSchedule.run(mod, createPassContext({ optLevel: 0 }))).toBe(mod);
  });
});
