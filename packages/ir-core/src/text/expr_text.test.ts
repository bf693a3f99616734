// PrimExpr text: printed forms (precedence, immediates, names), round trips of every
// kind, literal dtypes in hand-written text, and parse errors with their positions.
import { describe, expect, it } from 'vitest';
import { DType } from '../dtype.js';
import { isKilnError } from '../errors.js';
import type { PrimExpr } from '../expr.js';
import {
  add,
  and,
  boolImm,
  broadcast,
  buffer,
  bufferLoad,
  call,
  cast,
  div,
  eq,
  floatImm,
  floordiv,
  floormod,
  intImm,
  letExpr,
  lt,
  max,
  min,
  mul,
  not,
  or,
  primVar,
  ramp,
  select,
  stringImm,
  sub,
  truncmod,
} from '../expr.js';
import { structuralEqual } from '../structural.js';
import { parseExpr, TextParser } from './parser.js';
import { printExpr } from './printer.js';

function roundTrip(e: Parameters<typeof printExpr>[0], scope: Parameters<typeof parseExpr>[1]) {
  const text = printExpr(e);
  const back = parseExpr(text, scope);
  expect(structuralEqual(back, e, { mapFreeVars: true }), `${text}`).toBe(true);
  expect(printExpr(back)).toBe(text);
  return text;
}

describe('PrimExpr text', () => {
  const x = primVar('x');
  const y = primVar('y');
  const i = primVar('i', 'int32');
  const f = primVar('f', 'float32');
  const A = buffer('A', 'float32', [16, 16]);

  it('prints infix with minimal parentheses', () => {
    expect(printExpr(add(mul(x, 2), y))).toBe('x * 2 + y');
    expect(printExpr(mul(add(x, 2), y))).toBe('(x + 2) * y');
    expect(printExpr(sub(x, sub(y, 1)))).toBe('x - (y - 1)');
    expect(printExpr(sub(sub(x, y), 1))).toBe('x - y - 1');
    expect(printExpr(or(and(lt(x, y), eq(x, 1)), not(lt(y, x))))).toBe('x < y && x == 1 || !(y < x)');
    expect(printExpr(div(x, truncmod(y, 3)))).toBe('x / (y % 3)');
    expect(printExpr(floordiv(x, 4))).toBe('floordiv(x, 4)');
  });

  it('prints immediates with dtype suffixes only where not the default', () => {
    expect(printExpr(intImm(3))).toBe('3');
    expect(printExpr(intImm(3, 'int32'))).toBe('3i32');
    expect(printExpr(intImm(-3, 'uint8'))).toBe('-3u8');
    expect(printExpr(floatImm(1.5))).toBe('1.5');
    expect(printExpr(floatImm(2))).toBe('2.0');
    expect(printExpr(floatImm(1.5, 'float64'))).toBe('1.5f64');
    expect(printExpr(floatImm(1e-7, 'float16'))).toBe('1e-7f16');
    expect(printExpr(floatImm(-Infinity, 'float64'))).toBe('-inff64');
    expect(printExpr(floatImm(NaN))).toBe('nan');
    expect(printExpr(boolImm(true))).toBe('True');
    expect(printExpr(stringImm('a"b\n'))).toBe('"a\\"b\\n"');
  });

  it('round-trips every kind', () => {
    const scope = { x, y, i, f, A };
    const cases = [
      add(x, y),
      sub(x, -3),
      mul(intImm(-3), x),
      div(x, y),
      truncmod(x, y),
      floordiv(x, y),
      floormod(x, y),
      min(x, y),
      max(i, 7),
      select(lt(x, y), f, floatImm(0.1)),
      cast('float16', add(f, 1)),
      call('float32', 'exp', [f]),
      call('int32', 'tir.reinterpret', [f]),
      call('void', 'tir.barrier', []),
      letExpr(primVar('t'), add(x, 1), mul(x, x)),
      letExpr(primVar('x'), add(x, 1), mul(x, x)),
      ramp(x, 1, 4),
      broadcast(f, 8),
      bufferLoad(A, [x, add(y, 1)]),
      bufferLoad(A, [x, ramp(y, 1, 4)]),
      floatImm(0.1 + 0.2),
      floatImm(-0),
      floatImm(5e-324, 'float64'),
      floatImm(1.7976931348623157e308, 'float64'),
      intImm(2 ** 60),
      not(eq(i, 3)),
      stringImm('tab\there'),
      letExpr(primVar('w', 'int32'), 4, x),
    ];
    for (const c of cases) roundTrip(c, scope);
  });

  it('renames distinct variables that share a name', () => {
    const x2 = primVar('x');
    expect(printExpr(add(x, x2))).toBe('x + x_1');
    const back = parseExpr('x + x_1', undefined, { autoDeclare: true });
    expect(structuralEqual(back, add(x, x2), { mapFreeVars: true })).toBe(true);
    expect(structuralEqual(back, add(x, x), { mapFreeVars: true })).toBe(false);
  });

  it('prints and parses long operator chains without deep recursion', () => {
    let e: PrimExpr = x;
    for (let k = 0; k < 20000; k++) e = k % 2 ? add(e, mul(y, k)) : sub(e, k);
    const text = printExpr(e);
    expect(text.startsWith('x - 0 + y * 1 - 2 + y * 3')).toBe(true);
    expect(printExpr(parseExpr(text, { x, y }))).toBe(text);
  });

  it('gives unsuffixed literals the dtype of the other operand', () => {
    const h = primVar('h', 'float16');
    expect(structuralEqual(parseExpr('i + 1', { i }), add(i, intImm(1, 'int32')))).toBe(true);
    expect(
      structuralEqual(
        parseExpr('select(i < -2, 0, i)', { i }),
        select(lt(i, intImm(-2, 'int32')), intImm(0, 'int32'), i),
      ),
    ).toBe(true);
    expect(
      structuralEqual(
        parseExpr('h * 2 + 0.5', { h }),
        add(mul(h, floatImm(2, 'float16')), floatImm(0.5, 'float16')),
      ),
    ).toBe(true);
    expect(
      structuralEqual(
        parseExpr('let t: int32 = 4 in t', {}),
        letExpr(primVar('t', 'int32'), intImm(4, 'int32'), primVar('t')),
        { mapFreeVars: true },
      ),
    ).toBe(false);
    // A suffixed literal keeps its dtype, so a mismatch is still an error.
    expect(() => parseExpr('i + 1i64', { i })).toThrow(/different dtypes/);
    expect(() => parseExpr('i + 1.5', { i })).toThrow(/different dtypes/);
  });

  it('lets a parser read ahead and come back', () => {
    const p = new TextParser('a + b, c');
    const m = p.mark();
    expect(p.next().text).toBe('a');
    p.next();
    expect(p.peek().text).toBe('b');
    p.reset(m);
    expect(p.peek().text).toBe('a');
  });

  it('auto-declares int64 variables', () => {
    const e = parseExpr('n * 4 + floordiv(m, 2)', undefined, { autoDeclare: true });
    expect(e.dtype).toBe(DType.int64);
  });

  it('suggests a close name for an unknown one', () => {
    expect(() => parseExpr('x + yy', { x, y })).toThrow("unknown variable 'yy' (did you mean 'y'?)");
    expect(() => parseExpr('B[0]', { A })).toThrow("unknown buffer 'B' (did you mean 'A'?)");
    expect(() => parseExpr('zzz', { x, y })).toThrow("unknown variable 'zzz'");
  });

  it('shows the offending line with a caret', () => {
    try {
      parseExpr('x +\n  (y * )', { x, y }, { source: 'e.txt' });
      expect.unreachable();
    } catch (err) {
      expect(isKilnError(err) && err.format()).toBe(
        "e.txt:2:8: error[PARSE_ERROR]: expected an expression but found ')'\n  note:   (y * )\n  note:        ^",
      );
    }
  });

  it('reports parse errors with line and column', () => {
    const cases: Array<[string, number, number]> = [
      ['x + ', 1, 5],
      ['x +\n  (y * )', 2, 8],
      ['x + 1i32', 1, 3],
      ['unknown_var', 1, 1],
      ['min(x)', 1, 1],
      ['x < y < 1', 1, 7],
      ['"abc', 1, 1],
      ['x $ y', 1, 3],
      ['broadcast(x, -8)', 1, 14],
      ['ramp(x, 1, 0)', 1, 12],
    ];
    for (const [text, line, column] of cases) {
      try {
        parseExpr(text, { x, y });
        expect.unreachable(text);
      } catch (err) {
        expect(isKilnError(err, 'PARSE_ERROR'), String(err)).toBe(true);
        if (isKilnError(err)) expect([text, err.span?.line, err.span?.column]).toEqual([text, line, column]);
      }
    }
  });
});
