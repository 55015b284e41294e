// End-to-end: <sightline-heatmap> on its own, on a page of its own under the real server
// and a real Chromium.
//
//   node --test tests/e2e/
//
// Needs target/release/sightline and pkg/ (bash scripts/build.sh) and /usr/bin/chromium.
// Saves screenshots to tests/out/heatmap*.png.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { OUT, assertClean, openPage, routePage, useServerAndBrowser } from './harness.mjs';

const ROWS = 1_000_000;

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sightline heatmap</title>
<script type="module" src="/www/sightline.js"></script></head>
<body><sightline-heatmap src="/api/demo?rows=${ROWS}" column="duration_ms" time-zone="utc"></sightline-heatmap></body></html>`;
const BLANK = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>blank</title></head><body></body></html>`;

const env = useServerAndBrowser({ before, after });

test('a heatmap streams 1,000,000 rows and draws them crisply while they arrive', { timeout: 60_000 }, async (t) => {
  const context = await env.browser.newContext({
    viewport: { width: 1280, height: 900 },
    deviceScaleFactor: 2,
    colorScheme: 'light',
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  const page = await context.newPage();
  const consoleErrors = [];
  const pageErrors = [];
  const badResponses = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') consoleErrors.push(`[page ${m.type()}] ${m.text()}`);
  });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('worker', (w) => {
    w.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') consoleErrors.push(`[worker ${m.type()}] ${m.text()}`);
    });
  });
  page.on('response', (r) => {
    if (r.status() >= 400) badResponses.push(`${r.status()} ${r.url()}`);
  });
  page.on('requestfailed', (r) => badResponses.push(`failed ${r.url()}: ${r.failure()?.errorText}`));
  await page.addInitScript(() => {
    window.__csp = [];
    window.__progress = [];
    window.__errors = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
    });
    window.__live = 0;
    document.addEventListener('sightline-progress', (e) => {
      window.__progress.push(e.detail);
      // A heatmap drawn before the last row arrived: rows show up as batches arrive.
      const label = e.target.shadowRoot?.querySelector('canvas')?.getAttribute('aria-label') ?? '';
      if (e.detail.rows < (e.detail.totalRows ?? Infinity) && label.startsWith('Heatmap of')) window.__live += 1;
    });
    document.addEventListener('sightline-error', (e) => window.__errors.push(e.detail.message));
  });

  const started = Date.now();
  const url = await routePage(page, env.baseUrl, '/e2e/heatmap.html', PAGE);
  const response = await page.goto(url);
  assert.equal(response.status(), 200);
  assert.equal(await page.title(), 'Sightline heatmap');

  // Mid-way: a screenshot of the live heatmap (best effort; a fast machine may finish first).
  try {
    await page.waitForFunction(
      () => {
        const el = document.querySelector('sightline-heatmap');
        return el?.state === 'loading' && el.rows > 250_000;
      },
      null,
      { timeout: 20_000, polling: 50 },
    );
    await page.screenshot({ path: path.join(OUT, 'heatmap-loading.png') });
  } catch {
    t.diagnostic('finished loading before a mid-load screenshot could be taken');
  }

  // Loading starts, then the element settles.
  await page.waitForFunction(
    () => ['ready', 'error'].includes(document.querySelector('sightline-heatmap')?.getAttribute('state')),
    null,
    { timeout: 45_000, polling: 100 },
  );
  const loadSeconds = (Date.now() - started) / 1000;
  const state = await page.evaluate(() => {
    const el = document.querySelector('sightline-heatmap');
    return { attr: el.getAttribute('state'), prop: el.state, rows: el.rows, errors: window.__errors };
  });
  assert.deepEqual(state, { attr: 'ready', prop: 'ready', rows: ROWS, errors: [] }, `element did not load: ${JSON.stringify(state)}`);

  // Progress: many events, rows never decrease and reach the total announced by the server.
  const progress = await page.evaluate(() => window.__progress);
  assert.ok(progress.length > 10, `only ${progress.length} progress events`);
  for (let i = 1; i < progress.length; i += 1) {
    assert.ok(progress[i].rows >= progress[i - 1].rows, 'rows went backwards');
    assert.ok(progress[i].bytes >= progress[i - 1].bytes, 'bytes went backwards');
  }
  const last = progress[progress.length - 1];
  assert.equal(last.rows, ROWS);
  assert.equal(last.totalRows, ROWS);
  assert.ok(last.bytes > 10_000_000, `only ${last.bytes} bytes`);
  assert.ok(
    progress.some((p) => p.rows > 0 && p.rows < ROWS),
    'rows should arrive in several steps while the stream is read',
  );
  assert.ok((await page.evaluate(() => window.__live)) > 0, 'the heatmap was not drawn while loading');

  // The canvas: device-pixel sized, many distinct colours, labelled for assistive tech.
  const canvas = await page.evaluate(() => {
    const el = document.querySelector('sightline-heatmap');
    const c = el.shadowRoot.querySelector('canvas');
    const ctx = c.getContext('2d');
    const { data } = ctx.getImageData(0, 0, c.width, c.height);
    const colours = new Set();
    let nonBackground = 0;
    const bg = (data[0] << 16) | (data[1] << 8) | data[2];
    for (let i = 0; i < data.length; i += 4) {
      const rgb = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
      colours.add(rgb);
      if (rgb !== bg) nonBackground += 1;
    }
    const rect = c.getBoundingClientRect();
    return {
      width: c.width,
      height: c.height,
      cssWidth: rect.width,
      cssHeight: rect.height,
      colours: colours.size,
      coverage: nonBackground / (data.length / 4),
      role: c.getAttribute('role'),
      label: c.getAttribute('aria-label'),
      progressPart: Boolean(el.shadowRoot.querySelector('[part="progress"]')),
      status: el.shadowRoot.querySelector('[part="status"]').textContent,
    };
  });
  assert.equal(canvas.width, Math.round(canvas.cssWidth * 2), 'canvas is not at device pixel ratio 2');
  assert.equal(canvas.height, Math.round(canvas.cssHeight * 2), 'canvas is not at device pixel ratio 2');
  assert.ok(canvas.cssWidth > 600 && canvas.cssHeight > 250, `canvas is small: ${canvas.cssWidth}x${canvas.cssHeight}`);
  assert.ok(canvas.colours > 50, `canvas looks blank: ${canvas.colours} colours`);
  assert.ok(canvas.coverage > 0.2, `little is drawn: ${(canvas.coverage * 100).toFixed(1)}% of the pixels`);
  assert.equal(canvas.role, 'img');
  assert.match(canvas.label, /1,000,000 events/);
  assert.ok(canvas.progressPart);
  assert.match(canvas.status, /1,000,000 rows/);

  // Hover the incident (16:00-16:30 UTC, slow requests) and read the tooltip.
  const target = await page.evaluate(() => {
    const el = document.querySelector('sightline-heatmap');
    const c = el.shadowRoot.querySelector('canvas');
    const r = c.getBoundingClientRect();
    // The plot spans most of the width; 16:15 is ~68% through the day. Aim high: slow requests.
    return { x: r.left + 60 + (r.width - 132) * (16.2 / 24), y: r.top + r.height * 0.3 };
  });
  await page.mouse.move(target.x, target.y);
  const tip = await page.evaluate(() => {
    const t = document.querySelector('sightline-heatmap').shadowRoot.querySelector('[part="tooltip"]');
    return { hidden: t.hidden, text: t.textContent };
  });
  assert.equal(tip.hidden, false, 'tooltip did not show');
  assert.match(tip.text, /Oct 31, 1[56]:\d\d – 1[56]:\d\d UTC/);
  assert.match(tip.text, /\d events?|^.*0 events/);

  await page.screenshot({ path: path.join(OUT, 'heatmap.png'), fullPage: true, animations: 'disabled' });

  const csp = await page.evaluate(() => window.__csp);
  assert.deepEqual(csp, [], 'CSP violations');
  assert.deepEqual(pageErrors, [], 'page errors');
  assert.deepEqual(consoleErrors, [], 'console errors');
  assert.deepEqual(badResponses, [], 'failed requests');
  t.diagnostic(`loaded ${ROWS} rows in ${loadSeconds.toFixed(1)} s`);
  await context.close();
});

test('dark mode follows prefers-color-scheme', { timeout: 30_000 }, async () => {
  const context = await env.browser.newContext({
    viewport: { width: 1280, height: 900 },
    deviceScaleFactor: 2,
    colorScheme: 'dark',
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(await routePage(page, env.baseUrl, '/e2e/heatmap.html', PAGE));
  await page.waitForFunction(() => document.querySelector('sightline-heatmap')?.state === 'ready', null, {
    timeout: 25_000,
  });
  const corner = await page.evaluate(() => {
    const c = document.querySelector('sightline-heatmap').shadowRoot.querySelector('canvas');
    return Array.from(c.getContext('2d').getImageData(2, 2, 1, 1).data.slice(0, 3));
  });
  assert.ok(corner.every((v) => v < 60), `background is not dark: ${corner}`);
  await page.screenshot({ path: path.join(OUT, 'heatmap-dark.png'), fullPage: true, animations: 'disabled' });

  // Switching the scheme redraws with the light colours.
  await page.emulateMedia({ colorScheme: 'light' });
  await page.waitForFunction(
    () => {
      const c = document.querySelector('sightline-heatmap').shadowRoot.querySelector('canvas');
      return c.getContext('2d').getImageData(2, 2, 1, 1).data[0] > 200;
    },
    null,
    { timeout: 10_000 },
  );
  // Resizing the window redraws at the new size, still at device pixel ratio 2.
  const before = await page.evaluate(() => document.querySelector('sightline-heatmap').shadowRoot.querySelector('canvas').width);
  await page.setViewportSize({ width: 800, height: 900 });
  await page.waitForFunction(
    (old) => {
      const c = document.querySelector('sightline-heatmap').shadowRoot.querySelector('canvas');
      return c.width !== old && c.width === Math.round(c.getBoundingClientRect().width * 2);
    },
    before,
    { timeout: 10_000 },
  );
  assert.deepEqual(errors, []);
  await context.close();
});

test('errors are reported and the worker survives them', { timeout: 30_000 }, async () => {
  const context = await env.browser.newContext({ viewport: { width: 900, height: 700 }, locale: 'en-US' });
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(await routePage(page, env.baseUrl, '/e2e/blank.html', BLANK));
  const result = await page.evaluate(async () => {
    const { SightlineHeatmap, SightlineClient } = await import('/www/sightline.js');
    const out = { defined: customElements.get('sightline-heatmap') === SightlineHeatmap };
    const el = document.createElement('sightline-heatmap');
    document.body.append(el);
    const events = [];
    el.addEventListener('sightline-error', (e) => events.push(e.detail.message));

    // Garbage bytes: the engine names the byte offset.
    try {
      await el.load(new Uint8Array(64).fill(7));
      out.garbage = 'loaded?!';
    } catch (e) {
      out.garbage = e.message;
    }
    out.garbageState = el.getAttribute('state');

    // A truncated stream fails at finish.
    const bytes = new Uint8Array(await (await fetch('/api/demo?rows=2000')).arrayBuffer());
    try {
      await el.load(bytes.subarray(0, bytes.length - 100));
      out.truncated = 'loaded?!';
    } catch (e) {
      out.truncated = e.message;
    }

    // The same worker then loads a good stream.
    out.good = await el.load(bytes);
    out.goodState = el.getAttribute('state');

    // A streamed Response works too.
    out.response = await el.load(await fetch('/api/demo?rows=3000&compression=zstd'));

    // A non-numeric column from the start: load() rejects, state is error.
    const el2 = document.createElement('sightline-heatmap');
    el2.setAttribute('column', 'endpoint');
    document.body.append(el2);
    try {
      await el2.load(bytes);
      out.badInitial = 'loaded?!';
    } catch (e) {
      out.badInitial = e.message;
    }
    out.badInitialState = el2.getAttribute('state');
    el2.column = 'duration_ms';
    await new Promise((r) => setTimeout(r, 300));
    out.fixedInitialState = el2.getAttribute('state');
    el2.remove();

    // A column that is not numeric: an error state, data kept; a good column recovers.
    el.setAttribute('column', 'endpoint');
    await new Promise((r) => setTimeout(r, 300));
    out.badColumnState = el.getAttribute('state');
    el.setAttribute('column', 'db_duration_ms');
    await new Promise((r) => setTimeout(r, 300));
    out.goodColumnState = el.getAttribute('state');

    // An HTTP error from src.
    el.setAttribute('src', '/api/demo?rows=lots');
    await new Promise((resolve) => el.addEventListener('sightline-error', resolve, { once: true }));
    out.httpState = el.getAttribute('state');
    out.events = events;

    // The bare client.
    const client = new SightlineClient();
    await client.reset();
    const pushed = await client.push(bytes);
    await client.finish();
    out.client = { pushed: pushed.rowCount, stats: await client.stats() };
    // Queries and comparisons run in the worker too.
    const q = await client.query({
      calculations: [{ op: 'COUNT' }, { op: 'P95', column: 'duration_ms' }, { op: 'HEATMAP', column: 'duration_ms' }],
      breakdowns: ['region'], limit: 3,
    });
    out.query = { rows: q.results.length, total: q.matched, counts: q.heatmaps[0].counts instanceof Uint32Array };
    const c = await client.compare({ selection: { filters: [{ column: 'status_code', op: '>=', value: 500 }] } });
    out.compare = { dims: c.dimensions.length, first: Object.keys(c.dimensions[0].values[0]).sort().join(',') };
    try {
      await client.render({ column: 'nope' });
    } catch (e) {
      out.clientError = e.message;
    }
    client.terminate();
    el.remove();
    return out;
  });
  assert.equal(result.defined, true);
  assert.match(result.garbage, /byte 0/);
  assert.equal(result.garbageState, 'error');
  assert.match(result.truncated, /stream ended|byte/);
  assert.deepEqual(result.good, { rows: 2000, bytes: result.good.bytes });
  assert.equal(result.goodState, 'ready');
  assert.equal(result.response.rows, 3000);
  assert.match(result.badInitial, /endpoint/);
  assert.equal(result.badInitialState, 'error');
  assert.equal(result.fixedInitialState, 'ready');
  assert.equal(result.badColumnState, 'error');
  assert.equal(result.goodColumnState, 'ready');
  assert.equal(result.httpState, 'error');
  assert.ok(result.events.some((m) => /HTTP 400/.test(m) && /rows/.test(m)), JSON.stringify(result.events));
  assert.ok(result.events.some((m) => /endpoint/.test(m)), JSON.stringify(result.events));
  assert.equal(result.client.pushed, 2000);
  assert.equal(result.client.stats.rowCount, 2000);
  assert.deepEqual(result.query, { rows: 3, total: 2000, counts: true });
  assert.ok(result.compare.dims > 5);
  assert.equal(result.compare.first, 'baseline_count,baseline_share,diff_pp,lift,log10_p_value,p_value,selection_count,selection_share,significant,value');
  assert.match(result.clientError, /nope/);
  assert.deepEqual(pageErrors, []);
  await context.close();
});

test('markers: a brush starts at a deploy, from the "since" menu or a drag from its line; labels sit on their own background', { timeout: 60_000 }, async () => {
  const { context, page, log } = await openPage(env.browser, { deviceScaleFactor: 2 });
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>markers</title>
<script type="module" src="/www/sightline.js"></script></head>
<body><sightline-source id="s" src="/api/demo?rows=100000" markers="/api/markers"></sightline-source>
<sightline-heatmap source="s" time-zone="utc" style="height: 300px"></sightline-heatmap>
<sightline-breakdown source="s" charts="none" calculations="COUNT" time-zone="utc"></sightline-breakdown></body></html>`;
  await page.goto(await routePage(page, env.baseUrl, '/e2e/markers.html', html));
  await page.waitForFunction(() => document.getElementById('s')?.source?.state === 'ready', null, { timeout: 30_000, polling: 100 });
  await page.waitForFunction(() => document.querySelector('sightline-heatmap')?.drawnMarkers?.length === 4, null, { timeout: 30_000, polling: 100 });
  const marks = await page.evaluate(() => document.querySelector('sightline-heatmap').drawnMarkers);
  const canary = marks.find((m) => m.label.includes('canary'));
  assert.ok(canary, JSON.stringify(marks));
  const heat = page.locator('sightline-heatmap');
  const since = heat.getByRole('combobox', { name: 'Select everything since a marker' });
  const labels = await since.locator('option').allTextContents();
  assert.equal(labels.length, 5);
  assert.equal(labels[0], 'Since a marker…');
  assert.ok(labels.some((l) => l.startsWith(`Since ${canary.label} (2026-10-31 16:00:00 UTC)`)), JSON.stringify(labels));
  // Everything since the canary: the selection starts at its time and the breakdown follows.
  await since.selectOption({ label: labels.find((l) => l.includes('canary')) });
  const sel = await page.evaluate(() => document.getElementById('s').source.selection);
  const end = await page.evaluate(() => {
    const h = document.querySelector('sightline-heatmap').heatmap;
    return h.time_edges[h.time_edges.length - 1];
  });
  assert.deepEqual(sel, { start_time: canary.time, end_time: end, column: 'duration_ms' });
  await page.waitForFunction(() => document.querySelector('sightline-breakdown').result?.matched < 100000, null, { timeout: 10_000 });
  const got = await page.evaluate(() => document.querySelector('sightline-breakdown').result.matched);
  const want = await page.evaluate(
    (t) => document.getElementById('s').source.client.query({ calculations: [{ op: 'COUNT' }], start_time: t, end_time: 1793491200, disable_series: true }).then((r) => r.matched),
    canary.time,
  );
  assert.equal(got, want);
  assert.equal(await since.inputValue(), '', 'the menu is ready for the next choice');
  // A drag that starts on the marker's line starts at the marker's exact time.
  const box = await page.evaluate(() => {
    const h = document.querySelector('sightline-heatmap');
    const c = h.shadowRoot.querySelector('canvas').getBoundingClientRect();
    return { left: c.left, top: c.top, plot: h.plot };
  });
  const x = box.left + canary.x + 2;
  await page.mouse.move(x, box.top + box.plot.y + 10);
  await page.mouse.down();
  await page.mouse.move(x + 60, box.top + box.plot.y + box.plot.h - 10, { steps: 6 });
  await page.mouse.up();
  const dragged = await page.evaluate(() => document.getElementById('s').source.selection);
  assert.equal(dragged.start_time, canary.time);
  assert.ok(dragged.end_time > canary.time + 600, JSON.stringify(dragged));
  await heat.screenshot({ path: path.join(OUT, 'heatmap-markers.png') });
  await assertClean(assert, page, log);
  await context.close();
});
