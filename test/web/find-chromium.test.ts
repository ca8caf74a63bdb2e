// A fresh clone must run the browser tests with no system Chromium and no root (issue 12): the npm-shipped
// Chromium is found, unpacked and launched under playwright-core, even on a machine that also has Debian's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, findChromium } from './find-chromium.js';

test('without a system Chromium, findChromium unpacks the npm Chromium and playwright-core runs a page in it', async () => {
  const found = await findChromium({ systemChromium: '/nonexistent/usr/bin/chromium' });
  assert.match(found.source, /^@sparticuz\/chromium \d+\.\d+\.\d+ /);
  assert.match(found.executablePath, /node_modules\/\.cache\/ferry-chromium-[\d.]+\/chromium$/);
  const browser = await chromium.launch({
    executablePath: found.executablePath,
    args: [...CHROMIUM_ARGS],
    headless: true,
  });
  try {
    const page = await browser.newPage();
    // Script runs (the dashboard is a script page), and the DOM it changes is what the test reads back.
    await page.setContent(
      '<p id="out">static</p><script>document.getElementById("out").textContent = "ran"</script>',
    );
    assert.equal(await page.textContent('#out'), 'ran');
    assert.match(browser.version(), /^\d+\./);
  } finally {
    await browser.close();
  }
});

test('a second findChromium reuses the unpacked browser instead of unpacking again', async () => {
  const first = await findChromium({ systemChromium: '/nonexistent/usr/bin/chromium' });
  const before = await stat(first.executablePath);
  const second = await findChromium({ systemChromium: '/nonexistent/usr/bin/chromium' });
  const after = await stat(second.executablePath);
  assert.equal(second.executablePath, first.executablePath);
  // Unpacking again would write a new file (about 6 s here): same inode and mtime mean it was reused.
  assert.deepEqual([after.ino, after.mtimeMs], [before.ino, before.mtimeMs]);
});

test('with a system Chromium present, findChromium takes it as it is', async () => {
  // process.execPath stands in for "a file that exists there"; nothing is launched.
  const found = await findChromium({ systemChromium: process.execPath });
  assert.deepEqual(found, { executablePath: process.execPath, source: process.execPath });
});
