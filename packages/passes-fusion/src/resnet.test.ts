// A ResNet-18-shaped network (stem conv7x7/2 + bn + relu + maxpool, 4 stages of 2 basic
// blocks with projection shortcuts, global average pool, dense) at small width and
// resolution: kernels launched before/after fusion (and with NCHW8c), same results.
import type { IRModule } from '@kiln/ir-core';
import { primVar, sequential } from '@kiln/ir-core';
import type { Expr } from '@kiln/relax';
import { BlockBuilder, constant, LegalizeOps, op, relaxVar, tensorSInfo } from '@kiln/relax';
import { describe, expect, it } from 'vitest';
import { AnnotateTIROpPattern } from './annotate-tir-op-pattern.js';
import { ConvertLayout } from './convert-layout.js';
import { FuseOps } from './fuse-ops.js';
import { FuseTIR } from './fuse-tir.js';
import { maxRelErr, rand, runOnVM } from './testing/vm.js';

function resnet18Shaped(width = 8): IRModule {
  let seed = 1;
  const conv = (o: number, i: number, k: number) =>
    constant(rand(o * i * k * k, seed++, Math.sqrt(2 / (i * k * k))), [o, i, k, k]);
  const bn = (c: number) =>
    [
      constant(
        rand(c, seed++, 0.2).map((v) => 1 + v),
        [c],
      ),
      constant(rand(c, seed++, 0.1), [c]),
      constant(rand(c, seed++, 0.1), [c]),
      constant(
        rand(c, seed++, 0.2).map((v) => 1 + v),
        [c],
      ),
    ] as const;
  const n = primVar('n');
  const x = relaxVar('x', tensorSInfo([n, 3, 32, 32], 'float32'));
  const bb = new BlockBuilder();
  bb.function('main', [x], () =>
    bb.dataflow(() => {
      const convBn = (inp: Expr, o: number, i: number, k: number, stride: number) =>
        bb.emit(
          op.batchNorm(
            bb.emit(op.conv2d(inp, conv(o, i, k), { strides: [stride], padding: [Math.floor(k / 2)] })),
            ...bn(o),
          ),
        );
      let cur: Expr = bb.emit(op.relu(convBn(x, width, 3, 7, 2)));
      cur = bb.emit(op.maxPool2d(cur, [3, 3], { strides: [2], padding: [1] }));
      let c = width;
      for (let stage = 0; stage < 4; stage++) {
        for (let blk = 0; blk < 2; blk++) {
          const down = stage > 0 && blk === 0;
          const oc = down ? c * 2 : c;
          const a = bb.emit(op.relu(convBn(cur, oc, c, 3, down ? 2 : 1)));
          const b = convBn(a, oc, oc, 3, 1);
          const skip = down ? convBn(cur, oc, c, 1, 2) : cur;
          cur = bb.emit(op.relu(bb.emit(op.add(b, skip))));
          c = oc;
        }
      }
      const pooled = bb.emit(op.mean(cur, { axis: [2, 3] }));
      const logits = bb.emit(op.matmul(pooled, constant(rand(c * 10, seed++, 0.3), [c, 10])));
      return bb.emitOutput(op.add(logits, constant(rand(10, seed++), [10])));
    }),
  );
  return bb.getModule();
}

describe('a ResNet-18-shaped network', () => {
  it('launches far fewer kernels after FuseOps + FuseTIR, with the same logits', () => {
    const plain = LegalizeOps.run(resnet18Shaped());
    const fused = sequential([LegalizeOps, AnnotateTIROpPattern, FuseOps, FuseTIR]).run(resnet18Shaped());
    const blocked = sequential([ConvertLayout, LegalizeOps, AnnotateTIROpPattern, FuseOps, FuseTIR]).run(
      resnet18Shaped(),
    );
    const inp = [{ data: rand(2 * 3 * 32 * 32, 5), shape: [2, 3, 32, 32] }];
    const ref = runOnVM(plain, inp);
    const got = runOnVM(fused, inp);
    const got8 = runOnVM(blocked, inp);
    expect(maxRelErr(got.outputs[0], ref.outputs[0])).toBeLessThan(1e-4);
    expect(maxRelErr(got8.outputs[0], ref.outputs[0])).toBeLessThan(1e-4);
    // 20 convs (+bn each), 17 relus, 8 residual adds, pool, mean, matmul, add
    expect(ref.launches).toBe(20 + 20 + 17 + 8 + 4);
    // one kernel per conv (with its bn, residual add and relu), pool, mean, matmul+add
    expect(got.launches).toBe(20 + 3);
    console.log(
      `ResNet-18-shaped: ${ref.launches} kernels launched → ${got.launches} fused (${got8.launches} with NCHW8c)`,
    );
  });
});
