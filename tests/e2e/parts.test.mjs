// End-to-end: the parts configured by attributes alone, as an admin page writes them.
//
//   node --test tests/e2e/parts.test.mjs

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { OUT, routePage, useServerAndBrowser } from './harness.mjs';

const ROWS = 50_000;
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sightline parts</title>
<script type="module" src="/www/sightline.js"></script></head>
<body>
<sightline-source id="demo" src="/api/demo?rows=${ROWS}"></sightline-source>
<sightline-heatmap source="demo" time-zone="utc" style="height: 260px"></sightline-heatmap>
<sightline-breakdown id="slowest" source="demo" time-zone="utc" charts="none" calculations="COUNT, P99(duration_ms)"
  breakdowns="endpoint" orders="P99(duration_ms) desc" havings="COUNT > 100" limit="3"></sightline-breakdown>
<sightline-breakdown id="rarest" source="demo" time-zone="utc" charts="none" breakdowns="endpoint" orders="COUNT asc, endpoint" limit="2"></sightline-breakdown>
</body></html>`;

const env = useServerAndBrowser({ before, after });

test('a breakdown sorts and filters groups from its orders and havings attributes; a heatmap with no column picks one from the schema', { timeout: 60_000 }, async () => {
  const context = await env.browser.newContext({ viewport: { width: 1100, height: 900 }, colorScheme: 'light', timezoneId: 'UTC' });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(await routePage(page, env.baseUrl, '/e2e/parts.html', PAGE));
  await page.waitForFunction(() => ['slowest', 'rarest'].every((id) => document.getElementById(id)?.result?.results?.length), null, { timeout: 30_000 });
  await page.waitForFunction(() => document.querySelector('sightline-heatmap')?.heatmap, null, { timeout: 30_000 });
  const got = await page.evaluate(() => ({
    slowest: document.getElementById('slowest').result.results,
    rarest: document.getElementById('rarest').result.results,
    column: document.querySelector('sightline-heatmap').heatmap.column,
  }));
  // The same specs through the engine directly (the worker's Dataset), as the oracle.
  const want = await page.evaluate(async () => {
    const client = document.getElementById('demo').source.client;
    const q = (spec) => client.query(spec).then((r) => r.results);
    return {
      slowest: await q({ calculations: [{ op: 'COUNT' }, { op: 'P99', column: 'duration_ms' }], breakdowns: ['endpoint'], orders: [{ op: 'P99', column: 'duration_ms', order: 'descending' }], havings: [{ calculate_op: 'COUNT', op: '>', value: 100 }], limit: 3, disable_series: true }),
      rarest: await q({ calculations: [{ op: 'COUNT' }], breakdowns: ['endpoint'], orders: [{ op: 'COUNT', order: 'ascending' }, { column: 'endpoint', order: 'ascending' }], limit: 2, disable_series: true }),
    };
  });
  assert.equal(got.slowest.length, 3);
  assert.deepEqual(got.slowest, want.slowest);
  for (let i = 1; i < got.slowest.length; i++) assert.ok(got.slowest[i - 1]['P99(duration_ms)'] >= got.slowest[i]['P99(duration_ms)']);
  assert.ok(got.slowest.every((r) => r.COUNT > 100));
  assert.deepEqual(got.rarest, want.rarest);
  assert.ok(got.rarest[0].COUNT <= got.rarest[1].COUNT);
  assert.equal(got.column, 'duration_ms', 'the heatmap drew the schema\'s latency column');
  await page.screenshot({ path: path.join(OUT, 'parts.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});

const EXPLORER = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sightline explorer, no column attributes</title>
<script type="module" src="/www/sightline.js"></script></head>
<body><sightline-explorer src="/api/demo?rows=${ROWS}" time-zone="utc"></sightline-explorer></body></html>`;

test('the explorer with no column attributes: its view and its customer picker come from the schema', { timeout: 60_000 }, async () => {
  const context = await env.browser.newContext({ viewport: { width: 1280, height: 1000 }, colorScheme: 'light', timezoneId: 'UTC' });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(await routePage(page, env.baseUrl, '/e2e/explorer-bare.html', EXPLORER));
  const x = page.locator('sightline-explorer');
  // The default view draws the schema's latency column and the customer column is found.
  await page.waitForFunction(() => document.querySelector('sightline-explorer')?.query?.calculations?.some((c) => c.op === 'HEATMAP'), null, { timeout: 30_000 });
  const view = await page.evaluate(() => ({ q: document.querySelector('sightline-explorer').query, col: document.querySelector('sightline-explorer').customerColumn }));
  assert.deepEqual(view.q.calculations, [{ op: 'HEATMAP', column: 'duration_ms' }, { op: 'COUNT' }, { op: 'P99', column: 'duration_ms' }]);
  assert.equal(view.col, 'customer_id');
  // The picker lists customers most active first.
  const picker = x.locator('[part="customer-picker"]');
  await picker.waitFor({ timeout: 30_000 });
  await page.waitForFunction(() => document.querySelector('sightline-explorer').shadowRoot.querySelectorAll('#customer-values option').length > 10, null, { timeout: 30_000 });
  const options = await page.evaluate(() =>
    [...document.querySelector('sightline-explorer').shadowRoot.querySelectorAll('#customer-values option')].map((o) => [o.value, Number(o.label.replace(/\D/g, ''))]),
  );
  for (let i = 1; i < options.length; i++) assert.ok(options[i - 1][1] >= options[i][1], 'most events first');
  // Typing one and pressing Enter opens the lens on that customer.
  const [top] = options[0];
  await picker.fill(top);
  await picker.press('Enter');
  await page.waitForFunction((c) => document.querySelector('sightline-explorer').customer === c, top, { timeout: 10_000 });
  await x.locator('[part="lens"] h3').waitFor({ timeout: 10_000 });
  assert.match(await x.locator('[part="lens"] h3').textContent(), new RegExp(top));
  await page.screenshot({ path: path.join(OUT, 'explorer-picker.png') });
  // Clearing it closes the lens.
  await x.locator('[part="customer-picker"]').fill('');
  await x.locator('[part="customer-picker"]').press('Enter');
  await page.waitForFunction(() => !document.querySelector('sightline-explorer').customer, null, { timeout: 10_000 });
  assert.deepEqual(errors, []);
  await context.close();
});

test('the explorer computes calculated fields in every part, and shows a bad expression\'s error where it was typed', { timeout: 60_000 }, async () => {
  const context = await env.browser.newContext({ viewport: { width: 1280, height: 1100 }, colorScheme: 'light', timezoneId: 'UTC' });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(await routePage(page, env.baseUrl, '/e2e/explorer-calc.html', EXPLORER));
  const x = page.locator('sightline-explorer');
  await page.waitForFunction(() => document.querySelector('sightline-explorer')?.source?.state === 'ready', null, { timeout: 30_000 });
  // A failure rate by endpoint, over slow requests only: the field in a calculation, a filter and the heatmap.
  await page.evaluate(() => {
    document.querySelector('sightline-explorer').query = {
      calculated_fields: [
        { name: 'is_fail', expression: 'IF($status_code >= 500, 1, 0)' },
        { name: 'slow', expression: '$duration_ms > 250' },
      ],
      calculations: [{ op: 'HEATMAP', column: 'duration_ms' }, { op: 'AVG', column: 'is_fail' }, { op: 'COUNT' }],
      filters: [{ column: 'slow', op: '=', value: true }],
      breakdowns: ['endpoint'],
      orders: [{ op: 'AVG', column: 'is_fail', order: 'descending' }],
    };
  });
  await page.waitForFunction(() => {
    const r = document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-breakdown')?.result;
    return r?.columns?.includes('AVG(is_fail)');
  }, null, { timeout: 30_000 });
  const got = await page.evaluate(async () => {
    const xp = document.querySelector('sightline-explorer');
    const r = xp.shadowRoot.querySelector('sightline-breakdown').result;
    const direct = await xp.source.client.query({
      calculated_fields: [{ name: 'is_fail', expression: 'IF($status_code >= 500, 1, 0)' }],
      calculations: [{ op: 'AVG', column: 'is_fail' }, { op: 'COUNT' }],
      filters: [{ column: 'duration_ms', op: '>', value: 250 }],
      breakdowns: ['endpoint'],
      orders: [{ op: 'AVG', column: 'is_fail', order: 'descending' }],
      disable_series: true,
    });
    return { results: r.results, direct: direct.results, heatmap: xp.shadowRoot.querySelector('sightline-heatmap')?.heatmap?.total };
  });
  assert.deepEqual(got.results, got.direct, 'the explorer\'s breakdown is the engine\'s answer with the filter written out');
  assert.equal(got.heatmap, got.direct.reduce((n, r) => n + r.COUNT, 0), 'the heatmap counts the filtered events');
  // The editor shows both fields; a typo in one shows the engine's error under it.
  const expr = x.locator('[part="calculated-fields"] input.expression').first();
  await expect(expr, 'IF($status_code >= 500, 1, 0)');
  await expr.fill('IF($status_cod >= 500, 1, 0)');
  await expr.press('Enter');
  const alert = x.locator('[part="calculated-fields"] .field-error');
  await alert.waitFor({ state: 'visible', timeout: 10_000 });
  assert.match(await alert.textContent(), /calculated field "is_fail": col 4: unknown column \$status_cod; did you mean status_code\?/);
  await page.screenshot({ path: path.join(OUT, 'explorer-calculated.png') });
  assert.deepEqual(errors, []);
  await context.close();

  async function expect(locator, value) {
    assert.equal(await locator.inputValue(), value);
  }
});

test('the explorer compares with an earlier window: the breakdown shows each calculation beside its value a day before', { timeout: 60_000 }, async () => {
  const context = await env.browser.newContext({ viewport: { width: 1280, height: 1000 }, colorScheme: 'light', timezoneId: 'UTC' });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(await routePage(page, env.baseUrl, '/e2e/explorer-earlier.html', EXPLORER));
  const x = page.locator('sightline-explorer');
  await page.waitForFunction(() => document.querySelector('sightline-explorer')?.source?.state === 'ready', null, { timeout: 30_000 });
  await page.evaluate(() => {
    document.querySelector('sightline-explorer').query = {
      calculations: [{ op: 'COUNT' }, { op: 'P99', column: 'duration_ms' }], breakdowns: ['region'], time_range: 21600,
    };
  });
  // Chosen as a person would: the TIME row's "compared with" select.
  await x.locator('[part="compare-time"]').selectOption('3600');
  await page.waitForFunction(() => document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-breakdown')?.result?.previous, null, { timeout: 30_000 });
  const got = await page.evaluate(async () => {
    const xp = document.querySelector('sightline-explorer');
    const b = xp.shadowRoot.querySelector('sightline-breakdown');
    const direct = await xp.source.client.query({ calculations: [{ op: 'COUNT' }, { op: 'P99', column: 'duration_ms' }], breakdowns: ['region'], time_range: 21600, compare_time_offset_seconds: 3600, disable_series: true });
    return { csv: b.toCSV(), previous: b.result.previous.results, direct: direct.previous.results, q: xp.query.compare_time_offset_seconds };
  });
  assert.equal(got.q, 3600);
  assert.deepEqual(got.previous, got.direct);
  const header = got.csv.split('\n')[0];
  assert.match(header, /COUNT \(1 hour ago\)/);
  assert.match(header, /P99\(duration_ms\) \(1 hour ago\)/);
  await page.screenshot({ path: path.join(OUT, 'explorer-earlier.png') });
  assert.deepEqual(errors, []);
  await context.close();
});

test('OTel-named data: parts whose default columns are missing fall back to the schema and say so, instead of an error', { timeout: 60_000 }, async () => {
  const { Table, TimestampMillisecond, Float64, Int32, Utf8, vectorFromArray, tableToIPC } = await import('apache-arrow');
  const { openPage, routeBytes, assertClean } = await import('./harness.mjs');
  const n = 5000;
  const t0 = Date.UTC(2026, 9, 31, 12);
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const table = new Table({
    time: vectorFromArray(Array.from({ length: n }, (_, i) => t0 + i * 700), new TimestampMillisecond('UTC')),
    'http.server.duration_ms': vectorFromArray(Array.from({ length: n }, () => 5 + 400 * rand() ** 3), new Float64()),
    'http.route': vectorFromArray(Array.from({ length: n }, (_, i) => ['/cart', '/pay', '/search'][i % 3]), new Utf8()),
    'http.status_code': vectorFromArray(Array.from({ length: n }, (_, i) => (i % 50 === 0 ? 500 : 200)), new Int32()),
    'app.tenant_id': vectorFromArray(Array.from({ length: n }, (_, i) => `tenant-${String(i % 17).padStart(2, '0')}`), new Utf8()),
  });
  const { context, page, log } = await openPage(env.browser);
  await routeBytes(page, env.baseUrl, '/e2e/otel.arrow', Buffer.from(tableToIPC(table, 'stream')));
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>otel</title>
<script type="module" src="/www/sightline.js"></script></head>
<body><sightline-source id="s" src="/e2e/otel.arrow"></sightline-source>
<sightline-explorer source="s" value-column="duration_ms" customer-column="customer_id" time-zone="utc"></sightline-explorer>
<sightline-heatmap id="h" source="s" column="duration_ms" time-zone="utc"></sightline-heatmap>
<sightline-breakdown id="b" source="s" charts="none" calculations="CONCURRENCY, COUNT" breakdowns="http.route" time-zone="utc"></sightline-breakdown></body></html>`;
  await page.goto(await routePage(page, env.baseUrl, '/e2e/otel.html', html));
  await page.waitForFunction(() => document.getElementById('s')?.source?.state === 'ready', null, { timeout: 30_000, polling: 100 });
  await page.waitForFunction(() => document.getElementById('b')?.result && document.getElementById('h')?.heatmap, null, { timeout: 30_000, polling: 100 });
  await page.waitForFunction(() => /customer-column/.test(document.querySelector('sightline-explorer').shadowRoot.querySelector('[part="status"]').textContent), null, { timeout: 30_000 });
  const got = await page.evaluate(() => {
    const x = document.querySelector('sightline-explorer');
    return {
      status: x.shadowRoot.querySelector('[part="status"]').textContent,
      customer: x.customerColumn,
      calcs: x.query.calculations,
      heatColumn: document.getElementById('h').heatmap.column,
      heatStatus: document.getElementById('h').shadowRoot.querySelector('[part="status"]').textContent,
      concurrency: document.getElementById('b').result.results,
    };
  });
  assert.match(got.status, /value-column "duration_ms" is not in the data: using "http\.server\.duration_ms"/);
  assert.match(got.status, /customer-column "customer_id" is not in the data: using "app\.tenant_id"/);
  assert.equal(got.customer, 'app.tenant_id');
  assert.deepEqual(got.calcs.find((c) => c.op === 'HEATMAP'), { op: 'HEATMAP', column: 'http.server.duration_ms' });
  assert.equal(got.heatColumn, 'http.server.duration_ms');
  assert.match(got.heatStatus, /no column "duration_ms" in this data: drawing http\.server\.duration_ms/);
  // CONCURRENCY without a column measures the column named in milliseconds.
  const want = await page.evaluate(() =>
    document.getElementById('s').source.client
      .query({ calculations: [{ op: 'CONCURRENCY', column: 'http.server.duration_ms' }, { op: 'COUNT' }], breakdowns: ['http.route'], time_zone: 'UTC', disable_series: true })
      .then((r) => r.results),
  );
  // Named by its column when the spec names one: the values are what the same column gives.
  const key = Object.keys(want[0]).find((k) => k.startsWith('CONCURRENCY'));
  assert.deepEqual(got.concurrency, want.map((r) => ({ 'http.route': r['http.route'], CONCURRENCY: r[key], COUNT: r.COUNT })));
  assert.ok(got.concurrency.every((r) => r.CONCURRENCY > 0));
  await assertClean(assert, page, log);
  await context.close();
});
