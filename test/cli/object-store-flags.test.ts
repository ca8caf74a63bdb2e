// `ferry serve --store s3://BUCKET/PREFIX --s3-endpoint URL --s3-region R`: what the flags accept and refuse,
// and that building the store prints nothing (the AWS SDK's Node 20 warning stays off the CLI's output).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { objectStoreFromFlags } from '../../src/cli/object-store-flags.js';
import { parseS3Location } from '../../src/index.js';
import { S3PartialStore } from '../../src/objectstore/index.js';

test('no --store: no object store; --s3-endpoint or --s3-region alone are refused', async () => {
  assert.equal(await objectStoreFromFlags({}), undefined);
  await assert.rejects(objectStoreFromFlags({ s3Endpoint: 'http://127.0.0.1:8080' }), {
    code: 'USAGE_INVALID',
  });
  await assert.rejects(objectStoreFromFlags({ s3Region: 'eu-west-1' }), { code: 'USAGE_INVALID' });
});

test('--store names a bucket and a prefix; bad buckets, prefixes and endpoints are refused', async () => {
  assert.deepEqual(parseS3Location('s3://my-bucket/a/b/'), { bucket: 'my-bucket', prefix: 'a/b/' });
  assert.deepEqual(parseS3Location('s3://my-bucket'), { bucket: 'my-bucket', prefix: '' });
  for (const bad of ['s3://B/x', 's3://ab/x', 'http://bucket/x', 's3://bucket/a/../b', 's3://bucket//a'])
    assert.throws(() => parseS3Location(bad), { code: 'USAGE_INVALID' }, bad);
  for (const endpoint of ['127.0.0.1:8080', 'ftp://127.0.0.1/'])
    await assert.rejects(objectStoreFromFlags({ store: 's3://bucket/p', s3Endpoint: endpoint }), {
      code: 'USAGE_INVALID',
    });
});

test('a store is built without a warning on the process (the SDK would print one on Node 20)', async () => {
  const warnings: Error[] = [];
  const onWarning = (warning: Error): void => void warnings.push(warning);
  process.on('warning', onWarning);
  try {
    const store = await objectStoreFromFlags({
      store: 's3://bucket/files',
      s3Endpoint: 'http://127.0.0.1:9',
    });
    assert.ok(store instanceof S3PartialStore);
    assert.equal(store.targetOf('a/b.txt'), 'files/a/b.txt');
    // process.emitWarning reports on the next tick: let it.
    await new Promise<void>((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', onWarning);
  }
  assert.deepEqual(
    warnings.map((w) => w.message),
    [],
  );
});
