// Shared vitest factory: tests resolve @kiln/* to sources through the `kiln-src`
// export condition, so they run without a prior build. When KILN_TEST_REPORT_DIR is set
// (by tools/run-tests.mjs), each package also writes a JSON report there for the summary.
import { basename } from 'node:path';
import { defineConfig } from 'vitest/config';

export function kilnVitest(extra: { testTimeout?: number } = {}) {
  const reportDir = process.env.KILN_TEST_REPORT_DIR;
  const reporters: Array<string | [string, Record<string, unknown>]> = ['default'];
  if (reportDir) reporters.push(['json', { outputFile: `${reportDir}/${basename(process.cwd())}.json` }]);
  return defineConfig({
    resolve: { conditions: ['kiln-src'] },
    test: {
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: extra.testTimeout ?? 60_000,
      hookTimeout: 120_000,
      passWithNoTests: true,
      reporters,
    },
  });
}
