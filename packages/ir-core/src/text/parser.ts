// TextParser: the input side of the text format. A token cursor (peek/accept/expect with
// "expected X but found Y" errors carrying line and column), lexical scopes that resolve
// names to var-like nodes, and parsers for dtypes, attribute dictionaries and PrimExprs
// that every IR's function parser builds on.
import type { DataType } from '../dtype.js';
import {
  DType,
  isFloat,
  isIntegral,
  isLowPrecisionFloat,
  dtype as parseDTypeString,
  withLanes,
} from '../dtype.js';
import type { Span } from '../errors.js';
import { ErrorCodes, isKilnError, KilnError } from '../errors.js';
import type { Buffer, PrimExpr, Var } from '../expr.js';
import type { Attrs, AttrValue } from '../module.js';
import type { Node } from '../node.js';
import { freezeNode } from '../node.js';
import type { Token } from './lexer.js';
import { describeToken, pointAt, tokenize } from './lexer.js';

/** Names visible to a parse: a map, a record, or a list of named nodes (`Var`, `Buffer`, ...). */
export type ScopeInit =
  | ReadonlyMap<string, Node>
  | Readonly<Record<string, Node>>
  | readonly (Node & { readonly name: string })[];

export interface TextParserOptions {
  /** Shown in error spans (a file name, `<ir>`). */
  source?: string;
  /** Names visible to the whole text (free variables of a standalone expression). */
  scope?: ScopeInit;
  /** Unknown identifiers in expressions become fresh int64 Vars instead of an error. */
  autoDeclare?: boolean;
}

interface Frame {
  readonly names: Map<string, Node>;
  /** Auto-declared variables land in the innermost frame that catches them. */
  readonly catchesAuto: boolean;
}

const BINARY_OPS: Record<string, { kind: PrimExpr['kind']; prec: number }> = {
  '||': { kind: 'Or', prec: 1 },
  '&&': { kind: 'And', prec: 2 },
  '==': { kind: 'EQ', prec: 3 },
  '!=': { kind: 'NE', prec: 3 },
  '<': { kind: 'LT', prec: 3 },
  '<=': { kind: 'LE', prec: 3 },
  '>': { kind: 'GT', prec: 3 },
  '>=': { kind: 'GE', prec: 3 },
  '+': { kind: 'Add', prec: 4 },
  '-': { kind: 'Sub', prec: 4 },
  '*': { kind: 'Mul', prec: 5 },
  '/': { kind: 'Div', prec: 5 },
  '%': { kind: 'Mod', prec: 5 },
};
const BINARY_FUNCTIONS: Record<string, PrimExpr['kind']> = {
  floordiv: 'FloorDiv',
  floormod: 'FloorMod',
  truncdiv: 'Div',
  truncmod: 'Mod',
  min: 'Min',
  max: 'Max',
};
const SUFFIX_CODES: Record<string, string> = { i: 'int', u: 'uint', f: 'float', bf: 'bfloat' };

function isVarNode(n: Node | undefined): n is Var {
  return n !== undefined && n.kind === 'Var';
}

export class TextParser {
  readonly source?: string;
  /** Unknown identifiers in expressions become fresh int64 Vars (settable per region). */
  autoDeclare: boolean;
  /** Global names defined in the module being parsed (filled by parseModule before any function). */
  globals: ReadonlySet<string> = new Set();
  /** The global whose function is being parsed, if any. */
  currentGlobal?: string;
  private readonly tokens: Token[];
  private pos = 0;
  private readonly frames: Frame[];
  /** Literals written without a dtype suffix (see `coerce`). */
  private readonly bare = new WeakSet<PrimExpr>();

  constructor(
    private readonly text: string,
    options: TextParserOptions = {},
  ) {
    this.source = options.source;
    this.autoDeclare = options.autoDeclare ?? false;
    this.tokens = tokenize(text, options.source);
    this.frames = [{ names: new Map(), catchesAuto: true }];
    const init = options.scope;
    if (init !== undefined) {
      const root = this.frames[0].names;
      if (init instanceof Map) for (const [k, v] of init) root.set(k, v);
      else if (Array.isArray(init))
        for (const n of init as readonly (Node & { name: string })[]) root.set(n.name, n);
      else for (const [k, v] of Object.entries(init as Record<string, Node>)) root.set(k, v);
    }
  }

  // ------------------------------------------------------------ cursor

  peek(ahead = 0): Token {
    return this.tokens[Math.min(this.pos + ahead, this.tokens.length - 1)];
  }
  next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.pos++;
    return t;
  }
  /** The cursor position, for `reset` (speculative parses, reading ahead). */
  mark(): number {
    return this.pos;
  }
  /** Move the cursor back (or forward) to a position from `mark`. */
  reset(mark: number): void {
    this.pos = Math.max(0, Math.min(mark, this.tokens.length - 1));
  }
  atEnd(): boolean {
    return this.peek().kind === 'eof';
  }
  /** Is the next token (or the one `ahead` further) the punctuation or word `s`? */
  check(s: string, ahead = 0): boolean {
    const t = this.peek(ahead);
    return (t.kind === 'punct' || t.kind === 'ident') && t.text === s;
  }
  /** Consume the punctuation or word `s` if it is next. */
  accept(s: string): Token | undefined {
    return this.check(s) ? this.next() : undefined;
  }
  /** Consume the punctuation or word `s`, or fail naming what was found instead. */
  expect(s: string): Token {
    if (!this.check(s)) this.failExpected(`'${s}'`);
    return this.next();
  }
  expectIdent(what = 'an identifier'): string {
    const t = this.peek();
    if (t.kind !== 'ident') this.failExpected(what);
    return this.next().text;
  }
  expectString(what = 'a string'): string {
    const t = this.peek();
    if (t.kind !== 'string') this.failExpected(what);
    return this.next().str!;
  }
  /** An integer literal without suffix, optionally negative. */
  expectInt(what = 'an integer'): number {
    const neg = this.check('-') && this.peek(1).kind === 'int';
    if (neg) this.next();
    const t = this.peek();
    if (t.kind !== 'int' || t.suffix !== undefined) this.failExpected(what);
    this.next();
    return neg ? -t.num! || 0 : t.num!;
  }
  /** A vector lane count: a positive integer literal. */
  expectLanes(): number {
    const t = this.peek();
    const lanes = this.expectInt('a lane count');
    if (lanes < 1) this.fail(`a lane count must be positive, got ${lanes}`, t);
    return lanes;
  }
  /** The span of a token (the next one by default). */
  spanOf(t: Token = this.peek()): Span {
    return { source: this.source, line: t.line, column: t.column };
  }
  /** A PARSE_ERROR at `t` (the next token by default). */
  error(message: string, t: Token = this.peek()): KilnError {
    return new KilnError(ErrorCodes.PARSE_ERROR, message, {
      span: this.spanOf(t),
      notes: pointAt(this.text, t.line, t.column),
    });
  }
  fail(message: string, t: Token = this.peek()): never {
    throw this.error(message, t);
  }
  failExpected(what: string, t: Token = this.peek()): never {
    throw this.error(`expected ${what} but found ${describeToken(t)}`, t);
  }
  /**
   * Run a whole parse: input nested so deeply that the stack overflows (thousands of
   * parentheses) becomes a PARSE_ERROR at the token reached, not a RangeError.
   */
  guarded<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof RangeError && /call stack/i.test(e.message))
        throw this.error('input is nested too deeply to parse');
      throw e;
    }
  }

  /** Fail unless the whole input was consumed. */
  expectEnd(): void {
    if (!this.atEnd()) this.failExpected('end of input');
  }
  /**
   * `open item, item, ... close` (a trailing comma is allowed); returns the items.
   * With `open` omitted the opening token must already be consumed.
   */
  list<T>(open: string | undefined, close: string, item: () => T): T[] {
    if (open !== undefined) this.expect(open);
    const out: T[] = [];
    while (!this.check(close)) {
      out.push(item());
      if (!this.accept(',')) break;
    }
    this.expect(close);
    return out;
  }

  // ------------------------------------------------------------ scopes

  /** Run `fn` in a nested scope; names defined inside disappear afterwards. */
  withScope<T>(fn: () => T, options: { catchesAutoDeclared?: boolean } = {}): T {
    this.frames.push({ names: new Map(), catchesAuto: options.catchesAutoDeclared ?? false });
    try {
      return fn();
    } finally {
      this.frames.pop();
    }
  }
  /** Bind `name` in the innermost scope. */
  define(name: string, node: Node): void {
    this.frames[this.frames.length - 1].names.set(name, node);
  }
  lookup(name: string): Node | undefined {
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const hit = this.frames[i].names.get(name);
      if (hit !== undefined) return hit;
    }
    return undefined;
  }
  /** Is `name` bound in the innermost scope? */
  definedHere(name: string): boolean {
    return this.frames[this.frames.length - 1].names.has(name);
  }

  /** Resolve `name` (at token `t`) to a Var, auto-declaring it when allowed. */
  resolveVar(name: string, t: Token): Var {
    const hit = this.lookup(name);
    if (isVarNode(hit)) return hit;
    if (hit !== undefined) this.fail(`'${name}' is a ${hit.kind}, not a scalar variable`, t);
    if (!this.autoDeclare) this.fail(`unknown variable '${name}'${this.suggest(name, 'Var')}`, t);
    const v = freezeNode<Var>({ kind: 'Var', name, dtype: DType.int64, span: this.spanOf(t) });
    for (let i = this.frames.length - 1; i >= 0; i--) {
      if (this.frames[i].catchesAuto || i === 0) {
        this.frames[i].names.set(name, v);
        break;
      }
    }
    return v;
  }
  resolveBuffer(name: string, t: Token): Buffer {
    const hit = this.lookup(name);
    if (hit === undefined) this.fail(`unknown buffer '${name}'${this.suggest(name, 'Buffer')}`, t);
    if (hit!.kind !== 'Buffer') this.fail(`'${name}' is a ${hit!.kind}, not a buffer`, t);
    return hit as Buffer;
  }

  /** ` (did you mean 'x'?)` for the closest visible name of that kind, or ''. */
  private suggest(name: string, kind: string): string {
    let best: string | undefined;
    let bestD = Math.max(1, Math.floor(name.length / 3)) + 1;
    for (const f of this.frames) {
      for (const [k, n] of f.names) {
        if (n.kind !== kind) continue;
        const d = editDistance(name, k);
        if (d < bestD) {
          best = k;
          bestD = d;
        }
      }
    }
    return best === undefined ? '' : ` (did you mean '${best}'?)`;
  }

  // ------------------------------------------------------------ leaves

  /** A dtype written as a word (`float32`, `int32x4`) or a string. */
  parseDType(): DataType {
    const t = this.peek();
    if (t.kind !== 'ident' && t.kind !== 'string') this.failExpected('a dtype');
    this.next();
    try {
      return parseDTypeString(t.kind === 'string' ? t.str! : t.text);
    } catch (e) {
      if (isKilnError(e)) this.fail(`expected a dtype but found ${describeToken(t)}`, t);
      throw e;
    }
  }

  /** `{key: value, ...}`; keys are identifiers or strings. */
  parseAttrs(): Attrs {
    // Built from entries so that a key like `__proto__` stays an ordinary property.
    const entries = this.list('{', '}', (): [string, AttrValue] => {
      const t = this.peek();
      let key: string;
      if (t.kind === 'string') key = this.next().str!;
      else key = this.expectIdent('an attribute key');
      this.expect(':');
      return [key, this.parseAttrValue()];
    });
    return Object.freeze(Object.fromEntries(entries));
  }

  parseAttrValue(): AttrValue {
    const t = this.peek();
    if (t.kind === 'string') return this.next().str!;
    if (this.check('[')) return Object.freeze(this.list('[', ']', () => this.parseAttrValue()));
    if (this.check('{')) return this.parseAttrs();
    if (this.accept('true')) return true;
    if (this.accept('false')) return false;
    if (this.accept('null')) return null;
    const neg = this.check('-') && (this.peek(1).kind === 'int' || this.peek(1).kind === 'float');
    if (neg) this.next();
    const n = this.peek();
    if ((n.kind === 'int' || n.kind === 'float') && n.suffix === undefined) {
      this.next();
      return neg ? -n.num! : n.num!;
    }
    return this.failExpected('an attribute value');
  }

  // ------------------------------------------------------------ PrimExpr

  /** A PrimExpr (the whole grammar, `let` included). */
  parseExpr(): PrimExpr {
    if (this.check('let') && this.peek(1).kind === 'ident') return this.parseLet();
    return this.parseBinary(1);
  }

  private parseLet(): PrimExpr {
    const start = this.expect('let');
    const nameTok = this.peek();
    const name = this.expectIdent('a variable name');
    const ann = this.accept(':') ? this.parseDType() : undefined;
    this.expect('=');
    const value0 = this.parseBinary(1);
    const value = ann === undefined ? value0 : this.coerce(value0, ann);
    this.expect('in');
    const v = freezeNode<Var>({ kind: 'Var', name, dtype: ann ?? value.dtype, span: this.spanOf(nameTok) });
    const body = this.withScope(() => {
      this.define(name, v);
      return this.parseExpr();
    });
    return freezeNode({ kind: 'Let', var: v, value, body, dtype: body.dtype, span: this.spanOf(start) });
  }

  private parseBinary(minPrec: number): PrimExpr {
    let left = this.parseUnary();
    for (;;) {
      const t = this.peek();
      const op = t.kind === 'punct' ? BINARY_OPS[t.text] : undefined;
      if (op === undefined || op.prec < minPrec) return left;
      this.next();
      const right = op.prec === 3 ? this.parseBinary(4) : this.parseBinary(op.prec + 1);
      left = this.binary(op.kind, left, right, t);
      // Comparisons do not chain: `a < b < c` is an error, not `(a < b) < c`.
      if (op.prec === 3) {
        const n = this.peek();
        if (n.kind === 'punct' && BINARY_OPS[n.text]?.prec === 3)
          this.fail(`comparisons do not chain; add parentheses around the left side`, n);
      }
    }
  }

  private parseUnary(): PrimExpr {
    const t = this.peek();
    if (this.accept('!')) {
      const a = this.parseUnary();
      if (a.dtype.code !== 'bool') this.fail(`'!' needs a bool operand, got ${a.dtype.str}`, t);
      return freezeNode({ kind: 'Not', a, dtype: a.dtype, span: this.spanOf(t) });
    }
    if (this.accept('-')) {
      const n = this.peek();
      if (n.kind === 'int' || n.kind === 'float') {
        this.next();
        return this.literal(n, true);
      }
      const a = this.parseUnary();
      const zero = isFloat(a.dtype)
        ? freezeNode<PrimExpr>({ kind: 'FloatImm', dtype: a.dtype, value: 0 })
        : freezeNode<PrimExpr>({ kind: 'IntImm', dtype: a.dtype, value: 0 });
      return this.binary('Sub', zero, a, t);
    }
    return this.parsePrimary();
  }

  private literal(t: Token, negate: boolean): PrimExpr {
    let dt: DataType = t.kind === 'float' ? DType.float32 : DType.int64;
    if (t.suffix !== undefined) {
      const m = /^(bf|i|u|f)(\d+)(?:x(\d+))?$/.exec(t.suffix)!;
      try {
        dt = parseDTypeString(`${SUFFIX_CODES[m[1]]}${m[2]}${m[3] !== undefined ? `x${m[3]}` : ''}`);
      } catch {
        this.fail(`invalid dtype suffix '${t.suffix}'`, t);
      }
    }
    const value = negate ? -t.num! : t.num!;
    const e = this.immediate(dt, value, t.kind === 'float', t);
    if (t.suffix === undefined) this.bare.add(e);
    return e;
  }

  /**
   * A literal written without a dtype suffix (`1`, `-2`, `0.5`) takes the scalar dtype
   * its context needs (`tx + 1` with an int32 `tx`, `A[i] = 0` for a float buffer), so
   * hand-written text need not spell `1i32`. Any other expression is returned as is.
   * Printed text always carries suffixes, so round trips never depend on this.
   */
  coerce(e: PrimExpr, dt: DataType): PrimExpr {
    if (e.dtype === dt || dt.lanes !== 1 || !this.bare.has(e)) return e;
    const value = (e as { value: number }).value;
    let out: PrimExpr;
    if (isFloat(dt)) out = freezeNode<PrimExpr>({ kind: 'FloatImm', dtype: dt, value, span: e.span });
    else if ((dt.code === 'int' || dt.code === 'uint') && e.kind === 'IntImm') {
      out = freezeNode<PrimExpr>({ kind: 'IntImm', dtype: dt, value, span: e.span });
    } else return e;
    this.bare.add(out);
    return out;
  }

  private immediate(dt: DataType, value: number, written: boolean, t: Token): PrimExpr {
    const span = this.spanOf(t);
    if (isFloat(dt) || isLowPrecisionFloat(dt))
      return freezeNode<PrimExpr>({ kind: 'FloatImm', dtype: dt, value, span });
    if (!isIntegral(dt)) this.fail(`no immediate of dtype ${dt.str}`, t);
    if (written || !Number.isInteger(value))
      this.fail(`an integer literal of dtype ${dt.str} cannot be ${t.text}`, t);
    // `-0` is 0 for integers.
    return freezeNode<PrimExpr>({ kind: 'IntImm', dtype: dt, value: value || 0, span });
  }

  /** Build a binary node, checking dtypes as the factories would (without inserting casts). */
  private binary(kind: PrimExpr['kind'], a0: PrimExpr, b0: PrimExpr, t: Token): PrimExpr {
    const a = this.coerce(a0, b0.dtype);
    const b = this.coerce(b0, a.dtype);
    if (a.dtype !== b.dtype)
      this.fail(`operands of '${t.text}' have different dtypes: ${a.dtype.str} and ${b.dtype.str}`, t);
    let dt = a.dtype;
    if (kind === 'EQ' || kind === 'NE' || kind === 'LT' || kind === 'LE' || kind === 'GT' || kind === 'GE')
      dt = withLanes(DType.bool, a.dtype.lanes);
    else if ((kind === 'And' || kind === 'Or') && a.dtype.code !== 'bool')
      this.fail(`'${t.text}' needs bool operands, got ${a.dtype.str}`, t);
    return freezeNode({ kind, a, b, dtype: dt, span: this.spanOf(t) } as PrimExpr);
  }

  private args(): PrimExpr[] {
    return this.list('(', ')', () => this.parseExpr());
  }
  private arity(name: string, args: readonly unknown[], n: number, t: Token): void {
    if (args.length !== n)
      this.fail(`'${name}' takes ${n} argument${n === 1 ? '' : 's'}, got ${args.length}`, t);
  }

  private parsePrimary(): PrimExpr {
    const t = this.peek();
    if (this.accept('(')) {
      const e = this.parseExpr();
      this.expect(')');
      return e;
    }
    if (t.kind === 'int' || t.kind === 'float') {
      this.next();
      return this.literal(t, false);
    }
    if (t.kind === 'string') {
      this.next();
      return freezeNode<PrimExpr>({
        kind: 'StringImm',
        dtype: DType.handle,
        value: t.str!,
        span: this.spanOf(t),
      });
    }
    if (t.kind !== 'ident') this.failExpected('an expression');
    this.next();
    const span = this.spanOf(t);
    const name = t.text;
    if (name === 'True' || name === 'False') {
      return freezeNode<PrimExpr>({
        kind: 'IntImm',
        dtype: DType.bool,
        value: name === 'True' ? 1 : 0,
        span,
      });
    }
    if (this.check('[')) {
      const buf = this.resolveBuffer(name, t);
      const indices = this.list('[', ']', () => this.parseExpr());
      const lanes = indices.reduce((l, i) => Math.max(l, i.dtype.lanes), 1);
      return freezeNode<PrimExpr>({
        kind: 'BufferLoad',
        buffer: buf,
        indices: Object.freeze(indices),
        dtype: withLanes(buf.dtype, buf.dtype.lanes * lanes),
        span,
      });
    }
    if (!this.check('(')) return this.resolveVar(name, t);
    const bin = BINARY_FUNCTIONS[name];
    if (bin !== undefined) {
      const a = this.args();
      this.arity(name, a, 2, t);
      return this.binary(bin, a[0], a[1], t);
    }
    switch (name) {
      case 'select': {
        const a = this.args();
        this.arity(name, a, 3, t);
        a[1] = this.coerce(a[1], a[2].dtype);
        a[2] = this.coerce(a[2], a[1].dtype);
        if (a[0].dtype.code !== 'bool') this.fail(`select condition must be bool, got ${a[0].dtype.str}`, t);
        if (a[1].dtype !== a[2].dtype)
          this.fail(`select branches have different dtypes: ${a[1].dtype.str} and ${a[2].dtype.str}`, t);
        return freezeNode<PrimExpr>({
          kind: 'Select',
          cond: a[0],
          t: a[1],
          f: a[2],
          dtype: a[1].dtype,
          span,
        });
      }
      case 'cast': {
        this.expect('(');
        const dt = this.parseDType();
        this.expect(',');
        const value = this.parseExpr();
        this.expect(')');
        return freezeNode<PrimExpr>({ kind: 'Cast', value, dtype: dt, span });
      }
      case 'call': {
        this.expect('(');
        const dt = this.parseDType();
        this.expect(',');
        const op = this.expectString('an intrinsic name (a string)');
        let rest: PrimExpr[] = [];
        if (this.accept(',')) rest = this.list(undefined, ')', () => this.parseExpr());
        else this.expect(')');
        return freezeNode<PrimExpr>({ kind: 'Call', op, args: Object.freeze(rest), dtype: dt, span });
      }
      case 'ramp': {
        this.expect('(');
        const base = this.parseExpr();
        this.expect(',');
        const stride = this.coerce(this.parseExpr(), base.dtype);
        this.expect(',');
        const lanes = this.expectLanes();
        this.expect(')');
        if (base.dtype !== stride.dtype || base.dtype.lanes !== 1)
          this.fail(
            `ramp base and stride must be scalars of one dtype, got ${base.dtype.str} and ${stride.dtype.str}`,
            t,
          );
        return freezeNode<PrimExpr>({
          kind: 'Ramp',
          base,
          stride,
          lanes,
          dtype: withLanes(base.dtype, lanes),
          span,
        });
      }
      case 'broadcast': {
        this.expect('(');
        const value = this.parseExpr();
        this.expect(',');
        const lanes = this.expectLanes();
        this.expect(')');
        if (value.dtype.lanes !== 1) this.fail(`broadcast value must be scalar, got ${value.dtype.str}`, t);
        return freezeNode<PrimExpr>({
          kind: 'Broadcast',
          value,
          lanes,
          dtype: withLanes(value.dtype, lanes),
          span,
        });
      }
      case 'imm': {
        this.expect('(');
        const dt = this.parseDType();
        this.expect(',');
        const neg = !!this.accept('-');
        const n = this.peek();
        if ((n.kind !== 'int' && n.kind !== 'float') || n.suffix !== undefined)
          this.failExpected('a number', n);
        this.next();
        this.expect(')');
        return this.immediate(dt, neg ? -n.num! : n.num!, isIntegral(dt) && n.kind === 'float', n);
      }
      default: {
        // Short intrinsic form `exp(x)`: the result has the first argument's dtype.
        const a = this.args();
        if (a.length === 0)
          this.fail(`intrinsic '${name}' without arguments needs the form call(dtype, "${name}")`, t);
        return freezeNode<PrimExpr>({
          kind: 'Call',
          op: name,
          args: Object.freeze(a),
          dtype: a[0].dtype,
          span,
        });
      }
    }
  }
}

export interface ParseExprOptions {
  source?: string;
  /** Unknown identifiers become fresh int64 Vars (one per name). */
  autoDeclare?: boolean;
}

/**
 * Parse a standalone PrimExpr. Free variables and buffers are looked up in `scope`
 * (e.g. `{ n, A }`); with `autoDeclare` unknown names become int64 Vars.
 */
export function parseExpr(text: string, scope?: ScopeInit, options: ParseExprOptions = {}): PrimExpr {
  const p = new TextParser(text, { scope, source: options.source, autoDeclare: options.autoDeclare });
  return p.guarded(() => {
    const e = p.parseExpr();
    p.expectEnd();
    return e;
  });
}

/** Levenshtein distance (names are short). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}
