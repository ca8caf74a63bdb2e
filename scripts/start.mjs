#!/usr/bin/env node
// `npm start`: a server with sensible defaults for a first try. Its identity and allow-list live in
// ./.ferry-home (created on first run), files land in ./ferry-data, it listens on 127.0.0.1:7443, and a
// read-only web dashboard runs on http://127.0.0.1:7080 (the banner prints its URL with the access token).
// Extra arguments pass through: `npm start -- --listen [::1]:7443 --dashboard 127.0.0.1:8080`.
//
// It builds first only when the build is missing or older than its sources (scripts/build-state.mjs): a
// build costs ~16 CPU s (40-80 s on a loaded 2-core machine), which every `npm start` paid before.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, buildIsStale } from './build-state.mjs';

if (buildIsStale()) {
  // npm's own entry when npm runs us (it may not be on the PATH, under nvm), else the one on the PATH.
  const npm = process.env.npm_execpath;
  const [command, args] = npm ? [process.execPath, [npm, 'run', 'build']] : ['npm', ['run', 'build']];
  const build = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
} else {
  process.stderr.write('ferry: the build is up to date with src/ (`npm run build` rebuilds it)\n');
}

// Imported once the build is there: the exit code of a server that could not listen (LISTEN_FAILED).
const { EXIT_CODES } = await import('../dist/errors/exit-codes.js');

const args = [
  'serve',
  '--init',
  '--home',
  process.env.FERRY_HOME ?? '.ferry-home',
  '--root',
  'ferry-data',
  '--listen',
  '127.0.0.1:7443',
  '--dashboard',
  '127.0.0.1:7080',
  ...process.argv.slice(2),
];
const child = spawn(process.execPath, [join(ROOT, 'bin', 'ferry'), ...args], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code) => {
  // Its line says "choose another address with --listen" (or --dashboard), and `npm start --listen ...`
  // gives that flag to npm, not to ferry: a second `npm start` beside a running one met this.
  if (code === EXIT_CODES.network)
    process.stderr.write(
      'ferry: npm start passes what follows `--` on to ferry serve: npm start -- --listen 127.0.0.1:7444 --dashboard 127.0.0.1:7081\n',
    );
  process.exit(code ?? 0);
});
