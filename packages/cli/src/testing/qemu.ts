// Test helper (not exported from the package): run the kernels of an artifact compiled for
// AArch64 on this machine, under QEMU's user-mode emulator. A small C harness, built with
// the cross compiler, loads the kernel library, calls one kernel with its arguments read
// from files and writes the buffers back; the VM runs in Node as usual, with a JS kernel
// module that hands each call to the harness. Slow (one emulator start per call), exact.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Artifact, KernelArg } from '@kiln/runtime';
import { Tensor } from '@kiln/runtime';

const HARNESS_C = String.raw`
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
typedef int64_t I;
typedef void (*F0)(void);
int main(int argc, char **argv) {
  if (argc < 4) return 2;
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) { fprintf(stderr, "%s\n", dlerror()); return 3; }
  int (*threads)(int) = (int (*)(int))dlsym(h, "kiln_set_num_threads");
  if (threads) threads(atoi(argv[3]));
  void *f = dlsym(h, argv[2]);
  if (!f) { fprintf(stderr, "no symbol %s\n", argv[2]); return 4; }
  int n = argc - 4;
  if (n > 8) { fprintf(stderr, "too many arguments\n"); return 5; }
  I a[8] = {0};
  char *bufs[8] = {0};
  long sizes[8] = {0};
  for (int i = 0; i < n; i++) {
    const char *s = argv[4 + i];
    if (s[0] == 'i') { a[i] = strtoll(s + 1, 0, 10); continue; }
    /* p<bytes>:<file> */
    char *colon = strchr(s, ':');
    sizes[i] = strtol(s + 1, 0, 10);
    bufs[i] = aligned_alloc(64, (sizes[i] + 63) / 64 * 64 + 64);
    FILE *fp = fopen(colon + 1, "rb");
    if (!fp || fread(bufs[i], 1, sizes[i], fp) != (size_t)sizes[i]) { fprintf(stderr, "read %s\n", colon + 1); return 6; }
    fclose(fp);
    a[i] = (I)(intptr_t)bufs[i];
  }
  ((void (*)(I, I, I, I, I, I, I, I))f)(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
  for (int i = 0; i < n; i++) {
    if (!bufs[i]) continue;
    const char *s = argv[4 + i];
    FILE *fp = fopen(strchr(s, ':') + 1, "wb");
    fwrite(bufs[i], 1, sizes[i], fp);
    fclose(fp);
  }
  return 0;
}
`;

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':'))
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  return undefined;
}

/** Why AArch64 kernels cannot be run here, or undefined when they can. */
export function aarch64Unavailable(): string | undefined {
  if (!which('qemu-aarch64')) return 'qemu-aarch64 not found (apt-get install qemu-user)';
  if (!which('aarch64-linux-gnu-gcc'))
    return 'aarch64-linux-gnu-gcc not found (apt-get install gcc-aarch64-linux-gnu)';
  if (!existsSync('/usr/aarch64-linux-gnu/lib')) return 'no AArch64 C library in /usr/aarch64-linux-gnu';
  return undefined;
}

export interface EmulatedKernels {
  /** JS kernel modules for `createRuntime().load(artifact, { jsModules })`, by module name. */
  readonly jsModules: Record<string, Record<string, (args: readonly KernelArg[]) => void>>;
  /** The artifact with its cpu-so modules turned into those JS modules. */
  readonly artifact: Artifact;
  readonly dispose: () => void;
}

/** Wrap an AArch64 artifact's kernel libraries so the VM runs them under QEMU. */
export function emulateAArch64(artifact: Artifact): EmulatedKernels {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-qemu-'));
  const harness = join(dir, 'harness');
  writeFileSync(join(dir, 'harness.c'), HARNESS_C);
  execFileSync('aarch64-linux-gnu-gcc', ['-O1', '-o', harness, join(dir, 'harness.c'), '-ldl']);
  const jsModules: EmulatedKernels['jsModules'] = {};
  const modules = artifact.kernelModules.map((m) => {
    if (m.kind !== 'cpu-so' || !m.data) return m;
    const lib = join(dir, `${m.name}.so`);
    writeFileSync(lib, m.data);
    const threads = String(m.meta?.numThreads ?? 1);
    const fns: Record<string, (args: readonly KernelArg[]) => void> = {};
    for (const [symbol, sig] of Object.entries(m.symbols)) {
      fns[symbol] = (args) => {
        const files: Array<{ file: string; bytes: Uint8Array } | undefined> = [];
        const argv = args.map((a, i) => {
          if (a instanceof Tensor) {
            const bytes = a.dataPointer().subarray(0, a.nbytes);
            const file = join(dir, `arg${i}.bin`);
            writeFileSync(file, bytes);
            files.push({ file, bytes });
            return `p${a.nbytes}:${file}`;
          }
          if (sig.args[i] !== 'i64' && sig.args[i] !== 'i32')
            throw new Error(`${symbol}: the harness passes integer scalars only`);
          files.push(undefined);
          return `i${typeof a === 'boolean' ? Number(a) : String(a)}`;
        });
        execFileSync('qemu-aarch64', [
          '-L',
          '/usr/aarch64-linux-gnu',
          harness,
          lib,
          symbol,
          threads,
          ...argv,
        ]);
        for (const f of files) if (f) f.bytes.set(readFileSync(f.file));
      };
    }
    jsModules[m.name] = fns;
    return { name: m.name, kind: 'js', device: m.device, symbols: {} };
  });
  return {
    jsModules,
    artifact: { ...artifact, kernelModules: modules } as Artifact,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
