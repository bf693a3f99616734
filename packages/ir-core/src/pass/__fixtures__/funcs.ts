// Test-only function kinds standing in for tensorir's PrimFunc and relax's Function
// (ir-core cannot import either). Each vitest file gets its own module instance, so
// declaring them here does not clash with the real packages.
import type { PrimExpr, Var } from '../../expr.js';
import { add, intImm, primVar } from '../../expr.js';
import type { IRModule } from '../../module.js';
import { defineFunctionKind, irModule } from '../../module.js';
import type { Node } from '../../node.js';
import { defineNodeKinds, freezeNode } from '../../node.js';

export interface FakeFunc extends Node {
  readonly kind: 'PrimFunc' | 'relax.Function';
  readonly params: readonly Var[];
  readonly body: PrimExpr;
}

defineNodeKinds('test', {
  PrimFunc: { fields: { params: 'binder[]', body: 'node' } },
  'relax.Function': { fields: { params: 'binder[]', body: 'node' } },
});
defineFunctionKind('PrimFunc');
defineFunctionKind('relax.Function');

export function fakeFunc(kind: FakeFunc['kind'], params: readonly Var[], body: PrimExpr): FakeFunc {
  return freezeNode({ kind, params: Object.freeze([...params]), body });
}

/** A module with two PrimFuncs (`f`, `g`) and one Relax function (`main`). */
export function sampleModule(): IRModule {
  const x = primVar('x', 'int64');
  const y = primVar('y', 'int64');
  const z = primVar('z', 'int64');
  return irModule({
    f: fakeFunc('PrimFunc', [x], add(x, intImm(1, 'int64'))),
    g: fakeFunc('PrimFunc', [y], add(y, intImm(2, 'int64'))),
    main: fakeFunc('relax.Function', [z], z),
  });
}
