// Test helpers for the lowering passes (not exported from the package).
import type { Node } from '@kiln/ir-core';
import { isNode, nodeKindInfo, structuralEqual } from '@kiln/ir-core';
import { expect } from 'vitest';

/** A compact, deterministic text form of any IR node for failure messages. */
export function show(n: unknown, indent = ''): string {
  if (!isNode(n))
    return JSON.stringify(n, (_k, v: unknown) =>
      typeof v === 'object' && v !== null && 'str' in v ? (v as { str: string }).str : v,
    );
  const info = nodeKindInfo(n.kind);
  const r = n as unknown as Record<string, unknown>;
  if (n.kind === 'Var') return `${r.name as string}`;
  if (n.kind === 'IntImm' || n.kind === 'FloatImm') return String(r.value);
  if (n.kind === 'Buffer')
    return `${r.name as string}@${(r.data as { name: string }).name}[${(r.shape as Node[]).map((s) => show(s)).join(',')}]`;
  const parts = info.fields
    .filter((f) => f.type !== 'ignore' && f.name !== 'dtype' && r[f.name] !== undefined)
    .map((f) => {
      const v = r[f.name];
      if (Array.isArray(v)) return `${f.name}=[${v.map((x) => show(x, `${indent}  `)).join(', ')}]`;
      return `${f.name}=${show(v, `${indent}  `)}`;
    });
  const stmt =
    /^(For|SeqStmt|IfThenElse|Allocate|DeclBuffer|LetStmt|BufferStore|Evaluate|PrimFunc|AttrStmt|While|Block|BlockRealize)$/.test(
      n.kind,
    );
  return stmt ? `\n${indent}${n.kind}(${parts.join(' ')})` : `${n.kind}(${parts.join(' ')})`;
}

/** Assert structural equality (free vars mapped), showing both IRs on failure. */
export function expectIREqual(actual: Node, expected: Node): void {
  if (!structuralEqual(actual, expected, { mapFreeVars: true })) {
    expect(show(actual)).toBe(show(expected));
    expect.fail(`structurally different IR (same text):\n${show(actual)}`);
  }
}
