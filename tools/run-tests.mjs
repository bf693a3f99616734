#!/usr/bin/env node
// `npm test`: runs every package's vitest suite through nx, then prints one plain
// summary line `N passed, M failed` summed over all packages (CI reads that line).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const reportDir = mkdtempSync(join(tmpdir(), 'kiln-tests-'));
const extra = process.argv.slice(2);
const run = spawnSync(
  'npx',
  ['nx', 'run-many', '-t', 'test', '--output-style=stream', '--parallel=1', '--skip-nx-cache', ...extra],
  {
    stdio: 'inherit',
    env: { ...process.env, KILN_TEST_REPORT_DIR: reportDir, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' },
  },
);

let passed = 0;
let failed = 0;
let skipped = 0;
let brokenSuites = 0;
for (const f of readdirSync(reportDir)) {
  const r = JSON.parse(readFileSync(join(reportDir, f), 'utf8'));
  passed += r.numPassedTests ?? 0;
  failed += r.numFailedTests ?? 0;
  skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  // A test file that fails to load has no tests in it but must count as a failure.
  for (const s of r.testResults ?? [])
    if (s.status === 'failed' && (s.assertionResults ?? []).length === 0) brokenSuites++;
}
rmSync(reportDir, { recursive: true, force: true });
failed += brokenSuites;
if (run.status !== 0 && failed === 0) failed = 1; // the runner itself failed
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || run.status !== 0 ? 1 : 0);
