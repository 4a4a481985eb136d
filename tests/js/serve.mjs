// Starts `minnow serve` for a test file: a temporary store with the models given (name ->
// Modelfile text, written and created with `minnow create`), a free loopback port (--port 0, the
// address read from the server's "listening on" line), one thread. prepare(store, env) may add to
// the store or the environment before the server starts. stop() ends the server and removes the
// store. requireOrSkip ends a test file early (skipped) when what it needs is missing.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

// Exits 77 (CTest's skip code) with the reason unless tests/js has the npm packages, and
// MINNOW_BINARY and the files exist (what: those files, for the message).
export function requireOrSkip(packages, files, what) {
  for (const pkg of packages) {
    if (!fs.existsSync(path.join(here, 'node_modules', pkg))) {
      console.log(`SKIP: the ${pkg} package is not installed (npm ci in tests/js)`);
      process.exit(77);
    }
  }
  const binary = process.env.MINNOW_BINARY;
  if (!binary || !fs.existsSync(binary) || files.some((f) => !fs.existsSync(f))) {
    console.log(`SKIP: needs MINNOW_BINARY and ${what}`);
    process.exit(77);
  }
}

export async function startServe(binary, { models = {}, prepare = null, prefix = 'minnow-js-' } = {}) {
  const store = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const env = { ...process.env, MINNOW_MODELS: store };
  for (const [name, modelfile] of Object.entries(models)) {
    const file = path.join(store, 'Modelfile');
    fs.writeFileSync(file, modelfile);
    execFileSync(binary, ['create', name, '-f', file], { env });
  }
  if (prepare) await prepare(store, env);
  const server = spawn(binary, ['serve', '--port', '0', '--threads', '1'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const base = await new Promise((resolve, reject) => {
    let err = '';
    server.stderr.on('data', (d) => {
      err += d;
      const m = err.match(/listening on (http:\/\/[0-9.]+:[0-9]+)/);
      if (m) resolve(m[1]);
    });
    server.on('exit', (code) => reject(new Error(`minnow serve exited (${code}): ${err}`)));
  });
  return {
    base,
    store,
    env,
    server,
    stop() {
      server.kill('SIGTERM');
      fs.rmSync(store, { recursive: true, force: true });
    },
  };
}
