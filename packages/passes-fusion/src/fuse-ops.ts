// relax.FuseOps: group call_tir bindings of each dataflow block (and of ordinary binding
// blocks, for frontends that emit no dataflow blocks) by TVM's fusion rules and lift
// every group of two or more kernels into a private Relax function marked `Primitive`,
// called from where the group's last binding was.
// The rules work on the post-dominator tree of the block's dataflow graph (a group is
// always a node, its post-dominator and everything between, so only the group's last
// value is used outside it):
//  - out_elemwise_fusable (matmul, conv) and comm_reduce kernels take their epilogue when
//    every kernel on the way to the post-dominator, and the post-dominator, is
//    elemwise/broadcast (bias add, activation, scaling);
//  - elemwise/broadcast kernels fuse into a post-dominator that is elemwise, broadcast,
//    injective, a reduction or matmul-like, through elemwise/broadcast/injective kernels;
//  - injective kernels (reshape, transpose, gather) fuse with injective consumers;
//  - opaque kernels and bindings that are not call_tir never fuse; a value that is an
//    output of the dataflow block (or, in an ordinary block, is used outside it) has no
//    post-dominator, so it ends a group.
// A fusion is refused when the group would exceed `maxDepth` kernels, when a member has a
// tensor of unknown shape or dtype, or when a symbolic dimension used inside the group is
// not defined by the shapes of the group's inputs (the fused kernel could not get it).
// Requires: kernels with an `op_pattern` (run relax.AnnotateTIROpPattern; kernels without
// one count as opaque). Establishes: 'ops_fused'.
import type { IRModule, Node, PassContext, Var as PrimVar } from '@kiln/ir-core';
import { definePass, freshGlobalName, irModule, moduleEntries, substitute } from '@kiln/ir-core';
import type { AnyVar, Binding, Block, Expr, OpPattern, RelaxFunction, StructInfo, Var } from '@kiln/relax';
import {
  bindingBlock,
  call,
  dataflowBlock,
  dataflowVar,
  globalVar,
  relaxFunction,
  relaxVar,
  seqExpr,
  symbolicVarsOf,
  varBinding,
  withStructInfo,
} from '@kiln/relax';
import { z } from 'zod';
import { maxPattern, opPatternOf, PATTERN_RANK } from './annotate-tir-op-pattern.js';
import { callTIRParts, knownTensor, mapFunctionBlocks, primFuncOf, relaxVarsUsed } from './util.js';

export const fuseOpsOptions = z.object({
  /** Largest number of kernels in one fused group (TVM's max_fuse_depth). */
  maxDepth: z.number().int().min(1).default(256),
});
export type FuseOpsOptions = z.output<typeof fuseOpsOptions>;

interface GraphNode {
  readonly index: number;
  readonly binding: Binding;
  readonly pattern: OpPattern;
  /** Kernel name, for the fused function's name. */
  readonly kernel?: string;
  readonly consumers: number[];
  /** Used outside the block (an output var): no post-dominator inside. */
  readonly externRef: boolean;
}

/** Union-find over graph nodes; the root carries the group's combined pattern and size. */
class Groups {
  private readonly parent: number[];
  readonly pattern: OpPattern[];
  readonly size: number[];
  constructor(nodes: readonly GraphNode[]) {
    this.parent = nodes.map((n) => n.index);
    this.pattern = nodes.map((n) => n.pattern);
    this.size = nodes.map(() => 1);
  }
  find(i: number): number {
    let r = i;
    while (this.parent[r] !== r) r = this.parent[r];
    while (this.parent[i] !== r) {
      const next = this.parent[i];
      this.parent[i] = r;
      i = next;
    }
    return r;
  }
  /** Merge the group of `child` into the group of `into` (whose root stays the root). */
  merge(child: number, into: number): void {
    const a = this.find(child);
    const b = this.find(into);
    if (a === b) return;
    this.parent[a] = b;
    this.pattern[b] = maxPattern(this.pattern[a], this.pattern[b]);
    this.size[b] += this.size[a];
  }
  patternOf(i: number): OpPattern {
    return this.pattern[this.find(i)];
  }
}

/** Immediate post-dominators (-1: none inside the block), with depths for LCA queries. */
function postDominators(nodes: readonly GraphNode[]): number[] {
  const ipdom = nodes.map(() => -1);
  const depth = nodes.map(() => 0);
  const lca = (a: number, b: number): number => {
    while (a !== b) {
      if (a < 0 || b < 0) return -1;
      if (depth[a] > depth[b]) a = ipdom[a];
      else if (depth[b] > depth[a]) b = ipdom[b];
      else {
        a = ipdom[a];
        b = ipdom[b];
      }
    }
    return a;
  };
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    if (n.externRef || n.consumers.length === 0) continue;
    let p = n.consumers[0];
    for (const c of n.consumers.slice(1)) p = lca(p, c);
    ipdom[i] = p;
    depth[i] = p < 0 ? 0 : depth[p] + 1;
  }
  return ipdom;
}

type PathCond = (p: OpPattern, isSink: boolean) => boolean;

class BlockFuser {
  readonly nodes: GraphNode[] = [];
  private readonly varNode = new Map<Node, number>();
  private groups!: Groups;
  private ipdom!: number[];

  constructor(
    private readonly block: Block,
    private readonly mod: IRModule,
    private readonly opts: FuseOpsOptions,
    private readonly usedOutside: (v: Node) => boolean,
  ) {}

  build(): void {
    this.block.bindings.forEach((b, i) => {
      let pattern: OpPattern = 'opaque';
      let kernel: string | undefined;
      const ct = b.kind === 'relax.VarBinding' ? callTIRParts(b.value) : undefined;
      if (ct) {
        const pf = primFuncOf(this.mod, ct.callee.name);
        kernel = ct.callee.name;
        const shapesKnown =
          knownTensor(ct.out) !== undefined && ct.args.every((a) => knownTensor(a.structInfo) !== undefined);
        // Only single-tensor kernels with known shapes take part (tuple outputs stay alone).
        if (pf && shapesKnown) pattern = opPatternOf(pf) ?? 'opaque';
      }
      this.nodes.push({
        index: i,
        binding: b,
        pattern,
        kernel,
        consumers: [],
        externRef: this.usedOutside(b.var),
      });
      this.varNode.set(b.var, i);
    });
    this.nodes.forEach((n) => {
      for (const v of relaxVarsUsed(n.binding.value)) {
        const p = this.varNode.get(v);
        if (p !== undefined && p < n.index && !this.nodes[p].consumers.includes(n.index))
          this.nodes[p].consumers.push(n.index);
      }
    });
    this.groups = new Groups(this.nodes);
    this.ipdom = postDominators(this.nodes);
  }

  /** Nodes on every path from `src` (exclusive) to `sink` (inclusive), if all satisfy `cond`. */
  private checkPath(src: number, sink: number, cond: PathCond): number[] | undefined {
    const visited = new Set<number>();
    const onPath: number[] = [];
    const visit = (i: number): boolean => {
      if (visited.has(i)) return true;
      visited.add(i);
      const isSink = i === sink;
      if (!cond(this.groups.patternOf(i), isSink)) return false;
      onPath.push(i);
      if (isSink) return true;
      // Post-dominance guarantees every path ends at the sink inside the block.
      return this.nodes[i].consumers.every(visit);
    };
    for (const c of this.nodes[src].consumers) if (!visit(c)) return undefined;
    return onPath;
  }

  /** Group members if `src`'s group were merged with the nodes on the path. */
  private prospective(src: number, path: readonly number[]): number[] {
    const roots = new Set<number>([this.groups.find(src), ...path.map((i) => this.groups.find(i))]);
    return this.nodes.filter((n) => roots.has(this.groups.find(n.index))).map((n) => n.index);
  }

  /** Every symbolic var used inside the group must be defined by its inputs' shapes. */
  private symbolicOk(members: readonly number[]): boolean {
    const inside = new Set<Node>(members.map((i) => this.nodes[i].binding.var));
    const defined = new Set<PrimVar>();
    const used: PrimVar[] = [];
    for (const i of members) {
      const b = this.nodes[i].binding;
      for (const v of relaxVarsUsed(b.value)) {
        if (inside.has(v)) continue;
        const s = (v as AnyVar).structInfo;
        const t = knownTensor(s);
        if (t && t.shape.kind === 'relax.ShapeExpr')
          for (const d of t.shape.values) if (d.kind === 'Var') defined.add(d);
      }
      used.push(...symbolicVarsOf(b.var.structInfo));
      const ct = callTIRParts(b.value);
      for (const e of ct?.tirVars ?? []) used.push(...symbolicVarsOf(e));
    }
    return used.every((v) => defined.has(v));
  }

  private tryFuse(src: number, cond: PathCond): void {
    const sink = this.ipdom[src];
    if (sink < 0 || this.groups.find(src) === this.groups.find(sink)) return;
    const path = this.checkPath(src, sink, cond);
    if (!path) return;
    const members = this.prospective(src, path);
    if (members.length > this.opts.maxDepth) return;
    if (!this.symbolicOk(members)) return;
    this.groups.merge(src, sink);
    for (const i of path) this.groups.merge(i, sink);
  }

  run(): void {
    const le = (p: OpPattern, q: OpPattern) => PATTERN_RANK[p] <= PATTERN_RANK[q];
    for (let phase = 0; phase < 2; phase++) {
      for (const n of this.nodes) {
        const i = n.index;
        // Only a group's last node can extend it (the others are post-dominated inside).
        if (this.groups.find(i) !== i) continue;
        const gp = this.groups.patternOf(i);
        if (gp === 'opaque') continue;
        if (gp === 'out_elemwise_fusable' || gp === 'comm_reduce') {
          if (phase === 0) this.tryFuse(i, (p) => le(p, 'broadcast'));
        } else if (le(gp, 'broadcast')) {
          if (phase === 0) this.tryFuse(i, (p, isSink) => (isSink ? p !== 'opaque' : le(p, 'injective')));
        } else if (gp === 'injective') {
          if (phase === 1) this.tryFuse(i, (p) => le(p, 'injective'));
        }
      }
    }
  }

  /** Member node indices of each group of two or more nodes, keyed by root. */
  fusedGroups(): Map<number, number[]> {
    const out = new Map<number, number[]>();
    for (const n of this.nodes) {
      const r = this.groups.find(n.index);
      const arr = out.get(r) ?? [];
      arr.push(n.index);
      out.set(r, arr);
    }
    for (const [r, m] of out) if (m.length < 2) out.delete(r);
    return out;
  }
}

interface LiftedGroup {
  readonly name: string;
  readonly fn: RelaxFunction;
  readonly args: readonly Expr[];
}

/** Build the Primitive function of a group and the arguments to call it with. */
function liftGroup(
  members: readonly Binding[],
  kernels: readonly string[],
  mod: IRModule,
  taken: Set<string>,
): LiftedGroup {
  const inside = new Set<Node>(members.map((b) => b.var));
  const inputs: Expr[] = [];
  const seen = new Set<Node>();
  const params: Var[] = [];
  const subst = new Map<Node, Node>();
  const addInput = (e: Expr): void => {
    if (seen.has(e) || inside.has(e)) return;
    seen.add(e);
    inputs.push(e);
    const name = e.kind === 'relax.Var' || e.kind === 'relax.DataflowVar' ? e.name : `c${params.length}`;
    const p = relaxVar(name, e.structInfo as StructInfo);
    params.push(p);
    subst.set(e, p);
  };
  for (const b of members) {
    const ct = callTIRParts(b.value);
    for (const a of ct?.args ?? []) {
      if (a.kind === 'relax.Var' || a.kind === 'relax.DataflowVar' || a.kind === 'relax.Constant')
        addInput(a);
    }
    for (const v of relaxVarsUsed(b.value)) if (!inside.has(v)) addInput(v as Expr);
  }
  const bindings: Binding[] = [];
  const last = members[members.length - 1];
  for (const b of members) {
    const v = b === last ? relaxVar(b.var.name, b.var.structInfo) : dataflowVar(b.var.name, b.var.structInfo);
    subst.set(b.var, v);
    const value = substitute(b.value, subst);
    bindings.push(varBinding(v, value));
  }
  const out = subst.get(last.var) as Var;
  const body = withStructInfo(seqExpr([dataflowBlock(bindings)], out), out.structInfo);
  const fn = relaxFunction(params, body, out.structInfo, { attrs: { Primitive: true } });
  const base = `fused_${kernels.map((k) => k.replace(/^fused_/, '')).join('_')}`.slice(0, 80);
  let name = freshGlobalName(mod, base);
  for (let i = 1; taken.has(name); i++) name = freshGlobalName(mod, `${base}${i}`);
  taken.add(name);
  return { name, fn, args: inputs };
}

/**
 * For each var, the bindings that use it (`null`: used elsewhere — the function's result).
 * Uses inside nested scopes count for the enclosing binding.
 */
function usesByBinding(fn: RelaxFunction): Map<Node, Array<Binding | null>> {
  const out = new Map<Node, Array<Binding | null>>();
  const add = (e: Node, where: Binding | null) => {
    for (const v of relaxVarsUsed(e)) {
      const s = out.get(v) ?? [];
      s.push(where);
      out.set(v, s);
    }
  };
  const walk = (e: Expr): void => {
    if (e.kind === 'relax.SeqExpr') {
      for (const b of e.blocks) for (const x of b.bindings) add(x.value, x);
      walk(e.body);
    } else add(e, null);
  };
  walk(fn.body);
  return out;
}

/** FuseOps over a module; exposed for callers that want the function without the pass. */
export function fuseOps(mod: IRModule, opts: Partial<FuseOpsOptions> = {}): IRModule {
  const o: FuseOpsOptions = { ...fuseOpsOptions.parse({}), ...opts };
  const added: Array<[string, Node]> = [];
  const taken = new Set<string>();
  let changed = false;
  const entries = moduleEntries(mod).map(([gname, f]): [string, Node] => {
    if (f.kind !== 'relax.Function') return [gname, f];
    const rf = f as unknown as RelaxFunction;
    if (rf.attrs.Primitive !== undefined || rf.attrs.Composite !== undefined) return [gname, f];
    const uses = usesByBinding(rf);
    const nf = mapFunctionBlocks(rf, (blk) => {
      // Dataflow block outputs always count as used after the block; in an ordinary block
      // (a frontend that emits no dataflow blocks) a var escapes when anything else uses it.
      const own = new Set<Binding>(blk.bindings);
      const escapes =
        blk.kind === 'relax.DataflowBlock'
          ? (v: Node) => v.kind === 'relax.Var'
          : (v: Node) => (uses.get(v) ?? []).some((u) => u === null || !own.has(u));
      const fuser = new BlockFuser(blk, mod, o, escapes);
      fuser.build();
      fuser.run();
      const groups = fuser.fusedGroups();
      if (groups.size === 0) return blk;
      const dropped = new Set<number>();
      const replace = new Map<number, Binding>();
      for (const [root, members] of groups) {
        const mb = members.map((i) => fuser.nodes[i].binding);
        const lifted = liftGroup(
          mb,
          members.map((i) => fuser.nodes[i].kernel ?? 'op'),
          mod,
          taken,
        );
        added.push([lifted.name, lifted.fn]);
        const rootVar = fuser.nodes[root].binding.var;
        const gv = globalVar(lifted.name, lifted.fn.structInfo);
        const c = call(gv, lifted.args, { structInfo: rootVar.structInfo });
        for (const m of members) if (m !== root) dropped.add(m);
        replace.set(root, varBinding(rootVar, c, fuser.nodes[root].binding.span));
      }
      const out: Binding[] = [];
      blk.bindings.forEach((b, i) => {
        if (dropped.has(i)) return;
        out.push(replace.get(i) ?? b);
      });
      return blk.kind === 'relax.DataflowBlock' ? dataflowBlock(out, blk.span) : bindingBlock(out, blk.span);
    });
    if (nf !== rf) changed = true;
    return [gname, nf as unknown as Node];
  });
  if (!changed) return mod;
  return irModule([...entries, ...added], mod.attrs);
}

export const FuseOps = definePass<FuseOpsOptions, z.input<typeof fuseOpsOptions>>({
  name: 'relax.FuseOps',
  kind: 'module',
  // An optimisation: off at opt level 0 (kernels then run one call_tir each).
  optLevel: 1,
  establishes: ['ops_fused'],
  options: fuseOpsOptions,
  run(mod: IRModule, _ctx: PassContext, o) {
    return fuseOps(mod, o);
  },
});
