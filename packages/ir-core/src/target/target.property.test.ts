// Property test: every target object that parseTarget can produce prints to a string
// that parses back to an equal object.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTarget, targetToString } from './target.js';
import type { Target } from './types.js';

const word = fc.stringMatching(/^[a-z0-9][a-z0-9_.]{0,10}$/);
const llvm = fc.record({
  kind: fc.constant('llvm' as const),
  keys: fc.constant(['cpu']),
  mtriple: fc.constantFrom(
    'x86_64-linux-gnu',
    'aarch64-linux-gnu',
    'arm64-apple-darwin',
    'riscv64-linux-gnu',
  ),
  mcpu: fc.oneof(fc.constantFrom('generic', 'znver3', 'x86-64-v3', 'neoverse-n1'), word),
  features: fc.uniqueArray(
    fc.tuple(fc.constantFrom('+', '-'), word).map(([s, w]) => `${s}${w}`),
    { maxLength: 6, selector: (f) => f.slice(1) },
  ),
  numThreads: fc.integer({ min: 1, max: 512 }),
});
const cuda = fc.record({
  kind: fc.constant('cuda' as const),
  keys: fc.constant(['cuda', 'gpu']),
  arch: fc.integer({ min: 30, max: 120 }).map((n) => `sm_${n}`),
  maxThreadsPerBlock: fc.integer({ min: 1, max: 4096 }),
  maxSharedMemoryPerBlock: fc.integer({ min: 1, max: 1 << 20 }),
  warpSize: fc.constantFrom(32, 64),
});
const vulkan = fc.record({
  kind: fc.constant('vulkan' as const),
  keys: fc.constant(['vulkan', 'gpu']),
  maxThreadsPerBlock: fc.integer({ min: 1, max: 4096 }),
  supportsFloat16: fc.boolean(),
  supportsInt64: fc.boolean(),
});
const metal = fc.record({
  kind: fc.constant('metal' as const),
  keys: fc.constant(['metal', 'gpu']),
  maxThreadsPerBlock: fc.integer({ min: 1, max: 4096 }),
  warpSize: fc.constantFrom(32, 64),
});

describe('target strings (property)', () => {
  it('parse(targetToString(t)) equals t', () => {
    fc.assert(
      fc.property(fc.oneof(llvm, cuda, vulkan, metal), (t) => {
        const text = targetToString(t as Target);
        // no host reads needed: printed llvm targets name every field
        const back = parseTarget(text, {
          host: { cpuinfo: '', arch: 'x64', platform: 'linux', cpuCount: 1, env: {} },
        });
        expect(back).toEqual(t);
        expect(targetToString(back)).toBe(text);
      }),
      { numRuns: 300 },
    );
  });
});
