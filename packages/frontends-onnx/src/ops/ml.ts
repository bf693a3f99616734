// ai.onnx.ml TreeEnsemble (opset 5), unrolled at import time: every tree becomes nested
// `where`s over the feature columns (the tree structure is in the attributes), a leaf is
// its weight placed in its target's column, and the trees are summed (or averaged).
import type { Expr } from '@kiln/relax';
import { op } from '@kiln/relax';
import type { NodeContext, OnnxValue } from '../context.js';
import { dims, dtypeOf, exprOf, exprValue, hostValue } from '../context.js';
import { OnnxErrorCodes } from '../errors.js';
import { hostTensor } from '../host.js';
import type { ConverterDef } from '../registry.js';
import { em, scalar } from './common.js';

const MODES = ['LEQ', 'LT', 'GTE', 'GT', 'EQ', 'NEQ', 'MEMBER'] as const;

function treeEnsembleConvert(ctx: NodeContext): OnnxValue {
  const xv = ctx.req(0);
  const dt = dtypeOf(xv, ctx);
  const [n] = dims(ctx, xv);
  // Numeric list attributes, given as ints, floats or a tensor (opset 5 uses tensors).
  const nums = (name: string): number[] => {
    const a = ctx.attr(name);
    if (a === undefined) return [];
    if (typeof a === 'number') return [a];
    if (Array.isArray(a)) return a.every((v) => typeof v === 'number') ? (a as number[]) : [];
    if (typeof a === 'object' && 'data' in a) return Array.from(a.data);
    return ctx.fail(OnnxErrorCodes.ONNX_INVALID, `attribute '${name}' is not numeric`);
  };
  const ints = nums;
  const aggregate = ctx.int('aggregate_function', 1);
  if (aggregate !== 0 && aggregate !== 1)
    ctx.unsupported(`aggregate_function ${aggregate} (only AVERAGE and SUM)`);
  if (ctx.int('post_transform', 0) !== 0) ctx.unsupported(`post_transform ${ctx.int('post_transform', 0)}`);
  const nTargets = ctx.int('n_targets', 0);
  const roots = ints('tree_roots');
  const featureIds = ints('nodes_featureids');
  const modes = nums('nodes_modes');
  const splits = nums('nodes_splits');
  const trueIds = ints('nodes_truenodeids');
  const falseIds = ints('nodes_falsenodeids');
  const trueLeafs = ints('nodes_trueleafs');
  const falseLeafs = ints('nodes_falseleafs');
  const tracksTrue = ints('nodes_missing_value_tracks_true');
  const leafTargets = ints('leaf_targetids');
  const leafWeights = nums('leaf_weights');
  // membership_values: one set per MEMBER node (in node order), separated by NaN.
  const sets: number[][] = [];
  let cur: number[] = [];
  for (const v of nums('membership_values')) {
    if (Number.isNaN(v)) {
      sets.push(cur);
      cur = [];
    } else cur.push(v);
  }
  if (cur.length) sets.push(cur);
  const setOf = new Map<number, number[]>();
  modes.forEach((m, i) => {
    if (m === 6) setOf.set(i, sets[setOf.size] ?? []);
  });

  const x = exprOf(ctx, xv);
  const columns = new Map<number, Expr>();
  const column = (f: number): Expr => {
    let c = columns.get(f);
    if (!c) {
      c = em(ctx, op.stridedSlice(x, [1], [f], [f + 1]));
      columns.set(f, c);
    }
    return c;
  };
  const leaf = (j: number): Expr => {
    const t = leafTargets[j];
    if (t === undefined || t < 0 || t >= nTargets)
      ctx.fail(OnnxErrorCodes.ONNX_INVALID, `leaf ${j} has target ${t}, outside [0, ${nTargets})`);
    const row = new Array<number>(nTargets).fill(0);
    row[t] = leafWeights[j] ?? 0;
    return exprOf(ctx, hostValue(hostTensor(dt, [1, nTargets], row)));
  };
  const condition = (i: number): Expr => {
    const c = column(featureIds[i]);
    const s = scalar(splits[i] ?? 0, dt);
    const mode = MODES[modes[i]] ?? ctx.fail(OnnxErrorCodes.ONNX_INVALID, `node ${i} has mode ${modes[i]}`);
    let cond: Expr;
    if (mode === 'MEMBER') {
      const vals = setOf.get(i) ?? [];
      // (an empty set matches nothing: c < c is false, also for NaN)
      cond = vals.length
        ? vals.map((v) => em(ctx, op.equal(c, scalar(v, dt)))).reduce((a, b) => em(ctx, op.logicalOr(a, b)))
        : em(ctx, op.less(c, c));
    } else {
      const f = {
        LEQ: op.lessEqual,
        LT: op.less,
        GTE: op.greaterEqual,
        GT: op.greater,
        EQ: op.equal,
        NEQ: op.notEqual,
      }[mode];
      cond = em(ctx, f(c, s));
    }
    // A missing (NaN) feature goes where nodes_missing_value_tracks_true says.
    if (tracksTrue[i]) cond = em(ctx, op.logicalOr(cond, em(ctx, op.isnan(c))));
    return cond;
  };
  const walk = (i: number, depth: number): Expr => {
    if (depth > modes.length) ctx.fail(OnnxErrorCodes.ONNX_INVALID, 'the trees have a cycle');
    const t = trueLeafs[i] ? leaf(trueIds[i]) : walk(trueIds[i], depth + 1);
    const f = falseLeafs[i] ? leaf(falseIds[i]) : walk(falseIds[i], depth + 1);
    return em(ctx, op.where(condition(i), t, f));
  };
  let sum: Expr = em(ctx, op.full([n, nTargets], scalar(0, dt), dt));
  for (const r of roots) sum = em(ctx, op.add(sum, walk(r, 0)));
  if (aggregate === 0 && roots.length > 1) sum = em(ctx, op.divide(sum, scalar(roots.length, dt)));
  return exprValue(sum);
}

export const ML_CONVERTERS: ConverterDef[] = [
  { op: 'TreeEnsemble', domain: 'ai.onnx.ml', since: 5, convert: treeEnsembleConvert },
];
