// The Kiln version recorded in artifacts (the CLI package's own version).
import { readFileSync } from 'node:fs';

function readVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pj = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pj.name === '@kiln/cli' && pj.version) return pj.version;
    } catch {
      // try the next location (sources vs. dist)
    }
  }
  return '0.0.0';
}

export const KILN_VERSION = readVersion();
