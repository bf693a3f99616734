// Assertions shared by the schedule tests.
import { isKilnError, structuralEqual } from '@kiln/ir-core';
import type { PrimFunc } from '@kiln/tensorir';
import { printPrimFunc, wellFormed } from '@kiln/tensorir';
import { expect } from 'vitest';
import type { Schedule } from '../schedule.js';
import { applyTrace } from '../schedule.js';
import { parseTrace } from '../trace.js';
import { sameResults } from './kernels.js';

/** The scheduled function is well-formed and computes what the original did. */
export function expectSame(original: PrimFunc, scheduled: PrimFunc, seed = 7, rtol = 1e-5): void {
  const problems = wellFormed(scheduled);
  expect(problems, `${problems.join('\n')}\n${printPrimFunc(scheduled)}`).toEqual([]);
  const r = sameResults(original, scheduled, seed, rtol);
  expect(r.ok, `${r.message}\n${printPrimFunc(scheduled)}`).toBe(true);
}

/** `f` throws a KilnError with `code`. */
export function expectCode(f: () => unknown, code: string): void {
  try {
    f();
  } catch (e) {
    expect(isKilnError(e), String(e)).toBe(true);
    expect((e as { code: string }).code, String((e as Error).message)).toBe(code);
    return;
  }
  expect.fail(`expected a KilnError ${code}, but nothing was thrown`);
}

/** Replaying the schedule's trace (printed and parsed back) on a fresh copy gives the same function. */
export function expectReplays(sch: Schedule, fresh: PrimFunc): void {
  const text = sch.trace.toString();
  const parsed = parseTrace(text);
  expect(parsed.toString()).toBe(text);
  const again = applyTrace(parsed, fresh, { intrinsics: sch.intrinsics });
  expect(
    structuralEqual(again.func, sch.func, { mapFreeVars: true }),
    `${text}\n---\n${printPrimFunc(again.func)}\n---\n${printPrimFunc(sch.func)}`,
  ).toBe(true);
}
