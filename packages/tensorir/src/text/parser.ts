// TIR text parser: reads what printer.ts writes (syntax.md). Built on ir-core's
// TextParser, which supplies the token cursor, scopes, dtypes, attrs and PrimExprs.
import type {
  Buffer,
  DataType,
  PrimExpr,
  Range,
  ScopeInit,
  TextParserOptions,
  Token,
  Var,
} from '@kiln/ir-core';
import { boolImm, buffer, DType, freezeNode, intImm, primVar, TextParser } from '@kiln/ir-core';
import type {
  Block,
  BufferRegion,
  ForKind,
  IterType,
  IterVar,
  PrimFunc,
  PrimFuncParam,
  Stmt,
} from '../stmt.js';
import {
  allocate,
  attrStmt,
  block,
  blockRealize,
  bufferRegion,
  bufferStore,
  declBuffer,
  evaluate,
  forLoop,
  ifThenElse,
  iterVar,
  letStmt,
  primFunc,
  seqStmt,
  whileLoop,
} from '../stmt.js';

const FOR_KINDS: readonly ForKind[] = ['serial', 'parallel', 'vectorized', 'unrolled', 'thread_binding'];
const ITER_TYPES: readonly IterType[] = ['spatial', 'reduce', 'ordered', 'opaque'];
const BUFFER_OPTIONS = new Set(['strides', 'elem_offset', 'scope', 'align', 'data']);

export class TirParser {
  constructor(readonly ps: TextParser) {}

  // ------------------------------------------------------------ functions

  /** A PrimFunc after its `prim_func` keyword (in the function's own scope). */
  func(start?: Token): PrimFunc {
    const ps = this.ps;
    const span = ps.spanOf(start ?? ps.peek());
    const saved = ps.autoDeclare;
    // Symbolic shape variables may be used in the signature without a declaration.
    ps.autoDeclare = true;
    let params: PrimFuncParam[];
    try {
      if (ps.accept('[')) {
        ps.list(undefined, ']', () => {
          const t = ps.peek();
          const name = ps.expectIdent('a variable or buffer name');
          if (!ps.accept(':')) return this.declareVar(name, DType.int64, t);
          const dt = ps.parseDType();
          return ps.check('[') ? this.bufferAfterType(name, dt, t) : this.declareVar(name, dt, t);
        });
      }
      params = ps.list('(', ')', () => this.param());
    } finally {
      ps.autoDeclare = saved;
    }
    const retType = ps.accept('->') ? ps.parseDType() : DType.void;
    const attrs = ps.accept('attrs') ? ps.parseAttrs() : {};
    const body = this.bracedBody();
    return primFunc(params, body, { attrs, retType, span });
  }

  private declareVar(name: string, dt: DataType, t: Token): Var {
    const v = primVar(name, dt, this.ps.spanOf(t));
    this.ps.define(name, v);
    return v;
  }

  private param(): PrimFuncParam {
    const ps = this.ps;
    const t = ps.peek();
    const name = ps.expectIdent('a parameter name');
    ps.expect(':');
    const dt = ps.parseDType();
    if (ps.check('[')) return this.bufferAfterType(name, dt, t);
    // A scalar param already declared (used in an earlier shape) is that same variable.
    const known = ps.definedHere(name) ? ps.lookup(name) : undefined;
    if (known !== undefined && known.kind === 'Var') {
      if ((known as Var).dtype !== dt)
        ps.fail(
          `parameter '${name}' is ${dt.str} but was declared or used above as ${(known as Var).dtype.str} (declare it first: prim_func[${name}: ${dt.str}](...))`,
          t,
        );
      return known as Var;
    }
    return this.declareVar(name, dt, t);
  }

  // ------------------------------------------------------------ buffers

  /** `name: dtype[shape] options`, defining `name` and `name.data` in the current scope. */
  bufferDecl(): Buffer {
    const ps = this.ps;
    const t = ps.peek();
    const name = ps.expectIdent('a buffer name');
    ps.expect(':');
    const dt = ps.parseDType();
    return this.bufferAfterType(name, dt, t);
  }

  private bufferAfterType(name: string, dt: DataType, t: Token): Buffer {
    const ps = this.ps;
    const shape = ps.list('[', ']', () => ps.parseExpr());
    let strides: PrimExpr[] = [];
    let elemOffset: PrimExpr | undefined;
    let scope: string | undefined;
    let align: number | undefined;
    let data: Var | undefined;
    while (ps.peek().kind === 'ident' && BUFFER_OPTIONS.has(ps.peek().text) && ps.check('=', 1)) {
      const opt = ps.next().text;
      ps.next();
      switch (opt) {
        case 'strides':
          strides = ps.list('[', ']', () => ps.parseExpr());
          break;
        case 'elem_offset':
          elemOffset = ps.parseExpr();
          break;
        case 'scope':
          scope = ps.expectString('a storage scope string');
          break;
        case 'align':
          align = ps.expectInt('an alignment in bytes');
          break;
        case 'data': {
          if (ps.accept('(')) {
            const vt = ps.peek();
            const vn = ps.expectIdent('a variable name');
            ps.expect(':');
            data = this.declareVar(vn, ps.parseDType(), vt);
            ps.expect(')');
          } else {
            const vt = ps.peek();
            const vn = ps.expectIdent('the storage variable of another buffer (e.g. A.data)');
            const hit = ps.lookup(vn);
            if (hit === undefined || hit.kind !== 'Var') ps.fail(`unknown storage variable '${vn}'`, vt);
            data = hit as Var;
          }
          break;
        }
      }
    }
    const b = buffer(name, dt, shape, { data, strides, elemOffset, scope, align, span: ps.spanOf(t) });
    ps.define(name, b);
    ps.define(`${name}.data`, b.data);
    return b;
  }

  private region(): BufferRegion {
    const ps = this.ps;
    const t = ps.peek();
    const buf = ps.resolveBuffer(ps.expectIdent('a buffer name'), t);
    const ranges = ps.list('[', ']', () => {
      const min0 = ps.parseExpr();
      const extent = ps.accept('+:') ? ps.coerce(ps.parseExpr(), min0.dtype) : intImm(1, min0.dtype);
      const min = ps.coerce(min0, extent.dtype);
      return freezeNode<Range>({ kind: 'Range', min, extent });
    });
    return bufferRegion(buf, ranges, ps.spanOf(t));
  }

  // ------------------------------------------------------------ statements

  /** `{ statements }` in a fresh scope. */
  bracedBody(): Stmt {
    const ps = this.ps;
    ps.expect('{');
    const body = ps.withScope(() => this.seq(this.stmtList()));
    ps.expect('}');
    return body;
  }

  /** Statements up to (not including) the closing `}` or the end of input. */
  stmtList(): Stmt[] {
    const ps = this.ps;
    const out: Stmt[] = [];
    while (!ps.check('}') && !ps.atEnd()) out.push(this.stmt());
    return out;
  }

  /** A list as one statement; explicit nested `seq { }` blocks stay nested. */
  seq(items: Stmt[]): Stmt {
    if (items.some((s) => s.kind === 'SeqStmt'))
      return freezeNode<Stmt>({ kind: 'SeqStmt', seq: Object.freeze(items) });
    return seqStmt(items);
  }

  /** The body of a scoped statement: braced, or (flat form) the rest of the list. */
  private scopedBody(): Stmt {
    const ps = this.ps;
    if (ps.check('{')) return this.bracedBody();
    return this.seq(this.stmtList());
  }

  stmt(): Stmt {
    const ps = this.ps;
    const t = ps.peek();
    const span = ps.spanOf(t);
    if (t.kind !== 'ident') ps.failExpected('a statement');
    switch (t.text) {
      case 'let':
        return ps.withScope(() => {
          ps.next();
          const vt = ps.peek();
          const name = ps.expectIdent('a variable name');
          const ann = ps.accept(':') ? ps.parseDType() : undefined;
          ps.expect('=');
          const value0 = ps.parseExpr();
          const value = ann === undefined ? value0 : ps.coerce(value0, ann);
          const v = this.declareVar(name, ann ?? value.dtype, vt);
          return letStmt(v, value, this.scopedBody(), span);
        });
      case 'alloc':
        return ps.withScope(() => {
          ps.next();
          const b = this.bufferDecl();
          return allocate(b, this.scopedBody(), span);
        });
      case 'decl_buffer':
        return ps.withScope(() => {
          ps.next();
          const b = this.bufferDecl();
          return declBuffer(b, this.scopedBody(), span);
        });
      case 'attr': {
        ps.next();
        const key = ps.peek().kind === 'string' ? ps.next().str! : ps.expectIdent('an attribute key');
        ps.expect('=');
        const value = ps.parseExpr();
        return attrStmt(key, value, this.scopedBody(), span);
      }
      case 'for':
        return this.forLoop();
      case 'while': {
        ps.next();
        const cond = ps.parseExpr();
        return whileLoop(cond, this.bracedBody(), span);
      }
      case 'if':
        return this.ifThenElse();
      case 'evaluate': {
        ps.next();
        ps.expect('(');
        const value = ps.parseExpr();
        ps.expect(')');
        return evaluate(value, span);
      }
      case 'seq': {
        ps.next();
        ps.expect('{');
        const items = ps.withScope(() => this.stmtList());
        ps.expect('}');
        return freezeNode<Stmt>({ kind: 'SeqStmt', seq: Object.freeze(items), span });
      }
      case 'block':
      case 'bare_block':
        return this.block();
      default:
        break;
    }
    if (ps.check('[', 1)) {
      ps.next();
      const buf = ps.resolveBuffer(t.text, t);
      const indices = ps.list('[', ']', () => ps.parseExpr());
      ps.expect('=');
      const value = ps.coerce(ps.parseExpr(), buf.dtype);
      return bufferStore(buf, value, indices, span);
    }
    return ps.failExpected('a statement');
  }

  private forLoop(): Stmt {
    const ps = this.ps;
    const start = ps.expect('for');
    const vt = ps.peek();
    const name = ps.expectIdent('a loop variable name');
    const dt = ps.accept(':') ? ps.parseDType() : DType.int64;
    ps.expect('in');
    const min = ps.coerce(ps.parseExpr(), dt);
    ps.expect('+:');
    const extent = ps.coerce(ps.parseExpr(), dt);
    let kind: ForKind = 'serial';
    const kt = ps.peek();
    if (kt.kind === 'ident' && (FOR_KINDS as readonly string[]).includes(kt.text))
      kind = ps.next().text as ForKind;
    const tag = ps.peek().kind === 'string' ? ps.next().str : undefined;
    if (kind === 'thread_binding' && tag === undefined)
      ps.failExpected('a thread tag string (e.g. "threadIdx.x")');
    const annotations = ps.accept('annotations') ? ps.parseAttrs() : {};
    return ps.withScope(() => {
      const v = this.declareVar(name, dt, vt);
      const body = this.bracedBody();
      return forLoop(v, min, extent, body, { kind, threadTag: tag, annotations, span: ps.spanOf(start) });
    });
  }

  private ifThenElse(): Stmt {
    const ps = this.ps;
    const start = ps.expect('if');
    const cond = ps.parseExpr();
    const then = this.bracedBody();
    let otherwise: Stmt | undefined;
    if (ps.accept('else')) otherwise = ps.check('if') ? this.ifThenElse() : this.bracedBody();
    return ifThenElse(cond, then, otherwise, ps.spanOf(start));
  }

  private block(): Stmt {
    const ps = this.ps;
    const start = ps.next();
    const realize = start.text === 'block';
    const nt = ps.peek();
    const name = nt.kind === 'string' ? ps.next().str! : ps.expectIdent('a block name');
    const items = ps.list('(', ')', () => {
      const vt = ps.peek();
      const vn = ps.expectIdent('an iteration variable name');
      const dt = ps.accept(':') ? ps.parseDType() : DType.int64;
      ps.expect('=');
      const kt = ps.peek();
      const kind = ps.expectIdent(`an iteration kind (${ITER_TYPES.join(', ')})`);
      if (!(ITER_TYPES as readonly string[]).includes(kind))
        ps.failExpected(`an iteration kind (${ITER_TYPES.join(', ')})`, kt);
      ps.expect('(');
      const min = ps.coerce(ps.parseExpr(), dt);
      ps.expect('+:');
      const extent = ps.coerce(ps.parseExpr(), dt);
      const value = ps.accept(',') ? ps.coerce(ps.parseExpr(), dt) : undefined;
      if (realize && value === undefined) ps.failExpected(`',' and the value bound to '${vn}'`);
      if (!realize && value !== undefined) ps.fail(`a bare_block's iteration variables have no values`, vt);
      ps.expect(')');
      return {
        vn,
        dt,
        vt,
        kind: kind as IterType,
        dom: freezeNode<Range>({ kind: 'Range', min, extent }),
        value,
      };
    });
    const predicate = realize && ps.accept('where') ? ps.parseExpr() : boolImm(true);
    ps.expect('{');
    const blk = ps.withScope((): Block => {
      const ivs: IterVar[] = items.map((it) =>
        iterVar(this.declareVar(it.vn, it.dt, it.vt), it.dom, it.kind, ps.spanOf(it.vt)),
      );
      const allocBuffers: Buffer[] = [];
      while (ps.accept('alloc_buffer')) allocBuffers.push(this.bufferDecl());
      const reads = ps.accept('reads') ? ps.list('(', ')', () => this.region()) : [];
      const writes = ps.accept('writes') ? ps.list('(', ')', () => this.region()) : [];
      const annotations = ps.accept('annotations') ? ps.parseAttrs() : {};
      const init = ps.accept('init') ? this.bracedBody() : undefined;
      const body = this.seq(this.stmtList());
      return block(name, body, {
        iterVars: ivs,
        reads,
        writes,
        allocBuffers,
        init,
        annotations,
        span: ps.spanOf(start),
      });
    });
    ps.expect('}');
    if (!realize) return blk;
    return blockRealize(
      items.map((it) => it.value!),
      predicate,
      blk,
      ps.spanOf(start),
    );
  }
}

/** Parse the text of a PrimFunc (`prim_func(...) { ... }`). */
export function parsePrimFunc(text: string, options: TextParserOptions = {}): PrimFunc {
  const ps = new TextParser(text, options);
  return ps.guarded(() => {
    const start = ps.expect('prim_func');
    const fn = ps.withScope(() => new TirParser(ps).func(start), { catchesAutoDeclared: true });
    ps.expectEnd();
    return fn;
  });
}

export interface ParseStmtOptions {
  source?: string;
  /** Unknown scalar names become fresh int64 Vars. */
  autoDeclare?: boolean;
}

/** Parse a statement list (free variables and buffers resolved through `scope`). */
export function parseStmt(text: string, scope?: ScopeInit, options: ParseStmtOptions = {}): Stmt {
  const ps = new TextParser(text, { scope, source: options.source, autoDeclare: options.autoDeclare });
  const tp = new TirParser(ps);
  return ps.guarded(() => {
    const s = tp.seq(tp.stmtList());
    ps.expectEnd();
    return s;
  });
}
