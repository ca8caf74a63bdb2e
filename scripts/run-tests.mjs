#!/usr/bin/env node
// Runs the test suite with node's own runner (through tsx for TypeScript). With no arguments it finds
// every `*.test.ts` under test/ (node 20 does not expand `**` itself); with arguments it runs those files.
// Refuses to report green when no test file was found: `node --test` with no files would exit 0.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...findTests(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const files = process.argv.length > 2 ? process.argv.slice(2) : findTests('test');
if (files.length === 0) {
  console.error('run-tests: no test files found');
  process.exit(1);
}
const args = [
  '--import',
  'tsx',
  '--test',
  // node's runner applies this to each test and to each FILE as a whole (a process's every hook and test). It
  // only catches hangs (every wait has its own deadline): a file that starts Swift and runs twenty tests on
  // it ran past the former 120 s at load 18 on two shared cores (swift-object-store.test.ts).
  '--test-timeout=300000',
  '--test-concurrency=2',
  ...(process.env.TEST_REPORTER ? [`--test-reporter=${process.env.TEST_REPORTER}`] : []),
  ...files,
];
const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
