#!/usr/bin/env node
// Entry point of the `kiln` executable.
import { runCLI } from './cli.js';

runCLI(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (e: unknown) => {
    process.stderr.write(
      `kiln: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
    );
    process.exitCode = 2;
  },
);
