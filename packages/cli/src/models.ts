// Model loading for the CLI: a file becomes a Relax IRModule through a frontend chosen by
// its extension. Built in: ONNX models (`.onnx`, @kiln/frontends-onnx) and model scripts
// (`.mjs`/`.js` ES modules whose default export returns an IRModule, sync or async — how
// TypeScript users describe a network with BlockBuilder).
import { existsSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { onnxFrontend } from '@kiln/frontends-onnx';
import type { IRModule } from '@kiln/ir-core';
import { ErrorCodes, KilnError } from '@kiln/ir-core';

export interface ModuleFrontend {
  /** Extensions handled, with the dot (`.onnx`). */
  readonly extensions: readonly string[];
  readonly name: string;
  load(path: string): Promise<IRModule>;
}

function isIRModule(x: unknown): x is IRModule {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'IRModule';
}

export const scriptFrontend: ModuleFrontend = {
  name: 'model-script',
  extensions: ['.mjs', '.js'],
  async load(path) {
    const mod = (await import(pathToFileURL(resolve(path)).href)) as { default?: unknown };
    const make = mod.default;
    if (typeof make !== 'function') {
      throw new KilnError(
        'MODEL_LOAD',
        `${path}: a model script must export a default function returning an IRModule`,
      );
    }
    const out = await (make as () => unknown)();
    if (!isIRModule(out))
      throw new KilnError('MODEL_LOAD', `${path}: the default export did not return an IRModule`);
    return out;
  },
};

export const BUILTIN_FRONTENDS: readonly ModuleFrontend[] = [scriptFrontend, onnxFrontend];

export async function loadModel(
  path: string,
  frontends: readonly ModuleFrontend[] = BUILTIN_FRONTENDS,
): Promise<IRModule> {
  if (!existsSync(path))
    throw new KilnError(ErrorCodes.INVALID_ARGUMENT, `model file '${path}' does not exist`);
  const ext = extname(path).toLowerCase();
  const fe = frontends.find((f) => f.extensions.includes(ext));
  if (!fe) {
    const known = frontends.flatMap((f) => f.extensions).join(', ');
    throw new KilnError('UNSUPPORTED_FORMAT', `no frontend for '${ext || path}' files (supported: ${known})`);
  }
  return fe.load(path);
}
