// tir.InjectThreadBindings
// Does:        normalises the thread_binding loops of a GPU kernel and records its launch
//              configuration. Every `thread_binding` loop of a tag (blockIdx.x/y/z,
//              threadIdx.x/y/z) must have the same extent throughout the function (all
//              such loops name one hardware index); its min is shifted to 0. `vthread`
//              loops become serial loops (virtual threads run one after another). The
//              launch extents go to the function attribute `kiln.launch`:
//              `{ "blockIdx.x": 128, "threadIdx.x": 256 }`, a symbolic extent as an
//              encoded expression over the params (see LaunchExtent).
//              Sibling loops of one tag stay separate loops, each binding its own var to
//              the same hardware index: fusing their bodies into one loop would reorder
//              work across threads, which only a barrier makes legal.
// Requires:    no Block / BlockRealize. (Extents of one tag must be provably equal; run
//              tir.Simplify first so the recorded extent is in canonical form.)
// Establishes: thread tags are consistent; `kiln.launch` lists every bound tag; no loop
//              of a tag nests inside a loop of the same tag; blockIdx loops are not
//              nested inside serial/parallel/vectorized/unrolled loops.
import type { AttrValue, Node, PrimExpr } from '@kiln/ir-core';
import { Analyzer, add, intImm, KilnError, structuralEqual, substitute } from '@kiln/ir-core';
import type { For, PrimFunc, Stmt } from '../stmt.js';
import { forLoop, primFunc } from '../stmt.js';
import { mapStmtChildren } from './util.js';

export const THREAD_TAGS: readonly string[] = [
  'blockIdx.x',
  'blockIdx.y',
  'blockIdx.z',
  'threadIdx.x',
  'threadIdx.y',
  'threadIdx.z',
];
export const LAUNCH_ATTR = 'kiln.launch';
/** Error code for inconsistent thread bindings. */
export const THREAD_BINDING = 'THREAD_BINDING';

/**
 * A launch extent in `kiln.launch`: a number, or an expression the runtime evaluates on
 * the call's arguments: `{ param: i }` (scalar param i), `{ shape: [i, d] }` (dim d of
 * buffer param i), `{ op: 'Add' | 'Sub' | 'Mul' | 'FloorDiv' | 'FloorMod' | 'Min' | 'Max', args: [x, y] }`.
 */
export type LaunchExtent =
  | number
  | { readonly param: number }
  | { readonly shape: readonly [number, number] }
  | { readonly op: string; readonly args: readonly LaunchExtent[] };

const ENCODABLE_OPS = new Set(['Add', 'Sub', 'Mul', 'FloorDiv', 'FloorMod', 'Min', 'Max']);

function encodeExtent(e: PrimExpr, fn: PrimFunc, tag: string): LaunchExtent {
  if (e.kind === 'IntImm') return e.value;
  if (e.kind === 'Var') {
    const i = fn.params.indexOf(e);
    if (i >= 0) return { param: i };
    for (let p = 0; p < fn.params.length; p++) {
      const b = fn.params[p];
      if (b.kind !== 'Buffer') continue;
      const d = b.shape.indexOf(e);
      if (d >= 0) return { shape: [p, d] };
    }
  } else if (ENCODABLE_OPS.has(e.kind)) {
    const b = e as { a: PrimExpr; b: PrimExpr };
    return { op: e.kind, args: [encodeExtent(b.a, fn, tag), encodeExtent(b.b, fn, tag)] };
  }
  throw new KilnError(
    THREAD_BINDING,
    `launch extent of '${tag}' must be computable from the kernel's parameters`,
    {
      details: { tag },
    },
  );
}

function threadExtentsOf(fn: PrimFunc): Map<string, PrimExpr> {
  const extents = new Map<string, PrimExpr>();
  const walk = (s: Stmt, bound: ReadonlySet<string>, underLoop: boolean): void => {
    if (s.kind === 'For' && s.forKind === 'thread_binding' && !s.threadTag?.startsWith('vthread')) {
      const tag = s.threadTag ?? '';
      if (!THREAD_TAGS.includes(tag))
        throw new KilnError(THREAD_BINDING, `unknown thread tag '${tag}' on loop '${s.loopVar.name}'`, {
          span: s.span,
          details: { tag },
        });
      if (bound.has(tag))
        throw new KilnError(
          THREAD_BINDING,
          `thread tag '${tag}' is bound by loop '${s.loopVar.name}' inside another '${tag}' loop`,
          { span: s.span, details: { tag } },
        );
      if (underLoop && tag.startsWith('blockIdx')) {
        throw new KilnError(
          THREAD_BINDING,
          `'${tag}' loop '${s.loopVar.name}' is nested inside a non-thread loop`,
          { span: s.span, details: { tag } },
        );
      }
      const prev = extents.get(tag);
      if (prev === undefined) extents.set(tag, s.extent);
      else if (!structuralEqual(prev, s.extent) && !new Analyzer().canProveEqual(prev, s.extent)) {
        throw new KilnError(THREAD_BINDING, `thread tag '${tag}' is bound with two different extents`, {
          span: s.span,
          details: { tag },
          notes: [`loop '${s.loopVar.name}' disagrees with an earlier '${tag}' loop`],
        });
      }
      const inner = new Set(bound);
      inner.add(tag);
      walk(s.body, inner, underLoop);
      return;
    }
    const loop = s.kind === 'For' || s.kind === 'While';
    for (const c of stmtChildren(s)) walk(c, bound, underLoop || loop);
  };
  walk(fn.body, new Set(), false);
  return extents;
}

function stmtChildren(s: Stmt): Stmt[] {
  const out: Stmt[] = [];
  mapStmtChildren(s, (c) => {
    out.push(c);
    return c;
  });
  return out;
}

function normalize(s: Stmt): Stmt {
  const t = mapStmtChildren(s, normalize);
  if (t.kind !== 'For' || t.forKind !== 'thread_binding') return t;
  if (t.threadTag?.startsWith('vthread'))
    return forLoop(t.loopVar, t.min, t.extent, t.body, {
      kind: 'serial',
      annotations: t.annotations,
      span: t.span,
    });
  if (t.min.kind === 'IntImm' && t.min.value === 0) return t;
  return shiftToZero(t);
}

function shiftToZero(f: For): For {
  const v = f.loopVar;
  const body = substitute(f.body, new Map<Node, Node>([[v, add(v, f.min)]]));
  return forLoop(v, intImm(0, v.dtype), f.extent, body, {
    kind: 'thread_binding',
    threadTag: f.threadTag,
    annotations: f.annotations,
    span: f.span,
  });
}

export function injectThreadBindings(fn: PrimFunc): PrimFunc {
  const extents = threadExtentsOf(fn);
  const body = normalize(fn.body);
  if (extents.size === 0 && body === fn.body) return fn;
  const launch: Record<string, AttrValue> = {};
  for (const tag of THREAD_TAGS) {
    const e = extents.get(tag);
    if (e !== undefined) launch[tag] = encodeExtent(e, fn, tag) as AttrValue;
  }
  const attrs = extents.size === 0 ? fn.attrs : { ...fn.attrs, [LAUNCH_ATTR]: launch };
  if (body === fn.body && structuralEqual(attrs, fn.attrs)) return fn;
  return primFunc(fn.params, body, { attrs, retType: fn.retType, span: fn.span });
}
