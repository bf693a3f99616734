// relax.FuseOpsByPattern: group subgraphs of Relax dataflow that match declarative patterns
// into private functions with a `Composite` attribute naming the pattern (and `Primitive`),
// called where the match's last binding was — the form an external library (a BYOC
// backend) is offloaded to. FuseTIR leaves Composite functions alone.
// Patterns: a small language over operator calls. Text form:
//   pattern := alt ('|' alt)*
//   alt     := '*' | 'const' | op ['?'] '(' pattern (',' pattern)* ')'
// `*` matches any value (it becomes an input of the composite function), `const` a
// constant, `op(...)` a call of the operator (`matmul` = `relax.matmul`, `relu` =
// `relax.nn.relu`, or a full name) whose arguments match; `op?(inner, rest...)` is an
// optional epilogue: `op(inner, rest...)` if that matches, else just `inner`.
// Example: `relu?(add?(matmul(*, *), *))` is matmul with optional bias and relu.
// Matching looks through dataflow variables bound in the same block; a match is refused
// when one of its intermediate values is used outside it, or when a binding of it was
// already grouped. Patterns apply in order; within a pattern, later roots first, so the
// longest epilogue wins.
// Requires: normalized Relax with operator calls (run it before LegalizeOps). Establishes:
// 'composite_fused'.
import type { Attrs, IRModule, Node, PassContext } from '@kiln/ir-core';
import {
  definePass,
  ErrorCodes,
  freshGlobalName,
  irModule,
  KilnError,
  moduleEntries,
  substitute,
} from '@kiln/ir-core';
import type { Binding, Block, Expr, RelaxFunction, Var } from '@kiln/relax';
import {
  call,
  createOpRegistry,
  dataflowBlock,
  dataflowVar,
  globalVar,
  relaxFunction,
  relaxVar,
  seqExpr,
  varBinding,
  withStructInfo,
} from '@kiln/relax';
import { z } from 'zod';
import { mapFunctionBlocks, relaxVarsUsed } from './util.js';

export type Pattern =
  | { readonly kind: 'wildcard' }
  | { readonly kind: 'const' }
  | { readonly kind: 'op'; readonly op: string; readonly args: readonly Pattern[]; readonly attrs?: Attrs }
  | { readonly kind: 'or'; readonly alts: readonly Pattern[] };

export const wildcard = (): Pattern => Object.freeze({ kind: 'wildcard' });
export const isConst = (): Pattern => Object.freeze({ kind: 'const' });
/** A call of `op` whose arguments match `args`; `attrs` (if given) must agree. */
export function isOp(op: string, args: readonly Pattern[], attrs?: Attrs): Pattern {
  return Object.freeze({ kind: 'op', op, args: Object.freeze([...args]), attrs });
}
export function or(...alts: Pattern[]): Pattern {
  return Object.freeze({ kind: 'or', alts: Object.freeze(alts) });
}
/** `wrap(inner)` when it matches, else `inner`: an optional epilogue. */
export function optional(inner: Pattern, wrap: (p: Pattern) => Pattern): Pattern {
  return or(wrap(inner), inner);
}

/** A named pattern; `check` may veto a match (e.g. on dtypes or shapes). */
export interface FusionPattern {
  readonly name: string;
  readonly pattern: Pattern | string;
  readonly check?: (m: PatternMatch) => boolean;
}

export interface PatternMatch {
  /** The matched bindings, in block order; the last is the root. */
  readonly bindings: readonly Binding[];
  /** The values matched by `*` / `const`, in first-match order. */
  readonly inputs: readonly Expr[];
}

// ---------------------------------------------------------------- text form

const PATTERN_SYNTAX = 'PATTERN_SYNTAX';

/** Parse the text form; bare op names resolve to `relax.<name>` or `relax.nn.<name>`. */
export function parsePattern(text: string, knownOps: (name: string) => boolean = defaultKnownOps()): Pattern {
  const toks = text.match(/\s*([A-Za-z_][A-Za-z0-9_.]*|\*|\?|\(|\)|,|\||\S)/g)?.map((t) => t.trim()) ?? [];
  let i = 0;
  const fail = (msg: string): never => {
    throw new KilnError(PATTERN_SYNTAX, `pattern '${text}': ${msg}`, { details: { pattern: text } });
  };
  const peek = () => toks[i];
  const expect = (t: string) => {
    if (toks[i] !== t) fail(`expected '${t}' at token ${i + 1}, got '${toks[i] ?? 'end'}'`);
    i++;
  };
  const resolve = (name: string): string => {
    if (name.includes('.') && knownOps(name)) return name;
    for (const cand of [`relax.${name}`, `relax.nn.${name}`, name]) if (knownOps(cand)) return cand;
    return fail(`unknown operator '${name}'`);
  };
  const alt = (): Pattern => {
    const t = toks[i++];
    if (t === undefined) return fail('unexpected end');
    if (t === '*') return wildcard();
    if (t === 'const') return isConst();
    if (!/^[A-Za-z_]/.test(t)) return fail(`unexpected '${t}'`);
    const opName = resolve(t);
    let opt = false;
    if (peek() === '?') {
      opt = true;
      i++;
    }
    expect('(');
    const args: Pattern[] = [pattern()];
    while (peek() === ',') {
      i++;
      args.push(pattern());
    }
    expect(')');
    return opt ? or(isOp(opName, args), args[0]) : isOp(opName, args);
  };
  const pattern = (): Pattern => {
    const alts = [alt()];
    while (peek() === '|') {
      i++;
      alts.push(alt());
    }
    return alts.length === 1 ? alts[0] : or(...alts);
  };
  const p = pattern();
  if (i !== toks.length) fail(`unexpected '${toks[i]}' after the pattern`);
  return p;
}

function defaultKnownOps(): (name: string) => boolean {
  const reg = createOpRegistry();
  return (n) => reg.has(n);
}

// ---------------------------------------------------------------- matching

interface MatchState {
  readonly members: Set<number>;
  readonly inputs: Expr[];
}

class BlockMatcher {
  private readonly index = new Map<Node, number>();
  private readonly users = new Map<number, Set<number>>();
  readonly grouped = new Set<number>();

  constructor(readonly block: Block) {
    block.bindings.forEach((b, i) => this.index.set(b.var, i));
    block.bindings.forEach((b, i) => {
      for (const v of relaxVarsUsed(b.value)) {
        const p = this.index.get(v);
        if (p === undefined) continue;
        const s = this.users.get(p) ?? new Set<number>();
        s.add(i);
        this.users.set(p, s);
      }
    });
  }

  private matchValue(p: Pattern, e: Expr, st: MatchState): MatchState | undefined {
    switch (p.kind) {
      case 'wildcard':
        return { members: st.members, inputs: st.inputs.includes(e) ? st.inputs : [...st.inputs, e] };
      case 'const':
        return e.kind === 'relax.Constant'
          ? { members: st.members, inputs: st.inputs.includes(e) ? st.inputs : [...st.inputs, e] }
          : undefined;
      case 'or':
        for (const a of p.alts) {
          const r = this.matchValue(a, e, st);
          if (r) return r;
        }
        return undefined;
      case 'op': {
        const bi = this.index.get(e);
        if (bi === undefined || this.grouped.has(bi)) return undefined;
        return this.matchBinding(p, bi, st);
      }
    }
  }

  matchBinding(p: Pattern, bi: number, st: MatchState): MatchState | undefined {
    if (p.kind === 'or') {
      for (const a of p.alts) {
        const r = this.matchBinding(a, bi, st);
        if (r) return r;
      }
      return undefined;
    }
    if (p.kind !== 'op') return undefined;
    const b = this.block.bindings[bi];
    const v = b.value;
    if (
      b.kind !== 'relax.VarBinding' ||
      v.kind !== 'relax.Call' ||
      v.op.kind !== 'relax.Op' ||
      v.op.name !== p.op
    )
      return undefined;
    if (v.args.length !== p.args.length) return undefined;
    if (p.attrs && Object.entries(p.attrs).some(([k, a]) => JSON.stringify(v.attrs[k]) !== JSON.stringify(a)))
      return undefined;
    let cur: MatchState = { members: new Set([...st.members, bi]), inputs: st.inputs };
    for (let k = 0; k < p.args.length; k++) {
      const r = this.matchValue(p.args[k], v.args[k], cur);
      if (!r) return undefined;
      cur = r;
    }
    return cur;
  }

  /** Intermediates must not be used outside the match (or outside the block). */
  closed(root: number, members: ReadonlySet<number>): boolean {
    for (const m of members) {
      if (m === root) continue;
      if (this.block.bindings[m].var.kind === 'relax.Var') return false;
      for (const u of this.users.get(m) ?? []) if (!members.has(u)) return false;
    }
    return true;
  }
}

interface CompiledPattern {
  readonly name: string;
  readonly pattern: Pattern;
  readonly check?: FusionPattern['check'];
}

function buildComposite(bindings: readonly Binding[], name: string): { fn: RelaxFunction; args: Expr[] } {
  const inside = new Set<Node>(bindings.map((b) => b.var));
  const params: Var[] = [];
  const args: Expr[] = [];
  const subst = new Map<Node, Node>();
  for (const b of bindings) {
    for (const v of relaxVarsUsed(b.value)) {
      if (inside.has(v) || subst.has(v)) continue;
      const x = v as unknown as Var;
      const p = relaxVar(x.name, x.structInfo);
      params.push(p);
      args.push(x);
      subst.set(v, p);
    }
  }
  const last = bindings[bindings.length - 1];
  const out: Binding[] = bindings.map((b) => {
    const nv =
      b === last ? relaxVar(b.var.name, b.var.structInfo) : dataflowVar(b.var.name, b.var.structInfo);
    const value = substitute(b.value, subst);
    subst.set(b.var, nv);
    return varBinding(nv, value);
  });
  const ret = out[out.length - 1].var;
  const body = withStructInfo(seqExpr([dataflowBlock(out)], ret), ret.structInfo);
  return {
    fn: relaxFunction(params, body, ret.structInfo, { attrs: { Composite: name, Primitive: true } }),
    args,
  };
}

/** FuseOpsByPattern over a module with the given patterns. */
export function fuseOpsByPattern(mod: IRModule, patterns: readonly FusionPattern[]): IRModule {
  const known = defaultKnownOps();
  const compiled: CompiledPattern[] = patterns.map((p) => ({
    name: p.name,
    pattern: typeof p.pattern === 'string' ? parsePattern(p.pattern, known) : p.pattern,
    check: p.check,
  }));
  const added: Array<[string, Node]> = [];
  const taken = new Set<string>();
  let changed = false;
  const entries = moduleEntries(mod).map(([g, f]): [string, Node] => {
    if (f.kind !== 'relax.Function') return [g, f];
    const rf = f as unknown as RelaxFunction;
    if (rf.attrs.Composite !== undefined || rf.attrs.Primitive !== undefined) return [g, f];
    const nf = mapFunctionBlocks(rf, (blk) => {
      if (blk.kind !== 'relax.DataflowBlock') return blk;
      const m = new BlockMatcher(blk);
      const groups: Array<{ root: number; members: Set<number>; name: string }> = [];
      for (const cp of compiled) {
        for (let bi = blk.bindings.length - 1; bi >= 0; bi--) {
          if (m.grouped.has(bi)) continue;
          const r = m.matchBinding(cp.pattern, bi, { members: new Set(), inputs: [] });
          if (!r || !m.closed(bi, r.members)) continue;
          const bindings = [...r.members].sort((a, b) => a - b).map((i) => blk.bindings[i]);
          if (cp.check && !cp.check({ bindings, inputs: r.inputs })) continue;
          for (const i of r.members) m.grouped.add(i);
          groups.push({ root: bi, members: r.members, name: cp.name });
        }
      }
      if (groups.length === 0) return blk;
      const replace = new Map<number, Binding>();
      const dropped = new Set<number>();
      // Named in block order, so the first composite gets the plain name.
      for (const gr of [...groups].sort((a, b) => a.root - b.root)) {
        const bindings = [...gr.members].sort((a, b) => a - b).map((i) => blk.bindings[i]);
        const { fn, args } = buildComposite(bindings, gr.name);
        const base = `fused_${gr.name.replace(/[^A-Za-z0-9_]/g, '_')}`;
        let fname = freshGlobalName(mod, base);
        for (let i = 1; taken.has(fname); i++) fname = freshGlobalName(mod, `${base}${i}`);
        taken.add(fname);
        added.push([fname, fn as unknown as Node]);
        const rootVar = blk.bindings[gr.root].var;
        replace.set(
          gr.root,
          varBinding(
            rootVar,
            call(globalVar(fname, fn.structInfo), args, { structInfo: rootVar.structInfo }),
          ),
        );
        for (const i of gr.members) if (i !== gr.root) dropped.add(i);
      }
      const out: Binding[] = [];
      blk.bindings.forEach((b, i) => {
        if (!dropped.has(i)) out.push(replace.get(i) ?? b);
      });
      return dataflowBlock(out, blk.span);
    });
    if (nf !== rf) changed = true;
    return [g, nf as unknown as Node];
  });
  if (!changed) return mod;
  return irModule([...entries, ...added], mod.attrs);
}

const optionsSchema = z.object({
  /** Patterns in text form, applied after those the pass was created with. */
  patterns: z.array(z.object({ name: z.string().min(1), pattern: z.string().min(1) })).default([]),
});

/** The pass over `patterns` (objects with `check` callbacks allowed); more may come from options. */
export function createFuseOpsByPattern(patterns: readonly FusionPattern[] = []) {
  return definePass<z.output<typeof optionsSchema>, z.input<typeof optionsSchema>>({
    name: 'relax.FuseOpsByPattern',
    kind: 'module',
    establishes: ['composite_fused'],
    options: optionsSchema,
    run(mod: IRModule, _ctx: PassContext, o) {
      const all = [...patterns, ...o.patterns];
      if (all.length === 0) {
        throw new KilnError(
          ErrorCodes.INVALID_ARGUMENT,
          "relax.FuseOpsByPattern: no patterns given (option 'patterns')",
        );
      }
      return fuseOpsByPattern(mod, all);
    },
  });
}

/** `relax.FuseOpsByPattern` taking its patterns from the `patterns` option. */
export const FuseOpsByPattern = createFuseOpsByPattern();
