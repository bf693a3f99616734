// The lexer: token kinds and positions, bad input, and round-trip properties of the
// leaf forms the printer writes (strings, floats, attribute dictionaries).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isKilnError } from '../errors.js';
import type { AttrValue } from '../module.js';
import { structuralEqual } from '../structural.js';
import { quoteString, tokenize } from './lexer.js';
import { TextParser } from './parser.js';
import { formatFloat, TextPrinter } from './printer.js';

const kinds = (text: string) => tokenize(text).map((t) => `${t.kind}:${t.text}`);

describe('lexer', () => {
  it('reads dotted names, numbers with exponents and suffixes, strings, punctuation, comments', () => {
    expect(kinds('threadIdx.x tir.exp a.0 x_1 # comment\n')).toEqual([
      'ident:threadIdx.x',
      'ident:tir.exp',
      'ident:a',
      'punct:.',
      'int:0',
      'ident:x_1',
      'eof:',
    ]);
    const nums = tokenize('3 3i32 1.5 1e-7 2.5E+3f64 inf -inff16 nan 7u8 0.5bf16');
    expect(nums.slice(0, 4).map((t) => [t.kind, t.num, t.suffix])).toEqual([
      ['int', 3, undefined],
      ['int', 3, 'i32'],
      ['float', 1.5, undefined],
      ['float', 1e-7, undefined],
    ]);
    expect(nums[4]).toMatchObject({ kind: 'float', num: 2500, suffix: 'f64' });
    expect(nums[5]).toMatchObject({ kind: 'float', num: Infinity });
    expect(nums[6]).toMatchObject({ kind: 'punct', text: '-' });
    expect(nums[7]).toMatchObject({ kind: 'float', num: Infinity, suffix: 'f16' });
    expect(Number.isNaN(nums[8].num)).toBe(true);
    expect(nums[9]).toMatchObject({ kind: 'int', num: 7, suffix: 'u8' });
    expect(nums[10]).toMatchObject({ kind: 'float', num: 0.5, suffix: 'bf16' });
    expect(kinds('a<=b!=c&&d||e+:f->g')).toEqual([
      'ident:a',
      'punct:<=',
      'ident:b',
      'punct:!=',
      'ident:c',
      'punct:&&',
      'ident:d',
      'punct:||',
      'ident:e',
      'punct:+:',
      'ident:f',
      'punct:->',
      'ident:g',
      'eof:',
    ]);
    expect(tokenize(String.raw`"a\"b\\c\n\t\u{1F600}\u00e9" 'q'`).map((t) => t.str)).toEqual([
      'a"b\\c\n\t😀é',
      'q',
      undefined,
    ]);
  });

  it('tracks lines and columns', () => {
    const t = tokenize('a\n  bb # x\n\tc');
    expect(t.map((x) => [x.text, x.line, x.column])).toEqual([
      ['a', 1, 1],
      ['bb', 2, 3],
      ['c', 3, 2],
      ['', 3, 3],
    ]);
  });

  it('rejects bad input with a position', () => {
    for (const [text, line, column] of [
      ['x = "abc', 1, 5],
      ['x\n  `', 2, 3],
      ['"\\q"', 1, 2],
      ['12abc', 1, 1],
    ] as const) {
      try {
        tokenize(text);
        expect.unreachable(text);
      } catch (e) {
        expect(isKilnError(e, 'PARSE_ERROR'), String(e)).toBe(true);
        if (isKilnError(e)) expect([e.span?.line, e.span?.column]).toEqual([line, column]);
      }
    }
  });

  it('quotes any string so that it reads back exactly', () => {
    const anyString = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.array(fc.integer({ min: 0, max: 0xffff })).map((cs) => String.fromCharCode(...cs)),
    );
    fc.assert(
      fc.property(anyString, (s) => {
        const toks = tokenize(quoteString(s));
        expect(toks.length).toBe(2);
        expect(toks[0].str).toBe(s);
      }),
      { numRuns: 1000 },
    );
  });

  it('prints floats that read back to the same double', () => {
    fc.assert(
      fc.property(fc.double(), (v) => {
        const text = formatFloat(v);
        const neg = text.startsWith('-');
        const t = tokenize(neg ? text.slice(1) : text)[0];
        expect(t.kind).toBe('float');
        expect(Object.is(neg ? -t.num! : t.num!, v) || (Number.isNaN(v) && Number.isNaN(t.num!))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips attribute dictionaries', () => {
    const value: fc.Arbitrary<AttrValue> = fc.letrec<{ v: AttrValue }>((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        fc.string(),
        fc.double(),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('v'), { maxLength: 4 }),
        fc.dictionary(fc.string(), tie('v'), { maxKeys: 4 }),
      ),
    })).v;
    fc.assert(
      fc.property(fc.dictionary(fc.string(), value, { maxKeys: 5 }), (attrs) => {
        const text = new TextPrinter().attrs(attrs);
        const back = new TextParser(text).parseAttrs();
        expect(structuralEqual(back, attrs), text).toBe(true);
        expect(new TextPrinter().attrs(back)).toBe(text);
      }),
      { numRuns: 500 },
    );
  });
});
