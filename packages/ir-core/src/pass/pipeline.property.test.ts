// Property tests: any pipeline built from registered passes and printable option
// values prints, parses back to the same passes and options, and prints the same.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ErrorCodes, KilnError } from '../errors.js';
import type { Pass } from './pass.js';
import { definePass, sequential } from './pass.js';
import { parsePipeline } from './pipeline.js';

const scalar = z.union([z.string(), z.number(), z.boolean()]);
const open = definePass({
  name: 'test.Open',
  kind: 'module',
  options: z.object({
    a: z.union([scalar, z.array(scalar)]).optional(),
    b: z.union([scalar, z.array(scalar)]).optional(),
    c: scalar.optional(),
    d: z.record(z.string(), z.union([scalar, z.array(scalar)])).optional(),
  }),
  run: (m) => m,
});
const plain = [
  definePass({ name: 'tir.A', kind: 'module', run: (m) => m }),
  definePass({ name: 'relax.B', kind: 'module', run: (m) => m }),
];
const lookup = {
  getPass(name: string): Pass {
    const p = [open, ...plain].find((q) => q.name === name);
    if (!p) throw new KilnError(ErrorCodes.UNKNOWN_PASS, name);
    return p;
  },
};

const value = fc.oneof(
  fc.string(),
  fc.constantFrom('true', 'false', 'seq', 'abc', 'a.b-c', '', ' x '),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0)),
  fc.boolean(),
);
const key = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,6}$/).filter((k) => k !== '__proto__');
const opts = fc.record(
  {
    a: fc.oneof(value, fc.array(value, { maxLength: 3 })),
    b: fc.oneof(value, fc.array(value, { maxLength: 3 })),
    c: value,
    d: fc.dictionary(key, fc.oneof(value, fc.array(value, { maxLength: 2 })), { maxKeys: 3 }),
  },
  { requiredKeys: [] },
);
const leaf: fc.Arbitrary<Pass> = fc.oneof(
  fc.constantFrom(...plain),
  opts.map((o) => open.withOptions(o as never)),
);
const { tree } = fc.letrec<{ tree: Pass }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('tree'), { maxLength: 4 }).map((ps) => sequential(ps)),
  ),
}));

function shape(p: Pass): unknown {
  return p.passes ? p.passes.map(shape) : { name: p.name, opts: p.boundOptions };
}

describe('pipeline text (property)', () => {
  it('print → parse → print is stable and preserves passes and options', () => {
    fc.assert(
      fc.property(fc.array(tree, { maxLength: 5 }), (members) => {
        const p = sequential(members);
        const text = p.toString();
        const q = parsePipeline(text, lookup);
        expect(q.toString()).toBe(text);
        expect(shape(q)).toEqual(shape(p));
      }),
      { numRuns: 300 },
    );
  });
});
