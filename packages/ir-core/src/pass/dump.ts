// A readable, deterministic dump of any IR, driven by the node-kind table. It is the
// fallback printer for IR-dump instruments and test diffs when a function kind has
// no text format. Variables print as `%name#k`, numbered by first appearance, so two
// separately built but equal IRs dump the same way.
import { isKilnError } from '../errors.js';
import type { IRModule } from '../module.js';
import type { Node } from '../node.js';
import { hasNodeKind, isNode, nodeKindInfo } from '../node.js';
import { printModule } from '../text/module_text.js';

const WIDTH = 100;

function isDataTypeLike(v: unknown): v is { str: string } {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as { str?: unknown }).str === 'string' &&
    'lanes' in (v as object)
  );
}

class Dumper {
  private readonly ids = new Map<Node, number>();

  value(v: unknown): string {
    if (v === undefined) return 'undefined';
    if (isDataTypeLike(v)) return v.str;
    if (ArrayBuffer.isView(v)) {
      const arr = Array.from(v as unknown as ArrayLike<number | bigint>);
      const shown = arr.slice(0, 8).map(String).join(', ');
      return `${v.constructor.name}[${arr.length}](${shown}${arr.length > 8 ? ', ...' : ''})`;
    }
    if (isNode(v)) return this.node(v, '');
    if (Array.isArray(v)) return `[${v.map((x) => this.value(x)).join(', ')}]`;
    if (typeof v === 'object' && v !== null) {
      const entries = Object.entries(v).filter(([, x]) => x !== undefined);
      return `{${entries.map(([k, x]) => `${k}: ${this.value(x)}`).join(', ')}}`;
    }
    if (typeof v === 'bigint') return `${v}n`;
    return JSON.stringify(v) ?? String(v);
  }

  private varName(n: Node): string {
    const r = n as unknown as Record<string, unknown>;
    const base = typeof r.name === 'string' ? r.name : typeof r.nameHint === 'string' ? r.nameHint : 'v';
    return `%${base}#${this.ids.get(n)}`;
  }

  node(n: Node, indent: string): string {
    if (!hasNodeKind(n.kind)) return this.value({ ...n });
    const info = nodeKindInfo(n.kind);
    const r = n as unknown as Record<string, unknown>;
    if (info.isVar) {
      if (this.ids.has(n)) return this.varName(n);
      this.ids.set(n, this.ids.size);
    }
    const inner = `${indent}  `;
    const parts: string[] = [];
    for (const f of info.fields) {
      if (f.type === 'ignore') continue;
      const v = r[f.name];
      if (v === undefined || v === null) continue;
      let s: string;
      if (f.type === 'value') s = this.value(v);
      else if (Array.isArray(v)) s = this.list(v as Node[], inner);
      else s = this.node(v as Node, inner);
      parts.push(`${f.name}=${s}`);
    }
    const head = info.isVar ? this.varName(n) : n.kind;
    if (parts.length === 0) return head;
    const flat = `${head}(${parts.join(', ')})`;
    if (flat.length + indent.length <= WIDTH && !flat.includes('\n')) return flat;
    return `${head}(\n${parts.map((p) => `${inner}${p}`).join(',\n')}\n${indent})`;
  }

  private list(xs: readonly Node[], indent: string): string {
    const items = xs.map((x) => this.node(x, `${indent}  `));
    const flat = `[${items.join(', ')}]`;
    if (flat.length + indent.length <= WIDTH && !flat.includes('\n')) return flat;
    return `[\n${items.map((i) => `${indent}  ${i}`).join(',\n')}\n${indent}]`;
  }
}

/** Dump a node (or a module) as indented text. */
export function dumpIR(n: Node | IRModule): string {
  const d = new Dumper();
  if (n.kind === 'IRModule') {
    const mod = n as IRModule;
    const lines: string[] = [];
    if (Object.keys(mod.attrs).length > 0) lines.push(`attrs = ${d.value(mod.attrs)}`);
    // Fresh numbering per function, so a change in one does not renumber the others.
    mod.globals.forEach((g, i) => {
      lines.push(`@${g} = ${new Dumper().node(mod.funcs[i], '')}`);
    });
    return `${lines.join('\n\n')}\n`;
  }
  return `${d.node(n, '')}\n`;
}

/**
 * The module in the text format when every function kind has one registered,
 * otherwise the `dumpIR` form (IR dumps must never fail because a plugin's function
 * kind has no printer).
 */
export function printModuleOrDump(mod: IRModule): string {
  try {
    return printModule(mod);
  } catch (e) {
    if (isKilnError(e)) return dumpIR(mod);
    throw e;
  }
}
