// Lint rules, including the layering of docs/ARCHITECTURE.md:
// errors <- crypto <- protocol <- machines <- channel <- transfer/home <- objectstore <- server/client <- cli/web; the CLI uses the client,
// the server and the dashboard only through src/index.ts, the public library API (or its client half, src/client-api.ts).
// crypto/, protocol/ and machines/ are pure (no sockets, files or timers) so every protocol step is testable with bytes.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const IO_MODULES = [
  'net',
  'fs',
  'fs/promises',
  'tls',
  'dgram',
  'child_process',
  'timers',
  'timers/promises',
  'http',
].flatMap((m) => [m, `node:${m}`]);
// One entry per folder of the layer table in docs/ARCHITECTURE.md (test/project/architecture-doc.test.ts holds
// the two together). `banned` folders may not be imported at all; `publicOnly` folders only through
// src/index.ts, the public library API; `indexOnly` forbids reaching past another folder's index.ts.
const layer = (files, banned, { ioBanned = false, publicOnly = [], indexOnly = false, paths = [] } = {}) => ({
  files,
  rules: {
    'no-restricted-imports': [
      'error',
      {
        paths: [
          ...(ioBanned
            ? IO_MODULES.map((name) => ({ name, message: 'this layer is pure: no sockets, files or timers' }))
            : []),
          ...paths,
        ],
        patterns: [
          ...banned.map((dir) => ({
            group: [`**/${dir}/*`, `../${dir}/*`],
            message: `this layer must not import ${dir}/`,
          })),
          ...publicOnly.map((dir) => ({
            group: [`**/${dir}/*`, `../${dir}/*`],
            message: `use ${dir}/ only through src/index.ts, the public library API`,
          })),
          ...(indexOnly
            ? [
                {
                  group: ['../*/*', '!../*/index.js'],
                  message: 'import another folder only through its index.ts',
                },
              ]
            : []),
        ],
      },
    ],
  },
});

// eslint-disable-next-line no-restricted-syntax -- eslint itself requires a default export here
export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'test-artifacts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', 'scripts/*.mjs', 'docs/examples/*.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportDefaultDeclaration', message: 'no default exports' },
        {
          // An async function's returned promise is flattened: `Promise<Promise<T>>` is a lie the compiler
          // accepts, and its caller awaits the inner work too (stop 39: a delta upload's session read
          // nothing while its old file was signed). Return the inner promise inside an object.
          selector:
            "TSTypeReference[typeName.name='Promise'] > TSTypeParameterInstantiation > TSTypeReference[typeName.name='Promise']",
          message: 'a promise of a promise is flattened: return the inner promise inside an object',
        },
        {
          selector:
            "TSTypeReference[typeName.name='Promise'] > TSTypeParameterInstantiation > TSUnionType > TSTypeReference[typeName.name='Promise']",
          message: 'a promise of a promise is flattened: return the inner promise inside an object',
        },
      ],
    },
  },
  layer(
    ['src/errors/**'],
    [
      'crypto',
      'protocol',
      'machines',
      'channel',
      'transfer',
      'home',
      'objectstore',
      'server',
      'client',
      'cli',
      'web',
    ],
    { ioBanned: true },
  ),
  layer(
    ['src/crypto/**'],
    ['protocol', 'machines', 'channel', 'transfer', 'home', 'objectstore', 'server', 'client', 'cli', 'web'],
    { ioBanned: true },
  ),
  layer(
    ['src/protocol/**'],
    ['machines', 'channel', 'transfer', 'home', 'objectstore', 'server', 'client', 'cli', 'web'],
    {
      ioBanned: true,
    },
  ),
  layer(
    ['src/machines/**'],
    ['channel', 'transfer', 'home', 'objectstore', 'server', 'client', 'cli', 'web'],
    {
      ioBanned: true,
    },
  ),
  {
    // A machine holds its own state and nothing else: no module-level variable or collection, which every
    // machine of the process (every session's, every server's) would share (stop 38: the download sender's
    // memo of file digests; the server's FileDigestMemo now). What a machine needs from outside is passed in.
    files: ['src/machines/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportDefaultDeclaration', message: 'no default exports' },
        {
          selector: ':matches(Program, ExportNamedDeclaration) > VariableDeclaration[kind=/^(let|var)$/]',
          message: 'a machine holds no process-wide state: no module-level variable',
        },
        {
          selector:
            ':matches(Program, ExportNamedDeclaration) > VariableDeclaration > VariableDeclarator > NewExpression[callee.name=/^(Map|Set|WeakMap|WeakSet)$/]',
          message: 'a machine holds no process-wide state: no module-level collection',
        },
      ],
    },
  },
  layer(
    ['src/channel/**'],
    ['machines', 'transfer', 'home', 'objectstore', 'server', 'client', 'cli', 'web'],
  ),
  layer(['src/transfer/**'], ['channel', 'home', 'objectstore', 'server', 'client', 'cli', 'web']),
  layer(
    ['src/home/**'],
    ['machines', 'channel', 'transfer', 'objectstore', 'server', 'client', 'cli', 'web'],
  ),
  // The object store: partials and files in an S3-compatible bucket, behind the transfer layer's port.
  layer(['src/objectstore/**'], ['crypto', 'machines', 'channel', 'home', 'server', 'client', 'cli', 'web'], {
    indexOnly: true,
  }),
  layer(['src/server/**'], ['objectstore', 'client', 'cli', 'web']),
  layer(['src/client/**'], ['objectstore', 'server', 'cli', 'web']),
  layer(
    ['src/web/**'],
    ['protocol', 'machines', 'channel', 'transfer', 'home', 'objectstore', 'client', 'cli'],
    {
      indexOnly: true,
    },
  ),
  layer(['src/cli/**'], ['machines', 'channel'], {
    publicOnly: ['objectstore', 'server', 'client', 'web'],
    indexOnly: true,
    // The CLI runs whole operations, as an embedder would; assembling them from these parts is the
    // library's job (sendPaths, getPaths, listFiles, allowListAuthorize), or every embedder does it again.
    // src/client-api.ts is the client half of src/index.ts (re-exported there whole): the same names are
    // refused through either.
    paths: ['../index.js', '../client-api.js'].map((name) => ({
      name,
      importNames: [
        'ClientSession',
        'runUploadJobs',
        'treeJobs',
        'withRetries',
        'listRemote',
        'remotePathKind',
        'resolveDestination',
        'remoteDestination',
        'LOCAL_DESTINATION',
        'aboutRemotePath',
      ],
      message: 'the CLI uses whole operations (sendPaths, getPaths, listFiles), like any embedder',
    })),
  }),
  // The library never writes to the terminal: only the CLI decides what a user sees (events, --json, -q).
  {
    files: ['src/**'],
    ignores: ['src/cli/**'],
    rules: {
      'no-console': 'error',
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'stdout', message: 'only src/cli writes to the terminal' },
        { object: 'process', property: 'stderr', message: 'only src/cli writes to the terminal' },
      ],
    },
  },
  {
    files: ['test/**', 'bench/**', 'scripts/**'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
      },
    },
  },
);
