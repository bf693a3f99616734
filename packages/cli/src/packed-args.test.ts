// Kernels with more parameters than a native FFI call can carry (koffi stops at 64) are
// exported with packed arguments: a 70-way concat over a symbolic batch compiles to one
// kernel of 72 parameters (70 inputs, the output, the batch size), which must still run.
import { primVar } from '@kiln/ir-core';
import { BlockBuilder, op, relaxVar, tensorSInfo } from '@kiln/relax';
import { createRuntime, Tensor } from '@kiln/runtime';
import { describe, expect, it } from 'vitest';
import { compileModule } from './compile.js';

const PARTS = 70;

function buildWideConcat() {
  const n = primVar('n', 'int64');
  const xs = Array.from({ length: PARTS }, (_, i) => relaxVar(`x${i}`, tensorSInfo([n, 2], 'float32')));
  const bb = new BlockBuilder();
  bb.function('main', xs, () => {
    const out = bb.dataflow(() => {
      const c = bb.emit(op.concat(xs, 1), 'c');
      return bb.emitOutput(op.multiply(c, op.add(c, c)), 'y');
    });
    bb.emitFuncOutput(out);
  });
  return bb.getModule();
}

describe('kernels with many parameters', () => {
  it('are exported packed and run from the artifact at two batch sizes', () => {
    const { artifact } = compileModule(buildWideConcat());
    const sigs = artifact.kernelModules.flatMap((m) => Object.values(m.symbols));
    const wide = sigs.filter((s) => s.args.length > 64);
    expect(wide.length).toBeGreaterThan(0);
    expect(wide.every((s) => s.packed === true)).toBe(true);
    expect(sigs.filter((s) => s.args.length <= 32).every((s) => !s.packed)).toBe(true);

    const exe = createRuntime().load(artifact);
    for (const n of [3, 1]) {
      const inputs = Array.from({ length: PARTS }, (_, i) =>
        Tensor.fromTypedArray(
          Float32Array.from({ length: n * 2 }, (_, k) => i + k / 10),
          [n, 2],
          'float32',
        ),
      );
      const y = exe.call('main', ...inputs) as Tensor;
      expect(y.shape).toEqual([n, 2 * PARTS]);
      const got = y.toTypedArray() as Float32Array;
      for (let r = 0; r < n; r++)
        for (let i = 0; i < PARTS; i++)
          for (let j = 0; j < 2; j++) {
            const x = Math.fround(i + (r * 2 + j) / 10);
            expect(got[r * 2 * PARTS + i * 2 + j]).toBeCloseTo(2 * x * x, 3);
          }
    }
  });
});
