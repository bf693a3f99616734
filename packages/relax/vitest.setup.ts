// After each test file: run the op kernels it legalized on the native CPU backend and
// compare with the interpreter's results (src/testing/native.ts).
import { afterAll } from 'vitest';
import { checkNativeCases, NATIVE_CASES } from './src/testing/native.js';

afterAll(() => {
  if (NATIVE_CASES.length === 0) return;
  const cases = NATIVE_CASES.splice(0);
  const r = checkNativeCases(cases);
  if (r.problems.length > 0) {
    throw new Error(
      `native kernels differ from the interpreter in ${r.problems.length} of ${cases.length} op cases:\n  ${r.problems.join('\n  ')}`,
    );
  }
}, 600_000);
