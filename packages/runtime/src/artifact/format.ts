// The `.kiln` artifact: one file with VM bytecode, constants (weights) and
// kernel libraries. This file holds the in-memory shape and the layout constants;
// writer.ts and reader.ts do the bytes.
//
// Layout (all integers little-endian; every section starts 64-byte aligned):
//
//   offset  size  field
//   0       4     magic "KILN"
//   4       4     u32 format version (ARTIFACT_FORMAT_VERSION)
//   8       4     u32 header length H (bytes 0..H-1; the header ends there)
//   12      4     u32 CRC-32 of header bytes [16, H)
//   16      8     u64 total file length (detects truncation and trailing junk)
//   24      4     u32 section count S
//   28      4     reserved (0)
//   32      ...   str kilnVersion, str target            (str = u16 byte length + UTF-8)
//           ...   S × { str name, u64 offset, u64 length, u32 CRC-32 of the section }
//   H       pad   zeros up to a multiple of 64
//   ...           sections, in table order, each at a 64-byte-aligned offset, padded:
//                 "manifest"        UTF-8 JSON (ArtifactManifest)
//                 "constants"       every constant's raw bytes, each 64-byte aligned
//                 "kernels/<name>"  one per kernel module carrying bytes (.so, PTX, ...)
//
// The version is checked right after the magic, so a future layout is reported
// as ARTIFACT_VERSION rather than as corruption.
import type { JsonValue, KernelModuleEntry, KernelSignature } from '../module/kernel-module.js';
import type { VMFunction } from '../vm/bytecode.js';

export const ARTIFACT_MAGIC = 'KILN';
export const ARTIFACT_FORMAT_VERSION = 1;
/** Alignment of sections and of each constant inside the constants section. */
export const ARTIFACT_ALIGNMENT = 64;
export const FIXED_HEADER_BYTES = 32;

export interface ArtifactConstant {
  readonly name?: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Raw little-endian element bytes, row-major. */
  readonly data: Uint8Array;
}

/** An artifact in memory: what a backend's `build` returns and `writeArtifact` stores. */
export interface Artifact {
  readonly kilnVersion: string;
  /** Target string the kernels were built for (`llvm -mcpu=znver3`). */
  readonly target: string;
  /** Devices used by bytecode and kernel modules, by index (`cpu:0`, `cuda:0`). Index 0 is conventionally the host. */
  readonly devices: readonly string[];
  readonly functions: readonly VMFunction[];
  readonly constants: readonly ArtifactConstant[];
  readonly kernelModules: readonly KernelModuleEntry[];
  readonly metadata?: Readonly<Record<string, JsonValue>>;
}

/** The JSON manifest as stored (bytes replaced by section references). */
export interface ArtifactManifest {
  /** BYTECODE_VERSION of the writer; a reader with another version refuses the file (ARTIFACT_VERSION). */
  readonly bytecodeVersion: number;
  readonly kilnVersion: string;
  readonly target: string;
  readonly devices: readonly string[];
  readonly functions: readonly VMFunction[];
  readonly constants: readonly {
    readonly name?: string;
    readonly dtype: string;
    readonly shape: readonly number[];
    /** Byte offset inside the `constants` section (64-byte aligned). */
    readonly offset: number;
    readonly nbytes: number;
  }[];
  readonly kernelModules: readonly {
    readonly name: string;
    readonly kind: string;
    readonly device: number;
    readonly symbols: Readonly<Record<string, KernelSignature>>;
    /** Section holding the module's bytes, if any. */
    readonly section?: string;
    readonly meta?: Readonly<Record<string, JsonValue>>;
  }[];
  readonly metadata?: Readonly<Record<string, JsonValue>>;
}

/** One entry of the header's section table. */
export interface SectionInfo {
  readonly name: string;
  readonly offset: number;
  readonly length: number;
  readonly crc32: number;
}

export function alignUp(n: number, a = ARTIFACT_ALIGNMENT): number {
  return Math.ceil(n / a) * a;
}
