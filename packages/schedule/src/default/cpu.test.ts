import { mul } from '@kiln/ir-core';
import type { For, Stmt } from '@kiln/tensorir';
import { allClose, compute, createPrimFunc, exp, interpret, ndarray, placeholder, randomNDArray, reduceAxis, sum } from '@kiln/tensorir';
import { describe, expect, it } from 'vitest';
import { defaultCPUSchedule } from './cpu.js';

function loops(s: Stmt, out: For[] = []): For[] {
  if (s.kind === 'For') {
    out.push(s);
    loops(s.body, out);
  } else if (s.kind === 'SeqStmt') s.seq.forEach((x) => loops(x, out));
  else if (s.kind === 'BlockRealize') loops(s.block.body, out);
  else if (s.kind === 'Block') loops(s.body, out);
  return out;
}

describe('defaultCPUSchedule', () => {
  it('fuses and parallelizes the outer spatial loops, never a reduction loop', () => {
    const A = placeholder([2, 3, 2048], 'float32', 'A');
    const B = placeholder([2048, 5], 'float32', 'B');
    const k = reduceAxis([0, 2048], 'k');
    const C = compute([2, 3, 5], (b, i, j) => sum(mul(A.at(b, i, k), B.at(k, j)), k), 'C');
    const D = compute([2, 3, 5], (b, i, j) => exp(C.at(b, i, j)), 'D');
    const fn = createPrimFunc([A, B, D]);
    const s = defaultCPUSchedule(fn, { numThreads: 2 });
    const par = loops(s.body).filter((l) => l.forKind === 'parallel');
    // the matmul block (61440 iterations) is parallelized; the 30-element exp stays serial
    expect(par.length).toBe(1);
    // 2 x 3 = 6 < 4 threads' worth of work, so j is fused in too
    for (const p of par) expect(p.extent.kind === 'IntImm' && p.extent.value).toBe(30);
    const a = randomNDArray('float32', [2, 3, 2048], 1);
    const b = randomNDArray('float32', [2048, 5], 2);
    const want = ndarray('float32', [2, 3, 5]);
    const got = ndarray('float32', [2, 3, 5]);
    interpret(fn, [a, b, want]);
    interpret(s, [a, b, got]);
    expect(allClose(got, want, 1e-5).ok).toBe(true);
    expect(defaultCPUSchedule(fn, { numThreads: 1 })).toBe(fn);
  });
});
