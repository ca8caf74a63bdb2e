// `npm run cluster`: starts a one-node Swift with its S3 API on loopback, prints how to reach it and how to
// point `ferry serve` at it, and stops everything (every daemon killed, its temp dir removed) on Ctrl-C.
import { startSwiftNode } from './swift-node.js';

const node = await startSwiftNode();
const started = Date.now();
process.stdout.write(
  [
    `swift (s3api) ready at ${node.endpoint}`,
    `  AWS_ACCESS_KEY_ID=${node.accessKeyId} AWS_SECRET_ACCESS_KEY=${node.secretAccessKey} AWS_REGION=${node.region}`,
    `  ferry serve --store s3://BUCKET/PREFIX --s3-endpoint ${node.endpoint}`,
    'Ctrl-C stops it.',
    '',
  ].join('\n'),
);
const stop = (): void => {
  void node.stop().then(() => {
    process.stdout.write(`stopped after ${Math.round((Date.now() - started) / 1000)} s\n`);
    process.exit(0);
  });
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
