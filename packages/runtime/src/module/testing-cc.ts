// Test/bench helper (not exported from the package): compiles C source to a
// shared library with the system `cc`, or reports why it cannot.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type CompileResult = { ok: true; bytes: Uint8Array } | { ok: false; reason: string };

export function compileSharedLibrary(source: string): CompileResult {
  const probe = spawnSync('cc', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return { ok: false, reason: 'no C compiler (`cc`) on PATH' };
  const dir = mkdtempSync(join(tmpdir(), 'kiln-cc-'));
  try {
    writeFileSync(join(dir, 'k.c'), source);
    const r = spawnSync('cc', ['-shared', '-fPIC', '-O2', '-o', join(dir, 'k.so'), join(dir, 'k.c')], {
      encoding: 'utf8',
    });
    if (r.status !== 0) return { ok: false, reason: `cc failed: ${r.stderr || r.error?.message}` };
    return { ok: true, bytes: new Uint8Array(readFileSync(join(dir, 'k.so'))) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
