// TextPrinter: the output side of the text format. It holds the indented output, the
// name allocator (one printed name per var-like object), and prints PrimExprs, dtypes,
// strings and attribute dictionaries in the forms that TextParser reads back.
import type { DataType } from '../dtype.js';
import { DType } from '../dtype.js';
import { assertNever, ErrorCodes, KilnError } from '../errors.js';
import type { Binary, Buffer, PrimExpr, Var } from '../expr.js';
import type { Attrs, AttrValue } from '../module.js';
import { isDottedIdent, quoteString } from './lexer.js';
import { NameAllocator, RESERVED_NAMES } from './names.js';

export interface TextPrinterOptions {
  /** Extra words no allocated name may take (an IR's keywords). */
  reserved?: Iterable<string>;
  /** Indentation unit; two spaces by default. */
  indentUnit?: string;
}

// Binding strength of printed expression forms; a child weaker than its slot needs is
// parenthesized. Comparisons do not chain, so both their operands sit one level up.
export const Prec = { let: 0, or: 1, and: 2, cmp: 3, add: 4, mul: 5, unary: 6, atom: 7 } as const;

const INFIX: Partial<Record<PrimExpr['kind'], [string, number]>> = {
  Or: ['||', Prec.or],
  And: ['&&', Prec.and],
  EQ: ['==', Prec.cmp],
  NE: ['!=', Prec.cmp],
  LT: ['<', Prec.cmp],
  LE: ['<=', Prec.cmp],
  GT: ['>', Prec.cmp],
  GE: ['>=', Prec.cmp],
  Add: ['+', Prec.add],
  Sub: ['-', Prec.add],
  Mul: ['*', Prec.mul],
  Div: ['/', Prec.mul],
  Mod: ['%', Prec.mul],
};
const FUNCTION_FORM: Partial<Record<PrimExpr['kind'], string>> = {
  FloorDiv: 'floordiv',
  FloorMod: 'floormod',
  Min: 'min',
  Max: 'max',
};

/** The suffix of an immediate of dtype `t` (`i32`, `f64`, `u8x4`); `''` for int64/float32. */
export function immSuffix(t: DataType): string | undefined {
  if (t === DType.int64 || t === DType.float32) return '';
  const lanes = t.lanes === 1 ? '' : `x${t.lanes}`;
  switch (t.code) {
    case 'int':
      return `i${t.bits}${lanes}`;
    case 'uint':
      return `u${t.bits}${lanes}`;
    case 'float':
      return `f${t.bits}${lanes}`;
    case 'bfloat':
      return `bf${t.bits}${lanes}`;
    default:
      return undefined;
  }
}

/** An integer as text (exact for any integral double). */
export function formatInt(v: number): string {
  return Number.isSafeInteger(v) ? String(v) : BigInt(v).toString();
}

/** A float as text that the lexer reads back to exactly the same double. */
export function formatFloat(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  if (Object.is(v, -0)) return '-0.0';
  const s = String(v);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

export class TextPrinter {
  readonly names: NameAllocator;
  private readonly lines: string[] = [];
  private cur = '';
  private depth = 0;
  private readonly unit: string;

  constructor(options: TextPrinterOptions = {}) {
    this.names = new NameAllocator(options.reserved ?? []);
    this.unit = options.indentUnit ?? '  ';
  }

  // ------------------------------------------------------------ output

  /** Append to the current line (indenting it if it is fresh). */
  write(s: string): this {
    if (this.cur === '' && s !== '') this.cur = this.unit.repeat(this.depth);
    this.cur += s;
    return this;
  }
  /** End the current line. */
  newline(): this {
    this.lines.push(this.cur);
    this.cur = '';
    return this;
  }
  /** Write `s` as (the rest of) a line. */
  line(s = ''): this {
    return this.write(s).newline();
  }
  /** Run `fn` one indentation level deeper. */
  indented(fn: () => void): this {
    this.depth++;
    try {
      fn();
    } finally {
      this.depth--;
    }
    return this;
  }
  /** The text printed so far (a pending partial line included). */
  toString(): string {
    const all = this.cur === '' ? this.lines : [...this.lines, this.cur];
    return all.join('\n');
  }

  // ------------------------------------------------------------ names

  /** The printed name of a var-like node (`Var`, `Buffer`, a Relax var...), allocated on first use. */
  name(node: object & { readonly name?: string }, hint?: string): string {
    return this.names.name(node, hint ?? node.name ?? 'v');
  }

  // ------------------------------------------------------------ leaves

  dtype(t: DataType): string {
    return t.str;
  }
  string(s: string): string {
    return quoteString(s);
  }
  /** A key of an attribute dictionary: bare when it is an identifier. */
  key(k: string): string {
    return isDottedIdent(k) && !RESERVED_NAMES.has(k) ? k : quoteString(k);
  }
  /** An attribute value (JSON-like: strings quoted, `true`/`false`/`null`, lists, dicts). */
  attrValue(v: AttrValue): string {
    if (v === null) return 'null';
    if (typeof v === 'string') return quoteString(v);
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (typeof v === 'number')
      return Number.isInteger(v) && !Object.is(v, -0) ? formatInt(v) : formatFloat(v);
    if (Array.isArray(v)) return `[${(v as readonly AttrValue[]).map((x) => this.attrValue(x)).join(', ')}]`;
    return this.attrs(v as Attrs);
  }
  /** A dictionary `{key: value, ...}`, keys in insertion order. */
  attrs(a: Attrs): string {
    const items = Object.entries(a)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${this.key(k)}: ${this.attrValue(v)}`);
    return `{${items.join(', ')}}`;
  }

  // ------------------------------------------------------------ PrimExpr

  /** A PrimExpr, inline. Variables and buffers are printed by their allocated names. */
  expr(e: PrimExpr, need: number = Prec.let): string {
    const [s, level] = this.exprLevel(e);
    return level < need ? `(${s})` : s;
  }

  /**
   * `e` in a place where the parser gives unsuffixed literals the dtype `dt` (an operand
   * next to one of `dt`, a store into a `dt` buffer, ...). A default-dtype literal whose
   * dtype is not `dt` spells its suffix out (`1i64`), so it reads back unchanged.
   */
  exprAs(e: PrimExpr, dt: DataType, need: number = Prec.let): string {
    if (e.dtype !== dt && (e.kind === 'IntImm' || e.kind === 'FloatImm')) {
      if (e.dtype === DType.int64 && e.kind === 'IntImm') return `${formatInt(e.value)}i64`;
      if (e.dtype === DType.float32 && e.kind === 'FloatImm') return `${formatFloat(e.value)}f32`;
    }
    return this.expr(e, need);
  }

  /** The immediate `value` of dtype `t` as a literal. */
  imm(t: DataType, value: number, isFloatImm: boolean): string {
    if (t === DType.bool) return value ? 'True' : 'False';
    const suffix = immSuffix(t);
    if (suffix === undefined) return `imm(${t.str}, ${isFloatImm ? formatFloat(value) : formatInt(value)})`;
    return (isFloatImm ? formatFloat(value) : formatInt(value)) + suffix;
  }

  private exprLevel(e: PrimExpr): [string, number] {
    switch (e.kind) {
      case 'IntImm':
      case 'FloatImm': {
        const s = this.imm(e.dtype, e.value, e.kind === 'FloatImm');
        return [s, s.startsWith('-') ? Prec.unary : Prec.atom];
      }
      case 'StringImm':
        return [quoteString(e.value), Prec.atom];
      case 'Var':
        return [this.name(e), Prec.atom];
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
      case 'Mod':
      case 'EQ':
      case 'NE':
      case 'LT':
      case 'LE':
      case 'GT':
      case 'GE':
      case 'And':
      case 'Or': {
        const [op, level] = INFIX[e.kind]!;
        if (level === Prec.cmp) {
          return [
            `${this.exprAs(e.a, e.b.dtype, level + 1)} ${op} ${this.exprAs(e.b, e.a.dtype, level + 1)}`,
            level,
          ];
        }
        // Walk the left spine of same-level operators iteratively: a sum of thousands of
        // terms must not exhaust the stack. Operands still print (and get names) left to right.
        const spine: Binary[] = [];
        let cur: PrimExpr = e;
        while (INFIX[cur.kind]?.[1] === level) {
          spine.push(cur as Binary);
          cur = (cur as Binary).a;
        }
        let text = this.exprAs(cur, spine[spine.length - 1].b.dtype, level);
        for (let i = spine.length - 1; i >= 0; i--) {
          const x = spine[i];
          text += ` ${INFIX[x.kind]![0]} ${this.exprAs(x.b, x.a.dtype, level + 1)}`;
        }
        return [text, level];
      }
      case 'FloorDiv':
      case 'FloorMod':
      case 'Min':
      case 'Max':
        return [
          `${FUNCTION_FORM[e.kind]}(${this.exprAs(e.a, e.b.dtype)}, ${this.exprAs(e.b, e.a.dtype)})`,
          Prec.atom,
        ];
      case 'Not':
        return [`!${this.expr(e.a, Prec.unary)}`, Prec.unary];
      case 'Select':
        return [
          `select(${this.expr(e.cond)}, ${this.exprAs(e.t, e.f.dtype)}, ${this.exprAs(e.f, e.t.dtype)})`,
          Prec.atom,
        ];
      case 'Cast':
        return [`cast(${e.dtype.str}, ${this.expr(e.value)})`, Prec.atom];
      case 'Call': {
        const args = e.args.map((a) => this.expr(a));
        // Short form `exp(x)` when the result dtype is the first argument's.
        if (
          e.args.length > 0 &&
          e.args[0].dtype === e.dtype &&
          isDottedIdent(e.op) &&
          !RESERVED_NAMES.has(e.op)
        ) {
          return [`${e.op}(${args.join(', ')})`, Prec.atom];
        }
        return [`call(${e.dtype.str}, ${quoteString(e.op)}${args.map((a) => `, ${a}`).join('')})`, Prec.atom];
      }
      case 'Let': {
        const value = this.exprAs(e.value, e.var.dtype, Prec.or);
        const name = this.name(e.var);
        const ann = e.var.dtype === e.value.dtype ? '' : `: ${e.var.dtype.str}`;
        return [`let ${name}${ann} = ${value} in ${this.expr(e.body, Prec.let)}`, Prec.let];
      }
      case 'Ramp':
        return [`ramp(${this.expr(e.base)}, ${this.exprAs(e.stride, e.base.dtype)}, ${e.lanes})`, Prec.atom];
      case 'Broadcast':
        return [`broadcast(${this.expr(e.value)}, ${e.lanes})`, Prec.atom];
      case 'BufferLoad':
        return [`${this.bufferName(e.buffer)}[${e.indices.map((i) => this.expr(i)).join(', ')}]`, Prec.atom];
      default:
        return assertNever(e, 'PrimExpr kind');
    }
  }

  /** The printed name of a buffer. */
  bufferName(b: Buffer): string {
    return this.name(b);
  }
  /** The printed name of a variable. */
  varName(v: Var): string {
    return this.name(v);
  }
}

/** Print a standalone PrimExpr (free variables by their names, deduplicated). */
export function printExpr(e: PrimExpr, printer: TextPrinter = new TextPrinter()): string {
  return printGuarded(() => printer.expr(e));
}

/** Run a whole print: IR nested too deeply for the stack becomes a KilnError, not a RangeError. */
export function printGuarded<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof RangeError && /call stack/i.test(e.message))
      throw new KilnError(ErrorCodes.UNSUPPORTED, 'IR is nested too deeply to print', { cause: e });
    throw e;
  }
}
