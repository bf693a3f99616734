// Seeded sampling for the search space: a small deterministic PRNG and the two samplers a
// schedule exposes. Decisions are recorded in the trace, so replay never re-samples.
import { ScheduleErrorCodes as C, fail } from './errors.js';

/** mulberry32: tiny, seedable, good enough for picking tile sizes; copyable for forks. */
export class Rng {
  constructor(private state: number) {
    this.state = state >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  copy(): Rng {
    return new Rng(this.state);
  }
}

export function createRng(seed: number): Rng {
  return new Rng(seed);
}

function primeFactors(n: number): number[] {
  const out: number[] = [];
  let m = n;
  for (let p = 2; p * p <= m; p++) {
    while (m % p === 0) {
      out.push(p);
      m /= p;
    }
  }
  if (m > 1) out.push(m);
  return out;
}

/** `n` factors whose product is `extent`, the innermost at most `maxInnermost`. */
export function samplePerfectTileFactors(
  rng: Rng,
  extent: number,
  n: number,
  maxInnermost = Infinity,
): number[] {
  if (!Number.isInteger(n) || n < 1)
    fail(C.SCHEDULE_ERROR, 'samplePerfectTile', `n = ${n} must be a positive integer`);
  for (let attempt = 0; attempt < 64; attempt++) {
    const fs = new Array<number>(n).fill(1);
    for (const p of primeFactors(extent)) fs[Math.floor(rng.next() * n)] *= p;
    if (fs[n - 1] <= maxInnermost) return fs;
  }
  // Always possible: everything outside, 1 innermost.
  const fs = new Array<number>(n).fill(1);
  fs[0] = extent;
  return fs;
}

export function checkPerfectTile(
  extent: number,
  n: number,
  maxInnermost: number | undefined,
  decision: readonly number[],
): boolean {
  return (
    decision.length === n &&
    decision.every((f) => Number.isInteger(f) && f >= 1) &&
    decision.reduce((a, b) => a * b, 1) === extent &&
    decision[n - 1] <= (maxInnermost ?? Infinity)
  );
}

/** Index of the chosen candidate, drawn with the (unnormalized) probabilities. */
export function sampleCategoricalIndex(rng: Rng, probs: readonly number[]): number {
  const total = probs.reduce((a, b) => a + b, 0);
  let x = rng.next() * total;
  for (let i = 0; i < probs.length; i++) {
    x -= probs[i];
    if (x < 0) return i;
  }
  return probs.length - 1;
}
