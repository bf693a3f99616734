// TIR text printer: PrimFuncs and statements in Kiln's TensorIR syntax (see syntax.md
// beside this file). Built on ir-core's TextPrinter, which owns names and PrimExprs.
import type { Buffer, DataType, Node, PrimExpr, Range, Var } from '@kiln/ir-core';
import {
  assertNever,
  DType,
  isPlainIdent,
  nodeKindInfo,
  Prec,
  printGuarded,
  TextPrinter,
} from '@kiln/ir-core';
import type { Block, BlockRealize, BufferRegion, For, IterVar, PrimFunc, Stmt } from '../stmt.js';

/** Words of the TIR syntax; the name allocator never hands them out. */
export const TIR_KEYWORDS: readonly string[] = [
  'prim_func',
  'attrs',
  'for',
  'in',
  'while',
  'if',
  'else',
  'let',
  'alloc',
  'decl_buffer',
  'attr',
  'evaluate',
  'block',
  'bare_block',
  'where',
  'reads',
  'writes',
  'alloc_buffer',
  'annotations',
  'init',
  'serial',
  'parallel',
  'vectorized',
  'unrolled',
  'thread_binding',
  'spatial',
  'reduce',
  'ordered',
  'opaque',
  'scope',
  'align',
  'strides',
  'elem_offset',
  'data',
  'seq',
];

const isTrue = (e: PrimExpr): boolean => e.kind === 'IntImm' && e.dtype === DType.bool && e.value === 1;
const isZero64 = (e: PrimExpr): boolean => e.kind === 'IntImm' && e.dtype === DType.int64 && e.value === 0;

/** Statements that scope a body; printed flat (body continues below) when last in a list. */
type Scoped = Extract<Stmt, { kind: 'LetStmt' | 'Allocate' | 'DeclBuffer' | 'AttrStmt' }>;
function isScoped(s: Stmt): s is Scoped {
  return s.kind === 'LetStmt' || s.kind === 'Allocate' || s.kind === 'DeclBuffer' || s.kind === 'AttrStmt';
}

/**
 * Var-like nodes a function uses without binding them first (symbolic shape variables,
 * scalar params that appear in earlier params' shapes), in order of first use.
 */
export function undeclaredVars(root: Node): { vars: Var[]; buffers: Buffer[] } {
  const bound = new Set<Node>();
  const early = new Set<Node>();
  const order: Node[] = [];
  const visited = new Set<Node>();
  const visit = (n: Node, binder: boolean): void => {
    const info = nodeKindInfo(n.kind);
    if (info.isVar) {
      if (binder) bound.add(n);
      else if (!bound.has(n) && !early.has(n)) {
        early.add(n);
        order.push(n);
      }
    }
    if (visited.has(n)) return;
    visited.add(n);
    const rec = n as unknown as Record<string, unknown>;
    for (const f of info.fields) {
      const v = rec[f.name];
      if (v === undefined || v === null) continue;
      if (f.type === 'node' || f.type === 'node?') visit(v as Node, false);
      else if (f.type === 'binder') visit(v as Node, true);
      else if (f.type === 'node[]') for (const c of v as readonly Node[]) visit(c, false);
      else if (f.type === 'binder[]') for (const c of v as readonly Node[]) visit(c, true);
    }
  };
  visit(root, false);
  const vars: Var[] = [];
  const buffers: Buffer[] = [];
  for (const n of order) {
    if (n === root) continue;
    if (n.kind === 'Var') vars.push(n as Var);
    else if (n.kind === 'Buffer') buffers.push(n as Buffer);
  }
  return { vars, buffers };
}

export class TirPrinter {
  constructor(readonly p: TextPrinter) {}

  // ------------------------------------------------------------ declarations

  /** `name: int32` (the dtype is always written for declarations). */
  varDecl(v: Var): string {
    return `${this.p.name(v)}: ${v.dtype.str}`;
  }
  /** `name` or `name: dtype` when the dtype is not the one implied. */
  private binderName(v: Var, implied: DataType): string {
    return v.dtype === implied ? this.p.name(v) : `${this.p.name(v)}: ${v.dtype.str}`;
  }

  /** `A: float32[n, 4] scope="shared" ... data=B.data`; names `A.data` for later uses. */
  bufferDecl(b: Buffer): string {
    const p = this.p;
    const name = p.name(b);
    let s = `${name}: ${b.dtype.str}[${b.shape.map((e) => p.expr(e)).join(', ')}]`;
    if (b.strides.length > 0) s += ` strides=[${b.strides.map((e) => p.expr(e)).join(', ')}]`;
    if (!isZero64(b.elemOffset)) s += ` elem_offset=${p.expr(b.elemOffset, Prec.atom)}`;
    if (b.scope !== 'global') s += ` scope=${p.string(b.scope)}`;
    if (b.align !== 64) s += ` align=${b.align}`;
    // The storage var: introduced here unless it already has a name (an alias).
    const known = p.names.lookup(b.data);
    if (known !== undefined) s += ` data=${known}`;
    else if (b.data.dtype !== DType.handle) {
      s += ` data=(${p.name(b.data)}: ${b.data.dtype.str})`;
    } else p.names.alias(b.data, `${name}.data`);
    return s;
  }

  /**
   * `min +: extent`. Unsuffixed literals read back in the dtype of `dt` (a loop or
   * iteration variable's) or else of the other bound, so mismatches spell theirs out.
   */
  range(r: Range, dt?: DataType): string {
    const p = this.p;
    return `${p.exprAs(r.min, dt ?? r.extent.dtype, Prec.or)} +: ${p.exprAs(r.extent, dt ?? r.min.dtype, Prec.or)}`;
  }
  private regionItem(r: Range): string {
    if (r.extent.kind === 'IntImm' && r.extent.value === 1 && r.extent.dtype === r.min.dtype)
      return this.p.expr(r.min);
    return this.range(r);
  }
  region(r: BufferRegion): string {
    return `${this.p.name(r.buffer)}[${r.region.map((x) => this.regionItem(x)).join(', ')}]`;
  }

  // ------------------------------------------------------------ functions

  func(fn: PrimFunc): void {
    const p = this.p;
    const free = undeclaredVars(fn);
    const header = [
      ...free.vars.map((v) => this.binderName(v, DType.int64)),
      ...free.buffers.map((b) => this.bufferDecl(b)),
    ];
    if (header.length > 0) p.write(`[${header.join(', ')}]`);
    const params = fn.params.map((x) => (x.kind === 'Buffer' ? this.bufferDecl(x) : this.varDecl(x)));
    p.write(`(${params.join(', ')})`);
    if (fn.retType !== DType.void) p.write(` -> ${fn.retType.str}`);
    if (Object.keys(fn.attrs).length > 0) p.write(` attrs ${p.attrs(fn.attrs)}`);
    this.braced(fn.body);
  }

  /** ` {`, the body one level deeper, `}` (continuing the current line). */
  braced(body: Stmt): void {
    this.p.write(' {').newline();
    this.p.indented(() => this.stmts(body));
    this.p.write('}');
  }

  // ------------------------------------------------------------ statements

  /** A statement list: a SeqStmt's items, or one statement. */
  stmts(s: Stmt): void {
    const items = s.kind === 'SeqStmt' ? s.seq : [s];
    for (let i = 0; i < items.length; i++) this.stmt(items[i], i === items.length - 1);
  }

  private scopedHeader(s: Scoped): string {
    const p = this.p;
    switch (s.kind) {
      case 'LetStmt': {
        const value = p.exprAs(s.value, s.var.dtype);
        return `let ${this.binderName(s.var, s.value.dtype)} = ${value}`;
      }
      case 'Allocate':
        return `alloc ${this.bufferDecl(s.buffer)}`;
      case 'DeclBuffer':
        return `decl_buffer ${this.bufferDecl(s.buffer)}`;
      case 'AttrStmt':
        return `attr ${p.key(s.key)} = ${p.expr(s.value)}`;
      default:
        return assertNever(s, 'scoped statement');
    }
  }

  stmt(s: Stmt, last: boolean): void {
    const p = this.p;
    if (isScoped(s)) {
      p.write(this.scopedHeader(s));
      // Last in its list: the rest of the list is the body, no braces needed.
      if (last) {
        p.newline();
        this.stmts(s.body);
      } else {
        this.braced(s.body);
        p.newline();
      }
      return;
    }
    switch (s.kind) {
      case 'BufferStore':
        p.line(
          `${p.name(s.buffer)}[${s.indices.map((i) => p.expr(i)).join(', ')}] = ${p.exprAs(s.value, s.buffer.dtype)}`,
        );
        return;
      case 'Evaluate':
        p.line(`evaluate(${p.expr(s.value)})`);
        return;
      case 'SeqStmt':
        // A nested sequence (factories flatten these) keeps its own braces.
        p.write('seq');
        this.braced(s);
        p.newline();
        return;
      case 'For':
        this.forLoop(s);
        return;
      case 'While':
        p.write(`while ${p.expr(s.cond)}`);
        this.braced(s.body);
        p.newline();
        return;
      case 'IfThenElse': {
        p.write(`if ${p.expr(s.cond)}`);
        let cur: Stmt = s;
        for (;;) {
          const c = cur as Extract<Stmt, { kind: 'IfThenElse' }>;
          this.braced(c.then);
          if (c.else === undefined) break;
          if (c.else.kind === 'IfThenElse') {
            p.write(` else if ${p.expr(c.else.cond)}`);
            cur = c.else;
            continue;
          }
          p.write(' else');
          this.braced(c.else);
          break;
        }
        p.newline();
        return;
      }
      case 'BlockRealize':
        this.block(s.block, s);
        return;
      case 'Block':
        this.block(s, undefined);
        return;
      default:
        assertNever(s, 'statement');
    }
  }

  private forLoop(s: For): void {
    const p = this.p;
    const min = p.exprAs(s.min, s.loopVar.dtype, Prec.or);
    const extent = p.exprAs(s.extent, s.loopVar.dtype, Prec.or);
    let head = `for ${this.binderName(s.loopVar, DType.int64)} in ${min} +: ${extent}`;
    if (s.forKind !== 'serial') head += ` ${s.forKind}`;
    if (s.threadTag !== undefined) head += ` ${p.string(s.threadTag)}`;
    if (Object.keys(s.annotations).length > 0) head += ` annotations ${p.attrs(s.annotations)}`;
    p.write(head);
    this.braced(s.body);
    p.newline();
  }

  private iterVar(iv: IterVar, value: PrimExpr | undefined): string {
    const p = this.p;
    const dom = this.range(iv.dom, iv.var.dtype);
    const v = value === undefined ? '' : `, ${p.exprAs(value, iv.var.dtype)}`;
    return `${this.binderName(iv.var, DType.int64)} = ${iv.iterType}(${dom}${v})`;
  }

  private block(b: Block, realize: BlockRealize | undefined): void {
    const p = this.p;
    // Iteration values are evaluated outside the block: print them before naming the iter vars.
    const values = realize?.iterValues;
    const name = isPlainIdent(b.name) && !TIR_KEYWORDS.includes(b.name) ? b.name : p.string(b.name);
    const items = b.iterVars.map((iv, i) => this.iterVar(iv, values?.[i]));
    let head = `${realize ? 'block' : 'bare_block'} ${name}(${items.join(', ')})`;
    if (realize && !isTrue(realize.predicate)) head += ` where ${p.expr(realize.predicate)}`;
    p.write(head).write(' {').newline();
    p.indented(() => {
      for (const a of b.allocBuffers) p.line(`alloc_buffer ${this.bufferDecl(a)}`);
      if (b.reads.length > 0) p.line(`reads(${b.reads.map((r) => this.region(r)).join(', ')})`);
      if (b.writes.length > 0) p.line(`writes(${b.writes.map((r) => this.region(r)).join(', ')})`);
      if (Object.keys(b.annotations).length > 0) p.line(`annotations ${p.attrs(b.annotations)}`);
      if (b.init !== undefined) {
        p.write('init');
        this.braced(b.init);
        p.newline();
      }
      this.stmts(b.body);
    });
    p.line('}');
  }
}

/** A printer for TIR text (TIR keywords reserved). */
export function createTirPrinter(): TirPrinter {
  // Only TIR's own words: printed names must not depend on which other IRs are loaded.
  return new TirPrinter(new TextPrinter({ reserved: TIR_KEYWORDS }));
}

/** The text of a PrimFunc (`prim_func(...) { ... }`). */
export function printPrimFunc(fn: PrimFunc): string {
  const t = createTirPrinter();
  t.p.write('prim_func');
  printGuarded(() => t.func(fn));
  return t.p.toString();
}

/** The text of a statement (for messages and tests); free names print as they are. */
export function printStmt(s: Stmt): string {
  const t = createTirPrinter();
  printGuarded(() => t.stmts(s));
  return t.p.toString();
}
