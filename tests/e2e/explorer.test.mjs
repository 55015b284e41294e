// End-to-end: <sightline-explorer> on the demo page (1,000,000 rows) and on pages of our
// own, under the real server and a real Chromium, driven through the UI as a person would.
//
//   node --test --test-concurrency=1 tests/e2e/
//
// Screenshots: tests/out/explorer-*.png (look at them).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { OUT, ROOT, assertClean, assertResponsive, watchLongTasks, brushHeatmap, openPage, routeBytes, routePage, startServer, useServerAndBrowser } from './harness.mjs';
import { formatTimeRange, formatTimestamp } from '../../www/shared/ui.js';

const ROWS = 1_000_000;
const BAD_BUILD = '2026.10.31-7f3c2a1';
const INCIDENT_START = 1_793_462_400; // 2026-10-31 16:00 UTC
const INCIDENT_END = INCIDENT_START + 1800;

const env = useServerAndBrowser({ before, after });

const explorer = (page) => page.locator('sightline-explorer').first();

async function waitReady(page, timeout = 60_000) {
  await page.waitForFunction(() => document.querySelector('sightline-explorer')?.source?.state === 'ready', null, {
    timeout,
    polling: 100,
  });
}

/**
 * Waits until every explorer on the page has loaded and drawn its first breakdown: the
 * demo page's week explorer loads after the first is ready, and on two cores its ingest
 * and first queries compete with whatever a test measures next.
 */
async function waitAllSettled(page, timeout = 60_000) {
  await page.waitForFunction(
    () => [...document.querySelectorAll('sightline-explorer')].every((x) => x.source?.state === 'ready' && x.shadowRoot.querySelector('sightline-breakdown')?.result),
    null,
    { timeout, polling: 100 },
  );
  await page.waitForTimeout(500);
}

/** Waits until the explorer's results (breakdown) satisfy `predicate(r)`, checked here in Node. */
async function waitResults(page, predicate = () => true, timeout = 30_000) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await page.evaluate(() => {
      const r = document.querySelector('sightline-explorer')?.shadowRoot.querySelector('sightline-breakdown')?.result;
      return r ? { ...r, series: [] } : null;
    });
    if (last && predicate(last)) return last;
    if (Date.now() > deadline) throw new Error(`results did not match ${predicate} in ${timeout} ms: ${JSON.stringify(last)?.slice(0, 300)}`);
    await page.waitForTimeout(100);
  }
}

/** Drags across the incident on the explorer's first heatmap: 16:00-16:30 UTC, from the top down to ~1 s. */
function brushIncident(page, selector = 'sightline-explorer') {
  return brushHeatmap(page, selector, INCIDENT_START + 60, INCIDENT_END - 60, 1100);
}

async function waitCompare(page, host = 'sightline-explorer') {
  await page.waitForFunction(
    (sel) => {
      const h = document.querySelector(sel);
      const c = h.localName === 'sightline-compare' ? h : h.shadowRoot.querySelector('sightline-compare');
      return c?.result && c.shadowRoot.querySelector('[part="dimension"]');
    },
    host,
    { timeout: 30_000, polling: 100 },
  );
}

test('explorer: streams 1M rows with progress, breaks down with percentiles, brushes the incident to its cause, filters by a click', { timeout: 180_000 }, async (t) => {
  const { context, page, log } = await openPage(env.browser);
  const response = await page.goto(env.baseUrl);
  assert.equal(response.status(), 200);
  assert.match(response.headers()['content-security-policy'] ?? '', /script-src 'self' 'wasm-unsafe-eval'/);
  await waitReady(page);

  // Progress: from the explorer, growing, up to the total the server announced.
  const progress = (await page.evaluate(() => window.__events)).filter((e) => e.type === 'sightline-progress');
  assert.ok(progress.length > 10, `only ${progress.length} progress events`);
  assert.ok(progress.every((e) => e.target === 'sightline-explorer'), 'progress should come from the explorer');
  for (let i = 1; i < progress.length; i += 1) assert.ok(progress[i].detail.rows >= progress[i - 1].detail.rows);
  const last = progress[progress.length - 1].detail;
  assert.equal(last.rows, ROWS);
  assert.equal(last.totalRows, ROWS);
  assert.ok(progress.some((p) => p.detail.rows > 0 && p.detail.rows < ROWS), 'rows should arrive in steps');
  const status = await page.evaluate(() => document.querySelector('sightline-explorer').shadowRoot.querySelector('[part="status"]').textContent);
  assert.match(status, /1,000,000 events/);
  // Nothing fired sightline-query-change or sightline-select: no user action yet.
  const early = (await page.evaluate(() => window.__events)).filter((e) => ['sightline-query-change', 'sightline-select'].includes(e.type));
  assert.deepEqual(early, []);
  await waitResults(page, (r) => r.matched === 1000000);
  await page.waitForTimeout(300);
  await explorer(page).screenshot({ path: path.join(OUT, 'explorer-overview.png') });

  // A breakdown with percentiles, built in the query builder: GROUP BY endpoint.
  await explorer(page).getByRole('button', { name: 'Add a group by column' }).click();
  await explorer(page).getByLabel('Group by column', { exact: true }).selectOption('endpoint');
  await waitResults(page, (r) => r.columns[0] === 'endpoint' && r.results.length > 5);
  const table = await page.evaluate(() => {
    const b = document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-breakdown');
    const head = [...b.shadowRoot.querySelectorAll('thead th')].map((th) => th.textContent);
    const rows = [...b.shadowRoot.querySelectorAll('tbody tr')].map((tr) => [...tr.children].map((td) => td.textContent));
    return { head, rows, result: b.result.results };
  });
  assert.deepEqual(table.head, ['endpoint', 'COUNT', 'P99(duration_ms)']);
  assert.equal(table.rows.length, table.result.length);
  const p99 = Object.fromEntries(table.result.map((r) => [r.endpoint, r['P99(duration_ms)']]));
  assert.ok(p99['/api/v2/export'] > p99['/healthz'] * 5, `P99 export ${p99['/api/v2/export']} vs healthz ${p99['/healthz']}`);
  const total = table.result.reduce((s, r) => s + r.COUNT, 0);
  assert.equal(total, ROWS, 'the groups cover every event');
  // The same numbers as a direct query to the engine.
  const direct = await page.evaluate(() =>
    document.querySelector('sightline-explorer').source.client.query({
      calculations: [{ op: 'COUNT' }, { op: 'P99', column: 'duration_ms' }],
      breakdowns: ['endpoint'],
    }),
  );
  assert.deepEqual(direct.results, table.result);
  // Sort by P99 through its header.
  await page.evaluate(() => {
    const b = document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-breakdown');
    [...b.shadowRoot.querySelectorAll('thead th button')].find((x) => x.textContent.startsWith('P99')).click();
  });
  const sorted = await page.evaluate(() => {
    const b = document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-breakdown');
    return [...b.shadowRoot.querySelectorAll('tbody tr')].map((tr) => tr.children[0].textContent);
  });
  const byP99 = [...table.result].sort((a, b) => b['P99(duration_ms)'] - a['P99(duration_ms)']).map((r) => r.endpoint);
  assert.deepEqual(sorted, byP99);
  // One line per endpoint in the P99 chart, drawn by the engine.
  const legend = await page.evaluate(() => {
    const b = document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-breakdown');
    const figs = [...b.shadowRoot.querySelectorAll('figure')];
    return figs.map((f) => ({ title: f.querySelector('h4').textContent, lines: f.querySelectorAll('.legend > span').length, label: f.querySelector('canvas').getAttribute('aria-label') }));
  });
  assert.deepEqual(legend.map((l) => l.title), ['COUNT', 'P99(duration_ms)']);
  // The top ten groups are drawn.
  assert.ok(legend.every((l) => l.lines === Math.min(10, table.result.length)), JSON.stringify(legend));
  await explorer(page).screenshot({ path: path.join(OUT, 'explorer-breakdown.png') });
  let changes = (await page.evaluate(() => window.__events)).filter((e) => e.type === 'sightline-query-change');
  assert.ok(changes.length >= 2, 'query changes from the builder are reported');
  assert.deepEqual(changes[changes.length - 1].detail.query.breakdowns, ['endpoint']);

  // Brush the incident: the comparison opens and ranks the bad build first.
  await brushIncident(page);
  await waitCompare(page);
  const cmp = await page.evaluate(() => {
    const c = document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-compare');
    const first = c.shadowRoot.querySelector('[part="dimension"]');
    return {
      result: { selection: c.result.selection_count, first: c.result.dimensions[0].column, value: c.result.dimensions[0].values[0].value, score: c.result.dimensions[0].score },
      shownFirst: first.dataset.column,
      shownValue: first.querySelector('.val .name').textContent,
      bars: first.querySelectorAll('.bar').length,
    };
  });
  t.diagnostic(`brushed ${cmp.result.selection} events; first: ${cmp.result.first} ${cmp.result.value} (score ${cmp.result.score.toFixed(2)})`);
  assert.equal(cmp.result.first, 'build_id');
  assert.equal(cmp.result.value, BAD_BUILD);
  assert.equal(cmp.shownFirst, 'build_id');
  assert.equal(cmp.shownValue, BAD_BUILD);
  assert.ok(cmp.bars >= 4, 'each value has a selection bar and a baseline bar');
  const selects = (await page.evaluate(() => window.__events)).filter((e) => e.type === 'sightline-select');
  assert.equal(selects.length, 1);
  assert.equal(selects[0].detail.selection.start_time, INCIDENT_START);
  assert.equal(selects[0].detail.selection.end_time, INCIDENT_END);
  assert.equal(selects[0].detail.selection.column, 'duration_ms');
  await page.waitForTimeout(200);
  await explorer(page).screenshot({ path: path.join(OUT, 'explorer-compare.png') });

  // Click the bad build: it becomes a filter, and every view follows (the breakdown
  // within the brushed selection: crossfilter).
  const badCount = await page.evaluate((b) => {
    const s = document.querySelector('sightline-explorer').source;
    const sel = s.selection;
    const filters = [{ column: 'build_id', op: '=', value: b }, { column: sel.column, op: '>=', value: sel.min }];
    if (sel.max !== undefined) filters.push({ column: sel.column, op: '<', value: sel.max });
    return s.client.query({ filters, start_time: sel.start_time, end_time: sel.end_time });
  }, BAD_BUILD);
  // The heatmap draws the whole bad build, with the brush over it.
  const badAll = await page.evaluate(
    (b) => document.querySelector('sightline-explorer').source.client.query({ filters: [{ column: 'build_id', op: '=', value: b }] }),
    BAD_BUILD,
  );
  await page.evaluate(() => {
    const c = document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-compare');
    c.shadowRoot.querySelector('[part="dimension"] .val .name').click();
  });
  await waitResults(page, (r) => r.matched === badCount.matched);
  const after = await page.evaluate(() => {
    const x = document.querySelector('sightline-explorer');
    return {
      filters: x.query.filters,
      chips: [...x.shadowRoot.querySelectorAll('[part="filters"] .chip:not([part="selection-chip"])')].map((c) => c.firstChild.textContent),
      events: x.shadowRoot.querySelector('sightline-events').result?.matched,
      heatmapTotal: x.shadowRoot.querySelector('sightline-heatmap').heatmap?.total,
    };
  });
  assert.deepEqual(after.filters, [{ column: 'build_id', op: '=', value: BAD_BUILD }]);
  assert.deepEqual(after.chips, [`build_id = ${BAD_BUILD}`]);
  await page.waitForFunction(
    (n) => {
      const x = document.querySelector('sightline-explorer');
      return x.shadowRoot.querySelector('sightline-events').result?.matched === n[0] && x.shadowRoot.querySelector('sightline-heatmap').heatmap?.total === n[1];
    },
    [badCount.matched, badAll.matched],
    { timeout: 20_000 },
  );
  changes = (await page.evaluate(() => window.__events)).filter((e) => e.type === 'sightline-query-change');
  assert.deepEqual(changes[changes.length - 1].detail.query.filters, [{ column: 'build_id', op: '=', value: BAD_BUILD }]);
  await page.waitForTimeout(300);
  await explorer(page).screenshot({ path: path.join(OUT, 'explorer-filtered.png') });
  await assertClean(assert, page, log);
  await context.close();
});

test('explorer: the customer lens shows one customer beside everyone, newest first, and compares them', { timeout: 120_000 }, async () => {
  const { context, page, log } = await openPage(env.browser);
  await page.goto(env.baseUrl);
  await waitReady(page);
  // Through the demo page's form, as support staff would.
  await page.getByLabel('Customer', { exact: true }).fill('cust_00042');
  await page.getByRole('button', { name: 'Open lens' }).click();
  await page.waitForFunction(
    () => {
      const x = document.querySelector('sightline-explorer');
      const lens = x.shadowRoot.querySelector('[part="lens"]');
      const maps = lens?.querySelectorAll('sightline-heatmap') ?? [];
      const ev = x.shadowRoot.querySelector('sightline-events').result;
      return !lens.hidden && maps.length === 2 && maps[0].heatmap && maps[1].heatmap && ev && ev.rows.length > 0 && ev.matched < 1000000;
    },
    null,
    { timeout: 30_000 },
  );
  const lens = await page.evaluate(() => {
    const x = document.querySelector('sightline-explorer');
    const maps = [...x.shadowRoot.querySelector('[part="lens"]').querySelectorAll('sightline-heatmap')];
    const ev = x.shadowRoot.querySelector('sightline-events').result;
    const ci = ev.columns.indexOf('customer_id');
    const ti = ev.columns.indexOf('timestamp');
    return {
      totals: maps.map((m) => m.heatmap.total),
      customers: [...new Set(ev.rows.map((r) => r[ci]))],
      times: ev.rows.map((r) => r[ti]),
      matched: ev.matched,
      heading: x.shadowRoot.querySelector('[part="lens"] h3').textContent,
    };
  });
  const count = await page.evaluate(() =>
    document.querySelector('sightline-explorer').source.client.query({ filters: [{ column: 'customer_id', op: '=', value: 'cust_00042' }] }),
  );
  assert.equal(lens.heading, 'Customer cust_00042');
  assert.deepEqual(lens.totals, [count.matched, ROWS]);
  assert.equal(lens.matched, count.matched);
  assert.deepEqual(lens.customers, ['cust_00042']);
  for (let i = 1; i < lens.times.length; i += 1) assert.ok(lens.times[i] <= lens.times[i - 1], 'newest first');

  // Every field of the wide event on click.
  await page.evaluate(() => {
    const ev = document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-events');
    ev.shadowRoot.querySelector('tbody tr').click();
  });
  const detail = await page.evaluate(() => {
    const ev = document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-events');
    const d = ev.shadowRoot.querySelector('[part="event-detail"]');
    return { fields: [...d.querySelectorAll('dt')].map((x) => x.textContent), expanded: ev.shadowRoot.querySelector('tbody tr').getAttribute('aria-expanded') };
  });
  const schema = await page.evaluate(() => document.querySelector('sightline-explorer').schema());
  assert.deepEqual(detail.fields, schema.map((f) => f.name));
  assert.equal(detail.expanded, 'true');
  const clicks = (await page.evaluate(() => window.__events)).filter((e) => e.type === 'sightline-row-click');
  assert.equal(clicks.length, 1);
  assert.equal(clicks[0].detail.row.customer_id, 'cust_00042');
  assert.equal(clicks[0].detail.kind, 'event');

  // One click: this customer vs all.
  // A brush left from before: the lens clears it when it compares its customer.
  await page.evaluate(
    ([a, b]) => document.querySelector('sightline-explorer').source.select({ start_time: a, end_time: b, column: 'duration_ms', min: 1000 }),
    [INCIDENT_START, INCIDENT_END],
  );
  await explorer(page).getByRole('button', { name: 'Compare this customer vs all' }).click();
  await waitCompare(page);
  const cmp = await page.evaluate(() => document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-compare').result);
  assert.equal(cmp.selection_count, count.matched);
  assert.equal(cmp.baseline_count, ROWS - count.matched);
  // What differs about the customer; not the customer column itself, which defines the selection.
  const dims = cmp.dimensions.map((d) => `${d.column} ${d.score.toFixed(2)}`).join(', ');
  assert.ok(!cmp.dimensions.some((d) => d.column === 'customer_id'), dims);
  assert.ok(cmp.dimensions[0].score > 0.3, dims);
  // The customer's plan is a fact about them (one plan per customer), not a difference.
  assert.ok(cmp.facts.some((f) => f.column === 'plan'), JSON.stringify(cmp.facts));
  assert.ok(!cmp.dimensions.some((d) => d.column === 'plan'), dims);
  const factsText = await page.evaluate(() =>
    document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-compare').shadowRoot.querySelector('[part="facts"]').textContent,
  );
  assert.match(factsText, /^Always, in the selection: .*plan = /);
  // The brush drawn before the lens compared is gone (it compared something else).
  assert.equal(await page.evaluate(() => document.querySelector('sightline-explorer').source.selection), null);
  await page.waitForTimeout(300);
  await explorer(page).screenshot({ path: path.join(OUT, 'explorer-lens.png') });

  // This customer vs themselves an hour earlier: the selection has no times of its own, so
  // it takes the scope's (all the data), shifted back an hour for the baseline.
  await explorer(page).getByLabel('Baseline', { exact: true }).selectOption('3600');
  await page.waitForFunction(() => {
    const c = document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-compare');
    return c.shadowRoot.querySelector('[part="baseline"]').textContent.includes('1 hour earlier');
  });
  const earlier = await page.evaluate(() => {
    const c = document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-compare');
    return {
      status: c.shadowRoot.querySelector('[part="status"]').className,
      described: c.shadowRoot.querySelector('[part="baseline"]').textContent,
      result: { selection: c.result.selection_count, baseline: c.result.baseline_count },
    };
  });
  assert.ok(!/error/.test(earlier.status), earlier.described);
  assert.equal(earlier.result.selection, count.matched);
  assert.equal(earlier.described, `baseline: same filters, 1 hour earlier, ${earlier.result.baseline.toLocaleString('en-US')} events (Oct 30, 23:00 – Oct 31, 23:00 UTC)`);
  await assertClean(assert, page, log);
  await context.close();
});

test('explorer: save() and restore() round-trip the view, and the URL carries it', { timeout: 120_000 }, async () => {
  const { context, page, log } = await openPage(env.browser);
  await page.goto(env.baseUrl);
  await waitReady(page);
  const query = {
    calculations: [{ op: 'HEATMAP', column: 'duration_ms' }, { op: 'COUNT' }, { op: 'P95', column: 'duration_ms' }],
    filters: [{ column: 'status_code', op: '>=', value: 500 }],
    breakdowns: ['region'],
    orders: [{ op: 'COUNT', order: 'descending' }],
    havings: [{ calculate_op: 'COUNT', op: '>', value: 10 }],
    limit: 3,
    time_range: 43200,
  };
  await page.evaluate((q) => {
    document.querySelector('sightline-explorer').query = q;
  }, query);
  await waitResults(page, (r) => r.columns[0] === 'region' && r.results.length === 3);
  // Setting the property is not a user action: no event.
  const changes = (await page.evaluate(() => window.__events)).filter((e) => e.type === 'sightline-query-change');
  assert.deepEqual(changes, []);
  const whole = await waitResults(page, (r) => r.columns[0] === 'region' && r.results.length === 3);
  await brushIncident(page);
  await waitCompare(page);
  // Crossfilter: the breakdown narrows to the brushed region.
  const narrowed = await waitResults(page, (r) => r.columns[0] === 'region' && r.matched < whole.matched);
  const saved = await page.evaluate(() => document.querySelector('sightline-explorer').save());
  assert.equal(saved.v, 1);
  for (const [k, v] of Object.entries(query)) assert.deepEqual(saved.query[k], v, k);
  assert.equal(saved.selection.start_time, INCIDENT_START);
  const results = await page.evaluate(() => document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-breakdown').result.results);
  const url = page.url();
  assert.match(url, /#sightline=/);

  // The link opens the same view in a new page.
  const second = await openPage(env.browser);
  await second.page.goto(url);
  await waitReady(second.page);
  // The restored selection narrows the breakdown as it did on the first page.
  await waitResults(second.page, (r) => r.columns[0] === 'region' && r.matched === narrowed.matched);
  await waitCompare(second.page);
  const reopened = await second.page.evaluate(() => {
    const x = document.querySelector('sightline-explorer');
    return { state: x.save(), results: x.shadowRoot.querySelector('sightline-breakdown').result.results };
  });
  assert.deepEqual(reopened.state, saved);
  assert.deepEqual(reopened.results, results);
  await second.page.screenshot({ path: path.join(OUT, 'explorer-restored.png'), fullPage: true });
  await assertClean(assert, second.page, second.log);
  await second.context.close();

  // restore() on the first page: back to the defaults, then to the saved view.
  const roundTrip = await page.evaluate(async (state) => {
    const x = document.querySelector('sightline-explorer');
    x.restore({ v: 1, query: { calculations: [{ op: 'COUNT' }] } });
    const plain = x.save();
    x.restore(state);
    let bad;
    try {
      x.restore({ v: 99 });
    } catch (e) {
      bad = e.message;
    }
    return { plain, again: x.save(), bad };
  }, saved);
  assert.deepEqual(roundTrip.plain.query.calculations, [{ op: 'COUNT' }]);
  assert.equal(roundTrip.plain.selection, undefined);
  assert.deepEqual(roundTrip.again, saved);
  assert.match(roundTrip.bad, /version 99/);
  await assertClean(assert, page, log);
  await context.close();
});

test('explorer: CSV of the results table and PNG of a chart', { timeout: 120_000 }, async () => {
  const { context, page, log } = await openPage(env.browser);
  await page.goto(env.baseUrl);
  await waitReady(page);
  await page.evaluate(() => {
    document.querySelector('sightline-explorer').query = {
      calculations: [{ op: 'HEATMAP', column: 'duration_ms' }, { op: 'COUNT' }, { op: 'P99', column: 'duration_ms' }],
      breakdowns: ['region'],
    };
  });
  await waitResults(page, (r) => r.columns[0] === 'region');
  const [csvDownload] = await Promise.all([
    page.waitForEvent('download'),
    page.evaluate(() => {
      const b = document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-breakdown');
      b.shadowRoot.querySelector('[part="export-csv"]').click();
    }),
  ]);
  assert.equal(csvDownload.suggestedFilename(), 'sightline-results.csv');
  const csv = readFileSync(await csvDownload.path(), 'utf8');
  const lines = csv.trim().split('\r\n');
  assert.equal(lines[0], 'region,COUNT,P99(duration_ms)');
  const result = await page.evaluate(() => document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-breakdown').result.results);
  assert.equal(lines.length, result.length + 1);
  assert.equal(lines[1], `${result[0].region},${result[0].COUNT},${result[0]['P99(duration_ms)']}`);

  // PNG of a line chart (its button) and of the heatmap (the API).
  const [pngDownload] = await Promise.all([
    page.waitForEvent('download'),
    page.evaluate(() => {
      const b = document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-breakdown');
      b.shadowRoot.querySelector('figure button').click();
    }),
  ]);
  assert.equal(pngDownload.suggestedFilename(), 'sightline-COUNT.png');
  const png = readFileSync(await pngDownload.path());
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.ok(png.length > 5000, `PNG of ${png.length} bytes`);
  const [heatPng] = await Promise.all([page.waitForEvent('download'), page.evaluate(() => document.querySelector('sightline-explorer').exportPNG())]);
  const heat = readFileSync(await heatPng.path());
  assert.equal(heatPng.suggestedFilename(), 'sightline-heatmap.png');
  assert.equal(heat.readUInt32BE(16), await page.evaluate(() => document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-heatmap').shadowRoot.querySelector('canvas').width));
  await assertClean(assert, page, log);
  await context.close();
});

test('hostile strings in the data stay inert text in every view, and CSV export defuses formulas', { timeout: 120_000 }, async () => {
  const { context, page, log } = await openPage(env.browser);
  const data = readFileSync(path.join(ROOT, 'tests/out/fixtures/hostile.arrows'));
  await routeBytes(page, env.baseUrl, '/e2e/hostile.arrows', data);
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>hostile</title>
<script type="module" src="/www/sightline.js"></script></head>
<body><sightline-explorer src="/e2e/hostile.arrows" customer-column="customer_id" time-zone="utc"></sightline-explorer></body></html>`;
  // Every string drawn on a canvas, to check labels and messages too.
  await page.addInitScript(() => {
    window.__drawn = [];
    const fillText = CanvasRenderingContext2D.prototype.fillText;
    CanvasRenderingContext2D.prototype.fillText = function (text, ...rest) {
      window.__drawn.push(String(text));
      return fillText.call(this, text, ...rest);
    };
  });
  await page.goto(await routePage(page, env.baseUrl, '/e2e/hostile.html', html));
  await waitReady(page);
  await page.evaluate(() => {
    document.querySelector('sightline-explorer').query = {
      calculations: [{ op: 'HEATMAP', column: 'duration_ms' }, { op: 'COUNT' }, { op: 'P99', column: 'duration_ms' }],
      breakdowns: ['customer_id'],
      // A filter on a hostile value: its field in the builder shows it marked.
      filters: [{ column: 'endpoint', op: '!=', value: 'cust_\u202eevil_txt.exe' }],
    };
  });
  await waitResults(page, (r) => r.columns[0] === 'customer_id' && r.results.length === 11);
  // A lens on a hostile customer, compared with everyone (the comparison lists payloads); open an event.
  await page.evaluate(() => {
    document.querySelector('sightline-explorer').customer = '<img src=x onerror="window.__pwned=1">';
  });
  await page.waitForFunction(() => document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-events').result?.matched < 2000);
  await explorer(page).getByRole('button', { name: 'Compare this customer vs all' }).click();
  await waitCompare(page);
  await page.evaluate(() => document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-events').shadowRoot.querySelector('tbody tr').click());
  await page.waitForTimeout(500);
  const check = await page.evaluate(() => {
    const all = [];
    const walk = (root) => {
      for (const n of root.querySelectorAll('*')) {
        all.push(n);
        if (n.shadowRoot) walk(n.shadowRoot);
      }
    };
    walk(document);
    const tags = all.map((n) => n.localName);
    const text = [];
    const collect = (root) => {
      const w = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
      while (w.nextNode()) text.push(w.currentNode.data);
      for (const n of root.querySelectorAll('*')) if (n.shadowRoot) collect(n.shadowRoot);
    };
    collect(document.body);
    // What a person sees or hears besides text nodes: shown attributes, field values, canvas text.
    const shown = [...text, ...window.__drawn];
    for (const n of all) {
      for (const a of ['title', 'aria-label', 'label', 'placeholder', 'alt', 'aria-valuetext']) if (n.hasAttribute(a)) shown.push(n.getAttribute(a));
      if (n.localName === 'input') shown.push(n.value);
    }
    // Any Cc/Cf/Zl/Zp character or lone surrogate, other than a joiner between two pictographs.
    const raw = shown
      .map((s) => s.replace(/(?<=\p{Extended_Pictographic})\u200D(?=\p{Extended_Pictographic})/gu, ''))
      .filter((s) => /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\uD800-\uDFFF]/u.test(s))
      .map((s) => JSON.stringify(s.slice(0, 80)));
    const td = document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-breakdown').shadowRoot.querySelector('td');
    return {
      pwned: window.__pwned,
      imgs: tags.filter((t) => t === 'img').length,
      scripts: tags.filter((t) => t === 'script').length,
      svgs: tags.filter((t) => t === 'svg').length,
      text: text.join('\n'),
      raw,
      shownCount: shown.length,
      drawn: window.__drawn.length,
      headers: [...document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-events').shadowRoot.querySelectorAll('thead th')].map((th) => th.textContent),
      bidi: getComputedStyle(td).unicodeBidi,
    };
  });
  assert.equal(check.pwned, undefined, 'a payload ran');
  assert.equal(check.imgs, 0);
  assert.equal(check.scripts, 1, 'only the page module script');
  assert.equal(check.svgs, 0);
  for (const payload of ['<img src=x onerror="window.__pwned=1">', '<script>window.__pwned=2</script>', '"><svg onload=window.__pwned=3>']) {
    assert.ok(check.text.includes(payload), `payload not shown as text: ${payload}`);
  }
  // Direction overrides and zero-width spaces are shown, not obeyed.
  assert.ok(check.text.includes('cust_⟨U+202E⟩evil_txt.exe'), 'the right-to-left override is not made visible');
  assert.ok(!check.text.includes('cust_\u202eevil'), 'a raw right-to-left override reached the page');
  assert.ok(
    check.text.includes('zero⟨U+200B⟩width⟨U+200D⟩join⟨U+0009⟩tab⟨U+000A⟩new⟨U+2028⟩line⟨U+E0041⟩tag⟨U+00AD⟩soft 👨\u200d👩\u200d👧'),
    'zero-width and control characters, separators and tags are not made visible (or the emoji sequence is broken)',
  );
  assert.ok(check.headers.includes('geo⟨U+202E⟩⟨U+2066⟩zone'), `a column name with an override is not made visible: ${check.headers}`);
  assert.ok(check.drawn > 10, 'canvas labels were recorded');
  assert.ok(check.shownCount > 300, `only ${check.shownCount} strings shown`);
  assert.deepEqual(check.raw, [], 'invisible or direction-changing characters reached the page');
  // The filter's field shows the value marked; left unedited, the filter keeps the raw value.
  const field = await page.evaluate(() => {
    const x = document.querySelector('sightline-explorer');
    const input = x.shadowRoot.querySelector('[part="builder"] input[aria-label="Filter value"]');
    const shown = input.value;
    input.dispatchEvent(new Event('change'));
    return { shown, value: x.query.filters[0].value };
  });
  assert.equal(field.shown, 'cust_⟨U+202E⟩evil_txt.exe');
  assert.equal(field.value, 'cust_\u202eevil_txt.exe');
  assert.equal(check.bidi, 'isolate', 'right-to-left overrides are isolated in their cells');
  await explorer(page).screenshot({ path: path.join(OUT, 'explorer-hostile.png') });

  // CSV: formulas get a leading apostrophe; quotes are doubled.
  const csv = await page.evaluate(() => document.querySelector('sightline-explorer').toCSV());
  const cells = csv.split('\r\n').slice(1, -1).map((l) => l.replace(/,\d+,[\d.]+$/, ''));
  assert.ok(cells.includes(`"'=HYPERLINK(""http://evil.example/"",""click"")"`), csv.slice(0, 600));
  assert.ok(cells.includes(`"'+cmd|"" /C calc""!A0"`));
  assert.ok(cells.includes("'@SUM(1+1)"));
  assert.ok(cells.includes("'-2+3"));
  assert.ok(!cells.some((c) => /^[=+@-]/.test(c) || /^"[=+@-]/.test(c)), 'a cell starts with a formula character');
  await assertClean(assert, page, log);
  await context.close();
});

test('a page under exactly script-src \'self\' \'wasm-unsafe-eval\': parts link through a shared source', { timeout: 120_000 }, async () => {
  const { context, page, log } = await openPage(env.browser);
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>parts</title>
<script type="module" src="/www/sightline.js"></script></head>
<body>
<sightline-source id="prod" src="/api/demo?rows=200000"></sightline-source>
<sightline-heatmap source="prod" column="duration_ms" time-zone="utc"></sightline-heatmap>
<sightline-compare source="prod"></sightline-compare>
<sightline-breakdown source="prod" calculations="COUNT, P99(duration_ms)" breakdowns="build_id" time-zone="utc"></sightline-breakdown>
<sightline-events source="prod" limit="20" columns="timestamp,build_id,endpoint,duration_ms"></sightline-events>
</body></html>`;
  const response = await page.goto(await routePage(page, env.baseUrl, '/e2e/parts.html', html));
  assert.equal(response.headers()['content-security-policy'], "script-src 'self' 'wasm-unsafe-eval'");
  await page.waitForFunction(() => document.querySelector('sightline-breakdown').result?.matched === 200000, null, { timeout: 30_000 });
  assert.equal(log.workers.length, 1, 'one worker for the shared source');
  await page.waitForFunction(() => document.querySelector('sightline-heatmap').heatmap?.total === 200000);
  await brushIncident(page, 'sightline-heatmap');
  await waitCompare(page, 'sightline-compare');
  const first = await page.evaluate(() => document.querySelector('sightline-compare').result.dimensions[0]);
  assert.equal(first.column, 'build_id');
  // A click on a value filters every part of the source.
  await page.evaluate(() => document.querySelector('sightline-compare').shadowRoot.querySelector('.val .name').click());
  await page.waitForFunction(
    (b) => {
      const r = document.querySelector('sightline-breakdown').result;
      const e = document.querySelector('sightline-events').result;
      return r && r.results.length === 1 && r.results[0].build_id === b && e && e.rows.every((row) => row[1] === b);
    },
    BAD_BUILD,
    { timeout: 20_000 },
  );
  await page.screenshot({ path: path.join(OUT, 'parts.png'), fullPage: true });
  await assertClean(assert, page, log);
  await context.close();
});

test('removing an element ends its worker; a shared source ends with its element', { timeout: 60_000 }, async () => {
  const { context, page, log } = await openPage(env.browser);
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>lifecycle</title>
<script type="module" src="/www/sightline.js"></script></head><body></body></html>`;
  await page.goto(await routePage(page, env.baseUrl, '/e2e/lifecycle.html', html));
  await page.evaluate(() => import('/www/sightline.js'));
  // An explorer with its own data.
  await page.evaluate(() => {
    const x = document.createElement('sightline-explorer');
    x.src = '/api/demo?rows=20000';
    document.body.append(x);
  });
  await waitReady(page);
  assert.equal(log.workers.length, 1);
  // Moving it within the page keeps the worker and the data.
  await page.evaluate(() => {
    const x = document.querySelector('sightline-explorer');
    const div = document.createElement('div');
    document.body.append(div);
    div.append(x);
  });
  await page.waitForTimeout(300);
  assert.equal(log.closedWorkers, 0);
  assert.equal(await page.evaluate(() => document.querySelector('sightline-explorer').source?.rows), 20000);
  // Tailing: another stream's batches are added, and the views follow.
  const tail = await page.evaluate(() => document.querySelector('sightline-explorer').appendStream('/api/demo?rows=1000&seed=7'));
  assert.equal(tail.rows, 21000);
  await waitResults(page, (r) => r.matched === 21000);
  await page.waitForFunction(() => document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-heatmap').heatmap?.total === 21000);
  await page.evaluate(() => document.querySelector('sightline-explorer').remove());
  await page.waitForFunction(() => true);
  for (let i = 0; i < 50 && log.closedWorkers < 1; i += 1) await page.waitForTimeout(100);
  assert.equal(log.closedWorkers, 1, 'the explorer\'s worker ended');

  // A shared source: parts come and go, the worker stays until the source element leaves.
  await page.evaluate(() => {
    document.body.insertAdjacentHTML(
      'beforeend',
      '<sightline-source id="s" src="/api/demo?rows=5000"></sightline-source><sightline-heatmap source="s"></sightline-heatmap><sightline-events source="s"></sightline-events>',
    );
  });
  await page.waitForFunction(() => document.querySelector('sightline-events').result?.matched === 5000);
  assert.equal(log.workers.length, 2);
  await page.evaluate(() => {
    document.querySelector('sightline-heatmap').remove();
    document.querySelector('sightline-events').remove();
  });
  await page.waitForTimeout(300);
  assert.equal(log.closedWorkers, 1, 'parts leaving do not end a shared source');
  await page.evaluate(() => document.querySelector('sightline-source').remove());
  for (let i = 0; i < 50 && log.closedWorkers < 2; i += 1) await page.waitForTimeout(100);
  assert.equal(log.closedWorkers, 2, 'the source element leaving ends its worker');
  await assertClean(assert, page, log);
  await context.close();
});

test('no script runs over 50 ms on the main thread while queries run on 1M rows', { timeout: 180_000 }, async (t) => {
  // The engine runs in the worker; what the page does with each answer (tables, canvases)
  // stays under 50 ms a script.
  const { context, page, log } = await openPage(env.browser);
  await page.goto(env.baseUrl);
  await waitReady(page);
  await waitResults(page, (r) => r.matched === 1000000);
  await waitAllSettled(page);
  await watchLongTasks(page);
  const started = Date.now();
  // A breakdown, a filter, a percentile, a brush: each a new query on 1M rows.
  await explorer(page).getByRole('button', { name: 'Add a group by column' }).click();
  await explorer(page).getByLabel('Group by column', { exact: true }).selectOption('customer_id');
  await waitResults(page, (r) => r.columns[0] === 'customer_id');
  await page.evaluate(() => {
    const x = document.querySelector('sightline-explorer');
    x.query = { ...x.query, calculations: [...x.query.calculations, { op: 'P50', column: 'db_duration_ms' }, { op: 'COUNT_DISTINCT', column: 'trace_id' }] };
  });
  await waitResults(page, (r) => r.columns.includes('COUNT_DISTINCT(trace_id)'));
  await brushIncident(page);
  await waitCompare(page);
  const elapsed = Date.now() - started;
  await page.waitForTimeout(300);
  await assertResponsive(t, page, `${elapsed} ms of querying`);
  await assertClean(assert, page, log);
  await context.close();
});

test('a server with --token: the component sends the page\'s Authorization header, and says so when it is missing', { timeout: 60_000 }, async () => {
  const guarded = await startServer(['--token', 's3cret-token']);
  try {
    const { context, page, log } = await openPage(env.browser);
    const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>token</title>
<script type="module" src="/www/sightline.js"></script></head><body></body></html>`;
    await page.goto(await routePage(page, guarded.url, '/e2e/token.html', html));
    const result = await page.evaluate(async () => {
      await import('/www/sightline.js');
      const denied = document.createElement('sightline-explorer');
      const errors = [];
      denied.addEventListener('sightline-error', (e) => errors.push(e.detail.message));
      denied.src = '/api/events?source=demo&limit=300';
      document.body.append(denied);
      await new Promise((r) => denied.addEventListener('sightline-error', r, { once: true }));
      denied.remove();
      const x = document.createElement('sightline-explorer');
      x.fetchInit = { headers: { Authorization: 'Bearer s3cret-token' } };
      x.src = '/api/events?source=demo&order=newest&limit=300';
      document.body.append(x);
      const ready = await new Promise((r) => x.addEventListener('sightline-ready', (e) => r(e.detail), { once: true }));
      return { errors, rows: ready.rows };
    });
    assert.equal(result.rows, 300);
    assert.equal(result.errors.length, 1);
    assert.match(result.errors[0], /HTTP 401.*bearer token/);
    log.badResponses = log.badResponses.filter((r) => !r.startsWith('401 '));
    log.console = log.console.filter((m) => !/401/.test(m));
    await assertClean(assert, page, log);
    await context.close();
  } finally {
    guarded.child.kill('SIGTERM');
  }
});

test('a new query supersedes one still waiting in the worker', { timeout: 60_000 }, async () => {
  const { context, page, log } = await openPage(env.browser);
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>supersede</title>
<script type="module" src="/www/sightline.js"></script></head><body></body></html>`;
  await page.goto(await routePage(page, env.baseUrl, '/e2e/supersede.html', html));
  const out = await page.evaluate(async () => {
    const { SightlineClient } = await import('/www/sightline.js');
    const c = new SightlineClient();
    await c.reset();
    await c.push(new Uint8Array(await (await fetch('/api/demo?rows=300000')).arrayBuffer()));
    await c.finish();
    // A slow request first, then five queries on one channel while it runs: only the last runs.
    const slow = c.query({ calculations: [{ op: 'COUNT_DISTINCT', column: 'trace_id' }], breakdowns: ['customer_id'] });
    const fast = [1, 2, 3, 4, 5].map((k) => c.query({ limit: k, breakdowns: ['region'] }, { channel: 'view' }).then(
      (r) => `ok ${r.results.length}`,
      (e) => e.name,
    ));
    const settled = await Promise.all(fast);
    await slow;
    c.terminate();
    return settled;
  });
  assert.deepEqual(out, ['AbortError', 'AbortError', 'AbortError', 'AbortError', 'ok 4']);
  await assertClean(assert, page, log);
  await context.close();
});

test('explorer: zoom to a brushed selection, then back to all time', { timeout: 90_000 }, async () => {
  const { context, page, log } = await openPage(env.browser);
  await page.goto(env.baseUrl);
  await waitReady(page);
  await waitResults(page, (r) => r.matched === ROWS);
  await brushIncident(page);
  await waitCompare(page);
  await explorer(page).getByRole('button', { name: 'Zoom to selection' }).click();
  // The brushed result (crossfilter) has the same window: wait for the whole half hour's,
  // as the engine counts it.
  const all = await page.evaluate(
    ([t0, t1]) => document.querySelector('sightline-explorer').source.client.query({ calculations: [{ op: 'COUNT' }], start_time: t0, end_time: t1, disable_series: true }).then((r) => r.matched),
    [INCIDENT_START, INCIDENT_END],
  );
  const zoomed = await waitResults(page, (r) => r.start_time === INCIDENT_START && r.end_time === INCIDENT_END && r.matched === all);
  const q = await page.evaluate(() => document.querySelector('sightline-explorer').query);
  assert.equal(q.start_time, INCIDENT_START);
  assert.equal(q.end_time, INCIDENT_END);
  assert.ok(zoomed.matched > 10_000 && zoomed.matched < 50_000, `${zoomed.matched} events in the half hour`);
  await page.waitForFunction(
    (t0) => document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-heatmap').heatmap?.time_edges[0] === t0,
    INCIDENT_START,
  );
  await page.waitForTimeout(300);
  await explorer(page).screenshot({ path: path.join(OUT, 'explorer-zoomed.png') });
  await explorer(page).getByLabel('Time range', { exact: true }).selectOption('');
  await waitResults(page, (r) => r.matched === ROWS);
  await assertClean(assert, page, log);
  await context.close();
});

test('explorer: compare a brushed selection with the previous day and hour; the baseline is part of the view', { timeout: 120_000 }, async () => {
  const { context, page, log } = await openPage(env.browser);
  await page.goto(env.baseUrl);
  await waitReady(page);
  await waitResults(page, (r) => r.matched === ROWS);
  // Every comparison the page asks the worker for.
  await page.evaluate(() => {
    const client = document.querySelector('sightline-explorer').source.client;
    const compare = client.compare.bind(client);
    window.__compareSpecs = [];
    client.compare = (spec, extra) => {
      window.__compareSpecs.push(structuredClone(spec));
      return compare(spec, extra);
    };
  });
  await brushIncident(page);
  await waitCompare(page);
  const panel = () =>
    page.evaluate(() => {
      const x = document.querySelector('sightline-explorer');
      const c = x.shadowRoot.querySelector('sightline-compare');
      const part = (name) => c.shadowRoot.querySelector(`[part="${name}"]`);
      return {
        choice: part('baseline-select').value,
        options: [...part('baseline-select').options].map((o) => o.textContent),
        described: part('baseline').hidden ? null : part('baseline').textContent,
        empty: part('empty').hidden ? null : part('empty').textContent,
        dimensions: c.shadowRoot.querySelectorAll('[part="dimension"]').length,
        result: c.result && { selection: c.result.selection_count, baseline: c.result.baseline_count },
        spec: window.__compareSpecs[window.__compareSpecs.length - 1],
        saved: x.save(),
        url: location.hash,
      };
    });
  const rest = await panel();
  assert.deepEqual(rest.options, ['vs the rest', 'vs previous hour', 'vs previous day', 'vs previous week']);
  assert.equal(rest.choice, '0');
  assert.equal(rest.spec.baseline, undefined, 'the default baseline is the rest of the scope');
  assert.match(rest.described, /^baseline: the rest of the scope, [\d,]+ events$/);
  assert.equal(rest.saved.baseline, undefined);

  // The previous day: the demo data covers one day, so that baseline is empty.
  await explorer(page).getByLabel('Baseline', { exact: true }).selectOption({ label: 'vs previous day' });
  await page.waitForFunction(() => {
    const c = document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-compare');
    return window.__compareSpecs.at(-1)?.baseline?.period === 86400 && c.result && !c.shadowRoot.querySelector('[part="baseline"]').textContent.includes('rest');
  });
  const day = await panel();
  assert.deepEqual(day.spec.baseline, { period: 86400 });
  assert.equal(day.spec.selection.start_time, INCIDENT_START);
  assert.equal(day.spec.selection.end_time, INCIDENT_END);
  assert.ok(day.spec.selection.filters.some((f) => f.column === 'duration_ms' && f.op === '>='), 'the value range is part of the selection');
  assert.equal(day.choice, '86400');
  assert.equal(day.result.baseline, 0);
  assert.equal(day.described, 'baseline: same filters, 1 day earlier, 0 events (Oct 30, 16:00 – 16:30 UTC)');
  assert.match(day.empty, /No events 1 day earlier with the same filters/);
  assert.equal(day.dimensions, 0, 'no bars against an empty baseline');
  assert.equal(day.saved.baseline, 86400, 'the baseline is part of the saved view');
  assert.match(decodeURIComponent(day.url), /"baseline":86400/, 'and of the link');
  await page.waitForTimeout(200);
  await explorer(page).screenshot({ path: path.join(OUT, 'explorer-baseline-day.png') });

  // The previous hour has events: dimensions again, and the description follows.
  await explorer(page).getByLabel('Baseline', { exact: true }).selectOption('3600');
  await page.waitForFunction(() => {
    const c = document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-compare');
    return window.__compareSpecs.at(-1)?.baseline?.period === 3600 && c.result?.baseline_count > 0 && c.shadowRoot.querySelector('[part="dimension"]');
  });
  const hour = await panel();
  assert.equal(hour.described, `baseline: same filters, 1 hour earlier, ${hour.result.baseline.toLocaleString('en-US')} events (Oct 31, 15:00 – 15:30 UTC)`);
  assert.equal(hour.empty, null);
  assert.ok(hour.dimensions > 0);
  await page.waitForTimeout(200);
  await explorer(page).screenshot({ path: path.join(OUT, 'explorer-baseline-hour.png') });

  // restore() sets the choice (absent: the rest of the scope), and a restored view asks for it.
  const restored = await page.evaluate((state) => {
    const x = document.querySelector('sightline-explorer');
    const select = () => x.shadowRoot.querySelector('sightline-compare').shadowRoot.querySelector('[part="baseline-select"]').value;
    const { baseline, ...withoutBaseline } = state;
    x.restore(withoutBaseline);
    const plain = [select(), x.save().baseline];
    x.restore(state);
    return { plain, again: [select(), x.save().baseline] };
  }, day.saved);
  assert.deepEqual(restored.plain, ['0', undefined]);
  assert.deepEqual(restored.again, ['86400', 86400]);
  await page.waitForFunction(() => window.__compareSpecs.at(-1)?.baseline?.period === 86400);
  const events = (await page.evaluate(() => window.__events)).filter((e) => e.type === 'sightline-baseline-change');
  assert.deepEqual(events.map((e) => e.detail.period), [86400, 3600], 'user choices only');
  await assertClean(assert, page, log);
  await context.close();
});

test('time-zone: an IANA name in every view; an unknown name is local time with a warning, never an error', { timeout: 90_000 }, async () => {
  const { context, page, log } = await openPage(env.browser);
  const NY = 'America/New_York';
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>zones</title>
<script type="module" src="/www/sightline.js"></script></head>
<body>
<sightline-source id="s" src="/api/demo?rows=20000"></sightline-source>
<sightline-heatmap source="s" time-zone="${NY}"></sightline-heatmap>
<sightline-breakdown source="s" calculations="COUNT" time-zone="${NY}"></sightline-breakdown>
<sightline-events source="s" limit="5" columns="timestamp,endpoint" time-zone="${NY}"></sightline-events>
<sightline-explorer src="/api/demo?rows=5000" time-zone="Mars/Olympus_Mons"></sightline-explorer>
</body></html>`;
  await page.goto(await routePage(page, env.baseUrl, '/e2e/zones.html', html));
  await page.waitForFunction(
    () =>
      document.querySelector('sightline-events').result &&
      document.querySelector('sightline-breakdown').result &&
      document.querySelector('sightline-heatmap').heatmap &&
      document.querySelector('sightline-explorer').source?.state === 'ready' &&
      document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-breakdown').result,
    null,
    { timeout: 30_000 },
  );
  await page.waitForTimeout(300);
  // Hover the middle of the heatmap for its tooltip.
  const box = await page.evaluate(() => {
    const h = document.querySelector('sightline-heatmap');
    const r = h.shadowRoot.querySelector('canvas').getBoundingClientRect();
    const p = h.plot;
    return { x: r.left + p.x + p.w / 2, y: r.top + p.y + p.h / 2 };
  });
  await page.mouse.move(box.x, box.y);
  const seen = await page.evaluate(() => {
    const status = (el) => el.shadowRoot.querySelector('[part="status"]').textContent;
    const h = document.querySelector('sightline-heatmap');
    const b = document.querySelector('sightline-breakdown');
    const e = document.querySelector('sightline-events');
    const x = document.querySelector('sightline-explorer');
    return {
      heatmap: status(h),
      tooltip: h.shadowRoot.querySelector('[part="tooltip"] .time').textContent,
      breakdown: status(b),
      range: [b.result.start_time, b.result.end_time],
      events: status(e),
      times: e.result.rows.map((r) => r[e.result.columns.indexOf('timestamp')]),
      cells: [...e.shadowRoot.querySelectorAll('tbody tr')].map((tr) => tr.children[0].textContent),
      explorer: status(x),
      explorerHeatmap: status(x.shadowRoot.querySelector('sightline-heatmap')),
      explorerEvents: x.shadowRoot.querySelector('sightline-events').shadowRoot.querySelector('tbody td').textContent,
    };
  });
  assert.match(seen.heatmap, /times in America\/New_York/);
  assert.match(seen.tooltip, /^Oct (30|31), \d\d:\d\d – \d\d:\d\d GMT-4$/, seen.tooltip);
  assert.match(seen.breakdown, /times in America\/New_York/);
  assert.ok(seen.breakdown.includes(formatTimeRange(seen.range[0], seen.range[1], NY)), seen.breakdown);
  assert.ok(seen.breakdown.includes('GMT-4'), seen.breakdown);
  assert.match(seen.events, /times in America\/New_York/);
  assert.deepEqual(seen.cells, seen.times.map((t) => formatTimestamp(t, NY)));
  assert.ok(seen.cells.every((c) => c.endsWith(' GMT-4')), seen.cells.join(', '));
  // The unknown zone: said in the statuses, times in local time (UTC here), no error.
  assert.match(seen.explorer, /unknown time zone "Mars\/Olympus_Mons": times are local \(UTC\)/, seen.explorer);
  assert.match(seen.explorerHeatmap, /unknown time zone "Mars\/Olympus_Mons"/);
  assert.match(seen.explorerEvents, /^2026-10-31 \d\d:\d\d:\d\d(\.\d+)? UTC$/, seen.explorerEvents);
  const errors = (await page.evaluate(() => window.__events)).filter((e) => e.type === 'sightline-error');
  assert.deepEqual(errors, []);
  await page.screenshot({ path: path.join(OUT, 'time-zones.png'), fullPage: true });
  await assertClean(assert, page, log);
  await context.close();
});

test('load() takes an apache-arrow Table (the page\'s own apache-arrow)', { timeout: 60_000 }, async () => {
  const { context, page, log } = await openPage(env.browser);
  await routeBytes(page, env.baseUrl, '/e2e/arrow.js', readFileSync(path.join(ROOT, 'node_modules/apache-arrow/Arrow.es2015.min.js')), 'text/javascript');
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>table</title>
<script src="/e2e/arrow.js"></script><script type="module" src="/www/sightline.js"></script></head>
<body><sightline-heatmap id="h" time-zone="utc"></sightline-heatmap><sightline-events id="e" limit="5"></sightline-events></body></html>`;
  await page.goto(await routePage(page, env.baseUrl, '/e2e/table.html', html));
  const out = await page.evaluate(async () => {
    await customElements.whenDefined('sightline-heatmap');
    const bytes = new Uint8Array(await (await fetch('/api/demo?rows=5000')).arrayBuffer());
    const table = window.Arrow.tableFromIPC(bytes);
    const h = document.getElementById('h');
    // The global build of apache-arrow is found by itself...
    const a = await h.load(table);
    // ...and a bundled one is passed in.
    const e = document.getElementById('e');
    const { tableToIPC } = window.Arrow;
    const b = await e.load(table, { tableToIPC });
    return { a: a.rows, b: b.rows, total: h.heatmap.total };
  });
  assert.deepEqual({ a: out.a, b: out.b, total: out.total }, { a: 5000, b: 5000, total: 5000 });
  await assertClean(assert, page, log);
  await context.close();
});

test('demo page: a week sampled at the source, weighted, with a calculated field and last week drawn dashed', { timeout: 180_000 }, async () => {
  const { context, page, log } = await openPage(env.browser);
  await page.goto(env.baseUrl);
  // Fetched after the first explorer is ready.
  await page.waitForFunction(() => document.getElementById('week').source?.state === 'ready', null, { timeout: 90_000, polling: 100 });
  const ready = (await page.evaluate(() => window.__events)).filter((e) => e.type === 'sightline-ready').map((e) => e.id);
  assert.deepEqual(ready, ['explorer', 'week']);
  const breakdownOf = () => {
    const b = document.getElementById('week').shadowRoot.querySelector('sightline-breakdown');
    const r = b?.result;
    if (!r?.previous || !b.shadowRoot.querySelector('figure canvas')) return null;
    return {
      rows: document.getElementById('week').source.rows,
      weighted: r.sample_rate_column,
      columns: r.columns,
      results: r.results,
      previous: r.previous.results,
      status: b.shadowRoot.querySelector('[part="status"]').textContent,
      legends: [...b.shadowRoot.querySelectorAll('figure')].map((f) => ({
        title: f.querySelector('h4').textContent,
        dashed: [...f.querySelectorAll('.legend .swatch.dashed')].length,
        names: [...f.querySelectorAll('.legend > span')].map((s) => s.textContent),
      })),
      heatmapStatus: document.getElementById('week').shadowRoot.querySelector('sightline-heatmap').shadowRoot.querySelector('.detail')?.textContent ?? '',
    };
  };
  await page.waitForFunction(breakdownOf, null, { timeout: 60_000, polling: 200 });
  const got = await page.evaluate(breakdownOf);
  // ~110,000 rows answer for 1,000,000 requests.
  assert.ok(got.rows > 50_000 && got.rows < 200_000, `${got.rows} rows loaded`);
  assert.equal(got.weighted, 'SampleRate');
  assert.match(got.status, /weighted by SampleRate/);
  assert.match(got.heatmapStatus, /weighted by SampleRate: [\d,]+ events represented/);
  assert.deepEqual(got.columns, ['region', 'COUNT', 'AVG(is_fail)', 'P99(duration_ms)']);
  assert.equal(got.results.length, 4);
  // The calculated field orders the regions: the bad build's region fails most.
  assert.equal(got.results[0].region, 'us-east-1');
  for (let i = 1; i < got.results.length; i++) assert.ok(got.results[i - 1]['AVG(is_fail)'] >= got.results[i]['AVG(is_fail)']);
  // Each chart: one solid and one dashed line per region, the dashed one named for last week.
  assert.equal(got.legends.length, 3);
  for (const l of got.legends) {
    assert.equal(l.dashed, 4, `${l.title}: ${JSON.stringify(l.names)}`);
    assert.ok(l.names.filter((n) => n.endsWith('(1 week ago)')).length === 4, JSON.stringify(l.names));
  }

  // The oracle: the same seed unsampled (every row), in a second worker. The sampled
  // stream is that stream minus the rows it dropped, so weighted counts of rows kept
  // whole (every 5xx) are exact, and the total is within sampling error.
  const check = await page.evaluate(async () => {
    const full = document.createElement('sightline-source');
    full.id = 'full';
    full.setAttribute('src', '/api/demo?rows=1000000&days=8');
    document.body.append(full);
    await new Promise((resolve, reject) => {
      full.addEventListener('sightline-ready', resolve, { once: true });
      full.addEventListener('sightline-error', (e) => reject(new Error(e.detail.message)), { once: true });
    });
    const spec = (extra) => ({
      calculated_fields: [{ name: 'is_fail', expression: 'IF(GTE($status_code, 500), 1, 0)' }],
      calculations: [{ op: 'COUNT' }, { op: 'SUM', column: 'is_fail' }],
      breakdowns: ['region'],
      time_range: 86400,
      compare_time_offset_seconds: 604800,
      disable_series: true,
      ...extra,
    });
    const week = document.getElementById('week').source.client;
    const whole = full.source.client;
    const slow = { selection: { filters: [{ column: 'duration_ms', op: '>=', value: 1000 }] }, dimensions: ['region'] };
    const out = {
      sampled: await week.query(spec({})),
      unweighted: await week.query(spec({ sample_rate_column: '' })),
      full: await whole.query(spec({})),
      compareSampled: await week.compare(slow),
      compareFull: await whole.compare(slow),
    };
    full.remove();
    return out;
  });
  const byRegion = (r) => Object.fromEntries(r.results.map((x) => [x.region, x]));
  for (const window of ['now', 'previous']) {
    const pick = (r) => byRegion(window === 'now' ? r : r.previous);
    const [s, u, f] = [pick(check.sampled), pick(check.unweighted), pick(check.full)];
    for (const region of Object.keys(f)) {
      assert.equal(s[region]['SUM(is_fail)'], f[region]['SUM(is_fail)'], `${window} ${region}: 5xx counts are exact`);
      const err = Math.abs(s[region].COUNT - f[region].COUNT) / f[region].COUNT;
      assert.ok(err < 0.05, `${window} ${region}: weighted COUNT ${s[region].COUNT} vs ${f[region].COUNT}`);
      assert.ok(u[region].COUNT < f[region].COUNT / 3, `${window} ${region}: unweighted would say ${u[region].COUNT}`);
    }
  }
  assert.equal(check.full.sample_rate_column, undefined);
  // The comparison weighs its counts too: slow requests were all kept (rate 1), so the
  // selection is exact; the baseline is within sampling error.
  const [cs, cf] = [check.compareSampled, check.compareFull];
  assert.equal(cs.sample_rate_column, 'SampleRate');
  assert.equal(cs.selection_count, cf.selection_count);
  assert.ok(Math.abs(cs.baseline_count - cf.baseline_count) / cf.baseline_count < 0.02, `${cs.baseline_count} vs ${cf.baseline_count}`);
  await page.waitForTimeout(300);
  await page.locator('#week').screenshot({ path: path.join(OUT, 'demo-week.png') });
  await assertClean(assert, page, log);
  await context.close();
});

test('crossfilter: a brush narrows the breakdown and the events, shown as a chip; a result row filters everything; no script over 50 ms', { timeout: 180_000 }, async (t) => {
  const { context, page, log } = await openPage(env.browser);
  await page.goto(env.baseUrl);
  await waitReady(page);
  await waitResults(page, (r) => r.matched === 1000000);
  // Group by build, so the narrowed breakdown says what the brushed requests ran.
  await explorer(page).getByRole('button', { name: 'Add a group by column' }).click();
  await explorer(page).getByLabel('Group by column', { exact: true }).selectOption('build_id');
  await waitResults(page, (r) => r.columns[0] === 'build_id' && r.matched === 1000000);
  await waitAllSettled(page);
  await watchLongTasks(page);
  const started = Date.now();
  await brushIncident(page);
  const narrowed = await waitResults(page, (r) => r.matched < 1000000);
  const elapsed = Date.now() - started;
  // The engine's own answer for the brushed region: the oracle.
  const sel = await page.evaluate(() => document.querySelector('sightline-explorer').source.selection);
  assert.ok(sel && sel.column === 'duration_ms' && sel.min > 0, JSON.stringify(sel));
  const want = await page.evaluate(async (sel) => {
    const filters = [{ column: sel.column, op: '>=', value: sel.min }];
    if (sel.max !== undefined) filters.push({ column: sel.column, op: '<', value: sel.max });
    const r = await document.querySelector('sightline-explorer').source.client.query({
      breakdowns: ['build_id'], filters, start_time: sel.start_time, end_time: sel.end_time, disable_series: true,
      calculations: [{ op: 'COUNT' }],
    });
    return { matched: r.matched, top: r.results[0].build_id };
  }, sel);
  assert.equal(narrowed.matched, want.matched);
  assert.equal(narrowed.results[0].build_id, BAD_BUILD, 'the brushed slow requests ran the bad build');
  assert.equal(want.top, BAD_BUILD);
  // The events follow: every row inside the brushed window and value range.
  await page.waitForFunction(
    (sel) => {
      const e = document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-events');
      const r = e?.result;
      return r && r.rows.length > 0 && r.matched < 1000000;
    },
    sel,
    { timeout: 30_000, polling: 100 },
  );
  const ev = await page.evaluate(() => {
    const r = document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-events').result;
    const ti = r.columns.indexOf('timestamp');
    const di = r.columns.indexOf('duration_ms');
    return { matched: r.matched, rows: r.rows.map((row) => [row[ti], row[di]]) };
  });
  assert.equal(ev.matched, want.matched);
  for (const [ts, d] of ev.rows) {
    // Times in events are unix seconds.
    assert.ok(ts >= sel.start_time && ts < sel.end_time, `event at ${ts} outside the brush`);
    assert.ok(d >= sel.min, `event of ${d} ms below the brush`);
  }
  await page.waitForTimeout(300);
  await assertResponsive(t, page, `crossfilter update in ${elapsed} ms`);
  // Markers: the demo's deploys on the heatmap, the bad build's canary at 16:00 on the
  // brushed breakdown's charts too (they start at it).
  const marks = await page.evaluate(() => {
    const x = document.querySelector('sightline-explorer').shadowRoot;
    const h = x.querySelector('sightline-heatmap');
    return { heat: h.drawnMarkers, plot: h.plot, charts: x.querySelector('sightline-breakdown').drawnMarkers };
  });
  assert.equal(marks.heat.length, 4, JSON.stringify(marks.heat));
  const canary = marks.heat.find((m) => m.label.includes(BAD_BUILD));
  assert.equal(canary.time, INCIDENT_START);
  assert.ok(canary.x > marks.plot.x + marks.plot.w * 0.6 && canary.x < marks.plot.x + marks.plot.w * 0.75, JSON.stringify(canary));
  assert.ok(marks.charts.length > 0 && marks.charts.every((c) => c.some((m) => m.time === INCIDENT_START)), JSON.stringify(marks.charts));
  // The comparison draws each measure as two histograms on one axis: duration first.
  await page.waitForFunction(() => {
    const c = document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-compare');
    return c?.shadowRoot.querySelector('[part="measure"]');
  }, null, { timeout: 30_000, polling: 100 });
  const figures = await page.evaluate(() => {
    const c = document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-compare');
    return [...c.shadowRoot.querySelectorAll('[part="measure"]')].map((f) => ({
      column: f.dataset.column,
      bars: [...f.querySelectorAll('.hist')].map((h) => h.children.length),
      label: f.getAttribute('aria-label'),
    }));
  });
  assert.equal(figures[0].column, 'duration_ms', JSON.stringify(figures));
  assert.deepEqual(figures[0].bars, [32, 32]);
  assert.match(figures[0].label, /^duration_ms: selection p50 .* vs .*Kolmogorov-Smirnov distance 0\.\d\d$/);
  // The chip says what narrows the view; removing it restores everything.
  const chip = explorer(page).locator('[part="selection-chip"]');
  await chip.waitFor();
  assert.match(await chip.textContent(), /^Selection: .*duration_ms/);
  await page.waitForTimeout(200);
  await explorer(page).screenshot({ path: path.join(OUT, 'explorer-crossfilter.png') });
  await chip.getByRole('button', { name: 'Clear the selection' }).click();
  await waitResults(page, (r) => r.matched === 1000000);
  assert.equal(await explorer(page).locator('[part="selection-chip"]').count(), 0);
  // A click on a result row filters every part by that group, as a removable chip.
  await page.evaluate(() => {
    const b = document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-breakdown');
    b.shadowRoot.querySelector('tbody tr').click();
  });
  const one = await waitResults(page, (r) => r.results.length === 1);
  const filters = await page.evaluate(() => document.querySelector('sightline-explorer').query.filters);
  assert.deepEqual(filters, [{ column: 'build_id', op: '=', value: one.results[0].build_id }]);
  await assertClean(assert, page, log);
  await context.close();
});

test('dark theme: the explorer\'s brushed comparison and the customer lens, screenshotted to be looked at', { timeout: 180_000 }, async () => {
  const { context, page, log } = await openPage(env.browser, { colorScheme: 'dark' });
  await page.goto(env.baseUrl);
  await waitReady(page);
  await waitResults(page, (r) => r.matched === 1000000);
  await brushIncident(page);
  await waitCompare(page);
  await waitResults(page, (r) => r.matched < 1000000);
  // Every part takes the dark palette from prefers-color-scheme.
  const bgs = await page.evaluate(() => {
    const x = document.querySelector('sightline-explorer');
    return ['sightline-heatmap', 'sightline-breakdown', 'sightline-compare', 'sightline-events'].map((t) => getComputedStyle(x.shadowRoot.querySelector(t)).getPropertyValue('--sightline-bg').trim());
  });
  assert.deepEqual(bgs, ['#0d1117', '#0d1117', '#0d1117', '#0d1117']);
  await page.waitForTimeout(300);
  await explorer(page).screenshot({ path: path.join(OUT, 'explorer-dark.png') });
  await page.getByLabel('Customer', { exact: true }).fill('cust_00042');
  await page.getByRole('button', { name: 'Open lens' }).click();
  await page.waitForFunction(() => {
    const lens = document.querySelector('sightline-explorer').shadowRoot.querySelector('[part="lens"]');
    const maps = lens?.querySelectorAll('sightline-heatmap') ?? [];
    return lens && !lens.hidden && maps.length === 2 && maps[0].heatmap && maps[1].heatmap;
  }, null, { timeout: 30_000 });
  await page.waitForTimeout(500);
  await explorer(page).locator('[part="lens"]').screenshot({ path: path.join(OUT, 'explorer-lens-dark.png') });
  await assertClean(assert, page, log);
  await context.close();
});
