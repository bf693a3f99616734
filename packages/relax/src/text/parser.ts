// Relax text parser: reads what printer.ts writes (syntax.md) back into Relax IR on top
// of ir-core's TextParser (tokens, scopes, PrimExprs, attribute values, PARSE_ERROR with
// line/column). StructInfo comes from the text (binding annotations, `as` annotations)
// or from the node factories; only hand-written bindings of built-in operator calls
// without an annotation have theirs inferred.
import type { DataType, Node, PrimExpr, Var as PrimVar, TextParser, Token } from '@kiln/ir-core';
import {
  ErrorCodes,
  freezeNode,
  isKilnError,
  isLowPrecisionFloat,
  TextParser as Parser,
  primVar,
} from '@kiln/ir-core';
import {
  bindingBlock,
  call,
  constant,
  dataflowBlock,
  dataflowVar,
  externFunc,
  globalVar,
  ifExpr,
  matchCast,
  opRef,
  primValue,
  relaxFunction,
  relaxStringImm,
  relaxVar,
  seqExpr,
  shapeExpr,
  tuple,
  tupleGetItem,
  typedArrayFor,
  varBinding,
} from '../ir/expr.js';
import type {
  AnyVar,
  Binding,
  Block,
  Call,
  Expr,
  FuncStructInfo,
  RelaxFunction,
  StructInfo,
  Var,
} from '../ir/nodes.js';
import { funcSInfo, objectSInfo, shapeSInfo, tensorSInfo, tupleSInfo } from '../ir/struct-info.js';
import { createOpRegistry } from '../op/builtin.js';
import type { OpRegistry } from '../op/registry.js';
import { inferCallStructInfo } from '../op/registry.js';
import { fromBase64, fromHex, setElement } from './data.js';
import { R_BUILTINS, takesBindingSInfo } from './printer.js';

/** What one module's parse shares between its Relax functions. */
interface ModuleState {
  /** Symbolic variables by declared name: functions of one module share them (as builders do). */
  readonly syms: Map<string, PrimVar>;
  /** StructInfo of the Relax functions parsed so far (and found ahead), by global name. */
  readonly funcs: Map<string, FuncStructInfo | null>;
  /** Globals ahead in the text, scanned once: name → header tokens (null: not a Relax function). */
  ahead?: Map<string, Token[] | null>;
  /** Built-in operators, made on first use, for calls written without an annotation. */
  ops?: OpRegistry;
}
const states = new WeakMap<TextParser, ModuleState>();
function stateOf(ps: TextParser): ModuleState {
  let s = states.get(ps);
  if (s === undefined) {
    s = { syms: new Map(), funcs: new Map() };
    states.set(ps, s);
  }
  return s;
}

function isRelaxVarNode(n: Node | undefined): n is AnyVar {
  return n !== undefined && (n.kind === 'relax.Var' || n.kind === 'relax.DataflowVar');
}

interface Parsed {
  readonly e: Expr;
  /** An explicit `as` annotation was written. */
  readonly annotated: boolean;
}

type Element = { readonly neg: boolean; readonly tok: Token };
interface Nested {
  readonly shape: number[];
  readonly items: Element[];
}

export class RelaxParser {
  private readonly state: ModuleState;
  constructor(
    readonly ps: TextParser,
    state?: ModuleState,
  ) {
    this.state = state ?? stateOf(ps);
  }

  // ------------------------------------------------------------ functions

  /** A function after its keyword. Top-level functions may declare symbolic variables `[n, m: int32]`. */
  func(topLevel = true): RelaxFunction {
    if (!topLevel) return this.funcInner(false);
    try {
      return this.funcInner(true);
    } catch (e) {
      // A node factory rejecting what was read (a bad shape, ...) is still a parse error here.
      if (isKilnError(e) && e.code !== ErrorCodes.PARSE_ERROR) throw this.ps.error(e.message);
      throw e;
    }
  }

  private funcInner(topLevel: boolean): RelaxFunction {
    const ps = this.ps;
    if (topLevel && ps.check('[')) {
      ps.list('[', ']', () => {
        const name = ps.expectIdent('a symbolic variable name');
        const dt = ps.accept(':') ? ps.parseDType() : undefined;
        ps.define(name, this.symVar(name, dt));
      });
    }
    const { params, ret, isPure, attrs } = this.signature();
    const body = this.body('function', ret);
    const fn = relaxFunction(params, body, ret, { attrs, isPure });
    if (topLevel && ps.currentGlobal !== undefined)
      this.state.funcs.set(ps.currentGlobal, fn.structInfo as FuncStructInfo);
    return fn;
  }

  private signature(): {
    params: Var[];
    ret: StructInfo;
    isPure: boolean;
    attrs: Record<string, import('@kiln/ir-core').AttrValue>;
  } {
    const ps = this.ps;
    const params = ps.list('(', ')', () => {
      const name = ps.expectIdent('a parameter name');
      ps.expect(':');
      const v = relaxVar(name, this.sinfo());
      ps.define(name, v);
      return v;
    });
    ps.expect('->');
    const ret = this.sinfo();
    const isPure = ps.accept('impure') === undefined;
    const attrs = ps.accept('attrs') ? { ...ps.parseAttrs() } : {};
    return { params, ret, isPure, attrs };
  }

  private symVar(name: string, dt?: DataType): PrimVar {
    const want = dt?.str ?? 'int64';
    const known = this.state.syms.get(name);
    if (known !== undefined && known.dtype.str === want) return known;
    const v = primVar(name, want);
    this.state.syms.set(name, v);
    return v;
  }

  /**
   * `{ blocks... return e }` (a SeqExpr) or `{ e }` (just `e`). In function bodies the
   * SeqExpr takes the return StructInfo, in branches its body's; an `as` after the brace
   * overrides (in expression position the caller reads the `as`).
   */
  body(mode: 'function' | 'branch' | 'expr', ret?: StructInfo): Expr {
    const ps = this.ps;
    ps.expect('{');
    const r = ps.withScope((): { seq: boolean; blocks: Block[]; e: Expr } => {
      const blocks: Block[] = [];
      let flat: Binding[] | undefined;
      const flush = () => {
        if (flat !== undefined) blocks.push(bindingBlock(flat));
        flat = undefined;
      };
      for (;;) {
        if (ps.accept('return')) {
          const e = this.exprAnn().e;
          flush();
          ps.expect('}');
          return { seq: true, blocks, e };
        }
        if ((ps.check('dataflow') || ps.check('bindings')) && ps.check('{', 1)) {
          flush();
          const df = ps.next().text === 'dataflow';
          ps.next();
          const bs: Binding[] = [];
          while (!ps.accept('}')) bs.push(this.binding(df));
          blocks.push(df ? dataflowBlock(bs) : bindingBlock(bs));
          continue;
        }
        if (this.atBinding()) {
          flat ??= [];
          flat.push(this.binding(false));
          continue;
        }
        if (blocks.length > 0 || flat !== undefined) ps.failExpected("a binding or 'return'");
        const e = this.exprAnn().e;
        ps.expect('}');
        return { seq: false, blocks, e };
      }
    });
    if (!r.seq) return r.e;
    const seq = seqExpr(r.blocks, r.e);
    if (mode !== 'expr' && ps.accept('as')) return this.withSInfo(seq, this.annotationTarget());
    if (mode === 'function' && ret !== undefined) return this.withSInfo(seq, ret);
    return seq;
  }

  private atBinding(): boolean {
    const ps = this.ps;
    const t = ps.peek();
    if (t.kind !== 'ident') return false;
    if ((t.text === 'output' || t.text === 'dataflow') && ps.peek(1).kind === 'ident') return true;
    return ps.check(':', 1) || ps.check('=', 1);
  }

  /** A binding; `inDataflow` sets the default variable kind (`output` / `dataflow` override it). */
  binding(inDataflow: boolean): Binding {
    const ps = this.ps;
    let df = inDataflow;
    if (ps.check('output') && ps.peek(1).kind === 'ident') {
      ps.next();
      df = false;
    } else if (ps.check('dataflow') && ps.peek(1).kind === 'ident') {
      ps.next();
      df = true;
    }
    const nameTok = ps.peek();
    const name = ps.expectIdent('a variable name');
    const ann = ps.accept(':') ? this.sinfo() : undefined;
    ps.expect('=');
    const mk = (s: StructInfo): AnyVar => {
      const v = df ? dataflowVar(name, s, ps.spanOf(nameTok)) : relaxVar(name, s, ps.spanOf(nameTok));
      ps.define(name, v);
      return v;
    };
    if (ps.accept('R.match_cast')) {
      ps.expect('(');
      const value = this.exprAnn().e;
      ps.expect(',');
      const target = this.sinfo();
      ps.accept(',');
      ps.expect(')');
      return matchCast(mk(ann ?? target), value, target);
    }
    const p = this.exprAnn();
    let value = p.e;
    if (!p.annotated && ann !== undefined && takesBindingSInfo(value)) value = this.withSInfo(value, ann);
    if (!p.annotated && ann === undefined && value.structInfo === undefined) value = this.infer(value);
    const s = ann ?? value.structInfo;
    if (s === undefined)
      return ps.fail(
        `the binding of '${name}' needs a StructInfo annotation ('${name}: R.Tensor(...) = ...')`,
        nameTok,
      );
    return varBinding(mk(s), value);
  }

  /**
   * Hand-written text may leave out the annotation of an operator call or a tuple item:
   * its StructInfo is then inferred (built-in operators only). Printed text never needs this.
   */
  private infer(e: Expr): Expr {
    if (e.kind === 'relax.TupleGetItem') {
      const ts = e.tuple.structInfo;
      const f = ts?.kind === 'relax.TupleStructInfo' ? ts.fields[e.index] : undefined;
      return f === undefined ? e : this.withSInfo(e, f);
    }
    if (e.kind !== 'relax.Call' || e.op.kind !== 'relax.Op' || e.args.some((a) => a.structInfo === undefined))
      return e;
    this.state.ops ??= createOpRegistry();
    if (!this.state.ops.has(e.op.name)) return e;
    try {
      return this.withSInfo(e, inferCallStructInfo(this.state.ops, e));
    } catch (err) {
      if (isKilnError(err)) this.ps.fail(`cannot infer the StructInfo of ${e.op.name}: ${err.message}`);
      throw err;
    }
  }

  // ------------------------------------------------------------ expressions

  /** An expression with an optional `as <sinfo>` / `as ?` annotation. */
  exprAnn(): Parsed {
    const e = this.postfix();
    if (!this.ps.accept('as')) return { e, annotated: false };
    return { e: this.withSInfo(e, this.annotationTarget()), annotated: true };
  }

  expr(): Expr {
    return this.exprAnn().e;
  }

  private annotationTarget(): StructInfo | undefined {
    if (this.ps.accept('?')) return undefined;
    return this.sinfo();
  }

  private withSInfo(e: Expr, s: StructInfo | undefined): Expr {
    if (e.kind === 'relax.Var' || e.kind === 'relax.DataflowVar')
      this.ps.fail(`the StructInfo of variable '${e.name}' is fixed where it is bound`);
    if (e.structInfo === s) return e;
    return Object.freeze({ ...e, structInfo: s }) as Expr;
  }

  private postfix(): Expr {
    const ps = this.ps;
    let e = this.primary();
    for (;;) {
      if (ps.check('[')) {
        ps.next();
        const it = ps.peek();
        const i = ps.expectInt('a tuple index');
        if (i < 0) ps.fail(`tuple index ${i} is negative`, it);
        ps.expect(']');
        e = tupleGetItem(e, i);
        continue;
      }
      if (
        ps.check('(') &&
        (isRelaxVarNode(e) ||
          e.kind === 'relax.GlobalVar' ||
          e.kind === 'relax.ExternFunc' ||
          e.kind === 'relax.Op')
      ) {
        e = this.callArgs(e);
        continue;
      }
      return e;
    }
  }

  private primary(): Expr {
    const ps = this.ps;
    const t = ps.peek();
    if (ps.accept('(')) {
      if (ps.accept(')')) return tuple([]);
      const first = this.expr();
      if (ps.accept(')')) return first;
      const fields = [first];
      while (ps.accept(',')) {
        if (ps.check(')')) break;
        fields.push(this.expr());
      }
      ps.expect(')');
      return tuple(fields);
    }
    if (ps.accept('@')) {
      const n = ps.peek();
      const name = n.kind === 'string' ? ps.next().str! : ps.expectIdent('a global name');
      if (ps.globals.size > 0 && !ps.globals.has(name)) ps.fail(`unknown global '@${name}'`, n);
      return globalVar(name, this.globalSInfo(name));
    }
    if (ps.check('{')) return this.body('expr');
    if (ps.accept('if')) {
      const cond = this.expr();
      const tb = this.body('branch');
      ps.expect('else');
      const fb = this.body('branch');
      return ifExpr(cond, tb, fb, ps.spanOf(t));
    }
    if (t.kind !== 'ident') return ps.failExpected('a Relax expression');
    const name = t.text;
    if (name.startsWith('R.') && R_BUILTINS.has(name.slice(2))) {
      ps.next();
      return this.builtin(name.slice(2), t);
    }
    if (name.includes('.')) {
      ps.next();
      if (!ps.check('(')) ps.failExpected(`'(' after operator '${name}'`);
      return this.callArgs(opRef(name.startsWith('R.') ? `relax.${name.slice(2)}` : name));
    }
    ps.next();
    const hit = ps.lookup(name);
    if (isRelaxVarNode(hit)) return hit;
    if (hit !== undefined) ps.fail(`'${name}' is a ${hit.kind}, not a Relax variable`, t);
    return ps.fail(`unknown variable '${name}'`, t);
  }

  private builtin(word: string, t: Token): Expr {
    const ps = this.ps;
    switch (word) {
      case 'function':
        return ps.withScope(() => this.func(false));
      case 'const':
        return this.constant(t);
      case 'shape': {
        ps.expect('(');
        const vs = ps.list('[', ']', () => ps.parseExpr());
        ps.expect(')');
        return shapeExpr(vs);
      }
      case 'prim_value': {
        ps.expect('(');
        const v = ps.parseExpr();
        ps.expect(')');
        return primValue(v);
      }
      case 'str': {
        ps.expect('(');
        const s = ps.expectString();
        ps.expect(')');
        return relaxStringImm(s);
      }
      case 'op': {
        ps.expect('(');
        const s = ps.expectString('an operator name');
        ps.expect(')');
        return opRef(s);
      }
      case 'extern': {
        ps.expect('(');
        const s = ps.expectString('a symbol name');
        const sinfo = ps.accept(',') && !ps.check(')') ? this.sinfo() : undefined;
        ps.expect(')');
        return externFunc(s, sinfo);
      }
      default:
        return ps.fail(`'R.${word}' is not an expression`, t);
    }
  }

  /** `(args..., key=value..., attrs={...}, sinfo_args=[...], out_sinfo=S)` after a callee. */
  private callArgs(op: Call['op']): Call {
    const ps = this.ps;
    const args: Expr[] = [];
    const attrs: Record<string, import('@kiln/ir-core').AttrValue> = {};
    let sinfoArgs: StructInfo[] = [];
    let keywords = false;
    ps.list('(', ')', () => {
      if (ps.peek().kind === 'ident' && ps.check('=', 1)) {
        keywords = true;
        const key = ps.next().text;
        ps.next();
        if (key === 'sinfo_args') sinfoArgs = ps.list('[', ']', () => this.sinfo());
        else if (key === 'out_sinfo') sinfoArgs = [this.sinfo()];
        else if (key === 'attrs') Object.assign(attrs, ps.parseAttrs());
        else attrs[key] = ps.parseAttrValue();
        return;
      }
      if (keywords) ps.fail('a positional argument cannot follow keyword arguments');
      args.push(this.expr());
    });
    return call(op, args, { attrs, sinfoArgs });
  }

  // ------------------------------------------------------------ constants

  private constant(at: Token): Expr {
    const ps = this.ps;
    ps.expect('(');
    if (ps.check('(')) {
      const shape = ps.list('(', ')', () => ps.expectInt('a dimension'));
      ps.expect(',');
      const dt = ps.parseDType();
      ps.expect(',');
      const encTok = ps.peek();
      const enc = ps.expectIdent("'base64' or 'hex'");
      ps.expect('=');
      const dataTok = ps.peek();
      const text = ps.expectString('the constant data');
      ps.expect(')');
      const n = shape.reduce((a, b) => a * b, 1);
      const data = this.storage(dt, n, at);
      if (enc !== 'base64' && enc !== 'hex')
        ps.fail(`unknown data encoding '${enc}' (base64 or hex)`, encTok);
      const ok = enc === 'base64' ? fromBase64(text, data) : fromHex(text, data);
      if (!ok) ps.fail(`constant data does not hold ${n} elements of ${dt.str}`, dataTok);
      return constant(data, shape, dt, ps.spanOf(at));
    }
    const nested = this.nested();
    ps.expect(',');
    const dt = ps.parseDType();
    ps.expect(')');
    const n = nested.items.length;
    const data = this.storage(dt, n, at);
    for (const [i, el] of nested.items.entries()) setElement(dt, data, i, this.elementValue(el, dt));
    return constant(data, nested.shape, dt, ps.spanOf(at));
  }

  private storage(dt: DataType, n: number, at: Token) {
    try {
      return typedArrayFor(dt, n);
    } catch (e) {
      if (isKilnError(e)) this.ps.fail(`no constant of dtype ${dt.str}`, at);
      throw e;
    }
  }

  private nested(): Nested {
    const ps = this.ps;
    if (ps.check('[')) {
      const open = ps.peek();
      const parts = ps.list('[', ']', () => this.nested());
      if (parts.length === 0)
        ps.fail('an empty list has no shape; write R.const((dims), dtype, base64="")', open);
      const inner = parts[0].shape;
      for (const q of parts) {
        if (q.shape.length !== inner.length || q.shape.some((d, i) => d !== inner[i]))
          ps.fail('constant rows have different shapes', open);
      }
      return { shape: [parts.length, ...inner], items: parts.flatMap((q) => q.items) };
    }
    const neg = ps.accept('-') !== undefined;
    const tok = ps.peek();
    const isBool = tok.kind === 'ident' && (tok.text === 'True' || tok.text === 'False');
    if (!isBool && ((tok.kind !== 'int' && tok.kind !== 'float') || tok.suffix !== undefined))
      ps.failExpected('a constant element');
    ps.next();
    return { shape: [], items: [{ neg, tok }] };
  }

  private elementValue(el: Element, dt: DataType): number | bigint {
    const { tok, neg } = el;
    if (tok.kind === 'ident') {
      if (dt.code !== 'bool') this.ps.fail(`${tok.text} is not a ${dt.str} value`, tok);
      return tok.text === 'True' ? 1 : 0;
    }
    if ((dt.code === 'int' || dt.code === 'uint') && dt.bits === 64) {
      if (tok.kind !== 'int') this.ps.fail(`${tok.text} is not a ${dt.str} value`, tok);
      const b = BigInt(tok.text);
      return neg ? -b : b;
    }
    if (dt.code !== 'float' && dt.code !== 'bfloat' && !isLowPrecisionFloat(dt) && tok.kind !== 'int')
      this.ps.fail(`${tok.text} is not a ${dt.str} value`, tok);
    return neg ? -tok.num! : tok.num!;
  }

  // ------------------------------------------------------------ StructInfo

  sinfo(): StructInfo {
    const ps = this.ps;
    const t = ps.peek();
    if (t.kind !== 'ident') return ps.failExpected('a StructInfo (R.Tensor, R.Tuple, ...)');
    switch (t.text) {
      case 'R.Object':
        ps.next();
        return objectSInfo();
      case 'R.Tensor':
        ps.next();
        return this.tensorSInfo(t);
      case 'R.Shape': {
        ps.next();
        if (!ps.check('(')) return shapeSInfo(-1);
        let values: PrimExpr[] | undefined;
        let ndim: number | undefined;
        ps.list('(', ')', () => {
          if (ps.check('ndim')) {
            ps.next();
            ps.expect('=');
            ndim = ps.expectInt('a rank');
          } else values = ps.list('[', ']', () => ps.parseExpr());
        });
        if (values !== undefined && ndim !== undefined && ndim !== values.length) {
          return freezeNode({ kind: 'relax.ShapeStructInfo', values: Object.freeze(values), ndim });
        }
        return values !== undefined ? shapeSInfo(values) : shapeSInfo(ndim ?? -1);
      }
      case 'R.Prim': {
        ps.next();
        let dt: DataType | undefined;
        let value: PrimExpr | undefined;
        ps.list('(', ')', () => {
          if (ps.check('value') && ps.check('=', 1)) {
            ps.next();
            ps.next();
            value = ps.parseExpr();
          } else dt = ps.parseDType();
        });
        const d = dt ?? value?.dtype;
        if (d === undefined) ps.fail('R.Prim needs a dtype or a value', t);
        return freezeNode({ kind: 'relax.PrimStructInfo', dtype: d!, value });
      }
      case 'R.Tuple': {
        ps.next();
        if (!ps.check('(')) return tupleSInfo([]);
        return tupleSInfo(ps.list('(', ')', () => this.sinfo()));
      }
      case 'R.Callable':
        ps.next();
        return this.callableSInfo();
      default:
        return ps.failExpected('a StructInfo (R.Tensor, R.Tuple, ...)');
    }
  }

  private tensorSInfo(at: Token): StructInfo {
    const ps = this.ps;
    if (!ps.check('(')) return tensorSInfo();
    let dims: PrimExpr[] | undefined;
    let shapeVar: AnyVar | undefined;
    let dt: DataType | undefined;
    let ndim: number | undefined;
    ps.list('(', ')', () => {
      const t = ps.peek();
      if (ps.check('(')) dims = ps.list('(', ')', () => ps.parseExpr());
      else if (t.kind === 'string') dt = ps.parseDType();
      else if (ps.check('ndim') && ps.check('=', 1)) {
        ps.next();
        ps.next();
        ndim = ps.expectInt('a rank');
      } else if (ps.check('dtype') && ps.check('=', 1)) {
        ps.next();
        ps.next();
        dt = ps.parseDType();
      } else {
        const name = ps.expectIdent('a shape, a dtype or ndim=');
        const hit = ps.lookup(name);
        if (!isRelaxVarNode(hit) || hit.structInfo.kind !== 'relax.ShapeStructInfo')
          ps.fail(`'${name}' is not a variable holding a shape`, t);
        shapeVar = hit as AnyVar;
      }
    });
    const shape = dims ?? shapeVar;
    if (shape !== undefined && ndim !== undefined) {
      const r = dims !== undefined ? dims.length : (shapeVar!.structInfo as { ndim: number }).ndim;
      if (r !== ndim) ps.fail(`tensor shape has rank ${r} but ndim=${ndim}`, at);
    }
    return tensorSInfo(shape, dt, ndim === undefined ? {} : { ndim });
  }

  private callableSInfo(): StructInfo {
    const ps = this.ps;
    ps.expect('(');
    const flag = (): boolean => {
      ps.expect('pure');
      ps.expect('=');
      if (ps.accept('True')) return true;
      ps.expect('False');
      return false;
    };
    if (ps.check('ret') && ps.check('=', 1)) {
      ps.next();
      ps.next();
      const ret = this.sinfo();
      const pure = ps.accept(',') ? flag() : false;
      ps.expect(')');
      return freezeNode<FuncStructInfo>({
        kind: 'relax.FuncStructInfo',
        params: Object.freeze([]),
        ret,
        opaque: true,
        pure,
      });
    }
    const params = ps.list('(', ')', () => this.sinfo());
    ps.expect(',');
    const ret = this.sinfo();
    const pure = ps.accept(',') ? flag() : true;
    ps.expect(')');
    return funcSInfo(params, ret, { pure });
  }

  // ------------------------------------------------------------ globals

  /**
   * The StructInfo of a reference to global `name`: the signature of a Relax function
   * (parsed already, or read ahead in the text), none for PrimFuncs.
   */
  private globalSInfo(name: string): StructInfo | undefined {
    const st = this.state;
    const known = st.funcs.get(name);
    if (known !== undefined) return known ?? undefined;
    if (!this.ps.globals.has(name)) return undefined;
    st.ahead ??= scanAhead(this.ps);
    const header = st.ahead.get(name);
    let s: FuncStructInfo | null = null;
    if (header) {
      try {
        // The header alone, re-read by a parser that shares this module's symbolic variables.
        const sub = new Parser(header.map((tk) => tk.text).join(' '));
        const rp = new RelaxParser(sub, st);
        s = sub.withScope(() => {
          if (sub.check('[')) {
            sub.list('[', ']', () => {
              const n = sub.expectIdent();
              const dt = sub.accept(':') ? sub.parseDType() : undefined;
              sub.define(n, rp.symVar(n, dt));
            });
          }
          const sig = rp.signature();
          return funcSInfo(
            sig.params.map((p) => p.structInfo),
            sig.ret,
            { pure: sig.isPure },
          );
        });
      } catch (e) {
        // A broken header is reported when that function itself is parsed.
        if (!isKilnError(e)) throw e;
        s = null;
      }
    }
    st.funcs.set(name, s);
    return s ?? undefined;
  }
}

/** The header tokens (`[decls](params) -> ret ...` up to the body's brace) of every `@g = R.function` ahead. */
function scanAhead(ps: TextParser): Map<string, Token[] | null> {
  const out = new Map<string, Token[] | null>();
  let depth = 0;
  for (let i = 0; ; i++) {
    const t = ps.peek(i);
    if (t.kind === 'eof') break;
    if (t.kind !== 'punct') continue;
    if (t.text === '(' || t.text === '[' || t.text === '{') depth++;
    else if (t.text === ')' || t.text === ']' || t.text === '}') depth--;
    else if (t.text === '@' && depth <= 0 && ps.check('=', i + 2)) {
      const n = ps.peek(i + 1);
      const name = n.kind === 'string' ? n.str! : n.text;
      if (!ps.check('R.function', i + 3)) {
        out.set(name, null);
        continue;
      }
      const header: Token[] = [];
      let d = 0;
      for (let j = i + 4; ; j++) {
        const h = ps.peek(j);
        if (h.kind === 'eof') break;
        const prev = header[header.length - 1];
        if (
          h.kind === 'punct' &&
          h.text === '{' &&
          d === 0 &&
          !(prev && prev.kind === 'ident' && prev.text === 'attrs')
        )
          break;
        if (h.kind === 'punct' && (h.text === '(' || h.text === '[' || h.text === '{')) d++;
        if (h.kind === 'punct' && (h.text === ')' || h.text === ']' || h.text === '}')) d--;
        header.push(h);
      }
      out.set(name, header);
    }
  }
  return out;
}

/** Parse one Relax function (`R.function ...`) on its own. */
export function parseRelaxFunction(text: string, options: { source?: string } = {}): RelaxFunction {
  const ps = new Parser(text, { source: options.source });
  return ps.guarded(() => {
    ps.expect('R.function');
    const fn = ps.withScope(() => new RelaxParser(ps).func(true));
    ps.expectEnd();
    return fn;
  });
}

/**
 * Parse a standalone StructInfo, e.g. `R.Tensor((n, 4), "float32")`. Symbolic variables
 * come from `scope` or, with `autoDeclare`, are made as int64 variables.
 */
export function parseStructInfo(
  text: string,
  options: { scope?: Readonly<Record<string, Node>>; autoDeclare?: boolean } = {},
): StructInfo {
  const ps = new Parser(text, { scope: options.scope, autoDeclare: options.autoDeclare });
  return ps.guarded(() => {
    const s = new RelaxParser(ps).sinfo();
    ps.expectEnd();
    return s;
  });
}
