// Bundle a TypeScript entry together with the Kiln packages it imports, from their sources
// (the `kiln-src` export condition), into one ESM file; every other package stays an
// import resolved at run time. The tools that run Kiln without a build (the ONNX
// conformance runner, the model zoo) load their core this way.
export async function bundleFromSource(entry, outfile) {
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    conditions: ['kiln-src'],
    logLevel: 'error',
    banner: {
      js: "import { createRequire as __kilnCreateRequire } from 'node:module'; const require = __kilnCreateRequire(import.meta.url);",
    },
    plugins: [
      {
        name: 'externals',
        setup(b) {
          b.onResolve({ filter: /^[^./]/ }, (a) =>
            a.path.startsWith('@kiln/') ? undefined : { path: a.path, external: true },
          );
        },
      },
    ],
  });
  return outfile;
}
