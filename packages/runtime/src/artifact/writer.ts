// Serialises an Artifact to the `.kiln` layout (see format.ts), and writes it to
// disk atomically: bytes go to a temp file in the target's directory, are
// fsynced, then renamed over the target, so a reader never sees a half-written
// file and a failed write leaves the target as it was.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { dtypeInfo } from '../dtype.js';
import { RuntimeErrorCodes, runtimeError } from '../errors.js';
import { BYTECODE_VERSION } from '../vm/bytecode.js';
import { crc32 } from './crc32.js';
import {
  ARTIFACT_FORMAT_VERSION,
  ARTIFACT_MAGIC,
  type Artifact,
  type ArtifactManifest,
  alignUp,
  FIXED_HEADER_BYTES,
  type SectionInfo,
} from './format.js';

const utf8 = new TextEncoder();

function checkArtifact(a: Artifact): void {
  const names = new Set<string>();
  for (const m of a.kernelModules) {
    if (names.has(m.name))
      runtimeError(RuntimeErrorCodes.INVALID_ARGUMENT, `duplicate kernel module name '${m.name}'`);
    names.add(m.name);
  }
  a.constants.forEach((c, i) => {
    const need = c.shape.reduce((x, y) => x * y, 1) * dtypeInfo(c.dtype).bytes;
    if (need !== c.data.byteLength) {
      runtimeError(
        RuntimeErrorCodes.SHAPE_MISMATCH,
        `constant ${i}${c.name ? ` '${c.name}'` : ''}: shape [${c.shape.join(', ')}] of ${c.dtype} needs ${need} bytes, has ${c.data.byteLength}`,
      );
    }
  });
}

/** The artifact as `.kiln` bytes. */
export function writeArtifact(artifact: Artifact): Uint8Array {
  checkArtifact(artifact);
  // Constants section: each constant 64-byte aligned.
  let constBytes = 0;
  const constOffsets = artifact.constants.map((c) => {
    const off = alignUp(constBytes);
    constBytes = off + c.data.byteLength;
    return off;
  });
  const constants = new Uint8Array(constBytes);
  artifact.constants.forEach((c, i) => {
    constants.set(c.data, constOffsets[i]);
  });

  const sections: { name: string; data: Uint8Array }[] = [];
  const manifest: ArtifactManifest = {
    bytecodeVersion: BYTECODE_VERSION,
    kilnVersion: artifact.kilnVersion,
    target: artifact.target,
    devices: artifact.devices,
    functions: artifact.functions,
    constants: artifact.constants.map((c, i) => ({
      ...(c.name !== undefined ? { name: c.name } : {}),
      dtype: c.dtype,
      shape: c.shape,
      offset: constOffsets[i],
      nbytes: c.data.byteLength,
    })),
    kernelModules: artifact.kernelModules.map((m) => {
      const section = m.data ? `kernels/${m.name}` : undefined;
      if (m.data && section) sections.push({ name: section, data: m.data });
      return {
        name: m.name,
        kind: m.kind,
        device: m.device,
        symbols: m.symbols,
        ...(section ? { section } : {}),
        ...(m.meta ? { meta: m.meta } : {}),
      };
    }),
    ...(artifact.metadata ? { metadata: artifact.metadata } : {}),
  };
  sections.unshift(
    { name: 'manifest', data: utf8.encode(JSON.stringify(manifest)) },
    { name: 'constants', data: constants },
  );

  // Header size first (it decides where the sections start).
  const strs = [artifact.kilnVersion, artifact.target, ...sections.map((s) => s.name)].map((s) =>
    utf8.encode(s),
  );
  for (const s of strs) {
    if (s.byteLength > 0xffff)
      runtimeError(RuntimeErrorCodes.INVALID_ARGUMENT, 'artifact header string longer than 65535 bytes');
  }
  const headerLen =
    FIXED_HEADER_BYTES + strs.reduce((n, s) => n + 2 + s.byteLength, 0) + sections.length * 20;
  let cursor = alignUp(headerLen);
  const table: SectionInfo[] = sections.map((s) => {
    const info = { name: s.name, offset: cursor, length: s.data.byteLength, crc32: crc32(s.data) };
    cursor = alignUp(cursor + s.data.byteLength);
    return info;
  });
  const fileLen = cursor;

  const out = new Uint8Array(fileLen);
  const dv = new DataView(out.buffer);
  out.set(utf8.encode(ARTIFACT_MAGIC), 0);
  dv.setUint32(4, ARTIFACT_FORMAT_VERSION, true);
  dv.setUint32(8, headerLen, true);
  dv.setBigUint64(16, BigInt(fileLen), true);
  dv.setUint32(24, sections.length, true);
  let p = FIXED_HEADER_BYTES;
  const putStr = (s: Uint8Array) => {
    dv.setUint16(p, s.byteLength, true);
    out.set(s, p + 2);
    p += 2 + s.byteLength;
  };
  putStr(strs[0]);
  putStr(strs[1]);
  table.forEach((t, i) => {
    putStr(strs[2 + i]);
    dv.setBigUint64(p, BigInt(t.offset), true);
    dv.setBigUint64(p + 8, BigInt(t.length), true);
    dv.setUint32(p + 16, t.crc32, true);
    p += 20;
  });
  dv.setUint32(12, crc32(out.subarray(16, headerLen)), true);
  sections.forEach((s, i) => {
    out.set(s.data, table[i].offset);
  });
  return out;
}

export interface WriteFileOptions {
  /** Bytes per write call (default 4 MiB). */
  readonly chunkSize?: number;
  /** Progress callback after each chunk; throwing from it aborts the write (the target is left untouched). */
  readonly onProgress?: (written: number, total: number) => void;
}

/** Writes the artifact to `path` atomically (temp file in the same directory + rename). */
export function writeArtifactFile(path: string, artifact: Artifact, options: WriteFileOptions = {}): void {
  const bytes = writeArtifact(artifact);
  const tmp = join(
    dirname(path),
    `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`,
  );
  const chunk = options.chunkSize ?? 4 << 20;
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', 0o644);
    let written = 0;
    while (written < bytes.byteLength) {
      const n = writeSync(fd, bytes, written, Math.min(chunk, bytes.byteLength - written));
      written += n;
      options.onProgress?.(written, bytes.byteLength);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // already failing; the original error matters
      }
    }
    rmSync(tmp, { force: true });
    runtimeError(RuntimeErrorCodes.ARTIFACT_IO, `cannot write artifact '${path}': ${(e as Error).message}`, {
      cause: e,
    });
  }
}
