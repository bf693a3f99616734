// @kiln/cli: the `kiln` command, and the default CPU pipeline as a library.
export { type CLIIO, runCLI } from './cli.js';
export {
  type CompileOptions,
  type CompileResult,
  type CompileStats,
  compileModule,
  defaultRelaxPipeline,
  type Progress,
} from './compile.js';
export { BUILTIN_FRONTENDS, loadModel, type ModuleFrontend, scriptFrontend } from './models.js';
export { encodeNpy, type NpyArray, parseNpy, readNpy } from './npy.js';
export { KILN_VERSION } from './version.js';
