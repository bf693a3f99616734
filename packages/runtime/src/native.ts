// Lazy access to koffi (native FFI). Loaded on first use, not at import, so that
// the JS-only parts of the runtime (the VM with `js` kernels, the artifact reader)
// still work where no native addon is available; native-only features then fail
// with NATIVE_UNAVAILABLE instead of the whole package failing to import.
import { createRequire } from 'node:module';
import type * as Koffi from 'koffi';
import { RuntimeErrorCodes, runtimeError } from './errors.js';

export type KoffiApi = typeof Koffi;

let cached: KoffiApi | null | undefined;
let loadError: unknown;

/** koffi, or undefined when it cannot be loaded on this platform. */
export function tryKoffi(): KoffiApi | undefined {
  if (cached === undefined) {
    try {
      const req = createRequire(import.meta.url);
      cached = req('koffi') as KoffiApi;
    } catch (e) {
      loadError = e;
      cached = null;
    }
  }
  return cached ?? undefined;
}

export function requireKoffi(what: string): KoffiApi {
  const k = tryKoffi();
  if (!k) {
    runtimeError(
      RuntimeErrorCodes.NATIVE_UNAVAILABLE,
      `${what} needs the native FFI (koffi), which failed to load`,
      {
        cause: loadError,
      },
    );
  }
  return k;
}

/** The native address of the first byte of an ArrayBuffer (bigint), or undefined without koffi. */
export function bufferAddress(buffer: ArrayBuffer): bigint | undefined {
  const k = tryKoffi();
  return k ? k.address(buffer) : undefined;
}
