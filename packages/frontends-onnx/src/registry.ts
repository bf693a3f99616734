// Converters are keyed by (domain, op type, since-version): for a model at opset N the
// importer uses the converter with the largest since-version ≤ N, the way ONNX itself
// versions operator schemas. A converter may name the Relax operators it needs; when one
// is missing from the registry the op is reported as unsupported with that cause.
import type { NodeContext, OnnxValue } from './context.js';

export type Converted = OnnxValue | undefined | readonly (OnnxValue | undefined)[];

export interface ConverterDef {
  readonly op: string;
  /** '' is the default ONNX domain (also spelled 'ai.onnx'). */
  readonly domain?: string;
  readonly since: number;
  /** Relax operators the conversion emits (checked against the op registry). */
  readonly requires?: readonly string[];
  convert(ctx: NodeContext): Converted;
}

export class ConverterTable {
  private readonly table = new Map<string, ConverterDef[]>();

  add(...defs: ConverterDef[]): this {
    for (const d of defs) {
      const key = `${d.domain ?? ''}::${d.op}`;
      const list = this.table.get(key) ?? [];
      list.push(d);
      list.sort((a, b) => a.since - b.since);
      this.table.set(key, list);
    }
    return this;
  }
  /** The converter for `op` at `opset`, or undefined. */
  lookup(domain: string, op: string, opset: number): ConverterDef | undefined {
    const list = this.table.get(`${normDomain(domain)}::${op}`);
    if (!list) return undefined;
    let best: ConverterDef | undefined;
    for (const d of list) if (d.since <= opset) best = d;
    return best;
  }
  has(domain: string, op: string): boolean {
    return this.table.has(`${normDomain(domain)}::${op}`);
  }
  /** `[domain::]op` names with their since-versions, sorted. */
  list(): { op: string; domain: string; versions: number[] }[] {
    return [...this.table.entries()]
      .map(([k, v]) => {
        const [domain, op] = k.split('::');
        return { op, domain, versions: v.map((d) => d.since) };
      })
      .sort((a, b) => (a.domain + a.op).localeCompare(b.domain + b.op));
  }
}

export function normDomain(d: string | null | undefined): string {
  return !d || d === 'ai.onnx' ? '' : d;
}

/** Shorthand: one converter for several since-versions. */
export function conv(
  op: string,
  since: number,
  convert: (ctx: NodeContext) => Converted,
  requires?: readonly string[],
): ConverterDef {
  return { op, since, convert, requires };
}

/** One converter per since-version in `versions`, all with the same conversion. */
export function many(
  op: string,
  versions: readonly number[],
  convert: (ctx: NodeContext) => Converted,
  requires?: readonly string[],
): ConverterDef[] {
  return versions.map((since) => conv(op, since, convert, requires));
}
