#!/usr/bin/env node
// `npm start`: a server with sensible defaults for a first try. Its identity and allow-list live in
// ./.ferry-home (created on first run), files land in ./ferry-data, and it listens on 127.0.0.1:7443.
// Extra arguments pass through: `npm start -- --listen [::1]:7443`.
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
  ...process.argv.slice(2),
];
const child = spawn(process.execPath, [bin, ...args], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code) => process.exit(code ?? 0));
