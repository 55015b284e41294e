// The package as users receive it: `npm pack`, installed (the tarball, not a link, from a
// clean npm cache) into one app per way of building one, built by that bundler with no
// Sightline-specific configuration, served with a strict Content-Security-Policy, and
// loaded in Chromium, where it must draw a heatmap with no console error, page error,
// CSP violation or failed request.
//
// Prints a table: tarball size, each app's shipped bytes (what the page fetched, gzip -9,
// the data excluded), where the engine ran (its worker, or the page after a bundler that
// left the worker behind) and the time to the first heatmap (navigation start to the
// first `sightline-render`, 100,000 events). SIGHTLINE_APPS=vite,react limits the apps.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { Float64, Int32, Table, TimestampMillisecond, Utf8, tableToIPC, vectorFromArray } from 'apache-arrow';
import { ROOT, OUT, launch } from '../e2e/harness.mjs';

const APPS_OUT = path.join(OUT, 'apps');
const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; style-src 'self'; img-src 'self' data: blob:";
const ROWS = 100_000;
const ONLY = process.env.SIGHTLINE_APPS ? new Set(process.env.SIGHTLINE_APPS.split(',')) : null;

const env = { tarball: '', tarballBytes: 0, unpackedBytes: 0, cache: '', browser: null, data: null };
const report = [];

function npm(args, cwd) {
  return execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error', '--cache', env.cache], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** 100,000 events over one hour: a time, a status, a latency with two modes, an endpoint. */
function demoStream() {
  const t0 = Date.UTC(2026, 0, 1);
  const time = new Array(ROWS);
  const duration = new Float64Array(ROWS);
  const endpoint = new Array(ROWS);
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let i = 0; i < ROWS; i++) {
    time[i] = t0 + Math.floor((i / ROWS) * 3_600_000);
    const slow = rand() < 0.1;
    duration[i] = Math.exp((slow ? 6 : 3.5) + rand() * 1.2);
    endpoint[i] = ['/checkout', '/cart', '/search', '/login'][i % 4];
  }
  const table = new Table({
    timestamp: vectorFromArray(time, new TimestampMillisecond()),
    // Not the demo's names: the plain apps name no column, so the heatmap must pick this
    // one from the schema (a latency-like name), over the integer status before it.
    status: vectorFromArray(Array.from({ length: ROWS }, (_, i) => (i % 50 ? 200 : 500)), new Int32()),
    'http.server.duration': vectorFromArray(duration, new Float64()),
    endpoint: vectorFromArray(endpoint, new Utf8()),
  });
  return Buffer.from(tableToIPC(table, 'stream'));
}

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

/** Serves `dir` (and the events at /data.arrow) with the CSP; resolves its URL. */
function serve(dir) {
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/favicon.ico') {
      // The browser asks for it on every page; no fixture has one, and its 404 is not Sightline's.
      res.writeHead(204).end();
      return;
    }
    if (url.pathname === '/data.arrow') {
      res.writeHead(200, { 'Content-Type': 'application/vnd.apache.arrow.stream', 'Content-Length': env.data.length });
      res.end(env.data);
      return;
    }
    const rel = decodeURIComponent(url.pathname === '/' ? '/index.html' : url.pathname);
    const file = path.join(dir, path.normalize(rel));
    if (!file.startsWith(dir)) {
      res.writeHead(403).end();
      return;
    }
    let body;
    try {
      if (!statSync(file).isFile()) throw new Error('not a file');
      body = readFileSync(file);
    } catch {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, {
      'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      'Content-Security-Policy': CSP,
      'Cache-Control': 'no-store',
    });
    res.end(body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${server.address().port}` })));
}

before(async () => {
  mkdirSync(APPS_OUT, { recursive: true });
  env.cache = mkdtempSync(path.join(tmpdir(), 'sightline-npm-cache-'));
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', APPS_OUT], { cwd: ROOT, encoding: 'utf8' }));
  env.tarball = path.join(APPS_OUT, packed.filename);
  env.tarballBytes = packed.size;
  env.unpackedBytes = packed.unpackedSize;
  env.files = packed.files.map((f) => f.path);
  env.data = demoStream();
  env.browser = await launch();
});

after(async () => {
  await env.browser?.close();
  rmSync(env.cache, { recursive: true, force: true });
  if (report.length) {
    const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
    const lines = [
      `tarball ${path.basename(env.tarball)}: ${kb(env.tarballBytes)} (unpacked ${kb(env.unpackedBytes)})`,
      '| app | engine ran in | shipped (gzip -9) | of which wasm | time to first heatmap |',
      '| --- | --- | ---: | ---: | ---: |',
      ...report.map((r) => `| ${r.app} | ${r.host} | ${kb(r.gz)} | ${kb(r.wasmGz)} | ${Math.round(r.ttfh)} ms |`),
    ];
    const text = `${lines.join('\n')}\n`;
    writeFileSync(path.join(OUT, 'apps.md'), text);
    console.log(text);
  }
});

test('the tarball holds the package and nothing else', () => {
  for (const f of ['www/sightline.js', 'www/sightline.d.ts', 'www/react.js', 'www/react.d.ts', 'www/engine/worker.js', 'www/engine/inline.js',
    'www/engine/spec.js', 'www/engine/spec.d.ts', 'pkg/sightline.js', 'pkg/sightline.d.ts', 'pkg/sightline_bg.wasm', 'pkg/sightline_inline.js', 'package.json', 'README.md', 'CHANGELOG.md', 'LICENSE']) {
    assert.ok(env.files.includes(f), `${f} is in the tarball`);
  }
  for (const f of env.files) {
    assert.ok(!/^(www\/(demo|index)|tests\/|src\/|server\/|bench\/|target\/)/.test(f), `${f} is not part of the package`);
  }
});

/**
 * Copies the fixture, installs its bundler and the tarball, builds, serves, loads it in
 * Chromium and runs `check(page)`; records the figures.
 */
async function buildAndLoad(app, { install = [], check } = {}) {
  const dir = path.join(APPS_OUT, app);
  rmSync(dir, { recursive: true, force: true });
  cpSync(path.join(ROOT, 'tests/apps', app.replace(/-.*$/, '')), dir, { recursive: true });
  npm(['install', env.tarball, ...install], dir);
  npm(['run', 'build'], dir);
  const { server, url } = await serve(path.join(dir, 'dist'));
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const problems = [];
  // Each resource once (a remount fetches the engine again; that is not a bigger app).
  const shipped = new Map();
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()} (${m.location()?.url ?? ''})`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', async (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
    if (r.url().endsWith('/data.arrow')) return;
    try {
      shipped.set(r.url(), gzipSync(await r.body(), { level: 9 }).length);
    } catch {
      // a body that cannot be read (a redirect) ships nothing
    }
  });
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
    window.__renders = [];
    document.addEventListener('sightline-render', (e) => window.__renders.push({ at: performance.now(), matched: e.detail.matched }), true);
    // Live engine workers, to see that unmounting ends them.
    const Native = window.Worker;
    window.__workers = { started: 0, ended: 0 };
    window.Worker = class extends Native {
      constructor(...args) {
        super(...args);
        window.__workers.started += 1;
      }
      terminate() {
        window.__workers.ended += 1;
        super.terminate();
      }
    };
  });
  try {
    await page.goto(url);
    await page.waitForFunction(() => window.__renders.length > 0, null, { timeout: 60_000 });
    const first = await page.evaluate(() => window.__renders[0]);
    assert.equal(first.matched, ROWS, 'the first heatmap counts every event');
    assert.equal(await page.evaluate(() => document.querySelector('#chart, sightline-heatmap')?.heatmap?.column), 'http.server.duration', 'the value column');
    const host = await page.evaluate(() => document.querySelector('#chart, sightline-heatmap')?.client?.host ?? 'unknown');
    if (check) await check(page);
    await page.screenshot({ path: path.join(OUT, `app-${app}.png`) });
    const csp = await page.evaluate(() => window.__csp);
    assert.deepEqual(csp, [], 'no CSP violation');
    // Give late responses their body reads.
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(problems, [], 'no console error, page error or failed request');
    const sizes = [...shipped];
    const gz = sizes.reduce((n, [, b]) => n + b, 0);
    const wasmGz = sizes.reduce((n, [u, b]) => n + (u.endsWith('.wasm') ? b : 0), 0);
    report.push({ app, host, gz, wasmGz, ttfh: first.at });
    return { page, host };
  } finally {
    await context.close();
    server.close();
  }
}

const BUNDLERS = [
  // [app, where the engine must run]
  ['static', 'worker'],
  ['vite', 'worker'],
  ['webpack', 'worker'],
  ['rollup', 'page'],
  ['esbuild', 'page'],
];

for (const [app, where] of BUNDLERS) {
  test(`${app}: builds with no configuration and draws under a strict CSP`, { skip: Boolean(ONLY && !ONLY.has(app)) }, async () => {
    const { host } = await buildAndLoad(app);
    assert.equal(host, where, `the engine runs in the ${where}`);
  });
}

/** The React fixture's own checks: mount, props, events, unmount. */
async function reactChecks(page) {
  // Mounted: the ref is the element, and the event reached React exactly once per render.
  await page.waitForFunction(() => Number(document.querySelector('#react-renders').textContent) > 0);
  const mounted = await page.evaluate(() => ({
    tag: window.__app.ref.current?.tagName,
    react: Number(document.querySelector('#react-renders').textContent),
    dom: window.__renders.length,
  }));
  assert.equal(mounted.tag, 'SIGHTLINE-HEATMAP', 'the ref is the element');
  assert.equal(mounted.react, mounted.dom, 'onRender fired once per drawing (StrictMode did not double the listener)');
  // A prop change reaches the element and redraws.
  await page.click('#linear');
  await page.waitForFunction(() => window.__app.ref.current?.heatmap?.scale === 'linear', null, { timeout: 30_000 });
  assert.equal(await page.evaluate(() => window.__app.ref.current.getAttribute('scale')), 'linear');
  // An object property (filters) set from React: the drawing counts only /checkout.
  await page.click('#checkout');
  await page.waitForFunction((rows) => window.__renders.at(-1).matched === rows / 4, ROWS, { timeout: 30_000 });
  // Unmount and mount again, five times: every engine worker started is ended.
  for (let i = 0; i < 5; i++) {
    await page.click('#toggle');
    await page.waitForFunction(() => !document.querySelector('sightline-heatmap'));
    await page.click('#toggle');
    await page.waitForFunction(() => document.querySelector('sightline-heatmap')?.state === 'ready', null, { timeout: 30_000 });
  }
  await page.click('#toggle');
  await page.waitForFunction(() => !document.querySelector('sightline-heatmap'));
  await page.waitForFunction(() => window.__workers.started === window.__workers.ended, null, { timeout: 5_000 });
  const workers = await page.evaluate(() => window.__workers);
  assert.ok(workers.started >= 6, `a worker per mount (${workers.started})`);
  await page.click('#toggle');
  await page.waitForFunction(() => document.querySelector('sightline-heatmap')?.state === 'ready', null, { timeout: 30_000 });
}

test('React 19: the components mount, update, fire events and unmount without leaks', { skip: Boolean(ONLY && !ONLY.has('react')) }, async () => {
  const { host } = await buildAndLoad('react-19', { check: reactChecks });
  assert.equal(host, 'worker');
  const dir = path.join(APPS_OUT, 'react-19');
  execFileSync(path.join(dir, 'node_modules/.bin/tsc'), ['--noEmit', '-p', '.'], { cwd: dir, stdio: 'pipe' });
});

test('React 18: the same components and checks', { skip: Boolean(ONLY && !ONLY.has('react')) }, async () => {
  await buildAndLoad('react-18', {
    install: ['react@18.3.1', 'react-dom@18.3.1', '@types/react@18.3.32', '@types/react-dom@18.3.7'],
    check: reactChecks,
  });
  const dir = path.join(APPS_OUT, 'react-18');
  execFileSync(path.join(dir, 'node_modules/.bin/tsc'), ['--noEmit', '-p', '.'], { cwd: dir, stdio: 'pipe' });
});

test('Vue 3: the elements as custom elements (isCustomElement), props and events', { skip: Boolean(ONLY && !ONLY.has('vue')) }, async () => {
  await buildAndLoad('vue', {
    check: async (page) => {
      await page.waitForFunction(() => Number(document.querySelector('#vue-renders').textContent) > 0);
      await page.click('#linear');
      await page.waitForFunction(() => document.querySelector('sightline-heatmap')?.heatmap?.scale === 'linear', null, { timeout: 30_000 });
      await page.click('#checkout');
      await page.waitForFunction((rows) => window.__renders.at(-1).matched === rows / 4, ROWS, { timeout: 30_000 });
      await page.click('#toggle');
      await page.waitForFunction(() => !document.querySelector('sightline-heatmap'));
      await page.waitForFunction(() => window.__workers.started === window.__workers.ended, null, { timeout: 5_000 });
      await page.click('#toggle');
      await page.waitForFunction(() => document.querySelector('sightline-heatmap')?.state === 'ready', null, { timeout: 30_000 });
    },
  });
});
