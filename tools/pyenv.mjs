// Python packages for the tools that export models with PyTorch (bench, zoo): installed once
// with `pip install --target` into a cache folder, never at run time of Kiln itself.
import { spawnSync } from 'node:child_process';

/** Make `packages` importable from `dir` (installing them there if needed); returns the env to run python with. */
export function ensurePythonPackages(dir, packages) {
  const env = { ...process.env, PYTHONPATH: dir };
  const probe = spawnSync('python3', ['-c', `import ${packages.join(', ')}`], { env, stdio: 'ignore' });
  if (probe.status !== 0) {
    console.log(`installing ${packages.join(', ')} into ${dir} ...`);
    const pip = spawnSync('python3', ['-m', 'pip', 'install', '--quiet', '--target', dir, ...packages], {
      stdio: 'inherit',
    });
    if (pip.status !== 0) throw new Error(`pip install ${packages.join(' ')} failed`);
  }
  return env;
}
