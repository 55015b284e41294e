// End-to-end over ClickHouse: the demo events (with their incident) in a real ClickHouse
// engine (PyPI chdb behind ClickHouse's HTTP interface, server/tests/chdb_run.py), the
// server in front of it with `--clickhouse`, and `<sightline-explorer>` with
// `local-rows` below the table's size: it must draw the heatmap, break down and compare
// with every answer computed by ClickHouse, fetching raw events only for the events
// table (a page of them), and say where the answers came from.
// Screenshot: tests/out/explorer-clickhouse.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { OUT, ROOT, assertClean, brushHeatmap, launch, openPage, routePage, startServer } from './harness.mjs';

const ROWS = 200_000;
const INCIDENT_START = 1_793_462_400; // 2026-10-31 16:00 UTC, as in explorer.test.mjs
const INCIDENT_END = INCIDENT_START + 1800;
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sightline on ClickHouse</title>
<script type="module" src="/www/sightline.js"></script></head>
<body><sightline-explorer src="/api/events?source=events" local-rows="50000" time-zone="utc"></sightline-explorer></body></html>`;

function quoteStr(s) {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

async function chdbServe(session, portFile) {
  rmSync(portFile, { force: true });
  const child = spawn('python3', [path.join(ROOT, 'server/tests/chdb_run.py'), 'serve', session, 'sightline:e2e-pw', portFile], { stdio: 'inherit' });
  const deadline = Date.now() + 60_000;
  while (!existsSync(portFile)) {
    if (child.exitCode !== null) throw new Error('chdb_run.py serve exited (scripts/setup.sh installs chdb)');
    if (Date.now() > deadline) throw new Error('chdb_run.py serve did not start in 60 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, url: `http://127.0.0.1:${readFileSync(portFile, 'utf8').trim()}` };
}

test('explorer over a ClickHouse table: heatmap, breakdown and comparison computed there, no events downloaded', { timeout: 180_000 }, async (t) => {
  const dir = path.join(OUT, 'e2e-clickhouse');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // The demo's events, as an Arrow stream, into a ClickHouse MergeTree table.
  const demo = await startServer(['--rows', String(ROWS)]);
  const bytes = Buffer.from(await (await fetch(`${demo.url}api/demo?rows=${ROWS}`)).arrayBuffer());
  demo.child.kill('SIGTERM');
  writeFileSync(path.join(dir, 'demo.arrow'), bytes);
  writeFileSync(path.join(dir, 'tables.json'), JSON.stringify([{ name: 'events', quoted: '`events`', path_literal: quoteStr(path.join(dir, 'demo.arrow')) }]));
  const session = path.join(dir, 'session');
  execFileSync('python3', [path.join(ROOT, 'server/tests/chdb_run.py'), 'setup', session, path.join(dir, 'tables.json'), path.join(dir, 'described.json')], { stdio: 'inherit' });
  const ch = await chdbServe(session, path.join(dir, 'chdb.port'));
  t.after(() => ch.child.kill());

  process.env.SIGHTLINE_CLICKHOUSE_PASSWORD = 'e2e-pw';
  const { child, url } = await startServer(['--clickhouse', ch.url, '--table', 'events', '--clickhouse-user', 'sightline']);
  delete process.env.SIGHTLINE_CLICKHOUSE_PASSWORD;
  t.after(() => child.kill('SIGTERM'));
  const browser = await launch();
  t.after(() => browser.close());
  const { page, log } = await openPage(browser);
  const requests = [];
  page.on('requestfinished', async (req) => {
    const u = new URL(req.url());
    if (!u.pathname.startsWith('/api/')) return;
    const res = await req.response();
    const body = await res?.body().catch(() => null);
    requests.push({ path: u.pathname, search: u.search, bytes: body?.length ?? 0 });
  });
  await page.goto(await routePage(page, url, '/e2e/clickhouse.html', PAGE));
  await page.waitForFunction(() => {
    const x = document.querySelector('sightline-explorer');
    return x?.source?.state === 'ready' && x.shadowRoot.querySelector('sightline-heatmap')?.heatmap;
  }, null, { timeout: 60_000, polling: 100 });
  const status = () => page.evaluate(() => document.querySelector('sightline-explorer').shadowRoot.querySelector('[part="status"]').textContent);
  assert.match(await status(), /200,000 events on ClickHouse \(computed there, not downloaded\)/);
  const remote = await page.evaluate(() => document.querySelector('sightline-explorer').source.remote);
  assert.equal(remote.engine, 'ClickHouse');
  assert.equal(remote.rows, ROWS);
  // The heatmap counts every event, from ClickHouse.
  const total = await page.evaluate(() => {
    const h = document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-heatmap').heatmap;
    return h.total + h.nulls;
  });
  assert.equal(total, ROWS);

  // A breakdown by region, with P99: computed there.
  await page.evaluate(() => {
    const x = document.querySelector('sightline-explorer');
    x.query = { ...x.query, breakdowns: ['region'] };
  });
  await page.waitForFunction(() => {
    const r = document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-breakdown')?.result;
    return r && r.results.length > 1 && r.columns.includes('region');
  }, null, { timeout: 30_000, polling: 100 });
  const breakdown = await page.evaluate(() => document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-breakdown').result);
  assert.equal(breakdown.computed.where, 'ClickHouse');
  assert.equal(breakdown.results.reduce((a, r) => a + r.COUNT, 0), ROWS);
  await page.waitForFunction(() => /last answer: ClickHouse, 200,000 events/.test(
    document.querySelector('sightline-explorer').shadowRoot.querySelector('[part="status"]').textContent), null, { timeout: 10_000 });

  // Brush the incident: the comparison runs on ClickHouse and finds its cause.
  await page.evaluate(() => {
    const x = document.querySelector('sightline-explorer');
    x.query = { ...x.query, breakdowns: [] };
  });
  await page.waitForTimeout(500);
  await brushHeatmap(page, 'sightline-explorer', INCIDENT_START + 60, INCIDENT_END - 60, 1100);
  await page.waitForFunction(() => {
    const c = document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-compare');
    return c?.result && c.shadowRoot.querySelector('[part="dimension"]');
  }, null, { timeout: 60_000, polling: 100 });
  const cmp = await page.evaluate(() => {
    const r = document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-compare').result;
    return { where: r.computed?.where, selection: r.selection_count, first: r.dimensions[0]?.column, value: r.dimensions[0]?.values[0]?.value };
  });
  assert.equal(cmp.where, 'ClickHouse');
  assert.ok(cmp.selection > 100, `selection of ${cmp.selection}`);
  assert.equal(cmp.first, 'build_id', JSON.stringify(cmp));

  // The events table shows the newest events: a page fetched for it, not the table.
  await page.waitForFunction(() => {
    const e = document.querySelector('sightline-explorer').shadowRoot.querySelector('sightline-events');
    return e?.shadowRoot.querySelectorAll('tbody tr').length > 0;
  }, null, { timeout: 30_000, polling: 100 });

  const events = requests.filter((r) => r.path === '/api/events');
  assert.ok(events.length >= 1, 'the events table fetched a page');
  for (const r of events) {
    const limit = Number(new URLSearchParams(r.search).get('limit'));
    assert.ok(limit > 0 && limit <= 1000, `/api/events${r.search} is not a page`);
  }
  const downloaded = requests.reduce((a, r) => a + r.bytes, 0);
  assert.ok(downloaded < 1_000_000, `${downloaded} bytes from /api/`);
  assert.ok(requests.some((r) => r.path === '/api/query') && requests.some((r) => r.path === '/api/compare'));
  await page.screenshot({ path: path.join(OUT, 'explorer-clickhouse.png'), fullPage: true, animations: 'disabled' });
  await assertClean(assert, page, log);
  t.diagnostic(`${requests.length} API requests, ${downloaded} bytes; comparison: ${cmp.first} ${cmp.value} over ${cmp.selection} selected`);
});
