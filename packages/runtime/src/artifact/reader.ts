// Reads and validates `.kiln` bytes (layout in format.ts): magic, format
// version, length, header and section checksums, section bounds and the
// manifest's structure. Constants and kernel bytes in the result are views into
// the input (no copies). Every failure is a RuntimeError naming the file:
// ARTIFACT_MAGIC, ARTIFACT_VERSION or ARTIFACT_CORRUPT. Nothing is written.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { cpu, hostBytes } from '../device/device.js';
import { dtypeInfo } from '../dtype.js';
import { RuntimeError, RuntimeErrorCodes, runtimeError } from '../errors.js';
import type { KernelModuleEntry } from '../module/kernel-module.js';
import { BYTECODE_VERSION } from '../vm/bytecode.js';
import { crc32 } from './crc32.js';
import {
  ARTIFACT_ALIGNMENT,
  ARTIFACT_FORMAT_VERSION,
  ARTIFACT_MAGIC,
  type Artifact,
  type ArtifactConstant,
  type ArtifactManifest,
  FIXED_HEADER_BYTES,
  type SectionInfo,
} from './format.js';

export interface ReadOptions {
  /** Name used in error messages (the file path). Default `<bytes>`. */
  readonly source?: string;
  /** Verify section CRCs (default true). Skipping saves a pass over large weights. */
  readonly verifyChecksums?: boolean;
}

/** The artifact plus the header information that is not part of `Artifact`. */
export interface ReadArtifact extends Artifact {
  readonly formatVersion: number;
  readonly bytecodeVersion: number;
  readonly sections: readonly SectionInfo[];
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function readArtifact(bytes: Uint8Array, options: ReadOptions = {}): ReadArtifact {
  const src = options.source ?? '<bytes>';
  const corrupt = (why: string): never =>
    runtimeError(RuntimeErrorCodes.ARTIFACT_CORRUPT, `artifact '${src}' is corrupt: ${why}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  const magic = bytes.byteLength >= 4 ? String.fromCharCode(bytes[0], bytes[1], bytes[2], bytes[3]) : '';
  if (magic !== ARTIFACT_MAGIC) {
    runtimeError(RuntimeErrorCodes.ARTIFACT_MAGIC, `'${src}' is not a Kiln artifact (bad magic bytes)`);
  }
  if (bytes.byteLength < FIXED_HEADER_BYTES) corrupt(`truncated header (${bytes.byteLength} bytes)`);
  const version = dv.getUint32(4, true);
  if (version !== ARTIFACT_FORMAT_VERSION) {
    runtimeError(
      RuntimeErrorCodes.ARTIFACT_VERSION,
      `artifact '${src}' has format version ${version}; this runtime reads version ${ARTIFACT_FORMAT_VERSION} (recompile the model with a matching Kiln)`,
      { details: { fileVersion: version, supportedVersion: ARTIFACT_FORMAT_VERSION } },
    );
  }
  const fileLen = Number(dv.getBigUint64(16, true));
  if (fileLen !== bytes.byteLength) {
    corrupt(
      fileLen > bytes.byteLength
        ? `truncated (${bytes.byteLength} of ${fileLen} bytes)`
        : `${bytes.byteLength - fileLen} trailing bytes`,
    );
  }
  const headerLen = dv.getUint32(8, true);
  if (headerLen < FIXED_HEADER_BYTES || headerLen > bytes.byteLength) corrupt('bad header length');
  if (crc32(bytes.subarray(16, headerLen)) !== dv.getUint32(12, true)) corrupt('header checksum mismatch');

  // Header strings and section table (the CRC passed, so a bad value is a writer bug, still reported as corrupt).
  let p = FIXED_HEADER_BYTES;
  const getStr = (): string => {
    if (p + 2 > headerLen) corrupt('header overrun');
    const n = dv.getUint16(p, true);
    if (p + 2 + n > headerLen) corrupt('header overrun');
    let s = '';
    try {
      s = utf8.decode(bytes.subarray(p + 2, p + 2 + n));
    } catch {
      corrupt('header string is not UTF-8');
    }
    p += 2 + n;
    return s;
  };
  const kilnVersion = getStr();
  const target = getStr();
  const count = dv.getUint32(24, true);
  const sections: SectionInfo[] = [];
  let prevEnd = headerLen;
  for (let i = 0; i < count; i++) {
    const name = getStr();
    if (p + 20 > headerLen) corrupt('header overrun');
    const offset = Number(dv.getBigUint64(p, true));
    const length = Number(dv.getBigUint64(p + 8, true));
    const crc = dv.getUint32(p + 16, true);
    p += 20;
    if (offset % ARTIFACT_ALIGNMENT !== 0 || offset < prevEnd || offset + length > bytes.byteLength) {
      corrupt(`section '${name}' out of bounds`);
    }
    prevEnd = offset + length;
    sections.push({ name, offset, length, crc32: crc });
  }
  // Padding is not covered by a checksum; requiring zeros makes every flipped byte detectable.
  let gapStart = headerLen;
  for (const s of [...sections, { name: '<end>', offset: bytes.byteLength, length: 0 }]) {
    for (let i = gapStart; i < s.offset; i++) if (bytes[i] !== 0) corrupt(`non-zero padding at byte ${i}`);
    gapStart = s.offset + s.length;
  }
  const section = (name: string): Uint8Array => {
    const s = sections.find((x) => x.name === name);
    if (!s) return corrupt(`missing section '${name}'`);
    return bytes.subarray(s.offset, s.offset + s.length);
  };
  if (options.verifyChecksums !== false) {
    for (const s of sections) {
      if (crc32(bytes.subarray(s.offset, s.offset + s.length)) !== s.crc32)
        corrupt(`checksum mismatch in section '${s.name}'`);
    }
  } else {
    // The manifest is always checked: it is small and everything hangs on it.
    const m = sections.find((x) => x.name === 'manifest');
    if (m && crc32(bytes.subarray(m.offset, m.offset + m.length)) !== m.crc32)
      corrupt(`checksum mismatch in section 'manifest'`);
  }

  let manifest: ArtifactManifest;
  try {
    manifest = JSON.parse(utf8.decode(section('manifest'))) as ArtifactManifest;
  } catch (e) {
    if (e instanceof RuntimeError) throw e;
    return corrupt('manifest is not valid JSON');
  }
  checkManifest(manifest, corrupt);
  if (manifest.bytecodeVersion !== BYTECODE_VERSION) {
    runtimeError(
      RuntimeErrorCodes.ARTIFACT_VERSION,
      `artifact '${src}' holds bytecode version ${manifest.bytecodeVersion}; this runtime runs version ${BYTECODE_VERSION} (recompile the model with a matching Kiln)`,
      {
        details: {
          fileBytecodeVersion: manifest.bytecodeVersion,
          supportedBytecodeVersion: BYTECODE_VERSION,
        },
      },
    );
  }

  const constSection = section('constants');
  const constants: ArtifactConstant[] = manifest.constants.map((c, i) => {
    let bytesPer = 0;
    try {
      bytesPer = dtypeInfo(c.dtype).bytes;
    } catch {
      corrupt(`constant ${i} has unknown dtype '${c.dtype}'`);
    }
    const need = c.shape.reduce((x, y) => x * y, 1) * bytesPer;
    if (
      need !== c.nbytes ||
      c.offset % ARTIFACT_ALIGNMENT !== 0 ||
      c.offset + c.nbytes > constSection.byteLength
    ) {
      corrupt(`constant ${i} has a bad extent`);
    }
    return {
      ...(c.name !== undefined ? { name: c.name } : {}),
      dtype: c.dtype,
      shape: c.shape,
      data: constSection.subarray(c.offset, c.offset + c.nbytes),
    };
  });
  const kernelModules: KernelModuleEntry[] = manifest.kernelModules.map((m) => ({
    name: m.name,
    kind: m.kind,
    device: m.device,
    symbols: m.symbols,
    ...(m.section !== undefined ? { data: section(m.section) } : {}),
    ...(m.meta ? { meta: m.meta } : {}),
  }));
  if (manifest.kilnVersion !== kilnVersion || manifest.target !== target)
    corrupt('header and manifest disagree');
  return {
    formatVersion: version,
    bytecodeVersion: manifest.bytecodeVersion,
    sections,
    kilnVersion,
    target,
    devices: manifest.devices,
    functions: manifest.functions,
    constants,
    kernelModules,
    ...(manifest.metadata ? { metadata: manifest.metadata } : {}),
  };
}

/** Structural checks on the parsed manifest; bytecode is validated when an executable is created. */
function checkManifest(m: ArtifactManifest, corrupt: (why: string) => never): void {
  const isObj = (x: unknown): x is Record<string, unknown> =>
    typeof x === 'object' && x !== null && !Array.isArray(x);
  const isInt = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
  if (!isObj(m)) corrupt('manifest is not an object');
  if (!isInt(m.bytecodeVersion)) corrupt('manifest lacks the bytecode version');
  if (typeof m.kilnVersion !== 'string' || typeof m.target !== 'string')
    corrupt('manifest lacks version/target');
  if (!Array.isArray(m.devices) || !m.devices.every((d) => typeof d === 'string'))
    corrupt('manifest devices malformed');
  if (!Array.isArray(m.functions)) corrupt('manifest functions malformed');
  for (const f of m.functions) {
    if (!isObj(f) || typeof f.name !== 'string' || !Array.isArray(f.code) || !Array.isArray(f.params)) {
      corrupt('a function entry is malformed');
    }
    if (!isInt(f.numRegisters) || !isInt(f.heapSize) || !isInt(f.numStorageSlots))
      corrupt(`function '${f.name}' has bad frame sizes`);
  }
  if (!Array.isArray(m.constants)) corrupt('manifest constants malformed');
  for (const c of m.constants) {
    if (
      !isObj(c) ||
      typeof c.dtype !== 'string' ||
      !Array.isArray(c.shape) ||
      !c.shape.every(isInt) ||
      !isInt(c.offset) ||
      !isInt(c.nbytes)
    ) {
      corrupt('a constant entry is malformed');
    }
  }
  if (!Array.isArray(m.kernelModules)) corrupt('manifest kernel modules malformed');
  for (const k of m.kernelModules) {
    if (
      !isObj(k) ||
      typeof k.name !== 'string' ||
      typeof k.kind !== 'string' ||
      !isInt(k.device) ||
      !isObj(k.symbols)
    ) {
      corrupt('a kernel module entry is malformed');
    }
  }
}

/**
 * Reads a `.kiln` file into 64-byte aligned host memory (so constants viewed in
 * place are aligned too) and validates it.
 */
export function readArtifactFile(path: string, options: Omit<ReadOptions, 'source'> = {}): ReadArtifact {
  let fd: number | undefined;
  let bytes: Uint8Array;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const buf = cpu.allocate(size);
    bytes = hostBytes(buf, 0, size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, bytes, got, size - got, got);
      if (n === 0) break;
      got += n;
    }
    if (got < size) bytes = bytes.subarray(0, got);
  } catch (e) {
    runtimeError(RuntimeErrorCodes.ARTIFACT_IO, `cannot read artifact '${path}': ${(e as Error).message}`, {
      cause: e,
    });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return readArtifact(bytes, { ...options, source: path });
}
