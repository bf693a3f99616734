// @kiln/test-plugin: a third-party plugin written only against @kiln/ir-core's public
// API, the way an outside author would. It contributes two module passes:
// - thirdparty.FoldAddZero: rewrites `x + 0` and `0 + x` to `x` in every function;
//   requires nothing, establishes `thirdparty.no-add-zero`.
// - thirdparty.CountNodes: records the number of IR nodes (optionally of some kinds
//   only) in a module attribute whose name is a plugin option; requires `normalized`.
import type { IRModule, Node, PrimExpr } from '@kiln/ir-core';
import {
  constIntValue,
  definePass,
  definePlugin,
  mapFunctions,
  postOrderVisit,
  rewriteNode,
  withModuleAttrs,
} from '@kiln/ir-core';
import { z } from 'zod';

export const pluginOptions = z.object({
  /** The module attribute CountNodes writes its count into. */
  attrName: z
    .string()
    .regex(/^[a-z][a-z0-9]*(\.[a-z][a-zA-Z0-9]*)*$/, 'must be a dotted lower-case name')
    .default('thirdparty.nodeCount'),
  /** Opt level of CountNodes (it is only analysis, so the default runs it always). */
  countOptLevel: z.number().int().min(0).max(3).default(0),
});
export type ThirdPartyOptions = z.output<typeof pluginOptions>;

const isZero = (e: Node): boolean => 'dtype' in e && constIntValue(e as PrimExpr) === 0;

export const foldAddZero = definePass({
  name: 'thirdparty.FoldAddZero',
  kind: 'module',
  optLevel: 1,
  establishes: ['thirdparty.no-add-zero'],
  run: (mod: IRModule) =>
    mapFunctions(mod, (fn) =>
      rewriteNode(fn, [
        (n) => {
          if (n.kind !== 'Add') return undefined;
          const { a, b } = n as unknown as { a: PrimExpr; b: PrimExpr };
          if (isZero(b) && a.dtype.str === (n as PrimExpr).dtype.str) return a;
          if (isZero(a) && b.dtype.str === (n as PrimExpr).dtype.str) return b;
          return undefined;
        },
      ]),
    ),
});

/** Build CountNodes for the plugin's options (it depends on `attrName`). */
export function countNodesPass(options: ThirdPartyOptions) {
  return definePass({
    name: 'thirdparty.CountNodes',
    kind: 'module',
    optLevel: options.countOptLevel,
    requires: ['normalized'],
    options: z.object({ kinds: z.array(z.string()).default([]) }),
    run: (mod, _ctx, opts) => {
      let count = 0;
      for (const fn of mod.funcs) {
        postOrderVisit(fn, (n) => {
          if (opts.kinds.length === 0 || opts.kinds.includes(n.kind)) count++;
        });
      }
      return withModuleAttrs(mod, { [options.attrName]: count });
    },
  });
}

export const thirdPartyPlugin = definePlugin({
  name: 'thirdparty',
  version: '0.1.0',
  options: pluginOptions,
  passes: [foldAddZero],
  setup: (options) => ({ passes: [countNodesPass(options)] }),
});
