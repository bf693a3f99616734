// Relax text printer: functions, bindings, expressions and StructInfo in Kiln's Relax
// syntax (syntax.md beside this file), on top of ir-core's TextPrinter, which owns the
// names and the PrimExpr text. The parser derives most StructInfo from the text (a
// binding's annotation, a constant's shape, ...); wherever the derived StructInfo would
// differ from what the IR holds, the printer adds an explicit `as <sinfo>` so the round
// trip is exact.
import type { Node, PrimExpr, Var as PrimVar, TextPrinter } from '@kiln/ir-core';
import {
  isDottedIdent,
  isPlainIdent,
  postOrderVisit,
  printerFor,
  printGuarded,
  structuralEqual,
} from '@kiln/ir-core';
import type {
  AnyVar,
  Binding,
  Block,
  Call,
  Constant,
  Expr,
  RelaxFunction,
  SeqExpr,
  StructInfo,
} from '../ir/nodes.js';
import { funcSInfo, objectSInfo, primSInfo, shapeSInfo, tensorSInfo, tupleSInfo } from '../ir/struct-info.js';
import { elementText, toBase64 } from './data.js';

/** Words of the Relax syntax; the name allocator never hands them out. */
export const RELAX_KEYWORDS: readonly string[] = [
  'R',
  'if',
  'else',
  'return',
  'dataflow',
  'bindings',
  'output',
  'attrs',
  'as',
  'impure',
];

/** `R.<word>` forms that are not operators (an op `relax.<word>` prints as `R.op("relax.<word>")`). */
export const R_BUILTINS: ReadonlySet<string> = new Set([
  'function',
  'const',
  'shape',
  'prim_value',
  'str',
  'op',
  'extern',
  'match_cast',
  'Tensor',
  'Object',
  'Prim',
  'Shape',
  'Tuple',
  'Callable',
]);

/** Keyword arguments of a call that are not attributes. */
export const CALL_KWARGS: ReadonlySet<string> = new Set(['sinfo_args', 'out_sinfo', 'attrs']);

/** Constants with at most this many elements print their values inline. */
export const INLINE_CONSTANT_LIMIT = 32;

/** Value kinds that take a binding's StructInfo annotation (they have no StructInfo of their own in the text). */
export function takesBindingSInfo(e: Expr): boolean {
  return (
    e.kind === 'relax.Call' ||
    e.kind === 'relax.TupleGetItem' ||
    e.kind === 'relax.If' ||
    e.kind === 'relax.SeqExpr'
  );
}

/**
 * The StructInfo the parser gives `e` when it stands where nothing implies one and no
 * annotation is written: what the node factories compute.
 */
export function derivedSInfo(e: Expr): StructInfo | undefined {
  switch (e.kind) {
    case 'relax.Var':
    case 'relax.DataflowVar':
      return e.structInfo;
    case 'relax.Constant':
      return tensorSInfo(e.shape, e.dtype);
    case 'relax.Tuple':
      return e.fields.every((f) => f.structInfo !== undefined)
        ? tupleSInfo(e.fields.map((f) => f.structInfo!))
        : undefined;
    case 'relax.ShapeExpr':
      return shapeSInfo(e.values);
    case 'relax.PrimValue':
      return primSInfo(e.value.dtype, e.value);
    case 'relax.StringImm':
      return objectSInfo();
    case 'relax.GlobalVar':
      // Resolved by the parser from the module (the callee's signature).
      return e.structInfo?.kind === 'relax.FuncStructInfo' ? e.structInfo : undefined;
    case 'relax.ExternFunc':
      return e.structInfo;
    case 'relax.SeqExpr':
      return e.body.structInfo;
    case 'relax.Function':
      return funcSInfo(
        e.params.map((p) => p.structInfo),
        e.retStructInfo,
        { pure: e.isPure },
      );
    case 'relax.Op':
    case 'relax.Call':
    case 'relax.TupleGetItem':
    case 'relax.If':
      return undefined;
  }
}

export function sinfoEqual(a: StructInfo | undefined, b: StructInfo | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return structuralEqual(a, b);
}

function indent(s: string): string {
  return s
    .split('\n')
    .map((l) => (l === '' ? l : `  ${l}`))
    .join('\n');
}

/** Symbolic (PrimExpr) variables a function mentions, in order of first appearance; Let-bound ones excluded. */
export function symbolicVarsIn(fn: RelaxFunction): PrimVar[] {
  const seen = new Set<Node>();
  const letBound = new Set<Node>();
  const out: PrimVar[] = [];
  const scan = (root: Node): void =>
    postOrderVisit(root, (n) => {
      if (n.kind === 'Let') letBound.add((n as unknown as { var: Node }).var);
      if (n.kind === 'Var' && !seen.has(n)) {
        seen.add(n);
        out.push(n as PrimVar);
      }
    });
  for (const p of fn.params) scan(p.structInfo);
  scan(fn.retStructInfo);
  scan(fn);
  return out.filter((v) => !letBound.has(v));
}

/** The `R.<name>` text of an operator name, when it has one. */
export function opShortName(name: string): string | undefined {
  if (name.startsWith('relax.')) {
    const rest = name.slice('relax.'.length);
    if (isDottedIdent(rest) && !R_BUILTINS.has(rest.split('.')[0])) return `R.${rest}`;
    return undefined;
  }
  if (isDottedIdent(name) && name.includes('.') && !name.startsWith('R.')) return name;
  return undefined;
}

export class RelaxPrinter {
  constructor(readonly p: TextPrinter) {}

  // ------------------------------------------------------------ StructInfo

  private dims(ds: readonly PrimExpr[]): string {
    return `(${ds.map((d) => this.p.expr(d)).join(', ')}${ds.length === 1 ? ',' : ''})`;
  }

  sinfo(s: StructInfo): string {
    switch (s.kind) {
      case 'relax.ObjectStructInfo':
        return 'R.Object';
      case 'relax.PrimStructInfo':
        if (s.value === undefined) return `R.Prim(${this.p.string(s.dtype.str)})`;
        if (s.value.dtype === s.dtype) return `R.Prim(value=${this.p.expr(s.value)})`;
        return `R.Prim(${this.p.string(s.dtype.str)}, value=${this.p.expr(s.value)})`;
      case 'relax.ShapeStructInfo': {
        const known = s.ndim >= 0 && s.values.length === s.ndim;
        if (known) return `R.Shape([${s.values.map((v) => this.p.expr(v)).join(', ')}])`;
        if (s.values.length > 0)
          return `R.Shape([${s.values.map((v) => this.p.expr(v)).join(', ')}], ndim=${s.ndim})`;
        return s.ndim === -1 ? 'R.Shape' : `R.Shape(ndim=${s.ndim})`;
      }
      case 'relax.TensorStructInfo': {
        const parts: string[] = [];
        if (s.shape !== undefined) {
          parts.push(s.shape.kind === 'relax.ShapeExpr' ? this.dims(s.shape.values) : this.p.name(s.shape));
        }
        if (s.dtype !== undefined) parts.push(this.p.string(s.dtype.str));
        if (s.shape === undefined && s.ndim >= 0) parts.push(`ndim=${s.ndim}`);
        return parts.length === 0 ? 'R.Tensor' : `R.Tensor(${parts.join(', ')})`;
      }
      case 'relax.TupleStructInfo':
        return `R.Tuple(${s.fields.map((f) => this.sinfo(f)).join(', ')})`;
      case 'relax.FuncStructInfo': {
        const ret = this.sinfo(s.ret);
        if (s.opaque) return `R.Callable(ret=${ret}${s.pure ? ', pure=True' : ''})`;
        const ps = s.params.map((x) => this.sinfo(x));
        return `R.Callable((${ps.join(', ')}${ps.length === 1 ? ',' : ''}), ${ret}${s.pure ? '' : ', pure=False'})`;
      }
    }
  }

  // ------------------------------------------------------------ functions

  /** The text after the `R.function` keyword. */
  func(fn: RelaxFunction, topLevel = true): string {
    let head = '';
    if (topLevel) {
      const syms = symbolicVarsIn(fn);
      if (syms.length > 0) {
        head = `[${syms.map((v) => (v.dtype.str === 'int64' ? this.p.name(v) : `${this.p.name(v)}: ${v.dtype.str}`)).join(', ')}]`;
      }
    }
    const params = fn.params.map((v) => `${this.p.name(v)}: ${this.sinfo(v.structInfo)}`);
    let s = `${head}(${params.join(', ')}) -> ${this.sinfo(fn.retStructInfo)}`;
    if (!fn.isPure) s += ' impure';
    if (Object.keys(fn.attrs).length > 0) s += ` attrs ${this.p.attrs(fn.attrs)}`;
    return `${s} ${this.body(fn.body, fn.retStructInfo)}`;
  }

  /**
   * A body in braces: a SeqExpr as its blocks then `return e` (annotated after the brace
   * when its StructInfo is not `seqImplied`, default: its body's), anything else bare.
   */
  body(e: Expr, seqImplied?: StructInfo): string {
    if (e.kind !== 'relax.SeqExpr') {
      const t = this.expr(e);
      return t.includes('\n') ? `{\n${indent(t)}\n}` : `{ ${t} }`;
    }
    const lines = this.blocks(e.blocks);
    lines.push(`return ${this.expr(e.body)}`);
    const want = seqImplied ?? e.body.structInfo;
    return `{\n${indent(lines.join('\n'))}\n}${this.annotation(e, want)}`;
  }

  private blocks(blocks: readonly Block[]): string[] {
    const out: string[] = [];
    blocks.forEach((b, i) => {
      if (b.kind === 'relax.DataflowBlock') {
        const inner = b.bindings.map((x) => this.binding(x, true));
        out.push(inner.length === 0 ? 'dataflow {\n}' : `dataflow {\n${indent(inner.join('\n'))}\n}`);
        return;
      }
      const inner = b.bindings.map((x) => this.binding(x, false));
      // Flat bindings form one block; an explicit `bindings {}` keeps blocks apart.
      const explicit = inner.length === 0 || (i > 0 && blocks[i - 1].kind === 'relax.BindingBlock');
      if (explicit)
        out.push(inner.length === 0 ? 'bindings {\n}' : `bindings {\n${indent(inner.join('\n'))}\n}`);
      else out.push(...inner);
    });
    return out;
  }

  binding(b: Binding, inDataflow: boolean): string {
    const v: AnyVar = b.var;
    let prefix = '';
    if (inDataflow && v.kind === 'relax.Var') prefix = 'output ';
    else if (!inDataflow && v.kind === 'relax.DataflowVar') prefix = 'dataflow ';
    const name = this.p.name(v);
    if (b.kind === 'relax.MatchCast') {
      const value = this.expr(b.value);
      const target = this.sinfo(b.structInfo);
      const ann = sinfoEqual(v.structInfo, b.structInfo) ? '' : `: ${this.sinfo(v.structInfo)}`;
      return `${prefix}${name}${ann} = R.match_cast(${value}, ${target})`;
    }
    if (takesBindingSInfo(b.value)) {
      return `${prefix}${name}: ${this.sinfo(v.structInfo)} = ${this.expr(b.value, v.structInfo)}`;
    }
    const value = this.expr(b.value);
    const ann =
      b.value.structInfo !== undefined && sinfoEqual(v.structInfo, b.value.structInfo)
        ? ''
        : `: ${this.sinfo(v.structInfo)}`;
    return `${prefix}${name}${ann} = ${value}`;
  }

  // ------------------------------------------------------------ expressions

  /** ` as <sinfo>` when `e`'s StructInfo is not `want`; ` as ?` when it has none. */
  private annotation(e: Expr, want: StructInfo | undefined): string {
    if (e.kind === 'relax.Var' || e.kind === 'relax.DataflowVar') return '';
    if (sinfoEqual(e.structInfo, want)) return '';
    return e.structInfo === undefined ? ' as ?' : ` as ${this.sinfo(e.structInfo)}`;
  }

  /**
   * An expression. `implied` is the StructInfo its position gives it (a binding's
   * annotation); without it the parser derives one from the node itself.
   */
  expr(e: Expr, implied?: StructInfo): string {
    const want = implied ?? derivedSInfo(e);
    if (e.kind === 'relax.SeqExpr') return this.body(e, want);
    const ann = this.annotation(e, want);
    const core = this.exprCore(e);
    // A trailing `as` would otherwise read as the annotation of the last brace block.
    return ann !== '' && (e.kind === 'relax.If' || e.kind === 'relax.Function')
      ? `(${core})${ann}`
      : core + ann;
  }

  /** An expression in a postfix position (callee, tuple of `t[i]`): parenthesized unless an atom. */
  private operand(e: Expr): string {
    const t = this.expr(e);
    const atom =
      e.kind !== 'relax.If' &&
      e.kind !== 'relax.Function' &&
      e.kind !== 'relax.SeqExpr' &&
      !t.includes(' as ');
    return atom ? t : `(${t})`;
  }

  private exprCore(e: Expr): string {
    const p = this.p;
    switch (e.kind) {
      case 'relax.Var':
      case 'relax.DataflowVar':
        return p.name(e);
      case 'relax.Constant':
        return this.constant(e);
      case 'relax.Tuple': {
        const fs = e.fields.map((f) => this.expr(f));
        return `(${fs.join(', ')}${fs.length === 1 ? ',' : ''})`;
      }
      case 'relax.TupleGetItem':
        return `${this.operand(e.tuple)}[${e.index}]`;
      case 'relax.ShapeExpr':
        return `R.shape([${e.values.map((v) => p.expr(v)).join(', ')}])`;
      case 'relax.PrimValue':
        return `R.prim_value(${p.expr(e.value)})`;
      case 'relax.StringImm':
        return `R.str(${p.string(e.value)})`;
      case 'relax.Op':
        return `R.op(${p.string(e.name)})`;
      case 'relax.GlobalVar':
        return `@${isDottedIdent(e.name) ? e.name : p.string(e.name)}`;
      case 'relax.ExternFunc':
        return e.structInfo === undefined
          ? `R.extern(${p.string(e.globalSymbol)})`
          : `R.extern(${p.string(e.globalSymbol)}, ${this.sinfo(e.structInfo)})`;
      case 'relax.Call':
        return this.call(e);
      case 'relax.If': {
        const c = this.expr(e.cond);
        return `if ${c} ${this.body(e.trueBranch)} else ${this.body(e.falseBranch)}`;
      }
      case 'relax.SeqExpr':
        return this.body(e);
      case 'relax.Function':
        return `R.function${this.func(e, false)}`;
    }
  }

  private call(c: Call): string {
    const p = this.p;
    let callee: string;
    const op = c.op;
    if (op.kind === 'relax.Op') callee = opShortName(op.name) ?? `R.op(${p.string(op.name)})`;
    else callee = this.operand(op);
    const args = c.args.map((a) => this.expr(a));
    const keys = Object.keys(c.attrs).filter((k) => c.attrs[k] !== undefined);
    if (keys.length > 0) {
      const plain = keys.every((k) => isPlainIdent(k) && !CALL_KWARGS.has(k));
      if (plain) for (const k of keys) args.push(`${k}=${p.attrValue(c.attrs[k])}`);
      else args.push(`attrs=${p.attrs(c.attrs)}`);
    }
    if (c.sinfoArgs.length > 0) {
      const dps =
        op.kind === 'relax.Op' && (op.name === 'relax.call_tir' || op.name === 'relax.call_dps_packed');
      if (dps && c.sinfoArgs.length === 1) args.push(`out_sinfo=${this.sinfo(c.sinfoArgs[0])}`);
      else args.push(`sinfo_args=[${c.sinfoArgs.map((s) => this.sinfo(s)).join(', ')}]`);
    }
    return `${callee}(${args.join(', ')})`;
  }

  // ------------------------------------------------------------ constants

  constant(c: Constant): string {
    const p = this.p;
    const dt = p.string(c.dtype.str);
    const n = c.data.length;
    if (n > 0 && n <= INLINE_CONSTANT_LIMIT) {
      const items: string[] = [];
      let ok = true;
      for (let i = 0; i < n && ok; i++) {
        const t = elementText(c.dtype, c.data, i);
        if (t === undefined) ok = false;
        else items.push(t);
      }
      if (ok) return `R.const(${nest(items, c.shape)}, ${dt})`;
    }
    const shape = `(${c.shape.join(', ')}${c.shape.length === 1 ? ',' : ''})`;
    return `R.const(${shape}, ${dt}, base64=${p.string(toBase64(c.data))})`;
  }
}

/** Row-major items nested as lists per dimension (`[[1, 2], [3, 4]]`; a scalar bare). */
function nest(items: readonly string[], shape: readonly number[]): string {
  if (shape.length === 0) return items[0];
  let level: string[] = [...items];
  for (let d = shape.length - 1; d >= 0; d--) {
    const size = shape[d];
    const next: string[] = [];
    for (let i = 0; i < level.length; i += size) next.push(`[${level.slice(i, i + size).join(', ')}]`);
    level = next;
  }
  return level[0];
}

/** Text of a standalone Relax function (keyword included). */
export function printRelaxFunction(fn: RelaxFunction): string {
  const p = printerFor('relax.Function');
  p.write('R.function');
  printGuarded(() => writeMultiline(p, new RelaxPrinter(p).func(fn)));
  return p.toString();
}

/** Write text that may span lines into a TextPrinter, keeping its current indentation. */
export function writeMultiline(p: TextPrinter, s: string): void {
  const lines = s.split('\n');
  lines.forEach((l, i) => {
    if (i > 0) p.newline();
    p.write(l);
  });
}

/** Text of any Relax node (expression, binding, block or StructInfo) for messages. */
export function relaxNodeText(n: Node, p: TextPrinter): string {
  const rp = new RelaxPrinter(p);
  switch (n.kind) {
    case 'relax.VarBinding':
    case 'relax.MatchCast':
      return rp.binding(n as Binding, (n as Binding).var.kind === 'relax.DataflowVar');
    case 'relax.BindingBlock':
      return (n as Block).bindings.map((b) => rp.binding(b, false)).join('\n');
    case 'relax.DataflowBlock':
      return `dataflow {\n${indent((n as Block).bindings.map((b) => rp.binding(b, true)).join('\n'))}\n}`;
    case 'relax.SeqExpr':
      return rp.body(n as SeqExpr);
    default:
      if (n.kind.endsWith('StructInfo')) return rp.sinfo(n as StructInfo);
      return rp.expr(n as Expr);
  }
}
