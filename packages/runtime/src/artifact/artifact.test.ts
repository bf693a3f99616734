// Artifact format tests: round trip, alignment, rejection of bad magic / other
// versions / truncation / corruption with stable codes, and atomic file writes.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isRuntimeError } from '../errors.js';
import { tryKoffi } from '../native.js';
import { arg, shapeOp } from '../vm/bytecode.js';
import { crc32 } from './crc32.js';
import { ARTIFACT_ALIGNMENT, type Artifact } from './format.js';
import { inspectArtifact } from './inspect.js';
import { readArtifact, readArtifactFile } from './reader.js';
import { writeArtifact, writeArtifactFile } from './writer.js';

const dir = mkdtempSync(join(tmpdir(), 'kiln-artifact-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (isRuntimeError(e)) return e.code;
    throw e;
  }
  return undefined;
}

function randomBytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    b[i] = s >>> 24;
  }
  return b;
}

function sample(): Artifact {
  const w = new Float32Array([0.5, -1.25, 3, 7.5, 0.125, -2]);
  return {
    kilnVersion: '0.1.0-test',
    target: 'llvm -mcpu=znver3',
    devices: ['cpu:0'],
    functions: [
      {
        name: 'main',
        params: [{ name: 'x', sig: { kind: 'tensor', dtype: 'float32', shape: ['n', 3] } }],
        ret: { kind: 'tensor', dtype: 'float32', shape: ['n', 2] },
        numRegisters: 3,
        heapSize: 1,
        numStorageSlots: 0,
        heapNames: ['n'],
        code: [
          { op: 'LoadConst', dst: 1, index: 0 },
          {
            op: 'AllocTensor',
            dst: 2,
            shape: shapeOp.dims({ kind: 'slot', slot: 0 }, 2),
            dtype: 'float32',
            device: 0,
          },
          { op: 'CallKernel', module: 'lib', symbol: 'matmul', args: [arg.reg(0), arg.reg(1), arg.reg(2)] },
          { op: 'Ret', src: 2 },
        ],
      },
    ],
    constants: [
      { name: 'w', dtype: 'float32', shape: [3, 2], data: new Uint8Array(w.buffer) },
      {
        name: 'b',
        dtype: 'int64',
        shape: [3],
        data: new Uint8Array(new BigInt64Array([1n, -2n, 3n]).buffer),
      },
      { name: 'big', dtype: 'uint8', shape: [1000], data: randomBytes(1000, 7) },
    ],
    kernelModules: [
      {
        name: 'lib',
        kind: 'cpu-so',
        device: 0,
        symbols: { matmul: { args: ['ptr', 'ptr', 'ptr'] } },
        data: randomBytes(333, 9),
      },
      { name: 'ref', kind: 'js', device: 0, symbols: {} },
    ],
    metadata: { model: 'tiny', opt: 3 },
  };
}

describe('crc32', () => {
  it('matches the standard check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
});

describe('artifact round trip', () => {
  it('writes and reads back everything', () => {
    const a = sample();
    const bytes = writeArtifact(a);
    expect(String.fromCharCode(...bytes.subarray(0, 4))).toBe('KILN');
    const r = readArtifact(bytes);
    expect(r.formatVersion).toBe(1);
    expect(r.bytecodeVersion).toBe(1);
    expect(r.kilnVersion).toBe(a.kilnVersion);
    expect(r.target).toBe(a.target);
    expect(r.devices).toEqual(a.devices);
    expect(r.functions).toEqual(a.functions);
    expect(r.metadata).toEqual(a.metadata);
    expect(r.constants.map((c) => [c.name, c.dtype, c.shape])).toEqual(
      a.constants.map((c) => [c.name, c.dtype, c.shape]),
    );
    r.constants.forEach((c, i) => {
      expect(Array.from(c.data)).toEqual(Array.from(a.constants[i].data));
    });
    expect(Array.from(r.kernelModules[0].data!)).toEqual(Array.from(a.kernelModules[0].data!));
    expect(r.kernelModules[1].data).toBeUndefined();
    expect(r.kernelModules[0].symbols).toEqual(a.kernelModules[0].symbols);
  });

  it('places sections and constants 64-byte aligned and views them without copying', () => {
    const bytes = writeArtifact(sample());
    const r = readArtifact(bytes);
    for (const s of r.sections) expect(s.offset % ARTIFACT_ALIGNMENT).toBe(0);
    for (const c of r.constants) {
      expect(c.data.buffer).toBe(bytes.buffer);
      expect(c.data.byteOffset % ARTIFACT_ALIGNMENT).toBe(0);
    }
  });

  it('file round trip reads into aligned memory', () => {
    const p = join(dir, 'rt.kiln');
    writeArtifactFile(p, sample());
    const r = readArtifactFile(p);
    expect(r.functions[0].name).toBe('main');
    const k = tryKoffi();
    if (k) {
      for (const c of r.constants)
        expect((k.address(c.data.buffer as ArrayBuffer) + BigInt(c.data.byteOffset)) % 64n).toBe(0n);
    }
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('inspectArtifact', () => {
  it('summarises a read artifact', () => {
    const s = inspectArtifact(readArtifact(writeArtifact(sample())));
    expect(s).toMatchObject({
      formatVersion: 1,
      bytecodeVersion: 1,
      kilnVersion: '0.1.0-test',
      target: 'llvm -mcpu=znver3',
      functions: [
        {
          name: 'main',
          signature: '(x: Tensor([n, 3], float32)) -> Tensor([n, 2], float32)',
          instructions: 4,
          registers: 3,
        },
      ],
      constants: { count: 3, bytes: 24 + 24 + 1000 },
      kernelModules: [
        { name: 'lib', kind: 'cpu-so', device: 'cpu:0', symbols: ['matmul'], bytes: 333 },
        { name: 'ref', kind: 'js', device: 'cpu:0', symbols: [], bytes: 0 },
      ],
    });
    expect(s.sections?.map((x) => x.name)).toEqual(['manifest', 'constants', 'kernels/lib']);
  });
});

describe('artifact validation', () => {
  const good = writeArtifact(sample());

  it('rejects bad magic', () => {
    const b = good.slice();
    b[0] = 0x7f;
    expect(codeOf(() => readArtifact(b))).toBe('ARTIFACT_MAGIC');
    expect(codeOf(() => readArtifact(new Uint8Array(0)))).toBe('ARTIFACT_MAGIC');
    expect(codeOf(() => readArtifact(new TextEncoder().encode('{"json": true}')))).toBe('ARTIFACT_MAGIC');
  });

  it('rejects another format version, naming the file', () => {
    const b = good.slice();
    new DataView(b.buffer).setUint32(4, 2, true);
    try {
      readArtifact(b, { source: 'model.kiln' });
      expect.unreachable();
    } catch (e) {
      expect(isRuntimeError(e, 'ARTIFACT_VERSION')).toBe(true);
      expect((e as Error).message).toContain('model.kiln');
      expect((e as Error).message).toContain('version 2');
    }
  });

  it('rejects truncated files at every cut point class', () => {
    for (const n of [3, 10, 31, 40, 100, good.length - 64, good.length - 1]) {
      const code = codeOf(() => readArtifact(good.subarray(0, n)));
      expect(code, `cut at ${n}`).toBe(n < 4 ? 'ARTIFACT_MAGIC' : 'ARTIFACT_CORRUPT');
    }
    const longer = new Uint8Array(good.length + 8);
    longer.set(good);
    expect(codeOf(() => readArtifact(longer))).toBe('ARTIFACT_CORRUPT');
  });

  it('detects a flipped bit anywhere (header, manifest, constants, kernels) by checksum', () => {
    const r = readArtifact(good);
    const spots = [20, 40, ...r.sections.map((s) => s.offset + Math.floor(s.length / 2))];
    for (const at of spots) {
      const b = good.slice();
      b[at] ^= 0x10;
      try {
        readArtifact(b, { source: 'x.kiln' });
        expect.unreachable(`flip at ${at}`);
      } catch (e) {
        expect(isRuntimeError(e, 'ARTIFACT_CORRUPT'), `flip at ${at}`).toBe(true);
        expect((e as Error).message).toContain('x.kiln');
      }
    }
  });

  it('every single-byte corruption is rejected with an artifact code, never a crash', () => {
    const small = writeArtifact({ ...sample(), constants: sample().constants.slice(0, 2) });
    const allowed = new Set(['ARTIFACT_MAGIC', 'ARTIFACT_VERSION', 'ARTIFACT_CORRUPT']);
    for (let at = 0; at < small.length; at++) {
      const b = small.slice();
      b[at] ^= 0x5a;
      const code = codeOf(() => readArtifact(b));
      expect(code !== undefined && allowed.has(code), `byte ${at}: ${code}`).toBe(true);
    }
  });

  it('verifyChecksums: false skips data sections but still checks the manifest', () => {
    const r = readArtifact(good);
    const consts = r.sections.find((s) => s.name === 'constants')!;
    const manifest = r.sections.find((s) => s.name === 'manifest')!;
    const b = good.slice();
    b[consts.offset + 3] ^= 1;
    expect(codeOf(() => readArtifact(b))).toBe('ARTIFACT_CORRUPT');
    expect(readArtifact(b, { verifyChecksums: false }).constants.length).toBe(3);
    const m = good.slice();
    m[manifest.offset + 5] ^= 1;
    expect(codeOf(() => readArtifact(m, { verifyChecksums: false }))).toBe('ARTIFACT_CORRUPT');
  });

  it('rejects a well-checksummed but malformed manifest', () => {
    const a = sample();
    const bad = { ...a, functions: [{ ...a.functions[0], numRegisters: -1 }] };
    expect(codeOf(() => readArtifact(writeArtifact(bad)))).toBe('ARTIFACT_CORRUPT');
  });

  it('rejects bytecode of another version even when the file is intact', () => {
    const b = good.slice();
    const r = readArtifact(b);
    const m = r.sections.find((s) => s.name === 'manifest')!;
    const text = new TextDecoder().decode(b.subarray(m.offset, m.offset + m.length));
    expect(text).toContain('"bytecodeVersion":1,');
    b.set(new TextEncoder().encode(text.replace('"bytecodeVersion":1,', '"bytecodeVersion":9,')), m.offset);
    // Re-seal: the manifest CRC in the section table, then the header CRC.
    const dv = new DataView(b.buffer);
    const headerLen = dv.getUint32(8, true);
    const nameBytes = new TextEncoder().encode('manifest');
    let at = -1;
    for (let i = 32; i < headerLen - nameBytes.length; i++) {
      if (nameBytes.every((c, j) => b[i + j] === c)) at = i + nameBytes.length;
    }
    dv.setUint32(at + 16, crc32(b.subarray(m.offset, m.offset + m.length)), true);
    dv.setUint32(12, crc32(b.subarray(16, headerLen)), true);
    expect(codeOf(() => readArtifact(b))).toBe('ARTIFACT_VERSION');
  });

  it('refuses to write inconsistent constants', () => {
    const a = sample();
    const bad = { ...a, constants: [{ dtype: 'float32', shape: [4], data: new Uint8Array(8) }] };
    expect(codeOf(() => writeArtifact(bad))).toBe('SHAPE_MISMATCH');
  });
});

describe('atomic write', () => {
  it('a failure mid-write leaves the existing target untouched and no temp file', () => {
    const p = join(dir, 'atomic.kiln');
    writeFileSync(p, 'previous contents');
    let calls = 0;
    const code = codeOf(() =>
      writeArtifactFile(p, sample(), {
        chunkSize: 256,
        onProgress: () => {
          if (++calls === 2) throw new Error('simulated crash (disk full)');
        },
      }),
    );
    expect(code).toBe('ARTIFACT_IO');
    expect(calls).toBe(2);
    expect(readFileSync(p, 'utf8')).toBe('previous contents');
    expect(readdirSync(dir).filter((f) => f.includes('atomic.kiln') && f !== 'atomic.kiln')).toEqual([]);
  });

  it('a failure when there was no target leaves no file at all', () => {
    const p = join(dir, 'fresh.kiln');
    expect(
      codeOf(() =>
        writeArtifactFile(p, sample(), {
          chunkSize: 128,
          onProgress: () => {
            throw new Error('boom');
          },
        }),
      ),
    ).toBe('ARTIFACT_IO');
    expect(existsSync(p)).toBe(false);
    expect(readdirSync(dir).some((f) => f.includes('fresh.kiln'))).toBe(false);
  });

  it('replaces the target in one step on success', () => {
    const p = join(dir, 'replace.kiln');
    writeFileSync(p, 'old');
    writeArtifactFile(p, sample());
    expect(readArtifactFile(p).kilnVersion).toBe('0.1.0-test');
  });

  it('reports a missing directory as ARTIFACT_IO', () => {
    expect(codeOf(() => writeArtifactFile(join(dir, 'no/such/dir/x.kiln'), sample()))).toBe('ARTIFACT_IO');
    expect(codeOf(() => readArtifactFile(join(dir, 'missing.kiln')))).toBe('ARTIFACT_IO');
  });
});
