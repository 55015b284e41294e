// Bytes on the wire, server CPU and time to a drawn heatmap for one Arrow stream of the
// demo source (1M events, every column) under each Content-Encoding the server offers
// (identity, gzip, br, zstd) and Arrow's own body compression (LZ4, ZSTD buffers).
//
// 1. Node, raw HTTP/1.1 over loopback: the bytes the server sends (not decoded), the
//    server's CPU time (/proc/PID/stat utime+stime, 10 ms ticks) and the wall time of
//    the whole response. Median of several runs.
// 2. Chromium (playwright-core): a page with <sightline-heatmap src=...>, time from
//    navigation start to the last `sightline-render` (the heatmap drawn over every
//    row), on loopback and throttled by the DevTools
//    protocol to 100 Mbit/s and 20 Mbit/s. The encoding is chosen by the
//    Accept-Encoding header the page's context sends.
//
//   node bench/wire.mjs [rows=1000000] [runs=5] [browserRuns=3]
//   LEVELS=1,3,6 node bench/wire.mjs ...   (the Node part at each --compress-level)
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, startServer } from '../tests/e2e/harness.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ROWS = Number(process.argv[2] ?? 1_000_000);
const RUNS = Number(process.argv[3] ?? 5);
const BROWSER_RUNS = Number(process.argv[4] ?? 3);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Servers by Content-Encoding level ('default': the server's own default).
const servers = new Map();
async function serverAt(level) {
  if (servers.has(level)) return servers.get(level);
  const args = ['--rows', String(ROWS)];
  if (level !== 'default') args.push('--compress-level', String(level));
  const { child, url } = await startServer(args);
  const base = url.replace(/\/$/, '');
  const s = { child, base };
  await get(s, '/api/events?source=demo&limit=1'); // loads the demo table
  servers.set(level, s);
  return s;
}
const cpuMs = (s) => {
  const f = readFileSync(`/proc/${s.child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10; // utime + stime, in 100 Hz ticks
};

function get(server, path, acceptEncoding) {
  return new Promise((resolve, reject) => {
    const headers = acceptEncoding ? { 'Accept-Encoding': acceptEncoding } : {};
    const t0 = performance.now();
    http.get(server.base + path, { headers }, (res) => {
      let bytes = 0;
      res.on('data', (d) => { bytes += d.length; });
      res.on('end', () => resolve({ bytes, ms: performance.now() - t0, encoding: res.headers['content-encoding'] ?? 'identity', status: res.statusCode }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

const modes = [
  { name: 'identity', query: '', accept: null },
  { name: 'gzip', query: '', accept: 'gzip' },
  { name: 'br', query: '', accept: 'br' },
  { name: 'zstd', query: '', accept: 'zstd' },
  { name: 'Arrow LZ4', query: '&compression=lz4', accept: null },
  { name: 'Arrow ZSTD', query: '&compression=zstd', accept: null },
];
const path = '/api/events?source=demo';
const LEVELS = (process.env.LEVELS ?? 'default').split(',');
console.log(`${ROWS} demo events, all 17 columns, /api/events over loopback; median of ${RUNS} (Node ${process.version})`);
console.log('encoding        level   wire MB   ratio   server CPU ms   CPU ms per 1M rows   wall ms');
const wire = {};
for (const m of modes) {
  for (const level of m.accept ? LEVELS : ['default']) {
    const server = await serverAt(level);
    const bytes = [], cpu = [], wall = [];
    for (let r = 0; r < RUNS; r++) {
      const c0 = cpuMs(server);
      const res = await get(server, path + m.query, m.accept);
      cpu.push(cpuMs(server) - c0);
      if (res.status !== 200 || res.encoding !== (m.accept ?? 'identity')) throw new Error(`${m.name}: ${res.status} ${res.encoding}`);
      bytes.push(res.bytes);
      wall.push(res.ms);
    }
    if (m.name === 'identity') wire.identity = median(bytes);
    const ratio = wire.identity / median(bytes);
    console.log(`${m.name.padEnd(13)} ${String(m.accept ? level : '-').padStart(7)} ${(median(bytes) / 1e6).toFixed(1).padStart(9)} ${ratio.toFixed(2).padStart(7)}x ${String(median(cpu)).padStart(14)} ${String(Math.round(median(cpu) * 1e6 / ROWS)).padStart(20)} ${median(wall).toFixed(0).padStart(9)}`);
  }
}

// --- Chromium --------------------------------------------------------------------
if (BROWSER_RUNS === 0) {
  for (const s of servers.values()) s.child.kill('SIGTERM');
  process.exit(0);
}
const browser = await launch();
const page = (src) => `<!doctype html><html><head><meta charset="utf-8">
<script type="module" src="/www/sightline.js"></script></head>
<body><sightline-heatmap src="${src}" column="duration_ms" time-zone="utc"></sightline-heatmap></body></html>`;
const links = [
  { name: 'loopback', bps: 0 },
  { name: '100 Mbit/s', bps: 100e6 },
  { name: '20 Mbit/s', bps: 20e6 },
];
const { base } = await serverAt('default');
const browserModes = modes.filter((m) => ['identity', 'zstd', 'br', 'gzip', 'Arrow LZ4'].includes(m.name));
console.log(`\nChromium ${browser.version()}: navigation to a heatmap drawn over all ${ROWS} rows, median of ${BROWSER_RUNS} (ms)`);
console.log(['encoding'.padEnd(13), ...links.map((l) => l.name.padStart(12))].join(' '));
for (const m of browserModes) {
  const cells = [];
  for (const link of links) {
    const times = [];
    for (let r = 0; r < BROWSER_RUNS; r++) {
      const context = await browser.newContext({ extraHTTPHeaders: { 'Accept-Encoding': m.accept ?? 'identity' } });
      const p = await context.newPage();
      const errors = [];
      p.on('pageerror', (e) => errors.push(String(e)));
      if (link.bps) {
        const cdp = await context.newCDPSession(p);
        await cdp.send('Network.enable');
        await cdp.send('Network.emulateNetworkConditions', {
          offline: false, latency: 5, downloadThroughput: link.bps / 8, uploadThroughput: link.bps / 8,
        });
      }
      await p.addInitScript(() => {
        window.__lastRender = 0;
        document.addEventListener('sightline-render', () => { window.__lastRender = performance.now(); });
      });
      await p.route(`${base}/bench/wire.html`, (route) => route.fulfill({ contentType: 'text/html', body: page(path + m.query) }));
      await p.goto(`${base}/bench/wire.html`);
      await p.waitForFunction(() => {
        const el = document.querySelector('sightline-heatmap');
        return el?.state === 'ready' || el?.state === 'error';
      }, null, { timeout: 300_000, polling: 20 });
      // The render that follows the last row comes within a frame or two.
      await p.waitForTimeout(500);
      times.push(Math.round(await p.evaluate(() => window.__lastRender)));
      const state = await p.evaluate(() => document.querySelector('sightline-heatmap').state);
      if (state !== 'ready' || errors.length) throw new Error(`${m.name} ${link.name}: ${state} ${errors.join('; ')}`);
      await context.close();
    }
    cells.push(String(median(times)).padStart(12));
  }
  console.log([m.name.padEnd(13), ...cells].join(' '));
}
await browser.close();
for (const s of servers.values()) s.child.kill('SIGTERM');
