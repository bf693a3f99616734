// A small MLP model script for the CLI tests: x[n, 12] → 24 → relu → 5, symbolic n.
// Weights come from a fixed-seed generator that the tests reproduce as the reference.
import { primVar } from '@kiln/ir-core';
import { BlockBuilder, constant, op, relaxVar, tensorSInfo } from '@kiln/relax';

export function rand(n, seed) {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

export default function mlp() {
  const n = primVar('n');
  const x = relaxVar('x', tensorSInfo([n, 12], 'float32'));
  const bb = new BlockBuilder();
  bb.function('main', [x], () =>
    bb.dataflow(() => {
      const h = bb.emit(op.matmul(x, constant(rand(12 * 24, 1), [12, 24])));
      const hb = bb.emit(op.add(h, constant(rand(24, 2), [24])));
      const r = bb.emit(op.relu(hb));
      const o = bb.emit(op.matmul(r, constant(rand(24 * 5, 3), [24, 5])));
      return bb.emitOutput(bb.emit(op.add(o, constant(rand(5, 4), [5]))));
    }),
  );
  return bb.getModule();
}
