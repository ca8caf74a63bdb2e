#!/usr/bin/env node
// `npm start`: a server with sensible defaults for a first try. Its identity and allow-list live in
// ./.ferry-home (created on first run), files land in ./ferry-data, it listens on 127.0.0.1:7443, and a
// read-only web dashboard runs on http://127.0.0.1:7080 (the banner prints its URL with the access token).
// Extra arguments pass through: `npm start -- --listen [::1]:7443 --dashboard 127.0.0.1:8080`.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/ferry', import.meta.url));
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
const child = spawn(process.execPath, [bin, ...args], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code) => process.exit(code ?? 0));
