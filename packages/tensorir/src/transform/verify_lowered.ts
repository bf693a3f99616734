// The lowered-TIR contract as a checker: `verifyLowered(fn)` lists every way `fn` falls
// short of what code generators may assume (see index.ts). Used by tests, by the
// `tir.VerifyLowered` pass at the end of tir.lowerForCodegen, and by codegen authors.
import type { Buffer, Node, Var } from '@kiln/ir-core';
import { postOrderVisit } from '@kiln/ir-core';
import type { PrimFunc, Stmt } from '../stmt.js';
import { isStmt } from '../stmt.js';
import { isFlatBuffer } from './flatten_buffer.js';
import { LAUNCH_ATTR } from './inject_thread_bindings.js';
import { CODEGEN_INTRINSICS, isTargetIntrinsic } from './lower_intrinsics.js';
import { lanesIndependent } from './vectorize_loop.js';

export function verifyLowered(fn: PrimFunc): string[] {
  const problems: string[] = [];
  const bound = new Set<Node>();
  let threadLoops = 0;
  const bind = (v: Node, what: string): void => {
    if (bound.has(v)) problems.push(`${what} '${(v as Var).name}' is bound more than once`);
    bound.add(v);
  };
  for (const p of fn.params) bind(p.kind === 'Buffer' ? p.data : p, 'param');

  const checkAccess = (kind: string, b: Buffer, indices: readonly Node[], live: ReadonlySet<Var>): void => {
    if (!isFlatBuffer(b) || indices.length !== 1)
      problems.push(`${kind} of '${b.name}' is not on a flat 1-D buffer`);
    const idx = indices[0] as { kind: string; dtype: { lanes: number } } | undefined;
    if (idx && idx.dtype.lanes > 1 && idx.kind !== 'Ramp')
      problems.push(`vector ${kind} of '${b.name}' has a non-Ramp index (${idx.kind})`);
    if (!live.has(b.data))
      problems.push(`${kind} of '${b.name}' uses storage that is neither a param nor allocated in scope`);
  };

  const exprs = (n: Node, live: ReadonlySet<Var>): void => {
    postOrderVisit(n, (x) => {
      if (x.kind === 'BufferLoad') {
        const l = x as unknown as { buffer: Buffer; indices: readonly Node[] };
        checkAccess('load', l.buffer, l.indices, live);
      } else if (x.kind === 'Call') {
        const op = (x as unknown as { op: string }).op;
        if (!CODEGEN_INTRINSICS.has(op) && !isTargetIntrinsic(op))
          problems.push(`intrinsic '${op}' is not one code generators implement`);
      }
    });
  };

  const walk = (s: Stmt, live: ReadonlySet<Var>): void => {
    let inner = live;
    switch (s.kind) {
      case 'Block':
      case 'BlockRealize':
        problems.push(`a ${s.kind} remains ('${s.kind === 'Block' ? s.name : s.block.name}')`);
        return;
      case 'For':
        bind(s.loopVar, 'loop var');
        if (s.forKind === 'vectorized' && !lanesIndependent(s)) {
          problems.push(
            `'vectorized' loop '${s.loopVar.name}' does not have provably independent iterations`,
          );
        }
        if (s.forKind === 'unrolled' && s.extent.kind === 'IntImm') {
          problems.push(`loop '${s.loopVar.name}' is 'unrolled' with a constant extent (run tir.UnrollLoop)`);
        }
        if (s.forKind === 'thread_binding') threadLoops++;
        exprs(s.min, live);
        exprs(s.extent, live);
        break;
      case 'LetStmt':
        bind(s.var, 'let var');
        exprs(s.value, live);
        break;
      case 'Allocate':
        bind(s.buffer.data, 'allocation');
        if (!isFlatBuffer(s.buffer)) problems.push(`allocation '${s.buffer.name}' is not flat`);
        inner = new Set(live).add(s.buffer.data);
        break;
      case 'DeclBuffer':
        if (!isFlatBuffer(s.buffer)) problems.push(`declared buffer '${s.buffer.name}' is not flat`);
        break;
      case 'BufferStore':
        checkAccess('store', s.buffer, s.indices, live);
        exprs(s.value, live);
        for (const i of s.indices) exprs(i, live);
        break;
      case 'IfThenElse':
      case 'While':
        exprs(s.cond, live);
        break;
      case 'Evaluate':
      case 'AttrStmt':
        exprs(s.value, live);
        break;
      case 'SeqStmt':
        break;
    }
    for (const c of childStmts(s)) walk(c, inner);
  };
  const params = new Set<Var>(fn.params.map((p) => (p.kind === 'Buffer' ? p.data : p)));
  walk(fn.body, params);
  if (threadLoops > 0 && fn.attrs[LAUNCH_ATTR] === undefined)
    problems.push(`thread-bound loops but no '${LAUNCH_ATTR}' attribute (run tir.InjectThreadBindings)`);
  return problems;
}

function childStmts(s: Stmt): Stmt[] {
  const out: Stmt[] = [];
  for (const v of Object.values(s)) {
    if (isStmt(v)) out.push(v);
    else if (Array.isArray(v)) for (const x of v) if (isStmt(x)) out.push(x);
  }
  return out;
}
