// ai.onnx.ml TreeEnsemble against a direct walk of the trees.
import { describe, expect, it } from 'vitest';
import { hostTensor } from '../host.js';
import { fromOnnx } from '../importer.js';
import { onnx } from '../proto.js';
import { closeness, compileAndLoad } from '../testing.test-util.js';

// Two trees over 2 features. Tree 0: node0 x0 <= 0.5 (NaN goes true) ? node1 : leaf1;
// node1 x1 in {2, 3} ? leaf0 : leaf2. Tree 1 (root 2): x1 > 1 ? leaf3 : leaf4.
const tree = {
  nodes_featureids: [0, 1, 1],
  nodes_modes: [0, 6, 3],
  nodes_splits: [0.5, 0, 1],
  nodes_truenodeids: [1, 0, 3],
  nodes_trueleafs: [0, 1, 1],
  nodes_falsenodeids: [1, 2, 4],
  nodes_falseleafs: [1, 1, 1],
  nodes_missing_value_tracks_true: [1, 0, 0],
  membership_values: [2, 3],
  leaf_targetids: [0, 1, 2, 0, 1],
  leaf_weights: [1.5, -2, 4, 0.25, 8],
  tree_roots: [0, 2],
};
function reference(x: number[], aggregate: number): number[] {
  const out = [0, 0, 0];
  const leafOf = (root: number): number => {
    let i = root;
    for (;;) {
      const v = x[tree.nodes_featureids[i]];
      const s = tree.nodes_splits[i];
      const m = tree.nodes_modes[i];
      let c = m === 0 ? v <= s : m === 6 ? tree.membership_values.includes(v) : v > s;
      if (Number.isNaN(v) && tree.nodes_missing_value_tracks_true[i]) c = true;
      const [next, isLeaf] = c
        ? [tree.nodes_truenodeids[i], tree.nodes_trueleafs[i]]
        : [tree.nodes_falsenodeids[i], tree.nodes_falseleafs[i]];
      if (isLeaf) return next;
      i = next;
    }
  };
  for (const r of tree.tree_roots) {
    const l = leafOf(r);
    out[tree.leaf_targetids[l]] += tree.leaf_weights[l];
  }
  return aggregate === 0 ? out.map((v) => v / tree.tree_roots.length) : out;
}

function model(aggregate: number): Uint8Array {
  const ints = (name: string, v: number[]) => ({ name, type: 7, ints: v });
  const floats = (name: string, v: number[]) => ({
    name,
    type: 4,
    t: { dataType: 1, dims: [v.length], floatData: v },
  });
  return onnx.ModelProto.encode(
    onnx.ModelProto.fromObject({
      irVersion: 8,
      opsetImport: [
        { domain: '', version: 21 },
        { domain: 'ai.onnx.ml', version: 5 },
      ],
      graph: {
        name: 'g',
        node: [
          {
            opType: 'TreeEnsemble',
            domain: 'ai.onnx.ml',
            input: ['x'],
            output: ['y'],
            name: 'trees',
            attribute: [
              ints('nodes_featureids', tree.nodes_featureids),
              {
                name: 'nodes_modes',
                type: 4,
                t: { dataType: 2, dims: [3], rawData: new Uint8Array(tree.nodes_modes) },
              },
              floats('nodes_splits', tree.nodes_splits),
              ints('nodes_truenodeids', tree.nodes_truenodeids),
              ints('nodes_trueleafs', tree.nodes_trueleafs),
              ints('nodes_falsenodeids', tree.nodes_falsenodeids),
              ints('nodes_falseleafs', tree.nodes_falseleafs),
              ints('nodes_missing_value_tracks_true', tree.nodes_missing_value_tracks_true),
              floats('membership_values', tree.membership_values),
              ints('leaf_targetids', tree.leaf_targetids),
              floats('leaf_weights', tree.leaf_weights),
              ints('tree_roots', tree.tree_roots),
              { name: 'n_targets', type: 2, i: 3 },
              { name: 'aggregate_function', type: 2, i: aggregate },
            ],
          },
        ],
        input: [
          {
            name: 'x',
            type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 5 }, { dimValue: 2 }] } } },
          },
        ],
        output: [{ name: 'y' }],
      },
    }),
  ).finish();
}

describe('TreeEnsemble', () => {
  const rows = [
    [0.2, 3],
    [0.7, 2],
    [Number.NaN, 5],
    [-1, 2],
    [0.5, 0.5],
  ];
  for (const aggregate of [0, 1]) {
    it(`walks every tree (branches, set membership, missing values); aggregate ${aggregate ? 'SUM' : 'AVERAGE'}`, () => {
      const [y] = compileAndLoad(fromOnnx(model(aggregate)))(hostTensor('float32', [5, 2], rows.flat()));
      expect(y.shape).toEqual([5, 3]);
      expect(
        closeness(
          y.data,
          rows.flatMap((r) => reference(r, aggregate)),
        ),
      ).toBeLessThanOrEqual(1);
    });
  }
});
