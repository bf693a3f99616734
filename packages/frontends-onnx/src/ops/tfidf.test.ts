// TfIdfVectorizer against the reference's walk over a trie of the pooled n-grams.
import { describe, expect, it } from 'vitest';
import { hostTensor } from '../host.js';
import { fromOnnx } from '../importer.js';
import { buildModel, compileAndLoad } from '../testing.test-util.js';

interface Attrs {
  min_gram_length: number;
  max_gram_length: number;
  max_skip_count: number;
  mode: string;
  ngram_counts: number[];
  ngram_indexes: number[];
  pool_int64s: number[];
  weights?: number[];
}

/** The reference algorithm: for each skip distance and start, walk the longest matching prefix. */
function reference(rows: number[][], a: Attrs): number[] {
  const ids = new Map<string, number>();
  let id = 0;
  a.ngram_counts.forEach((start, i) => {
    const end = i + 1 < a.ngram_counts.length ? a.ngram_counts[i + 1] : a.pool_int64s.length;
    for (let at = start; at + i + 1 <= end; at += i + 1) {
      if (i + 1 >= a.min_gram_length && i + 1 <= a.max_gram_length)
        ids.set(a.pool_int64s.slice(at, at + i + 1).join(','), id);
      id++;
    }
  });
  const prefixes = new Set(
    [...ids.keys()].flatMap((k) => k.split(',').map((_, i, t) => t.slice(0, i + 1).join(','))),
  );
  const size = Math.max(...a.ngram_indexes) + 1;
  const out: number[] = [];
  for (const x of rows) {
    const f = new Array<number>(size).fill(0);
    let startN = a.min_gram_length;
    for (let d = 1; d <= a.max_skip_count + 1; d++) {
      for (let s = 0; s + d * (startN - 1) < x.length; s++) {
        const toks: number[] = [];
        for (let i = s; i < x.length && toks.length < a.max_gram_length; i += d) {
          toks.push(x[i]);
          const key = toks.join(',');
          if (!prefixes.has(key)) break;
          const g = ids.get(key);
          if (toks.length >= startN && g !== undefined) f[a.ngram_indexes[g]]++;
        }
      }
      if (startN === 1) startN = 2;
      if (startN > a.max_gram_length) break;
    }
    const w = a.weights ?? [];
    out.push(
      ...f.map((c, i) =>
        a.mode === 'TF'
          ? c
          : a.mode === 'IDF'
            ? c > 0
              ? w.length
                ? w[i]
                : 1
              : 0
            : w.length
              ? w[i] * c
              : c,
      ),
    );
  }
  return out;
}

describe('TfIdfVectorizer', () => {
  const rows = [
    [1, 1, 3, 3, 3, 7, 2, 3],
    [8, 6, 7, 5, 6, 8, 6, 7],
  ];
  const base = {
    ngram_counts: [0, 4],
    ngram_indexes: [6, 0, 1, 2, 3, 4, 5],
    pool_int64s: [2, 3, 5, 6, 5, 6, 7, 8, 6, 7],
  };
  const cases: Attrs[] = [
    { ...base, min_gram_length: 1, max_gram_length: 2, max_skip_count: 3, mode: 'TF' },
    { ...base, min_gram_length: 2, max_gram_length: 2, max_skip_count: 0, mode: 'TF' },
    {
      ...base,
      min_gram_length: 1,
      max_gram_length: 2,
      max_skip_count: 1,
      mode: 'TFIDF',
      weights: [0.5, 1, 2, 3, 4, 5, 6],
    },
    {
      ...base,
      min_gram_length: 1,
      max_gram_length: 1,
      max_skip_count: 2,
      mode: 'IDF',
      weights: [1, 2, 3, 4, 5, 6, 7],
    },
  ];
  for (const [i, attrs] of cases.entries()) {
    it(`case ${i}: ${attrs.mode}, n in [${attrs.min_gram_length}, ${attrs.max_gram_length}], skip ${attrs.max_skip_count}`, () => {
      const bytes = buildModel({
        nodes: [{ op: 'TfIdfVectorizer', inputs: ['x'], outputs: ['y'], attrs: { ...attrs } }],
        inputs: [{ name: 'x', dtype: 'int64', shape: [2, 8] }],
        outputs: ['y'],
        opset: 9,
      });
      const [y] = compileAndLoad(fromOnnx(bytes))(hostTensor('int64', [2, 8], rows.flat()));
      expect(y.shape).toEqual([2, 7]);
      expect(y.data).toEqual(reference(rows, attrs));
    });
  }
});
