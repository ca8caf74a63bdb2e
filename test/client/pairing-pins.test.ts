import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { formatFerryId } from '../../src/crypto/index.js';
import { isFerryError } from '../../src/errors/index.js';
import { lookupServer, pinServer } from '../../src/home/index.js';
import { pairingPins } from '../../src/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

async function tempHome(t: TestContext): Promise<string> {
  const dir = await makeTempDir('ferry-pairing-pins-');
  t.after(() => removeTempDir(dir));
  return dir;
}

test('`pairingPins` lets an unknown server through and pins its key only when paired (§12.6 steps 2, 5)', async (t) => {
  const home = await tempHome(t);
  const key = randomBytes(32);
  const pins = pairingPins(home, '127.0.0.1:7443');
  await pins.verifyServer(key);
  assert.equal(await lookupServer(home, '127.0.0.1:7443'), undefined, 'nothing pinned before PAIR_DONE');
  await pins.onPaired(key);
  assert.equal(await lookupServer(home, '127.0.0.1:7443'), formatFerryId(key));
});

test('`pairingPins` refuses a server pinned at that address with another key (SERVER_KEY_CHANGED) and keeps the pin', async (t) => {
  const home = await tempHome(t);
  const pinned = randomBytes(32);
  await pinServer(home, { address: '127.0.0.1:7443', id: formatFerryId(pinned) });
  const pins = pairingPins(home, '127.0.0.1:7443');
  await pins.verifyServer(pinned);
  const other = randomBytes(32);
  await assert.rejects(
    Promise.resolve(pins.verifyServer(other)),
    (err) => isFerryError(err, 'SERVER_KEY_CHANGED') && err.message.includes(formatFerryId(other)),
  );
  assert.equal(await lookupServer(home, '127.0.0.1:7443'), formatFerryId(pinned));
});
