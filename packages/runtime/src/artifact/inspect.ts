// A plain summary of an artifact for `kiln inspect` and tests: versions, target,
// functions with signatures and sizes, constant and kernel bytes, sections.
import { formatSig } from '../vm/disasm.js';
import type { Artifact } from './format.js';
import type { ReadArtifact } from './reader.js';

export interface ArtifactSummary {
  readonly formatVersion?: number;
  readonly bytecodeVersion?: number;
  readonly kilnVersion: string;
  readonly target: string;
  readonly devices: readonly string[];
  readonly functions: readonly { name: string; signature: string; instructions: number; registers: number }[];
  readonly constants: { readonly count: number; readonly bytes: number };
  readonly kernelModules: readonly {
    name: string;
    kind: string;
    device: string;
    symbols: readonly string[];
    bytes: number;
  }[];
  readonly sections?: readonly { name: string; offset: number; length: number }[];
}

export function inspectArtifact(a: Artifact | ReadArtifact): ArtifactSummary {
  const read = 'formatVersion' in a ? a : undefined;
  return {
    ...(read ? { formatVersion: read.formatVersion, bytecodeVersion: read.bytecodeVersion } : {}),
    kilnVersion: a.kilnVersion,
    target: a.target,
    devices: a.devices,
    functions: a.functions.map((f) => ({
      name: f.name,
      signature: `(${f.params.map((p) => `${p.name}: ${formatSig(p.sig)}`).join(', ')}) -> ${formatSig(f.ret)}`,
      instructions: f.code.length,
      registers: f.numRegisters,
    })),
    constants: { count: a.constants.length, bytes: a.constants.reduce((n, c) => n + c.data.byteLength, 0) },
    kernelModules: a.kernelModules.map((m) => ({
      name: m.name,
      kind: m.kind,
      device: a.devices[m.device] ?? `#${m.device}`,
      symbols: Object.keys(m.symbols),
      bytes: m.data?.byteLength ?? 0,
    })),
    ...(read
      ? { sections: read.sections.map((s) => ({ name: s.name, offset: s.offset, length: s.length })) }
      : {}),
  };
}
