// The C runtime's thread pool on its own: a C driver calls kiln_parallel_for 20000 times
// with random trip counts and checks that every index ran exactly once, with more threads
// than cores (so workers are descheduled mid-call and their shares are taken by others).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CPU_RUNTIME_C } from './cpu_runtime.js';
import { findToolchain } from './toolchain.js';

const DRIVER = String.raw`
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
typedef void (*kiln_task_fn)(int64_t, int64_t, void *);
void kiln_parallel_for(kiln_task_fn fn, void *closure, int64_t n);
int kiln_set_num_threads(int n);
static _Atomic int hits[4096];
static void body(int64_t b, int64_t e, void *c) {
  (void)c;
  for (int64_t i = b; i < e; i++) atomic_fetch_add(&hits[i], 1);
}
int main(int argc, char **argv) {
  kiln_set_num_threads(atoi(argv[1]));
  unsigned s = 12345;
  for (int it = 0; it < 20000; it++) {
    s = s * 1664525u + 1013904223u;
    int64_t n = 1 + (s >> 8) % 3000;
    for (int64_t i = 0; i < n; i++) hits[i] = 0;
    kiln_parallel_for(body, 0, n);
    for (int64_t i = 0; i < n; i++)
      if (hits[i] != 1) {
        printf("call %d (n=%lld): index %lld ran %d times\n", it, (long long)n, (long long)i, hits[i]);
        return 1;
      }
  }
  printf("ok\n");
  return 0;
}
`;

describe('the CPU runtime thread pool', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-pool-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs every index of every parallel loop exactly once (1 to 7 threads)', () => {
    const cc = findToolchain().cc;
    writeFileSync(join(dir, 'rt.c'), CPU_RUNTIME_C);
    writeFileSync(join(dir, 'drv.c'), DRIVER);
    const exe = join(dir, 'drv');
    execFileSync(cc, ['-O2', '-std=gnu11', '-pthread', join(dir, 'rt.c'), join(dir, 'drv.c'), '-o', exe]);
    for (const threads of [1, 2, 3, 7]) {
      const out = execFileSync(exe, [String(threads)], { encoding: 'utf8', timeout: 120_000 });
      expect(out.trim(), `${threads} threads`).toBe('ok');
    }
  });
});
