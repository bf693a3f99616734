// Shared vitest factory: tests resolve @kiln/* to package sources (aliases below),
// so they run without a prior build. When KILN_TEST_REPORT_DIR is set
// (by tools/run-tests.mjs), each package also writes a JSON report there for the summary.
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Vite's SSR resolution does not apply custom export conditions to linked workspace
// packages, so map @kiln/<name>[/<entry>] to sources explicitly.
const kilnAliases = [
  { find: /^@kiln\/test-plugin$/, replacement: join(root, 'tools/test-plugin/src/index.ts') },
  { find: /^@kiln\/([a-z-]+)\/([a-z-]+)$/, replacement: join(root, 'packages/$1/src/$2/index.ts') },
  { find: /^@kiln\/([a-z-]+)$/, replacement: join(root, 'packages/$1/src/index.ts') },
];

export function kilnVitest(extra: { testTimeout?: number; setupFiles?: string[] } = {}) {
  const reportDir = process.env.KILN_TEST_REPORT_DIR;
  const reporters: Array<string | [string, Record<string, unknown>]> = ['default'];
  if (reportDir) reporters.push(['json', { outputFile: `${reportDir}/${basename(process.cwd())}.json` }]);
  return defineConfig({
    resolve: { alias: kilnAliases },
    test: {
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: extra.testTimeout ?? 60_000,
      hookTimeout: 120_000,
      passWithNoTests: true,
      setupFiles: extra.setupFiles ?? [],
      reporters,
    },
  });
}
