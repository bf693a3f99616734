import { irModule, structuralEqual } from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import { applyTrace, ScheduleErrorCodes as C, createSchedule, parseTrace } from './index.js';
import { expectCode, expectReplays, expectSame } from './testing/expect.js';
import { conv2d, matmul, softmax } from './testing/kernels.js';

/** A tiled, cached, tensorized matmul: most primitives in one trace. */
function bigSchedule(seed = 3) {
  const fn = matmul(16, 16, 16);
  const sch = createSchedule(fn, { seed });
  const c = sch.getBlock('C');
  const [i, j, k] = sch.getLoops(c);
  const [ti, tj] = [sch.samplePerfectTile(i, 2, 4), sch.samplePerfectTile(j, 2, 4)];
  const [io, ii] = sch.split(i, ti);
  const [jo, ji] = sch.split(j, tj);
  const [ko, ki] = sch.split(k, [undefined, 4]);
  sch.reorder(io, jo, ko, ii, ji, ki);
  const a = sch.cacheRead(c, 0, 'shared');
  sch.computeAt(a, ko);
  sch.annotate(c, 'note', { why: 'test', level: [1, 2] });
  sch.parallel(io);
  const pick = sch.sampleCategorical([1, 2, 4], [0.2, 0.3, 0.5]);
  void pick;
  return { fn, sch };
}

describe('trace', () => {
  it('records every call and prints a readable text form', () => {
    const sch = createSchedule(matmul());
    const c = sch.getBlock('C');
    const [i, , k] = sch.getLoops(c);
    sch.split(i, [undefined, 4]);
    sch.decomposeReduction(c, k);
    sch.bind(sch.getLoops(c)[0], 'blockIdx.x');
    expect(sch.trace.toString()).toBe(
      [
        'b0 = getBlock(name="C")',
        'l1, l2, l3 = getLoops(b0)',
        'l4, l5 = split(l1, [null, 4])',
        'b6 = decomposeReduction(b0, l3)',
        'l7, l8, l9, l10 = getLoops(b0)',
        'bind(l7, thread="blockIdx.x")',
      ].join('\n'),
    );
  });

  it('replays a long trace to a structurally equal function', () => {
    const { fn, sch } = bigSchedule();
    expectSame(fn, sch.func);
    expectReplays(sch, matmul(16, 16, 16));
  });

  it('parses comments and blank lines and refuses bad text', () => {
    const t = parseTrace(
      '# a schedule\n\nb0 = getBlock(name="C")  # the matmul\nl1, l2, l3 = getLoops(b0)\nparallel(l1)\n',
    );
    expect(t.length).toBe(3);
    const sch = applyTrace(t, matmul());
    expect(sch.get(sch.getLoops(sch.getBlock('C'))[0]).forKind).toBe('parallel');
    expectCode(() => parseTrace('b0 = getBlok(name="C")'), C.TRACE_PARSE);
    expectCode(() => parseTrace('parallel(l9)'), C.TRACE_PARSE);
    expectCode(() => parseTrace('b0 = getBlock(name="C"'), C.TRACE_PARSE);
    expectCode(() => parseTrace('x0 = getBlock(name="C")'), C.TRACE_PARSE);
  });

  it('replays on a module function and keeps the module up to date', () => {
    const mod = irModule({ mm: matmul(), other: softmax() });
    const sch = createSchedule({ mod, name: 'mm' });
    sch.parallel(sch.getLoops(sch.getBlock('C'))[0]);
    const again = applyTrace(sch.trace, { mod, name: 'mm' });
    expect(structuralEqual(again.module, sch.module, { mapFreeVars: true })).toBe(true);
    expectCode(() => createSchedule({ mod, name: 'missing' }), 'UNKNOWN_NAME');
  });

  it('fails replay when the function does not fit the trace', () => {
    const sch = createSchedule(matmul());
    sch.split(sch.getLoops(sch.getBlock('C'))[0], [undefined, 4]);
    expectCode(() => applyTrace(sch.trace, softmax()), C.SCHEDULE_UNKNOWN_BLOCK);
  });
});

describe('sampling', () => {
  it('is deterministic per seed and records decisions', () => {
    const a = bigSchedule(11).sch;
    const b = bigSchedule(11).sch;
    expect(a.trace.toString()).toBe(b.trace.toString());
    const tiles = a.trace.instructions.filter((x) => x.kind === 'samplePerfectTile');
    for (const t of tiles) {
      const d = t.decision as number[];
      expect(d.reduce((x, y) => x * y, 1)).toBe(16);
      expect(d[1]).toBeLessThanOrEqual(4);
    }
    const seen = new Set<string>();
    for (let s = 1; s <= 12; s++)
      seen.add(
        JSON.stringify(
          bigSchedule(s)
            .sch.trace.instructions.filter((x) => x.decision !== undefined)
            .map((x) => x.decision),
        ),
      );
    expect(seen.size).toBeGreaterThan(1);
  });

  it('replays the recorded decision, and a changed decision changes the result', () => {
    const { sch } = bigSchedule(5);
    const again = applyTrace(parseTrace(sch.trace.toString()), matmul(16, 16, 16), { seed: 999 });
    expect(structuralEqual(again.func, sch.func, { mapFreeVars: true })).toBe(true);
    const idx = sch.trace.instructions.findIndex((x) => x.kind === 'samplePerfectTile');
    const cur = sch.trace.instructions[idx].decision as number[];
    const other = cur[1] === 4 ? [8, 2] : [4, 4];
    const mutated = applyTrace(sch.trace.withDecision(idx, other), matmul(16, 16, 16));
    expect(structuralEqual(mutated.func, sch.func, { mapFreeVars: true })).toBe(false);
    expectSame(matmul(16, 16, 16), mutated.func);
    expectCode(() => applyTrace(sch.trace.withDecision(idx, [3, 5]), matmul(16, 16, 16)), C.SCHEDULE_ERROR);
  });

  it('samples categorical choices with their probabilities', () => {
    const counts = [0, 0, 0];
    const sch = createSchedule(conv2d(), { seed: 42 });
    for (let n = 0; n < 600; n++)
      counts[sch.get(sch.sampleCategorical([10, 20, 30], [0.1, 0.3, 0.6]))! / 10 - 1]++;
    expect(counts[2]).toBeGreaterThan(counts[1]);
    expect(counts[1]).toBeGreaterThan(counts[0]);
    expectCode(() => sch.sampleCategorical([1, 2], [1]), C.SCHEDULE_ERROR);
  });
});
