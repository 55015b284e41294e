// End-to-end: <sightline-board>, a saved report. Restored from JSON (the demo's checkout
// board: five panels over 1M events), linked (a brush and a click narrow every panel, no
// script over 50 ms), exported and imported; the explorer's "Save to board"; restored from the URL.
//
//   node --test tests/e2e/board.test.mjs
//
// Screenshots: tests/out/board-light.png, board-dark.png, board-crossfilter.png.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { OUT, ROOT, assertClean, assertResponsive, brushHeatmap, openPage, routePage, useServerAndBrowser, watchLongTasks } from './harness.mjs';

const env = useServerAndBrowser({ before, after });
const BOARD = JSON.parse(readFileSync(path.join(ROOT, 'www/boards/checkout.json'), 'utf8'));
const DAY = 1_793_404_800; // 2026-10-31 00:00 UTC, the demo's day

/** The board's page: a board of `rows` demo events, restored from `board` (a URL or JSON). */
function boardPage(rows, extra = '') {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>board</title>
<script type="module" src="/www/sightline.js"></script></head>
<body>${extra}<sightline-board id="board" src="/api/demo?rows=${rows}" board="/www/boards/checkout.json" markers="/api/markers" time-zone="utc"></sightline-board></body></html>`;
}

/** What every panel shows: kind, title, and the result, numbers or bars it drew. */
function panels(page) {
  return page.evaluate(() => {
    const b = document.getElementById('board');
    return [...b.shadowRoot.querySelectorAll('[part="panel"]')].map((p) => {
      const part = p.querySelector('sightline-heatmap, sightline-breakdown');
      const r = part.localName === 'sightline-breakdown' ? part.result : null;
      return {
        kind: p.dataset.kind,
        title: p.querySelector('h3').textContent,
        query: part.query ?? null,
        matched: r ? r.matched : part.heatmap?.total,
        scanned: r ? r.scanned : null,
        results: r ? r.results : null,
        numbers: [...part.shadowRoot.querySelectorAll('[part="number"] .big')].map((n) => n.textContent),
        bars: [...part.shadowRoot.querySelectorAll('[part="bar"]')].map((n) => n.getAttribute('aria-label')),
        tableShown: part.localName === 'sightline-breakdown' ? !part.shadowRoot.querySelector('.table-wrap').hidden : null,
      };
    });
  });
}

/** Every breakdown panel counts the same checkouts: true once each has answered the last change
 * (panels answer independently, so narrowing one says nothing of the others). */
const agree = (ps) => ps.filter((p) => p.results).every((p) => p.matched === ps[0].matched);

async function waitPanels(page, predicate = () => true, timeout = 60_000) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await panels(page);
    if (last.length && last.every((p) => p.matched !== undefined && p.matched !== null) && predicate(last)) return last;
    if (Date.now() > deadline) throw new Error(`panels did not settle in ${timeout} ms: ${JSON.stringify(last).slice(0, 400)}`);
    await page.waitForTimeout(100);
  }
}

/** The engine's own answers for each breakdown panel's query under `ctx` (filters, window): the oracle. */
function oracle(page, ctx) {
  return page.evaluate(async (ctx) => {
    const b = document.getElementById('board');
    const out = [];
    for (const p of b.shadowRoot.querySelectorAll('[part="panel"]')) {
      const part = p.querySelector('sightline-breakdown');
      if (!part) {
        out.push(null);
        continue;
      }
      const q = part.query;
      const spec = { ...q, ...ctx, filters: [...(q.filters ?? []), ...(ctx.filters ?? [])], time_zone: 'UTC', disable_series: true };
      const r = await b.source.client.query(spec);
      out.push({ matched: r.matched, results: r.results });
    }
    return out;
  }, ctx);
}

function assertPanelsEqual(got, want) {
  got.forEach((p, i) => {
    if (!want[i]) return;
    assert.equal(p.matched, want[i].matched, `${p.title}: matched`);
    assert.deepEqual(p.results, want[i].results, `${p.title}: results`);
  });
}

test('board: restored from JSON with five panels over 1M events; a brush and a click narrow every panel; no script over 50 ms', { timeout: 240_000 }, async (t) => {
  const { context, page, log } = await openPage(env.browser, { viewport: { width: 1280, height: 1400 } });
  await page.goto(await routePage(page, env.baseUrl, '/e2e/board.html', boardPage(1_000_000)));
  await page.waitForFunction(() => document.getElementById('board')?.source?.state === 'ready', null, { timeout: 90_000, polling: 200 });
  // Every panel filters the same checkouts: settled when each counts the same events of all 1M
  // (a heatmap drawn while the stream arrived is redrawn once it is whole).
  const first = await waitPanels(page, (ps) => ps[0].scanned === 1_000_000 && ps.every((p) => p.matched === ps[0].matched));
  assert.deepEqual(first.map((p) => p.kind), ['number', 'heatmap', 'line', 'bars', 'table']);
  assert.deepEqual(first.map((p) => p.title), BOARD.panels.map((p) => p.title));
  // Each panel answers what its query answers in the engine.
  assertPanelsEqual(first, await oracle(page, { filters: [] }));
  const [number, heat, , bars, table] = first;
  assert.ok(number.matched > 50_000 && number.matched < 400_000, `checkouts: ${number.matched}`);
  assert.equal(heat.matched, number.matched, 'the heatmap counts the same checkouts');
  assert.equal(number.numbers.length, 3);
  assert.equal(number.numbers[0], number.matched.toLocaleString('en-US'));
  assert.ok(bars.bars.length > 3 && bars.bars.length <= 12, JSON.stringify(bars.bars));
  assert.equal(bars.bars.length, bars.results.length);
  assert.match(bars.bars[0], new RegExp(`^${bars.results[0].customer_id}: `));
  const p95 = bars.results.map((r) => r['P95(duration_ms)']);
  assert.deepEqual(p95, [...p95].sort((a, b) => b - a), 'slowest first');
  assert.ok(table.tableShown && !first[2].tableShown && !bars.tableShown && !number.tableShown);
  assert.ok(table.results.length >= 3);
  await page.waitForTimeout(300);
  await page.locator('#board').screenshot({ path: path.join(OUT, 'board-light.png') });

  // Crossfilter: brush the database slowdown (06:00-06:30, above 300 ms) on the heatmap panel.
  await watchLongTasks(page);
  const started = Date.now();
  await brushHeatmap(page, '#board', DAY + 6 * 3600, DAY + 6 * 3600 + 1800, 300);
  const sel = await page.evaluate(() => document.getElementById('board').source.selection);
  assert.ok(sel && sel.column === 'duration_ms' && sel.min > 0, JSON.stringify(sel));
  const narrowed = await waitPanels(page, (ps) => ps[0].matched < number.matched && agree(ps));
  const elapsed = Date.now() - started;
  const brushed = { start_time: sel.start_time, end_time: sel.end_time, filters: [{ column: 'duration_ms', op: '>=', value: sel.min }, ...(sel.max !== undefined ? [{ column: 'duration_ms', op: '<', value: sel.max }] : [])] };
  assertPanelsEqual(narrowed, await oracle(page, brushed));
  assert.ok(narrowed[0].matched > 0, 'the brushed region has checkouts');
  await page.waitForTimeout(300);
  await assertResponsive(t, page, `board crossfilter (brush) in ${elapsed} ms`);
  const board = page.locator('#board');
  assert.match(await board.locator('[part="selection-chip"]').textContent(), /^Selection: .*06:00.*duration_ms/);
  await board.screenshot({ path: path.join(OUT, 'board-crossfilter.png') });
  await board.locator('[part="selection-chip"]').getByRole('button', { name: 'Clear the selection' }).click();
  await waitPanels(page, (ps) => ps[0].matched === number.matched && agree(ps));

  // A click on a customer's bar filters every panel by that customer, as a chip.
  await page.evaluate(() => {
    window.__long = [];
    window.__frames = [];
    window.__script = [];
  });
  const customer = bars.results[0].customer_id;
  await board.locator('sightline-breakdown').nth(2).getByRole('button', { name: new RegExp(`^${customer}: `) }).click();
  const one = await waitPanels(page, (ps) => ps[0].matched < number.matched && ps[3].results?.length === 1 && agree(ps));
  assertPanelsEqual(one, await oracle(page, { filters: [{ column: 'customer_id', op: '=', value: customer }] }));
  assert.equal(one[3].results[0].customer_id, customer);
  assert.equal(await board.locator('[part="filter-chip"]').textContent(), `customer_id = ${customer}×`);
  await assertResponsive(t, page, 'board crossfilter (click)');
  await board.getByRole('button', { name: 'Remove filter customer_id =' }).click();
  await waitPanels(page, (ps) => ps[0].matched === number.matched && agree(ps));

  // Export: the JSON downloaded is the board (restorable as it is).
  const [download] = await Promise.all([page.waitForEvent('download'), board.getByRole('button', { name: 'Export the board as JSON' }).click()]);
  assert.equal(download.suggestedFilename(), 'sightline-board.json');
  const exported = JSON.parse(readFileSync(await download.path(), 'utf8'));
  assert.deepEqual(exported.panels.map((p) => p.query), BOARD.panels.map((p) => p.query));
  assert.equal(exported.title, BOARD.title);
  await assertClean(assert, page, log);
  await context.close();
});

test('board: dark theme; import checks the JSON and keeps the board on an error; remove a panel; "Save to board" from an explorer; the URL restores it', { timeout: 180_000 }, async () => {
  const { context, page, log } = await openPage(env.browser, { colorScheme: 'dark', viewport: { width: 1280, height: 1400 } });
  const explorer = '<sightline-explorer id="x" src="/api/demo?rows=50000" board="board" time-zone="utc"></sightline-explorer>';
  const html = boardPage(50_000, explorer).replace('time-zone="utc"></sightline-board>', 'time-zone="utc" sync-url></sightline-board>');
  await page.goto(await routePage(page, env.baseUrl, '/e2e/board2.html', html));
  await page.waitForFunction(() => document.getElementById('board')?.source?.state === 'ready', null, { timeout: 60_000, polling: 100 });
  await waitPanels(page, (ps) => ps[0].scanned === 50_000 && ps.every((p) => p.matched === ps[0].matched));
  await page.waitForTimeout(300);
  await page.locator('#board').screenshot({ path: path.join(OUT, 'board-dark.png') });
  const board = page.locator('#board');
  // A bad board: the error names the field; the board shown stays.
  await page.evaluate(() => document.getElementById('board').addEventListener('sightline-error', (e) => (window.__boardError = e.detail)));
  const bad = JSON.stringify({ ...BOARD, panels: [...BOARD.panels, { kind: 'pie', query: {} }] });
  await board.locator('input[type="file"]').setInputFiles({ name: 'bad.json', mimeType: 'application/json', buffer: Buffer.from(bad) });
  await page.waitForFunction(() => window.__boardError);
  const detail = await page.evaluate(() => window.__boardError);
  assert.equal(detail.field, 'panels[5].kind');
  assert.equal(detail.message, 'board: panels[5].kind: "pie" is not one of heatmap, line, bars, table, number');
  assert.equal(await board.locator('.board-head > [part="status"]').textContent(), detail.message);
  assert.equal((await panels(page)).length, 5, 'the board is unchanged');
  // A good import replaces it.
  const two = { v: 1, title: 'Two panels', panels: [BOARD.panels[0], { kind: 'table', query: { calculations: [{ op: 'COUNT' }], breakdowns: ['region'] } }] };
  await board.locator('input[type="file"]').setInputFiles({ name: 'two.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(two)) });
  await waitPanels(page, (ps) => ps.length === 2);
  assert.equal(await board.locator('[part="title"]').textContent(), 'Two panels');
  assert.deepEqual((await panels(page)).map((p) => p.title), [BOARD.panels[0].title, 'COUNT by region']);
  // Remove the table with its × (by keyboard).
  await board.getByRole('button', { name: 'Remove panel COUNT by region' }).focus();
  await page.keyboard.press('Enter');
  await waitPanels(page, (ps) => ps.length === 1);
  // The explorer's view, saved to the board: its heatmap and its breakdown, with its filters.
  await page.waitForFunction(() => document.getElementById('x')?.source?.state === 'ready', null, { timeout: 60_000, polling: 100 });
  await page.evaluate(() => {
    document.getElementById('x').query = {
      calculations: [{ op: 'HEATMAP', column: 'duration_ms' }, { op: 'COUNT' }, { op: 'P99', column: 'duration_ms' }],
      breakdowns: ['region'],
      filters: [{ column: 'status_code', op: '>=', value: 500 }],
    };
  });
  await page.locator('#x').getByRole('button', { name: 'Save this view to the board' }).click();
  const saved = await waitPanels(page, (ps) => ps.length === 3);
  assert.deepEqual(saved.map((p) => p.kind), ['number', 'heatmap', 'line']);
  assert.equal(saved[2].title, 'COUNT, P99(duration_ms) by region where status_code >= 500');
  const want = await oracle(page, { filters: [] });
  assertPanelsEqual(saved, want);
  assert.ok(saved[1].matched < 50_000 && saved[1].matched > 0, 'the heatmap panel keeps the view\'s filter');
  // The URL carries the board: a new page at that URL shows the same three panels.
  const url = page.url();
  assert.match(url, /#.*board=/);
  const second = await openPage(env.browser);
  const again = await routePage(second.page, env.baseUrl, '/e2e/board2.html', html);
  await second.page.goto(`${again}#${url.split('#')[1]}`);
  const restored = await waitPanels(second.page, (ps) => ps.length === 3);
  assert.deepEqual(restored.map((p) => p.title), saved.map((p) => p.title));
  await assertClean(assert, second.page, second.log);
  await second.context.close();
  await assertClean(assert, page, log);
  await context.close();
});

test('demo page: the checkout board loads when scrolled to, and the explorer saves its view to it', { timeout: 240_000 }, async () => {
  const { context, page, log } = await openPage(env.browser);
  const demoRequests = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === '/api/demo') demoRequests.push(r.url());
  });
  await page.goto(env.baseUrl);
  await page.waitForFunction(() => document.getElementById('explorer')?.source?.state === 'ready', null, { timeout: 90_000, polling: 200 });
  await page.waitForFunction(() => document.getElementById('week')?.source?.state === 'ready', null, { timeout: 90_000, polling: 200 });
  await page.waitForTimeout(500);
  // Not seen yet: the board has not fetched its events (the explorer and the week have).
  assert.equal(demoRequests.length, 2, JSON.stringify(demoRequests));
  assert.equal(await page.evaluate(() => document.getElementById('board').source), null);
  await page.locator('#board').scrollIntoViewIfNeeded();
  await page.waitForFunction(() => document.getElementById('board')?.source?.state === 'ready', null, { timeout: 90_000, polling: 200 });
  const shown = await waitPanels(page);
  assert.equal(shown.length, 5);
  assert.equal(demoRequests.length, 3);
  // "Save to board" on the explorer adds its default view (a heatmap and its breakdown).
  await page.locator('#explorer').getByRole('button', { name: 'Save this view to the board' }).click();
  const after = await waitPanels(page, (ps) => ps.length === 7);
  assert.deepEqual(after.slice(5).map((p) => p.kind), ['heatmap', 'line']);
  assert.equal(after[5].matched, 1_000_000);
  await page.locator('#board').screenshot({ path: path.join(OUT, 'board-demo.png') });
  await assertClean(assert, page, log);
  await context.close();
});
