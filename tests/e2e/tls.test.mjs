// End-to-end over HTTPS: `sightline serve --tls-cert --tls-key` with a throwaway
// self-signed certificate (openssl). Chromium negotiates HTTP/2 by ALPN, the Arrow
// stream arrives zstd-compressed (Chromium offers gzip, deflate, br, zstd), and the
// heatmap draws every row under the strict CSP with no error. Screenshot:
// tests/out/heatmap-tls.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { OUT, startServer, launch, openPage, routePage, assertClean } from './harness.mjs';

const ROWS = 200_000;
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sightline over TLS</title>
<script type="module" src="/www/sightline.js"></script></head>
<body><sightline-heatmap src="/api/events?source=demo" column="duration_ms" time-zone="utc"></sightline-heatmap></body></html>`;

test('over TLS: HTTP/2, a zstd-compressed Arrow stream, and the heatmap drawn', { timeout: 120_000 }, async (t) => {
  const dir = path.join(OUT, 'tls');
  mkdirSync(dir, { recursive: true });
  const [cert, key] = [path.join(dir, 'cert.pem'), path.join(dir, 'key.pem')];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', key, '-out', cert], { stdio: 'ignore' });
  const { child, url } = await startServer(['--tls-cert', cert, '--tls-key', key, '--rows', String(ROWS)]);
  t.after(() => child.kill('SIGTERM'));
  assert.match(url, /^https:\/\/127\.0\.0\.1:\d+\/$/);
  const browser = await launch();
  t.after(() => browser.close());
  const { page, log } = await openPage(browser, { ignoreHTTPSErrors: true });
  const encodings = [];
  page.on('response', (r) => {
    if (r.url().includes('/api/events')) encodings.push(r.headers()['content-encoding'] ?? 'identity');
  });
  await page.goto(await routePage(page, url, '/e2e/tls.html', PAGE));
  await page.waitForFunction(() => ['ready', 'error'].includes(document.querySelector('sightline-heatmap')?.state), null,
    { timeout: 90_000 });
  assert.equal(await page.evaluate(() => document.querySelector('sightline-heatmap').state), 'ready');
  const timing = await page.evaluate(() => {
    const e = performance.getEntriesByType('resource').find((r) => r.name.includes('/api/events'));
    const wasm = performance.getEntriesByType('resource').find((r) => r.name.endsWith('.wasm'));
    return { protocol: e.nextHopProtocol, encoded: e.encodedBodySize, decoded: e.decodedBodySize, wasm: wasm?.nextHopProtocol };
  });
  assert.equal(timing.protocol, 'h2', 'HTTP/2 by ALPN');
  assert.deepEqual(encodings, ['zstd']);
  assert.ok(timing.encoded > 0 && timing.encoded * 2 < timing.decoded, `${timing.encoded} bytes on the wire for ${timing.decoded}`);
  const text = await page.evaluate(() => document.querySelector('sightline-heatmap').shadowRoot.textContent);
  assert.match(text, /200,000 rows/);
  await page.screenshot({ path: path.join(OUT, 'heatmap-tls.png'), animations: 'disabled' });
  await assertClean(assert, page, log);
  console.log(`TLS: ${timing.protocol}, zstd ${timing.encoded} bytes on the wire for ${timing.decoded}`);
});
