import { describe, expect, it } from 'vitest';
import { createSchedule } from './index.js';
import { matmul, sameResults } from './testing/kernels.js';

describe('smoke', () => {
  it('split', () => {
    const fn = matmul();
    const sch = createSchedule(fn);
    const b = sch.getBlock('C');
    const [i] = sch.getLoops(b);
    sch.split(i, [undefined, 4]);
    const r = sameResults(fn, sch.func);
    expect(r.ok, r.message).toBe(true);
    console.log(sch.trace.toString());
  });
});
