// AArch64 NEON: the default CPU pipeline cross-compiles a model for
// `llvm -mtriple=aarch64-linux-gnu -mattr=+neon` on this x86 machine. The schedules take
// NEON's 4 float lanes and 32 vector registers (register tiles of 4-lane FMAs, weight panels
// of 16 columns), the library is an AArch64 ELF, the runtime refuses to load it on another
// CPU with a clear error, and its kernels, run under QEMU's user-mode emulator, give the
// results of the host build.

import type { IRModule } from '@kiln/ir-core';
import { BlockBuilder, constant, op, relaxVar, tensorSInfo, tuple } from '@kiln/relax';
import { createRuntime, Tensor } from '@kiln/runtime';
import { afterAll, describe, expect, it } from 'vitest';
import { compileModule } from './compile.js';
import { aarch64Unavailable, emulateAArch64 } from './testing/qemu.js';

const NEON = 'llvm -mtriple=aarch64-linux-gnu -mcpu=neoverse-n1 -mattr=+neon -num-threads=2';

const rand = (n: number, seed: number) =>
  Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed));

/** A conv block (NCHW[x]c after ConvertLayout) and a dense → softmax head over its own input. */
function model(): IRModule {
  const img = relaxVar('img', tensorSInfo([2, 4, 10, 10], 'float32'));
  const x = relaxVar('x', tensorSInfo([32, 96], 'float32'));
  const bb = new BlockBuilder();
  bb.function('main', [img, x], () => {
    const out = bb.dataflow(() => {
      const c = bb.emit(op.conv2d(img, constant(rand(16 * 4 * 9, 1), [16, 4, 3, 3]), { padding: [1] }));
      const r = bb.emit(op.relu(op.add(c, constant(rand(16, 2), [16, 1, 1]))));
      const pooled = bb.emit(op.mean(r, { axis: [2, 3] }));
      const h = bb.emit(op.matmul(x, constant(rand(96 * 128, 3), [96, 128])));
      const g = bb.emit(op.gelu(op.add(h, constant(rand(128, 4), [128]))));
      const y = bb.emit(op.softmax(g, -1));
      return bb.emitOutput(tuple([pooled, y]));
    });
    bb.emitFuncOutput(out);
  });
  return bb.getModule();
}

const inputs = () => [
  Tensor.fromTypedArray(rand(2 * 4 * 100, 5), [2, 4, 10, 10]),
  Tensor.fromTypedArray(rand(32 * 96, 6), [32, 96]),
];

function outputs(v: unknown): Float32Array[] {
  return (v as Tensor[]).map((t) => t.toTypedArray() as Float32Array);
}

function maxRelErr(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return a.length === b.length ? m : Infinity;
}

const missing = aarch64Unavailable();
if (missing) console.log(`aarch64 NEON tests: emulation skipped: ${missing}`);

describe('AArch64 NEON target', () => {
  const neon = compileModule(model(), { target: NEON, dump: ['asm'] });
  const cleanups: Array<() => void> = [];
  afterAll(() => {
    for (const c of cleanups) c();
  });

  it('cross-compiles to an AArch64 library with NEON register tiles and packed weights', () => {
    const lib = neon.artifact.kernelModules[0].data!;
    // ELF, machine 183 (AArch64)
    expect([...lib.subarray(0, 4)]).toEqual([0x7f, 0x45, 0x4c, 0x46]);
    expect(lib[18] | (lib[19] << 8)).toBe(183);
    const asm = neon.dumps.asm ?? '';
    // 4-lane single-precision FMAs into many distinct accumulators: a register tile.
    const accs = new Set([...asm.matchAll(/fmla\s+(v\d+)\.4s/g)].map((m) => m[1]));
    expect(accs.size).toBeGreaterThanOrEqual(16);
    expect(asm).not.toMatch(/%ymm|%zmm/);
    // The dense weights [96, 128] are packed at compile time into 16-column panels (4 vectors × 4 lanes).
    expect(neon.artifact.constants.some((c) => c.shape.join('x') === '8x96x16')).toBe(true);
  });

  it.runIf(process.arch === 'x64')('is refused by the runtime on an x86-64 machine, naming both CPUs', () => {
    expect(() => createRuntime().load(neon.artifact)).toThrow(/compiled for arm64.*this machine is x64/);
  });

  it.skipIf(missing !== undefined)('runs under emulation with the results of the host build', () => {
    const emu = emulateAArch64(neon.artifact);
    cleanups.push(emu.dispose);
    const got = outputs(
      createRuntime()
        .load(emu.artifact, { jsModules: emu.jsModules })
        .call('main', ...inputs()),
    );
    const host = compileModule(model());
    const want = outputs(
      createRuntime()
        .load(host.artifact)
        .call('main', ...inputs()),
    );
    expect(got.length).toBe(2);
    for (let i = 0; i < 2; i++) expect(maxRelErr(got[i], want[i])).toBeLessThan(1e-5);
    // Not trivially small: pooled activations of order 0.1–1, softmax rows far from uniform (1/128).
    expect(Math.max(...want[0].map(Math.abs))).toBeGreaterThan(0.05);
    expect(Math.max(...want[1])).toBeGreaterThan(2 / 128);
  });
});
