// The interpreter's fast engine: translate a PrimFunc body into JavaScript source once
// (locals for variables, inline arithmetic, inline bounds checks) and let the JS engine
// compile it. Same semantics and the same errors as the closure engine in
// interpreter.ts, which stays as the fallback and as a cross-check in the tests.
// Only expression text built from IR numbers and slot indices reaches the generated
// source; names and messages travel through the constants table `K`.
import type { Buffer, DataType, PrimExpr, Var } from '@kiln/ir-core';
import { assertNever, ErrorCodes, elementOf, KilnError } from '@kiln/ir-core';
import type { IntrinsicTable } from '../intrinsics.js';
import { lookupIntrinsic } from '../intrinsics.js';
import type { TypedArray } from '../ndarray.js';
import { allocTypedArray, isBigIntDType, roundToDType } from '../ndarray.js';
import type { Block, BlockRealize, Stmt } from '../stmt.js';
import type { Frame, Storage, XFn } from './semantics.js';
import { binOp, castFn, memOf, rounder, THREAD_REGS } from './semantics.js';

/** What the generator needs from the compiler that owns slots and scopes. */
export interface JitHost {
  readonly name: string;
  readonly intrinsics: IntrinsicTable;
  readonly hasThreads: boolean;
  readonly scope: Set<Var>;
  slot(v: Var): number;
  storageSlot(v: Var): number;
  slotCount(): number;
  storageCount(): number;
  withBound<T>(vars: readonly Var[], body: () => T): T;
  err(code: string, msg: string): KilnError;
  isConst(e: PrimExpr): boolean;
  /** Lane `l` of a constant expression, or undefined when it cannot be folded. */
  constLane(e: PrimExpr, l: number): number | undefined;
  /** Whether a statement contains a thread barrier. */
  hasSync(s: Stmt): boolean;
  /** The closure engine's compilation of a statement (used for loops with barriers). */
  closureStmt(s: Stmt): XFn;
}

interface AccessInfo {
  readonly fn: string;
  readonly buffer: string;
}
interface AllocInfo {
  readonly fn: string;
  readonly name: string;
  readonly dtype: DataType;
  readonly isFloat: boolean;
  readonly keyed: 'thread' | 'block' | undefined;
}
interface BindingInfo {
  readonly fn: string;
  readonly block: string;
  readonly vars: readonly string[];
}

/** Helpers the generated code calls (errors, allocation, per-thread memory). */
const R = Object.freeze({
  oob(info: AccessInfo, idx: number[], shape: number[]): never {
    let d = 0;
    while (d < idx.length && idx[d] >= 0 && idx[d] < shape[d]) d++;
    throw new KilnError(
      'OUT_OF_BOUNDS',
      `interpreting '${info.fn}': index [${idx.join(', ')}] out of bounds for buffer '${info.buffer}' of shape [${shape.join(', ')}] (dimension ${d}: ${idx[d]} not in [0, ${shape[d]}))`,
      { details: { buffer: info.buffer, index: idx, dimension: d } },
    );
  },
  oobStorage(info: AccessInfo, idx: number[], off: number, len: number): never {
    throw new KilnError(
      'OUT_OF_BOUNDS',
      `interpreting '${info.fn}': index [${idx.join(', ')}] of buffer '${info.buffer}' is at element ${off}, outside its storage of ${len} elements`,
      { details: { buffer: info.buffer, index: idx, offset: off } },
    );
  },
  bad(info: BindingInfo, k: number, v: number, lo: number, ext: number): never {
    throw new KilnError(
      'BLOCK_BINDING',
      `interpreting '${info.fn}': block '${info.block}' binds iter var '${info.vars[k]}' to ${v}, outside its domain [${lo}, ${lo + ext})`,
    );
  },
  alloc(info: AllocInfo, dims: number[], strides: number[]): Storage {
    let n = dims.reduce((a, b) => a * b, 1);
    if (strides.length > 0 && dims.length > 0) {
      n = 1;
      for (let d = 0; d < dims.length; d++) n += (dims[d] - 1) * strides[d];
      if (dims.some((x) => x === 0)) n = 0;
    }
    if (!Number.isInteger(n) || n < 0) {
      throw new KilnError(
        ErrorCodes.SHAPE_MISMATCH,
        `interpreting '${info.fn}': allocation of '${info.name}' with invalid size ${n}`,
      );
    }
    const data = allocTypedArray(info.dtype, n);
    if (info.isFloat) (data as Float32Array).fill(NaN);
    const big = isBigIntDType(info.dtype);
    return info.keyed
      ? { data, big, name: info.name, parts: new Map(), perThread: info.keyed === 'thread' }
      : { data, big, name: info.name };
  },
  memOf(st: Storage, t: Float64Array): TypedArray {
    return memOf(st, { v: t, s: [], t });
  },
  toBig(v: number): bigint {
    return Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
  },
});

type CompiledBody = (v: Float64Array, s: Array<Storage | undefined>, t: Float64Array) => void;

function lit(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '(-Infinity)';
  if (Object.is(v, -0)) return '(-0)';
  return v < 0 ? `(${v})` : String(v);
}

const CMP: Readonly<Record<string, string>> = { EQ: '===', NE: '!==', LT: '<', LE: '<=', GT: '>', GE: '>=' };

class JsGen {
  private readonly lines: string[] = [];
  private nTmp = 0;
  private nLoop = 0;
  private readonly K: unknown[] = [];

  constructor(private readonly h: JitHost) {}

  private k(x: unknown): string {
    this.K.push(x);
    return `K[${this.K.length - 1}]`;
  }
  private tmp(): string {
    return `t${this.nTmp++}`;
  }
  private emit(line: string): void {
    this.lines.push(line);
  }

  generate(body: Stmt): XFn {
    this.stmt(body);
    const decls: string[] = [];
    const nv = this.h.slotCount();
    for (let i = 0; i < nv; i++) decls.push(`let v${i} = V[${i}];`);
    const ns = this.h.storageCount();
    for (let i = 0; i < ns; i++)
      decls.push(`let s${i} = S[${i}], d${i} = s${i} === undefined ? undefined : s${i}.data;`);
    if (this.nTmp > 0)
      decls.push(`let ${Array.from({ length: this.nTmp }, (_, i) => `t${i} = 0`).join(', ')};`);
    const src = `"use strict";\nreturn function kiln_interp(V, S, T) {\n${decls.join('\n')}\n${this.lines.join('\n')}\n};`;
    const factory = new Function('K', 'R', src) as (k: unknown[], r: typeof R) => CompiledBody;
    const run = factory(this.K, R);
    return (f: Frame) => run(f.v, f.s, f.t);
  }

  // ------------------------------------------------------------ expressions

  private scalar(e: PrimExpr): string {
    return this.ex(e, 0);
  }

  private ex(e: PrimExpr, l: number): string {
    if (e.kind !== 'IntImm' && e.kind !== 'FloatImm' && this.h.isConst(e)) {
      const c = this.h.constLane(e, l);
      if (c !== undefined) return lit(c);
    }
    const li = e.dtype.lanes === 1 ? 0 : l;
    const sub = (x: PrimExpr): string => this.ex(x, x.dtype.lanes === 1 ? 0 : l);
    switch (e.kind) {
      case 'IntImm':
        return lit(e.value);
      case 'FloatImm':
        return lit(roundToDType(e.value, elementOf(e.dtype)));
      case 'StringImm':
        throw this.h.err(ErrorCodes.UNSUPPORTED, `string immediate "${e.value}" used as a value`);
      case 'Var': {
        if (!this.h.scope.has(e))
          throw new KilnError(ErrorCodes.WELL_FORMED, `variable '${e.name}' is used but not bound`);
        if (e.dtype.code === 'handle')
          throw this.h.err(ErrorCodes.UNSUPPORTED, `handle variable '${e.name}' used as a value`);
        return `v${this.h.slot(e) + li}`;
      }
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
      case 'Mod':
      case 'FloorDiv':
      case 'FloorMod':
      case 'Min':
      case 'Max':
      case 'EQ':
      case 'NE':
      case 'LT':
      case 'LE':
      case 'GT':
      case 'GE':
        return this.binary(e.kind, e.a.dtype, e.dtype, sub(e.a), sub(e.b));
      case 'And':
        return `((${sub(e.a)}) !== 0 && (${sub(e.b)}) !== 0 ? 1 : 0)`;
      case 'Or':
        return `((${sub(e.a)}) !== 0 || (${sub(e.b)}) !== 0 ? 1 : 0)`;
      case 'Not':
        return `((${sub(e.a)}) === 0 ? 1 : 0)`;
      case 'Select': {
        // Both branches are evaluated (TIR Select semantics), then one is picked.
        const [tc, tt, tf] = [this.tmp(), this.tmp(), this.tmp()];
        return `(${tc} = ${sub(e.cond)}, ${tt} = ${sub(e.t)}, ${tf} = ${sub(e.f)}, ${tc} !== 0 ? ${tt} : ${tf})`;
      }
      case 'Cast':
        return this.cast(e.value.dtype, e.dtype, sub(e.value));
      case 'Ramp': {
        const base = this.ex(e.base, 0);
        const stride = this.ex(e.stride, 0);
        const t = elementOf(e.dtype);
        const raw = `(${base} + ${li} * ${stride})`;
        return (t.code === 'int' || t.code === 'uint') && t.bits === 64 ? raw : `${this.k(rounder(t))}${raw}`;
      }
      case 'Broadcast':
        return this.ex(e.value, 0);
      case 'Let': {
        const v = `v${this.h.slot(e.var) + (e.var.dtype.lanes === 1 ? 0 : li)}`;
        const value = sub(e.value);
        const body = this.h.withBound([e.var], () => this.ex(e.body, l));
        return `(${v} = ${value}, ${body})`;
      }
      case 'Call':
        return this.call(e, l);
      case 'BufferLoad': {
        const buf = e.buffer;
        if (buf.dtype.lanes !== 1)
          throw this.h.err(ErrorCodes.UNSUPPORTED, `buffer '${buf.name}' of vector dtype ${buf.dtype.str}`);
        const off = this.access(
          buf,
          e.indices.map((ix) => sub(ix)),
        );
        const mem = this.mem(buf);
        return isBigIntDType(buf.dtype) ? `Number(${mem}[${off}])` : `${mem}[${off}]`;
      }
      default:
        return assertNever(e, 'PrimExpr kind');
    }
  }

  private binary(kind: string, operand: DataType, result: DataType, a: string, b: string): string {
    const t = elementOf(operand);
    const exact =
      ((t.code === 'int' || t.code === 'uint') && t.bits === 64) || (t.code === 'float' && t.bits === 64);
    const f32 = t.code === 'float' && t.bits === 32;
    const i32 = t.code === 'int' && t.bits === 32;
    const cmp = CMP[kind];
    if (cmp) return `(${a} ${cmp} ${b} ? 1 : 0)`;
    switch (kind) {
      case 'Add':
      case 'Sub':
      case 'Mul': {
        const op = kind === 'Add' ? '+' : kind === 'Sub' ? '-' : '*';
        if (exact) return `(${a} ${op} ${b})`;
        if (f32) return `Math.fround(${a} ${op} ${b})`;
        if (i32) return kind === 'Mul' ? `Math.imul(${a}, ${b})` : `((${a} ${op} ${b}) | 0)`;
        break;
      }
      case 'Div':
        if (t.code === 'float' && t.bits === 64) return `(${a} / ${b})`;
        if (f32) return `Math.fround(${a} / ${b})`;
        break;
      case 'Min':
        return `Math.min(${a}, ${b})`;
      case 'Max':
        return `Math.max(${a}, ${b})`;
      default:
        break;
    }
    return `${this.k(binOp(kind, operand, result))}(${a}, ${b})`;
  }

  private cast(from: DataType, to: DataType, v: string): string {
    const f = elementOf(from);
    const t = elementOf(to);
    if (f === t) return v;
    const fromInt = f.code === 'int' || f.code === 'uint' || f.code === 'bool';
    if (t.code === 'float' && t.bits === 64 && (fromInt || f.code === 'float' || f.code === 'bfloat'))
      return v;
    if (t.code === 'float' && t.bits === 32) return `Math.fround(${v})`;
    if ((t.code === 'int' || t.code === 'uint') && t.bits === 64 && fromInt) return v;
    return `${this.k(castFn(from, to))}(${v})`;
  }

  private call(e: Extract<PrimExpr, { kind: 'Call' }>, l: number): string {
    const def = lookupIntrinsic(e.op, this.h.intrinsics);
    if (!def) throw this.h.err(ErrorCodes.UNSUPPORTED, `unknown intrinsic '${e.op}'`);
    if (def.evalKind === 'effect') return '0';
    const arg = (x: PrimExpr): string => this.ex(x, x.dtype.lanes === 1 ? 0 : l);
    if (def.name === 'tir.if_then_else')
      return `((${arg(e.args[0])}) !== 0 ? ${arg(e.args[1])} : ${arg(e.args[2])})`;
    const ev = def.evaluate;
    if (!ev)
      throw this.h.err(ErrorCodes.UNSUPPORTED, `intrinsic '${def.name}' has no interpreter implementation`);
    const t = elementOf(e.dtype);
    const argTypes = e.args.map((a) => elementOf(a.dtype));
    const r = rounder(t);
    const args = e.args.map(arg);
    let w: (...xs: number[]) => number;
    if (args.length === 1) {
      const buf = [0];
      w = (x) => {
        buf[0] = x;
        return r(ev(buf, t, argTypes));
      };
    } else if (args.length === 2) {
      const buf = [0, 0];
      w = (x, y) => {
        buf[0] = x;
        buf[1] = y;
        return r(ev(buf, t, argTypes));
      };
    } else {
      w = (...xs) => r(ev(xs, t, argTypes));
    }
    return `${this.k(w)}(${args.join(', ')})`;
  }

  private mem(buf: Buffer): string {
    const ds = this.h.storageSlot(buf.data);
    return this.h.hasThreads ? `R.memOf(s${ds}, T)` : `d${ds}`;
  }

  /** The checked flat offset of `buf[indices]` as an expression (temps hold the indices). */
  private access(buf: Buffer, indices: readonly string[]): string {
    const nd = buf.shape.length;
    if (indices.length !== nd) {
      throw this.h.err(
        ErrorCodes.SHAPE_MISMATCH,
        `buffer '${buf.name}' has ${nd} dimensions but is accessed with ${indices.length} indices`,
      );
    }
    if (!this.h.scope.has(buf.data)) {
      throw new KilnError(
        ErrorCodes.WELL_FORMED,
        `interpreting '${this.h.name}': buffer '${buf.name}' is used but its storage is not bound (not a parameter, not allocated)`,
      );
    }
    const ds = this.h.storageSlot(buf.data);
    const shape = buf.shape.map((s) => this.scalar(s));
    let strides: string[];
    if (buf.strides.length > 0) {
      strides = buf.strides.map((s) => this.scalar(s));
    } else {
      strides = shape.map((_, d) => {
        const rest = shape.slice(d + 1);
        if (rest.length === 0) return '1';
        const nums = rest.map(Number);
        return nums.every((x) => Number.isFinite(x))
          ? String(nums.reduce((a, b) => a * b, 1))
          : `(${rest.join(' * ')})`;
      });
    }
    const elem = this.scalar(buf.elemOffset);
    const info = this.k({ fn: this.h.name, buffer: buf.name } satisfies AccessInfo);
    const ts = indices.map(() => this.tmp());
    const parts: string[] = indices.map((ix, d) => `${ts[d]} = ${ix}`);
    if (nd > 0) {
      const ok = ts.map((t, d) => `${t} >= 0 && ${t} < ${shape[d]}`).join(' && ');
      parts.push(`(${ok}) ? 0 : R.oob(${info}, [${ts.join(', ')}], [${shape.join(', ')}])`);
    }
    const terms = ts.map((t, d) => (strides[d] === '1' ? t : `${t} * ${strides[d]}`));
    if (elem !== '0' || terms.length === 0) terms.unshift(elem);
    const to = this.tmp();
    const len = this.h.hasThreads ? `s${ds}.data.length` : `d${ds}.length`;
    parts.push(`${to} = ${terms.join(' + ')}`);
    parts.push(
      `(${to} >= 0 && ${to} < ${len}) ? ${to} : R.oobStorage(${info}, [${ts.join(', ')}], ${to}, ${len})`,
    );
    return `(${parts.join(', ')})`;
  }

  // ------------------------------------------------------------ statements

  private stmt(s: Stmt): void {
    switch (s.kind) {
      case 'BufferStore': {
        const buf = s.buffer;
        if (buf.dtype.lanes !== 1)
          throw this.h.err(ErrorCodes.UNSUPPORTED, `buffer '${buf.name}' of vector dtype ${buf.dtype.str}`);
        const L = s.value.dtype.lanes;
        const idxLanes = s.indices.reduce((m, i) => Math.max(m, i.dtype.lanes), 1);
        if (
          s.value.dtype.code !== buf.dtype.code ||
          s.value.dtype.bits !== buf.dtype.bits ||
          (L !== idxLanes && L !== 1)
        ) {
          throw this.h.err(
            ErrorCodes.DTYPE_MISMATCH,
            `store of ${s.value.dtype.str} into buffer '${buf.name}' of ${buf.dtype.str} with ${idxLanes}-lane indices`,
          );
        }
        const lanes = Math.max(L, idxLanes);
        const big = isBigIntDType(buf.dtype);
        const plainFloat = buf.dtype.code === 'float' && buf.dtype.bits >= 32;
        const conv = (v: string): string =>
          big ? `R.toBig(${v})` : plainFloat ? v : `${this.k(rounder(buf.dtype))}(${v})`;
        const mem = this.mem(buf);
        const vals = Array.from({ length: lanes }, (_, l) => {
          const t = this.tmp();
          this.emit(`${t} = ${this.ex(s.value, L === 1 ? 0 : l)};`);
          return t;
        });
        // All lanes are read before any is written (a vector store is one operation).
        const offs = Array.from({ length: lanes }, (_, l) => {
          const t = this.tmp();
          this.emit(
            `${t} = ${this.access(
              buf,
              s.indices.map((ix) => this.ex(ix, ix.dtype.lanes === 1 ? 0 : l)),
            )};`,
          );
          return t;
        });
        for (let l = 0; l < lanes; l++) this.emit(`${mem}[${offs[l]}] = ${conv(vals[l])};`);
        return;
      }
      case 'LetStmt': {
        if (s.var.dtype.code === 'handle') {
          if (s.value.kind !== 'Var')
            throw this.h.err(ErrorCodes.UNSUPPORTED, `let of handle '${s.var.name}' to a non-variable`);
          const from = this.h.storageSlot(s.value);
          const to = this.h.storageSlot(s.var);
          this.emit(`s${to} = s${from}; d${to} = d${from};`);
          this.h.withBound([s.var], () => this.stmt(s.body));
          return;
        }
        const L = s.var.dtype.lanes;
        const base = this.h.slot(s.var);
        const vals = Array.from({ length: L }, (_, l) => this.ex(s.value, s.value.dtype.lanes === 1 ? 0 : l));
        if (L === 1) this.emit(`v${base} = ${vals[0]};`);
        else {
          const ts = vals.map((v) => {
            const t = this.tmp();
            this.emit(`${t} = ${v};`);
            return t;
          });
          ts.forEach((t, l) => {
            this.emit(`v${base + l} = ${t};`);
          });
        }
        this.h.withBound([s.var], () => this.stmt(s.body));
        return;
      }
      case 'For': {
        if (
          s.forKind === 'thread_binding' &&
          (s.threadTag ?? '').startsWith('threadIdx.') &&
          this.h.hasSync(s.body)
        ) {
          // Barriers need every thread as a coroutine: hand the loop to the closure engine,
          // spilling the variables and storage in scope to the frame it reads.
          const run = this.k(this.h.closureStmt(s));
          for (const v of this.h.scope) {
            if (v.dtype.code === 'handle') {
              const ds = this.h.storageSlot(v);
              this.emit(`S[${ds}] = s${ds};`);
            } else {
              const base = this.h.slot(v);
              for (let l = 0; l < v.dtype.lanes; l++) this.emit(`V[${base + l}] = v${base + l};`);
            }
          }
          this.emit(`${run}({ v: V, s: S, t: T });`);
          return;
        }
        const n = this.nLoop++;
        const mn = this.scalar(s.min);
        const ext = this.scalar(s.extent);
        const v = `v${this.h.slot(s.loopVar)}`;
        const reg =
          s.forKind === 'thread_binding' && s.threadTag !== undefined ? THREAD_REGS[s.threadTag] : undefined;
        this.emit(`{ const m${n} = ${mn}, e${n} = m${n} + ${ext};`);
        if (reg !== undefined) this.emit(`const r${n} = T[${reg}];`);
        this.emit(`for (let i${n} = m${n}; i${n} < e${n}; i${n}++) { ${v} = i${n};`);
        if (reg !== undefined) this.emit(`T[${reg}] = i${n} - m${n};`);
        this.h.withBound([s.loopVar], () => this.stmt(s.body));
        this.emit('}');
        if (reg !== undefined) this.emit(`T[${reg}] = r${n};`);
        this.emit('}');
        return;
      }
      case 'While':
        this.emit(`while ((${this.scalar(s.cond)}) !== 0) {`);
        this.stmt(s.body);
        this.emit('}');
        return;
      case 'IfThenElse':
        this.emit(`if ((${this.scalar(s.cond)}) !== 0) {`);
        this.stmt(s.then);
        if (s.else) {
          this.emit('} else {');
          this.stmt(s.else);
        }
        this.emit('}');
        return;
      case 'SeqStmt':
        for (const x of s.seq) this.stmt(x);
        return;
      case 'Evaluate': {
        if (s.value.kind === 'Call') {
          const def = lookupIntrinsic(s.value.op, this.h.intrinsics);
          if (def?.evalKind === 'effect') return;
        }
        if (s.value.kind === 'IntImm') return;
        for (let l = 0; l < s.value.dtype.lanes; l++) this.emit(`${this.ex(s.value, l)};`);
        return;
      }
      case 'Allocate':
        this.allocate(s.buffer);
        this.h.withBound([s.buffer.data], () => this.stmt(s.body));
        return;
      case 'DeclBuffer':
        if (!this.h.scope.has(s.buffer.data)) {
          throw new KilnError(
            ErrorCodes.WELL_FORMED,
            `interpreting '${this.h.name}': DeclBuffer '${s.buffer.name}' views storage '${s.buffer.data.name}' that is not bound`,
          );
        }
        this.stmt(s.body);
        return;
      case 'AttrStmt':
        this.stmt(s.body);
        return;
      case 'Block':
        this.blockBody(s);
        return;
      case 'BlockRealize':
        this.blockRealize(s);
        return;
      default:
        assertNever(s, 'Stmt kind');
    }
  }

  private allocate(buf: Buffer): void {
    if (buf.dtype.lanes !== 1)
      throw this.h.err(ErrorCodes.UNSUPPORTED, `allocation of vector dtype ${buf.dtype.str} ('${buf.name}')`);
    const ds = this.h.storageSlot(buf.data);
    const sc = buf.scope;
    const keyed = !this.h.hasThreads
      ? undefined
      : sc.startsWith('local') || sc.startsWith('wmma') || sc === 'warp'
        ? 'thread'
        : sc.startsWith('shared')
          ? 'block'
          : undefined;
    const info: AllocInfo = {
      fn: this.h.name,
      name: buf.name,
      dtype: buf.dtype,
      isFloat: buf.dtype.code === 'float' || buf.dtype.code === 'bfloat',
      keyed,
    };
    const dims = buf.shape.map((e) => this.scalar(e));
    const strides = buf.strides.map((e) => this.scalar(e));
    this.emit(
      `s${ds} = R.alloc(${this.k(info)}, [${dims.join(', ')}], [${strides.join(', ')}]); d${ds} = s${ds}.data;`,
    );
  }

  private blockRealize(br: BlockRealize): void {
    const blk = br.block;
    const pred =
      br.predicate.kind === 'IntImm' && br.predicate.value === 1 ? undefined : this.scalar(br.predicate);
    if (pred) this.emit(`if ((${pred}) !== 0) {`);
    else this.emit('{');
    // Bindings are all evaluated before any iter var is written.
    const ts = br.iterValues.map((v) => {
      const t = this.tmp();
      this.emit(`${t} = ${this.scalar(v)};`);
      return t;
    });
    const info = this.k({
      fn: this.h.name,
      block: blk.name,
      vars: blk.iterVars.map((iv) => iv.var.name),
    } satisfies BindingInfo);
    blk.iterVars.forEach((iv, k) => {
      const lo = this.scalar(iv.dom.min);
      const ext = this.scalar(iv.dom.extent);
      this.emit(
        `if (!(${ts[k]} >= ${lo} && ${ts[k]} < ${lo} + ${ext})) R.bad(${info}, ${k}, ${ts[k]}, ${lo}, ${ext});`,
      );
      this.emit(`v${this.h.slot(iv.var)} = ${ts[k]};`);
    });
    this.blockBody(blk);
    this.emit('}');
  }

  private blockBody(blk: Block): void {
    this.h.withBound(
      blk.iterVars.map((iv) => iv.var),
      () => {
        for (const b of blk.allocBuffers) this.allocate(b);
        this.h.withBound(
          blk.allocBuffers.map((b) => b.data),
          () => {
            if (blk.init) {
              const red = blk.iterVars.filter((iv) => iv.iterType === 'reduce');
              const cond = red.map((iv) => `v${this.h.slot(iv.var)} === ${this.scalar(iv.dom.min)}`);
              this.emit(`if (${cond.length ? cond.join(' && ') : 'true'}) {`);
              this.stmt(blk.init);
              this.emit('}');
            }
            this.stmt(blk.body);
          },
        );
      },
    );
  }
}

/** Generate and compile the body of a PrimFunc; returns a runner over an interpreter frame. */
export function generateJs(host: JitHost, body: Stmt): XFn {
  return new JsGen(host).generate(body);
}
