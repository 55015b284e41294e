// End-to-end: one request's trace. From the demo explorer's events table to the waterfall
// of the request's spans (served by the demo's trace endpoint), and from a file of spans
// loaded in the page (the spans are the source's own rows).
//
//   node --test tests/e2e/trace.test.mjs

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Table, TimestampMicrosecond, Utf8, Float64, Int32, Bool, tableFromIPC, tableToIPC, vectorFromArray } from 'apache-arrow';
import { OUT, assertClean, openPage, routeBytes, routePage, useServerAndBrowser } from './harness.mjs';

const env = useServerAndBrowser({ before, after });

/**
 * Checks what the waterfall drew against the spans the server answered: the same spans,
 * the root first, every span after its parent one level deeper, siblings in start order,
 * and each row's tree level as the DOM says it.
 */
function assertWaterfall(drawn, served) {
  const cols = served.columns;
  const at = (k) => cols.indexOf(k);
  assert.equal(drawn.spans.length, served.rows.length, 'every span drawn');
  assert.deepEqual(new Set(drawn.spans.map((s) => s.id)), new Set(served.rows.map((r) => r[at('span_id')])));
  const roots = served.rows.filter((r) => r[at('parent_span_id')] === null || r[at('parent_span_id')] === '');
  assert.equal(roots.length, 1, 'a demo request has one root span');
  assert.equal(drawn.spans[0].id, roots[0][at('span_id')], 'the root is drawn first');
  assert.equal(drawn.spans[0].depth, 0);
  const index = new Map(drawn.spans.map((s, i) => [s.id, i]));
  for (const [i, s] of drawn.spans.entries()) {
    if (i === 0) continue;
    const p = index.get(s.parent);
    assert.ok(p !== undefined && p < i, `span ${s.name} drawn after its parent`);
    assert.equal(s.depth, drawn.spans[p].depth + 1, `span ${s.name} one level under its parent`);
    // Between the parent and this span only the parent's subtree: earlier siblings and theirs.
    for (let j = p + 1; j < i; j++) assert.ok(drawn.spans[j].depth > drawn.spans[p].depth);
    const earlier = drawn.spans.slice(p + 1, i).filter((x) => x.parent === s.parent);
    for (const e of earlier) assert.ok(e.start <= s.start, `siblings in start order: ${e.name} before ${s.name}`);
    // A child lies inside its parent's time (the demo's spans do).
    const parent = drawn.spans[p];
    assert.ok(s.start >= parent.start - 1e-6 && s.start + s.duration / 1000 <= parent.start + parent.duration / 1000 + 1e-6, `${s.name} inside ${parent.name}`);
  }
  assert.deepEqual(drawn.levels, drawn.spans.map((s) => String(s.depth + 1)), 'aria-level follows the nesting');
}

/** What `<sightline-trace>` (in the explorer, or the page) drew. */
function drawnTrace(page, inExplorer) {
  return page.evaluate((inExplorer) => {
    const t = inExplorer ? document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-trace') : document.querySelector('sightline-trace');
    const rows = [...t.shadowRoot.querySelectorAll('[role="treeitem"]')];
    return {
      spans: t.spans.map((s) => ({ id: s.id, parent: s.parent, name: s.name, service: s.service, depth: s.depth, start: s.start, duration: s.duration, error: s.error })),
      levels: rows.map((r) => r.getAttribute('aria-level')),
      badges: rows.filter((r) => r.querySelector('.badge')).map((r) => r.dataset.spanId),
      status: t.shadowRoot.querySelector('[part="status"]').textContent,
    };
  }, inExplorer);
}

test('trace: the explorer opens a demo request\'s trace from its events table; spans nested and in order, errors marked, keyboard, both themes', { timeout: 180_000 }, async () => {
  for (const colorScheme of ['light', 'dark']) {
    const { context, page, log } = await openPage(env.browser, { colorScheme });
    // A small demo source keeps the server's trace lookup (which regenerates the stream) short.
    const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>trace</title>
<script type="module" src="/www/sightline.js"></script></head>
<body><sightline-explorer src="/api/demo?rows=20000" time-zone="utc"></sightline-explorer></body></html>`;
    await page.goto(await routePage(page, env.baseUrl, '/e2e/trace.html', html));
    const x = page.locator('sightline-explorer');
    // A failed request that reached the database: filter the explorer to those, so the
    // events table's first row is one.
    await page.waitForFunction(() => document.querySelector('sightline-explorer')?.source?.state === 'ready', null, { timeout: 60_000 });
    await page.evaluate(() => {
      const e = document.querySelector('sightline-explorer');
      e.query = { ...e.query, filters: [{ column: 'status_code', op: '>=', value: 500 }, { column: 'db_calls', op: '>=', value: 3 }] };
    });
    const events = x.locator('sightline-events');
    await page.waitForFunction(() => {
      const r = document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-events')?.result;
      return r && r.rows.length && r.matched < 20000;
    }, null, { timeout: 30_000, polling: 100 });
    const first = events.getByRole('button', { name: /^[0-9a-f]{32}$/ }).first();
    const id = await first.textContent();
    assert.equal(await first.getAttribute('title'), 'Open this trace');
    assert.ok(await x.getByRole('region', { name: 'Trace' }).isHidden(), 'no trace section before one is opened');
    await first.click();
    await x.getByRole('region', { name: 'Trace' }).waitFor();
    await page.waitForFunction(() => document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-trace')?.spans.length, null, { timeout: 30_000, polling: 100 });
    const served = await page.evaluate(async (id) => {
      const src = document.querySelector('sightline-explorer').source;
      const url = new URL(src.traceUrl.replaceAll('{id}', id), location.href);
      return { url: url.pathname + url.search, body: await (await fetch(url)).json() };
    }, id);
    assert.match(served.url, /^\/api\/demo\/trace\?rows=20000&seed=\d+&days=1&keep=1&id=[0-9a-f]{32}$/);
    const drawn = await drawnTrace(page, true);
    assertWaterfall(drawn, served.body);
    assert.equal(drawn.spans[0].service, 'gateway');
    assert.ok(new Set(drawn.spans.map((s) => s.service)).size >= 4, 'a request fans out into several services');
    assert.ok(drawn.spans.filter((s) => s.service === 'postgres').length >= 3, 'one span per database call');
    // The failed request's error is marked on the span that failed, and the status says so.
    assert.ok(drawn.badges.length >= 1, 'an error badge');
    const errored = drawn.spans.filter((s) => s.error).map((s) => s.id);
    assert.deepEqual(drawn.badges, errored);
    assert.match(drawn.status, new RegExp(`^Trace ${id} · ${drawn.spans.length} spans · .* · \\d+ services · \\d+ with errors$`));
    // Keyboard: the root takes focus, Down moves, Enter shows the span's fields, Left on the
    // root folds its subtree away, Right brings it back.
    const trace = x.locator('sightline-trace');
    const items = trace.getByRole('treeitem');
    await items.first().focus();
    await page.keyboard.press('ArrowDown');
    assert.equal(await page.evaluate(() => document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-trace').shadowRoot.activeElement?.dataset.spanId), drawn.spans[1].id);
    await page.keyboard.press('Enter');
    const detail = trace.locator('[part="span-detail"]');
    await detail.waitFor();
    assert.match(await detail.textContent(), new RegExp(`span_id${drawn.spans[1].id}`));
    assert.match(await detail.textContent(), /timestamp\d{4}-\d\d-\d\d/);
    await page.keyboard.press('Home');
    await page.screenshot({ path: path.join(OUT, `trace-${colorScheme}.png`), fullPage: false });
    await trace.screenshot({ path: path.join(OUT, `trace-waterfall-${colorScheme}.png`) });
    await page.keyboard.press('ArrowLeft');
    assert.equal(await items.count(), 1, 'the root folded');
    assert.equal(await items.first().getAttribute('aria-expanded'), 'false');
    await page.keyboard.press('ArrowRight');
    assert.equal(await items.count(), drawn.spans.length);
    // Closing hides the section and forgets the trace.
    await x.getByRole('button', { name: 'Close the trace' }).click();
    assert.ok(await x.getByRole('region', { name: 'Trace' }).isHidden());
    await assertClean(assert, page, log);
    await context.close();
  }
});

test('trace: a file of spans in the page draws from its own rows; the events table opens a trace in the element trace-target names', { timeout: 120_000 }, async () => {
  const { context, page, log } = await openPage(env.browser);
  // Three demo requests' spans, as a tracing backend would export them: a real Arrow file.
  const demo = tableFromIPC(new Uint8Array(await (await fetch(`${env.baseUrl}api/demo?rows=3000&seed=7`)).arrayBuffer()));
  const ids = [0, 1500, 2999].map((i) => demo.getChild('trace_id').get(i));
  const traces = [];
  for (const id of ids) {
    const r = await fetch(`${env.baseUrl}api/demo/trace?rows=3000&seed=7&id=${id}`);
    assert.equal(r.status, 200);
    traces.push(await r.json());
  }
  const cols = traces[0].columns;
  const rows = traces.flatMap((t) => t.rows);
  const col = (k) => rows.map((r) => r[cols.indexOf(k)]);
  const table = new Table({
    timestamp: vectorFromArray(col('timestamp').map((s) => Math.round(s * 1e6) / 1000), new TimestampMicrosecond('UTC')),
    duration_ms: vectorFromArray(col('duration_ms'), new Float64()),
    trace_id: vectorFromArray(col('trace_id'), new Utf8()),
    span_id: vectorFromArray(col('span_id'), new Utf8()),
    parent_span_id: vectorFromArray(col('parent_span_id'), new Utf8()),
    service_name: vectorFromArray(col('service_name'), new Utf8()),
    name: vectorFromArray(col('name'), new Utf8()),
    status_code: vectorFromArray(col('status_code'), new Int32()),
    error: vectorFromArray(col('error'), new Utf8()),
    'cache.hit': vectorFromArray(col('cache.hit'), new Bool()),
  });
  await routeBytes(page, env.baseUrl, '/e2e/spans.arrow', Buffer.from(tableToIPC(table, 'stream')));
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>spans</title>
<script type="module" src="/www/sightline.js"></script></head>
<body><sightline-source id="s" src="/e2e/spans.arrow"></sightline-source>
<sightline-events source="s" trace-target="t" limit="500" columns="timestamp, trace_id, service_name, name, duration_ms" time-zone="utc"></sightline-events>
<sightline-trace id="t" source="s" time-zone="utc"></sightline-trace></body></html>`;
  await page.goto(await routePage(page, env.baseUrl, '/e2e/spans.html', html));
  await page.waitForFunction(() => document.querySelector('sightline-events')?.result?.rows.length, null, { timeout: 30_000, polling: 100 });
  assert.equal(await page.evaluate(() => document.querySelector('sightline-trace').shadowRoot.querySelector('[part="status"]').textContent), 'No trace selected');
  const opened = page.evaluate(() => new Promise((resolve) => document.addEventListener('sightline-trace-open', (e) => resolve(e.detail.traceId), { once: true })));
  const drew = page.evaluate(() => new Promise((resolve) => document.querySelector('sightline-trace').addEventListener('sightline-trace', (e) => resolve(e.detail), { once: true })));
  await page.locator('sightline-events').getByRole('button', { name: ids[1] }).first().click();
  assert.equal(await opened, ids[1]);
  const detail = await drew;
  assert.equal(await page.evaluate(() => document.querySelector('sightline-trace').getAttribute('trace-id')), ids[1]);
  const served = traces[1];
  assert.deepEqual(detail, { traceId: ids[1], spans: served.rows.length, errors: detail.errors, durationMs: detail.durationMs });
  const drawn = await drawnTrace(page, false);
  assertWaterfall(drawn, served);
  // Drawn from the page's own rows: no request for the trace went to a server.
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.evaluate(() => {
    const r = document.querySelector('sightline-events').result;
    document.querySelector('sightline-trace').traceId = r.rows.at(-1)[r.columns.indexOf('trace_id')];
  });
  await page.waitForFunction((id) => document.querySelector('sightline-trace').spans[0]?.fields.trace_id !== id, ids[1], { timeout: 10_000 });
  assert.deepEqual(requests.filter((u) => u.includes('trace')), []);
  // A span click emits its fields.
  const clicked = page.evaluate(() => new Promise((resolve) => document.querySelector('sightline-trace').addEventListener('sightline-span-click', (e) => resolve(e.detail), { once: true })));
  await page.locator('sightline-trace').getByRole('treeitem').nth(1).click();
  const span = await clicked;
  assert.equal(span.span.span_id, span.spanId);
  // An id with no spans says so, as an error the page can hear.
  await page.evaluate(() => {
    document.querySelector('sightline-trace').traceId = 'ffffffffffffffffffffffffffffffff';
  });
  await page.waitForFunction(() => /No spans of trace f{32} in the loaded events/.test(document.querySelector('sightline-trace').shadowRoot.querySelector('[part="status"]').textContent), null, { timeout: 10_000 });
  await assertClean(assert, page, log);
  await context.close();
});
