#!/usr/bin/env node
// ONNX conformance runner: `npm run conformance:onnx -- <dir> [--json <file>] [--filter <re>]
// [--jobs N] [--no-packaged] [--update-expected]`. Runs every `<dir>/<case>/model.onnx`
// (the node cases written by tools/onnx/gen_node_tests.py) and the data sets shipped in
// the onnx package (simple, pytorch-converted, pytorch-operator, light) through Kiln's CPU
// pipeline in worker processes, compares with the reference outputs, and fails when a case
// that is not listed in tools/onnx/expected-failures.json fails (a regression).
import { execFileSync, fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleFromSource } from '../bundle-src.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const cacheDir = join(root, '.cache/kiln-conformance');
// One bundle per run, so concurrent runs (and their workers) never see each other's build.
const workerArg = process.argv.indexOf('--worker');
const bundle =
  workerArg >= 0 ? process.argv[workerArg + 1] : join(cacheDir, `runner-core-${process.pid}.mjs`);
const EXPECTED = join(here, 'expected-failures.json');
const CASE_TIMEOUT_MS = Number(process.env.KILN_CONFORMANCE_TIMEOUT ?? 300_000);

async function buildBundle() {
  mkdirSync(cacheDir, { recursive: true });
  await bundleFromSource(join(here, 'runner-core.ts'), bundle);
}

// ---------------------------------------------------------------- worker side
if (workerArg >= 0) {
  const core = await import(bundle);
  if (process.env.KILN_CONFORMANCE_CACHE !== '0')
    core.configureCache(
      join(cacheDir, 'artifacts'),
      createHash('sha256').update(readFileSync(bundle)).digest('hex'),
    );
  process.on('message', (msg) => {
    if (msg === 'exit') process.exit(0);
    let r;
    try {
      r = core.runCase(msg);
    } catch (e) {
      r = {
        name: msg.name,
        suite: msg.suite,
        pass: false,
        stage: 'run',
        code: 'CRASH',
        reason: String(e?.message ?? e),
        ms: 0,
      };
    }
    process.send(r);
  });
  process.send({ ready: true });
} else {
  await main();
}

function parseArgs(argv) {
  const o = {
    dir: undefined,
    json: undefined,
    filter: undefined,
    jobs: Math.max(1, cpus().length),
    packaged: true,
    update: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') o.json = argv[++i];
    else if (a === '--filter') o.filter = new RegExp(argv[++i]);
    else if (a === '--jobs' || a === '-j') o.jobs = Number(argv[++i]);
    else if (a === '--no-packaged') o.packaged = false;
    else if (a === '--update-expected') o.update = true;
    else if (!a.startsWith('--')) o.dir = a;
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

/** Folder of the data sets shipped in the onnx package (the pip --target cache first). */
function packagedDataDir() {
  const local = join(root, '.cache/onnx-py/onnx/backend/test/data');
  if (existsSync(local)) return local;
  try {
    const p = execFileSync('python3', ['-c', 'import onnx, os; print(os.path.dirname(onnx.__file__))'], {
      encoding: 'utf8',
    }).trim();
    return join(p, 'backend/test/data');
  } catch {
    return undefined;
  }
}

/** A stable cause for grouping failures. */
export function causeOf(r) {
  const m = r.reason ?? '';
  if (r.code === 'ONNX_UNSUPPORTED_OP') {
    const ops = [...m.matchAll(/([A-Za-z][A-Za-z0-9_.]*) \(opset \d+(?:: ([^)]*))?\)/g)].map((x) =>
      x[2] ? `${x[1]} (${x[2].replace(/\d+/g, 'N')})` : x[1],
    );
    if (ops.length) return `unsupported op: ${[...new Set(ops)].join(', ')}`;
    const tail = m.split('): ').pop();
    return `unsupported: ${tail}`;
  }
  if (/has no VM lowering/.test(m))
    return `relax: no legalization for ${m.match(/operator '([^']+)'/)?.[1] ?? '?'}`;
  if (r.code === 'ONNX_UNSUPPORTED_DTYPE')
    return `unsupported dtype: ${m.match(/element type (\S+)/)?.[1] ?? '?'}`;
  if (r.code === 'TEST_DATA') return 'test data is not a tensor (sequence/optional/float8/int4)';
  if (r.code === 'ONNX_DYNAMIC') return 'dynamic: value needed at compile time';
  if (r.stage === 'compare') return 'numerical mismatch';
  return `${r.stage}: ${r.code ?? 'error'}`;
}

async function runAll(cases, jobs) {
  const results = [];
  let next = 0;
  const total = cases.length;
  let finished = 0;
  const startWorker = () =>
    new Promise((resolveWorker) => {
      const spawn = () => {
        const w = fork(fileURLToPath(import.meta.url), ['--worker', bundle], {
          stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
          execArgv: ['--max-old-space-size=4096'],
        });
        let stderr = '';
        w.stderr.on('data', (d) => {
          stderr = (stderr + d).slice(-2000);
        });
        let current;
        let timer;
        const give = () => {
          if (next >= total) {
            current = undefined;
            w.send('exit');
            return;
          }
          current = cases[next++];
          timer = setTimeout(() => {
            w.kill('SIGKILL');
          }, CASE_TIMEOUT_MS);
          w.send(current);
        };
        w.on('message', (m) => {
          if (m.ready) return give();
          clearTimeout(timer);
          results.push(m);
          finished++;
          if (process.stderr.isTTY)
            process.stderr.write(
              `\r${finished}/${total} ${m.pass ? 'ok  ' : 'FAIL'} ${m.name.padEnd(60).slice(0, 60)}`,
            );
          give();
        });
        w.on('exit', (code, signal) => {
          clearTimeout(timer);
          if (current) {
            // The worker died on this case (native crash, out of memory or timeout).
            const why =
              signal === 'SIGKILL'
                ? `timed out after ${CASE_TIMEOUT_MS / 1000}s`
                : `worker crashed (${signal ?? `exit ${code}`}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`;
            results.push({
              name: current.name,
              suite: current.suite,
              pass: false,
              stage: 'run',
              code: 'CRASH',
              reason: why,
              ms: 0,
            });
            finished++;
            current = undefined;
            spawn();
          } else resolveWorker();
        });
      };
      spawn();
    });
  await Promise.all(Array.from({ length: Math.min(jobs, cases.length) }, startWorker));
  if (process.stderr.isTTY) process.stderr.write('\n');
  return results;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (!o.dir) {
    console.error(
      'usage: npm run conformance:onnx -- <dir> [--json <file>] [--filter <re>] [--jobs N] [--no-packaged] [--update-expected]',
    );
    console.error('generate <dir> with: python3 tools/onnx/gen_node_tests.py --out .cache/onnx-node');
    process.exit(2);
  }
  const t0 = Date.now();
  await buildBundle();
  const core = await import(bundle);
  let cases = core.casesIn(resolve(o.dir), 'node');
  if (cases.length === 0) {
    console.error(`no cases under ${o.dir} (expected <dir>/<case>/model.onnx)`);
    process.exit(2);
  }
  if (o.packaged) {
    const data = packagedDataDir();
    if (data) {
      for (const s of ['simple', 'pytorch-converted', 'pytorch-operator'])
        cases.push(...core.casesIn(join(data, s), s));
      cases.push(...core.lightCases(join(data, 'light')));
    } else console.error('note: onnx package data sets not found; run tools/onnx/gen_node_tests.py first');
  }
  if (o.filter) cases = cases.filter((c) => o.filter.test(c.name));
  // Slow models first so the workers finish together.
  cases.sort((a, b) => (b.suite === 'light') - (a.suite === 'light'));
  const results = await runAll(cases, o.jobs);
  results.sort((a, b) => a.suite.localeCompare(b.suite) || a.name.localeCompare(b.name));
  for (const r of results) if (!r.pass) r.cause = causeOf(r);

  const expected = existsSync(EXPECTED) ? JSON.parse(readFileSync(EXPECTED, 'utf8')) : { causes: {} };
  const expectedSet = new Map();
  for (const [cause, list] of Object.entries(expected.causes ?? {}))
    for (const n of list) expectedSet.set(n, cause);
  const key = (r) => (r.suite === 'node' ? r.name : `${r.suite}/${r.name}`);
  const regressions = results.filter((r) => !r.pass && !expectedSet.has(key(r)));
  const fixed = results.filter((r) => r.pass && expectedSet.has(key(r)));

  const bySuite = new Map();
  for (const r of results) {
    const s = bySuite.get(r.suite) ?? { pass: 0, fail: 0 };
    r.pass ? s.pass++ : s.fail++;
    bySuite.set(r.suite, s);
  }
  const causes = new Map();
  for (const r of results) if (!r.pass) causes.set(r.cause, [...(causes.get(r.cause) ?? []), key(r)]);
  const sortedCauses = [...causes.entries()].sort((a, b) => b[1].length - a[1].length);
  console.log('failures by cause:');
  for (const [c, l] of sortedCauses) console.log(`  ${String(l.length).padStart(4)}  ${c}`);
  const bound = results.filter((r) => r.pass && r.bound?.length);
  if (bound.length)
    console.log(`${bound.length} passing cases had shape-determining inputs frozen at compile time`);
  if (fixed.length)
    console.log(
      `now passing (remove from expected-failures.json or rerun with --update-expected): ${fixed.map(key).join(', ')}`,
    );
  if (regressions.length) {
    console.log(`REGRESSIONS (failing, not in expected-failures.json): ${regressions.length}`);
    for (const r of regressions.slice(0, 50)) console.log(`  ${key(r)}: ${r.reason}`);
  }
  const secs = ((Date.now() - t0) / 1000).toFixed(0);
  if (o.update) {
    // Cases not run this time (--filter, --no-packaged) keep their entries.
    const ran = new Set(results.map(key));
    const merged = new Map();
    for (const [n, c] of expectedSet) if (!ran.has(n)) merged.set(c, [...(merged.get(c) ?? []), n]);
    for (const [c, l] of causes) merged.set(c, [...(merged.get(c) ?? []), ...l]);
    const ordered = [...merged.entries()].sort(
      (a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]),
    );
    const out = {
      note: 'ONNX conformance cases expected to fail, grouped by cause. Regenerate with --update-expected.',
      causes: Object.fromEntries(ordered.map(([c, l]) => [c, [...l].sort()])),
    };
    writeFileSync(EXPECTED, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`wrote ${EXPECTED}`);
  }
  if (o.json) {
    writeFileSync(
      o.json,
      `${JSON.stringify({ seconds: Number(secs), suites: Object.fromEntries(bySuite), causes: Object.fromEntries(sortedCauses), results }, null, 2)}\n`,
    );
  }
  for (const [s, v] of bySuite)
    if (s !== 'node') console.log(`onnx-${s}: ${v.pass} passed, ${v.fail} failed`);
  console.log(`time: ${secs}s with ${o.jobs} worker(s)`);
  const node = bySuite.get('node') ?? { pass: 0, fail: 0 };
  console.log(`onnx-node: ${node.pass} passed, ${node.fail} failed`);
  rmSync(bundle, { force: true });
  process.exitCode = regressions.length && !o.update ? 1 : 0;
}
