// End-to-end: creating and removing the component 100 times returns memory to its
// baseline: every worker ends, the page's JS heap and DOM come back, and the renderer
// process's resident memory does not grow with the count.
//
// Figures are printed as test diagnostics (node --test shows them).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { assertClean, openPage, routePage, useServerAndBrowser } from './harness.mjs';

const ROUNDS = 100;
const WARMUP = 5;

const env = useServerAndBrowser({ before, after });

/** Resident set size of a process, in bytes (Linux). */
function rss(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) * 1024 : NaN;
}

test(`create and remove the explorer ${ROUNDS} times: memory returns to its baseline`, { timeout: 300_000 }, async (t) => {
  const { context, page, log } = await openPage(env.browser);
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>lifecycle</title>
<script type="module" src="/www/sightline.js"></script></head><body></body></html>`;
  await page.goto(await routePage(page, env.baseUrl, '/e2e/lifecycle100.html', html));
  await page.evaluate(() => import('/www/sightline.js'));
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  const browserCdp = await env.browser.newBrowserCDPSession();

  // The renderer process of this page: the one whose memory the workers live in.
  const { processInfo } = await browserCdp.send('SystemInfo.getProcessInfo');
  const renderers = processInfo.filter((p) => p.type === 'renderer').map((p) => p.id);
  assert.ok(renderers.length >= 1, 'no renderer process found');
  const rendererRss = () => renderers.reduce((s, pid) => s + (Number.isFinite(rss(pid)) ? rss(pid) : 0), 0);

  const measure = async () => {
    // What the browser does under memory pressure: purge caches, return free pages.
    await cdp.send('Memory.simulatePressureNotification', { level: 'critical' });
    await cdp.send('HeapProfiler.collectGarbage');
    await page.waitForTimeout(1000);
    await cdp.send('HeapProfiler.collectGarbage');
    const { metrics } = await cdp.send('Performance.getMetrics');
    const m = Object.fromEntries(metrics.map((x) => [x.name, x.value]));
    return { heap: m.JSHeapUsedSize, nodes: m.Nodes, listeners: m.JSEventListeners, rss: rendererRss() };
  };

  const round = async (i) => {
    await page.evaluate(async (k) => {
      const x = document.createElement('sightline-explorer');
      x.src = `/api/demo?rows=20000&seed=${k}`;
      x.setAttribute('customer-column', 'customer_id');
      x.customer = 'cust_00001';
      document.body.append(x);
      await new Promise((resolve, reject) => {
        x.addEventListener('sightline-ready', resolve, { once: true });
        x.addEventListener('sightline-error', (e) => reject(new Error(e.detail.message)), { once: true });
      });
      // Let the views draw (queries, charts, events) before removing it.
      for (let n = 0; n < 100; n += 1) {
        const r = x.shadowRoot.querySelector('sightline-breakdown')?.result;
        const ev = x.shadowRoot.querySelector('sightline-events')?.result;
        if (r && ev) break;
        await new Promise((res) => setTimeout(res, 20));
      }
      x.remove();
    }, i);
  };

  // Chromium itself keeps up to ~160 MB of streamed response bodies' buffers in the
  // renderer (measured: RSS grows ~2.6 MB per streamed 2 MB response and plateaus after
  // ~80 of them, with no Sightline code on the page; arrayBuffer() does not do it).
  // Saturate that first, with plain streamed fetches, so the baseline is what it
  // converges to and what remains is ours.
  await page.evaluate(async () => {
    for (let i = 0; i < 120; i += 1) {
      const reader = (await fetch(`/api/demo?rows=20000&seed=${1000 + i}`)).body.getReader();
      while (!(await reader.read()).done);
    }
  });
  for (let i = 0; i < WARMUP; i += 1) await round(i);
  for (let n = 0; n < 50 && log.closedWorkers < WARMUP; n += 1) await page.waitForTimeout(100);
  const base = await measure();
  const started = Date.now();
  const trend = [];
  for (let i = WARMUP; i < ROUNDS; i += 1) {
    await round(i);
    if ((i + 1) % 20 === 0) trend.push(`${i + 1}: ${(rendererRss() / 2 ** 20).toFixed(0)} MB`);
  }
  t.diagnostic(`renderer RSS by round: ${trend.join(', ')}`);
  for (let n = 0; n < 100 && log.closedWorkers < ROUNDS; n += 1) await page.waitForTimeout(100);
  const end = await measure();
  const mb = (x) => (x / 2 ** 20).toFixed(1);
  t.diagnostic(
    `${ROUNDS} explorers (20,000 rows each) in ${((Date.now() - started) / 1000).toFixed(1)} s; workers started ${log.workers.length}, ended ${log.closedWorkers}; ` +
      `JS heap ${mb(base.heap)} -> ${mb(end.heap)} MB; DOM nodes ${base.nodes} -> ${end.nodes}; listeners ${base.listeners} -> ${end.listeners}; ` +
      `renderer RSS ${mb(base.rss)} -> ${mb(end.rss)} MB`,
  );
  assert.equal(log.workers.length, ROUNDS, 'one worker per explorer');
  assert.equal(log.closedWorkers, ROUNDS, 'every worker ended');
  assert.ok(end.heap - base.heap < 4 * 2 ** 20, `JS heap grew by ${mb(end.heap - base.heap)} MB`);
  assert.ok(end.nodes - base.nodes < 200, `DOM nodes grew by ${end.nodes - base.nodes}`);
  assert.ok(end.listeners - base.listeners < 50, `event listeners grew by ${end.listeners - base.listeners}`);
  // Each explorer's dataset is ~2 MB of columns plus a wasm instance: 95 kept alive would be
  // hundreds of MB. Allow allocator slack, not growth with the count.
  assert.ok(end.rss - base.rss < 64 * 2 ** 20, `renderer RSS grew by ${mb(end.rss - base.rss)} MB`);
  await assertClean(assert, page, log);
  await context.close();
});
