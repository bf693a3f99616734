// Shared tsup factory: every package's tsup.config.ts is two lines calling this,
// so that a later switch of bundler is a change in one place.
import { defineConfig, type Options } from 'tsup';

export function kilnPackage(entry: string[] = ['src/index.ts'], extra: Partial<Options> = {}) {
  return defineConfig({
    entry,
    format: ['esm'],
    // Declarations resolve other @kiln packages through their built .d.ts (nx builds
    // dependencies first), not through their sources: much faster, same types.
    dts: { compilerOptions: { customConditions: [] } },
    sourcemap: true,
    clean: true,
    target: 'es2022',
    platform: 'node',
    splitting: false,
    ...extra,
  });
}
