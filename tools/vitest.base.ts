// Shared vitest factory: tests resolve @kiln/* to sources through the `kiln-src`
// export condition, so they run without a prior build.
import { defineConfig } from 'vitest/config';

export function kilnVitest(extra: { testTimeout?: number } = {}) {
  return defineConfig({
    resolve: { conditions: ['kiln-src'] },
    test: {
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: extra.testTimeout ?? 30_000,
      reporters: process.env.KILN_TEST_JSON ? ['default', ['json', { outputFile: process.env.KILN_TEST_JSON }]] : ['default'],
    },
  });
}
